//! The OpenTicket queries (seed 003 §3–§7) over the `ot_` read models, through the read pool.
//!
//! Anything that depends on time takes `now`: session and event statuses are derived from session
//! times, and a seat lock whose expiry has passed is reported as `Available` even before its
//! release event has been projected.

use super::catalog::seat_state;
use super::rows::*;
use super::sql::placeholders;
use crate::db::ReadModelDb;
use crate::query::QueryError;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::AssertSqlSafe;
use std::collections::HashMap;
use std::str::FromStr;
use tessera_domain::shared::{Currency, Money};
use uuid::Uuid;

/// Reads the OpenTicket read models. Cheap to clone (it holds pools).
#[derive(Debug, Clone)]
pub struct OpenTicketQueries {
    db: ReadModelDb,
}

fn corrupt(what: impl std::fmt::Display) -> QueryError {
    QueryError::Corrupt(what.to_string())
}

fn uuid(s: &str) -> Result<Uuid, QueryError> {
    s.parse()
        .map_err(|_| corrupt(format!("{s:?} is not a UUID")))
}

/// Stored money (`amount` a decimal string, `currency` an ISO 4217 code) as the shared [`Money`].
fn money(amount: &str, currency: &str) -> Result<Money, QueryError> {
    let value = Decimal::from_str(amount)
        .map_err(|_| corrupt(format!("{amount:?} is not a decimal amount")))?;
    let currency = Currency::parse(currency).map_err(corrupt)?;
    Money::new(value, currency).map_err(|e| corrupt(format!("{amount} {currency}: {e}")))
}

fn opt_money(amount: Option<&str>, currency: Option<&str>) -> Result<Option<Money>, QueryError> {
    match (amount, currency) {
        (Some(a), Some(c)) => money(a, c).map(Some),
        _ => Ok(None),
    }
}

fn parse_status<T: FromStr<Err = UnknownStatus>>(s: &str) -> Result<T, QueryError> {
    s.parse().map_err(corrupt)
}

/// A stored seat state as clients see it at `now`; a seat without a price (its area is in no
/// price category) is `NotForSale` unless it was sold.
fn seat_status(
    stored: &str,
    lock_expires_at: Option<DateTime<Utc>>,
    priced: bool,
    now: DateTime<Utc>,
) -> Result<SeatStatus, QueryError> {
    Ok(match stored {
        seat_state::SOLD => SeatStatus::Sold,
        seat_state::AVAILABLE | seat_state::LOCKED | seat_state::HELD_FOR_ORDER if !priced => {
            SeatStatus::NotForSale
        }
        seat_state::AVAILABLE => SeatStatus::Available,
        seat_state::LOCKED if lock_expires_at.is_some_and(|t| t <= now) => SeatStatus::Available,
        seat_state::LOCKED | seat_state::HELD_FOR_ORDER => SeatStatus::Locked,
        other => return Err(corrupt(format!("unknown seat state {other:?}"))),
    })
}

// ---------------------------------------------------------------------------------- row types

#[derive(sqlx::FromRow)]
struct VenueRecord {
    venue_id: String,
    name: String,
    country: String,
    city: String,
    street: String,
    postal_code: String,
    capacity: i64,
    status: String,
}

impl VenueRecord {
    fn row(self) -> Result<VenueRow, QueryError> {
        Ok(VenueRow {
            venue_id: uuid(&self.venue_id)?,
            status: parse_status(&self.status)?,
            address: Address {
                country: self.country,
                city: self.city,
                street: self.street,
                postal_code: self.postal_code,
            },
            name: self.name,
            capacity: self.capacity,
        })
    }
}

#[derive(sqlx::FromRow)]
struct VenueMapRecord {
    #[sqlx(flatten)]
    venue: VenueRecord,
    seat_map_id: String,
    seat_map_version: i64,
    seat_count: i64,
    seat_map: String,
}

#[derive(sqlx::FromRow)]
struct EventRecord {
    event_id: String,
    organizer_id: String,
    name: String,
    description: Option<String>,
    venue_id: String,
    venue_name: String,
    currency: Option<String>,
    min_price: Option<String>,
    max_price: Option<String>,
}

impl EventRecord {
    /// The row, with its sessions (already at the query's `now`).
    fn row(self, sessions: Vec<SessionRow>) -> Result<EventRow, QueryError> {
        let price =
            |amount: &Option<String>| opt_money(amount.as_deref(), self.currency.as_deref());
        Ok(EventRow {
            event_id: uuid(&self.event_id)?,
            organizer_id: uuid(&self.organizer_id)?,
            venue_id: uuid(&self.venue_id)?,
            status: EventStatus::from_sessions(sessions.iter().map(|s| s.status)),
            min_price: price(&self.min_price)?,
            max_price: price(&self.max_price)?,
            sessions,
            name: self.name,
            description: self.description,
            venue_name: self.venue_name,
        })
    }
}

#[derive(sqlx::FromRow)]
struct SessionRecord {
    session_id: String,
    event_id: String,
    start_time: String,
    end_time: String,
    sale_start_time: String,
    sale_end_time: String,
    end_at: DateTime<Utc>,
    sale_start_at: DateTime<Utc>,
    sale_end_at: DateTime<Utc>,
    available_seats: i64,
}

impl SessionRecord {
    fn row(self, now: DateTime<Utc>) -> Result<SessionRow, QueryError> {
        Ok(SessionRow {
            session_id: uuid(&self.session_id)?,
            status: SessionStatus::at(now, self.sale_start_at, self.sale_end_at, self.end_at),
            start_time: self.start_time,
            end_time: self.end_time,
            sale_start_time: self.sale_start_time,
            sale_end_time: self.sale_end_time,
            available_seats: self.available_seats,
        })
    }
}

#[derive(sqlx::FromRow)]
struct CategoryRecord {
    category_id: String,
    name: String,
    area_ids: String,
    amount: String,
    currency: String,
}

#[derive(sqlx::FromRow)]
struct SessionSeatRecord {
    seat_id: String,
    area_id: String,
    status: String,
    amount: Option<String>,
    currency: Option<String>,
    lock_expires_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct SeatRecord {
    seat_id: String,
    area_id: String,
    status: String,
    amount: Option<String>,
    currency: Option<String>,
    lock_expires_at: Option<DateTime<Utc>>,
    row_label: String,
    seat_number: i64,
    seat_type: String,
}

#[derive(sqlx::FromRow)]
struct OrderListRecord {
    order_id: String,
    event_id: String,
    event_name: String,
    session_id: String,
    start_time: String,
    seat_count: i64,
    total_amount: String,
    currency: String,
    status: String,
    created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct OrderRecord {
    order_id: String,
    user_id: String,
    event_id: String,
    session_id: String,
    status: String,
    total_amount: String,
    currency: String,
    payment_id: String,
    payment_provider: String,
    payment_url: Option<String>,
    payment_status: String,
    payment_failure_reason: Option<String>,
    refund_required: bool,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    paid_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    cancelled_at: Option<DateTime<Utc>>,
    expired_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct OrderItemRecord {
    seat_id: String,
    area_id: String,
    category_id: String,
    amount: String,
    currency: String,
    ticket_id: Option<String>,
}

#[derive(sqlx::FromRow)]
struct TicketRecord {
    ticket_id: String,
    order_id: String,
    user_id: String,
    event_id: String,
    event_name: String,
    event_description: Option<String>,
    session_id: String,
    start_time: String,
    end_time: String,
    venue_id: String,
    venue_name: String,
    country: String,
    city: String,
    street: String,
    postal_code: String,
    seat_id: String,
    area_id: String,
    area_name: String,
    row_label: String,
    seat_number: i64,
    amount: String,
    currency: String,
    status: String,
    issued_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    verified_by: Option<String>,
}

impl TicketRecord {
    fn row(self) -> Result<TicketRow, QueryError> {
        Ok(TicketRow {
            ticket_id: uuid(&self.ticket_id)?,
            order_id: uuid(&self.order_id)?,
            user_id: uuid(&self.user_id)?,
            event_id: uuid(&self.event_id)?,
            session_id: uuid(&self.session_id)?,
            venue_id: uuid(&self.venue_id)?,
            price: money(&self.amount, &self.currency)?,
            status: parse_status(&self.status)?,
            event_name: self.event_name,
            event_description: self.event_description,
            start_time: self.start_time,
            end_time: self.end_time,
            venue_name: self.venue_name,
            address: Address {
                country: self.country,
                city: self.city,
                street: self.street,
                postal_code: self.postal_code,
            },
            seat_id: self.seat_id,
            area_id: self.area_id,
            area_name: self.area_name,
            row_label: self.row_label,
            seat_number: self.seat_number,
            issued_at: self.issued_at,
            used_at: self.used_at,
            verified_by: self.verified_by,
        })
    }
}

// ------------------------------------------------------------------------------------- SQL

/// Seats free to lock at `$1` (= now), for one session `s`; seats without a price never are.
macro_rules! available_seats_sql {
    () => {
        "(SELECT COUNT(*) FROM ot_session_seats ss WHERE ss.session_id = s.session_id \
         AND ss.amount IS NOT NULL \
         AND (ss.status = 'Available' OR (ss.status = 'Locked' AND ss.lock_expires_at <= $1)))"
    };
}

macro_rules! session_columns {
    () => {
        concat!(
            "s.session_id, s.event_id, s.start_time, s.end_time, s.sale_start_time, \
             s.sale_end_time, s.end_at, s.sale_start_at, s.sale_end_at, ",
            available_seats_sql!(),
            " AS available_seats"
        )
    };
}

/// Events matching `$1` venue id, `$2`/`$3` session start bounds and `$4` derived status at `$5`
/// (now). The status expression mirrors [`SessionStatus::at`] and [`EventStatus::from_sessions`].
macro_rules! event_filter_sql {
    () => {
        "FROM ot_events e \
         WHERE ($1 IS NULL OR e.venue_id = $1) \
         AND (($2 IS NULL AND $3 IS NULL) OR EXISTS (SELECT 1 FROM ot_sessions s \
              WHERE s.event_id = e.event_id AND ($2 IS NULL OR s.start_at >= $2) \
              AND ($3 IS NULL OR s.start_at < $3))) \
         AND ($4 IS NULL OR $4 = CASE \
              WHEN EXISTS (SELECT 1 FROM ot_sessions s WHERE s.event_id = e.event_id \
                   AND s.sale_start_at <= $5 AND $5 < s.sale_end_at) THEN 'OnSale' \
              WHEN EXISTS (SELECT 1 FROM ot_sessions s WHERE s.event_id = e.event_id \
                   AND ($5 < s.sale_start_at OR $5 < s.sale_end_at OR $5 < s.end_at)) \
                   THEN 'Published' \
              ELSE 'Ended' END)"
    };
}

const EVENT_COLUMNS: &str = "e.event_id, e.organizer_id, e.name, e.description, e.venue_id, \
     e.venue_name, e.currency, e.min_price, e.max_price";

/// The joins every ticket query needs (tickets appear once the catalog has their event).
macro_rules! ticket_from_sql {
    () => {
        "SELECT t.ticket_id, t.order_id, t.user_id, t.event_id, e.name AS event_name, \
         e.description AS event_description, t.session_id, s.start_time, s.end_time, \
         v.venue_id, v.name AS venue_name, v.country, v.city, v.street, v.postal_code, \
         t.seat_id, t.area_id, vs.area_name, vs.row_label, vs.seat_number, t.amount, t.currency, \
         t.status, t.issued_at, t.used_at, t.verified_by \
         FROM ot_tickets t \
         JOIN ot_events e ON e.event_id = t.event_id \
         JOIN ot_sessions s ON s.session_id = t.session_id \
         JOIN ot_venues v ON v.venue_id = s.venue_id \
         JOIN ot_venue_seats vs ON vs.venue_id = s.venue_id AND vs.seat_id = t.seat_id "
    };
}

impl OpenTicketQueries {
    /// Queries over `db` (reads go through its reader pool on SQLite).
    pub fn new(db: ReadModelDb) -> Self {
        Self { db }
    }

    // ---------------------------------------------------------------------------- venues

    /// `GET /venues` (seed 003 §3.1): venues in creation order, optionally only those in `city`
    /// (exact match).
    pub async fn venues(
        &self,
        city: Option<&str>,
        page: PageRequest,
    ) -> Result<Paged<VenueRow>, QueryError> {
        let total: i64 = fetch_one!(
            &self.db,
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM ot_venues WHERE ($1 IS NULL OR city = $1)"
            )
            .bind(city)
        )?;
        let rows: Vec<VenueRecord> = fetch_all!(
            &self.db,
            sqlx::query_as::<_, VenueRecord>(
                "SELECT venue_id, name, country, city, street, postal_code, capacity, status \
                 FROM ot_venues WHERE ($1 IS NULL OR city = $1) \
                 ORDER BY created_at, venue_id LIMIT $2 OFFSET $3"
            )
            .bind(city)
            .bind(page.limit())
            .bind(page.offset())
        )?;
        let items = rows
            .into_iter()
            .map(VenueRecord::row)
            .collect::<Result<_, _>>()?;
        Ok(Paged::new(items, page, total))
    }

    /// `GET /venues/{venueId}` (seed 003 §3.2): the venue with its whole seat map, read from the
    /// stored JSON (one row whatever the venue's size). `None` when unknown.
    pub async fn venue(&self, venue_id: Uuid) -> Result<Option<VenueMapRow>, QueryError> {
        let id = venue_id.to_string();
        let Some(map): Option<VenueMapRecord> = fetch_optional!(
            &self.db,
            sqlx::query_as::<_, VenueMapRecord>(
                "SELECT venue_id, name, country, city, street, postal_code, capacity, status, \
                 seat_map_id, seat_map_version, seat_count, seat_map \
                 FROM ot_venues WHERE venue_id = $1"
            )
            .bind(&id)
        )?
        else {
            return Ok(None);
        };
        // Checked as JSON, not decoded: the answer embeds the stored text.
        let areas = SeatMapJson::from_text(map.seat_map)
            .map_err(|e| corrupt(format!("seat map of venue {id}: {e}")))?;
        Ok(Some(VenueMapRow {
            venue: map.venue.row()?,
            seat_map_id: uuid(&map.seat_map_id)?,
            seat_map_version: map.seat_map_version,
            seat_count: map.seat_count,
            areas,
        }))
    }

    // ---------------------------------------------------------------------------- events

    /// `GET /events` (seed 003 §4.1): events ordered by their first session's start, filtered by
    /// `filter` (the status one is evaluated at `now`), each with its sessions' status and
    /// available seats at `now`, and its price range.
    pub async fn events(
        &self,
        filter: &EventFilter,
        page: PageRequest,
        now: DateTime<Utc>,
    ) -> Result<Paged<EventRow>, QueryError> {
        let venue = filter.venue_id.map(|v| v.to_string());
        let status = filter.status.map(EventStatus::as_str);
        let total: i64 = fetch_one!(
            &self.db,
            sqlx::query_scalar::<_, i64>(concat!("SELECT COUNT(*) ", event_filter_sql!()))
                .bind(venue.as_deref())
                .bind(filter.starts_from)
                .bind(filter.starts_before)
                .bind(status)
                .bind(now)
        )?;
        let sql = format!(
            "SELECT {EVENT_COLUMNS} {} ORDER BY e.first_start_at, e.event_id LIMIT $6 OFFSET $7",
            event_filter_sql!()
        );
        let rows: Vec<EventRecord> = fetch_all!(
            &self.db,
            sqlx::query_as::<_, EventRecord>(AssertSqlSafe(sql.as_str()))
                .bind(venue.as_deref())
                .bind(filter.starts_from)
                .bind(filter.starts_before)
                .bind(status)
                .bind(now)
                .bind(page.limit())
                .bind(page.offset())
        )?;
        let ids: Vec<&str> = rows.iter().map(|r| r.event_id.as_str()).collect();
        let mut sessions = self.sessions_of(&ids, now).await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let own = sessions.remove(&row.event_id).unwrap_or_default();
            items.push(row.row(own)?);
        }
        Ok(Paged::new(items, page, total))
    }

    /// Sessions of these events, in the organizer's order, with status and available seats at
    /// `now`, by event id.
    async fn sessions_of(
        &self,
        event_ids: &[&str],
        now: DateTime<Utc>,
    ) -> Result<HashMap<String, Vec<SessionRow>>, QueryError> {
        let mut by_event: HashMap<String, Vec<SessionRow>> = HashMap::new();
        if event_ids.is_empty() {
            return Ok(by_event);
        }
        // At most one page of events (100), far below the bind-parameter limits.
        let sql = format!(
            "SELECT {} FROM ot_sessions s WHERE s.event_id IN ({}) \
             ORDER BY s.event_id, s.session_order",
            session_columns!(),
            placeholders(2, event_ids.len())
        );
        let rows: Vec<SessionRecord> = fetch_all!(&self.db, {
            let mut q = sqlx::query_as::<_, SessionRecord>(AssertSqlSafe(sql.as_str())).bind(now);
            for id in event_ids {
                q = q.bind(*id);
            }
            q
        })?;
        for row in rows {
            by_event
                .entry(row.event_id.clone())
                .or_default()
                .push(row.row(now)?);
        }
        Ok(by_event)
    }

    /// `GET /events/{eventId}` (seed 003 §4.2): the event, its venue, its sessions with their
    /// status and available seats at `now`, and its price categories. `None` when unknown.
    pub async fn event(
        &self,
        event_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<EventDetailRow>, QueryError> {
        let id = event_id.to_string();
        let sql = format!("SELECT {EVENT_COLUMNS} FROM ot_events e WHERE e.event_id = $1");
        let Some(row): Option<EventRecord> = fetch_optional!(
            &self.db,
            sqlx::query_as::<_, EventRecord>(AssertSqlSafe(sql.as_str())).bind(&id)
        )?
        else {
            return Ok(None);
        };
        let sessions = self
            .sessions_of(&[id.as_str()], now)
            .await?
            .remove(&id)
            .unwrap_or_default();
        let categories: Vec<CategoryRecord> = fetch_all!(
            &self.db,
            sqlx::query_as::<_, CategoryRecord>(
                "SELECT category_id, name, area_ids, amount, currency FROM ot_price_categories \
                 WHERE event_id = $1 ORDER BY category_order"
            )
            .bind(&id)
        )?;
        let price_categories = categories
            .into_iter()
            .map(|c| {
                Ok(PriceCategoryRow {
                    area_ids: serde_json::from_str(&c.area_ids)
                        .map_err(|e| corrupt(format!("area ids of {}: {e}", c.category_id)))?,
                    price: money(&c.amount, &c.currency)?,
                    category_id: c.category_id,
                    name: c.name,
                })
            })
            .collect::<Result<Vec<_>, QueryError>>()?;
        Ok(Some(EventDetailRow {
            event: row.row(sessions)?,
            price_categories,
        }))
    }

    // -------------------------------------------------------------------------- sessions

    /// `GET /sessions/{sessionId}/seats` (seed 003 §5.1): every seat of the session at `now`, in
    /// seat-map order, with its category's price. `None` when the session is unknown; no seats
    /// before it is opened.
    pub async fn session_seats(
        &self,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionSeatsRow>, QueryError> {
        let id = session_id.to_string();
        let known: Option<String> = fetch_optional!(
            &self.db,
            sqlx::query_scalar::<_, String>(
                "SELECT session_id FROM ot_sessions WHERE session_id = $1"
            )
            .bind(&id)
        )?;
        if known.is_none() {
            return Ok(None);
        }
        let rows: Vec<SessionSeatRecord> = fetch_all!(
            &self.db,
            sqlx::query_as::<_, SessionSeatRecord>(
                "SELECT seat_id, area_id, status, amount, currency, lock_expires_at \
                 FROM ot_session_seats WHERE session_id = $1 ORDER BY seat_order"
            )
            .bind(&id)
        )?;
        let seats = rows
            .into_iter()
            .map(|row| {
                Ok(SessionSeatRow {
                    status: seat_status(
                        &row.status,
                        row.lock_expires_at,
                        row.amount.is_some(),
                        now,
                    )?,
                    price: opt_money(row.amount.as_deref(), row.currency.as_deref())?,
                    seat_id: row.seat_id,
                    area_id: row.area_id,
                })
            })
            .collect::<Result<_, QueryError>>()?;
        Ok(Some(SessionSeatsRow { session_id, seats }))
    }

    /// `GET /sessions/{sessionId}/seats/{seatId}` (seed 003 §5.4): one seat at `now`, with its
    /// row, number, type and its category's price. `None` when the session or seat is unknown.
    pub async fn seat(
        &self,
        session_id: Uuid,
        seat_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SeatRow>, QueryError> {
        let row: Option<SeatRecord> = fetch_optional!(
            &self.db,
            sqlx::query_as::<_, SeatRecord>(
                "SELECT ss.seat_id, ss.area_id, ss.status, ss.amount, ss.currency, \
                 ss.lock_expires_at, vs.row_label, vs.seat_number, vs.seat_type \
                 FROM ot_session_seats ss \
                 JOIN ot_sessions s ON s.session_id = ss.session_id \
                 JOIN ot_venue_seats vs ON vs.venue_id = s.venue_id AND vs.seat_id = ss.seat_id \
                 WHERE ss.session_id = $1 AND ss.seat_id = $2"
            )
            .bind(session_id.to_string())
            .bind(seat_id)
        )?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(SeatRow {
            status: seat_status(&row.status, row.lock_expires_at, row.amount.is_some(), now)?,
            price: opt_money(row.amount.as_deref(), row.currency.as_deref())?,
            seat_id: row.seat_id,
            session_id,
            area_id: row.area_id,
            row_label: row.row_label,
            seat_number: row.seat_number,
            seat_type: row.seat_type,
        }))
    }

    // ---------------------------------------------------------------------------- orders

    /// `GET /orders` (seed 003 §6.4): a user's orders, newest first, optionally only those with
    /// `status`. Orders appear once the catalog has their event and session.
    pub async fn orders_of_user(
        &self,
        user_id: Uuid,
        status: Option<OrderStatus>,
        page: PageRequest,
    ) -> Result<Paged<OrderListRow>, QueryError> {
        const FROM: &str = "FROM ot_orders o \
             JOIN ot_events e ON e.event_id = o.event_id \
             JOIN ot_sessions s ON s.session_id = o.session_id \
             WHERE o.user_id = $1 AND ($2 IS NULL OR o.status = $2)";
        let user = user_id.to_string();
        let status = status.map(OrderStatus::as_str);
        let count_sql = format!("SELECT COUNT(*) {FROM}");
        let total: i64 = fetch_one!(
            &self.db,
            sqlx::query_scalar::<_, i64>(AssertSqlSafe(count_sql.as_str()))
                .bind(&user)
                .bind(status)
        )?;
        let sql = format!(
            "SELECT o.order_id, o.event_id, e.name AS event_name, o.session_id, s.start_time, \
             o.seat_count, o.total_amount, o.currency, o.status, o.created_at {FROM} \
             ORDER BY o.created_at DESC, o.order_id DESC LIMIT $3 OFFSET $4"
        );
        let rows: Vec<OrderListRecord> = fetch_all!(
            &self.db,
            sqlx::query_as::<_, OrderListRecord>(AssertSqlSafe(sql.as_str()))
                .bind(&user)
                .bind(status)
                .bind(page.limit())
                .bind(page.offset())
        )?;
        let items = rows
            .into_iter()
            .map(|r| {
                Ok(OrderListRow {
                    order_id: uuid(&r.order_id)?,
                    event_id: uuid(&r.event_id)?,
                    event_name: r.event_name,
                    session_id: uuid(&r.session_id)?,
                    start_time: r.start_time,
                    seat_count: r.seat_count,
                    total_amount: money(&r.total_amount, &r.currency)?,
                    status: parse_status(&r.status)?,
                    created_at: r.created_at,
                })
            })
            .collect::<Result<Vec<_>, QueryError>>()?;
        Ok(Paged::new(items, page, total))
    }

    /// `GET /orders/{orderId}` (seed 003 §6.2): the order with its items (and their tickets once
    /// completed), payment and timestamps. `None` when unknown; the caller checks `user_id`.
    pub async fn order(&self, order_id: Uuid) -> Result<Option<OrderRow>, QueryError> {
        let id = order_id.to_string();
        let row: Option<OrderRecord> = fetch_optional!(
            &self.db,
            sqlx::query_as::<_, OrderRecord>(
                "SELECT order_id, user_id, event_id, session_id, status, total_amount, currency, \
                 payment_id, payment_provider, payment_url, payment_status, \
                 payment_failure_reason, refund_required, created_at, expires_at, paid_at, \
                 completed_at, cancelled_at, expired_at FROM ot_orders WHERE order_id = $1"
            )
            .bind(&id)
        )?;
        let Some(o) = row else {
            return Ok(None);
        };
        let items: Vec<OrderItemRecord> = fetch_all!(
            &self.db,
            sqlx::query_as::<_, OrderItemRecord>(
                "SELECT seat_id, area_id, category_id, amount, currency, ticket_id \
                 FROM ot_order_items WHERE order_id = $1 ORDER BY item_order"
            )
            .bind(&id)
        )?;
        let items = items
            .into_iter()
            .map(|i| {
                Ok(OrderItemRow {
                    price: money(&i.amount, &i.currency)?,
                    ticket_id: i.ticket_id.as_deref().map(uuid).transpose()?,
                    seat_id: i.seat_id,
                    area_id: i.area_id,
                    category_id: i.category_id,
                })
            })
            .collect::<Result<Vec<_>, QueryError>>()?;
        Ok(Some(OrderRow {
            order_id: uuid(&o.order_id)?,
            user_id: uuid(&o.user_id)?,
            event_id: uuid(&o.event_id)?,
            session_id: uuid(&o.session_id)?,
            status: parse_status(&o.status)?,
            total_amount: money(&o.total_amount, &o.currency)?,
            payment_id: uuid(&o.payment_id)?,
            payment_provider: o.payment_provider,
            payment_url: o.payment_url,
            payment_status: parse_status(&o.payment_status)?,
            payment_failure_reason: o.payment_failure_reason,
            refund_required: o.refund_required,
            created_at: o.created_at,
            expires_at: o.expires_at,
            paid_at: o.paid_at,
            completed_at: o.completed_at,
            cancelled_at: o.cancelled_at,
            expired_at: o.expired_at,
            items,
        }))
    }

    /// The order a payment attempt belongs to (the Mock provider's payment page looks orders up
    /// by `paymentId`). `None` when unknown.
    pub async fn order_by_payment(&self, payment_id: Uuid) -> Result<Option<OrderRow>, QueryError> {
        let order_id: Option<String> = fetch_optional!(
            &self.db,
            sqlx::query_scalar::<_, String>("SELECT order_id FROM ot_orders WHERE payment_id = $1")
                .bind(payment_id.to_string())
        )?;
        match order_id {
            Some(id) => self.order(uuid(&id)?).await,
            None => Ok(None),
        }
    }

    // --------------------------------------------------------------------------- tickets

    /// `GET /tickets` (seed 003 §7.1): a user's tickets, newest first (by order, then seat).
    pub async fn tickets_of_user(
        &self,
        user_id: Uuid,
        page: PageRequest,
    ) -> Result<Paged<TicketRow>, QueryError> {
        let user = user_id.to_string();
        let total: i64 = fetch_one!(
            &self.db,
            sqlx::query_scalar::<_, i64>(concat!(
                "SELECT COUNT(*) FROM (",
                ticket_from_sql!(),
                "WHERE t.user_id = $1) AS visible"
            ))
            .bind(&user)
        )?;
        let rows: Vec<TicketRecord> = fetch_all!(
            &self.db,
            sqlx::query_as::<_, TicketRecord>(concat!(
                ticket_from_sql!(),
                "WHERE t.user_id = $1 ORDER BY t.issued_at DESC, t.order_id, t.seat_id \
                 LIMIT $2 OFFSET $3"
            ))
            .bind(&user)
            .bind(page.limit())
            .bind(page.offset())
        )?;
        let items = rows
            .into_iter()
            .map(TicketRecord::row)
            .collect::<Result<Vec<_>, QueryError>>()?;
        Ok(Paged::new(items, page, total))
    }

    /// `GET /tickets` without paging (seed 003 §7.1 shows none): every ticket of `user_id`,
    /// newest first, in the same order as [`Self::tickets_of_user`].
    pub async fn all_tickets_of_user(&self, user_id: Uuid) -> Result<Vec<TicketRow>, QueryError> {
        let rows: Vec<TicketRecord> = fetch_all!(
            &self.db,
            sqlx::query_as::<_, TicketRecord>(concat!(
                ticket_from_sql!(),
                "WHERE t.user_id = $1 ORDER BY t.issued_at DESC, t.order_id, t.seat_id"
            ))
            .bind(user_id.to_string())
        )?;
        rows.into_iter().map(TicketRecord::row).collect()
    }

    /// `GET /tickets/{ticketId}` (seed 003 §7.2): the ticket with its event, session, venue,
    /// seat and price. `None` when unknown; the caller checks `user_id`.
    pub async fn ticket(&self, ticket_id: Uuid) -> Result<Option<TicketRow>, QueryError> {
        let row: Option<TicketRecord> = fetch_optional!(
            &self.db,
            sqlx::query_as::<_, TicketRecord>(concat!(
                ticket_from_sql!(),
                "WHERE t.ticket_id = $1"
            ))
            .bind(ticket_id.to_string())
        )?;
        row.map(TicketRecord::row).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn expired_locks_and_holds_show_as_clients_see_them() {
        let now = Utc.with_ymd_and_hms(2025, 1, 20, 10, 0, 0).unwrap();
        let later = now + chrono::Duration::seconds(1);
        assert_eq!(
            seat_status("Locked", Some(now), true, now).unwrap(),
            SeatStatus::Available
        );
        assert_eq!(
            seat_status("Locked", Some(later), true, now).unwrap(),
            SeatStatus::Locked
        );
        assert_eq!(
            seat_status("HeldForOrder", None, true, now).unwrap(),
            SeatStatus::Locked
        );
        assert_eq!(
            seat_status("Sold", None, true, now).unwrap(),
            SeatStatus::Sold
        );
        assert!(seat_status("Gone", None, true, now).is_err());
        for stored in ["Available", "Locked", "HeldForOrder"] {
            assert_eq!(
                seat_status(stored, Some(later), false, now).unwrap(),
                SeatStatus::NotForSale
            );
        }
    }

    #[test]
    fn stored_money_reads_back_as_the_shared_money() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(
            money("12.50", "USD").unwrap(),
            Money::new(Decimal::new(125, 1), usd).unwrap()
        );
        assert_eq!(money("4800", "TWD").unwrap().amount(), Decimal::from(4800));
        assert!(matches!(
            money("12.345", "USD"),
            Err(QueryError::Corrupt(_))
        ));
        assert!(matches!(money("ten", "USD"), Err(QueryError::Corrupt(_))));
        assert!(matches!(money("10", "usd"), Err(QueryError::Corrupt(_))));
    }

    #[test]
    fn statuses_follow_the_session_times() {
        let t = |h| Utc.with_ymd_and_hms(2025, 3, 15, h, 0, 0).unwrap();
        let (sale_start, sale_end, end) = (t(8), t(18), t(22));
        assert_eq!(
            SessionStatus::at(t(7), sale_start, sale_end, end),
            SessionStatus::Scheduled
        );
        assert_eq!(
            SessionStatus::at(t(8), sale_start, sale_end, end),
            SessionStatus::OnSale
        );
        assert_eq!(
            SessionStatus::at(t(18), sale_start, sale_end, end),
            SessionStatus::SaleEnded
        );
        assert_eq!(
            SessionStatus::at(t(22), sale_start, sale_end, end),
            SessionStatus::Ended
        );
        use SessionStatus::*;
        assert_eq!(
            EventStatus::from_sessions([Ended, OnSale]),
            EventStatus::OnSale
        );
        assert_eq!(
            EventStatus::from_sessions([Ended, Scheduled]),
            EventStatus::Published
        );
        assert_eq!(
            EventStatus::from_sessions([Ended, SaleEnded]),
            EventStatus::Published
        );
        assert_eq!(EventStatus::from_sessions([Ended]), EventStatus::Ended);
    }

    #[test]
    fn pages_are_clamped() {
        let p = PageRequest::new(0, 1_000);
        assert_eq!(
            (p.page, p.page_size, p.offset(), p.limit()),
            (1, 100, 0, 100)
        );
        let p = PageRequest::new(3, 20);
        assert_eq!(p.offset(), 40);
        let page: Paged<()> = Paged::new(vec![], p, 41);
        assert_eq!((page.total_items, page.total_pages()), (41, 3));
        assert_eq!(Paged::<()>::new(vec![], p, 0).total_pages(), 0);
    }
}
