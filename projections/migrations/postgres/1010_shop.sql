-- Shop read models (seed 002), written by the projectors `shop_users` and `shop_catalog`
-- (docs/read-models.md, section "Shop (seed 002)", documents every column). Conventions as in
-- 1003_meeting.sql: money is BIGINT fen in `*_fen` columns, instants TIMESTAMPTZ in UTC, booleans
-- BOOLEAN. The shop's integer ids come from the events (`ShopNumberTaken` and the entity's own
-- event), so a rebuild gives every row the same id. No foreign keys.

-- Every identity user (`user` streams) with what the shop shows of them; `user_id` is the shop's
-- integer id, null until the user first signs in to the shop (`ShopUserJoined`). Personal fields
-- are null after `UserErased`, and `erased` hides the row from the shop's routes.
CREATE TABLE shop_accounts (
    account_id     TEXT        PRIMARY KEY,
    user_id        BIGINT      UNIQUE,
    openid         TEXT,
    nickname       TEXT,
    phone          TEXT,
    email          TEXT,
    is_admin       BOOLEAN     NOT NULL DEFAULT FALSE,
    erased         BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at     TIMESTAMPTZ,
    updated_at     TIMESTAMPTZ NOT NULL
);

-- Product categories (`ShopCategoryCreated`/`Updated`/`Deleted`); deleted ones are kept, hidden.
CREATE TABLE shop_categories (
    category_id BIGINT      PRIMARY KEY,
    name        TEXT        NOT NULL,
    description TEXT,
    parent_id   BIGINT,
    deleted     BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- Products with their stock (`ShopProduct*`); deleted ones are kept, hidden.
CREATE TABLE shop_products (
    product_id  BIGINT      PRIMARY KEY,
    category_id BIGINT      NOT NULL,
    name        TEXT        NOT NULL,
    description TEXT,
    price_fen   BIGINT      NOT NULL,
    stock       BIGINT      NOT NULL,
    image_url   TEXT,
    status      INTEGER     NOT NULL,
    deleted     BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX shop_products_category ON shop_products (category_id);
