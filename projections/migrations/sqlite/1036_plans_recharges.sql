-- Team plans wallet recharges (seed 004 "recharge"), written by the projector `plans_recharges`
-- (docs/read-models.md, "Team plans: payments and recharges"). Ids are the 24-hex ObjectIds the
-- events carry, so a rebuild gives every row the same id. Money is whole CNY fen. Instants UTC.

-- One row per recharge, as it stands now; `GET /plan/recharge` pages them newest first.
CREATE TABLE plans_recharges (
    recharge_id       TEXT        PRIMARY KEY,
    company_id        TEXT        NOT NULL,
    user_id           TEXT        NOT NULL,
    amount_fen        INTEGER      NOT NULL,
    extra_amount_fen  INTEGER      NOT NULL,
    discount_id       TEXT,
    offer_version     TEXT        NOT NULL,
    method            TEXT        NOT NULL,
    payment_id        TEXT        NOT NULL,
    status            TEXT        NOT NULL,
    created_at        TEXT NOT NULL,
    paid_at           TEXT,
    expired_at        TEXT
);
CREATE INDEX plans_recharges_company ON plans_recharges (company_id, created_at);
