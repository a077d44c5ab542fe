-- verify --fast, and the first look of a sync: fingerprint.sql's row count and checksum of
-- :rel, where the database's own ledger may stand in for hashing (ledger_find.sql ran first).
-- When every row is the version the ledger recorded and there are as many rows as entries,
-- the table is exactly what the ledger's promotion left: its recorded fingerprint stands,
-- told by one pass over keys and row versions (no column is read). Otherwise a row whose
-- version is the one recorded takes the hash recorded for it, and only the others are read
-- and hashed. Returns fingerprint.sql's three values (the sums '' when the recorded checksum
-- stands), how many rows the ledger vouched for, and that recorded checksum ('' otherwise).
-- Variables: :'rel', and those of ledger_find.sql and row_parts.sql (which ran first).
\if :lf_cache
SELECT pg_catalog.count(*) AS rows,
       pg_catalog.count(*) FILTER (WHERE g.promptsync_xmin IS DISTINCT FROM t.xmin) AS changed
  FROM :rel AS t LEFT JOIN :lf_ledger AS g ON :rp_match
\gset ff_
SELECT :ff_changed = 0 AND :ff_rows = :lf_rows
       AND (SELECT pg_catalog.count(*) FROM :lf_ledger) = :lf_rows AS whole
\gset ff_
\if :ff_whole
SELECT :lf_rows, '', '', :lf_rows, :'lf_checksum';
\else
SELECT pg_catalog.count(*),
       coalesce(pg_catalog.sum(('x' || pg_catalog.left(h, 16))::bit(64)::bigint), 0),
       coalesce(pg_catalog.sum(('x' || pg_catalog.right(h, 16))::bit(64)::bigint), 0),
       pg_catalog.count(*) FILTER (WHERE vouched), ''
  FROM (SELECT CASE WHEN g.promptsync_xmin = t.xmin THEN g.promptsync_hash
                    ELSE pg_catalog.md5(pg_catalog.convert_to(ROW(:rp_cols)::text, 'UTF8')) END
                 AS h,
               coalesce(g.promptsync_xmin = t.xmin, false) AS vouched
          FROM :rel AS t LEFT JOIN :lf_ledger AS g ON :rp_match OFFSET 0) AS r;
\endif
\else
SELECT pg_catalog.count(*),
       coalesce(pg_catalog.sum(('x' || pg_catalog.left(h, 16))::bit(64)::bigint), 0),
       coalesce(pg_catalog.sum(('x' || pg_catalog.right(h, 16))::bit(64)::bigint), 0), 0, ''
  FROM (SELECT pg_catalog.md5(pg_catalog.convert_to(ROW(:rp_cols)::text, 'UTF8')) AS h
          FROM :rel AS t OFFSET 0) AS r;
\endif
