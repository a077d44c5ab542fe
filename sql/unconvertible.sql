-- After the target refused a character its encoding cannot hold: the keys of the first rows
-- of :rel (up to 5) whose text :'encoding' cannot hold, read on the source in the snapshot
-- the transfer read. Only rows with a character outside ASCII are tried, each in its own
-- subtransaction (this runs only on that failure). Returns "id=7, id=12" ('' when none).
-- Variables: :'rel', :'encoding'.
SELECT pg_catalog.string_agg(pg_catalog.format('t.%I', attname), ', ' ORDER BY attnum) AS cols
  FROM pg_catalog.pg_attribute
 WHERE attrelid = :'rel'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
\gset uc_
SELECT pg_catalog.string_agg(pg_catalog.format('%L || ''='' || t.%I::text', a.attname, a.attname),
                             ' || ''/'' || ' ORDER BY k.ord) AS key
  FROM pg_catalog.pg_index i
 CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
 WHERE i.indrelid = :'rel'::regclass AND i.indisprimary
\gset uc_
SELECT pg_catalog.set_config('promptsync.query', 'SELECT ' || :'uc_key' || ' AS k, ROW('
                              || :'uc_cols' || ')::text AS r FROM ' || :'rel' || ' AS t', true)
         AS query_set,
       pg_catalog.set_config('promptsync.encoding', :'encoding', true) AS encoding_set \gset uc_

DO $unconvertible$
DECLARE
  r record;
  found text[] := '{}';
BEGIN
  FOR r IN EXECUTE current_setting('promptsync.query') LOOP
    CONTINUE WHEN r.r !~ '[^\x01-\x7f]';
    BEGIN
      PERFORM pg_catalog.convert_to(r.r, current_setting('promptsync.encoding'));
    EXCEPTION WHEN untranslatable_character OR character_not_in_repertoire THEN
      found := found || r.k;
      EXIT WHEN pg_catalog.cardinality(found) >= 5;
    END;
  END LOOP;
  PERFORM pg_catalog.set_config('promptsync.result', pg_catalog.array_to_string(found, ', '),
                                true);
END
$unconvertible$;
SELECT pg_catalog.current_setting('promptsync.result');
