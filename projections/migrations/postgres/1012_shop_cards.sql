-- Shop membership cards and member transactions (seed 002 "会员卡 API"), written by the projector
-- `shop_cards` from the `shopMembershipCard` streams (docs/read-models.md, "Shop membership
-- cards"). Conventions as in 1010_shop.sql: money in fen (`*_fen`), instants UTC, ids from the
-- events, so a rebuild gives every row the same id. No foreign keys.

-- One row per card ever issued; closed cards are kept, flagged `closed`, and hidden by the routes.
CREATE TABLE shop_membership_cards (
    card_id     BIGINT      PRIMARY KEY,
    user_id     BIGINT      NOT NULL,
    card_number TEXT        NOT NULL UNIQUE,
    balance_fen BIGINT      NOT NULL,
    status      INTEGER     NOT NULL,
    closed      BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX shop_membership_cards_user ON shop_membership_cards (user_id);

-- One row per member transaction (`ShopMemberTransactionRecorded`), for the routes and analysts:
-- `type_code` is the seed's `type` (1 top-up, 2 spend, 3 refund, 4 adjustment up, 5 adjustment down),
-- `amount_fen` is positive, `change_fen` the signed effect on the balance.
CREATE TABLE shop_member_transactions (
    transaction_id    BIGINT      PRIMARY KEY,
    card_id           BIGINT      NOT NULL,
    user_id           BIGINT      NOT NULL,
    type_code         INTEGER     NOT NULL,
    amount_fen        BIGINT      NOT NULL,
    change_fen        BIGINT      NOT NULL,
    balance_after_fen BIGINT      NOT NULL,
    description       TEXT,
    order_id          TEXT,
    recorded_by       TEXT        NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX shop_member_transactions_card ON shop_member_transactions (card_id, transaction_id);
