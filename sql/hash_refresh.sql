-- Once writers are locked out (lock_tables.sql): bring :live (hash_live.sql) up to date with
-- :rel by re-reading only the rows written since it was made. A row version is known by its
-- primary key and xmin (the transaction that wrote it): a row whose key and xmin are still
-- in :rel is unchanged; any other listed row was updated or deleted, and any row of :rel not
-- listed was written since. Reading key and xmin leaves every other column untouched (no
-- detoasting). Returns how many listed rows were dropped and how many rows were read again.
-- Needs functions.sql. Variables: :'rel', :'live'.
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.live = :'live';
DO $refresh$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  list text := current_setting('promptsync.live');
  n bigint;
  added bigint;
BEGIN
  -- one pass to tell whether any row was written since (mostly none): only then two more
  EXECUTE format(
    'SELECT count(*) FROM %2$s r FULL JOIN %1$s l ON %3$s AND r.xmin::text = l.promptsync_xmin'
    ' WHERE r.xmin IS NULL OR l.promptsync_xmin IS NULL',
    list, live, pg_temp.promptsync_key_match(live, 'r', 'l'))
    INTO n;
  IF n = 0 THEN
    PERFORM set_config('promptsync.result', '0 0', true);
    RETURN;
  END IF;
  EXECUTE format(
    'DELETE FROM %1$s l WHERE NOT EXISTS'
    ' (SELECT FROM %2$s r WHERE %3$s AND r.xmin::text = l.promptsync_xmin)',
    list, live, pg_temp.promptsync_key_match(live, 'r', 'l'));
  GET DIAGNOSTICS n = ROW_COUNT;
  EXECUTE format(
    'INSERT INTO %1$s SELECT %4$s, %5$s, r.xmin::text FROM %2$s r'
    ' WHERE NOT EXISTS (SELECT FROM %1$s l WHERE %3$s)',
    list, live, pg_temp.promptsync_key_match(live, 'r', 'l'),
    pg_temp.promptsync_keys(live, 'r.%I'), pg_temp.promptsync_row_hash(live, 'r'));
  GET DIAGNOSTICS added = ROW_COUNT;
  PERFORM set_config('promptsync.result', concat_ws(' ', n, added), true);
END
$refresh$;
SELECT pg_catalog.current_setting('promptsync.result');
