//! Events with sessions and price categories (seed 003 §4): `GET /v1/events` (filters `venueId`,
//! `status` = Published | OnSale | Ended, `startDate`, `endDate`; paged), `GET /v1/events/{eventId}`,
//! `POST /v1/events` (organizer).
//!
//! `startDate`/`endDate` take a date (`2025-03-15`, a UTC day) or an RFC 3339 instant; an event
//! matches when one of its sessions starts within [startDate, endDate] (endDate's whole day).

use super::common::{page_request, parse_id};
use super::envelope::{OtError, ok};
use crate::startup::AppState;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::HashMap;
use tessera_projections::openticket::EventFilter;
use uuid::Uuid;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/events", get(list))
        .route("/v1/events/{event_id}", get(detail))
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
    Ok(ok(StatusCode::OK, events))
}

/// §4.2: 200 `{eventId, name, description, venue: {venueId, name}, sessions: [{sessionId,
/// startTime, endTime, saleStartTime, saleEndTime, status}], priceCategories}`; 404.
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
        Some(event) => Ok(ok(StatusCode::OK, event)),
        None => Err(OtError::not_found("event", event_id)),
    }
}
