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
