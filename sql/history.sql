-- The promotions recorded on this target, newest first, one line per table.
SELECT p.id, to_char(p.at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), p.kind, p.source,
       p.target, p.by_whom, p.tool_version, coalesce(p.git_commit, ''),
       coalesce(p.undoes::text, ''), p.outcome, t.table_name, t.inserted, t.updated, t.deleted,
       t.rows_before, t.checksum_before, t.rows_after, t.checksum_after
  FROM promptsync.promotions p
  JOIN promptsync.promotion_tables t ON t.promotion_id = p.id
 ORDER BY p.id DESC, t.table_name
 LIMIT :'limit';
