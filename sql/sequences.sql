-- Move every sequence owned by a column of :rel (serial or identity, whatever its name) past
-- the column's largest value, so the application's next INSERT gets a free id. Never moves a
-- sequence backwards. A role that owns the sequence moves it with ALTER SEQUENCE ... RESTART,
-- which a rollback undoes; any other role with UPDATE on it uses setval(), which a rollback
-- does not undo: harmless, a sequence ahead of the ids only skips numbers. Run inside the
-- apply's transaction. Variables: :'rel'.
SET LOCAL promptsync.rel = :'rel';
DO $seq$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  col record;
  top bigint;
  last bigint;
BEGIN
  FOR col IN
    SELECT a.attname, pg_get_serial_sequence(live::text, a.attname)::regclass AS seq
      FROM pg_attribute a
     WHERE a.attrelid = live AND a.attnum > 0 AND NOT a.attisdropped
       AND pg_get_serial_sequence(live::text, a.attname) IS NOT NULL
  LOOP
    EXECUTE format('SELECT max(%I)::bigint FROM %s', col.attname, live) INTO top;
    last := pg_sequence_last_value(col.seq);  -- NULL until the first nextval
    IF top > coalesce(last, (SELECT seqstart - 1 FROM pg_sequence WHERE seqrelid = col.seq))
    THEN
      IF pg_has_role((SELECT relowner FROM pg_class WHERE oid = col.seq), 'USAGE') THEN
        EXECUTE format('ALTER SEQUENCE %s RESTART WITH %s', col.seq, top + 1);
      ELSE
        PERFORM setval(col.seq, top, true);
      END IF;
    END IF;
  END LOOP;
END
$seq$;
