-- Courtesy read models (seed 001), written by the projector `courtesy` (docs/read-models.md,
-- section "Courtesy (seed 001)", documents every column). The integer `user_id` comes from the
-- events (`CourtesyNumberTaken`, `CourtesyAccountOpened`), so a rebuild gives every row the same
-- id. No foreign keys; no email column: `user_info` reads the email from the event store.

-- One row per Courtesy account. Profile columns are empty strings until the first edit
-- (`has_profile`), and blanked with `erased` set after `UserErased`. `card_count` is written by
-- the cards part of the document (0 until then).
CREATE TABLE courtesy_accounts (
    account_id    TEXT        PRIMARY KEY,
    user_id       INTEGER      NOT NULL UNIQUE,
    registered_at TEXT NOT NULL,
    last_login_at TEXT,
    has_profile   BOOLEAN     NOT NULL DEFAULT 0,
    nick          TEXT        NOT NULL DEFAULT '',
    avatar        TEXT        NOT NULL DEFAULT '',
    mobile        TEXT        NOT NULL DEFAULT '',
    birthday      TEXT        NOT NULL DEFAULT '',
    gender        INTEGER     NOT NULL DEFAULT 0,
    province      TEXT        NOT NULL DEFAULT '',
    city          TEXT        NOT NULL DEFAULT '',
    area          TEXT        NOT NULL DEFAULT '',
    introduction  TEXT        NOT NULL DEFAULT '',
    card_count    INTEGER      NOT NULL DEFAULT 0,
    erased        BOOLEAN     NOT NULL DEFAULT 0
);

-- Card resources, one row per SHA-256 (`CourtesyResourceStored`).
CREATE TABLE courtesy_resources (
    sha256      TEXT        PRIMARY KEY,
    resource_id TEXT        NOT NULL UNIQUE,
    size        INTEGER      NOT NULL,
    media_type  TEXT        NOT NULL,
    uploaded_by TEXT        NOT NULL,
    stored_at   TEXT NOT NULL
);

-- The files served for uploaded avatars and banners (`CourtesyImageUploaded`), one row per
-- served name: `/static/{kind}/{image_id}{suffix}`.
CREATE TABLE courtesy_images (
    image_id    TEXT        NOT NULL,
    suffix      TEXT        NOT NULL,
    kind        TEXT        NOT NULL,
    account_id  TEXT        NOT NULL,
    sha256      TEXT        NOT NULL,
    media_type  TEXT        NOT NULL,
    uploaded_at TEXT NOT NULL,
    PRIMARY KEY (image_id, suffix)
);
