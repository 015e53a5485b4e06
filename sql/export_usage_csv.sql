-- The usage export's lines as CSV, written by PostgreSQL for mojule/exports.py
-- (usage_csv, which writes the header): the rows of the accounting core
-- (analytics_usage.sql, composed in as `report`) in the export's columns, formatted in
-- place of the braces (the API's figures flattened, days as YYYY-MM-DD, model names as
-- a JSON array), texts quoted. PostgreSQL quotes other fields as CSV asks (one holding
-- a comma, a quote or a line break), sends each line in a message of its own, and in
-- UTF-8 whatever the connection's client_encoding.
COPY (SELECT {columns} FROM ({report}) AS report {order_by})
  TO STDOUT (FORMAT csv, ENCODING 'UTF8', FORCE_QUOTE ({texts}))
