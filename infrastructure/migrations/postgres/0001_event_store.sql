-- The event store (docs/architecture.md). Shipped migrations are never edited: add a new file.

-- The append-only event log. Positions are not taken from a sequence: concurrent transactions commit
-- out of order, so a reader could see position 11 before 10 commits and skip 10 forever. Instead each
-- append takes the next positions from event_log_head with an UPDATE whose row lock is held to
-- commit: positions are contiguous and every commit happens in position order.
CREATE TABLE events (
    global_position BIGINT      PRIMARY KEY,
    stream_id       TEXT        NOT NULL,
    stream_version  BIGINT      NOT NULL,
    event_id        UUID        NOT NULL,
    event_type      TEXT        NOT NULL,
    schema_version  INTEGER     NOT NULL,
    data            JSONB       NOT NULL,
    metadata        JSONB       NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    prev_hash       TEXT        NOT NULL,
    hash            TEXT        NOT NULL,
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)
);
CREATE INDEX events_event_type ON events (event_type);

-- One row per stream: its version and last hash. Its row lock serialises writers of one stream
-- while writers of other streams go ahead until they need the log head.
CREATE TABLE streams (
    stream_id TEXT   PRIMARY KEY,
    version   BIGINT NOT NULL,
    last_hash TEXT   NOT NULL
);

-- The log head: the single row whose lock orders commits (see above), and the last recorded_at,
-- which never goes backwards (the auditor relies on it to see events swapped across streams).
CREATE TABLE event_log_head (
    id          INTEGER     PRIMARY KEY CHECK (id = 1),
    position    BIGINT      NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);
INSERT INTO event_log_head (id, position, recorded_at) VALUES (1, 0, '1970-01-01T00:00:00Z');

-- Durable deadlines, written in the same transaction as the append that scheduled them.
CREATE TABLE deadlines (
    deadline_id     UUID        PRIMARY KEY,
    stream_id       TEXT        NOT NULL,
    kind            TEXT        NOT NULL,
    payload         JSONB       NOT NULL,
    due_at          TIMESTAMPTZ NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    attempts        INTEGER     NOT NULL DEFAULT 0,
    last_error      TEXT,
    fired_at        TIMESTAMPTZ
);
CREATE INDEX deadlines_pending ON deadlines (next_attempt_at) WHERE fired_at IS NULL;

-- Append-only means append-only, also for a careless UPDATE in a SQL console.
CREATE FUNCTION tessera_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only';
END;
$$;
CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION tessera_events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION tessera_events_append_only();
