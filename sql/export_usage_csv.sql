-- The usage export as CSV, written by PostgreSQL for mojule/exports.py (usage_csv): the
-- rows of the accounting core (analytics_usage.sql, composed in as `report`) in the
-- export's columns, named and formatted in place of the braces (the API's figures
-- flattened, days as YYYY-MM-DD, model names as a JSON array), after a header line.
-- PostgreSQL quotes a field as CSV asks (one holding a comma, a quote or a line break)
-- and sends each line in a message of its own.
COPY (SELECT {columns} FROM ({report}) AS report {order_by}) TO STDOUT (FORMAT csv, HEADER)
