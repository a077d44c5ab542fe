-- The ledger of :rel on this target (ledger_write.sql), when it can say what promptsync left
-- there: it is registered in promptsync.ledgers for this very table (one dropped and created
-- again has another oid), its table is there, and the table's primary key and columns are the
-- ones it was written for (a migration that adds or changes a column changes every row's text,
-- and with it its hash: no row could be told apart). Returns one line: the ledger table (''
-- when there is none to trust), the promotion that last wrote it ('' when none), and why there
-- is none ('' when there is one). A role that may not read the register has none (the sync's
-- privilege check names the GRANT). Needs functions.sql. Variables: :'rel'.
SELECT CASE WHEN pg_catalog.to_regnamespace('promptsync') IS NULL THEN false
            WHEN NOT pg_catalog.has_schema_privilege('promptsync', 'USAGE') THEN false
            WHEN pg_catalog.to_regclass('promptsync.ledgers') IS NULL THEN false
            ELSE pg_catalog.has_table_privilege('promptsync.ledgers', 'SELECT') END
       AS registered \gset lf_
\if :lf_registered
SELECT pg_temp.promptsync_signature(:'rel'::regclass, true) AS keys,
       pg_temp.promptsync_signature(:'rel'::regclass, false) AS columns \gset lf_
SELECT CASE WHEN r.ledger_table IS NULL OR pg_catalog.to_regclass(r.ledger_table) IS NULL
              OR NOT pg_catalog.has_table_privilege(r.ledger_table, 'SELECT')
              OR r.table_oid <> :'rel'::regclass::oid OR r.key_columns <> :'lf_keys'
              OR r.columns <> :'lf_columns' THEN ''
            ELSE r.ledger_table END,
       coalesce(r.promotion::text, ''),
       CASE WHEN r.ledger_table IS NULL THEN 'none yet'
            WHEN pg_catalog.to_regclass(r.ledger_table) IS NULL
            THEN 'its table ' || r.ledger_table || ' is gone'
            WHEN NOT pg_catalog.has_table_privilege(r.ledger_table, 'SELECT')
            THEN 'role ' || current_user || ' may not read ' || r.ledger_table
            WHEN r.table_oid <> :'rel'::regclass::oid
            THEN 'the table was created again since promotion ' || r.promotion
            WHEN r.key_columns <> :'lf_keys'
            THEN 'it was written for the primary key ' || r.key_columns
            WHEN r.columns <> :'lf_columns'
            THEN 'the table''s columns changed since promotion ' || r.promotion
                 || ', so every row''s hash did'
            ELSE '' END
  FROM (SELECT 1) AS one
  LEFT JOIN promptsync.ledgers r ON r.table_name = :'rel';
\else
SELECT '', '', 'none yet';
\endif
