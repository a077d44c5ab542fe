-- The source's side of a delta transfer: the rows of :rel whose primary keys are in :'keys'
-- (a JSON array of objects naming the key columns, from fetch_keys.sql on the target), as
-- COPY data of the columns :cols (quoted names, in the target's order), read in the exported
-- snapshot. Runs in its own psql, whose standard output is only this COPY data, inside the
-- transaction copyout.script() opens in that snapshot. Variables: :'rel', :cols, :'keys'.
SELECT pg_catalog.string_agg(pg_catalog.format('t.%I', a.attname), ', ' ORDER BY k.ord)
       AS row_keys,
       pg_catalog.string_agg(pg_catalog.format('k.%I', a.attname), ', ' ORDER BY k.ord)
       AS wanted_keys,
       pg_catalog.string_agg(pg_catalog.format('%I %s', a.attname,
                                               pg_catalog.format_type(a.atttypid, a.atttypmod)),
                             ', ' ORDER BY k.ord) AS key_types
  FROM pg_catalog.pg_index i
 CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
 WHERE i.indrelid = :'rel'::regclass AND i.indisprimary
\gset fr_
COPY (SELECT :cols FROM :rel AS t
       WHERE (:fr_row_keys) IN (SELECT :fr_wanted_keys
                                  FROM pg_catalog.jsonb_to_recordset(:'keys'::jsonb)
                                       AS k(:fr_key_types))) TO STDOUT;
