//! Seat status per session (seed 003 §5.1, §5.4): `GET /v1/sessions/{sessionId}/seats` (every seat
//! by area with its status and, while available, its price; plus `summary` counts) and
//! `GET /v1/sessions/{sessionId}/seats/{seatId}`. A lock whose time has passed shows as Available.
//! Locking and releasing (§5.2–5.3) are command routes.
//!
//! The whole-session read can be megabytes and is anonymous, so it carries a weak `ETag` over its
//! `data` (the seat states as of now, lock expiry included; `meta` differs on every answer, hence
//! weak) and answers `If-None-Match` with a 304 and no body. `Cache-Control: no-cache` makes clients
//! ask again each time, since seats change at any moment.
//!
//! Seat commands answer from their own result without waiting for this read model, so both reads
//! first wait (at most 5 s) until it includes everything committed before the read arrived: a
//! buyer who was told a seat is locked sees it locked here
//! (docs/decisions/0039-seat-commands-answer-from-the-command.md).
//!
//! Both answers (200 and 304) carry `X-Log-Position`: a global log position whose every change
//! the seats shown include (they may include later ones too). A live client that lost its
//! connection re-reads the seats and applies the hub's or the stream's changes after that position
//! (`Last-Event-ID` of `GET /v1/sessions/{sessionId}/seats/stream`); docs/openticket.md, "Resync".

use super::common::parse_id;
use super::envelope::{meta, ok};
use super::error::{ErrorBody, OtError};
use super::openapi::{InternalError, ServiceUnavailable, tags};
use super::views::{SeatDetail, SeatDetailResponse, SessionSeats, SessionSeatsResponse};
use crate::http::consistency::caught_up_to_head;
use crate::startup::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Header of the seat reads: the global log position the seats include at least.
pub const LOG_POSITION: &str = "x-log-position";

/// The projection whose tables answer the seat reads.
const SEATS_PROJECTION: &str = "openticket_catalog";

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
        (status = 200, description = "Seats by area, and counts; with a weak `ETag` over `data`", body = SessionSeatsResponse,
            headers(("ETag" = String, description = "Weak validator of `data`, e.g. `W/\"3f…\"`; send it back in `If-None-Match`"),
                ("X-Log-Position" = u64, description = "Global log position whose changes the seats include (at least); resume the live stream after it"))),
        (status = 304, description = "`If-None-Match` named the current `ETag`: nothing changed, no body",
            headers(("X-Log-Position" = u64, description = "As for 200"))),
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
    headers: HeaderMap,
) -> Result<Response, OtError> {
    let id: Uuid = parse_id("sessionId", &session_id)?;
    caught_up_to_head(&state).await;
    // Read before the query: the read model only moves forward, so it includes at least this.
    let position = state
        .engine
        .runner
        .status()
        .positions()
        .get(SEATS_PROJECTION)
        .copied()
        .unwrap_or(0);
    match state
        .services
        .openticket_queries
        .session_seats(id, Utc::now())
        .await?
    {
        Some(seats) => {
            let mut response = tagged(&headers, &SessionSeats::from(seats))?;
            response
                .headers_mut()
                .insert(LOG_POSITION, HeaderValue::from(position));
            Ok(response)
        }
        None => Err(OtError::not_found("session", session_id)),
    }
}

/// The envelope around `data`, serialized once, with a weak `ETag` over `data`'s bytes; a 304 when
/// `If-None-Match` already names it.
fn tagged(headers: &HeaderMap, data: &SessionSeats) -> Result<Response, OtError> {
    let data = serde_json::to_vec(data).map_err(|e| OtError::Internal(e.to_string()))?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &data);
    let tag = format!("W/\"{}\"", hex::encode(&digest.as_ref()[..16]));
    let etag = HeaderValue::from_str(&tag).map_err(|e| OtError::Internal(e.to_string()))?;
    let cache = (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if matches_any(headers, &tag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag), cache]).into_response());
    }
    let meta = serde_json::to_vec(&meta()).map_err(|e| OtError::Internal(e.to_string()))?;
    let mut body = Vec::with_capacity(data.len() + meta.len() + 20);
    body.extend_from_slice(b"{\"data\":");
    body.extend_from_slice(&data);
    body.extend_from_slice(b",\"meta\":");
    body.extend_from_slice(&meta);
    body.push(b'}');
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::ETAG, etag),
            cache,
        ],
        body,
    )
        .into_response())
}

/// Whether `If-None-Match` lists `tag` or `*`, compared weakly (RFC 9110 §13.1.2).
fn matches_any(headers: &HeaderMap, tag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let ours = bare(tag);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || bare(t) == ours)
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
    caught_up_to_head(&state).await;
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
