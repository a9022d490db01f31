-- The KurrentDB backend's position index (docs/decisions/0037-kurrentdb-event-store.md). Unused by
-- the PostgreSQL event store. KurrentDB's $all positions (commit, prepare) grow by byte offsets, not
-- by one; Tessera's global positions must be 1, 2, 3... in commit order. The indexer walks $all and
-- gives each Tessera event the next position here, in $all order, in the same transaction that
-- stores the deadlines the event carries: an event and its deadlines become visible together.
CREATE TABLE kdb_index (
    global_position   BIGINT      PRIMARY KEY,
    commit_position   BIGINT      NOT NULL,
    prepare_position  BIGINT      NOT NULL,
    stream_id         TEXT        NOT NULL,
    stream_version    BIGINT      NOT NULL,
    event_id          UUID        NOT NULL,
    -- The event's hash (also in its KurrentDB metadata): the next append to the stream chains to
    -- it without reading KurrentDB.
    hash              TEXT        NOT NULL,
    recorded_at       TIMESTAMPTZ NOT NULL,
    CONSTRAINT kdb_index_event_id_key UNIQUE (event_id),
    CONSTRAINT kdb_index_stream_version_key UNIQUE (stream_id, stream_version)
);

-- How far the indexer has walked $all: the last indexed position, its $all position and the last
-- recorded_at (appends never record an earlier one, so recorded_at never decreases along the log).
CREATE TABLE kdb_index_head (
    id               INTEGER     PRIMARY KEY CHECK (id = 1),
    position         BIGINT      NOT NULL,
    commit_position  BIGINT      NOT NULL,
    prepare_position BIGINT      NOT NULL,
    recorded_at      TIMESTAMPTZ NOT NULL
);
INSERT INTO kdb_index_head VALUES (1, 0, -1, -1, '1970-01-01T00:00:00Z');
