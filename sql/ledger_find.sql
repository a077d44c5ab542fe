-- The ledger of :rel on this database (ledger_write.sql), when it can say what promptsync left
-- there: it is registered in promptsync.ledgers for this very table (one dropped and created
-- again has another oid), its table is there and readable, and the table's primary key and
-- columns are the ones it was written for (a migration that adds or changes a column changes
-- every row's text, and with it its hash: no row could be told apart). A role that may not
-- read the register has none (the sync's privilege check names the GRANT).
--
-- Where there is one, whether its row hashes may stand in for hashing the rows again (the
-- cache: a row whose version, xmin, is the one the ledger recorded is the row it hashed): only
-- while that is provably so, on the server it was written on (same system identifier, where
-- this role may read it) and major version, its register row written by the promotion's own
-- transaction and none of its rows written after it (nothing edited either by hand since),
-- and no recorded row version so old that the transaction counter could have come round to
-- it again.
--
-- Sets psql variables: lf_ledger (the ledger table, '' when none), lf_promotion (the one that
-- last wrote it, '' when none), lf_why (why there is none, '' when there is one), lf_rows and
-- lf_checksum (the table's fingerprint it recorded), lf_cache (t or f) and lf_cache_why (why
-- not, '' when it may). Prints nothing: it runs inside the
-- source's COPY too. Runs after signatures.sql, without functions.sql, in any transaction (a
-- read-only one too). Variables: :'rel', and signatures.sql's.
SELECT CASE WHEN pg_catalog.to_regnamespace('promptsync') IS NULL THEN false
            WHEN NOT pg_catalog.has_schema_privilege('promptsync', 'USAGE') THEN false
            WHEN pg_catalog.to_regclass('promptsync.ledgers') IS NULL THEN false
            ELSE pg_catalog.has_table_privilege('promptsync.ledgers', 'SELECT') END
       AS registered \gset lf_
\if :lf_registered
SELECT CASE WHEN r.ledger_table IS NULL OR pg_catalog.to_regclass(r.ledger_table) IS NULL
              OR NOT pg_catalog.has_table_privilege(r.ledger_table, 'SELECT')
              OR r.table_oid <> :'rel'::regclass::oid OR r.key_columns <> :'sig_keys'
              OR r.columns <> :'sig_columns' THEN ''
            ELSE r.ledger_table END AS ledger,
       coalesce(r.promotion::text, '') AS promotion,
       CASE WHEN r.ledger_table IS NULL THEN 'none yet'
            WHEN pg_catalog.to_regclass(r.ledger_table) IS NULL
            THEN 'its table ' || r.ledger_table || ' is gone'
            WHEN NOT pg_catalog.has_table_privilege(r.ledger_table, 'SELECT')
            THEN 'role ' || current_user || ' may not read ' || r.ledger_table
            WHEN r.table_oid <> :'rel'::regclass::oid
            THEN 'the table was created again since promotion ' || r.promotion
            WHEN r.key_columns <> :'sig_keys'
            THEN 'it was written for the primary key ' || r.key_columns
            WHEN r.columns <> :'sig_columns'
            THEN 'the table''s columns changed since promotion ' || r.promotion
                 || ', so every row''s hash did'
            ELSE '' END AS why,
       coalesce(r.rows, -1) AS rows, coalesce(r.checksum, '') AS checksum,
       coalesce(r.system_identifier, '') AS server,
       coalesce(r.server_version, 0) AS server_version,
       coalesce(r.xmin::text = (r.written_xid::bigint % 4294967296)::text, false) AS own,
       coalesce(r.xmin::text, '0') AS written
  FROM (SELECT 1) AS one
  LEFT JOIN promptsync.ledgers r ON r.table_name = :'rel'
\gset lf_
\else
SELECT '' AS ledger, '' AS promotion, 'none yet' AS why \gset lf_
\endif
SELECT :'lf_ledger' <> '' AS found \gset lf_
\if :lf_found
DO $server$
BEGIN  -- this server's identifier, where this role may read it
  PERFORM pg_catalog.set_config('promptsync.server',
                                (SELECT system_identifier::text FROM pg_catalog.pg_control_system()),
                                true);
EXCEPTION WHEN OTHERS THEN
  PERFORM pg_catalog.set_config('promptsync.server', '', true);
END
$server$;
SELECT coalesce(pg_catalog.max(pg_catalog.age(g.promptsync_xmin)), 0) AS oldest,
       coalesce(pg_catalog.min(pg_catalog.age(g.xmin)), 2147483647) AS youngest
  FROM :lf_ledger AS g \gset lf_
SELECT CASE WHEN :'lf_server' <> '' AND pg_catalog.current_setting('promptsync.server') <> ''
             AND :'lf_server' <> pg_catalog.current_setting('promptsync.server')
            THEN 'it was written on another server (system identifier ' || :'lf_server' || ')'
            WHEN :lf_server_version / 10000
                 <> pg_catalog.current_setting('server_version_num')::integer / 10000
            THEN 'it was written on PostgreSQL ' || :lf_server_version / 10000
            WHEN NOT :'lf_own'::boolean
            THEN 'its register row was not written by the promotion''s own transaction'
            WHEN :lf_youngest < pg_catalog.age(:'lf_written'::xid)
            THEN 'its rows were edited since promotion ' || :'lf_promotion'
            WHEN :lf_oldest >= 1000000000
            THEN 'its oldest row versions are a billion transactions old'
            ELSE '' END AS cache_why \gset lf_
\else
SELECT :'lf_why' AS cache_why \gset lf_
\endif
SELECT :'lf_cache_why' = '' AS cache \gset lf_
