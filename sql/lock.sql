-- One promotion of a target at a time: a session-level advisory lock on the target database,
-- held until this session ends (so a crash releases it). Returns t when we got it.
SELECT pg_catalog.pg_try_advisory_lock(7262319);
