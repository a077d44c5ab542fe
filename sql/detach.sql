-- Before the apply, when told (sync --detach-references, the Django commands following the
-- models): the rows of another table that point at prompts the apply deletes or re-keys
-- through the foreign key :'constraint' are detached (:'action' detach: their referencing
-- columns set to NULL) or deleted (cascade), in this transaction. What they held goes first
-- into the promotion's undo data for other tables, promptsync.undo_<promotion>_<…>_refs (op
-- 'u': the columns' old values; 'd': the whole row), which a rollback puts back
-- (refs_restore.sql). Rows are known by their table's primary key (guards.py refuses a table
-- without one).
-- Needs functions.sql and compare.sql's :cmp. Variables: :'rel', :'stage', :'cmp',
-- :'constraint', :'action', :'promotion'.
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.stage = :'stage';
SET LOCAL promptsync.cmp = :'cmp';
SET LOCAL promptsync.fk_name = :'constraint';
SET LOCAL promptsync.fk_action = :'action';
SET LOCAL promptsync.promotion = :'promotion';
DO $detach$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  fk oid;
  referencing regclass;
  cols text[];
  undo text := pg_temp.promptsync_undo_table(current_setting('promptsync.rel'),
                                             current_setting('promptsync.promotion')::bigint)
               || '_refs';
  row_key text;
  rows text;
BEGIN
  SELECT c.oid, c.conrelid::regclass,
         ARRAY(SELECT a.attname::text FROM unnest(c.conkey) AS k(attnum)
                 JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum)
    INTO fk, referencing, cols
    FROM pg_catalog.pg_constraint c
   WHERE c.confrelid = live AND c.contype = 'f'
     AND c.conname = current_setting('promptsync.fk_name');
  EXECUTE format('CREATE TABLE IF NOT EXISTS %s (promptsync_op "char" NOT NULL,'
                 ' table_name text NOT NULL, row_key jsonb NOT NULL, row_data jsonb)', undo);
  -- a row's key as JSON: its primary key columns
  row_key := format('jsonb_build_object(%s)',
                    pg_temp.promptsync_keys(referencing, '%1$L, r.%1$I'));
  rows := pg_temp.promptsync_referencing(fk, live, current_setting('promptsync.stage'),
                                         current_setting('promptsync.cmp'));
  IF current_setting('promptsync.fk_action') = 'detach' THEN
    EXECUTE format(
      'INSERT INTO %s SELECT DISTINCT ''u'', %L, %s, jsonb_build_object(%s) FROM %s',
      undo, referencing::text, row_key,
      (SELECT string_agg(format('%L, r.%I', c, c), ', ') FROM unnest(cols) AS c), rows);
    EXECUTE format(
      'UPDATE %s t SET (%s) = ROW(%s) FROM (SELECT DISTINCT r.ctid AS row_id FROM %s) AS d'
      ' WHERE t.ctid = d.row_id',
      referencing, (SELECT string_agg(format('%I', c), ', ') FROM unnest(cols) AS c),
      (SELECT string_agg('NULL', ', ') FROM unnest(cols)), rows);
  ELSE
    EXECUTE format('INSERT INTO %s SELECT DISTINCT ''d'', %L, %s, to_jsonb(r) FROM %s',
                   undo, referencing::text, row_key, rows);
    EXECUTE format(
      'DELETE FROM %s t USING (SELECT DISTINCT r.ctid AS row_id FROM %s) AS d'
      ' WHERE t.ctid = d.row_id', referencing, rows);
  END IF;
END
$detach$;
