-- Keep writers of the promoted tables out from the comparison to COMMIT, so the plan cannot go
-- stale under an admin's edit: SHARE ROW EXCLUSIVE conflicts with the ROW EXCLUSIVE lock of
-- INSERT, UPDATE and DELETE, never with the ACCESS SHARE lock of a reader, so readers are
-- never blocked and writers wait only for the short compare-and-apply. Waiting for a writer
-- that is already busy ends after :'timeout' (a retryable error). Variables: :rels (quoted,
-- qualified names, comma separated), :'timeout'.
SET LOCAL lock_timeout = :'timeout';
LOCK TABLE :rels IN SHARE ROW EXCLUSIVE MODE;
