-- One table of a promotion: its state before and after, and what changed. Keeps only the
-- newest :keep promotions (their undo data goes with them).
INSERT INTO promptsync.promotion_tables
       (promotion_id, table_name, columns, rows_before, checksum_before, rows_after,
        checksum_after, inserted, updated, deleted)
SELECT :'promotion', :'rel',
       ARRAY(SELECT attname::text FROM pg_catalog.pg_attribute
              WHERE attrelid = :'rel'::regclass AND attnum > 0 AND NOT attisdropped
                AND attgenerated = '' ORDER BY attnum),
       :'rows_before', :'checksum_before', :'rows_after', :'checksum_after',
       :'inserted', :'updated', :'deleted';
DELETE FROM promptsync.promotions
 WHERE id NOT IN (SELECT id FROM promptsync.promotions ORDER BY id DESC LIMIT :'keep');
