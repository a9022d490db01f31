//! The `/hubs/tickets` hub (seed 003 §8): connections, the ASP.NET Core SignalR JSON hub protocol
//! (version 1) spoken on them, the `JoinSession` / `LeaveSession` methods and the delivery of the
//! feed's notices. The transports (`super::transports`) only move text in and out of a
//! [`Connection`].
//!
//! Protocol, as the official client `@microsoft/signalr` speaks it: every message is a JSON
//! object followed by the record separator 0x1E. The client's first message is the handshake
//! `{"protocol":"json","version":1}`, answered by `{}` (or `{"error": …}` and the end of the
//! connection). Then: `1` invocation (`{type, invocationId?, target, arguments}`; a client call gets
//! a `3` completion when it has an `invocationId`, with `error` when it failed), `4` stream
//! invocations (refused with a completion error), `5` cancellations (ignored), `6` pings (both ways;
//! the server sends one every 15 s), `7` close (`{type, error?, allowReconnect?}`). Server events
//! are invocations without `invocationId`: `SeatStatusChanged` and `OrderStatusChanged`.

use super::feed::{LiveFeed, LogNotices, Notice};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tessera_application::EventStore;
use tessera_domain::UserId;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The record separator that ends every hub protocol message.
pub const RS: char = '\u{1e}';

/// Messages waiting for a slow client before its connection is closed (it then reconnects and
/// resynchronises).
const OUTBOX_CAPACITY: usize = 1024;

/// Largest text a client may leave without a record separator (a partial message), in bytes.
const MAX_PENDING_BYTES: usize = 64 * 1024;

/// Timing of the hub.
#[derive(Debug, Clone, Copy)]
pub struct HubTimings {
    /// Ping to each connection this often (the client's server timeout is 30 s; ASP.NET pings
    /// every 15 s).
    pub keep_alive: Duration,
    /// A connection whose client was not heard from for this long is closed (the client pings
    /// every 15 s).
    pub client_timeout: Duration,
    /// A long poll with nothing to send answers empty after this long (the client polls again).
    pub poll_timeout: Duration,
}

impl Default for HubTimings {
    fn default() -> Self {
        Self {
            keep_alive: Duration::from_secs(15),
            client_timeout: Duration::from_secs(30),
            poll_timeout: Duration::from_secs(20),
        }
    }
}

/// Which transport carries a connection (the one that first attached to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Not attached yet (negotiated only).
    None,
    /// A WebSocket.
    WebSockets,
    /// `GET` with `Accept: text/event-stream`, messages from the client by `POST`.
    ServerSentEvents,
    /// Repeated `GET`s, messages from the client by `POST`.
    LongPolling,
}

/// One client connection to the hub.
pub struct Connection {
    /// The public id (`connectionId` of negotiate).
    pub id: String,
    /// The secret the transports name the connection by (`connectionToken`, `?id=`).
    pub token: String,
    /// The signed-in user, `None` for anonymous connections (which never get order notices).
    pub user: Option<UserId>,
    groups: Mutex<HashSet<Uuid>>,
    outbox: mpsc::Sender<String>,
    /// What the transport sends to the client, message by message (each ending with [`RS`]).
    pub inbox: Arc<tokio::sync::Mutex<mpsc::Receiver<String>>>,
    pending: Mutex<String>,
    handshaken: AtomicBool,
    transport: Mutex<Transport>,
    last_seen: Mutex<Instant>,
    /// Cancelled when the connection ends (the transport closes after sending what is queued).
    pub closed: CancellationToken,
}

impl Connection {
    /// The transport attached, or `None` after attaching `wanted` now; `Err` with the one already
    /// attached when it is another.
    pub fn attach(&self, wanted: Transport) -> Result<bool, Transport> {
        let mut transport = self.transport.lock().unwrap_or_else(|e| e.into_inner());
        match *transport {
            Transport::None => {
                *transport = wanted;
                Ok(true)
            }
            t if t == wanted => Ok(false),
            t => Err(t),
        }
    }

    /// Note that the client was heard from.
    pub fn touch(&self) {
        *self.last_seen.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        self.last_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
    }

    fn transport(&self) -> Transport {
        *self.transport.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue one message (without its separator). A client too slow to take what is queued is
    /// closed: it reconnects and resynchronises.
    fn push(&self, message: &Value) {
        let mut text = message.to_string();
        text.push(RS);
        if self.outbox.try_send(text).is_err() && !self.closed.is_cancelled() {
            tracing::info!(connection = %self.id, "hub: closing a connection that fell behind");
            self.closed.cancel();
        }
    }

    /// Send a close message and end the connection.
    pub fn close(&self, error: Option<&str>, allow_reconnect: bool) {
        let mut message = json!({"type": 7});
        if let Some(error) = error {
            message["error"] = json!(error);
        }
        if allow_reconnect {
            message["allowReconnect"] = json!(true);
        }
        self.push(&message);
        self.closed.cancel();
    }

    fn wants(&self, notice: &Notice) -> Option<Value> {
        match notice {
            Notice::Seat(change) => {
                let groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
                groups.contains(&change.session_id).then(
                    || json!({"type": 1, "target": "SeatStatusChanged", "arguments": [change]}),
                )
            }
            Notice::Order { owner, change } => (self.user == Some(*owner))
                .then(|| json!({"type": 1, "target": "OrderStatusChanged", "arguments": [change]})),
        }
    }
}

/// Every connection of this process, and the feed they are served from.
pub struct Hub {
    connections: Mutex<HashMap<String, Arc<Connection>>>,
    feed: Arc<LiveFeed>,
    store: Arc<dyn EventStore>,
    /// Cancelled when the server stops: every connection is closed with `allowReconnect`.
    pub shutdown: CancellationToken,
    /// Keep-alive, timeouts and long-poll length.
    pub timings: HubTimings,
}

fn random_id() -> String {
    let mut bytes = [0u8; 16];
    // A connection token is a bearer secret for the connection: 128 random bits.
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        return Uuid::new_v4().simple().to_string();
    }
    hex::encode(bytes)
}

impl Hub {
    /// A hub delivering `feed`'s notices; `store` answers whether a session exists.
    pub fn new(feed: Arc<LiveFeed>, store: Arc<dyn EventStore>, timings: HubTimings) -> Self {
        Self {
            connections: Mutex::new(HashMap::new()),
            feed,
            store,
            shutdown: CancellationToken::new(),
            timings,
        }
    }

    /// Open a connection for `user` (negotiate, or a WebSocket that skipped it).
    pub fn open(self: &Arc<Self>, user: Option<UserId>) -> Arc<Connection> {
        let (outbox, inbox) = mpsc::channel(OUTBOX_CAPACITY);
        let connection = Arc::new(Connection {
            id: random_id(),
            token: random_id(),
            user,
            groups: Mutex::new(HashSet::new()),
            outbox,
            inbox: Arc::new(tokio::sync::Mutex::new(inbox)),
            pending: Mutex::new(String::new()),
            handshaken: AtomicBool::new(false),
            transport: Mutex::new(Transport::None),
            last_seen: Mutex::new(Instant::now()),
            closed: CancellationToken::new(),
        });
        self.connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(connection.token.clone(), connection.clone());
        let hub = self.clone();
        let watched = connection.clone();
        tokio::spawn(async move {
            watched.closed.cancelled().await;
            hub.connections
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&watched.token);
        });
        connection
    }

    /// The connection named by a transport's `?id=`.
    pub fn get(&self, token: &str) -> Option<Arc<Connection>> {
        self.connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned()
    }

    /// Connections open in this process.
    pub fn len(&self) -> usize {
        self.connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Close connections whose client went quiet: negotiated and never attached, or long polling
    /// without a poll, for longer than the client timeout. Runs until the hub shuts down.
    pub async fn reap(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let quiet: Vec<Arc<Connection>> = self
                .connections
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .values()
                .filter(|c| {
                    matches!(c.transport(), Transport::None | Transport::LongPolling)
                        && c.idle_for() > self.timings.client_timeout
                })
                .cloned()
                .collect();
            for connection in quiet {
                connection.closed.cancel();
            }
        }
    }

    /// Handle text the client sent: complete messages are handled in order, a partial one waits
    /// for the rest.
    pub async fn receive(self: &Arc<Self>, connection: &Arc<Connection>, text: &str) {
        connection.touch();
        let messages: Vec<String> = {
            let mut pending = connection.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.push_str(text);
            let mut complete: Vec<String> = pending.split(RS).map(str::to_owned).collect();
            // The last piece is what follows the last separator: incomplete (often empty).
            *pending = complete.pop().unwrap_or_default();
            if pending.len() > MAX_PENDING_BYTES {
                pending.clear();
                drop(pending);
                connection.close(Some("Message too large."), false);
                return;
            }
            complete
        };
        for message in messages {
            if connection.closed.is_cancelled() {
                return;
            }
            if connection.handshaken.load(Ordering::Acquire) {
                self.message(connection, &message).await;
            } else {
                self.handshake(connection, &message);
            }
        }
    }

    fn handshake(self: &Arc<Self>, connection: &Arc<Connection>, message: &str) {
        let request: Value = serde_json::from_str(message).unwrap_or(Value::Null);
        let protocol = request.get("protocol").and_then(Value::as_str);
        let version = request.get("version").and_then(Value::as_u64);
        let refusal = match (protocol, version) {
            (Some("json"), Some(1)) => None,
            (Some("json"), _) => Some("The server does not support version of the 'json' protocol asked for; it speaks version 1.".to_owned()),
            (Some(other), _) => Some(format!("The protocol '{other}' is not supported; use 'json'.")),
            (None, _) => Some("The handshake must be {\"protocol\":\"json\",\"version\":1}.".to_owned()),
        };
        if let Some(error) = refusal {
            connection.push(&json!({ "error": error }));
            connection.closed.cancel();
            return;
        }
        connection.handshaken.store(true, Ordering::Release);
        connection.push(&json!({}));
        tokio::spawn(self.clone().pump(connection.clone()));
    }

    async fn message(self: &Arc<Self>, connection: &Arc<Connection>, message: &str) {
        let Ok(message) = serde_json::from_str::<Value>(message) else {
            connection.close(Some("Invalid message: not JSON."), false);
            return;
        };
        let id = message
            .get("invocationId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match message.get("type").and_then(Value::as_u64) {
            Some(1) => {
                let target = message.get("target").and_then(Value::as_str).unwrap_or("");
                let arguments = message
                    .get("arguments")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let outcome = self.invoke(connection, target, &arguments).await;
                if let Some(id) = id {
                    let completion = match outcome {
                        Ok(()) => json!({"type": 3, "invocationId": id}),
                        Err(error) => json!({"type": 3, "invocationId": id, "error": error}),
                    };
                    connection.push(&completion);
                }
            }
            Some(4) => {
                if let Some(id) = id {
                    connection.push(&json!({"type": 3, "invocationId": id, "error": "This hub has no streaming methods."}));
                }
            }
            // Cancel-invocation (no streams to cancel) and pings: nothing to do.
            Some(5) | Some(6) => {}
            Some(7) => connection.closed.cancel(),
            _ => connection.close(Some("Invalid message: unknown or missing `type`."), false),
        }
    }

    /// Run a hub method; `Err` is the completion's `error`.
    async fn invoke(
        &self,
        connection: &Connection,
        target: &str,
        arguments: &[Value],
    ) -> Result<(), String> {
        // SignalR matches method names case-insensitively.
        let join = if target.eq_ignore_ascii_case("JoinSession") {
            true
        } else if target.eq_ignore_ascii_case("LeaveSession") {
            false
        } else {
            return Err(format!("Unknown hub method '{target}'."));
        };
        let name = if join { "JoinSession" } else { "LeaveSession" };
        let [argument] = arguments else {
            return Err(format!(
                "Failed to invoke '{name}': it takes 1 argument (sessionId), got {}.",
                arguments.len()
            ));
        };
        let session_id = argument
            .as_str()
            .and_then(|s| s.parse::<Uuid>().ok())
            .ok_or_else(|| {
                format!(
                    "Failed to invoke '{name}': sessionId must be a UUID string, got {argument}."
                )
            })?;
        if join {
            let stream = tessera_application::StreamId::for_aggregate(
                super::feed::SEAT_SESSION_CATEGORY,
                session_id,
            )
            .map_err(|e| e.to_string())?;
            let version = self.store.stream_version(&stream).await.map_err(|e| {
                tracing::warn!(error = %e, "hub: cannot check a session");
                format!("Failed to invoke '{name}': the event store is unavailable; try again.")
            })?;
            if version == 0 {
                return Err(format!(
                    "Failed to invoke '{name}': no session {session_id}."
                ));
            }
            connection
                .groups
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(session_id);
        } else {
            connection
                .groups
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&session_id);
        }
        Ok(())
    }

    /// Deliver the feed's notices and pings to one connection until it closes; close it (the
    /// client may reconnect) when the server stops or when it fell behind the feed.
    async fn pump(self: Arc<Self>, connection: Arc<Connection>) {
        let mut notices: broadcast::Receiver<Arc<LogNotices>> = self.feed.subscribe();
        let mut ping = tokio::time::interval(self.timings.keep_alive);
        ping.tick().await;
        loop {
            tokio::select! {
                _ = connection.closed.cancelled() => return,
                _ = self.shutdown.cancelled() => {
                    // The feed published everything committed before the stop (`Live::start`):
                    // hand over what this connection has not received yet, then close.
                    while let Ok(batch) = notices.try_recv() {
                        for notice in &batch.notices {
                            if let Some(message) = connection.wants(notice) {
                                connection.push(&message);
                            }
                        }
                    }
                    connection.close(Some("Server is shutting down."), true);
                    return;
                }
                _ = ping.tick() => {
                    connection.push(&json!({"type": 6}));
                    if connection.transport() == Transport::WebSockets
                        && connection.idle_for() > self.timings.client_timeout
                    {
                        connection.close(Some("Server timeout elapsed without receiving a message from the client."), true);
                        return;
                    }
                }
                received = notices.recv() => match received {
                    Ok(batch) => {
                        for notice in &batch.notices {
                            if let Some(message) = connection.wants(notice) {
                                connection.push(&message);
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::info!(connection = %connection.id, missed, "hub: connection fell behind the feed");
                        connection.close(Some("The connection fell behind the live feed; reconnect and re-read the seats."), true);
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        connection.close(Some("Server is shutting down."), true);
                        return;
                    }
                }
            }
        }
    }
}
