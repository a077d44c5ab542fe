-- The source's side of a delta transfer: one COPY line per row of :rel, read in the exported
-- snapshot (the same rows pg_dump or the row fetch reads): the primary key columns, then the
-- row's hash, computed exactly as fingerprint.sql computes it (columns in name order, as
-- text, as UTF-8, md5). Where the source's own ledger may stand in for hashing (ledger_find.sql
-- ran first: a former target, such as staging for the production build), a row whose version
-- is the one it recorded takes its hash from there; only the others are hashed. Runs in its
-- own psql, whose standard output is only this COPY data, inside the transaction
-- copyout.script() opens in that snapshot. Variables: :'rel', and ledger_find.sql's and
-- row_parts.sql's (which ran first).
\if :lf_cache
COPY (SELECT :rp_keys,
             CASE WHEN g.promptsync_xmin = t.xmin THEN g.promptsync_hash
                  ELSE pg_catalog.md5(pg_catalog.convert_to(ROW(:rp_cols)::text, 'UTF8')) END
        FROM :rel AS t LEFT JOIN :lf_ledger AS g ON :rp_match) TO STDOUT;
\else
COPY (SELECT :rp_keys, pg_catalog.md5(pg_catalog.convert_to(ROW(:rp_cols)::text, 'UTF8'))
        FROM :rel AS t) TO STDOUT;
\endif
