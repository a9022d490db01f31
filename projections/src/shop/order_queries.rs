//! The shop's order queries (seed 002 "订单 API") over `shop_orders` and `shop_order_items`, with
//! the buyer from `shop_accounts` and each line's current product from `shop_products` joined in.
//! Deleted orders are not returned; money is in fen, instants in UTC.

use super::ShopQueries;
use crate::query::QueryError;
use chrono::{DateTime, Utc};

/// An order with its buyer's shop fields.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrderRow {
    /// `ORDER…`.
    pub order_id: String,
    /// The buyer's shop `user_id`.
    pub user_id: i64,
    /// The buyer's identity user (UUID text).
    pub account_id: String,
    /// Total in fen.
    pub total_fen: i64,
    /// 0 unpaid, 1 paid, 2 cancelled, 3 expired, 4 refunded.
    pub status: i32,
    /// As written by the buyer or an admin.
    pub payment_method: String,
    /// Payment id, once paid or set by an admin.
    pub payment_id: Option<String>,
    /// Placed (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
    /// The buyer's nickname (none when unset or erased).
    pub nickname: Option<String>,
    /// The buyer's email (none when unset or erased).
    pub email: Option<String>,
}

/// One order line, as bought, with the product as it is now (none when never projected).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrderItemRow {
    /// `order_item_id`.
    pub order_item_id: i64,
    /// Its order.
    pub order_id: String,
    /// The product.
    pub product_id: i64,
    /// The product's name when bought.
    pub product_name: String,
    /// Units.
    pub quantity: i64,
    /// Unit price when bought, fen.
    pub unit_price_fen: i64,
    /// Line total, fen.
    pub total_price_fen: i64,
    /// The product's name now (also when deleted).
    pub current_name: Option<String>,
    /// The product's price now, fen.
    pub current_price_fen: Option<i64>,
}

const ORDER_COLUMNS: &str = "SELECT o.order_id, o.user_id, o.account_id, o.total_fen, o.status, \
     o.payment_method, o.payment_id, o.created_at, o.updated_at, \
     a.nickname AS nickname, a.email AS email \
     FROM shop_orders o LEFT JOIN shop_accounts a ON a.account_id = o.account_id \
     WHERE NOT o.deleted";

const ITEM_COLUMNS: &str = "SELECT i.order_item_id, i.order_id, i.product_id, i.product_name, \
     i.quantity, i.unit_price_fen, i.total_price_fen, p.name AS current_name, \
     p.price_fen AS current_price_fen \
     FROM shop_order_items i JOIN shop_orders o ON o.order_id = i.order_id \
     LEFT JOIN shop_products p ON p.product_id = i.product_id WHERE NOT o.deleted";

impl ShopQueries {
    /// Every order not deleted (only `account_id`'s when given), oldest first.
    ///
    /// Errors: database failures.
    pub async fn orders(&self, account_id: Option<&str>) -> Result<Vec<OrderRow>, QueryError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{ORDER_COLUMNS} AND ($1 IS NULL OR o.account_id = $1) ORDER BY o.created_at, o.order_id"
        ));
        Ok(fetch_all!(
            &self.db,
            sqlx::query_as::<_, OrderRow>(sql).bind(account_id.map(str::to_owned))
        )?)
    }

    /// The order `order_id`, unless deleted.
    ///
    /// Errors: database failures.
    pub async fn order(&self, order_id: &str) -> Result<Option<OrderRow>, QueryError> {
        let sql = sqlx::AssertSqlSafe(format!("{ORDER_COLUMNS} AND o.order_id = $1"));
        Ok(fetch_optional!(
            &self.db,
            sqlx::query_as::<_, OrderRow>(sql).bind(order_id.to_owned())
        )?)
    }

    /// The lines of every order not deleted (only `account_id`'s when given; only `order_id`'s
    /// when given), by `order_item_id`.
    ///
    /// Errors: database failures.
    pub async fn order_items(
        &self,
        account_id: Option<&str>,
        order_id: Option<&str>,
    ) -> Result<Vec<OrderItemRow>, QueryError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{ITEM_COLUMNS} AND ($1 IS NULL OR o.account_id = $1) \
             AND ($2 IS NULL OR i.order_id = $2) ORDER BY i.order_item_id"
        ));
        Ok(fetch_all!(
            &self.db,
            sqlx::query_as::<_, OrderItemRow>(sql)
                .bind(account_id.map(str::to_owned))
                .bind(order_id.map(str::to_owned))
        )?)
    }
}
