-- The plan of a transfer, from the two lists alone (no row is read): the source's list
-- (:src, from hash_list.sql) against the live table's (:live, from hash_live.sql) and the
-- ledger (:'ledger', '' for none), by primary key, kept in the temporary table :cmp exactly as
-- compare.sql keeps it (functions.sql's promptsync_compare), which the apply works from.
-- Returns the same line as compare.sql: the source's row count and two sums (zeros: its
-- fingerprint is known already, but for a sync --only some keys), the rows the apply would
-- insert, update and delete, and the live table's row count and two sums. :'only' ('' for
-- every key) keeps the keys of sync --only.
-- Needs functions.sql. Variables: :'rel', :'src', :'live', :'cmp', :'ledger', :'only'.
SELECT pg_temp.promptsync_compare(
         :'rel'::regclass, :'cmp', 'SELECT * FROM ' || :'src', 'SELECT * FROM ' || :'live',
         :'ledger', nullif(:'only', '')::jsonb, :'only' <> '');
