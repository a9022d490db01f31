//! The meeting-ticket queries (seed 000 §2.1, §4, §5, §8) over the `mt_` read models, through the
//! read pool. They return plain rows ([`MeetingRow`], [`OrderRow`], [`TicketRow`]): money in fen,
//! instants in UTC; the api layer shapes them into seed 000's JSON.

use super::rows::*;
use crate::db::ReadModelDb;
use crate::query::QueryError;
use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use std::collections::HashMap;
use uuid::Uuid;

/// Largest page of [`MeetingQueries::meetings`].
const MAX_PAGE_SIZE: u32 = 100;

/// Reads the meeting-ticket read models. Cheap to clone (it holds pools): build one from the same
/// [`ReadModelDb`] as the other queries and share it.
#[derive(Debug, Clone)]
pub struct MeetingQueries {
    db: ReadModelDb,
}

fn corrupt(what: impl std::fmt::Display) -> QueryError {
    QueryError::Corrupt(what.to_string())
}

fn uuid(s: &str) -> Result<Uuid, QueryError> {
    s.parse()
        .map_err(|_| corrupt(format!("{s:?} is not a UUID")))
}

/// `$first, $first+1, …` for `count` parameters.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ------------------------------------------------------------------------- records as stored

#[derive(sqlx::FromRow)]
struct MeetingRecord {
    meeting_id: String,
    organizer_id: String,
    title: String,
    description: String,
    location: String,
    start_time: DateTime<Utc>,
    end_time: DateTime<Utc>,
    status: String,
    created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct GradeRecord {
    meeting_id: String,
    ticket_grade_id: String,
    name: String,
    price_fen: i64,
    stock: i64,
    held: i64,
    sold: i64,
}

impl GradeRecord {
    fn row(&self) -> Result<TicketGradeRow, QueryError> {
        Ok(TicketGradeRow {
            ticket_grade_id: uuid(&self.ticket_grade_id)?,
            name: self.name.clone(),
            price_fen: self.price_fen,
            stock: self.stock,
            held: self.held,
            sold: self.sold,
        })
    }
}

#[derive(sqlx::FromRow)]
struct OrderRecord {
    order_id: String,
    user_id: String,
    meeting_id: String,
    payment_method_id: String,
    total_fen: i64,
    status: String,
    expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    paid_at: Option<DateTime<Utc>>,
    transaction_id: Option<String>,
    third_party_transaction_info: Option<String>,
    refund_reason: Option<String>,
    refund_amount_fen: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct OrderItemRecord {
    order_id: String,
    meeting_id: String,
    ticket_grade_id: String,
    ticket_grade_name: String,
    ticket_price_fen: i64,
    ticket_amount: i64,
}

impl OrderItemRecord {
    fn row(&self) -> Result<OrderItemRow, QueryError> {
        Ok(OrderItemRow {
            ticket_grade_id: uuid(&self.ticket_grade_id)?,
            ticket_grade_name: self.ticket_grade_name.clone(),
            ticket_price_fen: self.ticket_price_fen,
            ticket_amount: self.ticket_amount,
            meeting_id: uuid(&self.meeting_id)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct TicketRecord {
    ticket_id: String,
    order_id: String,
    meeting_id: String,
    ticket_grade_id: String,
    ticket_grade_name: String,
    owner_id: String,
    participant_name: Option<String>,
    participant_phone: Option<String>,
    issued_at: DateTime<Utc>,
    claimed_at: Option<DateTime<Utc>>,
}

impl TicketRecord {
    fn row(self) -> Result<TicketRow, QueryError> {
        Ok(TicketRow {
            ticket_id: uuid(&self.ticket_id)?,
            order_id: uuid(&self.order_id)?,
            meeting_id: uuid(&self.meeting_id)?,
            ticket_grade_id: uuid(&self.ticket_grade_id)?,
            ticket_grade_name: self.ticket_grade_name,
            owner_id: uuid(&self.owner_id)?,
            participant_name: self.participant_name,
            participant_phone: self.participant_phone,
            issued_at: self.issued_at,
            claimed_at: self.claimed_at,
        })
    }
}

// ---------------------------------------------------------------------------------------- SQL

const MEETING_COLUMNS: &str = "meeting_id, organizer_id, title, description, location, \
     start_time, end_time, status, created_at";

const GRADE_COLUMNS: &str = "meeting_id, ticket_grade_id, name, price_fen, stock, held, sold";

const ORDER_COLUMNS: &str = "o.order_id, o.user_id, o.meeting_id, o.payment_method_id, \
     o.total_fen, o.status, o.expires_at, o.created_at, o.paid_at, o.transaction_id, \
     o.third_party_transaction_info, o.refund_reason, o.refund_amount_fen";

const ITEM_COLUMNS: &str = "i.order_id, i.meeting_id, i.ticket_grade_id, i.ticket_grade_name, \
     i.ticket_price_fen, i.ticket_amount";

/// Tickets with their grade's current name (empty while the catalog has not seen the grade, so
/// that a ticket never disappears behind a lagging projection).
const TICKET_SELECT: &str = "SELECT t.ticket_id, t.order_id, t.meeting_id, t.ticket_grade_id, \
     COALESCE(g.name, '') AS ticket_grade_name, t.owner_id, t.participant_name, \
     t.participant_phone, t.issued_at, t.claimed_at \
     FROM mt_tickets t LEFT JOIN mt_ticket_grades g \
       ON g.meeting_id = t.meeting_id AND g.ticket_grade_id = t.ticket_grade_id ";

impl MeetingQueries {
    /// Queries over `db` (reads go through its reader pool on SQLite).
    pub fn new(db: ReadModelDb) -> Self {
        Self { db }
    }

    // ------------------------------------------------------------------------------ meetings

    /// `GET /meetings` (seed 000 §4.1): meetings with their grades, **latest start first** (ties
    /// by id), optionally only those whose sales status is `status` (`draft`, `onSale`, `closed`;
    /// any other text matches nothing). `page` counts from 1 (0 is taken as 1); `page_size` is
    /// clamped to 1–100.
    pub async fn meetings(
        &self,
        status: Option<&str>,
        page: u32,
        page_size: u32,
    ) -> Result<Vec<MeetingRow>, QueryError> {
        let limit = i64::from(page_size.clamp(1, MAX_PAGE_SIZE));
        let offset = i64::from(page.max(1) - 1) * limit;
        let sql = format!(
            "SELECT {MEETING_COLUMNS} FROM mt_meetings WHERE ($1 IS NULL OR status = $1) \
             ORDER BY start_time DESC, meeting_id LIMIT $2 OFFSET $3"
        );
        let rows: Vec<MeetingRecord> = fetch_all!(
            &self.db,
            sqlx::query_as::<_, MeetingRecord>(AssertSqlSafe(sql.as_str()))
                .bind(status)
                .bind(limit)
                .bind(offset)
        )?;
        self.with_grades(rows).await
    }

    /// How many meetings [`MeetingQueries::meetings`] lists over all pages for `status` (for the
    /// HTTP layer's paging headers).
    pub async fn meeting_count(&self, status: Option<&str>) -> Result<u64, QueryError> {
        let n: i64 = fetch_one!(
            &self.db,
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM mt_meetings WHERE ($1 IS NULL OR status = $1)"
            )
            .bind(status)
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// `GET /meetings/:id` (seed 000 §4): the meeting with its grades; `None` when unknown.
    pub async fn meeting(&self, meeting_id: Uuid) -> Result<Option<MeetingRow>, QueryError> {
        let sql = format!("SELECT {MEETING_COLUMNS} FROM mt_meetings WHERE meeting_id = $1");
        let row: Option<MeetingRecord> = fetch_optional!(
            &self.db,
            sqlx::query_as::<_, MeetingRecord>(AssertSqlSafe(sql.as_str()))
                .bind(meeting_id.to_string())
        )?;
        Ok(self.with_grades(row.into_iter().collect()).await?.pop())
    }

    /// The meetings of `rows` with their grades (one query for all of them), in `rows`' order.
    async fn with_grades(&self, rows: Vec<MeetingRecord>) -> Result<Vec<MeetingRow>, QueryError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {GRADE_COLUMNS} FROM mt_ticket_grades WHERE meeting_id IN ({}) \
             ORDER BY meeting_id, grade_order",
            placeholders(1, rows.len())
        );
        let grades: Vec<GradeRecord> = fetch_all!(&self.db, {
            let mut q = sqlx::query_as::<_, GradeRecord>(AssertSqlSafe(sql.as_str()));
            for r in &rows {
                q = q.bind(r.meeting_id.as_str());
            }
            q
        })?;
        let mut by_meeting: HashMap<&str, Vec<TicketGradeRow>> = HashMap::new();
        for g in &grades {
            by_meeting
                .entry(g.meeting_id.as_str())
                .or_default()
                .push(g.row()?);
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(MeetingRow {
                meeting_id: uuid(&r.meeting_id)?,
                title: r.title.clone(),
                description: r.description.clone(),
                location: r.location.clone(),
                start_time: r.start_time,
                end_time: r.end_time,
                status: r.status.clone(),
                organizer_id: uuid(&r.organizer_id)?,
                created_at: r.created_at,
                grades: by_meeting.remove(r.meeting_id.as_str()).unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// A meeting's grades as `(ticket grade id, stock, held, sold)`, in the order they were
    /// added; empty when the meeting is unknown. For tests that compare the read model with the
    /// aggregate (`stock = remaining + held + sold`).
    pub async fn grade_counts(
        &self,
        meeting_id: Uuid,
    ) -> Result<Vec<(Uuid, i64, i64, i64)>, QueryError> {
        let sql = format!(
            "SELECT {GRADE_COLUMNS} FROM mt_ticket_grades WHERE meeting_id = $1 \
             ORDER BY grade_order"
        );
        let rows: Vec<GradeRecord> = fetch_all!(
            &self.db,
            sqlx::query_as::<_, GradeRecord>(AssertSqlSafe(sql.as_str()))
                .bind(meeting_id.to_string())
        )?;
        rows.iter()
            .map(|g| Ok((uuid(&g.ticket_grade_id)?, g.stock, g.held, g.sold)))
            .collect()
    }

    // -------------------------------------------------------------------------------- orders

    /// `GET /orders` (seed 000 §5.1): `user_id`'s orders, **newest first** (by `createdAt`, ties by
    /// id), optionally only those whose status is `status` (the Chinese string, e.g. `待支付`).
    pub async fn orders_of(
        &self,
        user_id: Uuid,
        status: Option<&str>,
    ) -> Result<Vec<OrderRow>, QueryError> {
        let user = user_id.to_string();
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM mt_orders o WHERE o.user_id = $1 \
             AND ($2 IS NULL OR o.status = $2) ORDER BY o.created_at DESC, o.order_id"
        );
        let orders: Vec<OrderRecord> = fetch_all!(
            &self.db,
            sqlx::query_as::<_, OrderRecord>(AssertSqlSafe(sql.as_str()))
                .bind(&user)
                .bind(status)
        )?;
        if orders.is_empty() {
            return Ok(Vec::new());
        }
        // Items are written in the same transaction as their order: every order read above has
        // all its items here.
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM mt_order_items i JOIN mt_orders o ON o.order_id = i.order_id \
             WHERE o.user_id = $1 AND ($2 IS NULL OR o.status = $2) ORDER BY i.order_id, i.line_no"
        );
        let items: Vec<OrderItemRecord> = fetch_all!(
            &self.db,
            sqlx::query_as::<_, OrderItemRecord>(AssertSqlSafe(sql.as_str()))
                .bind(&user)
                .bind(status)
        )?;
        let mut by_order: HashMap<&str, Vec<OrderItemRow>> = HashMap::new();
        for i in &items {
            by_order
                .entry(i.order_id.as_str())
                .or_default()
                .push(i.row()?);
        }
        orders
            .into_iter()
            .map(|o| {
                let items = by_order.remove(o.order_id.as_str()).unwrap_or_default();
                order_row(o, items)
            })
            .collect()
    }

    /// `GET /orders/:id` (seed 000 §5.2): the order with its items; `None` when unknown. The HTTP
    /// layer checks `userId` against the caller.
    pub async fn order(&self, order_id: Uuid) -> Result<Option<OrderRow>, QueryError> {
        let id = order_id.to_string();
        let sql = format!("SELECT {ORDER_COLUMNS} FROM mt_orders o WHERE o.order_id = $1");
        let Some(order): Option<OrderRecord> = fetch_optional!(
            &self.db,
            sqlx::query_as::<_, OrderRecord>(AssertSqlSafe(sql.as_str())).bind(&id)
        )?
        else {
            return Ok(None);
        };
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM mt_order_items i WHERE i.order_id = $1 ORDER BY i.line_no"
        );
        let items: Vec<OrderItemRecord> = fetch_all!(
            &self.db,
            sqlx::query_as::<_, OrderItemRecord>(AssertSqlSafe(sql.as_str())).bind(&id)
        )?;
        let items = items
            .iter()
            .map(OrderItemRecord::row)
            .collect::<Result<_, _>>()?;
        order_row(order, items).map(Some)
    }

    // ------------------------------------------------------------------------------- tickets

    /// `GET /tickets` (seed 000 §8): the tickets `user_id` owns, and those whose attendee's phone
    /// is `phone` (the caller's own number: tickets given to them by someone else), **newest
    /// first** (by `issuedAt`, ties by id), each once.
    pub async fn tickets_of(
        &self,
        user_id: Uuid,
        phone: Option<&str>,
    ) -> Result<Vec<TicketRow>, QueryError> {
        let sql = format!(
            "{TICKET_SELECT} WHERE t.owner_id = $1 OR t.participant_phone = $2 \
             ORDER BY t.issued_at DESC, t.ticket_id"
        );
        let rows: Vec<TicketRecord> = fetch_all!(
            &self.db,
            sqlx::query_as::<_, TicketRecord>(AssertSqlSafe(sql.as_str()))
                .bind(user_id.to_string())
                .bind(phone)
        )?;
        rows.into_iter().map(TicketRecord::row).collect()
    }

    /// `GET /tickets/:id` (seed 000 §8.1): the ticket; `None` when unknown. The HTTP layer checks
    /// `ownerId` (or the attendee's phone) against the caller.
    pub async fn ticket(&self, ticket_id: Uuid) -> Result<Option<TicketRow>, QueryError> {
        let sql = format!("{TICKET_SELECT} WHERE t.ticket_id = $1");
        let row: Option<TicketRecord> = fetch_optional!(
            &self.db,
            sqlx::query_as::<_, TicketRecord>(AssertSqlSafe(sql.as_str()))
                .bind(ticket_id.to_string())
        )?;
        row.map(TicketRecord::row).transpose()
    }

    // ------------------------------------------------------------------------------- WeChat

    /// The WeChat id (openid) whose token has SHA-256 hex digest `token_hash`, if WeChat vouched
    /// for it and it has not expired at `now` (UTC; a token is accepted while `now < expiresAt`).
    pub async fn wechat_id_for_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, QueryError> {
        Ok(fetch_optional!(
            &self.db,
            sqlx::query_scalar::<_, String>(
                "SELECT wechat_id FROM mt_wechat_tokens WHERE token_hash = $1 AND expires_at > $2"
            )
            .bind(token_hash)
            .bind(now)
        )?)
    }
}

fn order_row(o: OrderRecord, items: Vec<OrderItemRow>) -> Result<OrderRow, QueryError> {
    let info = o
        .third_party_transaction_info
        .as_deref()
        .map(serde_json::from_str::<serde_json::Value>)
        .transpose()
        .map_err(|e| corrupt(format!("payment parameters of order {}: {e}", o.order_id)))?;
    Ok(OrderRow {
        order_id: uuid(&o.order_id)?,
        user_id: uuid(&o.user_id)?,
        meeting_id: uuid(&o.meeting_id)?,
        payment_method_id: o.payment_method_id,
        total_fen: o.total_fen,
        status: o.status,
        expires_at: o.expires_at,
        created_at: o.created_at,
        paid_at: o.paid_at,
        transaction_id: o.transaction_id,
        third_party_transaction_info: info,
        refund_amount_fen: o.refund_amount_fen,
        refund_reason: o.refund_reason,
        items,
    })
}
