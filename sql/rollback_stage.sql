-- The content :rel had before promotion :promotion, rebuilt into the staging table :stage from
-- today's rows and the promotion's undo data: every row it did not touch, plus the old
-- version of every row it updated or deleted (rows it inserted are left out; all of them when
-- the table was empty before it).
-- Needs functions.sql. Variables: :'rel', :'stage', :'promotion'.
CREATE TEMPORARY TABLE :stage (LIKE :rel) ON COMMIT DROP;
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.stage = :'stage';
SET LOCAL promptsync.promotion = :'promotion';
DO $rebuild$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  stage regclass := current_setting('promptsync.stage')::regclass;
  promotion bigint := current_setting('promptsync.promotion')::bigint;
  cols text := pg_temp.promptsync_columns(live, '%I', false);
  recorded text[];
  restored text;
BEGIN
  SELECT columns INTO recorded FROM promptsync.promotion_tables
   WHERE promotion_id = promotion AND table_name = live::text;
  -- each current column from the recorded text value of the same name
  SELECT string_agg(format('(%s)::%s',
                           coalesce('u.old_values[' || array_position(recorded, a.attname::text)
                                    || ']', 'NULL'),
                           format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)
    INTO restored
    FROM pg_attribute a
   WHERE a.attrelid = live AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '';
  -- a row with no key: the table was empty before the promotion, which inserted every row
  IF NOT EXISTS (SELECT FROM promptsync.undo WHERE promotion_id = promotion
                    AND table_name = live::text AND op = 'i' AND key = '{}') THEN
    EXECUTE format(
      'INSERT INTO %s (%s) SELECT %s FROM %s l WHERE NOT EXISTS (SELECT FROM promptsync.undo u'
      ' WHERE u.promotion_id = $1 AND u.table_name = $2 AND u.key = ARRAY[%s])',
      stage, cols, pg_temp.promptsync_columns(live, 'l.%I', false), live,
      pg_temp.promptsync_keys(live, 'l.%I::text'))
      USING promotion, live::text;
  END IF;
  EXECUTE format(
    'INSERT INTO %s (%s) SELECT %s FROM promptsync.undo u'
    ' WHERE u.promotion_id = $1 AND u.table_name = $2 AND u.op IN (''u'', ''d'')',
    stage, cols, restored)
    USING promotion, live::text;
END
$rebuild$;
