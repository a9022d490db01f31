//! Projector `meeting_catalog`: meetings, their ticket grades and the grades' stock counters
//! (docs/read-models.md, "Meeting tickets (seed 000)").

use super::events::{
    MeetingCreated, SalesClosed, SalesOpened, StockLine, StockReleased, StockReserved, StockSold,
    TicketGradeAdded, TicketGradeChanged,
};
use super::{parse, stream_id};
use crate::db::ProjectionTx;
use crate::execute;
use crate::projector::{ProjectionError, Projector};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_application::RecordedEvent;
use tessera_domain::Decider;
use tessera_domain::meeting::Meeting;

/// Sales statuses stored in `mt_meetings.status` (the API's strings).
pub mod meeting_status {
    /// Created; sales not opened yet.
    pub const DRAFT: &str = "draft";
    /// Taking orders (`MeetingSalesOpened`).
    pub const ON_SALE: &str = "onSale";
    /// Sales closed (`MeetingSalesClosed`; may be reopened).
    pub const CLOSED: &str = "closed";
}

/// States of an order line's stock stored in `mt_stock_holds.state`.
pub mod stock_state {
    /// Reserved for an unpaid order: counted in the grade's `held`.
    pub const HELD: &str = "held";
    /// The reservation was given back (order cancelled or expired): counted nowhere.
    pub const RELEASED: &str = "released";
    /// Sold to a paid order: counted in the grade's `sold`.
    pub const SOLD: &str = "sold";
}

/// Writes `mt_meetings`, `mt_ticket_grades` and `mt_stock_holds` from the `meeting` streams.
///
/// Per grade, `held` and `sold` follow the stock events exactly as the aggregate counts them:
/// `MeetingStockReserved` adds to `held`; `MeetingStockReleased` takes the order's held lines off
/// `held`; `MeetingStockSold` takes the order's held lines (if it still holds them: not when
/// `retaken`, whose reservation was released before) off `held` and adds the sold lines to `sold`.
/// Every change goes through a state change of a `mt_stock_holds` row, so applying an event twice
/// counts it once.
#[derive(Debug, Clone, Copy, Default)]
pub struct CatalogProjector;

#[async_trait]
impl Projector for CatalogProjector {
    fn name(&self) -> &'static str {
        "meeting_catalog"
    }

    fn version(&self) -> u32 {
        1
    }

    fn categories(&self) -> &'static [&'static str] {
        &[Meeting::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &[
            "MeetingCreated",
            "MeetingTicketGradeAdded",
            "MeetingTicketGradeChanged",
            "MeetingSalesOpened",
            "MeetingSalesClosed",
            "MeetingStockReserved",
            "MeetingStockReleased",
            "MeetingStockSold",
        ]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(&mut *tx, sqlx::query("DELETE FROM mt_stock_holds"))?;
        execute!(&mut *tx, sqlx::query("DELETE FROM mt_ticket_grades"))?;
        execute!(&mut *tx, sqlx::query("DELETE FROM mt_meetings"))?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        let meeting_id = stream_id(event)?;
        match event.event_type.as_str() {
            "MeetingCreated" => {
                let d: MeetingCreated = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "INSERT INTO mt_meetings (meeting_id, organizer_id, title, description, \
                         location, start_time, end_time, status, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
                         ON CONFLICT (meeting_id) DO NOTHING",
                    )
                    .bind(&meeting_id)
                    .bind(d.organizer_id.to_string())
                    .bind(&d.title)
                    .bind(&d.description)
                    .bind(&d.location)
                    .bind(d.start_time)
                    .bind(d.end_time)
                    .bind(meeting_status::DRAFT)
                    .bind(d.created_at)
                )?;
            }
            "MeetingTicketGradeAdded" => {
                let d: TicketGradeAdded = parse(event)?;
                // `grade_order` is the grade's place among its meeting's grades (0-based), in the
                // order they were added.
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "INSERT INTO mt_ticket_grades (meeting_id, ticket_grade_id, grade_order, \
                         name, price_fen, stock, held, sold, added_at, updated_at) \
                         SELECT $1, $2, COUNT(*), $3, $4, $5, 0, 0, $6, $6 \
                         FROM mt_ticket_grades WHERE meeting_id = $1 \
                         ON CONFLICT (meeting_id, ticket_grade_id) DO NOTHING",
                    )
                    .bind(&meeting_id)
                    .bind(d.ticket_grade_id.to_string())
                    .bind(&d.name)
                    .bind(d.price_fen)
                    .bind(d.stock)
                    .bind(d.added_at)
                )?;
            }
            "MeetingTicketGradeChanged" => {
                let d: TicketGradeChanged = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE mt_ticket_grades SET name = $1, price_fen = $2, stock = $3, \
                         updated_at = $4 WHERE meeting_id = $5 AND ticket_grade_id = $6",
                    )
                    .bind(&d.name)
                    .bind(d.price_fen)
                    .bind(d.stock)
                    .bind(d.changed_at)
                    .bind(&meeting_id)
                    .bind(d.ticket_grade_id.to_string())
                )?;
            }
            "MeetingSalesOpened" => {
                let d: SalesOpened = parse(event)?;
                set_status(tx, &meeting_id, meeting_status::ON_SALE, d.opened_at).await?;
            }
            "MeetingSalesClosed" => {
                let d: SalesClosed = parse(event)?;
                set_status(tx, &meeting_id, meeting_status::CLOSED, d.closed_at).await?;
            }
            "MeetingStockReserved" => {
                let d: StockReserved = parse(event)?;
                let order_id = d.order_id.to_string();
                for (line_no, line) in d.lines.iter().enumerate() {
                    let inserted = insert_line(
                        tx,
                        &meeting_id,
                        &order_id,
                        line_no,
                        line,
                        stock_state::HELD,
                        false,
                        d.reserved_at,
                    )
                    .await?;
                    if inserted == 1 {
                        add_to_counter(tx, "held", &meeting_id, line, d.reserved_at).await?;
                    }
                }
            }
            "MeetingStockReleased" => {
                let d: StockReleased = parse(event)?;
                let order_id = d.order_id.to_string();
                take_off_held(tx, &meeting_id, &order_id, d.released_at).await?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE mt_stock_holds SET state = $1, updated_at = $2 \
                         WHERE order_id = $3 AND state = $4",
                    )
                    .bind(stock_state::RELEASED)
                    .bind(d.released_at)
                    .bind(&order_id)
                    .bind(stock_state::HELD)
                )?;
            }
            "MeetingStockSold" => {
                let d: StockSold = parse(event)?;
                let order_id = d.order_id.to_string();
                // The reservation, if the order still holds it, stops counting as held; its rows
                // (held, or released before a retaken sale) give way to the sold lines.
                take_off_held(tx, &meeting_id, &order_id, d.sold_at).await?;
                execute!(
                    &mut *tx,
                    sqlx::query("DELETE FROM mt_stock_holds WHERE order_id = $1 AND state <> $2")
                        .bind(&order_id)
                        .bind(stock_state::SOLD)
                )?;
                for (line_no, line) in d.lines.iter().enumerate() {
                    let inserted = insert_line(
                        tx,
                        &meeting_id,
                        &order_id,
                        line_no,
                        line,
                        stock_state::SOLD,
                        d.retaken,
                        d.sold_at,
                    )
                    .await?;
                    if inserted == 1 {
                        add_to_counter(tx, "sold", &meeting_id, line, d.sold_at).await?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

async fn set_status(
    tx: &mut ProjectionTx,
    meeting_id: &str,
    status: &str,
    at: DateTime<Utc>,
) -> Result<(), ProjectionError> {
    execute!(
        &mut *tx,
        sqlx::query("UPDATE mt_meetings SET status = $1, updated_at = $2 WHERE meeting_id = $3")
            .bind(status)
            .bind(at)
            .bind(meeting_id)
    )?;
    Ok(())
}

/// Insert one stock line; returns 1 when inserted, 0 when the row was already there (the event
/// was applied before).
#[allow(clippy::too_many_arguments)]
async fn insert_line(
    tx: &mut ProjectionTx,
    meeting_id: &str,
    order_id: &str,
    line_no: usize,
    line: &StockLine,
    state: &str,
    retaken: bool,
    at: DateTime<Utc>,
) -> Result<u64, ProjectionError> {
    Ok(execute!(
        &mut *tx,
        sqlx::query(
            "INSERT INTO mt_stock_holds (order_id, line_no, meeting_id, ticket_grade_id, amount, \
             state, retaken, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (order_id, line_no) DO NOTHING",
        )
        .bind(order_id)
        .bind(line_no as i64)
        .bind(meeting_id)
        .bind(line.ticket_grade_id.to_string())
        .bind(line.amount)
        .bind(state)
        .bind(retaken)
        .bind(at)
    )?)
}

/// Add a line's amount to one counter (`held` or `sold`, never user input) of its grade.
async fn add_to_counter(
    tx: &mut ProjectionTx,
    counter: &'static str,
    meeting_id: &str,
    line: &StockLine,
    at: DateTime<Utc>,
) -> Result<(), ProjectionError> {
    let sql = format!(
        "UPDATE mt_ticket_grades SET {counter} = {counter} + $1, updated_at = $2 \
         WHERE meeting_id = $3 AND ticket_grade_id = $4"
    );
    execute!(
        &mut *tx,
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(line.amount)
            .bind(at)
            .bind(meeting_id)
            .bind(line.ticket_grade_id.to_string())
    )?;
    Ok(())
}

/// Take what `order_id` holds off its grades' `held` (nothing when it holds nothing any more).
async fn take_off_held(
    tx: &mut ProjectionTx,
    meeting_id: &str,
    order_id: &str,
    at: DateTime<Utc>,
) -> Result<(), ProjectionError> {
    execute!(
        &mut *tx,
        sqlx::query(
            "UPDATE mt_ticket_grades SET held = held - CAST((SELECT SUM(h.amount) \
               FROM mt_stock_holds h WHERE h.order_id = $1 AND h.state = $2 \
               AND h.meeting_id = mt_ticket_grades.meeting_id \
               AND h.ticket_grade_id = mt_ticket_grades.ticket_grade_id) AS BIGINT), \
             updated_at = $3 \
             WHERE meeting_id = $4 AND ticket_grade_id IN (SELECT h.ticket_grade_id \
               FROM mt_stock_holds h WHERE h.order_id = $1 AND h.state = $2)",
        )
        .bind(order_id)
        .bind(stock_state::HELD)
        .bind(at)
        .bind(meeting_id)
    )?;
    Ok(())
}
