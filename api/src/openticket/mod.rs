//! The OpenTicket API (seed 003, `../shared/seeds/003_1d4d99c131c073aa.txt`) under `/v1`: its
//! envelope and error format, identity, venues, events, seats, orders, payments and tickets, and
//! the response types they all answer with ([`views`]). docs/openticket.md records what the
//! document left open.

pub mod auth;
pub mod commands;
pub mod common;
pub mod envelope;
pub mod error;
pub mod events;
pub mod live;
pub mod openapi;
pub mod orders;
pub mod payments;
pub mod seats;
pub mod tickets;
pub mod venues;
pub mod views;

use crate::startup::AppState;
use utoipa_axum::router::OpenApiRouter;

/// Every OpenTicket route with its OpenAPI operation (`openapi` builds the document from them).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .merge(auth::router())
        .merge(venues::router())
        .merge(events::router())
        .merge(seats::router())
        .merge(orders::router())
        .merge(tickets::router())
        .merge(commands::router())
        .merge(payments::router())
        .merge(live::router())
}
