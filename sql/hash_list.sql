-- The source's side of a delta transfer: one COPY line per row of :rel, read in the exported
-- snapshot (the same rows pg_dump or the row fetch reads): the primary key columns, then the
-- row's hash, computed exactly as fingerprint.sql computes it (columns in name order, as
-- text, as UTF-8, md5). Where the source's own ledger may stand in for hashing (ledger_find.sql
-- ran first: a former target, such as staging for the production build), a row whose version
-- is the one it recorded takes its hash from there; only the others are hashed. Runs in its
-- own psql, whose standard output is only this COPY data, inside the transaction
-- copyout.script() opens in that snapshot. Variables: :'rel', and ledger_find.sql's.
SELECT pg_catalog.string_agg(pg_catalog.format('t.%I', attname), ', '
                             ORDER BY attname COLLATE "C") AS cols
  FROM pg_catalog.pg_attribute
 WHERE attrelid = :'rel'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
\gset hl_
SELECT pg_catalog.string_agg(pg_catalog.format('t.%I', a.attname), ', ' ORDER BY k.ord) AS keys,
       pg_catalog.string_agg(pg_catalog.format('g.%1$I = t.%1$I', a.attname), ' AND '
                             ORDER BY k.ord) AS match
  FROM pg_catalog.pg_index i
 CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
 WHERE i.indrelid = :'rel'::regclass AND i.indisprimary
\gset hl_
\if :lf_cache
COPY (SELECT :hl_keys,
             CASE WHEN g.promptsync_xmin = t.xmin THEN g.promptsync_hash
                  ELSE pg_catalog.md5(pg_catalog.convert_to(ROW(:hl_cols)::text, 'UTF8')) END
        FROM :rel AS t LEFT JOIN :lf_ledger AS g ON :hl_match) TO STDOUT;
\else
COPY (SELECT :hl_keys, pg_catalog.md5(pg_catalog.convert_to(ROW(:hl_cols)::text, 'UTF8'))
        FROM :rel AS t) TO STDOUT;
\endif
