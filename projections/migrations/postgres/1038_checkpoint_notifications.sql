-- Several server processes on one database (docs/decisions/0038-several-processes.md): processes
-- that do not run the projections follow the leader's progress for read-your-writes. Every stored
-- checkpoint change (projectors' and process managers' `process:{name}` rows) notifies listeners
-- when its transaction commits; the payload is '<projection> <position>'.
CREATE FUNCTION tessera_notify_checkpoints() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tessera_checkpoints', NEW.projection || ' ' || NEW.position::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER projection_checkpoints_notify AFTER INSERT OR UPDATE ON projection_checkpoints
    FOR EACH ROW EXECUTE FUNCTION tessera_notify_checkpoints();
