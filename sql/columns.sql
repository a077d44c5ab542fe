-- The columns of :rel as the schema drift check compares them: name, type, NOT NULL, default,
-- identity, generated. Sorted by name: the physical order may differ between environments.
SELECT a.attname,
       pg_catalog.format_type(a.atttypid, a.atttypmod),
       CASE WHEN a.attnotnull THEN 'not null' ELSE 'null' END,
       coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid), ''),
       a.attidentity::text || a.attgenerated::text
  FROM pg_catalog.pg_attribute a
  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = :'rel'::regclass AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attname COLLATE "C";
