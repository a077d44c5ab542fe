-- Export the snapshot of this session's transaction (opened REPEATABLE READ READ ONLY by
-- sources.py): pg_dump --snapshot and the delta readers read exactly the rows this session
-- sees, so the row hash list computed in it describes what travels.
SELECT pg_catalog.pg_export_snapshot();
