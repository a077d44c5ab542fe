-- One promotion of a target at a time: a transaction-level advisory lock on the target
-- database, held until this transaction ends (COMMIT, ROLLBACK, or a crash), so nothing is
-- left locked on a server connection a pooler hands on. Returns t when we got it.
SELECT pg_catalog.pg_try_advisory_xact_lock(7262319);
