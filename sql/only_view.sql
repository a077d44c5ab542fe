-- For a listing of a sync --only some keys: the rows of :rel (the live table, or a stage or
-- view shaped like it) whose keys are in plan.sql's :cmp, as the temporary view :view, so
-- the listing compares those keys alone. Needs functions.sql. Variables: :'rel', :'keyrel'
-- (the live table, whose key it is), :'cmp', :'view'.
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.keyrel = :'keyrel';
SET LOCAL promptsync.cmp = :'cmp';
SET LOCAL promptsync.view = :'view';
DO $only$
BEGIN
  EXECUTE format(
    'CREATE TEMPORARY VIEW %s AS SELECT t.* FROM %s t WHERE EXISTS (SELECT FROM %s c WHERE %s)',
    current_setting('promptsync.view'), current_setting('promptsync.rel'),
    current_setting('promptsync.cmp'),
    pg_temp.promptsync_key_match(current_setting('promptsync.keyrel')::regclass, 't', 'c'));
END
$only$;
