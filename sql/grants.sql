-- Run once per target database by its owner or an administrator, so that an application
-- role that cannot create schemas can run promptsync:
--   psql -v role=dev_coach_app -d DATABASE -f sql/grants.sql
-- It creates promptsync's history schema (owned by whoever runs this) and grants :role
-- exactly what a promotion of public.prompts needs. A role that owns the prompts table and
-- may CREATE in the database needs none of this: its first promotion creates the schema.
\set ON_ERROR_STOP 1
\ir history_schema.sql
\ir ledger_schema.sql
GRANT USAGE, CREATE ON SCHEMA promptsync TO :"role";  -- CREATE: undo tables
GRANT SELECT, INSERT, DELETE ON promptsync.promotions TO :"role";
GRANT SELECT, INSERT ON promptsync.promotion_tables, promptsync.undo TO :"role";
GRANT SELECT, INSERT, UPDATE, DELETE ON promptsync.ledgers TO :"role";
-- the ledgers of promptsync's earlier promotions, whoever made them
SELECT pg_catalog.format('GRANT SELECT, INSERT, DELETE ON promptsync.%I TO %I;', c.relname,
                         :'role')
  FROM pg_catalog.pg_class c
 WHERE c.relnamespace = 'promptsync'::regnamespace AND c.relkind = 'r'
   AND c.relname ~ '^ledger_[0-9a-f]{8}$'
\gexec
GRANT USAGE ON SEQUENCE promptsync.promotions_id_seq TO :"role";
GRANT SELECT, INSERT, UPDATE, DELETE ON public.prompts TO :"role";
-- the id sequence, whatever it is called (prompts_id_seq1 after a rebuild)
SELECT pg_catalog.format('GRANT USAGE, UPDATE ON SEQUENCE %s TO %I;',
                         pg_catalog.pg_get_serial_sequence('public.prompts', a.attname), :'role')
  FROM pg_catalog.pg_attribute a
 WHERE a.attrelid = 'public.prompts'::regclass AND a.attnum > 0 AND NOT a.attisdropped
   AND pg_catalog.pg_get_serial_sequence('public.prompts', a.attname) IS NOT NULL
\gexec
