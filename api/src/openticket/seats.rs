//! Seat status per session (seed 003 §5.1, §5.4): `GET /v1/sessions/{sessionId}/seats` (every seat
//! by area with its status and, while available, its price; plus `summary` counts) and
//! `GET /v1/sessions/{sessionId}/seats/{seatId}`. A lock whose time has passed shows as Available.
//! Locking and releasing (§5.2–5.3) are command routes.

use super::common::parse_id;
use super::envelope::{OtError, ok};
use crate::startup::AppState;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use chrono::Utc;
use uuid::Uuid;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions/{session_id}/seats", get(all))
        .route("/v1/sessions/{session_id}/seats/{seat_id}", get(one))
}

/// §5.1: 200 `{sessionId, areas: [{areaId, seats: [{seatId, status, price?}]}], summary:
/// {total, available, locked, sold}}`; 404 for an unknown session.
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
        Some(seats) => Ok(ok(StatusCode::OK, seats)),
        None => Err(OtError::not_found("session", session_id)),
    }
}

/// §5.4: 200 `{seatId, sessionId, status, areaId, row, number, price, type}`; 404 for an unknown
/// session or seat.
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
        Some(seat) => Ok(ok(StatusCode::OK, seat)),
        None => Err(OtError::not_found("seat", seat_id)),
    }
}
