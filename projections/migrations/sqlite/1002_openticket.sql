-- OpenTicket read models (seed 003), written by the projectors `openticket_catalog`,
-- `openticket_orders` and `openticket_tickets` (docs/read-models.md documents every column).
-- Shipped migrations are never edited: later changes come as new numbered files.
--
-- Conventions, the same on SQLite and PostgreSQL so that one SQL text serves both backends:
-- * money is an exact decimal string (`amount` TEXT, e.g. '4800' or '12.50') with its ISO 4217
--   `currency` TEXT beside it, because sqlx maps rust_decimal only on PostgreSQL and floats are
--   never exact; analysts cast (`CAST(amount AS NUMERIC)` here, `amount::numeric` on PostgreSQL);
-- * instants are UTC, stored here as the RFC 3339 text sqlx writes ('2025-01-20T10:00:00+00:00'),
--   which sorts and compares correctly as text; session times are also kept as the organizer wrote
--   them, offset included, because responses must show them that way;
-- * ids are lower-case hyphenated UUID text; seat and area ids are the seat map's strings;
-- * JSON documents (the seat map, a category's area ids) are TEXT.
-- No foreign keys: each projector owns its tables and can be rebuilt alone.

-- Venues (`VenueCreated`). `seat_map` holds the areas exactly as GET /venues/{id} returns them, so
-- a 15,000-seat venue is read as one row.
CREATE TABLE ot_venues (
    venue_id         TEXT    PRIMARY KEY,
    seat_map_id      TEXT    NOT NULL,
    seat_map_version INTEGER NOT NULL,
    name             TEXT    NOT NULL,
    country          TEXT    NOT NULL,
    city             TEXT    NOT NULL,
    street           TEXT    NOT NULL,
    postal_code      TEXT    NOT NULL,
    capacity         INTEGER NOT NULL,
    seat_count       INTEGER NOT NULL,
    area_count       INTEGER NOT NULL,
    status           TEXT    NOT NULL,
    seat_map         TEXT    NOT NULL,
    created_by       TEXT,
    created_at       TEXT    NOT NULL
);
-- GET /venues?city= lists in creation order.
CREATE INDEX ot_venues_city ON ot_venues (city, created_at);
CREATE INDEX ot_venues_created ON ot_venues (created_at, venue_id);

-- One row per seat of a venue's seat map: the source of every session's seats, and of seat labels
-- for tickets. `seat_order` is the seat's position in the whole seat map (areas in order).
CREATE TABLE ot_venue_seats (
    venue_id    TEXT    NOT NULL,
    seat_id     TEXT    NOT NULL,
    area_id     TEXT    NOT NULL,
    area_name   TEXT    NOT NULL,
    seat_order  INTEGER NOT NULL,
    row_label   TEXT    NOT NULL,
    seat_number INTEGER NOT NULL,
    x           REAL    NOT NULL,
    y           REAL    NOT NULL,
    seat_type   TEXT    NOT NULL,
    PRIMARY KEY (venue_id, seat_id)
);

-- Events (`EventCreated`). The price range and the span of session times are computed once here so
-- that listing events needs no aggregation over categories.
CREATE TABLE ot_events (
    event_id       TEXT    PRIMARY KEY,
    organizer_id   TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    description    TEXT,
    venue_id       TEXT    NOT NULL,
    venue_name     TEXT    NOT NULL,
    currency       TEXT,
    min_price      TEXT,
    max_price      TEXT,
    session_count  INTEGER NOT NULL,
    first_start_at TEXT    NOT NULL,
    last_end_at    TEXT    NOT NULL,
    created_at     TEXT    NOT NULL
);
CREATE INDEX ot_events_venue ON ot_events (venue_id);
CREATE INDEX ot_events_first_start ON ot_events (first_start_at, event_id);

-- Sessions of events. `*_time` columns: the organizer's text with its offset (for display);
-- `*_at` columns: the same instants in UTC (for filtering and deriving the status).
CREATE TABLE ot_sessions (
    session_id      TEXT    PRIMARY KEY,
    event_id        TEXT    NOT NULL,
    venue_id        TEXT    NOT NULL,
    session_order   INTEGER NOT NULL,
    start_time      TEXT    NOT NULL,
    end_time        TEXT    NOT NULL,
    sale_start_time TEXT    NOT NULL,
    sale_end_time   TEXT    NOT NULL,
    start_at        TEXT    NOT NULL,
    end_at          TEXT    NOT NULL,
    sale_start_at   TEXT    NOT NULL,
    sale_end_at     TEXT    NOT NULL,
    opened          INTEGER NOT NULL,
    opened_at       TEXT
);
CREATE INDEX ot_sessions_event ON ot_sessions (event_id, session_order);
CREATE INDEX ot_sessions_start ON ot_sessions (start_at);

-- Price categories of events; `area_ids` is a JSON array of area ids.
CREATE TABLE ot_price_categories (
    event_id       TEXT    NOT NULL,
    category_id    TEXT    NOT NULL,
    category_order INTEGER NOT NULL,
    name           TEXT    NOT NULL,
    area_ids       TEXT    NOT NULL,
    amount         TEXT    NOT NULL,
    currency       TEXT    NOT NULL,
    PRIMARY KEY (event_id, category_id)
);

-- Which category prices each area of an event (the JSON above, unnested for joins).
CREATE TABLE ot_category_areas (
    event_id    TEXT NOT NULL,
    area_id     TEXT NOT NULL,
    category_id TEXT NOT NULL,
    PRIMARY KEY (event_id, area_id)
);

-- Every seat of every opened session (`SessionOpened` copies the venue's seats; the seat events
-- update them). `status` is the stored state: Available | Locked | HeldForOrder | Sold. A Locked
-- row whose `lock_expires_at` has passed is free: queries report it as Available even before the
-- domain's expiry deadline appends `SeatsReleased`.
CREATE TABLE ot_session_seats (
    session_id      TEXT    NOT NULL,
    seat_id         TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    area_id         TEXT    NOT NULL,
    seat_order      INTEGER NOT NULL,
    category_id     TEXT,
    amount          TEXT,
    currency        TEXT,
    status          TEXT    NOT NULL,
    lock_id         TEXT,
    user_id         TEXT,
    lock_expires_at TEXT,
    order_id        TEXT,
    held_until      TEXT,
    updated_at      TEXT    NOT NULL,
    PRIMARY KEY (session_id, seat_id)
);
-- Counting seats by session and status (availability in event lists, the summary).
CREATE INDEX ot_session_seats_status ON ot_session_seats (session_id, status);

-- Orders (`order` streams). `payment_status`: Pending | Succeeded | Failed | RefundRequired.
CREATE TABLE ot_orders (
    order_id               TEXT    PRIMARY KEY,
    user_id                TEXT    NOT NULL,
    event_id               TEXT    NOT NULL,
    session_id             TEXT    NOT NULL,
    status                 TEXT    NOT NULL,
    seat_count             INTEGER NOT NULL,
    total_amount           TEXT    NOT NULL,
    currency               TEXT    NOT NULL,
    payment_id             TEXT    NOT NULL,
    payment_provider       TEXT    NOT NULL,
    provider_reference     TEXT,
    payment_url            TEXT,
    payment_status         TEXT    NOT NULL,
    payment_failure_reason TEXT,
    refund_required        INTEGER NOT NULL,
    created_at             TEXT    NOT NULL,
    expires_at             TEXT    NOT NULL,
    paid_at                TEXT,
    completed_at           TEXT,
    cancelled_at           TEXT,
    cancelled_by           TEXT,
    expired_at             TEXT,
    updated_at             TEXT    NOT NULL
);
-- GET /orders: a user's orders, newest first.
CREATE INDEX ot_orders_user ON ot_orders (user_id, created_at);
CREATE INDEX ot_orders_session ON ot_orders (session_id);

-- One row per ordered seat: the analysts' sales table (`sold_at` set once the seat is sold).
CREATE TABLE ot_order_items (
    order_id    TEXT    NOT NULL,
    seat_id     TEXT    NOT NULL,
    item_order  INTEGER NOT NULL,
    area_id     TEXT    NOT NULL,
    category_id TEXT    NOT NULL,
    amount      TEXT    NOT NULL,
    currency    TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    session_id  TEXT    NOT NULL,
    placed_at   TEXT    NOT NULL,
    sold_at     TEXT,
    ticket_id   TEXT,
    PRIMARY KEY (order_id, seat_id)
);
CREATE INDEX ot_order_items_session ON ot_order_items (session_id, sold_at);

-- Tickets (`ticket` streams). `status`: Issued | Used.
CREATE TABLE ot_tickets (
    ticket_id   TEXT PRIMARY KEY,
    order_id    TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    seat_id     TEXT NOT NULL,
    area_id     TEXT NOT NULL,
    amount      TEXT NOT NULL,
    currency    TEXT NOT NULL,
    status      TEXT NOT NULL,
    issued_at   TEXT NOT NULL,
    used_at     TEXT,
    verified_by TEXT
);
-- GET /tickets: a user's tickets, newest first.
CREATE INDEX ot_tickets_user ON ot_tickets (user_id, issued_at);
CREATE INDEX ot_tickets_order ON ot_tickets (order_id);

-- The Mock payment page finds an order by its payment attempt.
CREATE INDEX ot_orders_payment ON ot_orders (payment_id);
