-- Make the live table equal to the stage, touching only the rows compare.sql found different.
-- Phase 'delete': DELETE the rows the source no longer has. Phase 'upsert': UPDATE the changed
-- rows, INSERT the new ones. (Several tables: deletes run children first, upserts parents
-- first.) Unchanged rows are not rewritten and nothing takes more than row locks: readers keep
-- seeing the old rows until COMMIT. When :promotion is set, what it takes to undo each change
-- is written to promptsync.undo first, in this same transaction.
-- Needs functions.sql. Variables: :'rel', :'stage', :'cmp', :'phase', :'promotion' ('' = none).
-- Returns one line: inserted, updated, deleted.
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.stage = :'stage';
SET LOCAL promptsync.cmp = :'cmp';
SET LOCAL promptsync.phase = :'phase';
SET LOCAL promptsync.promotion = :'promotion';
DO $apply$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  stage regclass := current_setting('promptsync.stage')::regclass;
  cmp text := current_setting('promptsync.cmp');
  phase text := current_setting('promptsync.phase');
  promotion bigint := nullif(current_setting('promptsync.promotion'), '')::bigint;
  cols text := pg_temp.promptsync_columns(live, '%I', false);
  s_cols text := pg_temp.promptsync_columns(live, 's.%I', false);
  old_values text := format('ARRAY[%s]', pg_temp.promptsync_columns(live, 'l.%I::text', false));
  key_text text := format('ARRAY[%s]', pg_temp.promptsync_keys(live, 'c.%I::text'));
  l_is_c text := pg_temp.promptsync_key_match(live, 'l', 'c');
  s_is_c text := pg_temp.promptsync_key_match(live, 's', 'c');
  sets text;      -- (b, c) = ROW(s.b, s.c): every column but the key
  changed text := 'c.promptsync_staged <> c.promptsync_live';
  n_ins bigint := 0;
  n_upd bigint := 0;
  n_del bigint := 0;
BEGIN
  SELECT format('(%s) = ROW(%s)', string_agg(format('%I', attname), ', ' ORDER BY attnum),
                string_agg(format('s.%I', attname), ', ' ORDER BY attnum))
    INTO sets
    FROM pg_attribute
   WHERE attrelid = live AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
     AND attnum <> ALL (SELECT unnest(indkey) FROM pg_index WHERE indrelid = live AND indisprimary);

  IF phase = 'delete' THEN
    IF promotion IS NOT NULL THEN
      EXECUTE format('INSERT INTO promptsync.undo (promotion_id, table_name, op, key, old_values)'
                     ' SELECT $1, $2, ''d'', %s, %s FROM %s l JOIN %s c ON %s'
                     ' WHERE c.promptsync_staged IS NULL',
                     key_text, old_values, live, cmp, l_is_c)
        USING promotion, live::text;
    END IF;
    EXECUTE format('DELETE FROM %s l USING %s c WHERE %s AND c.promptsync_staged IS NULL',
                   live, cmp, l_is_c);
    GET DIAGNOSTICS n_del = ROW_COUNT;
  ELSE
    IF promotion IS NOT NULL THEN
      EXECUTE format('INSERT INTO promptsync.undo (promotion_id, table_name, op, key, old_values)'
                     ' SELECT $1, $2, ''u'', %s, %s FROM %s l JOIN %s c ON %s WHERE %s'
                     ' UNION ALL SELECT $1, $2, ''i'', %s, NULL FROM %s c'
                     ' WHERE c.promptsync_live IS NULL',
                     key_text, old_values, live, cmp, l_is_c, changed, key_text, cmp)
        USING promotion, live::text;
    END IF;
    IF sets IS NOT NULL THEN
      BEGIN
        EXECUTE format('UPDATE %s l SET %s FROM %s s JOIN %s c ON %s WHERE %s AND %s',
                       live, sets, stage, cmp, s_is_c, l_is_c, changed);
        GET DIAGNOSTICS n_upd = ROW_COUNT;
      EXCEPTION WHEN unique_violation THEN
        -- Changed rows trade a unique value (two prompts swapping names): UPDATE checks
        -- uniqueness row by row, so replace the changed rows in ONE statement instead (the
        -- join on `gone` makes the DELETE run first). That deletes and re-inserts them, which
        -- is only safe when no foreign key acts on deletion (CASCADE, SET NULL/DEFAULT,
        -- RESTRICT).
        IF EXISTS (SELECT FROM pg_constraint
                    WHERE confrelid = live AND contype = 'f' AND confdeltype <> 'a') THEN
          RAISE EXCEPTION 'changed rows of % swap a unique value while a foreign key with an ON DELETE action references the table: apply the swap in two syncs', live;
        END IF;
        EXECUTE format(
          'WITH gone AS (DELETE FROM %1$s l USING %2$s c WHERE %3$s AND %4$s RETURNING l.*)'
          ' INSERT INTO %1$s (%5$s) OVERRIDING SYSTEM VALUE'
          ' SELECT %6$s FROM %7$s s JOIN %2$s c ON %8$s JOIN gone l ON %3$s',
          live, cmp, l_is_c, changed, cols, s_cols, stage, s_is_c);
        GET DIAGNOSTICS n_upd = ROW_COUNT;
      END;
    END IF;
    EXECUTE format('INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE'
                   ' SELECT %s FROM %s s JOIN %s c ON %s WHERE c.promptsync_live IS NULL',
                   live, cols, s_cols, stage, cmp, s_is_c);
    GET DIAGNOSTICS n_ins = ROW_COUNT;
  END IF;
  PERFORM set_config('promptsync.result', concat_ws(' ', n_ins, n_upd, n_del), true);
END
$apply$;
SELECT pg_catalog.current_setting('promptsync.result');
