//! The meeting-ticket API (seed 000, `../shared/seeds/000_2ac7adb1571abbc4.txt`) at the document's
//! own root paths, with its error shape `{type, message, payload, errors}`. docs/meeting-tickets.md
//! lists every route, status and what the document left open.

pub mod error;
pub mod meetings;
pub mod orders;
pub mod signin;
pub mod tickets;

use crate::startup::AppState;
use axum::Router;

/// Every seed 000 route.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(signin::router())
        .merge(meetings::router())
        .merge(orders::router())
        .merge(tickets::router())
}
