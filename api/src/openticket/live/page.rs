//! The live seat-map page: `GET /v1/sessions/{sessionId}/live` serves examples/seat_map_live.html
//! (HTML, UTF-8), which draws the session from `GET /v1/sessions/{sessionId}/seats` and recolours
//! seats from `SeatStatusChanged` on `/hubs/tickets`; `GET /v1/live/signalr.min.js` serves the
//! official `@microsoft/signalr` browser bundle it loads (vendored unmodified under
//! api/assets/signalr/, MIT), so the page never fetches code from a CDN. Both are outside the
//! OpenAPI document (not JSON). A `sessionId` that is not a UUID is a 400 naming it, and an unknown
//! session a 404, in the seed's envelope (§1.2).

use crate::openticket::common::parse_id;
use crate::openticket::error::OtError;
use crate::startup::AppState;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tessera_application::StreamId;
use uuid::Uuid;

/// The page, compiled in.
const PAGE: &str = include_str!("../../../../examples/seat_map_live.html");
/// `@microsoft/signalr` 11.0.0 `dist/browser/signalr.min.js`.
const SIGNALR_BUNDLE: &str = include_str!("../../../assets/signalr/signalr.min.js");

/// Only this origin's scripts, styles, images and connections (the page's own inline script and
/// style, the bundle, the REST API and the hub).
const PAGE_POLICY: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; \
    style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; \
    frame-ancestors 'none'";

/// The page's two routes.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/v1/sessions/{sessionId}/live", get(page))
        .route("/v1/live/signalr.min.js", get(bundle))
}

async fn page(
    State(state): State<AppState>,
    Path(session_id): Path<String>,
) -> Result<Response, OtError> {
    let id: Uuid = parse_id("sessionId", &session_id)?;
    let stream = StreamId::for_aggregate(super::feed::SEAT_SESSION_CATEGORY, id)
        .map_err(|e| OtError::Internal(e.to_string()))?;
    let exists = state
        .services
        .live
        .feed
        .store()
        .stream_version(&stream)
        .await
        .map_err(|e| OtError::Unavailable(e.to_string()))?
        > 0;
    if !exists {
        return Err(OtError::not_found("session", session_id));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, PAGE_POLICY),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
        .into_response())
}

async fn bundle() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        SIGNALR_BUNDLE,
    )
        .into_response()
}
