-- Move every sequence owned by a column of :rel (serial or identity, whatever its name) past
-- the column's largest value, so the application's next INSERT gets a free id. Never moves a
-- sequence backwards. setval() needs only UPDATE on the sequence (ALTER SEQUENCE needs its
-- owner); it is not undone by a rollback, which is harmless: a sequence ahead of the ids
-- only skips numbers. Variables: :'rel'.
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
      PERFORM setval(col.seq, top, true);
    END IF;
  END LOOP;
END
$seq$;
