-- What a delta transfer asks the source for. First line: the stored columns of :rel in its
-- physical order (quoted names: the column list of the COPY on both sides). Then one line
-- per row the apply will write (the source has it, and the live table has it differently or
-- not at all): its primary key as a JSON object naming the key columns (fetch_rows.sql reads
-- them as one array). Needs functions.sql and plan.sql's :cmp. Variables: :'rel', :cmp.
SELECT pg_temp.promptsync_columns(:'rel'::regclass, '%I', false) AS columns,
       pg_temp.promptsync_keys(:'rel'::regclass, '%1$L, %1$I') AS pairs
\gset fk_
SELECT :'fk_columns';
SELECT pg_catalog.jsonb_build_object(:fk_pairs)::text
  FROM :cmp
 WHERE promptsync_staged IS DISTINCT FROM promptsync_live AND promptsync_staged IS NOT NULL;
