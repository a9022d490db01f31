//! Projectors `plans_payments` (`plans_payments`, from the `plansPayment` streams) and
//! `plans_recharges` (`plans_recharges`, from the `plansRecharge` streams), and
//! [`PaymentsQueries`] over them (docs/read-models.md, "Team plans: payments and recharges").
//! Money is whole CNY fen; instants are UTC.

use crate::db::{ProjectionTx, ReadModelDb};
use crate::execute;
use crate::projector::{ProjectionError, Projector, parse};
use crate::query::QueryError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use tessera_application::RecordedEvent;
use tessera_domain::Decider;
use tessera_domain::plans::plan_payment::PlanPayment;
use tessera_domain::plans::recharge::Recharge;

/// Writes one row per payment.
#[derive(Debug, Clone, Copy, Default)]
pub struct PaymentsProjector;

/// Writes one row per recharge.
#[derive(Debug, Clone, Copy, Default)]
pub struct RechargesProjector;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Opened {
    payment_id: String,
    company_id: String,
    user_id: String,
    purpose: Value,
    method: String,
    amount_fen: i64,
    out_trade_no: String,
    code_url: Option<String>,
    expires_at: DateTime<Utc>,
    opened_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Succeeded {
    payment_id: String,
    transaction_id: String,
    source: Value,
    succeeded_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delivered {
    payment_id: String,
    delivered_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Closed {
    payment_id: String,
    reason: String,
    closed_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RechargeCreated {
    recharge_id: String,
    company_id: String,
    user_id: String,
    amount_fen: i64,
    extra_amount_fen: i64,
    discount_id: Option<String>,
    offer_version: String,
    method: String,
    payment_id: String,
    created_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RechargePaid {
    recharge_id: String,
    paid_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RechargeExpired {
    recharge_id: String,
    expired_at: DateTime<Utc>,
}

#[async_trait]
impl Projector for PaymentsProjector {
    fn name(&self) -> &'static str {
        "plans_payments"
    }

    fn version(&self) -> u32 {
        1
    }

    fn categories(&self) -> &'static [&'static str] {
        &[PlanPayment::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &[
            "PlansPaymentOpened",
            "PlansPaymentSucceeded",
            "PlansPaymentDelivered",
            "PlansPaymentClosed",
        ]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(&mut *tx, sqlx::query("DELETE FROM plans_payments"))?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        match event.event_type.as_str() {
            "PlansPaymentOpened" => {
                let d: Opened = parse(event)?;
                let kind = d.purpose["kind"].as_str().unwrap_or_default().to_owned();
                let purpose_id = d.purpose["orderId"]
                    .as_str()
                    .or_else(|| d.purpose["rechargeId"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "INSERT INTO plans_payments (payment_id, company_id, user_id, \
                         purpose_kind, purpose_id, method, amount_fen, out_trade_no, code_url, \
                         status, expires_at, opened_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
                         $9, 'open', $10, $11) ON CONFLICT (payment_id) DO NOTHING",
                    )
                    .bind(&d.payment_id)
                    .bind(&d.company_id)
                    .bind(&d.user_id)
                    .bind(kind)
                    .bind(purpose_id)
                    .bind(&d.method)
                    .bind(d.amount_fen)
                    .bind(&d.out_trade_no)
                    .bind(&d.code_url)
                    .bind(d.expires_at)
                    .bind(d.opened_at)
                )?;
            }
            "PlansPaymentSucceeded" => {
                let d: Succeeded = parse(event)?;
                let confirmed_by = d.source["adminId"].as_str().map(str::to_owned);
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE plans_payments SET status = 'succeeded', transaction_id = $2, \
                         confirmed_by = $3, succeeded_at = $4 WHERE payment_id = $1",
                    )
                    .bind(&d.payment_id)
                    .bind(&d.transaction_id)
                    .bind(confirmed_by)
                    .bind(d.succeeded_at)
                )?;
            }
            "PlansPaymentDelivered" => {
                let d: Delivered = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE plans_payments SET delivered_at = $2 WHERE payment_id = $1"
                    )
                    .bind(&d.payment_id)
                    .bind(d.delivered_at)
                )?;
            }
            "PlansPaymentClosed" => {
                let d: Closed = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE plans_payments SET status = $2, closed_at = $3 \
                         WHERE payment_id = $1",
                    )
                    .bind(&d.payment_id)
                    .bind(&d.reason)
                    .bind(d.closed_at)
                )?;
            }
            _ => {}
        }
        Ok(())
    }
}

#[async_trait]
impl Projector for RechargesProjector {
    fn name(&self) -> &'static str {
        "plans_recharges"
    }

    fn version(&self) -> u32 {
        1
    }

    fn categories(&self) -> &'static [&'static str] {
        &[Recharge::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &[
            "PlansRechargeCreated",
            "PlansRechargePaid",
            "PlansRechargeExpired",
        ]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(&mut *tx, sqlx::query("DELETE FROM plans_recharges"))?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        match event.event_type.as_str() {
            "PlansRechargeCreated" => {
                let d: RechargeCreated = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "INSERT INTO plans_recharges (recharge_id, company_id, user_id, \
                         amount_fen, extra_amount_fen, discount_id, offer_version, method, \
                         payment_id, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, \
                         $8, $9, 'pending', $10) ON CONFLICT (recharge_id) DO NOTHING",
                    )
                    .bind(&d.recharge_id)
                    .bind(&d.company_id)
                    .bind(&d.user_id)
                    .bind(d.amount_fen)
                    .bind(d.extra_amount_fen)
                    .bind(&d.discount_id)
                    .bind(&d.offer_version)
                    .bind(&d.method)
                    .bind(&d.payment_id)
                    .bind(d.created_at)
                )?;
            }
            "PlansRechargePaid" => {
                let d: RechargePaid = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE plans_recharges SET status = 'paid', paid_at = $2 \
                         WHERE recharge_id = $1",
                    )
                    .bind(&d.recharge_id)
                    .bind(d.paid_at)
                )?;
            }
            "PlansRechargeExpired" => {
                let d: RechargeExpired = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE plans_recharges SET status = 'expired', expired_at = $2 \
                         WHERE recharge_id = $1",
                    )
                    .bind(&d.recharge_id)
                    .bind(d.expired_at)
                )?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// A recharge as `plans_recharges` holds it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RechargeRow {
    /// 24 hex.
    pub recharge_id: String,
    /// The company.
    pub company_id: String,
    /// The owner who asked.
    pub user_id: String,
    /// Paid credit, CNY fen.
    pub amount_fen: i64,
    /// Granted credit, CNY fen.
    pub extra_amount_fen: i64,
    /// The tier applied.
    pub discount_id: Option<String>,
    /// The offer version.
    pub offer_version: String,
    /// `alipay`, `wxpay` or `banktrans`.
    pub method: String,
    /// Its payment.
    pub payment_id: String,
    /// `pending`, `paid` or `expired`.
    pub status: String,
    /// Asked (UTC).
    pub created_at: DateTime<Utc>,
    /// Paid (UTC).
    pub paid_at: Option<DateTime<Utc>>,
    /// Expired (UTC).
    pub expired_at: Option<DateTime<Utc>>,
}

/// A payment as `plans_payments` holds it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PaymentRow {
    /// 24 hex.
    pub payment_id: String,
    /// The company.
    pub company_id: String,
    /// `order` or `recharge`.
    pub purpose_kind: String,
    /// The order or recharge id.
    pub purpose_id: String,
    /// `alipay`, `wxpay` or `banktrans`.
    pub method: String,
    /// CNY fen.
    pub amount_fen: i64,
    /// `open`, `succeeded`, `expired` or `superseded`.
    pub status: String,
    /// The provider's transaction id, once paid.
    pub transaction_id: Option<String>,
    /// When it was delivered to its purpose (UTC).
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Queries over `plans_payments` and `plans_recharges` (the read pool).
#[derive(Debug, Clone)]
pub struct PaymentsQueries {
    db: ReadModelDb,
}

/// The columns of [`RechargeRow`], as a literal for `concat!`.
macro_rules! recharge_columns {
    () => {
        "recharge_id, company_id, user_id, amount_fen, extra_amount_fen, discount_id, \
         offer_version, method, payment_id, status, created_at, paid_at, expired_at"
    };
}

/// Run `$query` (built once per backend, since sqlx queries are typed by database) with `$fetch`
/// on the read pool.
macro_rules! on_reader {
    ($db:expr, $fetch:ident, $query:expr) => {
        match $db {
            ReadModelDb::Sqlite { reader, .. } => $query.$fetch(reader).await,
            ReadModelDb::Postgres(pool) => $query.$fetch(pool).await,
        }
    };
}

impl PaymentsQueries {
    /// Queries over `db`.
    pub fn new(db: ReadModelDb) -> Self {
        Self { db }
    }

    /// One page (`page` from 1, `pagesize` rows) of the company's recharges, newest first (ties
    /// by id), and how many there are in all.
    ///
    /// Errors: [`QueryError`] when the database fails.
    pub async fn recharges(
        &self,
        company_id: &str,
        page: u32,
        pagesize: u32,
    ) -> Result<(Vec<RechargeRow>, i64), QueryError> {
        let offset = i64::from(page.saturating_sub(1)) * i64::from(pagesize);
        let rows = on_reader!(
            &self.db,
            fetch_all,
            sqlx::query_as::<_, RechargeRow>(concat!(
                "SELECT ",
                recharge_columns!(),
                " FROM plans_recharges WHERE company_id = $1 \
                 ORDER BY created_at DESC, recharge_id DESC LIMIT $2 OFFSET $3"
            ))
            .bind(company_id)
            .bind(i64::from(pagesize))
            .bind(offset)
        )?;
        let total = on_reader!(
            &self.db,
            fetch_one,
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM plans_recharges WHERE company_id = $1"
            )
            .bind(company_id)
        )?;
        Ok((rows, total))
    }

    /// One recharge of the company.
    ///
    /// Errors: [`QueryError`] when the database fails.
    pub async fn recharge(
        &self,
        company_id: &str,
        recharge_id: &str,
    ) -> Result<Option<RechargeRow>, QueryError> {
        Ok(on_reader!(
            &self.db,
            fetch_optional,
            sqlx::query_as::<_, RechargeRow>(concat!(
                "SELECT ",
                recharge_columns!(),
                " FROM plans_recharges WHERE company_id = $1 AND recharge_id = $2"
            ))
            .bind(company_id)
            .bind(recharge_id)
        )?)
    }

    /// One payment.
    ///
    /// Errors: [`QueryError`] when the database fails.
    pub async fn payment(&self, payment_id: &str) -> Result<Option<PaymentRow>, QueryError> {
        Ok(on_reader!(
            &self.db,
            fetch_optional,
            sqlx::query_as::<_, PaymentRow>(
                "SELECT payment_id, company_id, purpose_kind, purpose_id, method, amount_fen, \
                 status, transaction_id, delivered_at FROM plans_payments WHERE payment_id = $1",
            )
            .bind(payment_id)
        )?)
    }
}
