//! Projector `shop_orders`: `shop_orders` and `shop_order_items` from the `shopOrder` streams
//! (docs/read-models.md, "Shop (seed 002)"). Product stock is `shop_catalog`'s
//! (`ShopProductStockReserved`/`Released` in [`super::CatalogProjector`]).

use super::{bad_event, int, parse};
use crate::db::ProjectionTx;
use crate::execute;
use crate::projector::{ProjectionError, Projector};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tessera_application::RecordedEvent;
use tessera_domain::Decider;
use tessera_domain::shared::Money;
use tessera_domain::shop::order::ShopOrder;

/// Writes `shop_orders` (one row per order) and `shop_order_items` (one per line). Deleted orders
/// stay, flagged `deleted`.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrdersProjector;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    order_item_id: u64,
    product_id: u64,
    product_name: String,
    quantity: u64,
    unit_price: Money,
    total_price: Money,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Placed {
    order_id: String,
    user_id: u64,
    account_id: String,
    lines: Vec<Line>,
    total_amount: Money,
    payment_method: String,
    expires_at: DateTime<Utc>,
    placed_at: DateTime<Utc>,
}

/// Every later order event: its id, payment fields when it has them, and its instant under
/// whichever name it stores it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Change {
    order_id: String,
    #[serde(default)]
    payment_method: Option<String>,
    #[serde(default)]
    payment_id: Option<String>,
    #[serde(default)]
    amount: Option<Money>,
    #[serde(alias = "paidAt")]
    #[serde(alias = "recordedAt")]
    #[serde(alias = "changedAt")]
    #[serde(alias = "cancelledAt")]
    #[serde(alias = "expiredAt")]
    #[serde(alias = "refundedAt")]
    #[serde(alias = "deletedAt")]
    at: DateTime<Utc>,
}

fn fen(event: &RecordedEvent, money: &Money) -> Result<i64, ProjectionError> {
    money.to_minor().map_err(|e| bad_event(event, e))
}

#[async_trait]
impl Projector for OrdersProjector {
    fn name(&self) -> &'static str {
        "shop_orders"
    }

    fn version(&self) -> u32 {
        1
    }

    fn categories(&self) -> &'static [&'static str] {
        &[ShopOrder::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &[
            "ShopOrderPlaced",
            "ShopOrderPaid",
            "ShopOrderPaymentNeedsRefund",
            "ShopOrderPaymentChanged",
            "ShopOrderCancelled",
            "ShopOrderExpired",
            "ShopOrderRefunded",
            "ShopOrderDeleted",
        ]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(&mut *tx, sqlx::query("DELETE FROM shop_orders"))?;
        execute!(&mut *tx, sqlx::query("DELETE FROM shop_order_items"))?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        if event.event_type == "ShopOrderPlaced" {
            let d: Placed = parse(event)?;
            execute!(
                &mut *tx,
                sqlx::query(
                    "INSERT INTO shop_orders (order_id, user_id, account_id, total_fen, status, \
                     payment_method, expires_at, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 0, $5, $6, $7, $7) ON CONFLICT (order_id) DO NOTHING",
                )
                .bind(&d.order_id)
                .bind(int(event, d.user_id)?)
                .bind(&d.account_id)
                .bind(fen(event, &d.total_amount)?)
                .bind(&d.payment_method)
                .bind(d.expires_at)
                .bind(d.placed_at)
            )?;
            for l in &d.lines {
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "INSERT INTO shop_order_items (order_item_id, order_id, product_id, \
                         product_name, quantity, unit_price_fen, total_price_fen, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                         ON CONFLICT (order_item_id) DO NOTHING",
                    )
                    .bind(int(event, l.order_item_id)?)
                    .bind(&d.order_id)
                    .bind(int(event, l.product_id)?)
                    .bind(&l.product_name)
                    .bind(int(event, l.quantity)?)
                    .bind(fen(event, &l.unit_price)?)
                    .bind(fen(event, &l.total_price)?)
                    .bind(d.placed_at)
                )?;
            }
            return Ok(());
        }
        let d: Change = parse(event)?;
        match event.event_type.as_str() {
            "ShopOrderPaid" => execute!(
                &mut *tx,
                sqlx::query(
                    "UPDATE shop_orders SET status = 1, payment_method = $1, payment_id = $2, \
                     paid_at = $3, updated_at = $3 WHERE order_id = $4",
                )
                .bind(d.payment_method.unwrap_or_default())
                .bind(&d.payment_id)
                .bind(d.at)
                .bind(&d.order_id)
            )?,
            "ShopOrderPaymentNeedsRefund" => {
                let amount = d
                    .amount
                    .as_ref()
                    .ok_or_else(|| bad_event(event, "no amount"))?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE shop_orders SET refund_due_fen = refund_due_fen + $1 \
                         WHERE order_id = $2",
                    )
                    .bind(fen(event, amount)?)
                    .bind(&d.order_id)
                )?
            }
            "ShopOrderPaymentChanged" => execute!(
                &mut *tx,
                sqlx::query(
                    "UPDATE shop_orders SET payment_method = $1, payment_id = $2, updated_at = $3 \
                     WHERE order_id = $4",
                )
                .bind(d.payment_method.unwrap_or_default())
                .bind(&d.payment_id)
                .bind(d.at)
                .bind(&d.order_id)
            )?,
            t @ ("ShopOrderCancelled" | "ShopOrderExpired" | "ShopOrderRefunded") => {
                let status: i32 = match t {
                    "ShopOrderCancelled" => 2,
                    "ShopOrderExpired" => 3,
                    _ => 4,
                };
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE shop_orders SET status = $1, updated_at = $2 WHERE order_id = $3",
                    )
                    .bind(status)
                    .bind(d.at)
                    .bind(&d.order_id)
                )?
            }
            "ShopOrderDeleted" => execute!(
                &mut *tx,
                sqlx::query(
                    "UPDATE shop_orders SET deleted = TRUE, updated_at = $1 WHERE order_id = $2",
                )
                .bind(d.at)
                .bind(&d.order_id)
            )?,
            _ => return Ok(()),
        };
        Ok(())
    }
}
