-- The newest promotion recorded on this target, one line per table it covered (nothing when
-- promptsync has never promoted here).
SELECT p.id, p.kind, p.source, t.table_name, t.rows_before, t.checksum_before, t.rows_after,
       t.checksum_after
  FROM promptsync.promotions p
  JOIN promptsync.promotion_tables t ON t.promotion_id = p.id
 WHERE to_regclass('promptsync.promotions') IS NOT NULL
   AND p.id = (SELECT max(id) FROM promptsync.promotions)
 ORDER BY t.table_name;
