-- A temporary staging table shaped like :rel, gone at COMMIT or ROLLBACK. Loading it takes no
-- lock that readers or writers of the live table notice.
CREATE TEMPORARY TABLE :stage (LIKE :rel) ON COMMIT DROP;
