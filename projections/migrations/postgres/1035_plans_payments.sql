-- Team plans external payments (docs/decisions/0028-plans-external-payments.md), written by the
-- projector `plans_payments` (docs/read-models.md, "Team plans: payments and recharges"). Ids
-- are the 24-hex ObjectIds the events carry, so a rebuild gives every row the same id. Money is
-- whole CNY fen (integers: no rounding, and SQLite has no decimal type). Instants are UTC.

-- One row per payment, as it stands now.
CREATE TABLE plans_payments (
    payment_id      TEXT        PRIMARY KEY,
    company_id      TEXT        NOT NULL,
    user_id         TEXT        NOT NULL,
    purpose_kind    TEXT        NOT NULL,
    purpose_id      TEXT        NOT NULL,
    method          TEXT        NOT NULL,
    amount_fen      BIGINT      NOT NULL,
    out_trade_no    TEXT        NOT NULL,
    code_url        TEXT,
    status          TEXT        NOT NULL,
    transaction_id  TEXT,
    confirmed_by    TEXT,
    expires_at      TIMESTAMPTZ NOT NULL,
    opened_at       TIMESTAMPTZ NOT NULL,
    succeeded_at    TIMESTAMPTZ,
    delivered_at    TIMESTAMPTZ,
    closed_at       TIMESTAMPTZ
);
CREATE INDEX plans_payments_company ON plans_payments (company_id, opened_at);
CREATE INDEX plans_payments_purpose ON plans_payments (purpose_id);
