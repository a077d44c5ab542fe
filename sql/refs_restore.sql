-- A rollback of promotion :'undoes', after its apply: the rows of other tables that promotion
-- detached or deleted (its promptsync.undo_<promotion>_<…>_refs, detach.sql) get their old
-- values back ('u': the columns, 'd': the whole row re-inserted; 'i': a row that promotion
-- re-inserted is deleted again). What each row holds first goes into this promotion's own
-- undo data for other tables, so the rollback can be rolled back too. Returns how many rows
-- it restored. Needs functions.sql. Variables: :'rel', :'undoes', :'promotion'.
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.undoes = :'undoes';
SET LOCAL promptsync.promotion = :'promotion';
DO $restore$
DECLARE
  old_undo regclass := to_regclass(pg_temp.promptsync_undo_table(
                         current_setting('promptsync.rel'),
                         current_setting('promptsync.undoes')::bigint) || '_refs');
  undo text := pg_temp.promptsync_undo_table(current_setting('promptsync.rel'),
                                             current_setting('promptsync.promotion')::bigint)
               || '_refs';
  u record;
  target regclass;
  same_row text;
  n bigint := 0;
BEGIN
  IF old_undo IS NULL THEN
    PERFORM set_config('promptsync.result', '0', true);
    RETURN;
  END IF;
  EXECUTE format('CREATE TABLE IF NOT EXISTS %s (promptsync_op "char" NOT NULL,'
                 ' table_name text NOT NULL, row_key jsonb NOT NULL, row_data jsonb)', undo);
  FOR u IN EXECUTE format('SELECT * FROM %s ORDER BY promptsync_op DESC', old_undo) LOOP
    target := u.table_name::regclass;
    same_row := pg_temp.promptsync_keys(
                  target, 't.%1$I = (pg_catalog.jsonb_populate_record(NULL::' || target::text
                          || ', $1)).%1$I', ' AND ');
    IF u.promptsync_op = 'u' THEN
      EXECUTE format('INSERT INTO %s SELECT ''u'', %L, $1, jsonb_build_object(%s) FROM %s t'
                     ' WHERE %s', undo, u.table_name,
                     (SELECT string_agg(format('%L, t.%I', c, c), ', ')
                        FROM jsonb_object_keys(u.row_data) AS c), target, same_row)
        USING u.row_key;
      EXECUTE format('UPDATE %1$s t SET (%2$s) = (SELECT %2$s'
                     '  FROM pg_catalog.jsonb_populate_record(NULL::%1$s, $2)) WHERE %3$s',
                     target, (SELECT string_agg(format('%I', c), ', ')
                                FROM jsonb_object_keys(u.row_data) AS c), same_row)
        USING u.row_key, u.row_data;
    ELSIF u.promptsync_op = 'd' THEN
      EXECUTE format('INSERT INTO %1$s (%2$s) OVERRIDING SYSTEM VALUE'
                     ' SELECT %2$s FROM jsonb_populate_record(NULL::%1$s, $1)',
                     target, pg_temp.promptsync_columns(target, '%I', false)) USING u.row_data;
      EXECUTE format('INSERT INTO %s VALUES (''i'', %L, $1, NULL)', undo, u.table_name)
        USING u.row_key;
    ELSE
      EXECUTE format('INSERT INTO %s SELECT ''d'', %L, $1, to_jsonb(t) FROM %s t WHERE %s',
                     undo, u.table_name, target, same_row) USING u.row_key;
      EXECUTE format('DELETE FROM %s t WHERE %s', target, same_row) USING u.row_key;
    END IF;
    n := n + 1;
  END LOOP;
  PERFORM set_config('promptsync.result', n::text, true);
END
$restore$;
SELECT pg_catalog.current_setting('promptsync.result');
