//! Catch-up subscriptions to the global log: read from a position in batches, then follow live.

use crate::event_store::{EventStore, RecordedEvent, StoreError};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// Follows the global log from a position: first every stored event after it, then new ones as they
/// are committed, in position order, each once.
pub struct Subscription {
    store: Arc<dyn EventStore>,
    position: u64,
    buffer: VecDeque<RecordedEvent>,
    batch_size: usize,
    idle_wait: Duration,
    /// The last read came back shorter than the batch size: the log's head was reached, so the
    /// next read first waits for an append (at once when one came meanwhile) instead of finding
    /// nothing.
    caught_up: bool,
}

impl Subscription {
    /// Subscribe to events after `after` (0 = from the start).
    pub fn new(store: Arc<dyn EventStore>, after: u64) -> Self {
        Self {
            store,
            position: after,
            buffer: VecDeque::new(),
            batch_size: 512,
            idle_wait: Duration::from_millis(500),
            caught_up: false,
        }
    }

    /// Events read per query (default 512).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// The position of the last event handed out.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The next event, waiting for one to be committed when caught up.
    pub async fn next(&mut self) -> Result<RecordedEvent, StoreError> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                self.position = event.global_position;
                return Ok(event);
            }
            self.fill().await?;
        }
    }

    /// The next non-empty batch (at most the batch size), waiting when caught up.
    pub async fn next_batch(&mut self) -> Result<Vec<RecordedEvent>, StoreError> {
        loop {
            if !self.buffer.is_empty() {
                let batch: Vec<RecordedEvent> = self.buffer.drain(..).collect();
                if let Some(last) = batch.last() {
                    self.position = last.global_position;
                }
                return Ok(batch);
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> Result<(), StoreError> {
        if self.caught_up {
            self.store
                .wait_for_append(self.position, self.idle_wait)
                .await?;
        }
        let batch = self.store.read_all(self.position, self.batch_size).await?;
        let full = batch.len() >= self.batch_size;
        // A backend that broke the ordering rule must not make us hand out an event twice.
        let mut last = self.position;
        for event in batch {
            if event.global_position > last {
                last = event.global_position;
                self.buffer.push_back(event);
            }
        }
        // Nothing new (even from a full batch of a backend that broke the ordering rule): wait
        // before the next read rather than spin.
        self.caught_up = !full || self.buffer.is_empty();
        Ok(())
    }
}
