-- Helpers for the statements promptsync builds from the catalog, created for this session
-- only (pg_temp: nothing is left on the server). Identifiers only ever reach SQL through
-- format('%I'). Columns are the stored ones (not dropped, not generated): what a data-only
-- dump carries.

-- Each column through format(template, name), joined with ', ': in physical order, or in
-- name order when by_name (the order rows are hashed in). promptsync_columns(t, 's.%I', false)
-- gives "s.a, s.b, s.c".
CREATE FUNCTION pg_temp.promptsync_columns(rel regclass, template text, by_name boolean)
RETURNS text LANGUAGE sql STABLE AS $$
  SELECT string_agg(format(template, attname), ', '
                    ORDER BY (CASE WHEN by_name THEN attname END) COLLATE "C", attnum)
    FROM pg_catalog.pg_attribute
   WHERE attrelid = rel AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
$$;

-- The same for the primary key columns, in key order: promptsync_keys(t, 'l.%I') = "l.id".
CREATE FUNCTION pg_temp.promptsync_keys(rel regclass, template text)
RETURNS text LANGUAGE sql STABLE AS $$
  SELECT string_agg(format(template, a.attname), ', ' ORDER BY k.ord)
    FROM pg_catalog.pg_index i
   CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
   WHERE i.indrelid = rel AND i.indisprimary
$$;

-- "a.k1 = b.k1 AND a.k2 = b.k2": rows a and b have the same primary key.
CREATE FUNCTION pg_temp.promptsync_key_match(rel regclass, a text, b text)
RETURNS text LANGUAGE sql STABLE AS $$
  SELECT replace(pg_temp.promptsync_keys(rel, a || '.%1$I = ' || b || '.%1$I'), ', ', ' AND ')
$$;

-- The aggregates that fingerprint a column of row hashes, as SQL: its count of hashes and
-- the two sums (as fingerprint.sql sums them), for promptsync_print and promptsync_summary.
CREATE FUNCTION pg_temp.promptsync_sums(col text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format('count(%1$I),'
                ' coalesce(sum((''x'' || left(%1$I, 16))::bit(64)::bigint), 0),'
                ' coalesce(sum((''x'' || right(%1$I, 16))::bit(64)::bigint), 0)', col)
$$;

-- The fingerprint of a list of row hashes (a table with a column promptsync_hash): its row
-- count and the two sums, in one line.
CREATE FUNCTION pg_temp.promptsync_print(list text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  result text;
BEGIN
  EXECUTE format('SELECT concat_ws('' '', %s) FROM %s',
                 pg_temp.promptsync_sums('promptsync_hash'), list)
    INTO result;
  RETURN result;
END
$$;

-- What compare.sql and plan.sql return about a comparison table (key columns,
-- promptsync_staged, promptsync_live): the staged row count and the two sums of its row
-- hashes (as fingerprint.sql sums them), how many rows the apply would insert, update and
-- delete, and the live row count and two sums, in one line.
CREATE FUNCTION pg_temp.promptsync_summary(cmp text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  result text;
BEGIN
  EXECUTE format(
    'SELECT concat_ws('' '', %s,'
    '   count(*) FILTER (WHERE promptsync_live IS NULL),'
    '   count(*) FILTER (WHERE promptsync_staged <> promptsync_live),'
    '   count(*) FILTER (WHERE promptsync_staged IS NULL),'
    '   %s)'
    '  FROM %s',
    pg_temp.promptsync_sums('promptsync_staged'), pg_temp.promptsync_sums('promptsync_live'),
    cmp)
    INTO result;
  RETURN result;
END
$$;

-- One step of the apply on one table: 'D' deletes the rows the stage lacks, 'I' inserts the
-- rows the live table lacks, 'U' rewrites the changed rows. Works from compare.sql's :cmp.
-- Returns how many rows it wrote. `rel` is the quoted, qualified name.
CREATE FUNCTION pg_temp.promptsync_step(rel text, stage text, cmp text, step text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  live regclass := rel::regclass;
  cols text := pg_temp.promptsync_columns(live, '%I', false);
  s_cols text := pg_temp.promptsync_columns(live, 's.%I', false);
  l_is_c text := pg_temp.promptsync_key_match(live, 'l', 'c');
  s_is_c text := pg_temp.promptsync_key_match(live, 's', 'c');
  changed text := 'c.promptsync_staged <> c.promptsync_live';
  sets text;  -- (b, c) = ROW(s.b, s.c): every stored column but the key
  n bigint := 0;
BEGIN
  IF step = 'D' THEN
    EXECUTE format('DELETE FROM %s l USING %s c WHERE %s AND c.promptsync_staged IS NULL',
                   rel, cmp, l_is_c);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
  ELSIF step = 'I' THEN
    EXECUTE format('INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE'
                   ' SELECT %s FROM %s s JOIN %s c ON %s WHERE c.promptsync_live IS NULL',
                   rel, cols, s_cols, stage, cmp, s_is_c);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
  END IF;
  SELECT format('(%s) = ROW(%s)', string_agg(format('%I', attname), ', ' ORDER BY attnum),
                string_agg(format('s.%I', attname), ', ' ORDER BY attnum))
    INTO sets
    FROM pg_catalog.pg_attribute
   WHERE attrelid = live AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
     AND attnum <> ALL (SELECT unnest(indkey) FROM pg_catalog.pg_index
                         WHERE indrelid = live AND indisprimary);
  IF sets IS NULL THEN
    RETURN 0;  -- only key columns: a changed row is a delete plus an insert
  END IF;
  -- An UPDATE cannot write a GENERATED ALWAYS identity column; UPDATE checks uniqueness row
  -- by row, so changed rows that trade a unique value (two prompts swapping names) fail.
  -- Both are done by replacing the changed rows in ONE statement instead (the join on `gone`
  -- makes the DELETE run first).
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute
                  WHERE attrelid = live AND attnum > 0 AND NOT attisdropped
                    AND attidentity = 'a'
                    AND attnum <> ALL (SELECT unnest(indkey) FROM pg_catalog.pg_index
                                        WHERE indrelid = live AND indisprimary)) THEN
    BEGIN
      EXECUTE format('UPDATE %s l SET %s FROM %s s JOIN %s c ON %s WHERE %s AND %s',
                     rel, sets, stage, cmp, s_is_c, l_is_c, changed);
      GET DIAGNOSTICS n = ROW_COUNT;
      RETURN n;
    EXCEPTION WHEN unique_violation THEN
      NULL;  -- replace them below
    END;
  END IF;
  -- Replacing deletes and re-inserts the rows, which is only safe when no foreign key acts
  -- on deletion (CASCADE, SET NULL/DEFAULT, RESTRICT).
  IF EXISTS (SELECT FROM pg_catalog.pg_constraint
              WHERE confrelid = live AND contype = 'f' AND confdeltype <> 'a') THEN
    RAISE EXCEPTION 'changed rows of % swap a unique value or set a GENERATED ALWAYS identity column while a foreign key with an ON DELETE action references the table: apply the change in two syncs', rel;
  END IF;
  EXECUTE format(
    'WITH gone AS (DELETE FROM %1$s l USING %2$s c WHERE %3$s AND %4$s RETURNING l.*)'
    ' INSERT INTO %1$s (%5$s) OVERRIDING SYSTEM VALUE'
    ' SELECT %6$s FROM %7$s s JOIN %2$s c ON %8$s JOIN gone l ON %3$s',
    rel, cmp, l_is_c, changed, cols, s_cols, stage, s_is_c);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;

-- Where promotion `promotion` keeps the undo data of table `rel` (as promptsync.promotion_tables
-- names it): a table of its own, promptsync.undo_<promotion>_<8 hex digits of md5(rel)>.
CREATE FUNCTION pg_temp.promptsync_undo_table(rel text, promotion bigint)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format('promptsync.%I', format('undo_%s_%s', promotion, left(md5(rel), 8)))
$$;

-- The columns of such an undo table, as CREATE TABLE lists them: promptsync_op, then every
-- stored column of `rel` in physical order, with its type but none of its constraints (a
-- domain becomes its base type, so a NULL fits where an inserted row keeps only its key).
CREATE FUNCTION pg_temp.promptsync_undo_columns(rel regclass)
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
  a record;
  typ oid;
  typmod int;
  defs text := 'promptsync_op "char" NOT NULL';
BEGIN
  FOR a IN SELECT attname, atttypid, atttypmod FROM pg_catalog.pg_attribute
            WHERE attrelid = rel AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
            ORDER BY attnum LOOP
    typ := a.atttypid;
    typmod := a.atttypmod;
    WHILE (SELECT typtype FROM pg_catalog.pg_type WHERE oid = typ) = 'd' LOOP
      SELECT typbasetype, typtypmod INTO typ, typmod FROM pg_catalog.pg_type WHERE oid = typ;
    END LOOP;
    defs := defs || format(', %I %s', a.attname, pg_catalog.format_type(typ, typmod));
  END LOOP;
  RETURN defs;
END
$$;
