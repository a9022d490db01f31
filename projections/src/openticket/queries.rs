//! The OpenTicket queries (seed 003 §3–§7) over the `ot_` read models, through the read pool.
//!
//! Anything that depends on time takes `now`: session and event statuses are derived from session
//! times, and a seat lock whose expiry has passed is reported as `Available` even before its
//! release event has been projected.

use super::catalog::seat_state;
use super::sql::placeholders;
use super::views::*;
use crate::db::ReadModelDb;
use crate::query::QueryError;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::AssertSqlSafe;
use std::collections::HashMap;
use std::str::FromStr;
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

fn money(amount: &str, currency: &str) -> Result<Money, QueryError> {
    let amount = Decimal::from_str(amount)
        .map_err(|_| corrupt(format!("{amount:?} is not a decimal amount")))?;
    Ok(Money::new(amount, currency))
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

/// A stored seat state as clients see it at `now`.
fn seat_status(
    stored: &str,
    lock_expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<SeatStatus, QueryError> {
    Ok(match stored {
        seat_state::AVAILABLE => SeatStatus::Available,
        seat_state::LOCKED if lock_expires_at.is_some_and(|t| t <= now) => SeatStatus::Available,
        seat_state::LOCKED | seat_state::HELD_FOR_ORDER => SeatStatus::Locked,
        seat_state::SOLD => SeatStatus::Sold,
        other => return Err(corrupt(format!("unknown seat state {other:?}"))),
    })
}

// ---------------------------------------------------------------------------------- row types

#[derive(sqlx::FromRow)]
struct VenueRow {
    venue_id: String,
    name: String,
    country: String,
    city: String,
    street: String,
    postal_code: String,
    capacity: i64,
    status: String,
}

impl VenueRow {
    fn summary(self) -> Result<VenueSummary, QueryError> {
        Ok(VenueSummary {
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
struct VenueMapRow {
    #[sqlx(flatten)]
    venue: VenueRow,
    seat_map_id: String,
    seat_map_version: i64,
    seat_count: i64,
    seat_map: String,
}

#[derive(sqlx::FromRow)]
struct EventRow {
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

impl EventRow {
    fn price_range(&self) -> Result<Option<PriceRange>, QueryError> {
        let (Some(c), Some(min), Some(max)) = (&self.currency, &self.min_price, &self.max_price)
        else {
            return Ok(None);
        };
        Ok(Some(PriceRange {
            min: money(min, c)?,
            max: money(max, c)?,
        }))
    }
}

#[derive(sqlx::FromRow)]
struct SessionRow {
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

impl SessionRow {
    fn status(&self, now: DateTime<Utc>) -> SessionStatus {
        SessionStatus::at(now, self.sale_start_at, self.sale_end_at, self.end_at)
    }
}

#[derive(sqlx::FromRow)]
struct CategoryRow {
    category_id: String,
    name: String,
    area_ids: String,
    amount: String,
    currency: String,
}

#[derive(sqlx::FromRow)]
struct SessionSeatRow {
    seat_id: String,
    area_id: String,
    status: String,
    amount: Option<String>,
    currency: Option<String>,
    lock_expires_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct SeatDetailRow {
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
struct OrderListRow {
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
struct OrderRow {
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
struct OrderItemRow {
    seat_id: String,
    area_id: String,
    category_id: String,
    amount: String,
    currency: String,
    ticket_id: Option<String>,
}

#[derive(sqlx::FromRow)]
struct TicketRow {
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

// ------------------------------------------------------------------------------------- SQL

/// Seats free to lock at `$1` (= now), for one session `s`.
macro_rules! available_seats_sql {
    () => {
        "(SELECT COUNT(*) FROM ot_session_seats ss WHERE ss.session_id = s.session_id \
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
    ) -> Result<Page<VenueSummary>, QueryError> {
        let total: i64 = fetch_one!(
            &self.db,
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM ot_venues WHERE ($1 IS NULL OR city = $1)"
            )
            .bind(city)
        )?;
        let rows: Vec<VenueRow> = fetch_all!(
            &self.db,
            sqlx::query_as::<_, VenueRow>(
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
            .map(VenueRow::summary)
            .collect::<Result<_, _>>()?;
        Ok(Page::new(items, page, total))
    }

    /// `GET /venues/{venueId}` (seed 003 §3.2): the venue with its whole seat map, read from the
    /// stored JSON (one row whatever the venue's size). `None` when unknown.
    pub async fn venue(&self, venue_id: Uuid) -> Result<Option<VenueDetail>, QueryError> {
        let id = venue_id.to_string();
        let Some(map): Option<VenueMapRow> = fetch_optional!(
            &self.db,
            sqlx::query_as::<_, VenueMapRow>(
                "SELECT venue_id, name, country, city, street, postal_code, capacity, status, \
                 seat_map_id, seat_map_version, seat_count, seat_map \
                 FROM ot_venues WHERE venue_id = $1"
            )
            .bind(&id)
        )?
        else {
            return Ok(None);
        };
        let areas: Vec<SeatMapArea> = serde_json::from_str(&map.seat_map)
            .map_err(|e| corrupt(format!("seat map of venue {id}: {e}")))?;
        let v = map.venue.summary()?;
        Ok(Some(VenueDetail {
            venue_id: v.venue_id,
            name: v.name,
            address: v.address,
            capacity: v.capacity,
            status: v.status,
            seat_count: map.seat_count,
            seat_map: SeatMap {
                seat_map_id: uuid(&map.seat_map_id)?,
                version: map.seat_map_version,
                areas,
            },
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
    ) -> Result<Page<EventSummary>, QueryError> {
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
        let rows: Vec<EventRow> = fetch_all!(
            &self.db,
            sqlx::query_as::<_, EventRow>(AssertSqlSafe(sql.as_str()))
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
        for row in &rows {
            let own = sessions.remove(&row.event_id).unwrap_or_default();
            let sessions = own
                .iter()
                .map(|s| {
                    Ok(EventSessionSummary {
                        session_id: uuid(&s.session_id)?,
                        start_time: s.start_time.clone(),
                        status: s.status(now),
                        available_seats: s.available_seats,
                    })
                })
                .collect::<Result<Vec<_>, QueryError>>()?;
            items.push(EventSummary {
                event_id: uuid(&row.event_id)?,
                name: row.name.clone(),
                description: row.description.clone(),
                venue_id: uuid(&row.venue_id)?,
                venue_name: row.venue_name.clone(),
                status: EventStatus::from_sessions(sessions.iter().map(|s| s.status)),
                sessions,
                price_range: row.price_range()?,
            });
        }
        Ok(Page::new(items, page, total))
    }

    /// Sessions of these events, in the organizer's order, with available seats at `now`.
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
        let rows: Vec<SessionRow> = fetch_all!(&self.db, {
            let mut q = sqlx::query_as::<_, SessionRow>(AssertSqlSafe(sql.as_str())).bind(now);
            for id in event_ids {
                q = q.bind(*id);
            }
            q
        })?;
        for row in rows {
            by_event.entry(row.event_id.clone()).or_default().push(row);
        }
        Ok(by_event)
    }

    /// `GET /events/{eventId}` (seed 003 §4.2): the event, its venue, its sessions with their
    /// status and available seats at `now`, and its price categories. `None` when unknown.
    pub async fn event(
        &self,
        event_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<EventDetail>, QueryError> {
        let id = event_id.to_string();
        let sql = format!("SELECT {EVENT_COLUMNS} FROM ot_events e WHERE e.event_id = $1");
        let Some(row): Option<EventRow> = fetch_optional!(
            &self.db,
            sqlx::query_as::<_, EventRow>(AssertSqlSafe(sql.as_str())).bind(&id)
        )?
        else {
            return Ok(None);
        };
        let sessions = self
            .sessions_of(&[id.as_str()], now)
            .await?
            .remove(&id)
            .unwrap_or_default()
            .into_iter()
            .map(|s| {
                Ok(SessionView {
                    session_id: uuid(&s.session_id)?,
                    status: s.status(now),
                    start_time: s.start_time,
                    end_time: s.end_time,
                    sale_start_time: s.sale_start_time,
                    sale_end_time: s.sale_end_time,
                    available_seats: s.available_seats,
                })
            })
            .collect::<Result<Vec<_>, QueryError>>()?;
        let categories: Vec<CategoryRow> = fetch_all!(
            &self.db,
            sqlx::query_as::<_, CategoryRow>(
                "SELECT category_id, name, area_ids, amount, currency FROM ot_price_categories \
                 WHERE event_id = $1 ORDER BY category_order"
            )
            .bind(&id)
        )?;
        let price_categories = categories
            .into_iter()
            .map(|c| {
                Ok(PriceCategory {
                    area_ids: serde_json::from_str(&c.area_ids)
                        .map_err(|e| corrupt(format!("area ids of {}: {e}", c.category_id)))?,
                    price: money(&c.amount, &c.currency)?,
                    category_id: c.category_id,
                    name: c.name,
                })
            })
            .collect::<Result<Vec<_>, QueryError>>()?;
        Ok(Some(EventDetail {
            event_id: uuid(&row.event_id)?,
            organizer_id: uuid(&row.organizer_id)?,
            status: EventStatus::from_sessions(sessions.iter().map(|s| s.status)),
            venue: VenueRef {
                venue_id: uuid(&row.venue_id)?,
                name: row.venue_name,
            },
            name: row.name,
            description: row.description,
            sessions,
            price_categories,
        }))
    }

    // -------------------------------------------------------------------------- sessions

    /// `GET /sessions/{sessionId}/seats` (seed 003 §5.1): every seat of the session at `now`,
    /// grouped by area in seat-map order, with the price of available seats, and the summary.
    /// `None` when the session is unknown; no areas before it is opened.
    pub async fn session_seats(
        &self,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionSeats>, QueryError> {
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
        let rows: Vec<SessionSeatRow> = fetch_all!(
            &self.db,
            sqlx::query_as::<_, SessionSeatRow>(
                "SELECT seat_id, area_id, status, amount, currency, lock_expires_at \
                 FROM ot_session_seats WHERE session_id = $1 ORDER BY seat_order"
            )
            .bind(&id)
        )?;
        let mut summary = SeatSummary::default();
        let mut areas: Vec<SessionSeatArea> = Vec::new();
        for row in rows {
            let status = seat_status(&row.status, row.lock_expires_at, now)?;
            summary.total += 1;
            match status {
                SeatStatus::Available => summary.available += 1,
                SeatStatus::Locked => summary.locked += 1,
                SeatStatus::Sold => summary.sold += 1,
            }
            let price = if status == SeatStatus::Available {
                opt_money(row.amount.as_deref(), row.currency.as_deref())?
            } else {
                None
            };
            let seat = SessionSeat {
                seat_id: row.seat_id,
                status,
                price,
            };
            // Seats of an area are contiguous in seat-map order.
            match areas.last_mut() {
                Some(area) if area.area_id == row.area_id => area.seats.push(seat),
                _ => areas.push(SessionSeatArea {
                    area_id: row.area_id,
                    seats: vec![seat],
                }),
            }
        }
        Ok(Some(SessionSeats {
            session_id,
            areas,
            summary,
        }))
    }

    /// `GET /sessions/{sessionId}/seats/{seatId}` (seed 003 §5.4): one seat at `now`, with its
    /// row, number, type and its category's price. `None` when the session or seat is unknown.
    pub async fn seat(
        &self,
        session_id: Uuid,
        seat_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SeatDetail>, QueryError> {
        let row: Option<SeatDetailRow> = fetch_optional!(
            &self.db,
            sqlx::query_as::<_, SeatDetailRow>(
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
        Ok(Some(SeatDetail {
            status: seat_status(&row.status, row.lock_expires_at, now)?,
            price: opt_money(row.amount.as_deref(), row.currency.as_deref())?,
            seat_id: row.seat_id,
            session_id,
            area_id: row.area_id,
            row: row.row_label,
            number: row.seat_number,
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
    ) -> Result<Page<OrderSummary>, QueryError> {
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
        let rows: Vec<OrderListRow> = fetch_all!(
            &self.db,
            sqlx::query_as::<_, OrderListRow>(AssertSqlSafe(sql.as_str()))
                .bind(&user)
                .bind(status)
                .bind(page.limit())
                .bind(page.offset())
        )?;
        let items = rows
            .into_iter()
            .map(|r| {
                Ok(OrderSummary {
                    order_id: uuid(&r.order_id)?,
                    event: EventRef {
                        event_id: uuid(&r.event_id)?,
                        name: r.event_name,
                    },
                    session: SessionRef {
                        session_id: uuid(&r.session_id)?,
                        start_time: r.start_time,
                    },
                    seat_count: r.seat_count,
                    total_amount: money(&r.total_amount, &r.currency)?,
                    status: parse_status(&r.status)?,
                    created_at: r.created_at,
                })
            })
            .collect::<Result<Vec<_>, QueryError>>()?;
        Ok(Page::new(items, page, total))
    }

    /// `GET /orders/{orderId}` (seed 003 §6.2): the order with its items (and their tickets once
    /// completed), payment and timestamps. `None` when unknown; the caller checks `user_id`.
    pub async fn order(&self, order_id: Uuid) -> Result<Option<OrderDetail>, QueryError> {
        let id = order_id.to_string();
        let row: Option<OrderRow> = fetch_optional!(
            &self.db,
            sqlx::query_as::<_, OrderRow>(
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
        let items: Vec<OrderItemRow> = fetch_all!(
            &self.db,
            sqlx::query_as::<_, OrderItemRow>(
                "SELECT seat_id, area_id, category_id, amount, currency, ticket_id \
                 FROM ot_order_items WHERE order_id = $1 ORDER BY item_order"
            )
            .bind(&id)
        )?;
        let items = items
            .into_iter()
            .map(|i| {
                Ok(OrderItem {
                    price: money(&i.amount, &i.currency)?,
                    ticket_id: i.ticket_id.as_deref().map(uuid).transpose()?,
                    seat_id: i.seat_id,
                    area_id: i.area_id,
                    category_id: i.category_id,
                })
            })
            .collect::<Result<Vec<_>, QueryError>>()?;
        Ok(Some(OrderDetail {
            order_id: uuid(&o.order_id)?,
            user_id: uuid(&o.user_id)?,
            event_id: uuid(&o.event_id)?,
            session_id: uuid(&o.session_id)?,
            status: parse_status(&o.status)?,
            items,
            total_amount: money(&o.total_amount, &o.currency)?,
            payment: PaymentView {
                payment_id: uuid(&o.payment_id)?,
                provider: o.payment_provider,
                payment_url: o.payment_url,
                status: parse_status(&o.payment_status)?,
                paid_at: o.paid_at,
                failure_reason: o.payment_failure_reason,
            },
            refund_required: o.refund_required,
            created_at: o.created_at,
            expires_at: o.expires_at,
            completed_at: o.completed_at,
            cancelled_at: o.cancelled_at,
            expired_at: o.expired_at,
        }))
    }

    /// The order a payment attempt belongs to (the Mock provider's payment page looks orders up
    /// by `paymentId`). `None` when unknown.
    pub async fn order_by_payment(
        &self,
        payment_id: Uuid,
    ) -> Result<Option<OrderDetail>, QueryError> {
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
    /// `qrCode` is left for the HTTP layer to fill in.
    pub async fn tickets_of_user(
        &self,
        user_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<TicketSummary>, QueryError> {
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
        let rows: Vec<TicketRow> = fetch_all!(
            &self.db,
            sqlx::query_as::<_, TicketRow>(concat!(
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
            .map(|t| {
                Ok(TicketSummary {
                    ticket_id: uuid(&t.ticket_id)?,
                    event: EventRef {
                        event_id: uuid(&t.event_id)?,
                        name: t.event_name,
                    },
                    session: TicketSessionSummary {
                        session_id: uuid(&t.session_id)?,
                        start_time: t.start_time,
                        venue: t.venue_name,
                    },
                    seat: TicketSeatSummary {
                        seat_id: t.seat_id,
                        area: t.area_name,
                        row: t.row_label,
                        number: t.seat_number,
                    },
                    status: parse_status(&t.status)?,
                    issued_at: t.issued_at,
                    qr_code: None,
                })
            })
            .collect::<Result<Vec<_>, QueryError>>()?;
        Ok(Page::new(items, page, total))
    }

    /// `GET /tickets/{ticketId}` (seed 003 §7.2): the ticket with its event, session, venue,
    /// seat and price. `None` when unknown; the caller checks `user_id` and fills in the codes.
    pub async fn ticket(&self, ticket_id: Uuid) -> Result<Option<TicketDetail>, QueryError> {
        let row: Option<TicketRow> = fetch_optional!(
            &self.db,
            sqlx::query_as::<_, TicketRow>(concat!(ticket_from_sql!(), "WHERE t.ticket_id = $1"))
                .bind(ticket_id.to_string())
        )?;
        let Some(t) = row else {
            return Ok(None);
        };
        Ok(Some(TicketDetail {
            ticket_id: uuid(&t.ticket_id)?,
            order_id: uuid(&t.order_id)?,
            user_id: uuid(&t.user_id)?,
            event: TicketEvent {
                event_id: uuid(&t.event_id)?,
                name: t.event_name,
                description: t.event_description,
            },
            session: TicketSession {
                session_id: uuid(&t.session_id)?,
                start_time: t.start_time,
                end_time: t.end_time,
            },
            venue: TicketVenue {
                venue_id: uuid(&t.venue_id)?,
                name: t.venue_name,
                address: Address {
                    country: t.country,
                    city: t.city,
                    street: t.street,
                    postal_code: t.postal_code,
                },
            },
            seat: TicketSeat {
                seat_id: t.seat_id,
                area_id: t.area_id,
                area_name: t.area_name,
                row: t.row_label,
                number: t.seat_number,
            },
            price: money(&t.amount, &t.currency)?,
            status: parse_status(&t.status)?,
            issued_at: t.issued_at,
            used_at: t.used_at,
            verified_by: t.verified_by,
            qr_code: None,
            qr_code_image: None,
        }))
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
            seat_status("Locked", Some(now), now).unwrap(),
            SeatStatus::Available
        );
        assert_eq!(
            seat_status("Locked", Some(later), now).unwrap(),
            SeatStatus::Locked
        );
        assert_eq!(
            seat_status("HeldForOrder", None, now).unwrap(),
            SeatStatus::Locked
        );
        assert_eq!(seat_status("Sold", None, now).unwrap(), SeatStatus::Sold);
        assert!(seat_status("Gone", None, now).is_err());
    }

    #[test]
    fn money_is_a_json_number() {
        let m = money("4800", "TWD").unwrap();
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            serde_json::json!({"amount": 4800, "currency": "TWD"})
        );
        let m = money("12.50", "USD").unwrap();
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"amount":12.5,"currency":"USD"}"#
        );
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
        let page: Page<()> = Page::new(vec![], p, 41);
        assert_eq!(page.pagination.total_pages, 3);
    }
}
