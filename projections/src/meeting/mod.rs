//! Meeting-ticket read models (seed 000): meetings with their ticket grades and stock counters,
//! orders with one row per order line, tickets with their attendee, and the WeChat tokens WeChat
//! vouched for — plus the queries the seed 000 HTTP routes serve from them (docs/read-models.md,
//! section "Meeting tickets (seed 000)", documents every table).
//!
//! Four projectors share the `mt_` tables, each owning its own:
//!
//! * [`CatalogProjector`] (`meeting_catalog`): `mt_meetings`, `mt_ticket_grades` and
//!   `mt_stock_holds`, from the `meeting` streams. The stock counters (`held`, `sold`) are kept
//!   through `mt_stock_holds` (one row per order line and its state), so they live in the same
//!   projector.
//! * [`OrdersProjector`] (`meeting_orders`): `mt_orders` and `mt_order_items`, from the
//!   `meetingOrder` streams.
//! * [`TicketsProjector`] (`meeting_tickets`): `mt_tickets`, from the `meetingTicket` streams.
//! * [`WechatTokensProjector`] (`meeting_wechat_tokens`): `mt_wechat_tokens`, from the
//!   `wechatAccount` streams.
//!
//! No projector reads another's tables while applying events; a ticket's grade name is joined in
//! at query time, so each projector can be rebuilt on its own.
//!
//! Event data is parsed with this module's own serde structs (the input contract is
//! docs/event-catalog.md, section "Meeting tickets (seed 000)"), not with the domain's event types.
//!
//! Storage conventions, identical on both backends so that one SQL text serves both: money is an
//! INTEGER (`BIGINT`) number of fen (CNY minor units, 1 yuan = 100 fen) in columns named `*_fen`,
//! exactly as the events carry it, and the queries return it in fen too (the api layer shows yuan).
//! Instants are UTC (`TIMESTAMPTZ` on PostgreSQL, RFC 3339 TEXT written by sqlx on SQLite, which
//! compares correctly as text); ids are lower-case hyphenated UUID TEXT; JSON documents are TEXT;
//! booleans are `BOOLEAN` (0/1 on SQLite).

use crate::projector::{ProjectionError, Projector};
use std::sync::Arc;
use tessera_application::RecordedEvent;

/// Fetch all rows of a query through the read pool of either backend. The query expression is
/// type-checked once per backend, like [`crate::execute!`].
macro_rules! fetch_all {
    ($db:expr, $query:expr) => {
        match $db {
            $crate::db::ReadModelDb::Sqlite { reader, .. } => $query.fetch_all(reader).await,
            $crate::db::ReadModelDb::Postgres(pool) => $query.fetch_all(pool).await,
        }
    };
}

/// Fetch at most one row through the read pool of either backend.
macro_rules! fetch_optional {
    ($db:expr, $query:expr) => {
        match $db {
            $crate::db::ReadModelDb::Sqlite { reader, .. } => $query.fetch_optional(reader).await,
            $crate::db::ReadModelDb::Postgres(pool) => $query.fetch_optional(pool).await,
        }
    };
}

/// Fetch exactly one row through the read pool of either backend.
macro_rules! fetch_one {
    ($db:expr, $query:expr) => {
        match $db {
            $crate::db::ReadModelDb::Sqlite { reader, .. } => $query.fetch_one(reader).await,
            $crate::db::ReadModelDb::Postgres(pool) => $query.fetch_one(pool).await,
        }
    };
}

mod catalog;
mod events;
mod orders;
mod queries;
mod rows;
mod tickets;
mod wechat;

pub use catalog::{CatalogProjector, meeting_status, stock_state};
pub use orders::{OrdersProjector, order_status};
pub use queries::MeetingQueries;
pub use rows::*;
pub use tickets::TicketsProjector;
pub use wechat::WechatTokensProjector;

/// Every meeting-ticket projector, in the order they should be caught up (catalog first: ticket
/// queries join its grade names).
pub fn projectors() -> Vec<Arc<dyn Projector>> {
    vec![
        Arc::new(CatalogProjector),
        Arc::new(OrdersProjector),
        Arc::new(TicketsProjector),
        Arc::new(WechatTokensProjector),
    ]
}

use crate::projector::{bad_event, parse};

/// The aggregate id of an event's stream (`meetingOrder-{id}` → `id`), as lower-case UUID text.
fn stream_id(event: &RecordedEvent) -> Result<String, ProjectionError> {
    crate::projector::stream_uuid(event).map(|u| u.to_string())
}
