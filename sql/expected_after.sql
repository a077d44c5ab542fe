-- For a sync --only some keys, which leaves the rest of :rel as it is: the fingerprint of the
-- whole table before (its live list, hash_live.sql) and the one it must have after (the same
-- list with the keys the apply writes or deletes taken out and their staged hashes put in),
-- as promptsync_print lines. Needs functions.sql and plan.sql's :cmp. Variables: :'rel',
-- :'live', :'cmp'.
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.live = :'live';
SET LOCAL promptsync.cmp = :'cmp';
DO $expected$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  list text := current_setting('promptsync.live');
  cmp text := current_setting('promptsync.cmp');
  after text;
BEGIN
  EXECUTE format(
    'SELECT concat_ws('' '', %s) FROM ('
    '  SELECT l.promptsync_hash FROM %s l WHERE NOT EXISTS (SELECT FROM %s c WHERE %s'
    '    AND c.promptsync_staged IS DISTINCT FROM c.promptsync_live)'
    '  UNION ALL SELECT promptsync_staged FROM %s'
    '   WHERE promptsync_staged IS NOT NULL'
    '     AND promptsync_staged IS DISTINCT FROM promptsync_live) AS t',
    pg_temp.promptsync_sums('promptsync_hash'), list, cmp,
    pg_temp.promptsync_key_match(live, 'c', 'l'), cmp)
    INTO after;
  PERFORM set_config('promptsync.result', pg_temp.promptsync_print(list) || ';' || after, true);
END
$expected$;
SELECT pg_catalog.current_setting('promptsync.result');
