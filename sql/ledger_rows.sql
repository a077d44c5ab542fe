-- For a listing (`promptsync diff`): what :rel's ledger (:ledger, from ledger_find.sql) says of
-- the rows whose keys are in :'keys' (a JSON array of keys, each a JSON array of its values as
-- text, as diff_rows.sql gives them): a JSON array of [key, the live row's hash ('' when there
-- is no such row), the ledger's ('' when it has no entry)]. Only those rows are read. Runs
-- without functions.sql, in any transaction (a read-only one too). Variables: :'rel',
-- :ledger, :'keys'.
SELECT pg_catalog.string_agg(pg_catalog.format('t.%I::text', a.attname), ', ' ORDER BY k.ord)
       AS key_text
  FROM pg_catalog.pg_index i
 CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
 WHERE i.indrelid = :'rel'::regclass AND i.indisprimary
\gset lr_
SELECT pg_catalog.string_agg(pg_catalog.format('t.%I', attname), ', ' ORDER BY attname COLLATE "C")
       AS cols
  FROM pg_catalog.pg_attribute
 WHERE attrelid = :'rel'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
\gset lr_
SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_array(k.key, coalesce(l.h, ''),
                                                                coalesce(g.h, ''))), '[]')
  FROM pg_catalog.jsonb_array_elements_text(:'keys'::jsonb) AS k(key)
  LEFT JOIN (SELECT pg_catalog.array_to_json(ARRAY[:lr_key_text])::text AS key,
                    pg_catalog.md5(pg_catalog.convert_to(ROW(:lr_cols)::text, 'UTF8')) AS h
               FROM :rel AS t
              WHERE pg_catalog.array_to_json(ARRAY[:lr_key_text])::text
                    IN (SELECT pg_catalog.jsonb_array_elements_text(:'keys'::jsonb))) AS l
    ON l.key = k.key
  LEFT JOIN (SELECT pg_catalog.array_to_json(ARRAY[:lr_key_text])::text AS key,
                    t.promptsync_hash AS h
               FROM :ledger AS t
              WHERE pg_catalog.array_to_json(ARRAY[:lr_key_text])::text
                    IN (SELECT pg_catalog.jsonb_array_elements_text(:'keys'::jsonb))) AS g
    ON g.key = k.key;
