-- Team plans orders (seed 004 "order"), written by the projector `plans_orders`
-- (docs/read-models.md, "Team plans: orders and wallet"). One row per order as it stands now.
-- Ids are the 24-hex ObjectIds the events carry, so a rebuild gives every row the same id.
-- Money is CNY in whole fen (INTEGER); instants are UTC.
CREATE TABLE plans_orders (
    order_id          TEXT        PRIMARY KEY,
    company_id        TEXT        NOT NULL,
    user_id           TEXT        NOT NULL,
    order_type        TEXT        NOT NULL,
    plan              TEXT        NOT NULL,
    member_count      INTEGER     NOT NULL,
    months            INTEGER     NOT NULL,
    product_id        TEXT        NOT NULL,
    product_no        TEXT        NOT NULL,
    product_title     TEXT        NOT NULL,
    unit_price        INTEGER     NOT NULL,
    amount            INTEGER     NOT NULL,
    catalogue_version TEXT        NOT NULL,
    period_id         TEXT,
    proration         TEXT,
    degrade_id        TEXT,
    effective_at      TEXT,
    status            TEXT        NOT NULL,
    expires_at        TEXT,
    payment_method    TEXT,
    payment_id        TEXT,
    paid_at           TEXT,
    closed_at         TEXT,
    date_create       TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX plans_orders_company ON plans_orders (company_id, date_create);
CREATE INDEX plans_orders_status ON plans_orders (company_id, status);
