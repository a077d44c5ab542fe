-- Make every live table equal to its stage, touching only the rows compare.sql found
-- different, in this one transaction. Unchanged rows are not rewritten and nothing takes more
-- than row locks (lock_tables.sql already keeps writers out): readers keep seeing the old
-- rows until COMMIT. When :promotion is set, what it takes to undo each change is written
-- first, into a table of the promotion's own (functions.sql's promptsync_undo_table), in the
-- live table's column types: the old rows of updated ('u') and deleted ('d') rows as they
-- are, the keys of inserted ones ('i'), or, when the table was empty, one row 'e' instead of
-- a key per row.
--
-- The order of the statements matters when constraints tie rows together: a self-reference
-- (a prompt moved under a new parent, children moved off a deleted parent), ON DELETE
-- CASCADE between tables synced together, unique values that move between rows. Deferrable
-- constraints declared INITIALLY IMMEDIATE are deferred to the end of each try (those
-- declared INITIALLY DEFERRED keep firing at COMMIT, as declared). Orders are tried, each inside a subtransaction, until one
-- leaves every table holding exactly its staged rows: deletes (children first), updates,
-- inserts (parents first), and the other orders of these three steps. An order that breaks a
-- constraint, or whose cascades or triggers change rows, is rolled back and the next tried.
--
-- The check before COMMIT costs in proportion to the change: an unchanged row keeps the hash
-- compare.sql computed, so only the touched rows (the keys compare.sql found different) are
-- read again, and each must be byte for byte its staged row (whose hash compare.sql summed
-- into the staged checksum); the row count must be the expected one, and no other row may
-- carry a transaction id this apply wrote with (a trigger or cascade that rewrote a row the
-- sync did not touch).
--
-- The application's triggers fire under the role's normal search_path (what RESET would
-- give), not promptsync's empty one; promptsync's own statements are schema-qualified.
-- Needs functions.sql and compare.sql's tables. Variables: :'tables', a JSON array of
-- {"rel", "stage", "cmp", "rows"} with parents before children ("rows": how many rows the
-- table must hold after the apply), and :'promotion' ('' = none).
-- Returns one line per table, in that order: inserted, updated, deleted.
SET LOCAL promptsync.tables = :'tables';
SET LOCAL promptsync.promotion = :'promotion';
DO $apply$
DECLARE
  tables jsonb := current_setting('promptsync.tables')::jsonb;
  promotion bigint := nullif(current_setting('promptsync.promotion'), '')::bigint;
  orders text[] := ARRAY['DUI', 'IUD', 'UID', 'DIU', 'IDU', 'UDI'];
  n_tables int := jsonb_array_length(tables);
  t jsonb;
  live regclass;
  undo text;
  op text;
  touched text;
  had_rows boolean;
  attempt text;
  step text;
  i int;
  idx int;
  n bigint;
  counts bigint[];  -- inserted, updated, deleted of table i at 3i-2 .. 3i
  staged text[];  -- per table: the staged row count, and the touched rows' count and sums
  now_holds text;
  now_parts text[];
  staged_parts text[];
  xids text[];  -- the transaction ids (as text) the statements of this try wrote with
  first_failure text;
  mismatch text;
  app_path text;
  to_defer text;  -- the INITIALLY IMMEDIATE deferrable constraints that touch these tables
  done boolean := false;
BEGIN
  FOR i IN 1 .. n_tables LOOP
    t := tables -> (i - 1);
    live := (t ->> 'rel')::regclass;
    IF promotion IS NOT NULL THEN
      -- the promotion's undo table for this table, its rows in their own types (no text)
      undo := pg_temp.promptsync_undo_table(live::text, promotion);
      EXECUTE format('CREATE TABLE %s (promptsync_op "char" NOT NULL, %s)', undo,
                     pg_temp.promptsync_column_defs(live, false));
      -- the old rows of updated ('u') and deleted ('d') rows, found by key (a semi-join:
      -- only the narrow comparison table is hashed, never the wide rows)
      FOR op, touched IN VALUES ('u', 'c.promptsync_staged <> c.promptsync_live'),
                                ('d', 'c.promptsync_staged IS NULL') LOOP
        EXECUTE format(
          'INSERT INTO %1$s SELECT %2$L, %3$s FROM %4$s l WHERE (%5$s) IN'
          ' (SELECT %6$s FROM %7$s c WHERE %8$s)',
          undo, op, pg_temp.promptsync_columns(live, 'l.%I', false), t ->> 'rel',
          pg_temp.promptsync_keys(live, 'l.%I'), pg_temp.promptsync_keys(live, 'c.%I'),
          t ->> 'cmp', touched);
      END LOOP;
      -- an inserted row: its key alone; an empty table: one row with no key ('e') instead
      EXECUTE format('SELECT EXISTS (SELECT FROM %s)', t ->> 'rel') INTO had_rows;
      IF had_rows THEN
        EXECUTE format(
          'INSERT INTO %1$s (promptsync_op, %2$s) SELECT ''i'', %3$s FROM %4$s c'
          ' WHERE c.promptsync_live IS NULL',
          undo, pg_temp.promptsync_keys(live, '%I'), pg_temp.promptsync_keys(live, 'c.%I'),
          t ->> 'cmp');
      ELSE
        EXECUTE format('INSERT INTO %s (promptsync_op) VALUES (''e'')', undo);
      END IF;
    END IF;
    -- the stage's rows by key, for the check after each try
    EXECUTE format('CREATE INDEX ON %s (%s)', t ->> 'stage', pg_temp.promptsync_keys(live, '%I'));
    -- the staged row count, and how many staged rows the apply writes (inserts, updates)
    -- (the table must end with "rows" rows: the staged ones, or, for a sync --only some
    -- keys, the live ones less those deleted plus those inserted)
    EXECUTE format(
      'SELECT concat_ws('' '', count(promptsync_staged), count(*) FILTER (WHERE'
      '   promptsync_staged IS NOT NULL AND promptsync_staged IS DISTINCT FROM promptsync_live))'
      '  FROM %s', t ->> 'cmp')
      INTO now_holds;
    staged[i] := now_holds;
  END LOOP;
  CREATE TEMPORARY TABLE IF NOT EXISTS promptsync_wrote (x int) ON COMMIT DROP;

  SELECT reset_val INTO app_path FROM pg_catalog.pg_settings WHERE name = 'search_path';
  -- SET CONSTRAINTS names a constraint by schema and name, which may match several: only
  -- names all of whose constraints are deferrable and initially immediate
  SELECT string_agg(format('%I.%I', nspname, conname), ', ')
    INTO to_defer
    FROM (SELECT n.nspname, c.conname
            FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
           GROUP BY n.nspname, c.conname
          HAVING bool_and(c.condeferrable AND NOT c.condeferred)
             AND bool_or(c.conrelid IN (SELECT (e ->> 'rel')::regclass
                                          FROM jsonb_array_elements(tables) AS e)
                         OR c.confrelid IN (SELECT (e ->> 'rel')::regclass
                                              FROM jsonb_array_elements(tables) AS e))) AS d;
  FOREACH attempt IN ARRAY orders LOOP
    BEGIN
      -- a row written first gives this try's transaction id (the previous try's is rolled back)
      INSERT INTO pg_temp.promptsync_wrote VALUES (1);
      PERFORM set_config('search_path', app_path, true);
      IF to_defer IS NOT NULL THEN
        EXECUTE format('SET CONSTRAINTS %s DEFERRED', to_defer);
      END IF;
      counts := array_fill(0::bigint, ARRAY[3 * n_tables]);
      FOREACH step IN ARRAY string_to_array(attempt, NULL) LOOP
        FOR idx IN 1 .. n_tables LOOP
          i := CASE WHEN step = 'D' THEN n_tables + 1 - idx ELSE idx END;
          t := tables -> (i - 1);
          n := pg_temp.promptsync_step(t ->> 'rel', t ->> 'stage', t ->> 'cmp', step);
          counts[3 * i - 2 + position(step IN 'IUD') - 1] := n;
        END LOOP;
      END LOOP;
      IF to_defer IS NOT NULL THEN  -- their checks fire here, inside this try
        EXECUTE format('SET CONSTRAINTS %s IMMEDIATE', to_defer);
      END IF;
      PERFORM set_config('search_path', '', true);
      SELECT array_agg(xmin::text) INTO xids FROM pg_temp.promptsync_wrote;
      FOR i IN 1 .. n_tables LOOP
        t := tables -> (i - 1);
        live := (t ->> 'rel')::regclass;
        EXECUTE format(
          'SELECT array_agg(DISTINCT l.xmin::text) || $1 FROM %s l JOIN %s c ON %s'
          ' WHERE c.promptsync_staged IS DISTINCT FROM c.promptsync_live',
          t ->> 'rel', t ->> 'cmp', pg_temp.promptsync_key_match(live, 'l', 'c'))
          INTO xids USING xids;
      END LOOP;
      mismatch := NULL;
      FOR i IN 1 .. n_tables LOOP
        t := tables -> (i - 1);
        live := (t ->> 'rel')::regclass;
        -- the touched rows still present, and how many of them are byte for byte their
        -- staged row (the same bytes print the same, so they hash as staged); then the whole
        -- table's row count and how many of its rows this try wrote
        -- (each staged row is found by key in the stage's index: neither side's wide rows
        -- are hashed)
        EXECUTE format(
          'SELECT concat_ws('' '', count(*), count(*) FILTER (WHERE'
          '   pg_catalog.record_image_eq(ROW(%s), (SELECT ROW(%s) FROM %s s WHERE %s))))'
          '  FROM %s l WHERE (%s) IN (SELECT %s FROM %s c'
          '                           WHERE c.promptsync_staged IS DISTINCT FROM c.promptsync_live)',
          pg_temp.promptsync_columns(live, 'l.%I', false),
          pg_temp.promptsync_columns(live, 's.%I', false), t ->> 'stage',
          pg_temp.promptsync_key_match(live, 's', 'l'), t ->> 'rel',
          pg_temp.promptsync_keys(live, 'l.%I'), pg_temp.promptsync_keys(live, 'c.%I'),
          t ->> 'cmp')
          INTO now_holds;
        EXECUTE format(
          'SELECT $1 || '' '' || concat_ws('' '', count(*) FILTER (WHERE xmin::text = ANY ($2)),'
          '                                  count(*)) FROM %s', t ->> 'rel')
          INTO now_holds USING now_holds, xids;
        -- staged: rows, touched; now: touched present, equal to their staged row, written,
        -- rows. Every touched row is present exactly as staged, the table holds the rows
        -- expected, and the rows this try wrote are exactly the touched ones present
        now_parts := string_to_array(now_holds, ' ');
        staged_parts := string_to_array(staged[i], ' ');
        IF now_parts[1] <> staged_parts[2] OR now_parts[2] <> now_parts[1]
           OR now_parts[3] <> now_parts[1] OR now_parts[4] <> (t ->> 'rows') THEN
          mismatch := concat_ws(', ', mismatch, t ->> 'rel');
        END IF;
      END LOOP;
      IF mismatch IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PS001',
          MESSAGE = format('after the apply %s did not hold exactly the staged rows', mismatch);
      END IF;
      done := true;
      EXIT;
    EXCEPTION
      WHEN foreign_key_violation OR unique_violation OR restrict_violation
        OR exclusion_violation OR not_null_violation OR SQLSTATE 'PS001' THEN
        first_failure := coalesce(first_failure, SQLERRM);
        IF SQLSTATE = 'PS001' THEN
          mismatch := SQLERRM;
        END IF;
    END;
  END LOOP;
  PERFORM set_config('search_path', '', true);
  IF NOT done THEN
    IF mismatch IS NOT NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'PS001', MESSAGE = mismatch
        || ' in any order of deletes, updates and inserts: a trigger, rule or cascade changes what the sync writes';
    END IF;
    RAISE EXCEPTION 'no order of deletes, updates and inserts satisfies the constraints: %',
      first_failure;
  END IF;
  PERFORM set_config('promptsync.result',
                     array_to_string(ARRAY(SELECT concat_ws(' ', counts[3 * k - 2],
                                                            counts[3 * k - 1], counts[3 * k])
                                             FROM generate_series(1, n_tables) AS k), ';'),
                     true);
END
$apply$;
SELECT pg_catalog.current_setting('promptsync.result');
