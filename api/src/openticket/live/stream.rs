//! `GET /v1/sessions/{sessionId}/seats/stream`: the hub's `SeatStatusChanged` notices of one
//! session as Server-Sent Events, for clients that do not speak SignalR (seed 003 §8.3).
//!
//! Each seat change is one event `SeatStatusChanged` whose `data` is the hub's payload
//! `{sessionId, seatId, status, timestamp}`. The last change of each log event carries `id:` = that
//! event's global position; a client that reconnects with `Last-Event-ID: <position>` (browsers'
//! `EventSource` does it by itself) first gets every change committed after that position, read
//! from the log, then the live ones: nothing is lost, and a log event cut in the middle is sent
//! again whole (statuses are absolute, so a repeat is harmless). Without `Last-Event-ID` the stream
//! starts at the log's head: read `GET /v1/sessions/{sessionId}/seats` (header `X-Log-Position`)
//! and resume from that position to get a consistent picture. A comment line every 15 s keeps
//! proxies from closing a quiet stream; the stream ends when the server stops (the client
//! reconnects with its `Last-Event-ID`).

use super::feed::{LogNotices, Notice, SeatStatusChanged, seat_notices};
use crate::openticket::common::parse_id;
use crate::openticket::error::{ErrorBody, OtError};
use crate::openticket::openapi::{InternalError, ServiceUnavailable, tags};
use crate::startup::AppState;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tessera_application::{EventStore, StreamId};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Routes of this module, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(seat_stream))
}

/// Log events read per catch-up query.
const CATCH_UP_BATCH: usize = 512;

/// Events buffered towards a slow client before its stream is ended (it resumes with
/// `Last-Event-ID`).
const STREAM_BUFFER: usize = 1024;

/// §8.3 as Server-Sent Events: `text/event-stream` of `event: SeatStatusChanged`, `data:
/// {sessionId, seatId, status, timestamp}`, `id: <global position>`; 400 for a bad `sessionId`
/// or `Last-Event-ID`, 404 for an unknown session.
#[utoipa::path(
    get,
    path = "/v1/sessions/{sessionId}/seats/stream",
    operation_id = "streamSessionSeats",
    tag = tags::SEATS,
    summary = "Seat status changes of a session, live (Server-Sent Events)",
    params(
        ("sessionId" = Uuid, Path, description = "The session"),
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this global log position (the last `id:` received, or `X-Log-Position` of the seats read)"),
    ),
    responses(
        (status = 200, description = "`text/event-stream`: `event: SeatStatusChanged`, `data:` the JSON payload, `id:` the global position on the last change of each log event", content_type = "text/event-stream", body = SeatStatusChanged),
        (status = 400, description = "VALIDATION_ERROR: `sessionId` is not a UUID or `Last-Event-ID` is not a position", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such session", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(session_id = %session_id))]
async fn seat_stream(
    State(state): State<AppState>,
    Path(session_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, OtError> {
    let id: Uuid = parse_id("sessionId", &session_id)?;
    let after = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    OtError::validation(
                        "Last-Event-ID",
                        "must be a global log position (a non-negative integer)",
                    )
                })?,
        ),
    };
    let live = state.services.live.clone();
    let store = live.feed.store().clone();
    let stream = StreamId::for_aggregate(super::feed::SEAT_SESSION_CATEGORY, id)
        .map_err(|e| OtError::Internal(e.to_string()))?;
    if store
        .stream_version(&stream)
        .await
        .map_err(|e| OtError::Unavailable(e.to_string()))?
        == 0
    {
        return Err(OtError::not_found("session", session_id));
    }
    // Subscribe before reading the head, so that nothing committed in between is missed.
    let notices = live.feed.subscribe();
    let start = match after {
        Some(after) => after,
        None => store
            .head_position()
            .await
            .map_err(|e| OtError::Unavailable(e.to_string()))?,
    };
    let (tx, rx) = mpsc::channel(STREAM_BUFFER);
    tokio::spawn(follow(
        store,
        id,
        start,
        notices,
        tx,
        live.hub.shutdown.clone(),
        live.hub.timings.keep_alive,
    ));
    let events = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<Event, Infallible>(e), rx))
    });
    // Reconnect after a second when the stream ends (a server restart).
    let opened = futures_util::stream::once(async {
        Ok::<Event, Infallible>(Event::default().retry(Duration::from_secs(1)))
    });
    Ok(Sse::new(futures_util::StreamExt::chain(opened, events)).into_response())
}

/// The SSE events of one log event's seat changes for `session`: the last one carries the id.
fn events_of(position: u64, changes: &[SeatStatusChanged]) -> Vec<Event> {
    let n = changes.len();
    changes
        .iter()
        .enumerate()
        .filter_map(|(i, change)| {
            let event = Event::default()
                .event("SeatStatusChanged")
                .json_data(change)
                .ok()?;
            Some(if i + 1 == n {
                event.id(position.to_string())
            } else {
                event
            })
        })
        .collect()
}

fn of_session(batch: &LogNotices, session: Uuid) -> Vec<SeatStatusChanged> {
    batch
        .notices
        .iter()
        .filter_map(|n| match n {
            Notice::Seat(c) if c.session_id == session => Some(c.clone()),
            _ => None,
        })
        .collect()
}

/// Send the session's changes after `last`: from the log until caught up, then from the feed;
/// back to the log whenever the feed ran ahead of this stream. Ends when the client goes away, the
/// server stops, or the log cannot be read (the client resumes with its `Last-Event-ID`).
async fn follow(
    store: Arc<dyn EventStore>,
    session: Uuid,
    mut last: u64,
    mut notices: broadcast::Receiver<Arc<LogNotices>>,
    tx: mpsc::Sender<Event>,
    shutdown: CancellationToken,
    keep_alive: Duration,
) {
    loop {
        // Catch up from the log.
        loop {
            let batch = tokio::select! {
                _ = shutdown.cancelled() => return,
                batch = store.read_all(last, CATCH_UP_BATCH) => batch,
            };
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(error = %e, "seat stream: reading the log failed; ending the stream");
                    return;
                }
            };
            if batch.is_empty() {
                break;
            }
            for event in batch {
                let changes: Vec<SeatStatusChanged> = seat_notices(&event)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|c| c.session_id == session)
                    .collect();
                for e in events_of(event.global_position, &changes) {
                    if tx.send(e).await.is_err() {
                        return;
                    }
                }
                last = event.global_position;
            }
        }
        // Then live.
        let mut ping = tokio::time::interval(keep_alive);
        ping.tick().await;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tx.closed() => return,
                _ = ping.tick() => {
                    if tx.try_send(Event::default().comment("keep-alive")).is_err() {
                        return;
                    }
                }
                received = notices.recv() => match received {
                    Ok(batch) => {
                        if batch.position <= last {
                            continue;
                        }
                        for e in events_of(batch.position, &of_session(&batch, session)) {
                            // A client this far behind resumes with its `Last-Event-ID`.
                            if tx.try_send(e).is_err() {
                                return;
                            }
                        }
                        last = batch.position;
                    }
                    // Fell behind the feed: read what was missed from the log.
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        }
    }
}
