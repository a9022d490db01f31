//! Projector `openticket_orders`: orders and one row per ordered seat (docs/read-models.md).

use super::events::{
    LatePaymentReceived, OrderCancelled, OrderCompleted, OrderExpired, OrderPlaced, PaymentFailed,
    PaymentSucceeded, SeatsSold, value_text,
};
use super::sql::{IN_CHUNK, placeholders};
use super::{parse, stream_uuid};
use crate::db::ProjectionTx;
use crate::execute;
use crate::projector::{ProjectionError, Projector};
use async_trait::async_trait;
use sqlx::AssertSqlSafe;
use tessera_application::RecordedEvent;
use tessera_domain::Decider;
use tessera_domain::openticket::{order::Order, seat_session::SeatSession};

/// Writes `ot_orders` and `ot_order_items` from the `order` streams, and the items' `sold_at` from
/// `OpenTicketSeatsSold`. Reads no other projector's tables: event names and session times are
/// joined in by the queries.
///
/// Statuses only move forward (an event applied twice, or a late duplicate, cannot move an order
/// back): `Created` → `Paid` → `Completed`, `Created` → `Cancelled` | `Expired`.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrdersProjector;

#[async_trait]
impl Projector for OrdersProjector {
    fn name(&self) -> &'static str {
        "openticket_orders"
    }

    fn version(&self) -> u32 {
        1
    }

    fn categories(&self) -> &'static [&'static str] {
        &[Order::CATEGORY, SeatSession::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &[
            "OpenTicketOrderPlaced",
            "OpenTicketPaymentSucceeded",
            "OpenTicketPaymentFailed",
            "OpenTicketLatePaymentReceived",
            "OpenTicketOrderCompleted",
            "OpenTicketOrderCancelled",
            "OpenTicketOrderExpired",
            "OpenTicketSeatsSold",
        ]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(&mut *tx, sqlx::query("DELETE FROM ot_order_items"))?;
        execute!(&mut *tx, sqlx::query("DELETE FROM ot_orders"))?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        match event.event_type.as_str() {
            "OpenTicketOrderPlaced" => order_placed(tx, parse(event)?).await,
            "OpenTicketSeatsSold" => seats_sold(tx, parse(event)?).await,
            other => {
                let order_id = stream_uuid(event)?.to_string();
                match other {
                    "OpenTicketPaymentSucceeded" => {
                        let d: PaymentSucceeded = parse(event)?;
                        execute!(
                            &mut *tx,
                            sqlx::query(
                                "UPDATE ot_orders SET \
                                 status = CASE WHEN status = 'Created' THEN 'Paid' ELSE status END, \
                                 payment_status = 'Succeeded', paid_at = $1, updated_at = $1 \
                                 WHERE order_id = $2",
                            )
                            .bind(d.paid_at)
                            .bind(&order_id)
                        )?;
                    }
                    "OpenTicketPaymentFailed" => {
                        let d: PaymentFailed = parse(event)?;
                        execute!(
                            &mut *tx,
                            sqlx::query(
                                "UPDATE ot_orders SET payment_status = 'Failed', \
                                 payment_failure_reason = $1, updated_at = $2 \
                                 WHERE order_id = $3 AND payment_status IN ('Pending', 'Failed')",
                            )
                            .bind(d.reason.as_deref())
                            .bind(d.failed_at)
                            .bind(&order_id)
                        )?;
                    }
                    "OpenTicketLatePaymentReceived" => {
                        let d: LatePaymentReceived = parse(event)?;
                        execute!(
                            &mut *tx,
                            sqlx::query(
                                "UPDATE ot_orders SET payment_status = 'RefundRequired', \
                                 refund_required = $1, paid_at = $2, updated_at = $2 \
                                 WHERE order_id = $3",
                            )
                            .bind(true)
                            .bind(d.paid_at)
                            .bind(&order_id)
                        )?;
                    }
                    "OpenTicketOrderCompleted" => {
                        let d: OrderCompleted = parse(event)?;
                        execute!(
                            &mut *tx,
                            sqlx::query(
                                "UPDATE ot_orders SET status = 'Completed', completed_at = $1, \
                                 updated_at = $1 WHERE order_id = $2 AND status IN ('Created', 'Paid')",
                            )
                            .bind(d.completed_at)
                            .bind(&order_id)
                        )?;
                        for t in &d.ticket_ids {
                            execute!(
                                &mut *tx,
                                sqlx::query(
                                    "UPDATE ot_order_items SET ticket_id = $1 \
                                     WHERE order_id = $2 AND seat_id = $3",
                                )
                                .bind(t.ticket_id.to_string())
                                .bind(&order_id)
                                .bind(&t.seat_id)
                            )?;
                        }
                    }
                    "OpenTicketOrderCancelled" => {
                        let d: OrderCancelled = parse(event)?;
                        execute!(
                            &mut *tx,
                            sqlx::query(
                                "UPDATE ot_orders SET status = 'Cancelled', cancelled_at = $1, \
                                 cancelled_by = $2, updated_at = $1 \
                                 WHERE order_id = $3 AND status = 'Created'",
                            )
                            .bind(d.cancelled_at)
                            .bind(value_text(d.cancelled_by.as_ref()))
                            .bind(&order_id)
                        )?;
                    }
                    "OpenTicketOrderExpired" => {
                        let d: OrderExpired = parse(event)?;
                        execute!(
                            &mut *tx,
                            sqlx::query(
                                "UPDATE ot_orders SET status = 'Expired', expired_at = $1, \
                                 updated_at = $1 WHERE order_id = $2 AND status = 'Created'",
                            )
                            .bind(d.expired_at)
                            .bind(&order_id)
                        )?;
                    }
                    _ => {}
                }
                Ok(())
            }
        }
    }
}

async fn order_placed(tx: &mut ProjectionTx, d: OrderPlaced) -> Result<(), ProjectionError> {
    let order_id = d.order_id.to_string();
    let user_id = d.user_id.to_string();
    let event_id = d.event_id.to_string();
    let session_id = d.session_id.to_string();
    let inserted = execute!(
        &mut *tx,
        sqlx::query(
            "INSERT INTO ot_orders (order_id, user_id, event_id, session_id, status, seat_count, \
             total_amount, currency, payment_id, payment_provider, provider_reference, payment_url, \
             payment_status, refund_required, created_at, expires_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'Created', $5, $6, $7, $8, $9, $10, $11, 'Pending', $12, $13, \
             $14, $13) ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(&order_id)
        .bind(&user_id)
        .bind(&event_id)
        .bind(&session_id)
        .bind(d.items.len() as i64)
        .bind(d.total_amount.amount.to_string())
        .bind(&d.total_amount.currency)
        .bind(d.payment.payment_id.to_string())
        .bind(&d.payment.provider)
        .bind(d.payment.provider_reference.as_deref())
        .bind(d.payment.payment_url.as_deref())
        .bind(false)
        .bind(d.placed_at)
        .bind(d.expires_at)
    )?;
    if inserted == 0 {
        return Ok(()); // already projected
    }
    // At most a handful of seats per order (the lock limit), so one statement per item is fine.
    for (i, item) in d.items.iter().enumerate() {
        execute!(
            &mut *tx,
            sqlx::query(
                "INSERT INTO ot_order_items (order_id, seat_id, item_order, area_id, category_id, \
                 amount, currency, user_id, event_id, session_id, placed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (order_id, seat_id) DO NOTHING",
            )
            .bind(&order_id)
            .bind(&item.seat_id)
            .bind(i as i64)
            .bind(&item.area_id)
            .bind(&item.category_id)
            .bind(item.price.amount.to_string())
            .bind(&item.price.currency)
            .bind(&user_id)
            .bind(&event_id)
            .bind(&session_id)
            .bind(d.placed_at)
        )?;
    }
    Ok(())
}

async fn seats_sold(tx: &mut ProjectionTx, d: SeatsSold) -> Result<(), ProjectionError> {
    const FIXED: usize = 2;
    let order_id = d.order_id.to_string();
    for chunk in d.seat_ids.chunks(IN_CHUNK) {
        let sql = format!(
            "UPDATE ot_order_items SET sold_at = $1 WHERE order_id = $2 AND seat_id IN ({})",
            placeholders(FIXED + 1, chunk.len())
        );
        execute!(&mut *tx, {
            let mut q = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(d.sold_at)
                .bind(order_id.as_str());
            for seat in chunk {
                q = q.bind(seat.as_str());
            }
            q
        })?;
    }
    Ok(())
}
