//! Live seat status (seed 003 §8): the process-wide [`feed::LiveFeed`] that turns committed
//! seat-session and order events into notices, the SignalR hub `/hubs/tickets` ([`hub`],
//! [`transports`]) and the Server-Sent Events seat stream `GET /v1/sessions/{sessionId}/seats/stream`
//! ([`stream`]), and the live seat-map page `GET /v1/sessions/{sessionId}/live` ([`page`]).
//! docs/openticket.md ("Live seat status") and
//! docs/decisions/0029-live-seat-status.md record the choices.

pub mod feed;
pub mod hub;
pub mod page;
pub mod stream;
pub mod transports;

use crate::startup::AppState;
use feed::LiveFeed;
use hub::{Hub, HubTimings};
use std::sync::Arc;
use tessera_application::EventStore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

/// The feed and the hub of one server process.
pub struct Live {
    /// Notices from the log, broadcast to this process's connections and streams.
    pub feed: Arc<LiveFeed>,
    /// The SignalR connections of this process.
    pub hub: Arc<Hub>,
}

impl Live {
    /// A feed over `store` (the application's store, events opened) and a hub with the default
    /// timings (pings every 15 s, 30 s client timeout, 20 s long polls).
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        let feed = Arc::new(LiveFeed::new(store.clone()));
        let hub = Arc::new(Hub::new(feed.clone(), store, HubTimings::default()));
        Self { feed, hub }
    }

    /// Follow the log, reap quiet connections, and when `shutdown` is cancelled close every hub
    /// connection (telling clients they may reconnect) and end every seat stream — after the feed
    /// has published what was committed before the stop (at most [`DRAIN`]), so that a change
    /// acknowledged just before a restart still reaches the clients watching it.
    pub fn start(&self, tasks: &mut JoinSet<()>, shutdown: CancellationToken) {
        let feed_stop = CancellationToken::new();
        tasks.spawn(self.feed.clone().run(feed_stop.clone()));
        tasks.spawn(self.hub.clone().reap());
        let hub = self.hub.clone();
        let feed = self.feed.clone();
        tasks.spawn(async move {
            shutdown.cancelled().await;
            feed.drain(DRAIN).await;
            hub.shutdown.cancel();
            feed_stop.cancel();
        });
    }
}

/// Longest a stopping server waits for the feed to publish the changes committed before the stop.
pub const DRAIN: std::time::Duration = std::time::Duration::from_secs(2);

/// The hub's routes and the live page (outside the OpenAPI document) and the seat stream (inside
/// it).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .merge(stream::router())
        .merge(OpenApiRouter::from(transports::router()))
        .merge(OpenApiRouter::from(page::router()))
}
