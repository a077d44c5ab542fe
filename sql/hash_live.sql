-- The target's side of a transfer, inside its transaction: the temporary table :live holds
-- every row of :rel as its primary key, its hash (computed exactly as fingerprint.sql
-- computes it) and the row version it was read from (xmin), read without blocking anyone;
-- once writers are locked out, hash_refresh.sql re-reads only the rows written since. The
-- empty temporary table :src, shaped like :live, receives the source's list (hash_list.sql).
-- Where the ledger :'ledger' may stand in for hashing (:'cache' = t, ledger_find.sql), a row
-- whose version is the one it recorded takes its hash from there, read by key and version
-- only (no column is read or detoasted); the others are hashed (promptsync_vouched says which).
-- Needs functions.sql. Variables: :'rel', :'live', :'src', :'ledger', :'cache'.
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.live = :'live';
SET LOCAL promptsync.src = :'src';
SET LOCAL promptsync.ledger = :'ledger';
SET LOCAL promptsync.cache = :'cache';
DO $live$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  keys text := pg_temp.promptsync_keys(live, '%I');
  ledger text := current_setting('promptsync.ledger');
BEGIN
  IF keys IS NULL THEN
    RAISE EXCEPTION 'table % has no primary key', live;
  END IF;
  EXECUTE format('DROP TABLE IF EXISTS %s, %s',
                 current_setting('promptsync.live'), current_setting('promptsync.src'));
  IF current_setting('promptsync.cache') = 't' THEN
    EXECUTE format(
      'CREATE TEMPORARY TABLE %s ON COMMIT DROP AS'
      ' SELECT %s, CASE WHEN g.promptsync_xmin = t.xmin THEN g.promptsync_hash ELSE %s END'
      '          AS promptsync_hash,'
      '        t.xmin::text AS promptsync_xmin,'
      '        coalesce(g.promptsync_xmin = t.xmin, false) AS promptsync_vouched'
      '   FROM %s t LEFT JOIN %s g ON %s',
      current_setting('promptsync.live'), pg_temp.promptsync_keys(live, 't.%I'),
      pg_temp.promptsync_row_hash(live, 't'), live, ledger,
      pg_temp.promptsync_key_match(live, 'g', 't'));
  ELSE
    EXECUTE format(
      'CREATE TEMPORARY TABLE %s ON COMMIT DROP AS'
      ' SELECT %s, %s AS promptsync_hash, xmin::text AS promptsync_xmin,'
      '        false AS promptsync_vouched FROM %s t',
      current_setting('promptsync.live'), keys, pg_temp.promptsync_row_hash(live, 't'), live);
  END IF;
  EXECUTE format(
    'CREATE TEMPORARY TABLE %s ON COMMIT DROP AS'
    ' SELECT %s, NULL::text AS promptsync_hash FROM %s WITH NO DATA',
    current_setting('promptsync.src'), keys, live);
END
$live$;
