-- The server's version (e.g. 150018), an identity for the database it serves (the server's
-- start time and the database's oid, so that two spellings of one database can be recognised
-- without superuser rights), and this connection's encryption ('' when not encrypted).
SELECT pg_catalog.current_setting('server_version_num'),
       pg_catalog.current_setting('server_version'),
       pg_catalog.pg_postmaster_start_time()::text || '/' ||
       (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()),
       coalesce((SELECT version || ' ' || cipher FROM pg_catalog.pg_stat_ssl
                  WHERE pid = pg_catalog.pg_backend_pid() AND ssl), '');
