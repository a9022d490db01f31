-- Meeting-ticket read models (seed 000), written by the projectors `meeting_catalog`,
-- `meeting_orders`, `meeting_tickets` and `meeting_wechat_tokens` (docs/read-models.md, section
-- "Meeting tickets (seed 000)", documents every column). Shipped migrations are never edited: later
-- changes come as new numbered files.
--
-- Conventions, the same on SQLite and PostgreSQL so that one SQL text serves both backends:
-- * money is INTEGER fen (CNY minor units, 1 yuan = 100 fen), exactly as the events carry it, in
--   columns named `*_fen`: integers add up exactly on both backends, and the API's yuan is a
--   division by 100 done when responding;
-- * instants are UTC, stored here as the RFC 3339 text sqlx writes ('2025-01-20T10:00:00+00:00'),
--   which sorts and compares correctly as text;
-- * ids are lower-case hyphenated UUID text; booleans are 0/1;
-- * JSON documents (the payment parameters a client needs) are TEXT.
-- No foreign keys: each projector owns its tables and can be rebuilt alone.

-- Meetings (`MeetingCreated`; `status` by `SalesOpened`/`SalesClosed`): draft | onSale | closed.
CREATE TABLE mt_meetings (
    meeting_id   TEXT    PRIMARY KEY,
    organizer_id TEXT    NOT NULL,
    title        TEXT    NOT NULL,
    description  TEXT    NOT NULL,
    location     TEXT    NOT NULL,
    start_time   TEXT    NOT NULL,
    end_time     TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL
);
-- GET /meetings lists by start time, optionally one status.
CREATE INDEX mt_meetings_start ON mt_meetings (start_time, meeting_id);
CREATE INDEX mt_meetings_status ON mt_meetings (status, start_time);

-- Ticket grades of meetings with their stock counters: remaining = stock - held - sold. `held` and
-- `sold` are kept from the stock events through `mt_stock_holds`, so that applying an event twice
-- cannot count it twice.
CREATE TABLE mt_ticket_grades (
    meeting_id      TEXT    NOT NULL,
    ticket_grade_id TEXT    NOT NULL,
    grade_order     INTEGER NOT NULL,
    name            TEXT    NOT NULL,
    price_fen       INTEGER NOT NULL,
    stock           INTEGER NOT NULL,
    held            INTEGER NOT NULL,
    sold            INTEGER NOT NULL,
    added_at        TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    PRIMARY KEY (meeting_id, ticket_grade_id)
);
CREATE INDEX mt_ticket_grades_order ON mt_ticket_grades (meeting_id, grade_order);

-- Every stock line of every order as the meeting's stream last stated it: held | released | sold.
-- The projector moves `held`/`sold` only when a row changes state, which makes it idempotent.
CREATE TABLE mt_stock_holds (
    order_id        TEXT    NOT NULL,
    line_no         INTEGER NOT NULL,
    meeting_id      TEXT    NOT NULL,
    ticket_grade_id TEXT    NOT NULL,
    amount          INTEGER NOT NULL,
    state           TEXT    NOT NULL,
    retaken         INTEGER NOT NULL,
    updated_at      TEXT    NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX mt_stock_holds_grade ON mt_stock_holds (meeting_id, ticket_grade_id, state);

-- Orders (`meetingOrder` streams). `status` is the document's Chinese string:
-- 待支付 | 已支付 | 已取消 | 已过期 | 待退款.
CREATE TABLE mt_orders (
    order_id                     TEXT    PRIMARY KEY,
    user_id                      TEXT    NOT NULL,
    meeting_id                   TEXT    NOT NULL,
    payment_method_id            TEXT    NOT NULL,
    total_fen                    INTEGER NOT NULL,
    status                       TEXT    NOT NULL,
    expires_at                   TEXT    NOT NULL,
    created_at                   TEXT    NOT NULL,
    paid_at                      TEXT,
    cancelled_at                 TEXT,
    expired_at                   TEXT,
    transaction_id               TEXT,
    provider                     TEXT,
    out_trade_no                 TEXT,
    third_party_transaction_info TEXT,
    payment_requested_at         TEXT,
    refund_reason                TEXT,
    refund_amount_fen            INTEGER,
    refund_transaction_id        TEXT,
    refund_recorded_at           TEXT,
    late_payment                 INTEGER NOT NULL,
    updated_at                   TEXT    NOT NULL
);
-- GET /orders: a user's orders, newest first.
CREATE INDEX mt_orders_user ON mt_orders (user_id, created_at);
CREATE INDEX mt_orders_meeting ON mt_orders (meeting_id, status);

-- One row per order line: the analysts' sales table (join mt_orders for the status).
CREATE TABLE mt_order_items (
    order_id          TEXT    NOT NULL,
    line_no           INTEGER NOT NULL,
    meeting_id        TEXT    NOT NULL,
    ticket_grade_id   TEXT    NOT NULL,
    ticket_grade_name TEXT    NOT NULL,
    ticket_price_fen  INTEGER NOT NULL,
    ticket_amount     INTEGER NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX mt_order_items_grade ON mt_order_items (meeting_id, ticket_grade_id);

-- Tickets (`meetingTicket` streams) and their attendee, once named.
CREATE TABLE mt_tickets (
    ticket_id         TEXT PRIMARY KEY,
    order_id          TEXT NOT NULL,
    meeting_id        TEXT NOT NULL,
    ticket_grade_id   TEXT NOT NULL,
    owner_id          TEXT NOT NULL,
    participant_name  TEXT,
    participant_phone TEXT,
    assigned_by       TEXT,
    issued_at         TEXT NOT NULL,
    claimed_at        TEXT
);
-- GET /tickets: tickets a user owns, or whose attendee has the user's phone.
CREATE INDEX mt_tickets_owner ON mt_tickets (owner_id, issued_at);
CREATE INDEX mt_tickets_phone ON mt_tickets (participant_phone);
CREATE INDEX mt_tickets_order ON mt_tickets (order_id);
CREATE INDEX mt_tickets_meeting ON mt_tickets (meeting_id, ticket_grade_id);

-- WeChat tokens WeChat vouched for (`wechatAccount` streams), by SHA-256 hex digest; never the token.
CREATE TABLE mt_wechat_tokens (
    token_hash  TEXT PRIMARY KEY,
    wechat_id   TEXT NOT NULL,
    verified_at TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX mt_wechat_tokens_wechat ON mt_wechat_tokens (wechat_id);
