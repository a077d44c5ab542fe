-- For the rows of :rel whose keys are in :'keys' (a JSON array of diff_rows.sql's keys): the
-- identifying columns (name, coach_state, prompt_type, version where the table has them) and
-- a hash of every column, to say which columns changed. Needs diff_rows.sql's variables.
SELECT coalesce(pg_catalog.string_agg(pg_catalog.format('%L, t.%I', attname, attname), ', '
                                      ORDER BY attnum), '') AS ident,
       (SELECT pg_catalog.string_agg(pg_catalog.format('%L', attname), ', ' ORDER BY attnum)
          FROM pg_catalog.pg_attribute
         WHERE attrelid = :'keyrel'::regclass AND attnum > 0 AND NOT attisdropped
           AND attgenerated = '') AS names,
       (SELECT pg_catalog.string_agg(pg_catalog.format('pg_catalog.md5(t.%I::text)', attname),
                                     ', ' ORDER BY attnum)
          FROM pg_catalog.pg_attribute
         WHERE attrelid = :'keyrel'::regclass AND attnum > 0 AND NOT attisdropped
           AND attgenerated = '') AS hashes
  FROM pg_catalog.pg_attribute
 WHERE attrelid = :'keyrel'::regclass AND attnum > 0 AND NOT attisdropped
   AND attname IN ('name', 'coach_state', 'prompt_type', 'version')
\gset diff_
SELECT pg_catalog.array_to_json(ARRAY[:diff_key_text])::text,
       pg_catalog.json_build_object(:diff_ident)::text,
       pg_catalog.jsonb_object(ARRAY[:diff_names], ARRAY[:diff_hashes])::text
  FROM :rel AS t
 WHERE pg_catalog.array_to_json(ARRAY[:diff_key_text])::text
       IN (SELECT pg_catalog.jsonb_array_elements_text(:'keys'::jsonb));
