-- Courtesy read models, part 2 (seed 001): QR codes, cards and news, written by the projector
-- `courtesy` (docs/read-models.md, "Courtesy (seed 001)"). Answers of the actions are built from
-- the event store; these tables serve listings, audits and `card_count`.

-- One row per generated QR code (`CourtesyQrCodeGenerated`); `scan_count` counts
-- `CourtesyQrCodeScanned`, `card_token`/`recorded_at` are set by `CourtesyQrCodeRecorded`.
CREATE TABLE courtesy_qr_codes (
    qr_id        TEXT        PRIMARY KEY,
    channel      BIGINT      NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    scan_count   BIGINT      NOT NULL DEFAULT 0,
    card_token   TEXT,
    author_id    TEXT,
    recorded_at  TIMESTAMPTZ
);

-- One row per card (`CourtesyCardCreated`), with its counters, its first reader and its ban.
-- The template is not copied here (it is the author's personal data, sealed in the log).
CREATE TABLE courtesy_cards (
    token         TEXT        PRIMARY KEY,
    qr_id         TEXT        NOT NULL,
    author_id     TEXT        NOT NULL,
    is_editable   BOOLEAN     NOT NULL,
    is_public     BOOLEAN     NOT NULL,
    visible_at    TIMESTAMPTZ,
    attachments   BIGINT      NOT NULL DEFAULT 0,
    view_count    BIGINT      NOT NULL DEFAULT 0,
    edited_count  BIGINT      NOT NULL DEFAULT 0,
    read_by       TEXT,
    first_read_at TIMESTAMPTZ,
    banned        BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL,
    modified_at   TIMESTAMPTZ NOT NULL
);

-- One row per published news item (`CourtesyNewsPublished`); `position` (the event's global
-- position) orders a day's items as published.
CREATE TABLE courtesy_news (
    news_id      TEXT        PRIMARY KEY,
    news_date    TEXT        NOT NULL,
    position     BIGINT      NOT NULL,
    kind         INTEGER     NOT NULL,
    text         TEXT        NOT NULL,
    style_id     BIGINT      NOT NULL,
    style_name   TEXT        NOT NULL,
    image_rid    TEXT,
    audio_rid    TEXT,
    video_rid    TEXT,
    url          TEXT,
    published_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX courtesy_news_by_date ON courtesy_news (news_date, position);
