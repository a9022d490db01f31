-- Projection bookkeeping and the first read model. Shipped migrations are never edited.

-- One row per projector: the last global position applied, written in the same transaction as the
-- read-model rows, so every event takes effect exactly once, even across crashes.
CREATE TABLE projection_checkpoints (
    projection TEXT        PRIMARY KEY,
    version    INTEGER     NOT NULL,
    position   BIGINT      NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Read model `event_type_stats`: how many events of each type each stream category holds, and
-- where and when the last one was written (docs/read-models.md).
CREATE TABLE event_type_stats (
    category            TEXT        NOT NULL,
    event_type          TEXT        NOT NULL,
    event_count         BIGINT      NOT NULL,
    first_position      BIGINT      NOT NULL,
    last_position       BIGINT      NOT NULL,
    last_recorded_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (category, event_type)
);
