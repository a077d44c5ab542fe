-- Guard: rows of OTHER tables that point (by foreign key) at rows the apply would delete, or
-- whose referenced values it would change. A sync never deletes or changes rows in other
-- tables, whatever the foreign key's ON DELETE / ON UPDATE says, so any such row stops it.
-- Tables synced together (:'synced', a JSON array of quoted names) are not "other" tables.
-- Needs functions.sql and compare.sql's :cmp. Returns a JSON array of [table, rows] pairs.
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.stage = :'stage';
SET LOCAL promptsync.cmp = :'cmp';
SET LOCAL promptsync.synced = :'synced';
DO $refs$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  stage regclass := current_setting('promptsync.stage')::regclass;
  cmp text := current_setting('promptsync.cmp');
  synced jsonb := current_setting('promptsync.synced')::jsonb;
  fk record;
  on_cols text;
  moved text;
  n bigint;
  found jsonb := '[]';
BEGIN
  FOR fk IN
    SELECT c.conrelid::regclass AS referencing, c.conkey, c.confkey
      FROM pg_constraint c
     WHERE c.confrelid = live AND c.contype = 'f'
  LOOP
    CONTINUE WHEN synced ? fk.referencing::text;
    SELECT string_agg(format('r.%I = l.%I', ra.attname, la.attname), ' AND '),
           string_agg(format('l.%1$I IS DISTINCT FROM s.%1$I', la.attname), ' OR ')
      INTO on_cols, moved
      FROM unnest(fk.conkey, fk.confkey) AS k(r, l)
      JOIN pg_attribute ra ON ra.attrelid = fk.referencing AND ra.attnum = k.r
      JOIN pg_attribute la ON la.attrelid = live AND la.attnum = k.l;
    EXECUTE format(
      'SELECT count(*) FROM %s r JOIN %s l ON %s JOIN %s c ON %s LEFT JOIN %s s ON %s'
      ' WHERE c.promptsync_staged IS NULL'
      '    OR (c.promptsync_staged <> c.promptsync_live AND (%s))',
      fk.referencing, live, on_cols, cmp, pg_temp.promptsync_key_match(live, 'l', 'c'),
      stage, pg_temp.promptsync_key_match(live, 's', 'c'), moved)
      INTO n;
    IF n > 0 THEN
      found := found || jsonb_build_array(jsonb_build_array(fk.referencing::text, n));
    END IF;
  END LOOP;
  PERFORM set_config('promptsync.result', found::text, true);
END
$refs$;
SELECT pg_catalog.current_setting('promptsync.result');
