-- The plan of a transfer, from the two lists alone (no row is read): the source's list
-- (:src, from hash_list.sql) against the live table's (:live, from hash_live.sql), by
-- primary key, kept in the temporary table :cmp exactly as compare.sql keeps it (key columns,
-- promptsync_staged = the source's hash, promptsync_live; NULL where that side has no such
-- row), which the apply works from. Returns the same line as compare.sql: the source's row
-- count and two sums (its fingerprint), the rows the apply would insert, update and delete,
-- and the live table's row count and two sums.
-- Needs functions.sql. Variables: :'rel', :'src', :'live', :'cmp'.
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.src = :'src';
SET LOCAL promptsync.live = :'live';
SET LOCAL promptsync.cmp = :'cmp';
DO $plan$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  cmp text := current_setting('promptsync.cmp');
  result text;
BEGIN
  EXECUTE format('DROP TABLE IF EXISTS %s', cmp);  -- planned again once writers are out
  EXECUTE format(
    'CREATE TEMPORARY TABLE %1$s ON COMMIT DROP AS'
    ' SELECT %2$s, s.promptsync_hash AS promptsync_staged, l.promptsync_hash AS promptsync_live'
    '   FROM %3$s s FULL JOIN %4$s l ON %5$s',
    cmp, pg_temp.promptsync_keys(live, 'coalesce(s.%1$I, l.%1$I) AS %1$I'),
    current_setting('promptsync.src'), current_setting('promptsync.live'),
    pg_temp.promptsync_key_match(live, 's', 'l'));
  -- row estimates for the apply's joins: it reads only the rows that differ
  EXECUTE format('ANALYZE %s', cmp);
  result := pg_temp.promptsync_summary(cmp);
  PERFORM set_config('promptsync.result', result, true);
END
$plan$;
SELECT pg_catalog.current_setting('promptsync.result');
