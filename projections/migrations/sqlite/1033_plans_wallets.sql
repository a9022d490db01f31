-- Team plans wallet balances (seed 004 "recharge"/"charge", `GET /plan/wallet`), written by the
-- projector `plans_wallet` (docs/read-models.md, "Team plans: orders and wallet"). One row per
-- company whose wallet was ever credited. Money is CNY in whole fen; instants are UTC.
CREATE TABLE plans_wallets (
    company_id  TEXT        PRIMARY KEY,
    paid        INTEGER     NOT NULL,
    granted     INTEGER     NOT NULL,
    updated_at  TEXT NOT NULL
);
