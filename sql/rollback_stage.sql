-- The content :rel had before promotion :promotion, rebuilt into the staging table :stage from
-- today's rows and the promotion's undo data: every row it did not touch, plus the old
-- version of every row it updated or deleted (rows it inserted are left out; all of them when
-- the table was empty before it). The undo data is the promotion's own table (apply.sql);
-- promotions recorded before promptsync kept undo tables have theirs in promptsync.undo, as
-- text. Either way a column is matched by name, and a column whose type changed since is
-- read back through its text.
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
  undo regclass := to_regclass(pg_temp.promptsync_undo_table(live::text, promotion));
  cols text := pg_temp.promptsync_columns(live, '%I', false);
  recorded text[];
  restored text;
  exprs jsonb;
  key_match text;
  keys_kept boolean;
BEGIN
  IF undo IS NOT NULL THEN
    -- each current column read from the undo table's column of the same name: as it is
    -- when the type is the same (or the domain's base type), through text when it changed,
    -- NULL when the undo table has no such column
    SELECT jsonb_object_agg(attname, expr),
           string_agg(coalesce(expr, format('NULL::%s', typ)), ', ' ORDER BY attnum)
      INTO exprs, restored
      FROM (SELECT a.attname, a.attnum, format_type(a.atttypid, a.atttypmod) AS typ,
                   CASE WHEN u.attname IS NULL THEN NULL
                        WHEN u.atttypid = a.atttypid OR u.atttypid = t.typbasetype
                        THEN format('u.%I::%s', a.attname, format_type(a.atttypid, a.atttypmod))
                        ELSE format('u.%I::text::%s', a.attname,
                                    format_type(a.atttypid, a.atttypmod)) END AS expr
              FROM pg_attribute a
              JOIN pg_type t ON t.oid = a.atttypid
              LEFT JOIN pg_attribute u ON u.attrelid = undo AND u.attname = a.attname
                                      AND u.attnum > 0 AND NOT u.attisdropped
             WHERE a.attrelid = live AND a.attnum > 0 AND NOT a.attisdropped
               AND a.attgenerated = '') AS c;
    SELECT string_agg(format('l.%I = %s', a.attname, exprs ->> a.attname), ' AND '),
           bool_and(exprs ->> a.attname IS NOT NULL)
      INTO key_match, keys_kept
      FROM pg_index i
     CROSS JOIN LATERAL unnest(i.indkey) AS k(attnum)
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = live AND i.indisprimary;
    IF NOT keys_kept THEN
      RAISE EXCEPTION 'the undo data of promotion % predates a change of the primary key of %',
        promotion, live;
    END IF;
    EXECUTE format(
      'INSERT INTO %1$s (%2$s) SELECT %3$s FROM %4$s l'
      ' WHERE NOT EXISTS (SELECT FROM %5$s WHERE promptsync_op = ''e'')'
      '   AND NOT EXISTS (SELECT FROM %5$s u WHERE %6$s)',
      stage, cols, pg_temp.promptsync_columns(live, 'l.%I', false), live, undo, key_match);
    EXECUTE format(
      'INSERT INTO %s (%s) SELECT %s FROM %s u WHERE u.promptsync_op IN (''u'', ''d'')',
      stage, cols, restored, undo);
    RETURN;
  END IF;
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
