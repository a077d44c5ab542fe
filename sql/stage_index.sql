-- After the load: the staged rows get the live table's primary key (a duplicate key fails
-- here, before anything is applied) and statistics for the diff.
ALTER TABLE :stage ADD PRIMARY KEY (:pk);
ANALYZE :stage;
