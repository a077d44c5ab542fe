-- The values of the rows of :rel whose keys are in :'keys' (a JSON array of diff_rows.sql's
-- keys), for a listing that shows what changed inside each column (changes.py). First line:
-- each stored column's kind, as a JSON object: "text" (strings), "json" (json, jsonb and
-- arrays, sent as JSON so their paths can be compared) or "scalar" (anything else, as
-- PostgreSQL prints it). Then one line per row: its key, and its values as a JSON object of
-- column -> the text of a JSON array holding the value (null for SQL NULL, so a JSON null
-- inside a jsonb stays apart; text, so that any number of columns fits). Columns
-- and key come from :'keyrel' (the live table; :rel may be a staging table or view shaped
-- like it). Needs diff_rows.sql's psql variables (:diff_key_text) in the same session.
SELECT pg_catalog.json_object_agg(a.attname, k.kind ORDER BY a.attnum)::text AS kinds,
       pg_catalog.string_agg(pg_catalog.format('%L', a.attname), ', ' ORDER BY a.attnum)
         AS value_names,
       pg_catalog.string_agg(pg_catalog.format(
         'CASE WHEN t.%I IS NULL THEN NULL ELSE pg_catalog.json_build_array(%s)::text END',
         a.attname,
         CASE k.kind WHEN 'json' THEN pg_catalog.format('pg_catalog.to_jsonb(t.%I)', a.attname)
                     ELSE pg_catalog.format('t.%I::text', a.attname) END), ', '
         ORDER BY a.attnum) AS values
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid
  LEFT JOIN pg_catalog.pg_type base ON base.oid = ty.typbasetype AND ty.typtype = 'd'
 CROSS JOIN LATERAL (SELECT CASE
          WHEN coalesce(base.typcategory, ty.typcategory) = 'A'
            OR coalesce(base.oid, ty.oid) IN ('json'::regtype, 'jsonb'::regtype) THEN 'json'
          WHEN coalesce(base.typcategory, ty.typcategory) = 'S' THEN 'text'
          ELSE 'scalar' END AS kind) AS k
 WHERE a.attrelid = :'keyrel'::regclass AND a.attnum > 0 AND NOT a.attisdropped
   AND a.attgenerated = ''
\gset diff_
SELECT :'diff_kinds';
SELECT pg_catalog.array_to_json(ARRAY[:diff_key_text])::text,
       pg_catalog.json_object(ARRAY[:diff_value_names], ARRAY[:diff_values]::text[])::text
  FROM :rel AS t
 WHERE pg_catalog.array_to_json(ARRAY[:diff_key_text])::text
       IN (SELECT pg_catalog.jsonb_array_elements_text(:'keys'::jsonb));
