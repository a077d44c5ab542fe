-- One table of a snapshot file (`promptsync export`): a first line with the column names (a
-- JSON array) and the quoted column list, then the rows as COPY text sorted by primary key, so that the same data always gives
-- the same bytes. Run inside snapshot.sql's transaction. Variables: :'rel', :'pk' (quoted).
SELECT pg_catalog.string_agg(pg_catalog.format('%I', attname), ', ' ORDER BY attnum) AS cols,
       pg_catalog.json_agg(attname ORDER BY attnum) AS names
  FROM pg_catalog.pg_attribute
 WHERE attrelid = :'rel'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
\gset export_
SELECT :'export_names', :'export_cols';
COPY (SELECT :export_cols FROM :rel ORDER BY :pk) TO STDOUT;
