//! The shop API (seed 002, `../shared/seeds/002_92f57e6162bd24a7.txt`) at the document's own paths
//! (`/weixin-login`, `/api/...`), with its error shape `{"message": "..."}`. docs/shop.md lists
//! every route, status and what the document left open; [`openapi`] publishes its OpenAPI document
//! at `GET /shop/openapi.json`.

pub mod cards;
pub mod catalog;
pub mod edges;
pub mod error;
pub mod login;
pub mod openapi;
pub mod orders;
pub mod payments;
pub mod users;
pub mod views;

use crate::startup::AppState;
use utoipa_axum::router::OpenApiRouter;

/// Every seed 002 route served so far, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .merge(login::router())
        .merge(users::router())
        .merge(catalog::router())
        .merge(orders::router())
        .merge(cards::router())
        .merge(payments::router())
}
