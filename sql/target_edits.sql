-- The rows of :rel that were edited, created or deleted outside promptsync since its last
-- promotion (the live row is not what the ledger says promptsync left there) and that this
-- plan would overwrite, delete or re-create. A row whose edit already equals the source's is
-- no such row: the plan leaves it alone. Returns one line, a JSON object: "count" (all such
-- rows), "columns" (for each column the sync would change in them, in how many rows: a column
-- the application itself writes shows up in every row), and "rows", the first :limit of them
-- by key, each with its key and identifying columns (as diff_details.sql names them), "kind"
-- (edited, created, deleted: what happened there), "action" (overwrite, delete, re-create:
-- what the sync would do) and, for an overwrite, the columns whose values it would change.
-- Needs functions.sql and a :cmp with promptsync_ledger (run only where a ledger exists).
-- Variables: :'rel', :'cmp', :'stage', :'limit'.
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.cmp = :'cmp';
SET LOCAL promptsync.stage = :'stage';
SET LOCAL promptsync.listed_rows = :'limit';
DO $edits$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  both_sides text;
  ident text;
  changed text;
  result text;
BEGIN
  -- name, coach_state, prompt_type, version where the table has them: from the live row,
  -- or the staged one when the live row is gone
  SELECT coalesce(string_agg(format('%L, coalesce(l.%I::text, s.%I::text)',
                                    attname, attname, attname), ', ' ORDER BY attnum), '')
    INTO ident
    FROM pg_catalog.pg_attribute
   WHERE attrelid = live AND attnum > 0 AND NOT attisdropped
     AND attname IN ('name', 'coach_state', 'prompt_type', 'version');
  SELECT string_agg(format('CASE WHEN l.%1$I::text IS DISTINCT FROM s.%1$I::text THEN %1$L END',
                           attname), ', ' ORDER BY attnum)
    INTO changed
    FROM pg_catalog.pg_attribute
   WHERE attrelid = live AND attnum > 0 AND NOT attisdropped AND attgenerated = '';
  both_sides := format('%s c LEFT JOIN %s l ON %s LEFT JOIN %s s ON %s',
                       current_setting('promptsync.cmp'), live,
                       pg_temp.promptsync_key_match(live, 'l', 'c'),
                       current_setting('promptsync.stage'),
                       pg_temp.promptsync_key_match(live, 's', 'c'));
  EXECUTE format(
    'WITH e AS (SELECT json_build_object(%1$s) AS key, json_build_object(%2$s) AS ident,'
    '                  CASE WHEN c.promptsync_live IS NULL THEN ''deleted'''
    '                       WHEN c.promptsync_ledger IS NULL THEN ''created'''
    '                       ELSE ''edited'' END AS kind,'
    '                  CASE WHEN c.promptsync_staged IS NULL THEN ''delete'''
    '                       WHEN c.promptsync_live IS NULL THEN ''re-create'''
    '                       ELSE ''overwrite'' END AS action,'
    '                  CASE WHEN c.promptsync_staged IS NOT NULL'
    '                        AND c.promptsync_live IS NOT NULL'
    '                       THEN array_remove(ARRAY[%3$s], NULL) ELSE ''{}'' END AS columns,'
    '                  row_number() OVER (ORDER BY %4$s) AS n'
    '             FROM %5$s'
    '            WHERE c.promptsync_staged IS DISTINCT FROM c.promptsync_live'
    '              AND c.promptsync_ledger IS DISTINCT FROM c.promptsync_live)'
    ' SELECT json_build_object('
    '          ''count'', (SELECT count(*) FROM e),'
    '          ''columns'', (SELECT coalesce(json_object_agg(col, rows), ''{}'')'
    '                        FROM (SELECT col, count(*) AS rows FROM e, unnest(e.columns) AS col'
    '                               GROUP BY col) AS per_column),'
    '          ''rows'', (SELECT coalesce(json_agg(json_build_object(''key'', key, ''ident'','
    '                                     ident, ''kind'', kind, ''action'', action,'
    '                                     ''columns'', columns) ORDER BY n), ''[]'')'
    '                       FROM e WHERE n <= %6$s))::text',
    pg_temp.promptsync_keys(live, '%1$L, c.%1$I::text'), ident, changed,
    pg_temp.promptsync_keys(live, 'c.%I'), both_sides,
    current_setting('promptsync.listed_rows')::int)
    INTO result;
  PERFORM set_config('promptsync.result', result, true);
END
$edits$;
SELECT pg_catalog.current_setting('promptsync.result');
