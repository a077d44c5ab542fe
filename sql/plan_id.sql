-- The digest of a sync's plan for one table, as diff.py's _digest computes it from two
-- databases: md5 of one line per row the plan writes or deletes, `key source-hash
-- target-hash` ('' for no such row; the key as a JSON array of its values as text), in byte
-- order of the lines. diff.plan_id combines the tables' digests into the plan's id, which a
-- reviewer approves and `sync --expect-plan` requires. Returns the digest, a tab, and the
-- plan's first 10 rows by key (JSON: [mark, key text], mark + insert, ~ update, - delete).
-- Needs functions.sql and :cmp. Variables: :'rel', :'cmp'.
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.cmp = :'cmp';
DO $plan_id$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  cmp text := current_setting('promptsync.cmp');
  result text;
BEGIN
  EXECUTE format(
    'SELECT pg_catalog.md5(coalesce(pg_catalog.string_agg(line, E''\n'' ORDER BY line'
    '                                                     COLLATE "C"), ''''))'
    '  FROM (SELECT pg_catalog.array_to_json(ARRAY[%s])::text || '' '''
    '               || coalesce(promptsync_staged, '''') || '' '''
    '               || coalesce(promptsync_live, '''') AS line'
    '          FROM %s WHERE promptsync_staged IS DISTINCT FROM promptsync_live) AS plan',
    pg_temp.promptsync_keys(live, '%I::text'), cmp)
    INTO result;
  EXECUTE format(
    'SELECT $1 || E''\t'' || coalesce(pg_catalog.json_agg(pg_catalog.json_build_array(mark, k)),'
    '                                 ''[]'')'
    '  FROM (SELECT CASE WHEN c.promptsync_live IS NULL THEN ''+'''
    '                    WHEN c.promptsync_staged IS NULL THEN ''-'' ELSE ''~'' END AS mark,'
    '               %s AS k'
    '          FROM %s c WHERE c.promptsync_staged IS DISTINCT FROM c.promptsync_live'
    '         ORDER BY %s LIMIT 10) AS first',
    pg_temp.promptsync_key_text(live, 'c'), cmp, pg_temp.promptsync_keys(live, 'c.%I'))
    INTO result USING result;
  PERFORM set_config('promptsync.result', result, true);
END
$plan_id$;
SELECT pg_catalog.current_setting('promptsync.result');
