//! Projector `plans_orders`: one `plans_orders` row per plan order (docs/read-models.md, "Team
//! plans: orders and wallet"), from the `plansOrder` streams.

use crate::db::ProjectionTx;
use crate::execute;
use crate::projector::{ProjectionError, Projector, parse};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use tessera_application::RecordedEvent;
use tessera_domain::Decider;
use tessera_domain::plans::order::PlanOrder;

/// Writes `plans_orders` from the `plansOrder` streams.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrdersProjector;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Placed {
    order_id: String,
    company_id: String,
    user_id: String,
    order_type: String,
    plan: String,
    member_count: i64,
    months: i64,
    product_id: String,
    product_no: String,
    product_title: String,
    unit_price: i64,
    amount: i64,
    catalogue_version: String,
    period_id: Option<String>,
    proration: Option<Value>,
    degrade_id: Option<String>,
    effective_at: Option<DateTime<Utc>>,
    status: String,
    expires_at: Option<DateTime<Utc>>,
    placed_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Paid {
    order_id: String,
    payment_method: String,
    payment_id: Option<String>,
    period_id: String,
    paid_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Closed {
    order_id: String,
    #[serde(alias = "expiredAt", alias = "cancelledAt", alias = "completedAt")]
    at: DateTime<Utc>,
}

#[async_trait]
impl Projector for OrdersProjector {
    fn name(&self) -> &'static str {
        "plans_orders"
    }

    fn version(&self) -> u32 {
        1
    }

    fn categories(&self) -> &'static [&'static str] {
        &[PlanOrder::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &[
            "PlansOrderPlaced",
            "PlansOrderPaid",
            "PlansOrderExpired",
            "PlansOrderCancelled",
            "PlansOrderCompleted",
        ]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(&mut *tx, sqlx::query("DELETE FROM plans_orders"))?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        let at = event.recorded_at;
        match event.event_type.as_str() {
            "PlansOrderPlaced" => {
                let d: Placed = parse(event)?;
                let proration = d.proration.as_ref().map(Value::to_string);
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "INSERT INTO plans_orders (order_id, company_id, user_id, order_type, \
                         plan, member_count, months, product_id, product_no, product_title, \
                         unit_price, amount, catalogue_version, period_id, proration, degrade_id, \
                         effective_at, status, expires_at, date_create, updated_at) VALUES \
                         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                         $17, $18, $19, $20, $21) ON CONFLICT (order_id) DO NOTHING",
                    )
                    .bind(&d.order_id)
                    .bind(&d.company_id)
                    .bind(&d.user_id)
                    .bind(&d.order_type)
                    .bind(&d.plan)
                    .bind(d.member_count)
                    .bind(d.months)
                    .bind(&d.product_id)
                    .bind(&d.product_no)
                    .bind(&d.product_title)
                    .bind(d.unit_price)
                    .bind(d.amount)
                    .bind(&d.catalogue_version)
                    .bind(&d.period_id)
                    .bind(proration)
                    .bind(&d.degrade_id)
                    .bind(d.effective_at)
                    .bind(&d.status)
                    .bind(d.expires_at)
                    .bind(d.placed_at)
                    .bind(at)
                )?;
            }
            "PlansOrderPaid" => {
                let d: Paid = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE plans_orders SET status = 'paid', payment_method = $1, \
                         payment_id = $2, paid_at = $3, period_id = $4, updated_at = $5 \
                         WHERE order_id = $6",
                    )
                    .bind(&d.payment_method)
                    .bind(&d.payment_id)
                    .bind(d.paid_at)
                    .bind(&d.period_id)
                    .bind(at)
                    .bind(&d.order_id)
                )?;
            }
            t @ ("PlansOrderExpired" | "PlansOrderCancelled" | "PlansOrderCompleted") => {
                let d: Closed = parse(event)?;
                let status = match t {
                    "PlansOrderExpired" => "expired",
                    "PlansOrderCancelled" => "cancelled",
                    _ => "completed",
                };
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE plans_orders SET status = $1, closed_at = $2, updated_at = $3 \
                         WHERE order_id = $4",
                    )
                    .bind(status)
                    .bind(d.at)
                    .bind(at)
                    .bind(&d.order_id)
                )?;
            }
            _ => {}
        }
        Ok(())
    }
}
