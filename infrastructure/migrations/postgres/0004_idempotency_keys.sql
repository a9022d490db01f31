-- Idempotency keys (docs/decisions/0010-idempotency-keys.md): the first answer to a creating POST
-- sent with an `Idempotency-Key`, so that a retry with the same key and body replays it instead of
-- running the command again. It lives beside the event store, not with the read models, because it
-- cannot be rebuilt from the log: a projection rebuild must never forget a stored answer.
-- Times are milliseconds since the Unix epoch (integers compare the same on both backends).
CREATE TABLE idempotency_keys (
    -- Who may replay it: `user:{uuid}` or `anonymous`.
    scope        TEXT    NOT NULL,
    method       TEXT    NOT NULL,
    path         TEXT    NOT NULL,
    idem_key     TEXT    NOT NULL,
    -- SHA-256 of the request body (hex); a retry with another body is refused.
    fingerprint  TEXT    NOT NULL,
    -- When the key was first used; the key expires a configured time after it.
    created_ms   BIGINT  NOT NULL,
    -- When the request holding it started; an in-flight claim older than the lease is abandoned.
    locked_ms    BIGINT  NOT NULL,
    -- NULL while the first request is in flight; the answer once it is stored.
    status       INTEGER,
    headers      TEXT,
    body         BYTEA,
    PRIMARY KEY (scope, method, path, idem_key)
);

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_ms);
