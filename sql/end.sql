-- Before COMMIT: drop the helper functions functions.sql created for this transaction, so
-- nothing of promptsync's outlives it on the server connection (temporary tables go by
-- themselves: ON COMMIT DROP).
DO $end$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
            WHERE p.pronamespace = pg_catalog.pg_my_temp_schema()
              AND p.proname LIKE 'promptsync\_%' LOOP
    EXECUTE format('DROP FUNCTION %s', f);
  END LOOP;
END
$end$;
