-- Whether promptsync has recorded promotions on this database.
SELECT pg_catalog.to_regclass('promptsync.promotion_tables') IS NOT NULL;
