-- Several server processes on one database (docs/decisions/0038-several-processes.md).

-- Deadline claims: a scheduler claims the due deadlines it is about to fire for a lease, so that
-- another process's scheduler skips them (FOR UPDATE SKIP LOCKED) instead of firing them too. A
-- process that dies holding claims loses them when claimed_until passes; firing or failing clears
-- the claim.
ALTER TABLE deadlines
    ADD COLUMN claimed_by    TEXT,
    ADD COLUMN claimed_until TIMESTAMPTZ;

-- Wake readers in every process: each commit moves the log head, and the notification is delivered
-- to listeners when (and only if) the transaction commits, in commit order. The payload is the new
-- head position. A trigger rather than a statement in the append path, so that the append path can
-- change without forgetting it.
CREATE FUNCTION tessera_notify_appends() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tessera_appends', NEW.position::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER event_log_head_notify AFTER UPDATE ON event_log_head
    FOR EACH ROW WHEN (NEW.position IS DISTINCT FROM OLD.position)
    EXECUTE FUNCTION tessera_notify_appends();
