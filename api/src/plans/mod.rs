//! The team-plans API (seed 004, `../shared/seeds/004_52f8b8bfa653c892.txt`) mounted at
//! `/company/:companyId/plan/...`, with the companies and members the seed assumes
//! (`/company/...`), in its one error shape `{"error": {"code", "message", "field"?}}`.
//! docs/plans.md lists every route, status and what the document left open; [`openapi`] publishes
//! its OpenAPI document at `GET /plans/openapi.json`.

pub mod auth;
pub mod companies;
pub mod edges;
pub mod error;
pub mod openapi;
pub mod orders;
pub mod payments;
pub mod pictures;
pub mod plan;
pub mod recharge;
pub mod views;
pub mod wallet;

use crate::startup::AppState;
use utoipa_axum::router::OpenApiRouter;

/// Every seed 004 route and the routes it assumes (companies, staff review, payment callbacks),
/// each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .merge(companies::router())
        .merge(plan::router())
        .merge(auth::router())
        .merge(pictures::router())
        .merge(orders::router())
        .merge(wallet::router())
        .merge(recharge::router())
        .merge(payments::router())
}
