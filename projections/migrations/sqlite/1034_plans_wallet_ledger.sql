-- Team plans wallet ledger (seed 004 `GET /plan/charge`), written by the projector
-- `plans_wallet` (docs/read-models.md, "Team plans: orders and wallet"): one row per credit or
-- spend of a company's wallet. `amount`, `paid_amount` and `granted_amount` are signed fen
-- (credits positive, spends negative), so per company SUM(amount) is the balance. Instants UTC.
CREATE TABLE plans_wallet_ledger (
    entry_id        TEXT        PRIMARY KEY,
    company_id      TEXT        NOT NULL,
    kind            TEXT        NOT NULL,
    amount          INTEGER     NOT NULL,
    paid_amount     INTEGER     NOT NULL,
    granted_amount  INTEGER     NOT NULL,
    reference       TEXT,
    order_id        TEXT,
    reason          TEXT,
    paid_after      INTEGER     NOT NULL,
    granted_after   INTEGER     NOT NULL,
    at              TEXT NOT NULL
);
CREATE INDEX plans_wallet_ledger_company ON plans_wallet_ledger (company_id, at);
