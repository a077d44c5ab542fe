-- Settings of every promptsync session, set by promptsync itself (never taken from the
-- server's or the role's defaults): values print the same way on every server, so checksums
-- agree, and a long load is not cut short by a server-side timeout.
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 1;
SET bytea_output = 'hex';
SET lc_monetary = 'C';
SET statement_timeout = 0;
-- promptsync's statements scan, hash and join whole tables: compiling them with JIT (the
-- server's default above jit_above_cost) costs more than it saves.
SET jit = off;
SET idle_in_transaction_session_timeout = 0;
-- Waiting for a lock (a migration holding the table) ends in a clear, retryable error; the
-- apply waits even less for writers (lock_tables.sql).
SET lock_timeout = '30s';
-- A query that row level security would filter fails instead of silently reading or
-- changing fewer rows (preflight refuses such a table first, naming its policies).
SET row_security = off;
-- promptsync's own statements name every object with its schema. The apply runs the
-- application's triggers under the role's normal search_path (apply.sql).
SET search_path = '';
