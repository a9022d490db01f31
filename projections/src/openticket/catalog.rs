//! Projector `openticket_catalog`: venues and their seats, events, sessions, price categories and
//! the state of every seat in every opened session (docs/read-models.md).

use super::events::{
    EventCreated, SeatsHeldForOrder, SeatsLocked, SeatsReleased, SeatsSold, SessionOpened,
    VenueCreated,
};
use super::sql::{MAX_BINDS, Params, value_rows};
use super::{bad_event, parse, stream_uuid};
use crate::db::ProjectionTx;
use crate::execute;
use crate::projector::{ProjectionError, Projector};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::AssertSqlSafe;
use tessera_application::RecordedEvent;
use tessera_domain::Decider;
use tessera_domain::openticket::{event::Event, seat_session::SeatSession, venue::Venue};

/// Seat states stored in `ot_session_seats.status`.
pub(crate) mod seat_state {
    /// Free to lock.
    pub const AVAILABLE: &str = "Available";
    /// Locked by a buyer until `lock_expires_at`.
    pub const LOCKED: &str = "Locked";
    /// Held for an unpaid order (until it is paid, cancelled or expires).
    pub const HELD_FOR_ORDER: &str = "HeldForOrder";
    /// Sold to a paid order (`OpenTicketSeatsSold`).
    pub const SOLD: &str = "Sold";
}

/// Columns of one `ot_venue_seats` row in the multi-row insert.
const VENUE_SEAT_COLUMNS: usize = 10;

/// Writes `ot_venues`, `ot_venue_seats`, `ot_events`, `ot_sessions`, `ot_price_categories`,
/// `ot_category_areas` and `ot_session_seats` from the `venue`, `event` and `seatSession` streams.
///
/// Session seats are derived from venue seats and price categories, which is why all of these
/// belong to one projector: its own earlier events are always applied before
/// `OpenTicketSessionOpened`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CatalogProjector;

#[async_trait]
impl Projector for CatalogProjector {
    fn name(&self) -> &'static str {
        "openticket_catalog"
    }

    fn version(&self) -> u32 {
        1
    }

    fn categories(&self) -> &'static [&'static str] {
        &[Venue::CATEGORY, Event::CATEGORY, SeatSession::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &[
            "OpenTicketVenueCreated",
            "OpenTicketEventCreated",
            "OpenTicketSessionOpened",
            "OpenTicketSeatsLocked",
            "OpenTicketSeatsReleased",
            "OpenTicketSeatsHeldForOrder",
            "OpenTicketSeatsSold",
        ]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        for table in [
            "ot_session_seats",
            "ot_category_areas",
            "ot_price_categories",
            "ot_sessions",
            "ot_events",
            "ot_venue_seats",
            "ot_venues",
        ] {
            let sql = format!("DELETE FROM {table}");
            execute!(&mut *tx, sqlx::query(AssertSqlSafe(sql.as_str())))?;
        }
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        self.apply_batch(tx, &[event]).await
    }

    /// Seat events (most of an onsale's log) are collected over the batch, each seat keeping its
    /// last state, and written with one multi-row `UPDATE` per chunk instead of one per event;
    /// any other event first writes the seats collected so far, then applies as usual, so rows end
    /// as if every event had been applied in order.
    async fn apply_batch(
        &self,
        tx: &mut ProjectionTx,
        events: &[&RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let mut seats = SeatWrites::default();
        for event in events {
            match seat_change(event)? {
                Some((seat_ids, change)) => {
                    let session_id = stream_uuid(event)?.to_string();
                    seats.set(&session_id, seat_ids, &change);
                }
                None => {
                    seats.write(tx).await?;
                    apply_catalog(tx, event).await?;
                }
            }
        }
        seats.write(tx).await
    }
}

/// Apply a venue, event or session-opening event (every event but the seat changes).
async fn apply_catalog(
    tx: &mut ProjectionTx,
    event: &RecordedEvent,
) -> Result<(), ProjectionError> {
    match event.event_type.as_str() {
        "OpenTicketVenueCreated" => venue_created(tx, event, parse(event)?).await,
        "OpenTicketEventCreated" => event_created(tx, event, parse(event)?).await,
        "OpenTicketSessionOpened" => session_opened(tx, parse(event)?).await,
        _ => Ok(()),
    }
}

/// The seats an `OpenTicketSeats…` event changes and their new state; `None` for other events.
fn seat_change(
    event: &RecordedEvent,
) -> Result<Option<(Vec<String>, SeatChange)>, ProjectionError> {
    Ok(Some(match event.event_type.as_str() {
        "OpenTicketSeatsLocked" => {
            let d: SeatsLocked = parse(event)?;
            let change = SeatChange {
                status: seat_state::LOCKED,
                lock_id: Some(d.lock_id.to_string()),
                user_id: Some(d.user_id.to_string()),
                lock_expires_at: Some(d.expires_at),
                order_id: None,
                held_until: None,
                at: d.locked_at,
            };
            (d.seat_ids, change)
        }
        "OpenTicketSeatsReleased" => {
            let d: SeatsReleased = parse(event)?;
            let change = SeatChange {
                status: seat_state::AVAILABLE,
                lock_id: None,
                user_id: None,
                lock_expires_at: None,
                order_id: None,
                held_until: None,
                at: d.released_at,
            };
            (d.seat_ids, change)
        }
        "OpenTicketSeatsHeldForOrder" => {
            let d: SeatsHeldForOrder = parse(event)?;
            let change = SeatChange {
                status: seat_state::HELD_FOR_ORDER,
                lock_id: None,
                user_id: Some(d.user_id.to_string()),
                lock_expires_at: None,
                order_id: Some(d.order_id.to_string()),
                held_until: Some(d.held_until),
                at: d.held_at,
            };
            (d.seat_ids, change)
        }
        "OpenTicketSeatsSold" => {
            let d: SeatsSold = parse(event)?;
            let change = SeatChange {
                status: seat_state::SOLD,
                lock_id: None,
                user_id: Some(d.user_id.to_string()),
                lock_expires_at: None,
                order_id: Some(d.order_id.to_string()),
                held_until: None,
                at: d.sold_at,
            };
            (d.seat_ids, change)
        }
        _ => return Ok(None),
    }))
}

async fn venue_created(
    tx: &mut ProjectionTx,
    event: &RecordedEvent,
    d: VenueCreated,
) -> Result<(), ProjectionError> {
    let venue_id = d.venue_id.to_string();
    let seat_count: usize = d.areas.iter().map(|a| a.seats.len()).sum();
    // The seat map is stored exactly as `GET /venues/{id}` returns it, so that reading a
    // 15,000-seat venue is one row and one JSON parse, not 15,000 rows.
    let seat_map = serde_json::to_string(&d.areas).map_err(|e| bad_event(event, e))?;
    let inserted = execute!(
        &mut *tx,
        sqlx::query(
            "INSERT INTO ot_venues (venue_id, seat_map_id, seat_map_version, name, country, city, \
             street, postal_code, capacity, seat_count, area_count, status, seat_map, created_by, \
             created_at) \
             VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10, 'Active', $11, $12, $13) \
             ON CONFLICT (venue_id) DO NOTHING",
        )
        .bind(&venue_id)
        .bind(d.seat_map_id.to_string())
        .bind(&d.name)
        .bind(&d.address.country)
        .bind(&d.address.city)
        .bind(&d.address.street)
        .bind(&d.address.postal_code)
        .bind(d.capacity)
        .bind(seat_count as i64)
        .bind(d.areas.len() as i64)
        .bind(&seat_map)
        .bind(d.created_by.map(|u| u.to_string()))
        .bind(d.created_at)
    )?;
    if inserted == 0 {
        return Ok(()); // already projected
    }

    struct Row<'a> {
        seat_id: &'a str,
        area_id: &'a str,
        area_name: &'a str,
        order: i64,
        row: &'a str,
        number: i64,
        x: f64,
        y: f64,
        seat_type: &'a str,
    }
    let mut rows = Vec::with_capacity(seat_count);
    for area in &d.areas {
        for seat in &area.seats {
            rows.push(Row {
                seat_id: &seat.seat_id,
                area_id: &area.area_id,
                area_name: &area.name,
                order: rows.len() as i64,
                row: &seat.row,
                number: seat.number,
                x: seat.x.as_f64().unwrap_or_default(),
                y: seat.y.as_f64().unwrap_or_default(),
                seat_type: &seat.seat_type,
            });
        }
    }
    // Multi-row inserts in chunks that stay under SQLite's bind-parameter limit: a 15,000-seat
    // venue takes 5 statements.
    let params = match tx {
        ProjectionTx::Sqlite(_) => Params::Anonymous,
        ProjectionTx::Postgres(_) => Params::Numbered,
    };
    for chunk in rows.chunks(MAX_BINDS / VENUE_SEAT_COLUMNS) {
        let sql = format!(
            "INSERT INTO ot_venue_seats (venue_id, seat_id, area_id, area_name, seat_order, \
             row_label, seat_number, x, y, seat_type) VALUES {} \
             ON CONFLICT (venue_id, seat_id) DO NOTHING",
            value_rows(chunk.len(), VENUE_SEAT_COLUMNS, params)
        );
        execute!(&mut *tx, {
            let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
            for r in chunk {
                q = q
                    .bind(venue_id.as_str())
                    .bind(r.seat_id)
                    .bind(r.area_id)
                    .bind(r.area_name)
                    .bind(r.order)
                    .bind(r.row)
                    .bind(r.number)
                    .bind(r.x)
                    .bind(r.y)
                    .bind(r.seat_type);
            }
            q
        })?;
    }
    Ok(())
}

/// A session time as the organizer wrote it, and as a UTC instant.
fn instant(
    event: &RecordedEvent,
    field: &str,
    text: &str,
) -> Result<DateTime<Utc>, ProjectionError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| bad_event(event, format!("{field} {text:?} is not RFC 3339: {e}")))
}

async fn event_created(
    tx: &mut ProjectionTx,
    event: &RecordedEvent,
    d: EventCreated,
) -> Result<(), ProjectionError> {
    let event_id = d.event_id.to_string();
    let venue_id = d.venue_id.to_string();

    struct Times {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        sale_start: DateTime<Utc>,
        sale_end: DateTime<Utc>,
    }
    let mut times = Vec::with_capacity(d.sessions.len());
    for s in &d.sessions {
        times.push(Times {
            start: instant(event, "startTime", &s.start_time)?,
            end: instant(event, "endTime", &s.end_time)?,
            sale_start: instant(event, "saleStartTime", &s.sale_start_time)?,
            sale_end: instant(event, "saleEndTime", &s.sale_end_time)?,
        });
    }
    // Events without sessions sort by their creation.
    let first_start = times.iter().map(|t| t.start).min().unwrap_or(d.created_at);
    let last_end = times.iter().map(|t| t.end).max().unwrap_or(d.created_at);

    // An event is priced in one currency (the domain checks it); the range is taken over the
    // categories in the first category's currency.
    let currency = d.price_categories.first().map(|c| c.price.currency.clone());
    let amounts: Vec<Decimal> = d
        .price_categories
        .iter()
        .filter(|c| Some(&c.price.currency) == currency.as_ref())
        .map(|c| c.price.amount)
        .collect();
    let min_price = amounts.iter().min().map(|a| a.to_string());
    let max_price = amounts.iter().max().map(|a| a.to_string());

    let inserted = execute!(
        &mut *tx,
        sqlx::query(
            "INSERT INTO ot_events (event_id, organizer_id, name, description, venue_id, venue_name, \
             currency, min_price, max_price, session_count, first_start_at, last_end_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(&event_id)
        .bind(d.organizer_id.to_string())
        .bind(&d.name)
        .bind(d.description.as_deref())
        .bind(&venue_id)
        .bind(&d.venue_name)
        .bind(currency.as_deref())
        .bind(min_price.as_deref())
        .bind(max_price.as_deref())
        .bind(d.sessions.len() as i64)
        .bind(first_start)
        .bind(last_end)
        .bind(d.created_at)
    )?;
    if inserted == 0 {
        return Ok(()); // already projected
    }

    for (i, (s, t)) in d.sessions.iter().zip(&times).enumerate() {
        execute!(
            &mut *tx,
            sqlx::query(
                "INSERT INTO ot_sessions (session_id, event_id, venue_id, session_order, start_time, \
                 end_time, sale_start_time, sale_end_time, start_at, end_at, sale_start_at, \
                 sale_end_at, opened, opened_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL) \
                 ON CONFLICT (session_id) DO NOTHING",
            )
            .bind(s.session_id.to_string())
            .bind(&event_id)
            .bind(&venue_id)
            .bind(i as i64)
            .bind(&s.start_time)
            .bind(&s.end_time)
            .bind(&s.sale_start_time)
            .bind(&s.sale_end_time)
            .bind(t.start)
            .bind(t.end)
            .bind(t.sale_start)
            .bind(t.sale_end)
            .bind(false)
        )?;
    }

    for (i, c) in d.price_categories.iter().enumerate() {
        let area_ids = serde_json::to_string(&c.area_ids).map_err(|e| bad_event(event, e))?;
        execute!(
            &mut *tx,
            sqlx::query(
                "INSERT INTO ot_price_categories (event_id, category_id, category_order, name, \
                 area_ids, amount, currency) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (event_id, category_id) DO NOTHING",
            )
            .bind(&event_id)
            .bind(&c.category_id)
            .bind(i as i64)
            .bind(&c.name)
            .bind(&area_ids)
            .bind(c.price.amount.to_string())
            .bind(&c.price.currency)
        )?;
        for area_id in &c.area_ids {
            // An area priced by two categories keeps the first (the domain refuses that anyway).
            execute!(
                &mut *tx,
                sqlx::query(
                    "INSERT INTO ot_category_areas (event_id, area_id, category_id) \
                     VALUES ($1, $2, $3) ON CONFLICT (event_id, area_id) DO NOTHING",
                )
                .bind(&event_id)
                .bind(area_id)
                .bind(&c.category_id)
            )?;
        }
    }
    Ok(())
}

async fn session_opened(tx: &mut ProjectionTx, d: SessionOpened) -> Result<(), ProjectionError> {
    let session_id = d.session_id.to_string();
    execute!(
        &mut *tx,
        sqlx::query("UPDATE ot_sessions SET opened = $1, opened_at = $2 WHERE session_id = $3")
            .bind(true)
            .bind(d.opened_at)
            .bind(&session_id)
    )?;
    // One row per venue seat, priced by its area's category, in a single statement whatever the
    // venue's size.
    execute!(
        &mut *tx,
        sqlx::query(
            "INSERT INTO ot_session_seats (session_id, seat_id, event_id, area_id, seat_order, \
             category_id, amount, currency, status, updated_at) \
             SELECT $1, vs.seat_id, $2, vs.area_id, vs.seat_order, pc.category_id, pc.amount, \
             pc.currency, 'Available', $3 \
             FROM ot_venue_seats vs \
             LEFT JOIN ot_category_areas ca ON ca.event_id = $2 AND ca.area_id = vs.area_id \
             LEFT JOIN ot_price_categories pc \
               ON pc.event_id = ca.event_id AND pc.category_id = ca.category_id \
             WHERE vs.venue_id = $4 \
             ON CONFLICT (session_id, seat_id) DO NOTHING",
        )
        .bind(&session_id)
        .bind(d.event_id.to_string())
        .bind(d.opened_at)
        .bind(d.venue_id.to_string())
    )?;
    Ok(())
}

/// The new state of some seats of a session.
#[derive(Debug, Clone)]
struct SeatChange {
    status: &'static str,
    lock_id: Option<String>,
    user_id: Option<String>,
    lock_expires_at: Option<DateTime<Utc>>,
    order_id: Option<String>,
    held_until: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
}

/// Columns of one row of the multi-row seat `UPDATE`: session, seat and the seven of [`SeatChange`].
const SEAT_WRITE_COLUMNS: usize = 9;

/// The seat `UPDATE` on PostgreSQL: the same columns as the SQLite statement, one array each
/// (`$1` sessions … `$9` change times), so that thousands of rows are nine parameters to parse,
/// bind and plan instead of nine per row.
const SEAT_UPDATE_UNNEST: &str = "UPDATE ot_session_seats SET status = v.status, \
     lock_id = v.lock_id, user_id = v.user_id, lock_expires_at = v.lock_expires_at, \
     order_id = v.order_id, held_until = v.held_until, updated_at = v.updated_at \
     FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
     $6::timestamptz[], $7::text[], $8::timestamptz[], $9::timestamptz[]) \
     AS v (session_id, seat_id, status, lock_id, user_id, lock_expires_at, order_id, \
     held_until, updated_at) \
     WHERE ot_session_seats.session_id = v.session_id AND ot_session_seats.seat_id = v.seat_id";

/// The net seat changes of part of a batch ([`CatalogProjector::apply_batch`]): each `(session,
/// seat)` once, with the state of its last event. Every seat event states the seats' whole new
/// state, so writing one twice changes nothing.
#[derive(Default)]
struct SeatWrites {
    rows: Vec<(String, String, SeatChange)>,
    index: std::collections::HashMap<(String, String), usize>,
}

impl SeatWrites {
    fn set(&mut self, session_id: &str, seat_ids: Vec<String>, change: &SeatChange) {
        for seat_id in seat_ids {
            let key = (session_id.to_owned(), seat_id);
            match self.index.get(&key) {
                Some(&i) => self.rows[i].2 = change.clone(),
                None => {
                    self.index.insert(key.clone(), self.rows.len());
                    self.rows.push((key.0, key.1, change.clone()));
                }
            }
        }
    }

    /// Write the collected rows and start empty: on PostgreSQL one statement whose rows arrive as
    /// one array per column ([`SEAT_UPDATE_UNNEST`]), on SQLite one multi-row `VALUES` statement
    /// per chunk under [`MAX_BINDS`].
    async fn write(&mut self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        if !self.rows.is_empty() {
            if let ProjectionTx::Postgres(t) = tx {
                write_seats_unnest(t, &self.rows).await?;
            } else {
                write_seats_values(tx, &self.rows).await?;
            }
        }
        self.rows.clear();
        self.index.clear();
        Ok(())
    }
}

/// [`SeatWrites::write`] on PostgreSQL.
async fn write_seats_unnest(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    rows: &[(String, String, SeatChange)],
) -> Result<(), ProjectionError> {
    sqlx::query(SEAT_UPDATE_UNNEST)
        .bind(rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.2.status).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.2.lock_id.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|r| r.2.user_id.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|r| r.2.lock_expires_at).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.2.order_id.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|r| r.2.held_until).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.2.at).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// [`SeatWrites::write`] on SQLite, which has no arrays.
async fn write_seats_values(
    tx: &mut ProjectionTx,
    rows: &[(String, String, SeatChange)],
) -> Result<(), ProjectionError> {
    for chunk in rows.chunks(MAX_BINDS / SEAT_WRITE_COLUMNS) {
        let sql = format!(
            "WITH v (session_id, seat_id, status, lock_id, user_id, lock_expires_at, order_id, \
             held_until, updated_at) AS (VALUES {}) \
             UPDATE ot_session_seats SET status = v.status, lock_id = v.lock_id, \
             user_id = v.user_id, lock_expires_at = v.lock_expires_at, order_id = v.order_id, \
             held_until = v.held_until, updated_at = v.updated_at \
             FROM v WHERE ot_session_seats.session_id = v.session_id \
             AND ot_session_seats.seat_id = v.seat_id",
            value_rows(chunk.len(), SEAT_WRITE_COLUMNS, Params::Anonymous)
        );
        execute!(&mut *tx, {
            let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
            for (session_id, seat_id, c) in chunk {
                q = q
                    .bind(session_id.as_str())
                    .bind(seat_id.as_str())
                    .bind(c.status)
                    .bind(c.lock_id.as_deref())
                    .bind(c.user_id.as_deref())
                    .bind(c.lock_expires_at)
                    .bind(c.order_id.as_deref())
                    .bind(c.held_until)
                    .bind(c.at);
            }
            q
        })?;
    }
    Ok(())
}
