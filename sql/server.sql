-- The server's version (e.g. 150018), an identity for the database it serves (the server's
-- start time and the database's oid, so that two spellings of one database can be recognised
-- without superuser rights), this connection's encryption ('' when not encrypted), and what
-- tells a connection pooler and a read-only server apart: the backend's pid, the address and
-- port the backend itself was reached on ('' over a unix socket), whether this transaction is
-- read-only (default_transaction_read_only) and whether the server is a standby, and the
-- database's encoding.
SELECT pg_catalog.current_setting('server_version_num'),
       pg_catalog.current_setting('server_version'),
       pg_catalog.pg_postmaster_start_time()::text || '/' ||
       (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()),
       coalesce((SELECT version || ' ' || cipher FROM pg_catalog.pg_stat_ssl
                  WHERE pid = pg_catalog.pg_backend_pid() AND ssl), ''),
       pg_catalog.pg_backend_pid(),
       coalesce(pg_catalog.host(pg_catalog.inet_server_addr()), ''),
       coalesce(pg_catalog.inet_server_port()::text, ''),
       pg_catalog.current_setting('transaction_read_only'),
       pg_catalog.pg_is_in_recovery(),
       pg_catalog.pg_encoding_to_char(
         (SELECT encoding FROM pg_catalog.pg_database
           WHERE datname = pg_catalog.current_database()));
