-- verify --fast, and the first look of a sync: fingerprint.sql's row count and checksum of
-- :rel, where the database's own ledger may stand in for hashing (ledger_find.sql ran first).
-- When every row is the version the ledger recorded and there are as many rows as entries,
-- the table is exactly what the ledger's promotion left: its recorded fingerprint stands,
-- told by one pass over keys and row versions (no column is read). Otherwise a row whose
-- version is the one recorded takes the hash recorded for it, and only the others are read
-- and hashed. Returns fingerprint.sql's three values (the sums '' when the recorded checksum
-- stands), how many rows the ledger vouched for, and that recorded checksum ('' otherwise).
-- Variables: :'rel', and ledger_find.sql's.
SELECT pg_catalog.string_agg(pg_catalog.format('t.%I', attname), ', '
                             ORDER BY attname COLLATE "C") AS cols
  FROM pg_catalog.pg_attribute
 WHERE attrelid = :'rel'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
\gset ff_
SELECT pg_catalog.string_agg(pg_catalog.format('g.%1$I = t.%1$I', a.attname), ' AND '
                             ORDER BY k.ord) AS match
  FROM pg_catalog.pg_index i
 CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
 WHERE i.indrelid = :'rel'::regclass AND i.indisprimary
\gset ff_
\if :lf_cache
SELECT pg_catalog.count(*) AS rows,
       pg_catalog.count(*) FILTER (WHERE g.promptsync_xmin IS DISTINCT FROM t.xmin) AS changed
  FROM :rel AS t LEFT JOIN :lf_ledger AS g ON :ff_match
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
                    ELSE pg_catalog.md5(pg_catalog.convert_to(ROW(:ff_cols)::text, 'UTF8')) END
                 AS h,
               coalesce(g.promptsync_xmin = t.xmin, false) AS vouched
          FROM :rel AS t LEFT JOIN :lf_ledger AS g ON :ff_match OFFSET 0) AS r;
\endif
\else
SELECT pg_catalog.count(*),
       coalesce(pg_catalog.sum(('x' || pg_catalog.left(h, 16))::bit(64)::bigint), 0),
       coalesce(pg_catalog.sum(('x' || pg_catalog.right(h, 16))::bit(64)::bigint), 0), 0, ''
  FROM (SELECT pg_catalog.md5(pg_catalog.convert_to(ROW(:ff_cols)::text, 'UTF8')) AS h
          FROM :rel AS t OFFSET 0) AS r;
\endif
