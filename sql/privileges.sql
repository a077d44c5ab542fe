-- What the connected role lacks to promote :rel on this database: one row per missing
-- privilege (what, the GRANT an administrator runs). A promotion needs SELECT, INSERT,
-- UPDATE and DELETE on the table, USAGE and UPDATE on its column sequences (setval moves
-- them), TEMPORARY on the database (staging tables), and promptsync's history schema:
-- CREATE on the database to create it on the first promotion, or, once it exists (see
-- grants.sql), the privileges on its tables and CREATE on it (each promotion keeps its undo
-- data in a table of its own), and on the table's ledger when another role made it.
-- Variables: :'rel'.
WITH me AS (SELECT pg_catalog.quote_ident(current_user::text) AS role,
                   pg_catalog.quote_ident(pg_catalog.current_database()::text) AS db),
     history AS (SELECT pg_catalog.to_regnamespace('promptsync') IS NOT NULL AS found,
                        CASE WHEN pg_catalog.to_regnamespace('promptsync') IS NOT NULL
                             THEN pg_catalog.has_schema_privilege('promptsync', 'USAGE')
                        END AS usable),
     seqs AS (SELECT pg_catalog.pg_get_serial_sequence(:'rel', a.attname::text) AS seq
                FROM pg_catalog.pg_attribute a
               WHERE a.attrelid = :'rel'::regclass AND a.attnum > 0 AND NOT a.attisdropped),
     need (what, privilege, object, kind) AS (
       SELECT 'table', p, :'rel', 'TABLE'
         FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) AS p
        WHERE NOT pg_catalog.has_table_privilege(:'rel', p)
       UNION ALL
       SELECT 'sequence', p, seq, 'SEQUENCE'
         FROM seqs, unnest(ARRAY['USAGE', 'UPDATE']) AS p
        WHERE seq IS NOT NULL AND NOT pg_catalog.has_sequence_privilege(seq, p)
       UNION ALL
       SELECT 'database', 'TEMPORARY', db, 'DATABASE' FROM me
        WHERE NOT pg_catalog.has_database_privilege(pg_catalog.current_database(), 'TEMPORARY')
       UNION ALL
       SELECT 'database', 'CREATE', db, 'DATABASE' FROM me
        WHERE pg_catalog.to_regnamespace('promptsync') IS NULL
          AND NOT pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE')
       UNION ALL
       SELECT 'schema', 'USAGE', 'promptsync', 'SCHEMA' FROM history
        WHERE found AND NOT usable
       UNION ALL
       SELECT 'schema', 'CREATE', 'promptsync', 'SCHEMA' FROM history
        WHERE CASE WHEN found THEN NOT pg_catalog.has_schema_privilege('promptsync', 'CREATE')
                   ELSE false END
       UNION ALL
       SELECT 'table', t.p, t.rel, 'TABLE'
         FROM history, (VALUES ('promptsync.promotions', 'SELECT'), ('promptsync.promotions', 'INSERT'),
                      ('promptsync.promotions', 'DELETE'),
                      ('promptsync.promotion_tables', 'SELECT'),
                      ('promptsync.promotion_tables', 'INSERT'),
                      ('promptsync.undo', 'SELECT'), ('promptsync.undo', 'INSERT'),
                      ('promptsync.ledgers', 'SELECT'), ('promptsync.ledgers', 'INSERT'),
                      ('promptsync.ledgers', 'UPDATE'), ('promptsync.ledgers', 'DELETE'),
                      (pg_catalog.format('promptsync.%I',
                                         'ledger_' || pg_catalog.left(pg_catalog.md5(:'rel'), 8)),
                       'SELECT'),
                      (pg_catalog.format('promptsync.%I',
                                         'ledger_' || pg_catalog.left(pg_catalog.md5(:'rel'), 8)),
                       'INSERT'),
                      (pg_catalog.format('promptsync.%I',
                                         'ledger_' || pg_catalog.left(pg_catalog.md5(:'rel'), 8)),
                       'DELETE')) AS t (rel, p)
        WHERE CASE WHEN usable AND pg_catalog.to_regclass(t.rel) IS NOT NULL
                   THEN NOT pg_catalog.has_table_privilege(t.rel, t.p) ELSE false END
       UNION ALL
       SELECT 'sequence', 'USAGE', 'promptsync.promotions_id_seq', 'SEQUENCE' FROM history
        WHERE CASE WHEN usable AND pg_catalog.to_regclass('promptsync.promotions_id_seq') IS NOT NULL
                   THEN NOT pg_catalog.has_sequence_privilege('promptsync.promotions_id_seq', 'USAGE')
                   ELSE false END)
SELECT pg_catalog.format('%s on %s %s', privilege, what, object),
       pg_catalog.format('GRANT %s ON %s %s TO %s;', privilege, kind, object, me.role)
  FROM need, me;
