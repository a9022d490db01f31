//! The HTTP side of `/hubs/tickets` (seed 003 §8.1), as the official client `@microsoft/signalr`
//! expects it:
//!
//! - `POST /hubs/tickets/negotiate?negotiateVersion=1` → `{connectionId, connectionToken,
//!   negotiateVersion: 1, availableTransports}` (version 0 clients get no `connectionToken` and name
//!   the connection by `connectionId`). The access token is the REST API's JWT, from
//!   `Authorization: Bearer` or the `access_token` query parameter (how browsers send it on
//!   WebSockets and Server-Sent Events); no token = an anonymous connection; a bad one is a 401 in
//!   the OpenTicket error format.
//! - `GET /hubs/tickets?id=<connectionToken>` with a WebSocket upgrade: the WebSockets transport
//!   (without `id`: a client that skipped negotiation; the token is checked on this request).
//! - `GET /hubs/tickets?id=…` with `Accept: text/event-stream`: Server-Sent Events (each server
//!   message as one `data:` line); the client's messages come by `POST /hubs/tickets?id=…`.
//! - `GET /hubs/tickets?id=…` otherwise: Long Polling. The first poll answers 200 at once (the
//!   connection is started); later ones wait up to 20 s and answer 200 with the messages queued
//!   (several, each ending with 0x1E; empty when none came), or 204 once the connection ended.
//! - `POST /hubs/tickets?id=…`: client messages for the SSE and long-polling transports (200).
//! - `DELETE /hubs/tickets?id=…`: end the connection (202).
//!
//! An unknown or ended `id` is a 404. A connection lives in the server process that negotiated
//! it: behind a load balancer, Server-Sent Events and Long Polling need sticky sessions
//! (WebSockets, one request, do not).

use super::hub::{Connection, Hub, Transport};
use crate::openticket::error::OtError;
use crate::startup::AppState;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use tessera_application::identity::AccessError;
use tessera_domain::UserId;

/// The hub's routes (not in the OpenAPI document: SignalR is not REST; docs/openticket.md).
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/hubs/tickets/negotiate", post(negotiate))
        .route("/hubs/tickets", get(connect).post(send).delete(disconnect))
}

/// The access token of a hub request: `Authorization: Bearer …`, else `?access_token=`.
fn token(headers: &HeaderMap, query: &HashMap<String, String>) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    bearer
        .or_else(|| query.get("access_token").cloned())
        .filter(|t| !t.is_empty())
}

/// The signed-in user of a hub request (`None`: anonymous); 401 for a token that does not verify
/// (the same checks as the REST API: signature, expiry, user enabled, session not signed out).
async fn user(
    state: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Option<UserId>, OtError> {
    let Some(token) = token(headers, query) else {
        return Ok(None);
    };
    match state.services.identity.authorize(&token).await {
        Ok(claims) => Ok(Some(claims.user_id)),
        Err(AccessError::Refused(e)) => {
            Err(OtError::Unauthorized(format!("invalid access token: {e}")))
        }
        Err(e @ AccessError::Unavailable(_)) => Err(OtError::Unavailable(e.to_string())),
    }
}

fn hub(state: &AppState) -> &Arc<Hub> {
    &state.services.live.hub
}

/// `POST /hubs/tickets/negotiate`.
async fn negotiate(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, OtError> {
    let version = match query.get("negotiateVersion") {
        None => 0,
        Some(v) => v.parse::<u32>().map_err(|_| {
            OtError::validation("negotiateVersion", format!("must be 0 or 1, got {v:?}"))
        })?,
    };
    let user = user(&state, &headers, &query).await?;
    let connection = hub(&state).open(user);
    let transports = json!([
        {"transport": "WebSockets", "transferFormats": ["Text", "Binary"]},
        {"transport": "ServerSentEvents", "transferFormats": ["Text"]},
        {"transport": "LongPolling", "transferFormats": ["Text", "Binary"]},
    ]);
    let body = if version >= 1 {
        json!({
            "connectionId": connection.id,
            "connectionToken": connection.token,
            "negotiateVersion": 1,
            "availableTransports": transports,
        })
    } else {
        // Version 0 clients name the connection by its id: give them the token as the id.
        json!({
            "connectionId": connection.token,
            "negotiateVersion": 0,
            "availableTransports": transports,
        })
    };
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

/// The connection named by `?id=`; 400 without it, 404 when unknown; 401 when the request's own
/// token is bad or names another user than the one who negotiated.
async fn named(
    state: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Arc<Connection>, OtError> {
    let id = query
        .get("id")
        .ok_or_else(|| OtError::validation("id", "the connection token is required"))?;
    let connection = hub(state)
        .get(id)
        .ok_or_else(|| OtError::not_found("connection", id.clone()))?;
    if let Some(user) = user(state, headers, query).await?
        && connection.user != Some(user)
    {
        return Err(OtError::Unauthorized(
            "the access token names another user than the connection's".into(),
        ));
    }
    Ok(connection)
}

/// `GET /hubs/tickets`: WebSockets, Server-Sent Events or a long poll.
async fn connect(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, OtError> {
    if let Ok(upgrade) = upgrade {
        let connection = if query.contains_key("id") {
            named(&state, &headers, &query).await?
        } else {
            let user = user(&state, &headers, &query).await?;
            hub(&state).open(user)
        };
        if connection.attach(Transport::WebSockets) != Ok(true) {
            return Err(OtError::Conflict {
                message: "the connection already has a transport".into(),
                details: json!({"field": "id"}),
            });
        }
        let hub = hub(&state).clone();
        return Ok(upgrade
            .on_upgrade(move |socket| websocket(hub, connection, socket))
            .into_response());
    }
    let connection = named(&state, &headers, &query).await?;
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.contains("text/event-stream") {
        if connection.attach(Transport::ServerSentEvents) != Ok(true) {
            return Err(OtError::Conflict {
                message: "the connection already has a transport".into(),
                details: json!({"field": "id"}),
            });
        }
        return Ok(server_sent_events(connection).into_response());
    }
    long_poll(hub(&state), connection).await
}

/// Move messages both ways on a WebSocket until either side ends the connection.
async fn websocket(hub: Arc<Hub>, connection: Arc<Connection>, mut socket: WebSocket) {
    let mut inbox = connection.inbox.clone().lock_owned().await;
    loop {
        tokio::select! {
            biased;
            out = inbox.recv() => match out {
                Some(text) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            _ = connection.closed.cancelled() => {
                while let Ok(text) = inbox.try_recv() {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                let _ = socket.send(Message::Close(None)).await;
                break;
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => hub.receive(&connection, text.as_str()).await,
                Some(Ok(Message::Binary(bytes))) => match std::str::from_utf8(&bytes) {
                    Ok(text) => hub.receive(&connection, text).await,
                    Err(_) => connection.close(Some("Messages must be UTF-8 JSON."), false),
                },
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => connection.touch(),
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
            },
        }
    }
    connection.closed.cancel();
}

/// The Server-Sent Events transport: one `data:` event per message, until the connection ends
/// (or the client goes away, which ends it).
fn server_sent_events(
    connection: Arc<Connection>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let ends_with_body = connection.closed.clone().drop_guard();
    let state = (connection, None, ends_with_body);
    let messages = futures_util::stream::unfold(state, |(connection, inbox, guard)| async move {
        let mut inbox = match inbox {
            Some(inbox) => inbox,
            None => connection.inbox.clone().lock_owned().await,
        };
        let next = tokio::select! {
            biased;
            text = inbox.recv() => text,
            _ = connection.closed.cancelled() => inbox.try_recv().ok(),
        };
        next.map(|text| {
            (
                Ok(Event::default().data(text)),
                (connection, Some(inbox), guard),
            )
        })
    });
    // A comment first, so that the client's `onopen` fires at once.
    let opened = futures_util::stream::once(async { Ok(Event::default().comment("")) });
    Sse::new(futures_util::StreamExt::chain(opened, messages))
}

/// One long poll.
async fn long_poll(hub: &Arc<Hub>, connection: Arc<Connection>) -> Result<Response, OtError> {
    let plain = |body: String| {
        (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("text/plain")),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            body,
        )
            .into_response()
    };
    match connection.attach(Transport::LongPolling) {
        // The first poll only starts the connection.
        Ok(true) => {
            connection.touch();
            return Ok(plain(String::new()));
        }
        Ok(false) => {}
        Err(_) => {
            return Err(OtError::Conflict {
                message: "the connection already has a transport".into(),
                details: json!({"field": "id"}),
            });
        }
    }
    connection.touch();
    let mut inbox = connection.inbox.clone().lock_owned().await;
    let first = tokio::select! {
        biased;
        text = inbox.recv() => text,
        _ = connection.closed.cancelled() => inbox.try_recv().ok(),
        _ = tokio::time::sleep(hub.timings.poll_timeout) => Some(String::new()),
    };
    connection.touch();
    let Some(mut body) = first else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    while let Ok(more) = inbox.try_recv() {
        body.push_str(&more);
    }
    Ok(plain(body))
}

/// `POST /hubs/tickets?id=…`: messages from a Server-Sent Events or long-polling client.
async fn send(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OtError> {
    let connection = named(&state, &headers, &query).await?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| OtError::validation("body", "hub messages are UTF-8 JSON"))?;
    hub(&state).receive(&connection, text).await;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))],
        "",
    )
        .into_response())
}

/// `DELETE /hubs/tickets?id=…`: the client stops.
async fn disconnect(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, OtError> {
    let connection = named(&state, &headers, &query).await?;
    connection.closed.cancel();
    Ok(StatusCode::ACCEPTED.into_response())
}
