-- Move every sequence owned by a column of :rel (serial or identity) past the column's
-- largest value, so the application's next INSERT gets a free id. Never moves a sequence
-- backwards. ALTER SEQUENCE ... RESTART, unlike setval(), is transactional: a sync that
-- rolls back leaves the sequence as it was. Run inside a transaction. Variables: :'rel'.
SET LOCAL promptsync.rel = :'rel';
DO $seq$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  col record;
  top bigint;
  last bigint;
  called boolean;
BEGIN
  FOR col IN
    SELECT a.attname, pg_get_serial_sequence(live::text, a.attname) AS seq
      FROM pg_attribute a
     WHERE a.attrelid = live AND a.attnum > 0 AND NOT a.attisdropped
  LOOP
    CONTINUE WHEN col.seq IS NULL;
    EXECUTE format('SELECT max(%I)::bigint FROM %s', col.attname, live) INTO top;
    EXECUTE format('SELECT last_value, is_called FROM %s', col.seq) INTO last, called;
    IF top IS NOT NULL AND (top > last OR (top = last AND NOT called)) THEN
      EXECUTE format('ALTER SEQUENCE %s RESTART WITH %s', col.seq, top + 1);
    END IF;
  END LOOP;
END
$seq$;
