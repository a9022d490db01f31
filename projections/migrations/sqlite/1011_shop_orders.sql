-- Shop orders (seed 002 "订单 API"), written by the projector `shop_orders` from the `shopOrder`
-- streams (docs/read-models.md, "Shop (seed 002)", documents every column). Conventions as in
-- 1010_shop.sql: money INTEGER fen, instants RFC 3339 UTC text, booleans 0/1, no foreign keys.
-- Order ids are the events' (`ORDER…`), order-item ids the numbers `ShopOrderPlaced` carries, so
-- a rebuild gives every row the same ids. Product stock stays in `shop_products` (its projector
-- follows `ShopProductStockReserved`/`Released`), so a rebuild of one projector never half-owns
-- a table of the other.

-- One row per order; `status` 0 unpaid, 1 paid, 2 cancelled, 3 expired, 4 refunded
-- (docs/shop.md, "Orders"). `deleted` hides it from the routes; the row stays for analysts.
-- `refund_due_fen` sums payments that arrived when the order could no longer be paid.
CREATE TABLE shop_orders (
    order_id        TEXT        PRIMARY KEY,
    user_id         INTEGER     NOT NULL,
    account_id      TEXT        NOT NULL,
    total_fen       INTEGER     NOT NULL,
    status          INTEGER     NOT NULL,
    payment_method  TEXT        NOT NULL,
    payment_id      TEXT,
    refund_due_fen  INTEGER     NOT NULL DEFAULT 0,
    expires_at      TEXT        NOT NULL,
    paid_at         TEXT,
    deleted         BOOLEAN     NOT NULL DEFAULT 0,
    created_at      TEXT        NOT NULL,
    updated_at      TEXT        NOT NULL
);
CREATE INDEX shop_orders_account ON shop_orders (account_id);

-- One row per order line, as bought: the product's name and unit price at that moment, the line
-- total (unit × quantity), for analysts and for the order's `orderItems`.
CREATE TABLE shop_order_items (
    order_item_id    INTEGER     PRIMARY KEY,
    order_id         TEXT        NOT NULL,
    product_id       INTEGER     NOT NULL,
    product_name     TEXT        NOT NULL,
    quantity         INTEGER     NOT NULL,
    unit_price_fen   INTEGER     NOT NULL,
    total_price_fen  INTEGER     NOT NULL,
    created_at       TEXT        NOT NULL
);
CREATE INDEX shop_order_items_order ON shop_order_items (order_id);
CREATE INDEX shop_order_items_product ON shop_order_items (product_id);
