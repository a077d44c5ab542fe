-- The register of ledgers (promptsync's record of what it left on a target, per synced table;
-- ledger_write.sql): which table holds a table's ledger, for which primary key and columns,
-- on which server, and the promotion that last wrote it. Created with the history tables,
-- or on the first promotion of a target whose history predates ledgers.
CREATE TABLE IF NOT EXISTS promptsync.ledgers (
    table_name        text PRIMARY KEY,  -- the synced table, quoted and qualified
    table_oid         oid NOT NULL,      -- which table of that name (one re-created has another)
    ledger_table      text NOT NULL,     -- promptsync.ledger_<8 hex digits of md5(table_name)>
    key_columns       text NOT NULL,     -- "name type" of each primary key column, in order
    columns           text NOT NULL,     -- "name type" of each stored column, by name
    promotion         bigint NOT NULL,   -- the promotion that last wrote it
    rows              bigint NOT NULL,   -- the table's row count and checksum it left
    checksum          text NOT NULL,     --   (fingerprint.py's), which its entries add up to
    system_identifier text NOT NULL,     -- the server (pg_control_system) it was written on
    server_version    integer NOT NULL,  -- server_version_num then
    written_xid       text NOT NULL      -- that promotion's transaction (pg_current_xact_id)
);
