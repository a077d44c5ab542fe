-- Guard: rows of OTHER tables that point (by foreign key) at rows the apply would delete, or
-- whose referenced values it would change. A sync changes rows of other tables only when told
-- (--detach-references, the Django commands following the models; detach.sql), whatever the
-- foreign key's ON DELETE / ON UPDATE says. Tables synced together (:'synced', a JSON array
-- of quoted names) are not "other" tables. Needs functions.sql and compare.sql's :cmp.
-- Returns a JSON array with one object per foreign key that has such rows: its "constraint",
-- referencing "table" and "columns", whether those are all "nullable" (so they can be set to
-- NULL), its "on_delete" (a no action, r restrict, c cascade, n set null, d set default), the
-- number of "rows", the "keys" of the first 5 of them, the first 5 "prompts" they point at
-- (key and identifying columns, as diff_details.sql names them), and whether the referencing
-- table "has_key" (a primary key, by which a rollback finds the rows again).
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.stage = :'stage';
SET LOCAL promptsync.cmp = :'cmp';
SET LOCAL promptsync.synced = :'synced';
DO $refs$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  synced jsonb := current_setting('promptsync.synced')::jsonb;
  fk record;
  referencing_key text;
  ident text;
  n bigint;
  keys jsonb;
  prompts jsonb;
  found jsonb := '[]';
BEGIN
  SELECT coalesce(string_agg(format('%L || ''='' || coalesce(l.%I::text, ''NULL'')',
                                    attname, attname),
                             ' || '' '' || ' ORDER BY attnum), '''''')
    INTO ident
    FROM pg_catalog.pg_attribute
   WHERE attrelid = live AND attnum > 0 AND NOT attisdropped
     AND attname IN ('name', 'coach_state', 'prompt_type', 'version');
  FOR fk IN
    SELECT c.oid, c.conname, c.conrelid::regclass AS referencing, c.confdeltype::text AS action,
           (SELECT jsonb_agg(a.attname ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY
              AS k(attnum, ord) JOIN pg_catalog.pg_attribute a
                ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS columns,
           (SELECT bool_and(NOT a.attnotnull) FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)) AS nullable
      FROM pg_catalog.pg_constraint c
     WHERE c.confrelid = live AND c.contype = 'f'
  LOOP
    CONTINUE WHEN synced ? fk.referencing::text;
    referencing_key := coalesce(pg_temp.promptsync_key_text(fk.referencing, 'r'), 'r.ctid::text');
    EXECUTE format(
      'SELECT count(*), (SELECT jsonb_agg(k) FROM (SELECT DISTINCT %1$s AS k FROM %2$s'
      '                                             ORDER BY 1 LIMIT 5) AS first),'
      '       (SELECT jsonb_agg(p) FROM (SELECT DISTINCT %3$s || '' '' || %4$s AS p FROM %2$s'
      '                                   ORDER BY 1 LIMIT 5) AS first)'
      '  FROM %2$s',
      referencing_key, pg_temp.promptsync_referencing(fk.oid, live,
                                                      current_setting('promptsync.stage'),
                                                      current_setting('promptsync.cmp')),
      pg_temp.promptsync_key_text(live, 'l'), ident)
      INTO n, keys, prompts;
    IF n > 0 THEN
      found := found || jsonb_build_object(
        'constraint', fk.conname, 'table', fk.referencing::text, 'columns', fk.columns,
        'nullable', fk.nullable, 'on_delete', fk.action, 'rows', n, 'keys', keys,
        'prompts', prompts,
        'has_key', pg_temp.promptsync_keys(fk.referencing, '%I') IS NOT NULL);
    END IF;
  END LOOP;
  PERFORM set_config('promptsync.result', found::text, true);
END
$refs$;
SELECT pg_catalog.current_setting('promptsync.result');
