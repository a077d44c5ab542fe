-- A temporary staging table with :rel's columns (same names, types and order) and none of
-- its constraints, gone at COMMIT or ROLLBACK: rows that break a NOT NULL still load, so a
-- guard can name the column before anything changes. Loading it takes no lock that readers
-- or writers of the live table notice.
CREATE TEMPORARY TABLE :stage ON COMMIT DROP AS SELECT * FROM :rel WITH NO DATA;
