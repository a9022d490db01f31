//! Events with sessions and price categories (seed 003 §4): `GET /v1/events` (filters `venueId`,
//! `status` = Published | OnSale | Ended, `startDate`, `endDate`; paged), `GET /v1/events/{eventId}`,
//! `POST /v1/events` (organizer).
//!
//! `startDate`/`endDate` take a date (`2025-03-15`, a UTC day) or an RFC 3339 instant; an event
//! matches when one of its sessions starts within [startDate, endDate] (endDate's whole day).

use super::common::{page_request, parse_id};
use super::envelope::ok;
use super::error::{ErrorBody, OtError};
use super::openapi::{InternalError, ServiceUnavailable, tags};
use super::views::{
    EventDetail, EventDetailResponse, EventStatus, EventSummary, EventSummaryPageResponse, Page,
};
use crate::startup::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::HashMap;
use tessera_projections::openticket::EventFilter;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Routes of this module, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list))
        .routes(routes!(detail))
}

/// A `startDate`/`endDate` value: the instant it names, or for a plain date the start of that UTC
/// day (`end` = the start of the next day).
fn parse_bound(field: &str, raw: &str, end: bool) -> Result<DateTime<Utc>, OtError> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(raw) {
        return Ok(instant.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        OtError::validation(field, "must be a date (YYYY-MM-DD) or an RFC 3339 time")
    })?;
    let date = if end {
        date.succ_opt().unwrap_or(date)
    } else {
        date
    };
    Ok(date.and_time(chrono::NaiveTime::MIN).and_utc())
}

/// §4.1: 200 `{items: [{eventId, name, description, venueId, venueName, status, sessions:
/// [{sessionId, startTime, status, availableSeats}], priceRange: {min, max}}], pagination}`.
#[utoipa::path(
    get,
    path = "/v1/events",
    operation_id = "listEvents",
    tag = tags::EVENTS,
    summary = "List events",
    params(
        ("page" = Option<u32>, Query, description = "Page number, from 1 (default 1)", minimum = 1),
        ("pageSize" = Option<u32>, Query, description = "Items per page, 1–100 (default 20)", minimum = 1, maximum = 100),
        ("venueId" = Option<Uuid>, Query, description = "Only events at this venue"),
        ("status" = Option<EventStatus>, Query, description = "Only events with this status now"),
        ("startDate" = Option<String>, Query, description = "Only events with a session starting at or after this date (`YYYY-MM-DD`, a UTC day) or RFC 3339 instant"),
        ("endDate" = Option<String>, Query, description = "Only events with a session starting on or before this date (its whole UTC day) or before this RFC 3339 instant"),
    ),
    responses(
        (status = 200, description = "One page of events", body = EventSummaryPageResponse),
        (status = 400, description = "VALIDATION_ERROR naming the bad query parameter", body = ErrorBody),
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
    let filter = EventFilter {
        venue_id: query
            .get("venueId")
            .map(|v| parse_id::<Uuid>("venueId", v))
            .transpose()?,
        status: query
            .get("status")
            .map(|s| {
                s.parse().map_err(|_| {
                    OtError::validation("status", "must be Published, OnSale or Ended")
                })
            })
            .transpose()?,
        starts_from: query
            .get("startDate")
            .map(|d| parse_bound("startDate", d, false))
            .transpose()?,
        starts_before: query
            .get("endDate")
            .map(|d| parse_bound("endDate", d, true))
            .transpose()?,
    };
    let events = state
        .services
        .openticket_queries
        .events(&filter, page, Utc::now())
        .await?;
    Ok(ok(StatusCode::OK, Page::<EventSummary>::from(events)))
}

/// §4.2: 200 `{eventId, name, description, venue: {venueId, name}, sessions: [{sessionId,
/// startTime, endTime, saleStartTime, saleEndTime, status}], priceCategories}`; 404.
#[utoipa::path(
    get,
    path = "/v1/events/{eventId}",
    operation_id = "getEvent",
    tag = tags::EVENTS,
    summary = "An event with its sessions and prices",
    params(("eventId" = Uuid, Path, description = "The event")),
    responses(
        (status = 200, description = "The event", body = EventDetailResponse),
        (status = 400, description = "VALIDATION_ERROR: `eventId` is not a UUID", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such event", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(event_id = %event_id))]
async fn detail(
    State(state): State<AppState>,
    Path(event_id): Path<String>,
) -> Result<Response, OtError> {
    let id: Uuid = parse_id("eventId", &event_id)?;
    match state
        .services
        .openticket_queries
        .event(id, Utc::now())
        .await?
    {
        Some(event) => Ok(ok(StatusCode::OK, EventDetail::from(event))),
        None => Err(OtError::not_found("event", event_id)),
    }
}
