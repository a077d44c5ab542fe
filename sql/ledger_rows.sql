-- For a listing (`promptsync diff`): what :rel's ledger (:'ledger', from ledger_find.sql) says
-- of the rows whose keys are in :'keys' (a JSON array of keys, each a JSON array of its
-- values as text, as diff_rows.sql gives them): a JSON array of [key, the live row's hash ('' when
-- there is no such row), the ledger's ('' when it has no entry)]. Only those rows are read.
-- Needs functions.sql. Variables: :'rel', :'ledger', :'keys'.
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.ledger = :'ledger';
SET LOCAL promptsync.keys = :'keys';
DO $rows$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  key_text text := 'pg_catalog.array_to_json(ARRAY['
                   || pg_temp.promptsync_keys(live, 'x.%I::text') || '])::text';
  wanted text := format('IN (SELECT pg_catalog.jsonb_array_elements_text(%L::jsonb))',
                        current_setting('promptsync.keys'));
  result text;
BEGIN
  EXECUTE format(
    'SELECT coalesce(json_agg(json_build_array(k.key, coalesce(l.h, ''''),'
    '                                          coalesce(g.h, ''''))), ''[]'')'
    '  FROM pg_catalog.jsonb_array_elements_text(%1$L::jsonb) AS k(key)'
    '  LEFT JOIN (SELECT %2$s AS key, %3$s AS h FROM %4$s x WHERE %2$s %5$s) AS l'
    '    ON l.key = k.key'
    '  LEFT JOIN (SELECT %2$s AS key, x.promptsync_hash AS h FROM %6$s x WHERE %2$s %5$s) AS g'
    '    ON g.key = k.key',
    current_setting('promptsync.keys'), key_text, pg_temp.promptsync_row_hash(live, 'x'),
    live, wanted, current_setting('promptsync.ledger'))
    INTO result;
  PERFORM set_config('promptsync.result', result, true);
END
$rows$;
SELECT pg_catalog.current_setting('promptsync.result');
