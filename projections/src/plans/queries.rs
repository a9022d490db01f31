//! The plans queries (seed 004, part 1) over `plans_companies`, `plans_members` and
//! `plans_status`, through the read pool. They return plain rows; the api shapes them and reads
//! time-dependent states against the clock. Membership is checked by the application against the
//! event store before any of these is read.

use crate::db::ReadModelDb;
use crate::query::QueryError;
use chrono::{DateTime, Utc};

macro_rules! fetch_all {
    ($db:expr, $query:expr) => {
        match $db {
            $crate::db::ReadModelDb::Sqlite { reader, .. } => $query.fetch_all(reader).await,
            $crate::db::ReadModelDb::Postgres(pool) => $query.fetch_all(pool).await,
        }
    };
}

macro_rules! fetch_optional {
    ($db:expr, $query:expr) => {
        match $db {
            $crate::db::ReadModelDb::Sqlite { reader, .. } => $query.fetch_optional(reader).await,
            $crate::db::ReadModelDb::Postgres(pool) => $query.fetch_optional(pool).await,
        }
    };
}

/// A company.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CompanyRow {
    /// 24-hex id.
    pub company_id: String,
    /// Name.
    pub name: String,
    /// The creator's plans `user_id`.
    pub owner_id: String,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
}

/// A member of a company.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MemberRow {
    /// The company.
    pub company_id: String,
    /// Plans `user_id` (24 hex).
    pub user_id: String,
    /// The identity user (UUID text).
    pub account_id: String,
    /// `owner` or `member`.
    pub role: String,
    /// Joined (UTC).
    pub joined_at: DateTime<Utc>,
}

/// A company's plan status as its events recorded it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StatusRow {
    /// The company.
    pub company_id: String,
    /// The running trial, if not ended by an event.
    pub trial_id: Option<String>,
    /// Its plan.
    pub trial_plan: Option<String>,
    /// Who started it.
    pub trial_user_id: Option<String>,
    /// Its start.
    pub trial_start: Option<DateTime<Utc>>,
    /// Its planned end.
    pub trial_end: Option<DateTime<Utc>>,
    /// The latest paid period.
    pub paid_id: Option<String>,
    /// Its plan.
    pub paid_plan: Option<String>,
    /// Who bought it.
    pub paid_user_id: Option<String>,
    /// Members bought.
    pub paid_members: Option<i64>,
    /// Its start.
    pub paid_start: Option<DateTime<Utc>>,
    /// Its end.
    pub paid_end: Option<DateTime<Utc>>,
    /// Its grace end.
    pub paid_grace_end: Option<DateTime<Utc>>,
    /// `actived`, `overdue` or `expired`, as recorded.
    pub paid_status: Option<String>,
    /// Pro was trialled.
    pub trialled_pro: bool,
    /// Ent was trialled.
    pub trialled_ent: bool,
    /// Pro was bought.
    pub bought_pro: bool,
    /// Ent was bought.
    pub bought_ent: bool,
}

/// A certification application as `plans_certifications` holds it (personal data masked).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CertificationRow {
    /// `authId` (24 hex).
    pub auth_id: String,
    /// The company.
    pub company_id: String,
    /// `pro` or `ent`.
    pub plan: String,
    /// The applicant's plans `user_id`.
    pub user_id: String,
    /// `posted`, `cancelled`, `reposted`, `accepted`, `rejected` or `expired`.
    pub status: String,
    /// First submitted (UTC).
    pub date_apply: DateTime<Utc>,
    /// Versions submitted.
    pub versions: i64,
    /// The latest `contact`, masked (JSON text).
    pub contact_masked: String,
    /// The latest `team` (JSON text, `null` when not given).
    pub team: String,
    /// The latest `enterprise` (JSON text, `null` when not given).
    pub enterprise: String,
}

const CERT_COLUMNS: &str = "SELECT auth_id, company_id, plan, user_id, status, date_apply, \
    versions, contact_masked, team, enterprise FROM plans_certifications";

/// Reads the plans read models. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PlansQueries {
    db: ReadModelDb,
}

impl PlansQueries {
    /// Queries over `db`.
    pub fn new(db: ReadModelDb) -> Self {
        Self { db }
    }

    /// The company `company_id`.
    ///
    /// Errors: database failures.
    pub async fn company(&self, company_id: &str) -> Result<Option<CompanyRow>, QueryError> {
        Ok(fetch_optional!(
            &self.db,
            sqlx::query_as::<_, CompanyRow>(
                "SELECT company_id, name, owner_id, created_at FROM plans_companies \
                 WHERE company_id = $1",
            )
            .bind(company_id)
        )?)
    }

    /// The members of `company_id`, by join time then id.
    ///
    /// Errors: database failures.
    pub async fn members(&self, company_id: &str) -> Result<Vec<MemberRow>, QueryError> {
        Ok(fetch_all!(
            &self.db,
            sqlx::query_as::<_, MemberRow>(
                "SELECT company_id, user_id, account_id, role, joined_at FROM plans_members \
                 WHERE company_id = $1 ORDER BY joined_at, user_id",
            )
            .bind(company_id)
        )?)
    }

    /// The plan status of `company_id`; `None` before its first trial or paid period.
    ///
    /// Errors: database failures.
    pub async fn status(&self, company_id: &str) -> Result<Option<StatusRow>, QueryError> {
        Ok(fetch_optional!(
            &self.db,
            sqlx::query_as::<_, StatusRow>(
                "SELECT company_id, trial_id, trial_plan, trial_user_id, trial_start, trial_end, \
                 paid_id, paid_plan, paid_user_id, paid_members, paid_start, paid_end, \
                 paid_grace_end, paid_status, trialled_pro, trialled_ent, bought_pro, bought_ent \
                 FROM plans_status WHERE company_id = $1",
            )
            .bind(company_id)
        )?)
    }

    /// Every certification application of `company_id`, oldest first.
    ///
    /// Errors: database failures.
    pub async fn certifications(
        &self,
        company_id: &str,
    ) -> Result<Vec<CertificationRow>, QueryError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{CERT_COLUMNS} WHERE company_id = $1 ORDER BY date_apply, auth_id"
        ));
        Ok(fetch_all!(
            &self.db,
            sqlx::query_as::<_, CertificationRow>(sql).bind(company_id)
        )?)
    }

    /// Applications with `status` (every one when `None`), oldest first, at most `limit` from
    /// `offset`.
    ///
    /// Errors: database failures.
    pub async fn certifications_by_status(
        &self,
        status: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<CertificationRow>, QueryError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{CERT_COLUMNS} WHERE (CAST($1 AS TEXT) IS NULL OR status = $2) \
             ORDER BY date_apply, auth_id LIMIT $3 OFFSET $4"
        ));
        Ok(fetch_all!(
            &self.db,
            sqlx::query_as::<_, CertificationRow>(sql)
                .bind(status)
                .bind(status)
                .bind(limit)
                .bind(offset)
        )?)
    }
}

/// A plan order as `plans_orders` holds it (money in CNY fen).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrderRow {
    /// `orderId` (24 hex).
    pub order_id: String,
    /// The company.
    pub company_id: String,
    /// The owner who placed it.
    pub user_id: String,
    /// `newly`, `renewal`, `upgrade`, `degrade` or `patch`.
    pub order_type: String,
    /// The plan after the order.
    pub plan: String,
    /// Members after the order.
    pub member_count: i64,
    /// Months bought.
    pub months: i64,
    /// The product sold.
    pub product_id: String,
    /// Its code.
    pub product_no: String,
    /// Its title.
    pub product_title: String,
    /// Per member per month, fen.
    pub unit_price: i64,
    /// The order's price, fen.
    pub amount: i64,
    /// The catalogue version of the prices.
    pub catalogue_version: String,
    /// The period renewed, upgraded, degraded, or started by the payment.
    pub period_id: Option<String>,
    /// How an upgrade was priced (JSON text).
    pub proration: Option<String>,
    /// A degrade's id.
    pub degrade_id: Option<String>,
    /// When a degrade takes effect (UTC).
    pub effective_at: Option<DateTime<Utc>>,
    /// `pending`, `paid`, `expired`, `cancelled`, `scheduled` or `completed`, as recorded.
    pub status: String,
    /// A pending order's payment deadline (UTC).
    pub expires_at: Option<DateTime<Utc>>,
    /// How it was paid.
    pub payment_method: Option<String>,
    /// The external payment.
    pub payment_id: Option<String>,
    /// When it was paid (UTC).
    pub paid_at: Option<DateTime<Utc>>,
    /// When it expired, was cancelled or completed (UTC).
    pub closed_at: Option<DateTime<Utc>>,
    /// Placed (UTC).
    pub date_create: DateTime<Utc>,
}

/// A company's wallet balance (CNY fen).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WalletRow {
    /// The company.
    pub company_id: String,
    /// Paid credit, fen.
    pub paid: i64,
    /// Granted credit, fen.
    pub granted: i64,
}

/// One credit or spend of a wallet (signed fen: credits positive, spends negative).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LedgerRow {
    /// The entry (`_id`).
    pub entry_id: String,
    /// The company.
    pub company_id: String,
    /// `recharge`, `grant`, `refund` or `order`.
    pub kind: String,
    /// Paid plus granted, signed fen.
    pub amount: i64,
    /// Paid credit moved, signed fen.
    pub paid_amount: i64,
    /// Granted credit moved, signed fen.
    pub granted_amount: i64,
    /// The recharge, payment or grant credited.
    pub reference: Option<String>,
    /// The order paid.
    pub order_id: Option<String>,
    /// A grant's reason.
    pub reason: Option<String>,
    /// Paid credit after, fen.
    pub paid_after: i64,
    /// Granted credit after, fen.
    pub granted_after: i64,
    /// When (UTC).
    pub at: DateTime<Utc>,
}

const ORDER_COLUMNS: &str = "SELECT order_id, company_id, user_id, order_type, plan, \
    member_count, months, product_id, product_no, product_title, unit_price, amount, \
    catalogue_version, period_id, proration, degrade_id, effective_at, status, expires_at, \
    payment_method, payment_id, paid_at, closed_at, date_create FROM plans_orders";

const LEDGER_COLUMNS: &str = "SELECT entry_id, company_id, kind, amount, paid_amount, \
    granted_amount, reference, order_id, reason, paid_after, granted_after, at \
    FROM plans_wallet_ledger";

#[derive(sqlx::FromRow)]
struct Count {
    n: i64,
}

impl PlansQueries {
    /// The orders of `company_id`, newest first, at most `limit` from `offset`, and how many
    /// there are in all.
    ///
    /// Errors: database failures.
    pub async fn orders(
        &self,
        company_id: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<OrderRow>, i64), QueryError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{ORDER_COLUMNS} WHERE company_id = $1 \
             ORDER BY date_create DESC, order_id DESC LIMIT $2 OFFSET $3"
        ));
        let rows = fetch_all!(
            &self.db,
            sqlx::query_as::<_, OrderRow>(sql)
                .bind(company_id)
                .bind(limit)
                .bind(offset)
        )?;
        let count = fetch_optional!(
            &self.db,
            sqlx::query_as::<_, Count>(
                "SELECT COUNT(*) AS n FROM plans_orders WHERE company_id = $1"
            )
            .bind(company_id)
        )?;
        Ok((rows, count.map_or(0, |c| c.n)))
    }

    /// Order `order_id` of `company_id`.
    ///
    /// Errors: database failures.
    pub async fn order(
        &self,
        company_id: &str,
        order_id: &str,
    ) -> Result<Option<OrderRow>, QueryError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{ORDER_COLUMNS} WHERE company_id = $1 AND order_id = $2"
        ));
        Ok(fetch_optional!(
            &self.db,
            sqlx::query_as::<_, OrderRow>(sql)
                .bind(company_id)
                .bind(order_id)
        )?)
    }

    /// The company's scheduled degrade order, if any.
    ///
    /// Errors: database failures.
    pub async fn scheduled_degrade(
        &self,
        company_id: &str,
    ) -> Result<Option<OrderRow>, QueryError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{ORDER_COLUMNS} WHERE company_id = $1 AND order_type = 'degrade' \
             AND status = 'scheduled' ORDER BY date_create DESC LIMIT 1"
        ));
        Ok(fetch_optional!(
            &self.db,
            sqlx::query_as::<_, OrderRow>(sql).bind(company_id)
        )?)
    }

    /// The wallet balance of `company_id` (`None`: never credited).
    ///
    /// Errors: database failures.
    pub async fn wallet(&self, company_id: &str) -> Result<Option<WalletRow>, QueryError> {
        Ok(fetch_optional!(
            &self.db,
            sqlx::query_as::<_, WalletRow>(
                "SELECT company_id, paid, granted FROM plans_wallets WHERE company_id = $1"
            )
            .bind(company_id)
        )?)
    }

    /// The wallet ledger of `company_id`, newest first, at most `limit` from `offset`, and how
    /// many entries there are in all.
    ///
    /// Errors: database failures.
    pub async fn ledger(
        &self,
        company_id: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<LedgerRow>, i64), QueryError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{LEDGER_COLUMNS} WHERE company_id = $1 ORDER BY at DESC, entry_id DESC \
             LIMIT $2 OFFSET $3"
        ));
        let rows = fetch_all!(
            &self.db,
            sqlx::query_as::<_, LedgerRow>(sql)
                .bind(company_id)
                .bind(limit)
                .bind(offset)
        )?;
        let count = fetch_optional!(
            &self.db,
            sqlx::query_as::<_, Count>(
                "SELECT COUNT(*) AS n FROM plans_wallet_ledger WHERE company_id = $1"
            )
            .bind(company_id)
        )?;
        Ok((rows, count.map_or(0, |c| c.n)))
    }
}
