-- Makes the transaction just begun read one snapshot in all of its statements: summing an
-- org's days (mojule/usage_days.py) must forget exactly the changes its sums saw.
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ
