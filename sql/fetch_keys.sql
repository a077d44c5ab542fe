-- What a delta transfer asks the source for: the primary keys of the rows the apply will
-- write (the source has them and the live table has them differently or not at all), as one
-- JSON array of objects naming the key columns (fetch_rows.sql reads it), and the stored
-- columns of :rel in its physical order (quoted names: the column list of the COPY on both
-- sides). Needs functions.sql and plan.sql's :cmp. Variables: :'rel', :'cmp'.
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.cmp = :'cmp';
DO $keys$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  found text;
BEGIN
  EXECUTE format(
    'SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(%s)), ''[]'')::text'
    '  FROM %s WHERE promptsync_staged IS DISTINCT FROM promptsync_live'
    '   AND promptsync_staged IS NOT NULL',
    pg_temp.promptsync_keys(live, '%1$L, %1$I'), current_setting('promptsync.cmp'))
    INTO found;
  PERFORM set_config('promptsync.result', found, true);
END
$keys$;
SELECT pg_catalog.current_setting('promptsync.result'),
       pg_temp.promptsync_columns(:'rel'::regclass, '%I', false);
