-- Data-subject keys for crypto-shredding (docs/decisions/0008-crypto-shredding.md).
--
-- Personal and secret fields of events are sealed with AES-256-GCM under a key of their data
-- subject (`user:{id}`, `phone:{digest}`, `wechat:{digest}`). The event log keeps only the random
-- `key_id`; this table keeps the key. It is deliberately NOT append-only: erasing a subject sets
-- `key_material` and `subject` to NULL and stamps `erased_at`, after which every read of those
-- fields yields the erased marker. The row stays (without anything personal) so that readers can
-- tell an erased key from a missing one.
--
-- A subject may have more than one live key (two first writers racing); erasure destroys all.
CREATE TABLE privacy_keys (
    key_id       TEXT PRIMARY KEY,
    subject      TEXT,
    key_material BLOB,
    created_at   TEXT NOT NULL,
    erased_at    TEXT,
    CHECK ((erased_at IS NULL) = (key_material IS NOT NULL))
);
CREATE INDEX privacy_keys_subject ON privacy_keys (subject) WHERE subject IS NOT NULL;
