-- After a delta transfer loaded :stage: is every row the apply will write there, exactly as
-- the source listed it? Each staged row is hashed as fingerprint.sql hashes it and compared
-- with the source's hash for its key (in plan.sql's :cmp). Returns: the rows the apply will
-- write that have no such staged row (must be 0), the staged rows that are not the source's
-- row for their key (must be 0), and the staged rows and distinct staged keys (equal).
-- Needs functions.sql. Variables: :'rel', :'stage', :'cmp'.
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.stage = :'stage';
SET LOCAL promptsync.cmp = :'cmp';
DO $fetched$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  stage text := current_setting('promptsync.stage');
  cmp text := current_setting('promptsync.cmp');
  result text;
BEGIN
  EXECUTE format('ANALYZE %s', stage);
  EXECUTE format(
    'WITH s AS (SELECT %1$s, %2$s AS h FROM %3$s t)'
    ' SELECT concat_ws('' '','
    '   (SELECT count(*) FROM %4$s c WHERE c.promptsync_staged IS NOT NULL'
    '       AND c.promptsync_staged IS DISTINCT FROM c.promptsync_live'
    '       AND NOT EXISTS (SELECT FROM s WHERE %5$s AND s.h = c.promptsync_staged)),'
    '   (SELECT count(*) FROM s WHERE NOT EXISTS'
    '      (SELECT FROM %4$s c WHERE %5$s AND s.h = c.promptsync_staged)),'
    '   (SELECT count(*) FROM s),'
    '   (SELECT count(*) FROM (SELECT DISTINCT %1$s FROM s) AS d))',
    pg_temp.promptsync_keys(live, '%I'), pg_temp.promptsync_row_hash(live, 't'), stage,
    cmp, pg_temp.promptsync_key_match(live, 's', 'c'))
    INTO result;
  PERFORM set_config('promptsync.result', result, true);
END
$fetched$;
SELECT pg_catalog.current_setting('promptsync.result');
