//! Event rows exactly as stored, shared by both SQL backends, and their conversion to the port's
//! envelope.

use crate::hashing::{HashInput, event_hash};
use chrono::{DateTime, Utc};
use serde_json::Value;
use tessera_application::{EventMetadata, RecordedEvent, StoreError, StreamId};
use uuid::Uuid;

/// One row of the `events` table, data and metadata as stored (not upcast).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Global position (from 1).
    pub global_position: u64,
    /// Stream name, as stored (not re-validated, so that audits can read anything).
    pub stream_id: String,
    /// Version in the stream (from 1).
    pub stream_version: u64,
    /// The event's UUID, unique across the whole log.
    pub event_id: Uuid,
    /// Type name as stored, e.g. `OpenTicketSeatsLocked`.
    pub event_type: String,
    /// Schema version of `data` as stored (before any upcasting).
    pub schema_version: u32,
    /// The `data` JSON object as stored.
    pub data: Value,
    /// The metadata JSON object as stored (correlation, causation, actor and request ids).
    pub metadata: Value,
    /// Commit time (UTC, microseconds).
    pub recorded_at: DateTime<Utc>,
    /// Hash of the previous event in the stream.
    pub prev_hash: String,
    /// The hash stored with it; [`StoredEvent::computed_hash`] recomputes it for audits.
    pub hash: String,
}

/// A stream's row in the `streams` table: its version and the hash of its last event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamHead {
    /// Stream name, `{category}-{id}`.
    pub stream_id: String,
    /// Version of its last event.
    pub version: u64,
    /// Hash of its last event.
    pub last_hash: String,
}

impl StoredEvent {
    /// Recompute the hash from the stored content.
    pub fn computed_hash(&self) -> String {
        event_hash(&HashInput {
            prev_hash: &self.prev_hash,
            stream_id: &self.stream_id,
            stream_version: self.stream_version,
            event_id: self.event_id,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            recorded_at: self.recorded_at,
            data: &self.data,
            metadata: &self.metadata,
        })
    }

    /// Convert to the port's envelope.
    pub fn into_recorded(self) -> Result<RecordedEvent, StoreError> {
        let stream_id = StreamId::parse(self.stream_id)
            .map_err(|e| StoreError::Corrupt(format!("position {}: {e}", self.global_position)))?;
        let metadata: EventMetadata = serde_json::from_value(self.metadata).map_err(|e| {
            StoreError::Corrupt(format!("position {}: metadata: {e}", self.global_position))
        })?;
        Ok(RecordedEvent {
            global_position: self.global_position,
            stream_id,
            stream_version: self.stream_version,
            event_id: self.event_id,
            event_type: self.event_type,
            schema_version: self.schema_version,
            data: self.data,
            metadata,
            recorded_at: self.recorded_at,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

/// Turn a database error into the port's error without leaking it to clients (the api layer logs
/// the detail and answers with an opaque error).
pub(crate) fn unavailable(e: sqlx::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Convert an integer column that must not be negative.
pub(crate) fn non_negative(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative {what}: {v}")))
}

/// Convert an append's metadata to the JSON object stored.
pub(crate) fn metadata_value(metadata: &EventMetadata) -> Result<Value, StoreError> {
    serde_json::to_value(metadata).map_err(|e| StoreError::InvalidRequest(format!("metadata: {e}")))
}

/// Reject batches the store cannot take before touching the database.
pub(crate) fn validate_append(
    request: &tessera_application::AppendRequest,
) -> Result<(), StoreError> {
    if request.events.is_empty() {
        return Err(StoreError::InvalidRequest(
            "an append needs at least one event".into(),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for e in &request.events {
        if !e.data.is_object() {
            return Err(StoreError::InvalidRequest(format!(
                "event {}: data must be a JSON object",
                e.event_id
            )));
        }
        if e.event_type.is_empty() || e.event_type.len() > 200 {
            return Err(StoreError::InvalidRequest(format!(
                "event {}: event type must have 1-200 characters",
                e.event_id
            )));
        }
        if !seen.insert(e.event_id) {
            return Err(StoreError::InvalidRequest(format!(
                "event id {} appears twice in the batch",
                e.event_id
            )));
        }
    }
    Ok(())
}

/// What the idempotency check found for a batch's event ids.
pub(crate) enum Existing {
    /// None of the ids is stored: append.
    None,
    /// All are stored in this stream: return these (version, position) pairs in request order.
    All(Vec<(u64, u64)>),
}

/// Decide what to do about already stored ids: `found` holds (event id, stream, version, position).
pub(crate) fn classify_existing(
    request: &tessera_application::AppendRequest,
    found: &[(Uuid, String, u64, u64)],
) -> Result<Existing, StoreError> {
    if found.is_empty() {
        return Ok(Existing::None);
    }
    let mut out = Vec::with_capacity(request.events.len());
    for e in &request.events {
        match found.iter().find(|f| f.0 == e.event_id) {
            Some((_, stream, version, position)) if stream == request.stream_id.as_str() => {
                out.push((*version, *position));
            }
            Some((id, stream, _, _)) => {
                return Err(StoreError::DuplicateEventId {
                    event_id: *id,
                    stored_in: StreamId::parse(stream.clone())
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                });
            }
            None => {
                // Part of the batch is stored and part is not: not a retry of the same append.
                let (id, stream, _, _) = &found[0];
                return Err(StoreError::DuplicateEventId {
                    event_id: *id,
                    stored_in: StreamId::parse(stream.clone())
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                });
            }
        }
    }
    Ok(Existing::All(out))
}
