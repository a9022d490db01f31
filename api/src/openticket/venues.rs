//! Venues and their seat maps (seed 003 §3): `GET /v1/venues` (filter `city`, paged),
//! `GET /v1/venues/{venueId}` (with the seat map), `POST /v1/venues` (admin).

use super::common::{page_request, parse_id};
use super::envelope::ok;
use super::error::{ErrorBody, OtError};
use super::openapi::{InternalError, ServiceUnavailable, tags};
use super::views::{
    Page, VenueDetail, VenueDetailResponse, VenueSummary, VenueSummaryPageResponse,
};
use crate::startup::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::HashMap;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Routes of this module, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list))
        .routes(routes!(detail))
}

/// §3.1: 200 `{items: [{venueId, name, address, capacity, status}], pagination}`.
#[utoipa::path(
    get,
    path = "/v1/venues",
    operation_id = "listVenues",
    tag = tags::VENUES,
    summary = "List venues",
    params(
        ("page" = Option<u32>, Query, description = "Page number, from 1 (default 1)", minimum = 1),
        ("pageSize" = Option<u32>, Query, description = "Items per page, 1–100 (default 20)", minimum = 1, maximum = 100),
        ("city" = Option<String>, Query, description = "Only venues in this city (exact match)"),
    ),
    responses(
        (status = 200, description = "One page of venues", body = VenueSummaryPageResponse),
        (status = 400, description = "VALIDATION_ERROR: `page` or `pageSize` out of range or not a number", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
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
    Ok(ok(StatusCode::OK, Page::<VenueSummary>::from(venues)))
}

/// §3.2: 200 `{venueId, name, address, capacity, seatMap: {seatMapId, version, areas}}`; 404.
#[utoipa::path(
    get,
    path = "/v1/venues/{venueId}",
    operation_id = "getVenue",
    tag = tags::VENUES,
    summary = "A venue with its seat map",
    params(("venueId" = Uuid, Path, description = "The venue")),
    responses(
        (status = 200, description = "The venue", body = VenueDetailResponse),
        (status = 400, description = "VALIDATION_ERROR: `venueId` is not a UUID", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such venue", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(venue_id = %venue_id))]
async fn detail(
    State(state): State<AppState>,
    Path(venue_id): Path<String>,
) -> Result<Response, OtError> {
    let id: Uuid = parse_id("venueId", &venue_id)?;
    match state.services.openticket_queries.venue(id).await? {
        Some(venue) => Ok(ok(StatusCode::OK, VenueDetail::from(venue))),
        None => Err(OtError::not_found("venue", venue_id)),
    }
}
