-- Row count and checksum of :rel (a quoted, qualified name from table_info.sql).
-- Each row is rendered as text with its columns in name order, so the physical column order
-- does not matter, and settings.sql pins every setting that changes how a value prints; the
-- text is hashed as UTF-8 whatever the database's encoding (DESIGN.md, guarantee 9). The
-- row hashes are summed, so the result does not depend on the order rows are read in either.
-- Generated columns are left out: a data-only dump does not carry them. OFFSET 0 keeps the
-- planner from flattening the subquery, which would compute each row's md5 twice.
SELECT pg_catalog.string_agg(pg_catalog.format('%I', attname), ', ' ORDER BY attname COLLATE "C")
       AS cols
  FROM pg_catalog.pg_attribute
 WHERE attrelid = :'rel'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
\gset fp_
SELECT pg_catalog.count(*),
       coalesce(pg_catalog.sum(('x' || pg_catalog.left(h, 16))::bit(64)::bigint), 0),
       coalesce(pg_catalog.sum(('x' || pg_catalog.right(h, 16))::bit(64)::bigint), 0)
  FROM (SELECT pg_catalog.md5(pg_catalog.convert_to(ROW(:fp_cols)::text, 'UTF8')) AS h
          FROM :rel AS t OFFSET 0) AS r;
