-- The event store (docs/architecture.md). Shipped migrations are never edited: add a new file.

-- The append-only event log. global_position is the rowid: every append takes the single write lock
-- (BEGIN IMMEDIATE), so positions are contiguous from 1 and increase in commit order.
-- Times are RFC 3339 UTC text with six fractional digits, so text order is time order.
CREATE TABLE events (
    global_position INTEGER PRIMARY KEY,
    stream_id       TEXT    NOT NULL,
    stream_version  INTEGER NOT NULL,
    event_id        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL,
    data            TEXT    NOT NULL,
    metadata        TEXT    NOT NULL,
    recorded_at     TEXT    NOT NULL,
    prev_hash       TEXT    NOT NULL,
    hash            TEXT    NOT NULL,
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)
);

-- One row per stream: its version and last hash. The append checks the expected version here and
-- the auditor compares it with the log, which catches a stream's last events being cut off.
CREATE TABLE streams (
    stream_id TEXT    PRIMARY KEY,
    version   INTEGER NOT NULL,
    last_hash TEXT    NOT NULL
) WITHOUT ROWID;

-- The log's head: last position handed out and the last recorded_at, which appends never let go
-- backwards (the auditor relies on that to see events swapped across streams).
CREATE TABLE event_log_head (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    position    INTEGER NOT NULL,
    recorded_at TEXT    NOT NULL
);
INSERT INTO event_log_head (id, position, recorded_at) VALUES (1, 0, '1970-01-01T00:00:00.000000Z');

-- Durable deadlines, written in the same transaction as the append that scheduled them.
CREATE TABLE deadlines (
    deadline_id     TEXT    PRIMARY KEY,
    stream_id       TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    due_at          TEXT    NOT NULL,
    next_attempt_at TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    fired_at        TEXT
);
CREATE INDEX deadlines_pending ON deadlines (next_attempt_at) WHERE fired_at IS NULL;

-- Append-only means append-only, also for a careless UPDATE in a SQL console.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
