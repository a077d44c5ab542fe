-- Compare the staged rows with the live table in ONE pass over both, by primary key.
-- Each staged row is hashed exactly as fingerprint.sql hashes it (functions.sql's
-- promptsync_row_hash), and the hashes, with the live table's and the ledger's (:'ledger',
-- '' for none), are kept in the temporary table :cmp (functions.sql's promptsync_compare),
-- which the apply works from. Returns one line: staged row count, the staged checksum's two
-- sums (as fingerprint.sql), then how many rows the apply would insert, update and delete,
-- and the live table's row count and two sums (its fingerprint, read inside the transaction
-- that will change it). When :'listed' names hash_live.sql's list of the live table's
-- hashes, those are used and the live table is not read again. :'only' ('' for every key)
-- keeps the keys of sync --only.
-- Needs functions.sql. Variables: :'rel' live table, :'stage' staging table, :'cmp',
-- :'listed' ('' = hash the live table here), :'ledger', :'only'.
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.stage = :'stage';
SET LOCAL promptsync.cmp = :'cmp';
SET LOCAL promptsync.listed = :'listed';
SET LOCAL promptsync.ledger = :'ledger';
SET LOCAL promptsync.wanted = :'only';
DO $compare$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  stage regclass := current_setting('promptsync.stage')::regclass;
  keys text := pg_temp.promptsync_keys(live, '%I');
  row_hash text := pg_temp.promptsync_row_hash(live, 't');
  listed text := nullif(current_setting('promptsync.listed'), '');
BEGIN
  IF keys IS NULL THEN
    RAISE EXCEPTION 'table % has no primary key', live;
  END IF;
  EXECUTE format('ANALYZE %s', stage);  -- row estimates for the join
  PERFORM set_config('promptsync.result', pg_temp.promptsync_compare(
    live, current_setting('promptsync.cmp'),
    format('SELECT %s, %s AS promptsync_hash FROM %s t', keys, row_hash, stage),
    CASE WHEN listed IS NULL
         THEN format('SELECT %s, %s AS promptsync_hash, false AS promptsync_vouched FROM %s t',
                     keys, row_hash, live)
         ELSE format('SELECT %s, promptsync_hash, promptsync_vouched FROM %s', keys, listed) END,
    current_setting('promptsync.ledger'),
    nullif(current_setting('promptsync.wanted'), '')::jsonb, true), true);
END
$compare$;
SELECT pg_catalog.current_setting('promptsync.result');
