-- Make the live table equal to the stage, touching only the rows compare.sql found different:
-- DELETE the rows the source no longer has, UPDATE the changed ones, INSERT the new ones.
-- Unchanged rows are not rewritten, and nothing takes more than row locks: readers keep
-- seeing the old rows until COMMIT.
-- Variables: :'rel' live table, :'stage' staging table, :'cmp' compare.sql's result table.
-- Returns one line: inserted, updated, deleted.
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.stage = :'stage';
SET LOCAL promptsync.cmp = :'cmp';
DO $apply$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  stage regclass := current_setting('promptsync.stage')::regclass;
  cmp text := current_setting('promptsync.cmp');
  cols text;      -- a, b, c        (every stored column, physical order)
  s_cols text;    -- s.a, s.b, s.c
  sets text;      -- (b, c) = ROW(s.b, s.c): every column but the key
  l_is_c text;    -- l.id = c.id
  s_is_c text;    -- s.id = c.id
  changed text := 'c.promptsync_staged <> c.promptsync_live';
  n_ins bigint;
  n_upd bigint := 0;
  n_del bigint;
BEGIN
  SELECT string_agg(format('%I', attname), ', ' ORDER BY attnum),
         string_agg(format('s.%I', attname), ', ' ORDER BY attnum)
    INTO cols, s_cols
    FROM pg_attribute
   WHERE attrelid = live AND attnum > 0 AND NOT attisdropped AND attgenerated = '';
  SELECT string_agg(format('l.%1$I = c.%1$I', a.attname), ' AND '),
         string_agg(format('s.%1$I = c.%1$I', a.attname), ' AND ')
    INTO l_is_c, s_is_c
    FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
   WHERE i.indrelid = live AND i.indisprimary;
  SELECT format('(%s) = ROW(%s)', string_agg(format('%I', attname), ', ' ORDER BY attnum),
                string_agg(format('s.%I', attname), ', ' ORDER BY attnum))
    INTO sets
    FROM pg_attribute
   WHERE attrelid = live AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
     AND attnum <> ALL (SELECT unnest(indkey) FROM pg_index WHERE indrelid = live AND indisprimary);

  EXECUTE format('DELETE FROM %s l USING %s c WHERE %s AND c.promptsync_staged IS NULL',
                 live, cmp, l_is_c);
  GET DIAGNOSTICS n_del = ROW_COUNT;

  IF sets IS NOT NULL THEN
    BEGIN
      EXECUTE format('UPDATE %s l SET %s FROM %s s JOIN %s c ON %s WHERE %s AND %s',
                     live, sets, stage, cmp, s_is_c, l_is_c, changed);
      GET DIAGNOSTICS n_upd = ROW_COUNT;
    EXCEPTION WHEN unique_violation THEN
      -- Changed rows trade a unique value (two prompts swapping names): UPDATE checks
      -- uniqueness row by row, so replace the changed rows in ONE statement instead (the join
      -- on `gone` makes the DELETE run first). That deletes and re-inserts them, which is only
      -- safe when no foreign key acts on deletion (CASCADE, SET NULL/DEFAULT, RESTRICT).
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
  PERFORM set_config('promptsync.result', concat_ws(' ', n_ins, n_upd, n_del), true);
END
$apply$;
SELECT pg_catalog.current_setting('promptsync.result');
