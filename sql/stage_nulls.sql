-- Guard: the columns NOT NULL in :rel that hold NULL in the staged rows (the staging table
-- has no NOT NULL of its own, so such rows load and can be named here, before any change).
-- Returns a JSON array of [column, rows] pairs. Variables: :'rel', :'stage'.
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.stage = :'stage';
DO $nulls$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  counts text;
  found jsonb := '[]';
BEGIN
  SELECT format('SELECT jsonb_build_array(%s) FROM %s',
                string_agg(format('jsonb_build_array(%L, count(*) FILTER (WHERE %I IS NULL))',
                                  attname, attname), ', ' ORDER BY attname COLLATE "C"),
                current_setting('promptsync.stage'))
    INTO counts
    FROM pg_attribute
   WHERE attrelid = live AND attnum > 0 AND NOT attisdropped AND attnotnull
     AND attgenerated = '';
  IF counts IS NOT NULL THEN
    EXECUTE counts INTO found;
    SELECT coalesce(jsonb_agg(p), '[]') INTO found
      FROM jsonb_array_elements(found) AS p WHERE (p ->> 1)::bigint > 0;
  END IF;
  PERFORM set_config('promptsync.result', found::text, true);
END
$nulls$;
SELECT pg_catalog.current_setting('promptsync.result');
