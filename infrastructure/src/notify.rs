//! Wake-ups for readers that follow the log live.
//!
//! Commits of this process announce themselves directly. On PostgreSQL, commits of other processes
//! on the same database arrive through `LISTEN tessera_appends` (`crate::pg_listen`), which feeds
//! the same notifier; readers that miss a wake-up still re-read after their own `max_wait`.

use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::watch;

/// Publishes the highest committed position to waiting readers of this process, whichever process
/// committed it (see the module documentation for how other processes' commits arrive).
#[derive(Debug, Clone)]
pub struct AppendNotifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tx: watch::Sender<u64>,
    instance: uuid::Uuid,
}

/// A handle on an [`AppendNotifier`] that does not keep it alive: a background listener holds this
/// and stops once every store that owned the notifier is dropped.
#[derive(Debug, Clone)]
pub struct WeakAppendNotifier(Weak<Inner>);

impl WeakAppendNotifier {
    /// The notifier, while some store still holds it.
    pub fn upgrade(&self) -> Option<AppendNotifier> {
        self.0.upgrade().map(|inner| AppendNotifier { inner })
    }
}

impl AppendNotifier {
    /// Start at `head`.
    pub fn new(head: u64) -> Self {
        let (tx, _rx) = watch::channel(head);
        Self {
            inner: Arc::new(Inner {
                tx,
                instance: uuid::Uuid::new_v4(),
            }),
        }
    }

    /// The random id of the store this notifier belongs to (see `EventStore::instance_id`).
    pub fn instance(&self) -> uuid::Uuid {
        self.inner.instance
    }

    /// The highest position announced so far.
    pub fn position(&self) -> u64 {
        *self.inner.tx.borrow()
    }

    /// A handle that does not keep the notifier alive.
    pub fn downgrade(&self) -> WeakAppendNotifier {
        WeakAppendNotifier(Arc::downgrade(&self.inner))
    }

    /// Announce that everything up to `position` is committed (lower or equal positions than one
    /// already announced change nothing).
    pub fn committed(&self, position: u64) {
        self.inner.tx.send_if_modified(|p| {
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
        let mut rx = self.inner.tx.subscribe();
        let _ = tokio::time::timeout(max_wait, rx.wait_for(|p| *p > after)).await;
    }
}
