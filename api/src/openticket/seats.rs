//! Seat status per session (seed 003 §5.1, §5.4): `GET /v1/sessions/{sessionId}/seats` (every seat
//! by area with its status and, while available, its price; plus `summary` counts) and
//! `GET /v1/sessions/{sessionId}/seats/{seatId}`. A lock whose time has passed shows as Available.
//! Locking and releasing (§5.2–5.3) are command routes.

use super::common::parse_id;
use super::envelope::ok;
use super::error::{ErrorBody, OtError};
use super::openapi::{InternalError, ServiceUnavailable, tags};
use super::views::{SeatDetail, SeatDetailResponse, SessionSeats, SessionSeatsResponse};
use crate::startup::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Routes of this module, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(all))
        .routes(routes!(one))
}

/// §5.1: 200 `{sessionId, areas: [{areaId, seats: [{seatId, status, price?}]}], summary:
/// {total, available, locked, sold}}`; 404 for an unknown session.
#[utoipa::path(
    get,
    path = "/v1/sessions/{sessionId}/seats",
    operation_id = "listSessionSeats",
    tag = tags::SEATS,
    summary = "Every seat of a session",
    params(("sessionId" = Uuid, Path, description = "The session")),
    responses(
        (status = 200, description = "Seats by area, and counts", body = SessionSeatsResponse),
        (status = 400, description = "VALIDATION_ERROR: `sessionId` is not a UUID", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such session", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(session_id = %session_id))]
async fn all(
    State(state): State<AppState>,
    Path(session_id): Path<String>,
) -> Result<Response, OtError> {
    let id: Uuid = parse_id("sessionId", &session_id)?;
    match state
        .services
        .openticket_queries
        .session_seats(id, Utc::now())
        .await?
    {
        Some(seats) => Ok(ok(StatusCode::OK, SessionSeats::from(seats))),
        None => Err(OtError::not_found("session", session_id)),
    }
}

/// §5.4: 200 `{seatId, sessionId, status, areaId, row, number, price, type}`; 404 for an unknown
/// session or seat.
#[utoipa::path(
    get,
    path = "/v1/sessions/{sessionId}/seats/{seatId}",
    operation_id = "getSessionSeat",
    tag = tags::SEATS,
    summary = "One seat of a session",
    params(
        ("sessionId" = Uuid, Path, description = "The session"),
        ("seatId" = String, Path, description = "The seat, e.g. `A-001`"),
    ),
    responses(
        (status = 200, description = "The seat", body = SeatDetailResponse),
        (status = 400, description = "VALIDATION_ERROR: `sessionId` is not a UUID", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such session or seat", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(session_id = %session_id, seat_id = %seat_id))]
async fn one(
    State(state): State<AppState>,
    Path((session_id, seat_id)): Path<(String, String)>,
) -> Result<Response, OtError> {
    let id: Uuid = parse_id("sessionId", &session_id)?;
    match state
        .services
        .openticket_queries
        .seat(id, &seat_id, Utc::now())
        .await?
    {
        Some(seat) => Ok(ok(StatusCode::OK, SeatDetail::from(seat))),
        None => Err(OtError::not_found("seat", seat_id)),
    }
}
