-- After a delta transfer, for a listing (sync --dry-run, the confirmation): what :rel would
-- hold, as the temporary view :view: the staged rows plus the live rows the plan leaves alone
-- (those plan.sql's :cmp does not write or delete). Dropped again once listed. Needs
-- functions.sql.
-- Variables: :'rel', :'stage', :'cmp', :'view'.
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.stage = :'stage';
SET LOCAL promptsync.cmp = :'cmp';
SET LOCAL promptsync.view = :'view';
DO $view$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
BEGIN
  EXECUTE format(
    'CREATE TEMPORARY VIEW %s AS SELECT * FROM %s'
    ' UNION ALL SELECT l.* FROM %s l WHERE NOT EXISTS (SELECT FROM %s c WHERE %s'
    '   AND c.promptsync_staged IS DISTINCT FROM c.promptsync_live)',
    current_setting('promptsync.view'), current_setting('promptsync.stage'), live,
    current_setting('promptsync.cmp'), pg_temp.promptsync_key_match(live, 'l', 'c'));
END
$view$;
