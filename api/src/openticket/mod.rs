//! The OpenTicket API (seed 003, `../shared/seeds/003_1d4d99c131c073aa.txt`) under `/v1`: its
//! envelope and error format, identity, venues, events, seats, orders, payments and tickets.
//! docs/openticket.md records what the document left open.

pub mod auth;
pub mod common;
pub mod envelope;

use crate::startup::AppState;
use axum::Router;

/// Every OpenTicket route.
pub fn router() -> Router<AppState> {
    Router::new().merge(auth::router())
}
