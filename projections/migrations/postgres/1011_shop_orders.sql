-- Shop orders (seed 002 "订单 API"), written by the projector `shop_orders` from the `shopOrder`
-- streams (docs/read-models.md, "Shop (seed 002)", documents every column). Conventions as in
-- 1010_shop.sql: money BIGINT fen, instants TIMESTAMPTZ, no foreign keys.
-- Order ids are the events' (`ORDER…`), order-item ids the numbers `ShopOrderPlaced` carries, so
-- a rebuild gives every row the same ids. Product stock stays in `shop_products` (its projector
-- follows `ShopProductStockReserved`/`Released`), so a rebuild of one projector never half-owns
-- a table of the other.

-- One row per order; `status` 0 unpaid, 1 paid, 2 cancelled, 3 expired, 4 refunded
-- (docs/shop.md, "Orders"). `deleted` hides it from the routes; the row stays for analysts.
-- `refund_due_fen` sums payments that arrived when the order could no longer be paid.
CREATE TABLE shop_orders (
    order_id        TEXT        PRIMARY KEY,
    user_id         BIGINT      NOT NULL,
    account_id      TEXT        NOT NULL,
    total_fen       BIGINT      NOT NULL,
    status          INTEGER     NOT NULL,
    payment_method  TEXT        NOT NULL,
    payment_id      TEXT,
    refund_due_fen  BIGINT      NOT NULL DEFAULT 0,
    expires_at      TIMESTAMPTZ NOT NULL,
    paid_at         TIMESTAMPTZ,
    deleted         BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX shop_orders_account ON shop_orders (account_id);

-- One row per order line, as bought: the product's name and unit price at that moment, the line
-- total (unit × quantity), for analysts and for the order's `orderItems`.
CREATE TABLE shop_order_items (
    order_item_id    BIGINT      PRIMARY KEY,
    order_id         TEXT        NOT NULL,
    product_id       BIGINT      NOT NULL,
    product_name     TEXT        NOT NULL,
    quantity         BIGINT      NOT NULL,
    unit_price_fen   BIGINT      NOT NULL,
    total_price_fen  BIGINT      NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX shop_order_items_order ON shop_order_items (order_id);
CREATE INDEX shop_order_items_product ON shop_order_items (product_id);
