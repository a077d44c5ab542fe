-- promptsync's own records on a target: every promotion (sync or rollback) and what it takes
-- to undo it. Created on the first apply, inside its transaction. Undo data holds only the
-- rows a promotion changed: the old values of updated and deleted rows, the keys of inserted
-- ones, so it costs in proportion to the change, not to the table. Each promotion keeps it
-- in tables of its own, promptsync.undo_<promotion>_<…>, one per table it changed, with that
-- table's column types (apply.sql); promptsync.undo holds, as text, the undo data of
-- promotions recorded by earlier versions, which can still be rolled back.
CREATE SCHEMA IF NOT EXISTS promptsync;

CREATE TABLE IF NOT EXISTS promptsync.promotions (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    kind         text NOT NULL CHECK (kind IN ('sync', 'rollback')),
    source       text NOT NULL,           -- environment name, or the promotion rolled back
    target       text NOT NULL,
    by_whom      text NOT NULL,
    tool_version text NOT NULL,
    git_commit   text,
    undoes       bigint,                  -- for a rollback: the promotion it undid
    outcome      text NOT NULL DEFAULT 'committed'
);

CREATE TABLE IF NOT EXISTS promptsync.promotion_tables (
    promotion_id    bigint NOT NULL REFERENCES promptsync.promotions (id) ON DELETE CASCADE,
    table_name      text NOT NULL,
    columns         text[] NOT NULL,      -- the order of undo.old_values
    rows_before     bigint NOT NULL,
    checksum_before text NOT NULL,
    rows_after      bigint,
    checksum_after  text,
    inserted        bigint,
    updated         bigint,
    deleted         bigint,
    PRIMARY KEY (promotion_id, table_name)
);

CREATE TABLE IF NOT EXISTS promptsync.undo (
    promotion_id bigint NOT NULL REFERENCES promptsync.promotions (id) ON DELETE CASCADE,
    table_name   text NOT NULL,
    op           "char" NOT NULL CHECK (op IN ('i', 'u', 'd')),  -- what the promotion did
    key          text[] NOT NULL,         -- primary key values as text; '{}' with op 'i':
                                          -- the table was empty, every row was inserted
    old_values   text[]                   -- the row before an update or delete, as text
);
CREATE INDEX IF NOT EXISTS undo_promotion ON promptsync.undo (promotion_id, table_name, key);
