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

-- The same for the primary key columns, in key order: promptsync_keys(t, 'l.%I') = "l.id";
-- `sep` joins them (', ' unless given).
CREATE FUNCTION pg_temp.promptsync_keys(rel regclass, template text, sep text DEFAULT ', ')
RETURNS text LANGUAGE sql STABLE AS $$
  SELECT string_agg(format(template, a.attname), sep ORDER BY k.ord)
    FROM pg_catalog.pg_index i
   CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
   WHERE i.indrelid = rel AND i.indisprimary
$$;

-- The hash of a row of `rel` read as `alias` (DESIGN.md, guarantee 9): md5 of the row as
-- text, columns in name order, as UTF-8 whatever the server's encoding (settings.sql pins how
-- values print). fingerprint.sql, hash_list.sql and diff_*.sql, which run without these
-- helpers, write the same expression out.
CREATE FUNCTION pg_temp.promptsync_row_hash(rel regclass, alias text)
RETURNS text LANGUAGE sql STABLE AS $$
  SELECT format('pg_catalog.md5(pg_catalog.convert_to(ROW(%s)::text, ''UTF8''))',
                pg_temp.promptsync_columns(rel, alias || '.%I', true))
$$;

-- "a.k1 = b.k1 AND a.k2 = b.k2": rows a and b have the same primary key.
CREATE FUNCTION pg_temp.promptsync_key_match(rel regclass, a text, b text)
RETURNS text LANGUAGE sql STABLE AS $$
  SELECT pg_temp.promptsync_keys(rel, a || '.%1$I = ' || b || '.%1$I', ' AND ')
$$;

-- The aggregates that fingerprint a column of row hashes, as SQL: its count of hashes and
-- the two sums (as fingerprint.sql sums them), for promptsync_print.
CREATE FUNCTION pg_temp.promptsync_sums(col text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format('count(%1$I),'
                ' coalesce(sum((''x'' || left(%1$I, 16))::bit(64)::bigint), 0),'
                ' coalesce(sum((''x'' || right(%1$I, 16))::bit(64)::bigint), 0)', col)
$$;

-- The fingerprint of a list of row hashes (a table, or a query, with a column promptsync_hash):
-- its row count and the two sums, in one line. With `rel` and `keys_in` (promptsync_compare's
-- "IN (...)" of sync --only), only the rows whose keys are in it count.
CREATE FUNCTION pg_temp.promptsync_print(list text, rel regclass DEFAULT NULL,
                                         keys_in text DEFAULT '')
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  result text;
BEGIN
  EXECUTE format('SELECT concat_ws('' '', %s) FROM (%s) AS l%s',
                 pg_temp.promptsync_sums('promptsync_hash'),
                 CASE WHEN list ~* '^\s*select' THEN list ELSE 'SELECT * FROM ' || list END,
                 CASE WHEN keys_in = '' THEN ''
                      ELSE format(' WHERE (%s) %s', pg_temp.promptsync_keys(rel, 'l.%I'),
                                  keys_in) END)
    INTO result;
  RETURN result;
END
$$;

-- The comparison table `cmp` of a promotion, by primary key, of the rows that matter to it:
-- those whose hash in the rows to come (promptsync_staged: a query over the stage or the
-- source's list) differs from the live table's (promptsync_live: a query over its list, or
-- hashing it), and those whose live hash differs from the target's ledger's (promptsync_ledger:
-- what promptsync left there, ledger_write.sql; NULL without a ledger); NULL where that side
-- has no such row. A row the live list says the ledger vouched for (promptsync_vouched) holds
-- the ledger's hash: it is looked up in the ledger only when its staged hash differs. Every
-- other row is alike on all sides: the apply, its checks and the ledger work from this table
-- alone. `wanted` (a JSON array of key objects, or NULL) keeps those keys alone (sync --only).
-- Returns one line: the staged rows' count and two sums (as fingerprint.sql; zeros unless
-- staged_print: the source's list says those already), how many rows the apply would insert,
-- update and delete, and the live rows' count and two sums.
CREATE FUNCTION pg_temp.promptsync_compare(live regclass, cmp text, staged text, listed text,
                                           ledger text, wanted jsonb, staged_print boolean)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  merged text := pg_temp.promptsync_keys(live, 'coalesce(s.%1$I, l.%1$I)');
  only_keys text := '';
  counts text;
BEGIN
  IF wanted IS NOT NULL THEN
    only_keys := format('IN (SELECT %s FROM pg_catalog.jsonb_to_recordset(%L) AS o(%s))',
                        pg_temp.promptsync_keys(live, 'o.%I'), wanted,
                        pg_temp.promptsync_column_defs(live, true));
  END IF;
  EXECUTE format('DROP TABLE IF EXISTS %s', cmp);  -- compared again once writers are out
  EXECUTE format(
    'CREATE TEMPORARY TABLE %1$s ON COMMIT DROP AS'
    ' SELECT d.*, %2$s AS promptsync_ledger'
    '   FROM (SELECT %3$s, s.promptsync_hash AS promptsync_staged,'
    '                l.promptsync_hash AS promptsync_live'
    '           FROM (%4$s) AS s FULL JOIN (%5$s) AS l ON %6$s'
    '          WHERE (s.promptsync_hash IS DISTINCT FROM l.promptsync_hash%7$s)%8$s) AS d'
    '   %9$s%10$s',
    cmp, CASE WHEN ledger = '' THEN 'NULL::text' ELSE 'g.promptsync_hash' END,
    pg_temp.promptsync_keys(live, 'coalesce(s.%1$I, l.%1$I) AS %1$I'), staged, listed,
    pg_temp.promptsync_key_match(live, 's', 'l'),
    CASE WHEN ledger = '' THEN '' ELSE ' OR l.promptsync_vouched IS NOT TRUE' END,
    CASE WHEN wanted IS NULL THEN '' ELSE format(' AND (%s) %s', merged, only_keys) END,
    CASE WHEN ledger = '' THEN ''
         ELSE format('LEFT JOIN %s g ON %s', ledger, pg_temp.promptsync_key_match(live, 'g', 'd'))
    END,
    CASE WHEN ledger = '' THEN ''
         ELSE ' WHERE d.promptsync_staged IS DISTINCT FROM d.promptsync_live'
              ' OR g.promptsync_hash IS DISTINCT FROM d.promptsync_live' END);
  -- row estimates for the apply's joins: it reads only the rows that differ
  EXECUTE format('ANALYZE %s', cmp);
  EXECUTE format(
    'SELECT concat_ws('' '', count(*) FILTER (WHERE promptsync_live IS NULL),'
    '       count(*) FILTER (WHERE promptsync_staged <> promptsync_live),'
    '       count(*) FILTER (WHERE promptsync_staged IS NULL)) FROM %s', cmp)
    INTO counts;
  RETURN concat_ws(' ', CASE WHEN staged_print
                             THEN pg_temp.promptsync_print(staged, live, only_keys)
                             ELSE '0 0 0' END,
                   counts, pg_temp.promptsync_print(listed, live, only_keys));
END
$$;

-- Whether the changed rows of `live` (per :cmp) may be replaced, deleted and re-inserted:
-- not when a foreign key whose ON DELETE acts (CASCADE, SET NULL/DEFAULT, RESTRICT: actions
-- cannot be deferred) has rows pointing at one of them, since the replacement would change
-- or stop on that user data. Then no single transaction can make the change: the error
-- (SQLSTATE PS002, never retried in another order) names the constraint and the rows.
CREATE FUNCTION pg_temp.promptsync_replaceable(live regclass, cmp text, why text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  fk record;
  on_cols text;
  n bigint;
  keys text;
BEGIN
  FOR fk IN SELECT c.conname, c.conrelid::regclass AS referencing, c.conkey, c.confkey,
                   CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL'
                                      WHEN 'd' THEN 'SET DEFAULT' ELSE 'RESTRICT' END AS action
              FROM pg_catalog.pg_constraint c
             WHERE c.confrelid = live AND c.contype = 'f' AND c.confdeltype <> 'a' LOOP
    SELECT string_agg(format('r.%I = l.%I', ra.attname, la.attname), ' AND ')
      INTO on_cols
      FROM unnest(fk.conkey, fk.confkey) AS k(r, l)
      JOIN pg_catalog.pg_attribute ra ON ra.attrelid = fk.referencing AND ra.attnum = k.r
      JOIN pg_catalog.pg_attribute la ON la.attrelid = live AND la.attnum = k.l;
    EXECUTE format(
      'SELECT count(*), string_agg(DISTINCT %s, '', '') FROM %s r JOIN %s l ON %s'
      ' JOIN %s c ON %s WHERE c.promptsync_staged <> c.promptsync_live',
      pg_temp.promptsync_key_text(live, 'l'), fk.referencing, live, on_cols, cmp,
      pg_temp.promptsync_key_match(live, 'l', 'c'))
      INTO n, keys;
    IF n > 0 THEN
      RAISE EXCEPTION USING ERRCODE = 'PS002', MESSAGE = format(
        'the changed rows %s of %s must be deleted and re-inserted (%s), but %s rows of %s '
        'point at them through %I (ON DELETE %s), which would act on that user data: no '
        'single transaction can make this change; apply it in two syncs, first moving the '
        'values out of the way', keys, live, why, n, fk.referencing, fk.conname, fk.action);
    END IF;
  END LOOP;
END
$$;

-- "id=17" (or "a=1/b=x"): a row's key as text, for messages; `alias` names the row.
CREATE FUNCTION pg_temp.promptsync_key_text(rel regclass, alias text)
RETURNS text LANGUAGE sql STABLE AS $$
  SELECT string_agg(format('%L || ''='' || %s.%I::text', a.attname, alias, a.attname),
                    ' || ''/'' || ' ORDER BY k.ord)
    FROM pg_catalog.pg_index i
   CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
   WHERE i.indrelid = rel AND i.indisprimary
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
  sets text;  -- (a, b, c) = ROW(s.a, s.b, s.c)
  why text;  -- why the changed rows are replaced rather than updated
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
  -- Every stored column is written, the key's too: a key equal by = but printed otherwise
  -- (numeric 1000.1 and 1000.10) takes the source's form, as the row hash reads it. Not a
  -- GENERATED ALWAYS identity key, which an UPDATE cannot write (and integers print alike).
  SELECT format('(%s) = ROW(%s)', string_agg(format('%I', attname), ', ' ORDER BY attnum),
                string_agg(format('s.%I', attname), ', ' ORDER BY attnum))
    INTO sets
    FROM pg_catalog.pg_attribute
   WHERE attrelid = live AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
     AND NOT (attidentity = 'a'
              AND attnum = ANY (SELECT unnest(indkey) FROM pg_catalog.pg_index
                                 WHERE indrelid = live AND indisprimary));
  IF sets IS NULL THEN
    RETURN 0;  -- an identity key alone: a changed row is a delete plus an insert
  END IF;
  -- An UPDATE cannot write a non-key GENERATED ALWAYS identity column, and it checks unique
  -- and exclusion constraints row by row, so changed rows that trade a unique value (two
  -- prompts swapping versions) or a slot fail. Those rows are replaced instead (below).
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
    EXCEPTION WHEN unique_violation OR exclusion_violation THEN
      GET STACKED DIAGNOSTICS why = CONSTRAINT_NAME;
      why := format('they trade values under %I', why);
    END;
  END IF;
  PERFORM pg_temp.promptsync_replaceable(
    live, cmp, coalesce(why, 'a GENERATED ALWAYS identity column changes'));
  -- Replace: delete the changed rows and insert their staged versions in ONE statement, so a
  -- NO ACTION foreign key to them (deferrable or not) is checked once both are done. The
  -- inserts wait for every delete: the one-time filter counts the whole of `gone` before the
  -- first row is inserted, whatever plan the row counts bring (a join with `gone` would let a
  -- new row in before the old holder of its unique value has gone).
  EXECUTE format(
    'WITH gone AS (DELETE FROM %1$s l USING %2$s c WHERE %3$s AND %4$s RETURNING 1)'
    ' INSERT INTO %1$s (%5$s) OVERRIDING SYSTEM VALUE'
    ' SELECT %6$s FROM %7$s s JOIN %2$s c ON %8$s WHERE %4$s AND (SELECT count(*) FROM gone) >= 0',
    rel, cmp, l_is_c, changed, cols, s_cols, stage, s_is_c);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;

-- The table holding `rel`'s ledger (ledger_write.sql): promptsync.ledger_<8 hex of md5(rel)>.
CREATE FUNCTION pg_temp.promptsync_ledger_table(rel text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format('promptsync.%I', format('ledger_%s', left(md5(rel), 8)))
$$;

-- For the foreign key `fk` from another table (as r) to `live` (as l): the FROM items and
-- condition that find the referencing rows pointing at a live row the apply deletes, or
-- whose referenced values it changes (by `cmp` and the stage, as s). references.sql counts
-- them; detach.sql detaches or deletes them.
CREATE FUNCTION pg_temp.promptsync_referencing(fk oid, live regclass, stage text, cmp text)
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
  c record;
  on_cols text;
  moved text;
BEGIN
  SELECT conrelid::regclass AS referencing, conkey, confkey INTO c
    FROM pg_catalog.pg_constraint WHERE oid = fk;
  SELECT string_agg(format('r.%I = l.%I', ra.attname, la.attname), ' AND '),
         string_agg(format('l.%1$I IS DISTINCT FROM s.%1$I', la.attname), ' OR ')
    INTO on_cols, moved
    FROM unnest(c.conkey, c.confkey) AS k(r, l)
    JOIN pg_catalog.pg_attribute ra ON ra.attrelid = c.referencing AND ra.attnum = k.r
    JOIN pg_catalog.pg_attribute la ON la.attrelid = live AND la.attnum = k.l;
  RETURN format(
    '%s r JOIN %s l ON %s JOIN %s c ON %s LEFT JOIN %s s ON %s'
    ' WHERE c.promptsync_staged IS NULL'
    '    OR (c.promptsync_staged <> c.promptsync_live AND (%s))',
    c.referencing, live, on_cols, cmp, pg_temp.promptsync_key_match(live, 'l', 'c'),
    stage, pg_temp.promptsync_key_match(live, 's', 'c'), moved);
END
$$;

-- Where promotion `promotion` keeps the undo data of table `rel` (as promptsync.promotion_tables
-- names it): a table of its own, promptsync.undo_<promotion>_<8 hex digits of md5(rel)>.
CREATE FUNCTION pg_temp.promptsync_undo_table(rel text, promotion bigint)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format('promptsync.%I', format('undo_%s_%s', promotion, left(md5(rel), 8)))
$$;

-- Stored columns of `rel` as CREATE TABLE lists them, in physical order: each with its type
-- but none of its constraints, a domain as its base type (so a NULL fits where an undo row
-- keeps only its key); only the primary key columns when keys_only. An undo table is
-- promptsync_op "char" NOT NULL followed by every column; a ledger keeps the key columns.
CREATE FUNCTION pg_temp.promptsync_column_defs(rel regclass, keys_only boolean)
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
  a record;
  typ oid;
  typmod int;
  defs text[] := '{}';
BEGIN
  FOR a IN SELECT attname, atttypid, atttypmod FROM pg_catalog.pg_attribute
            WHERE attrelid = rel AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
              AND (NOT keys_only
                   OR attnum = ANY ((SELECT indkey FROM pg_catalog.pg_index
                                      WHERE indrelid = rel AND indisprimary)::int2[]))
            ORDER BY attnum LOOP
    typ := a.atttypid;
    typmod := a.atttypmod;
    WHILE (SELECT typtype FROM pg_catalog.pg_type WHERE oid = typ) = 'd' LOOP
      SELECT typbasetype, typtypmod INTO typ, typmod FROM pg_catalog.pg_type WHERE oid = typ;
    END LOOP;
    defs := defs || format('%I %s', a.attname, pg_catalog.format_type(typ, typmod));
  END LOOP;
  RETURN array_to_string(defs, ', ');
END
$$;
