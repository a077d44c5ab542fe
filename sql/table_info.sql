-- Look a configured table up by its exact schema and name (never by parsing what a user
-- typed as SQL) and return the quoted name every later statement uses, its primary key, its
-- kind (r table, p partitioned table, v view, ...), and, when row level security would filter
-- what this role reads or writes, its policies (name: expression). Variables: :'schema',
-- :'name'.
SELECT pg_catalog.format('%I.%I', n.nspname, c.relname),
       coalesce((SELECT pg_catalog.string_agg(pg_catalog.format('%I', a.attname), ', '
                                              ORDER BY pg_catalog.array_position(i.indkey, a.attnum))
                   FROM pg_catalog.pg_index i
                   JOIN pg_catalog.pg_attribute a
                     ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                  WHERE i.indrelid = c.oid AND i.indisprimary), ''),
       c.relkind::text,
       CASE WHEN c.relkind IN ('r', 'p') AND pg_catalog.row_security_active(c.oid) THEN
         coalesce((SELECT pg_catalog.string_agg(pg_catalog.format('%I', p.polname), ', '
                                                ORDER BY p.polname)
                     FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid), '(no policy)')
       ELSE '' END
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = :'schema' AND c.relname = :'name';
