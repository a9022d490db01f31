//! The live feed behind the hub and the SSE seat stream (seed 003 §8.3): one catch-up
//! [`Subscription`] to the event log per server process, turning each committed seat-session and
//! order event into the notifications clients see, in log order, and broadcasting them to every
//! connection of this process.
//!
//! Because the feed reads the log and not the HTTP handlers, a notification is sent for every
//! committed change whatever happened to the request that made it (a crash after the commit, a
//! deadline firing, another server process writing to the same database: this process's
//! subscription polls the log when no local append wakes it, docs/decisions/0029-live-seat-status.md).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tessera_application::{EventStore, RecordedEvent, StoreError, StreamId, Subscription};
use tessera_domain::openticket::order::{Order, OrderEvent};
use tessera_domain::openticket::seat_session::{SeatSession, SeatSessionEvent, SeatStatus};
use tessera_domain::{Decider, DomainEvent, UserId};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Stream category of seat sessions (`openticketSeatSession-{sessionId}`).
pub const SEAT_SESSION_CATEGORY: &str = SeatSession::CATEGORY;
/// Stream category of orders (`openticketOrder-{orderId}`).
pub const ORDER_CATEGORY: &str = Order::CATEGORY;

/// `SeatStatusChanged` (seed 003 §8.3): one seat of one session changed status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatStatusChanged {
    /// The session (UUID).
    pub session_id: Uuid,
    /// The seat, as the venue's seat map names it, e.g. `A-001`.
    pub seat_id: String,
    /// `Available`, `Locked` or `Sold` (held-for-order seats are `Locked`, as in §5.1).
    pub status: String,
    /// When the change happened: the event's own time, RFC 3339 UTC with seconds, e.g.
    /// `2025-01-20T10:00:00Z`.
    pub timestamp: String,
    /// Tessera's addition: the global log position of the change, to compare with the
    /// `X-Log-Position` of `GET /v1/sessions/{sessionId}/seats` when resynchronising (a change at
    /// or below it is already in that read).
    pub position: u64,
}

/// `OrderStatusChanged` (seed 003 §8.3): sent only to the connections of the order's buyer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderStatusChanged {
    /// The order (UUID).
    pub order_id: Uuid,
    /// `Created`, `Paid`, `Completed`, `Cancelled` or `Expired` (§6.2's statuses).
    pub status: String,
    /// When the change happened (RFC 3339 UTC, seconds).
    pub timestamp: String,
}

/// One notification derived from one log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// For everyone watching the session.
    Seat(SeatStatusChanged),
    /// For the order's buyer only.
    Order {
        /// The buyer: only connections signed in as this user receive it.
        owner: UserId,
        /// What they receive.
        change: OrderStatusChanged,
    },
}

/// The notices of one log event, with its global position (what the SSE stream sends as `id:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogNotices {
    /// The event's global position.
    pub position: u64,
    /// Its notices, in the order the event lists its seats.
    pub notices: Vec<Notice>,
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn status_name(status: SeatStatus) -> &'static str {
    match status {
        SeatStatus::Available => "Available",
        SeatStatus::Locked => "Locked",
        SeatStatus::Sold => "Sold",
    }
}

/// The seat notices of a seat-session event: a lock (`Locked`), a release for any reason
/// (`Available`: released by the holder, lock expired, order cancelled or expired) and a sale
/// (`Sold`). Holding locked seats for an order changes no visible status and yields nothing.
/// `None` when the event is not a seat-session event (or cannot be read).
pub fn seat_notices(event: &RecordedEvent) -> Option<Vec<SeatStatusChanged>> {
    if event.stream_id.category() != SEAT_SESSION_CATEGORY {
        return None;
    }
    let session_id: Uuid = event
        .stream_id
        .as_str()
        .strip_prefix(SEAT_SESSION_CATEGORY)?
        .strip_prefix('-')?
        .parse()
        .ok()?;
    let decoded = match SeatSessionEvent::from_stored(&event.event_type, &event.data) {
        Ok(decoded) => decoded,
        Err(e) => {
            tracing::warn!(position = event.global_position, error = %e, "live feed: unreadable seat-session event");
            return None;
        }
    };
    let (seats, status, at) = match decoded {
        SeatSessionEvent::SeatsLocked {
            seat_ids,
            locked_at,
            ..
        } => (seat_ids, SeatStatus::Locked, locked_at),
        SeatSessionEvent::SeatsReleased {
            seat_ids,
            released_at,
            ..
        } => (seat_ids, SeatStatus::Available, released_at),
        SeatSessionEvent::SeatsSold {
            seat_ids, sold_at, ..
        } => (seat_ids, SeatStatus::Sold, sold_at),
        SeatSessionEvent::SessionOpened { .. } | SeatSessionEvent::SeatsHeldForOrder { .. } => {
            return Some(Vec::new());
        }
    };
    let timestamp = stamp(at);
    Some(
        seats
            .into_iter()
            .map(|seat| SeatStatusChanged {
                session_id,
                seat_id: seat.to_string(),
                status: status_name(status).to_owned(),
                timestamp: timestamp.clone(),
                position: event.global_position,
            })
            .collect(),
    )
}

/// Turns log events into notices; remembers each order's buyer (from `OpenTicketOrderPlaced`, or
/// read from the order's stream for orders placed before the feed started).
pub struct Translator {
    store: Arc<dyn EventStore>,
    owners: HashMap<Uuid, UserId>,
}

/// Buyers remembered at most; past it the memory starts over (a miss costs one stream read).
const MAX_OWNERS: usize = 100_000;

impl Translator {
    /// A translator reading missing buyers from `store`.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            store,
            owners: HashMap::new(),
        }
    }

    /// The notices of `event` (empty for events of other streams).
    pub async fn notices(&mut self, event: &RecordedEvent) -> Result<Vec<Notice>, StoreError> {
        if let Some(seats) = seat_notices(event) {
            return Ok(seats.into_iter().map(Notice::Seat).collect());
        }
        if event.stream_id.category() != ORDER_CATEGORY {
            return Ok(Vec::new());
        }
        let Some(order_id) = event
            .stream_id
            .as_str()
            .strip_prefix(ORDER_CATEGORY)
            .and_then(|s| s.strip_prefix('-'))
            .and_then(|s| s.parse::<Uuid>().ok())
        else {
            return Ok(Vec::new());
        };
        let decoded = match OrderEvent::from_stored(&event.event_type, &event.data) {
            Ok(decoded) => decoded,
            Err(e) => {
                tracing::warn!(position = event.global_position, error = %e, "live feed: unreadable order event");
                return Ok(Vec::new());
            }
        };
        let (status, at) = match &decoded {
            OrderEvent::OrderPlaced {
                user_id, placed_at, ..
            } => {
                if self.owners.len() >= MAX_OWNERS {
                    self.owners.clear();
                }
                self.owners.insert(order_id, *user_id);
                ("Created", *placed_at)
            }
            OrderEvent::PaymentSucceeded { paid_at, .. } => ("Paid", *paid_at),
            OrderEvent::OrderCompleted { completed_at, .. } => ("Completed", *completed_at),
            OrderEvent::OrderCancelled { cancelled_at, .. } => ("Cancelled", *cancelled_at),
            OrderEvent::OrderExpired { expired_at, .. } => ("Expired", *expired_at),
            // A failed attempt leaves the order `Created`; a late payment leaves it cancelled or
            // expired (and is refunded): no status changes.
            OrderEvent::PaymentFailed { .. } | OrderEvent::LatePaymentReceived { .. } => {
                return Ok(Vec::new());
            }
        };
        let Some(owner) = self.owner(order_id, &event.stream_id).await? else {
            return Ok(Vec::new());
        };
        Ok(vec![Notice::Order {
            owner,
            change: OrderStatusChanged {
                order_id,
                status: status.to_owned(),
                timestamp: stamp(at),
            },
        }])
    }

    async fn owner(
        &mut self,
        order_id: Uuid,
        stream: &StreamId,
    ) -> Result<Option<UserId>, StoreError> {
        if let Some(owner) = self.owners.get(&order_id) {
            return Ok(Some(*owner));
        }
        let first = self.store.read_stream(stream, 1, 1).await?;
        let owner =
            first
                .first()
                .and_then(|e| match OrderEvent::from_stored(&e.event_type, &e.data) {
                    Ok(OrderEvent::OrderPlaced { user_id, .. }) => Some(user_id),
                    _ => None,
                });
        if let Some(owner) = owner {
            if self.owners.len() >= MAX_OWNERS {
                self.owners.clear();
            }
            self.owners.insert(order_id, owner);
        }
        Ok(owner)
    }
}

/// The process-wide feed: follows the log from where it was when the server started and
/// broadcasts each event's notices to every subscriber of this process.
pub struct LiveFeed {
    store: Arc<dyn EventStore>,
    tx: broadcast::Sender<Arc<LogNotices>>,
    published: AtomicU64,
}

/// Log events a subscriber may fall behind by before it is told it lagged (and resynchronises).
const CHANNEL_CAPACITY: usize = 4096;

impl LiveFeed {
    /// A feed over `store` (opened events: the application's store); nothing is read until
    /// [`LiveFeed::run`].
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        Self {
            store,
            tx,
            published: AtomicU64::new(0),
        }
    }

    /// The store the feed follows (SSE catch-up reads it).
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// Notices of every log event the feed handles from now on (after [`LiveFeed::published`]).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LogNotices>> {
        self.tx.subscribe()
    }

    /// The position of the last log event whose notices were broadcast.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Acquire)
    }

    /// Wait until the feed has published every event committed when called (the store's head),
    /// at most `within`; returns whether it got there. A stopping server calls it before closing
    /// its connections.
    pub async fn drain(&self, within: Duration) -> bool {
        let Ok(head) = self.store.head_position().await else {
            return false;
        };
        let deadline = tokio::time::Instant::now() + within;
        while self.published() < head {
            if tokio::time::Instant::now() >= deadline {
                tracing::info!(
                    head,
                    published = self.published(),
                    "live feed: stopped before publishing the last changes"
                );
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Follow the log from its current head until `shutdown`; a failing read is logged and
    /// retried a second later from the last position handled, so nothing is skipped.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let start = loop {
            match self.store.head_position().await {
                Ok(head) => break head,
                Err(e) => {
                    tracing::warn!(error = %e, "live feed: cannot read the log head; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        };
        self.published.store(start, Ordering::Release);
        let mut translator = Translator::new(self.store.clone());
        let mut subscription = Subscription::new(self.store.clone(), start);
        loop {
            let batch = tokio::select! {
                _ = shutdown.cancelled() => return,
                batch = subscription.next_batch() => batch,
            };
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(error = %e, "live feed: reading the log failed; retrying");
                    let from = self.published();
                    subscription = Subscription::new(self.store.clone(), from);
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    continue;
                }
            };
            for event in batch {
                let notices = loop {
                    match translator.notices(&event).await {
                        Ok(notices) => break notices,
                        Err(e) => {
                            tracing::warn!(error = %e, "live feed: reading an order's buyer failed; retrying");
                            tokio::select! {
                                _ = shutdown.cancelled() => return,
                                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                            }
                        }
                    }
                };
                if !notices.is_empty() {
                    // No receiver is fine: nobody is watching.
                    let _ = self.tx.send(Arc::new(LogNotices {
                        position: event.global_position,
                        notices,
                    }));
                }
                self.published
                    .store(event.global_position, Ordering::Release);
            }
        }
    }
}
