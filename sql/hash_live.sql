-- The target's side of a transfer, inside its transaction: the temporary table :live holds
-- every row of :rel as its primary key, its hash (computed exactly as fingerprint.sql
-- computes it) and the row version it was read from (xmin), read without blocking anyone;
-- once writers are locked out, hash_refresh.sql re-reads only the rows written since. The
-- empty temporary table :src, shaped like :live, receives the source's list (hash_list.sql).
-- Needs functions.sql. Variables: :'rel', :'live', :'src'.
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.live = :'live';
SET LOCAL promptsync.src = :'src';
DO $live$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  keys text := pg_temp.promptsync_keys(live, '%I');
BEGIN
  IF keys IS NULL THEN
    RAISE EXCEPTION 'table % has no primary key', live;
  END IF;
  EXECUTE format('DROP TABLE IF EXISTS %s, %s',
                 current_setting('promptsync.live'), current_setting('promptsync.src'));
  EXECUTE format(
    'CREATE TEMPORARY TABLE %s ON COMMIT DROP AS'
    ' SELECT %s, %s AS promptsync_hash, xmin::text AS promptsync_xmin FROM %s t',
    current_setting('promptsync.live'), keys, pg_temp.promptsync_row_hash(live, 't'), live);
  EXECUTE format(
    'CREATE TEMPORARY TABLE %s ON COMMIT DROP AS'
    ' SELECT %s, NULL::text AS promptsync_hash FROM %s WITH NO DATA',
    current_setting('promptsync.src'), keys, live);
END
$live$;
