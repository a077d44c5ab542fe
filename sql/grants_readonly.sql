-- Run once per database by its owner or an administrator, for a role that only reads: the
-- pull-request review (.github/workflows/prompt-review.yml) runs `promptsync diff` with it.
--   psql -v role=prompt_reviewer -d DATABASE -f sql/grants_readonly.sql
-- It lets :role read public.prompts and promptsync's ledgers (so a review marks the prompts
-- edited there by hand), and makes every transaction of that role read-only. The role must
-- exist (CREATE ROLE prompt_reviewer LOGIN PASSWORD '...').
\set ON_ERROR_STOP 1
SELECT pg_catalog.format('GRANT CONNECT ON DATABASE %I TO %I;', pg_catalog.current_database(),
                         :'role')
\gexec
GRANT USAGE ON SCHEMA public TO :"role";
GRANT SELECT ON public.prompts TO :"role";
SELECT pg_catalog.format('GRANT USAGE ON SCHEMA promptsync TO %I;', :'role')
 WHERE pg_catalog.to_regnamespace('promptsync') IS NOT NULL
\gexec
SELECT pg_catalog.format('GRANT SELECT ON promptsync.%I TO %I;', c.relname, :'role')
  FROM pg_catalog.pg_class c
 WHERE c.relnamespace = pg_catalog.to_regnamespace('promptsync') AND c.relkind = 'r'
   AND (c.relname = 'ledgers' OR c.relname ~ '^ledger_[0-9a-f]{8}$')
\gexec
ALTER ROLE :"role" SET default_transaction_read_only = on;
