//! In-process wake-ups for readers that follow the log live.

use std::time::Duration;
use tokio::sync::watch;

/// Publishes the highest committed position to waiting readers of this process. Readers of other
/// processes fall back to polling (the wait ends after `max_wait` and they re-read).
#[derive(Debug, Clone)]
pub struct AppendNotifier {
    tx: watch::Sender<u64>,
    instance: uuid::Uuid,
}

impl AppendNotifier {
    /// Start at `head`.
    pub fn new(head: u64) -> Self {
        let (tx, _rx) = watch::channel(head);
        Self {
            tx,
            instance: uuid::Uuid::new_v4(),
        }
    }

    /// The random id of the store this notifier belongs to (see `EventStore::instance_id`).
    pub fn instance(&self) -> uuid::Uuid {
        self.instance
    }

    /// Announce that everything up to `position` is committed.
    pub fn committed(&self, position: u64) {
        self.tx.send_if_modified(|p| {
            if position > *p {
                *p = position;
                true
            } else {
                false
            }
        });
    }

    /// Wait until a position above `after` is announced, or `max_wait` passes.
    pub async fn wait(&self, after: u64, max_wait: Duration) {
        let mut rx = self.tx.subscribe();
        let _ = tokio::time::timeout(max_wait, rx.wait_for(|p| *p > after)).await;
    }
}
