//! Venues and their seat maps (seed 003 §3): `GET /v1/venues` (filter `city`, paged),
//! `GET /v1/venues/{venueId}` (with the seat map), `POST /v1/venues` (admin).

use super::common::{page_request, parse_id};
use super::envelope::{OtError, ok};
use crate::startup::AppState;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use std::collections::HashMap;
use uuid::Uuid;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/venues", get(list))
        .route("/v1/venues/{venue_id}", get(detail))
}

/// §3.1: 200 `{items: [{venueId, name, address, capacity, status}], pagination}`.
#[tracing::instrument(skip_all)]
async fn list(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, OtError> {
    let page = page_request(&query)?;
    let city = query
        .get("city")
        .map(|c| c.trim())
        .filter(|c| !c.is_empty());
    let venues = state.services.openticket_queries.venues(city, page).await?;
    Ok(ok(StatusCode::OK, venues))
}

/// §3.2: 200 `{venueId, name, address, capacity, seatMap: {seatMapId, version, areas}}`; 404.
#[tracing::instrument(skip_all, fields(venue_id = %venue_id))]
async fn detail(
    State(state): State<AppState>,
    Path(venue_id): Path<String>,
) -> Result<Response, OtError> {
    let id: Uuid = parse_id("venueId", &venue_id)?;
    match state.services.openticket_queries.venue(id).await? {
        Some(venue) => Ok(ok(StatusCode::OK, venue)),
        None => Err(OtError::not_found("venue", venue_id)),
    }
}
