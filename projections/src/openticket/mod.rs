//! OpenTicket read models (seed 003): venues and their seat maps, events with sessions and price
//! categories, per-session seat states, orders with one row per seat sold, and tickets — plus the
//! queries the OpenTicket HTTP routes serve from them, which return plain rows ([`VenueRow`],
//! [`OrderRow`] …) that the API turns into seed 003's JSON (docs/read-models.md documents every
//! table).
//!
//! Three projectors share the `ot_` tables, each owning its own:
//!
//! * [`CatalogProjector`] (`openticket_catalog`): venues, venue seats, events, sessions, price
//!   categories and session seats. Session seats are filled from venue seats and price categories,
//!   so those tables must live in the same projector: only then are they guaranteed to be current
//!   when `OpenTicketSessionOpened` is applied (each projector follows the log at its own pace).
//! * [`OrdersProjector`] (`openticket_orders`): orders and order items (the analysts' sales table).
//! * [`TicketsProjector`] (`openticket_tickets`): tickets.
//!
//! No projector reads another's tables while applying events; names, times and seat labels are
//! joined in at query time instead, so each projector can be rebuilt on its own.
//!
//! Event data is parsed with this module's own serde structs (the input contract is
//! docs/event-catalog.md), not with the domain's event types.
//!
//! Storage conventions, identical on both backends so that one SQL text serves both:
//! money is an exact decimal string (`amount` TEXT, e.g. `"4800"` or `"12.50"`) plus an ISO 4217
//! `currency` TEXT (sqlx maps `rust_decimal` only on PostgreSQL); instants are UTC (`TIMESTAMPTZ` on
//! PostgreSQL, RFC 3339 TEXT written by sqlx on SQLite, which compares correctly as text); ids are
//! lower-case hyphenated UUID TEXT; JSON documents are TEXT.

use crate::projector::Projector;
use std::sync::Arc;

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
mod sql;
mod tickets;

pub use catalog::CatalogProjector;
pub use orders::OrdersProjector;
pub use queries::OpenTicketQueries;
pub use rows::*;
pub use tickets::TicketsProjector;

/// Every OpenTicket projector, in the order they should be caught up (catalog first: the others'
/// queries join its tables).
pub fn projectors() -> Vec<Arc<dyn Projector>> {
    vec![
        Arc::new(CatalogProjector),
        Arc::new(OrdersProjector),
        Arc::new(TicketsProjector),
    ]
}

use crate::projector::{bad_event, parse, stream_uuid};
