-- Record a promotion (sync or rollback) on the target, in the transaction that applies it.
-- Needs history_schema.sql. Returns its id.
INSERT INTO promptsync.promotions (kind, source, target, by_whom, tool_version, git_commit, undoes)
VALUES (:'kind', :'source', :'target', :'by_whom', :'tool_version', nullif(:'git_commit', ''),
        nullif(:'undoes', '')::bigint)
RETURNING id;
