-- What a ledger is written for (ledger_write.sql) and trusted for (ledger_find.sql): "name
-- type" of each primary key column of :rel in key order (:sig_keys) and of each stored column
-- by name (:sig_columns), as psql variables. Runs without functions.sql. Variables: :'rel'.
SELECT coalesce((SELECT pg_catalog.string_agg(
                          pg_catalog.format('%I %s', a.attname,
                                            pg_catalog.format_type(a.atttypid, a.atttypmod)),
                          ', ' ORDER BY k.ord)
                   FROM pg_catalog.pg_index i
                  CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_catalog.pg_attribute a
                     ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                  WHERE i.indrelid = :'rel'::regclass AND i.indisprimary), '') AS keys,
       (SELECT pg_catalog.string_agg(
                 pg_catalog.format('%I %s', a.attname,
                                   pg_catalog.format_type(a.atttypid, a.atttypmod)),
                 ', ' ORDER BY a.attname COLLATE "C")
          FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = :'rel'::regclass AND a.attnum > 0 AND NOT a.attisdropped
           AND a.attgenerated = '') AS columns
\gset sig_
