-- The user triggers on :rel (not the internal ones that enforce foreign keys): name, when and
-- on what they fire, and the function they call. They fire during the apply.
SELECT pg_catalog.format('%I', t.tgname),
       concat_ws(' ',
                 CASE WHEN t.tgtype & 2 <> 0 THEN 'BEFORE'
                      WHEN t.tgtype & 64 <> 0 THEN 'INSTEAD OF' ELSE 'AFTER' END,
                 concat_ws(' OR ',
                           CASE WHEN t.tgtype & 4 <> 0 THEN 'INSERT' END,
                           CASE WHEN t.tgtype & 16 <> 0 THEN 'UPDATE' END,
                           CASE WHEN t.tgtype & 8 <> 0 THEN 'DELETE' END,
                           CASE WHEN t.tgtype & 32 <> 0 THEN 'TRUNCATE' END),
                 CASE WHEN t.tgtype & 1 <> 0 THEN 'FOR EACH ROW' ELSE 'FOR EACH STATEMENT' END),
       t.tgfoid::regprocedure::text,
       CASE WHEN t.tgenabled = 'D' THEN 'disabled' ELSE 'enabled' END
  FROM pg_catalog.pg_trigger t
 WHERE t.tgrelid = :'rel'::regclass AND NOT t.tgisinternal
 ORDER BY t.tgname;
