-- Open a read-only snapshot on the source and export it: pg_dump --snapshot reads exactly the
-- rows this session sees, so the checksum computed here describes the dump.
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT pg_catalog.pg_export_snapshot();
