-- The leaf partitions of :rel (none for a plain table): schema, name, and the quoted name
-- pg_dump writes. pg_dump --table of a partitioned table dumps no rows (before pg_dump 16's
-- --table-and-children), so its partitions are dumped by name, on every version.
SELECT n.nspname, c.relname, pg_catalog.format('%I.%I', n.nspname, c.relname)
  FROM pg_catalog.pg_partition_tree(:'rel'::regclass) t
  JOIN pg_catalog.pg_class c ON c.oid = t.relid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE t.isleaf AND t.relid <> :'rel'::regclass
 ORDER BY 1, 2;
