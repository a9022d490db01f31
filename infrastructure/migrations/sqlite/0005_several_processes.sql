-- Deadline claims (docs/decisions/0038-several-processes.md): the same columns as on PostgreSQL.
-- SQLite has one writer at a time, so claiming needs no row locks; processes on one file are
-- serialised by SQLite's own lock.
ALTER TABLE deadlines ADD COLUMN claimed_by TEXT;
ALTER TABLE deadlines ADD COLUMN claimed_until TEXT;
