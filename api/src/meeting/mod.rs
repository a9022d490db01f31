//! The meeting-ticket API (seed 000, `../shared/seeds/000_2ac7adb1571abbc4.txt`) at the document's
//! own root paths, with its error shape `{type, message, payload, errors}`. docs/meeting-tickets.md
//! lists every route, status and what the document left open; [`openapi`] publishes its OpenAPI
//! document at `GET /meeting/openapi.json`.

pub mod edges;
pub mod error;
pub mod meetings;
pub mod openapi;
pub mod orders;
pub mod signin;
pub mod tickets;
pub mod views;

use crate::startup::AppState;
use utoipa_axum::router::OpenApiRouter;

/// Every seed 000 route with its OpenAPI operation: a route is registered only through `routes!`
/// and its `#[utoipa::path]`, so none is served undocumented.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .merge(signin::router())
        .merge(meetings::router())
        .merge(orders::router())
        .merge(tickets::router())
}
