//! Projector `meeting_orders`: meeting-ticket orders and one row per order line
//! (docs/read-models.md, "Meeting tickets (seed 000)").

use super::events::{
    MeetingOrderCancelled, MeetingOrderExpired, MeetingOrderPaid, MeetingOrderPlaced,
    MeetingOrderRefundRequired, MeetingPaymentRequested,
};
use super::{bad_event, parse, stream_id};
use crate::db::ProjectionTx;
use crate::execute;
use crate::projector::{ProjectionError, Projector};
use async_trait::async_trait;
use tessera_application::RecordedEvent;
use tessera_domain::Decider;
use tessera_domain::meeting::order::MeetingOrder;

/// Order statuses stored in `mt_orders.status`: the document's Chinese strings (seed 000 §5).
pub mod order_status {
    /// 待支付: placed, stock reserved, waiting for payment.
    pub const PENDING_PAYMENT: &str = "待支付";
    /// 已支付: paid.
    pub const PAID: &str = "已支付";
    /// 已取消: cancelled by the buyer.
    pub const CANCELLED: &str = "已取消";
    /// 已过期: expired unpaid.
    pub const EXPIRED: &str = "已过期";
    /// 待退款: paid too late (the stock was gone): the money must go back.
    pub const REFUND_PENDING: &str = "待退款";
}

/// Writes `mt_orders` and `mt_order_items` from the `meetingOrder` streams.
///
/// Statuses follow the aggregate: `MeetingOrderPlaced` → 待支付; `MeetingOrderPaid` → 已支付 (also
/// from 已取消/已过期: a late payment whose stock could be taken again, `late_payment` set);
/// `MeetingOrderCancelled` → 已取消 and `MeetingOrderExpired` → 已过期, from 待支付 only;
/// `MeetingOrderRefundRequired` → 待退款, except that a paid order stays 已支付 (the refund is for a
/// second payment; it is recorded in the `refund_*` columns all the same).
#[derive(Debug, Clone, Copy, Default)]
pub struct OrdersProjector;

#[async_trait]
impl Projector for OrdersProjector {
    fn name(&self) -> &'static str {
        "meeting_orders"
    }

    fn version(&self) -> u32 {
        1
    }

    fn categories(&self) -> &'static [&'static str] {
        &[MeetingOrder::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &[
            "MeetingOrderPlaced",
            "MeetingPaymentRequested",
            "MeetingOrderPaid",
            "MeetingOrderCancelled",
            "MeetingOrderExpired",
            "MeetingOrderRefundRequired",
        ]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(&mut *tx, sqlx::query("DELETE FROM mt_order_items"))?;
        execute!(&mut *tx, sqlx::query("DELETE FROM mt_orders"))?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        let order_id = stream_id(event)?;
        match event.event_type.as_str() {
            "MeetingOrderPlaced" => order_placed(tx, &order_id, parse(event)?).await?,
            "MeetingPaymentRequested" => {
                let d: MeetingPaymentRequested = parse(event)?;
                // Kept as the JSON text the client receives; JSON null (no parameters) is NULL.
                let info = match &d.third_party_transaction_info {
                    None | Some(serde_json::Value::Null) => None,
                    Some(v) => Some(serde_json::to_string(v).map_err(|e| bad_event(event, e))?),
                };
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE mt_orders SET provider = $1, out_trade_no = $2, \
                         third_party_transaction_info = $3, payment_requested_at = $4, \
                         updated_at = $4 WHERE order_id = $5",
                    )
                    .bind(&d.provider)
                    .bind(&d.out_trade_no)
                    .bind(info.as_deref())
                    .bind(d.requested_at)
                    .bind(&order_id)
                )?;
            }
            "MeetingOrderPaid" => {
                let d: MeetingOrderPaid = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE mt_orders SET status = $1, transaction_id = $2, paid_at = $3, \
                         late_payment = $4, updated_at = $3 WHERE order_id = $5",
                    )
                    .bind(order_status::PAID)
                    .bind(&d.transaction_id)
                    .bind(d.paid_at)
                    .bind(d.late)
                    .bind(&order_id)
                )?;
            }
            "MeetingOrderCancelled" => {
                let d: MeetingOrderCancelled = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE mt_orders SET status = $1, cancelled_at = $2, updated_at = $2 \
                         WHERE order_id = $3 AND status = $4",
                    )
                    .bind(order_status::CANCELLED)
                    .bind(d.cancelled_at)
                    .bind(&order_id)
                    .bind(order_status::PENDING_PAYMENT)
                )?;
            }
            "MeetingOrderExpired" => {
                let d: MeetingOrderExpired = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE mt_orders SET status = $1, expired_at = $2, updated_at = $2 \
                         WHERE order_id = $3 AND status = $4",
                    )
                    .bind(order_status::EXPIRED)
                    .bind(d.expired_at)
                    .bind(&order_id)
                    .bind(order_status::PENDING_PAYMENT)
                )?;
            }
            "MeetingOrderRefundRequired" => {
                let d: MeetingOrderRefundRequired = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE mt_orders SET \
                         transaction_id = CASE WHEN status = $1 THEN transaction_id ELSE $2 END, \
                         status = CASE WHEN status = $1 THEN status ELSE $3 END, \
                         refund_transaction_id = $2, refund_amount_fen = $4, refund_reason = $5, \
                         refund_recorded_at = $6, updated_at = $6 WHERE order_id = $7",
                    )
                    .bind(order_status::PAID)
                    .bind(&d.transaction_id)
                    .bind(order_status::REFUND_PENDING)
                    .bind(d.amount_fen)
                    .bind(&d.reason)
                    .bind(d.recorded_at)
                    .bind(&order_id)
                )?;
            }
            _ => {}
        }
        Ok(())
    }
}

async fn order_placed(
    tx: &mut ProjectionTx,
    order_id: &str,
    d: MeetingOrderPlaced,
) -> Result<(), ProjectionError> {
    let meeting_id = d.meeting_id.to_string();
    let inserted = execute!(
        &mut *tx,
        sqlx::query(
            "INSERT INTO mt_orders (order_id, user_id, meeting_id, payment_method_id, total_fen, \
             status, expires_at, created_at, late_payment, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8) ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(order_id)
        .bind(d.user_id.to_string())
        .bind(&meeting_id)
        .bind(&d.payment_method_id)
        .bind(d.total_fen)
        .bind(order_status::PENDING_PAYMENT)
        .bind(d.expires_at)
        .bind(d.placed_at)
        .bind(false)
    )?;
    if inserted == 0 {
        return Ok(()); // already projected
    }
    // At most a handful of lines per order (the command side caps them), one statement each.
    for (line_no, item) in d.items.iter().enumerate() {
        execute!(
            &mut *tx,
            sqlx::query(
                "INSERT INTO mt_order_items (order_id, line_no, meeting_id, ticket_grade_id, \
                 ticket_grade_name, ticket_price_fen, ticket_amount) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (order_id, line_no) DO NOTHING",
            )
            .bind(order_id)
            .bind(line_no as i64)
            .bind(&meeting_id)
            .bind(item.ticket_grade_id.to_string())
            .bind(&item.ticket_grade_name)
            .bind(item.ticket_price)
            .bind(item.ticket_amount)
        )?;
    }
    Ok(())
}
