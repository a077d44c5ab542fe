-- The pieces of :rel's row hash and of its join to a ledger, as psql variables, for the files
-- that run without functions.sql (fingerprint_fast.sql, hash_list.sql; the source's COPY
-- script, a read-only diff): rp_cols, every stored column as t.col in name order (the row
-- hash is md5 of ROW(:rp_cols)::text as UTF-8, exactly as fingerprint.sql computes it);
-- rp_keys, the primary key's columns as t.col; rp_match, g.k = t.k AND ... (the ledger row
-- g of table row t). Variables: :'rel'.
SELECT pg_catalog.string_agg(pg_catalog.format('t.%I', attname), ', '
                             ORDER BY attname COLLATE "C") AS cols
  FROM pg_catalog.pg_attribute
 WHERE attrelid = :'rel'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
\gset rp_
SELECT pg_catalog.string_agg(pg_catalog.format('t.%I', a.attname), ', ' ORDER BY k.ord) AS keys,
       pg_catalog.string_agg(pg_catalog.format('g.%1$I = t.%1$I', a.attname), ' AND '
                             ORDER BY k.ord) AS match
  FROM pg_catalog.pg_index i
 CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
 WHERE i.indrelid = :'rel'::regclass AND i.indisprimary
\gset rp_
