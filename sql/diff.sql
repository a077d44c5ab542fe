-- Compare the staged rows with the live table by primary key. With :mode 'apply', make the
-- live table equal to the stage touching only what differs: DELETE the rows the source no
-- longer has, UPDATE the changed ones, INSERT the new ones. Unchanged rows are not rewritten,
-- and no statement takes more than row locks: readers see the old rows until COMMIT.
-- Rows are compared by their text form, so every byte a copy must carry counts as a change.
-- Variables: :'rel' live table, :'stage' staging table, :'mode' plan | apply.
-- Returns one row: inserted, updated, deleted.
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.stage = :'stage';
SET LOCAL promptsync.mode = :'mode';
DO $diff$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  stage regclass := current_setting('promptsync.stage')::regclass;
  apply boolean := current_setting('promptsync.mode') = 'apply';
  cols text;       -- a, b, c            (physical order)
  s_cols text;     -- s.a, s.b, s.c
  l_row text;      -- ROW(l.a, l.b, l.c) (name order) as text
  s_row text;
  key_match text;  -- l.id = s.id
  sets text;       -- (b, c) = ROW(s.b, s.c): every column but the key
  differs text;
  n_ins bigint;
  n_upd bigint;
  n_del bigint;
BEGIN
  SELECT string_agg(format('%I', attname), ', ' ORDER BY attnum),
         string_agg(format('s.%I', attname), ', ' ORDER BY attnum),
         format('ROW(%s)::text', string_agg(format('l.%I', attname), ', ' ORDER BY attname COLLATE "C")),
         format('ROW(%s)::text', string_agg(format('s.%I', attname), ', ' ORDER BY attname COLLATE "C"))
    INTO cols, s_cols, l_row, s_row
    FROM pg_attribute
   WHERE attrelid = live AND attnum > 0 AND NOT attisdropped AND attgenerated = '';

  SELECT string_agg(format('l.%1$I = s.%1$I', a.attname), ' AND ')
    INTO key_match
    FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
   WHERE i.indrelid = live AND i.indisprimary;
  IF key_match IS NULL THEN
    RAISE EXCEPTION 'table % has no primary key', live;
  END IF;

  SELECT format('(%s) = ROW(%s)', string_agg(format('%I', attname), ', ' ORDER BY attnum),
                string_agg(format('s.%I', attname), ', ' ORDER BY attnum))
    INTO sets
    FROM pg_attribute
   WHERE attrelid = live AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
     AND attnum <> ALL (SELECT unnest(indkey) FROM pg_index WHERE indrelid = live AND indisprimary);

  differs := format('(%s COLLATE "C") <> (%s COLLATE "C")', l_row, s_row);

  IF NOT apply THEN
    EXECUTE format('SELECT count(*) FROM %s s WHERE NOT EXISTS (SELECT FROM %s l WHERE %s)',
                   stage, live, key_match) INTO n_ins;
    EXECUTE format('SELECT count(*) FROM %s l JOIN %s s ON %s WHERE %s',
                   live, stage, key_match, differs) INTO n_upd;
    EXECUTE format('SELECT count(*) FROM %s l WHERE NOT EXISTS (SELECT FROM %s s WHERE %s)',
                   live, stage, key_match) INTO n_del;
  ELSE
    EXECUTE format('DELETE FROM %s l WHERE NOT EXISTS (SELECT FROM %s s WHERE %s)',
                   live, stage, key_match);
    GET DIAGNOSTICS n_del = ROW_COUNT;

    n_upd := 0;
    IF sets IS NOT NULL THEN
      BEGIN
        EXECUTE format('UPDATE %s l SET %s FROM %s s WHERE %s AND %s',
                       live, sets, stage, key_match, differs);
        GET DIAGNOSTICS n_upd = ROW_COUNT;
      EXCEPTION WHEN unique_violation THEN
        -- Changed rows trade a unique value (two prompts swapping names): row-by-row UPDATE
        -- checks uniqueness after each row, so replace the changed rows in ONE statement
        -- instead. That deletes and re-inserts them, which is only safe when no foreign key
        -- acts on deletion (ON DELETE CASCADE / SET NULL / SET DEFAULT / RESTRICT).
        IF EXISTS (SELECT FROM pg_constraint
                    WHERE confrelid = live AND contype = 'f' AND confdeltype <> 'a') THEN
          RAISE EXCEPTION 'changed rows of % swap a unique value and a foreign key with an ON DELETE action references the table; apply the swap in two syncs', live;
        END IF;
        EXECUTE format(
          'WITH changed AS (SELECT s.* FROM %1$s s JOIN %2$s l ON %3$s WHERE %4$s),'
          ' gone AS (DELETE FROM %2$s l USING changed s WHERE %3$s RETURNING l.*)'
          ' INSERT INTO %2$s (%5$s) OVERRIDING SYSTEM VALUE'
          ' SELECT %6$s FROM changed s JOIN gone l ON %3$s',  -- the join runs the DELETE first
          stage, live, key_match, differs, cols, s_cols);
        GET DIAGNOSTICS n_upd = ROW_COUNT;
      END;
    END IF;

    EXECUTE format('INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE'
                   ' SELECT %s FROM %s s WHERE NOT EXISTS (SELECT FROM %s l WHERE %s)',
                   live, cols, s_cols, stage, live, key_match);
    GET DIAGNOSTICS n_ins = ROW_COUNT;
  END IF;
  PERFORM set_config('promptsync.result', concat_ws(' ', n_ins, n_upd, n_del), true);
END
$diff$;
SELECT pg_catalog.current_setting('promptsync.result');
