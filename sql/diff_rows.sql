-- The rows of :rel in the buckets :'buckets' (a JSON array, from diff_buckets.sql): each
-- row's primary key (a JSON array of its values as text) and hash. Needs diff_buckets.sql's
-- psql variables (:diff_bucket, :diff_cols) in the same session.
SELECT pg_catalog.string_agg(pg_catalog.format('t.%I::text', a.attname), ', ' ORDER BY k.ord)
       AS key_text
  FROM pg_catalog.pg_index i
 CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
 WHERE i.indrelid = :'keyrel'::regclass AND i.indisprimary
\gset diff_
SELECT pg_catalog.array_to_json(ARRAY[:diff_key_text])::text,
       pg_catalog.md5(pg_catalog.convert_to(ROW(:diff_cols)::text, 'UTF8'))
  FROM :rel AS t
 WHERE :diff_bucket IN (SELECT pg_catalog.jsonb_array_elements_text(:'buckets'::jsonb)::bigint);
