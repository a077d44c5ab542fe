-- One table of a promotion: its state before and after, and what changed. Keeps only the
-- newest :keep promotions: their undo data goes with them, the undo tables of the others are
-- dropped (those of another role, which this one may not drop, are left).
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
SELECT pg_catalog.format('DROP TABLE promptsync.%I', c.relname)
  FROM pg_catalog.pg_class c
 WHERE c.relnamespace = 'promptsync'::regnamespace AND c.relkind = 'r'
   AND c.relname ~ '^undo_[0-9]+_[0-9a-f]{8}(_ledger|_refs)?$'
   AND pg_catalog.substring(c.relname, '^undo_([0-9]+)_')::bigint
       NOT IN (SELECT id FROM promptsync.promotions)
   AND pg_catalog.pg_has_role(c.relowner, 'MEMBER')
\gexec
