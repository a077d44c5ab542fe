-- Row count and checksum of :rel per key range (bucket), for `promptsync diff`: only the
-- buckets whose checksums differ between two environments are looked at row by row.
-- A single integer primary key is cut into ranges of 1000 ids; any other key is hashed
-- into 1024 buckets. Rows are hashed as in fingerprint.sql. Columns and key come from
-- :'keyrel' (the live table; :rel may be a staging table shaped like it).
SELECT CASE WHEN count(*) = 1
             AND bool_and(a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype))
            THEN format('(t.%I / 1000)', min(a.attname))
            ELSE format('(hashtextextended(ROW(%s)::text, 0) & 1023)',
                        string_agg(format('t.%I', a.attname), ', ' ORDER BY k.ord))
       END AS bucket
  FROM pg_catalog.pg_index i
 CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
 WHERE i.indrelid = :'keyrel'::regclass AND i.indisprimary
\gset diff_
SELECT pg_catalog.string_agg(pg_catalog.format('%I', attname), ', ' ORDER BY attname COLLATE "C")
       AS cols
  FROM pg_catalog.pg_attribute
 WHERE attrelid = :'keyrel'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
\gset diff_
SELECT b, pg_catalog.count(*),
       pg_catalog.sum(('x' || pg_catalog.left(h, 16))::bit(64)::bigint),
       pg_catalog.sum(('x' || pg_catalog.right(h, 16))::bit(64)::bigint)
  FROM (SELECT :diff_bucket AS b,
               pg_catalog.md5(pg_catalog.convert_to(ROW(:diff_cols)::text, 'UTF8')) AS h
          FROM :rel AS t OFFSET 0) r
 GROUP BY b;
