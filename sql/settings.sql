-- Settings of every promptsync transaction, set by promptsync itself right after each BEGIN
-- (never taken from the server's or the role's defaults): values print the same way on every
-- server, so checksums agree, and a long load is not cut short by a server-side timeout.
-- Every one is SET LOCAL: it ends with the transaction, so a transaction-mode connection pooler
-- (PgBouncer, hosted providers' pooled URLs) never hands a changed server connection to the
-- application. client_encoding is UTF8 from the connection itself (PGCLIENTENCODING).
-- They travel as one message (\; joins them): one round trip to the server, not fourteen.
-- First, so that a tiny server default (statement_timeout = 10ms) cannot cut the rest short.
SET LOCAL statement_timeout = 0 \;
SET LOCAL standard_conforming_strings = on \;
SET LOCAL TimeZone = 'UTC' \;
SET LOCAL DateStyle = 'ISO, YMD' \;
SET LOCAL IntervalStyle = 'postgres' \;
SET LOCAL extra_float_digits = 1 \;
SET LOCAL bytea_output = 'hex' \;
SET LOCAL lc_monetary = 'C' \;
-- promptsync's statements scan, hash and join whole tables: compiling them with JIT (the
-- server's default above jit_above_cost) costs more than it saves.
SET LOCAL jit = off \;
SET LOCAL idle_in_transaction_session_timeout = 0 \;
-- Waiting for a lock (a migration holding the table) ends in a clear, retryable error; the
-- apply waits even less for writers (lock_tables.sql).
SET LOCAL lock_timeout = '30s' \;
-- A query that row level security would filter fails instead of silently reading or
-- changing fewer rows (preflight refuses such a table first, naming its policies).
SET LOCAL row_security = off \;
-- promptsync's own statements name every object with its schema. The apply runs the
-- application's triggers under the role's normal search_path (apply.sql).
SET LOCAL search_path = '';
