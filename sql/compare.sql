-- Compare the staged rows with the live table in ONE pass over both, by primary key.
-- Each row is hashed exactly as fingerprint.sql hashes it (columns in name order, as text),
-- and the pairs are kept in the temporary table :cmp (key columns, promptsync_staged,
-- promptsync_live: NULL where that side has no such row), which the apply works from.
-- Returns one line: staged row count, the staged checksum's two sums (as fingerprint.sql),
-- then how many rows the apply would insert, update and delete, and the live table's row
-- count and two sums (its fingerprint, read inside the transaction that will change it).
-- When :'listed' names hash_live.sql's list of the live table's hashes, those are used and
-- the live table is not read again.
-- Needs functions.sql. Variables: :'rel' live table, :'stage' staging table, :'cmp',
-- :'listed' ('' = hash the live table here).
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.stage = :'stage';
SET LOCAL promptsync.cmp = :'cmp';
SET LOCAL promptsync.listed = :'listed';
DO $compare$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  stage regclass := current_setting('promptsync.stage')::regclass;
  cmp text := current_setting('promptsync.cmp');
  keys text := pg_temp.promptsync_keys(live, '%I');
  merged_keys text := pg_temp.promptsync_keys(live, 'coalesce(s.%1$I, l.%1$I) AS %1$I');
  by_name text := pg_temp.promptsync_columns(live, '%I', true);
  listed text := nullif(current_setting('promptsync.listed'), '');
  live_hashes text;
  result text;
BEGIN
  IF keys IS NULL THEN
    RAISE EXCEPTION 'table % has no primary key', live;
  END IF;
  EXECUTE format('DROP TABLE IF EXISTS %s', cmp);  -- compared again after a confirmation
  EXECUTE format('ANALYZE %s', stage);  -- row estimates for the join
  live_hashes := CASE WHEN listed IS NULL
                      THEN format('SELECT %s, md5(ROW(%s)::text) AS promptsync_hash FROM %s',
                                  keys, by_name, live)
                      ELSE format('SELECT %s, promptsync_hash FROM %s', keys, listed) END;
  EXECUTE format(
    'CREATE TEMPORARY TABLE %1$s ON COMMIT DROP AS'
    ' SELECT %2$s, s.promptsync_hash AS promptsync_staged, l.promptsync_hash AS promptsync_live'
    '   FROM (SELECT %3$s, md5(ROW(%4$s)::text) AS promptsync_hash FROM %5$s) AS s'
    '   FULL JOIN (%6$s) AS l'
    '     ON %7$s',
    cmp, merged_keys, keys, by_name, stage, live_hashes,
    pg_temp.promptsync_key_match(live, 's', 'l'));

  EXECUTE format('ANALYZE %s', cmp);  -- row estimates for the apply's joins
  result := pg_temp.promptsync_summary(cmp);
  PERFORM set_config('promptsync.result', result, true);
END
$compare$;
SELECT pg_catalog.current_setting('promptsync.result');
