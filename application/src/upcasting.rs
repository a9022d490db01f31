//! Upcasters turn stored events of an old schema version into the current one on every read path.
//! Stored events are never rewritten (DESIGN.md §3).

use crate::event_store::{
    AppendOutcome, AppendRequest, EventStore, RecordedEvent, StoreError, StreamId,
};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Turns one event type's data from schema version `source_version` into `source_version + 1`.
pub trait Upcaster: Send + Sync {
    /// The stored event type it applies to.
    fn event_type(&self) -> &str;
    /// The version it reads; it produces `source_version + 1`.
    fn source_version(&self) -> u32;
    /// `data` as written at `source_version`, rewritten into the shape of `source_version + 1`.
    fn upcast(&self, data: serde_json::Value) -> serde_json::Value;
}

/// All known upcasters, chained: version 1 → 2 → 3 … until no upcaster matches.
#[derive(Default, Clone)]
pub struct UpcasterRegistry {
    upcasters: HashMap<(String, u32), Arc<dyn Upcaster>>,
}

impl UpcasterRegistry {
    /// An empty registry (events are read as stored).
    pub fn new() -> Self {
        Self::default()
    }

    /// Add an upcaster; a later one for the same type and version replaces the earlier.
    pub fn register(&mut self, upcaster: Arc<dyn Upcaster>) -> &mut Self {
        self.upcasters.insert(
            (upcaster.event_type().to_owned(), upcaster.source_version()),
            upcaster,
        );
        self
    }

    /// Bring an event to the newest schema version known.
    pub fn upcast(&self, mut event: RecordedEvent) -> RecordedEvent {
        while let Some(upcaster) = self
            .upcasters
            .get(&(event.event_type.clone(), event.schema_version))
        {
            let data = std::mem::take(&mut event.data);
            event.data = upcaster.upcast(data);
            event.schema_version += 1;
        }
        event
    }
}

/// An [`EventStore`] that upcasts everything it reads. Writes pass through unchanged. Auditors read
/// the inner store, since hashes cover the data as stored.
pub struct UpcastingEventStore {
    inner: Arc<dyn EventStore>,
    registry: Arc<UpcasterRegistry>,
}

impl UpcastingEventStore {
    /// Wrap `inner`.
    pub fn new(inner: Arc<dyn EventStore>, registry: Arc<UpcasterRegistry>) -> Self {
        Self { inner, registry }
    }

    fn upcast_all(&self, events: Vec<RecordedEvent>) -> Vec<RecordedEvent> {
        events
            .into_iter()
            .map(|e| self.registry.upcast(e))
            .collect()
    }
}

#[async_trait]
impl EventStore for UpcastingEventStore {
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, StoreError> {
        self.inner.append(request).await
    }

    async fn append_streams(
        &self,
        requests: Vec<AppendRequest>,
    ) -> Result<Vec<AppendOutcome>, StoreError> {
        self.inner.append_streams(requests).await
    }

    async fn read_stream(
        &self,
        stream_id: &StreamId,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = self
            .inner
            .read_stream(stream_id, from_version, max_count)
            .await?;
        Ok(self.upcast_all(events))
    }

    async fn read_all(
        &self,
        after: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = self.inner.read_all(after, max_count).await?;
        Ok(self.upcast_all(events))
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        self.inner.head_position().await
    }

    async fn stream_version(&self, stream_id: &StreamId) -> Result<u64, StoreError> {
        self.inner.stream_version(stream_id).await
    }

    async fn stream_versions(&self, stream_ids: &[&StreamId]) -> Result<Vec<u64>, StoreError> {
        self.inner.stream_versions(stream_ids).await
    }

    async fn wait_for_append(&self, after: u64, max_wait: Duration) -> Result<(), StoreError> {
        self.inner.wait_for_append(after, max_wait).await
    }

    fn instance_id(&self) -> Option<uuid::Uuid> {
        self.inner.instance_id()
    }
}
