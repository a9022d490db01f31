//! Publishing the API documents: each JSON document's OpenAPI 3.1 file at its own path, and Swagger
//! UI at `GET /docs` listing them all (public). The documents themselves are built by each
//! document's module (`crate::openticket::openapi`, `crate::meeting::openapi`) from the types its
//! handlers serialize; this module only wires them up, like `crate::startup` wires the routers.

use crate::courtesy::openapi as courtesy;
use crate::meeting::openapi as meeting;
use crate::openticket::openapi as openticket;
use crate::plans::openapi as plans;
use crate::shop::openapi as shop;
use crate::startup::AppState;
use axum::Router;
use utoipa_swagger_ui::{SwaggerUi, Url};

/// Where Swagger UI is served.
pub const DOCS_PATH: &str = "/docs";

/// Swagger UI at `GET /docs` and each document's OpenAPI file at its own path (public):
/// OpenTicket's `GET /v1/openapi.json` (first, shown on opening) and the meeting-ticket document's
/// `GET /meeting/openapi.json`, the shop's `GET /shop/openapi.json`, and Courtesy's `GET /courtesy/openapi.json`.
pub fn router() -> Router<AppState> {
    SwaggerUi::new(DOCS_PATH)
        .url(
            Url::new("OpenTicket (seed 003)", openticket::DOCUMENT_PATH),
            openticket::document(),
        )
        .url(
            Url::new("Meeting tickets (seed 000)", meeting::DOCUMENT_PATH),
            meeting::document(),
        )
        .url(
            Url::new("Shop (seed 002)", shop::DOCUMENT_PATH),
            shop::document(),
        )
        .url(
            Url::new("Team plans (seed 004)", plans::DOCUMENT_PATH),
            plans::document(),
        )
        .url(
            Url::new("Courtesy (seed 001)", courtesy::DOCUMENT_PATH),
            courtesy::document(),
        )
        .into()
}
