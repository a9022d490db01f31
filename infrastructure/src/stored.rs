//! Event rows exactly as stored, shared by both SQL backends, and their conversion to the port's
//! envelope.

use crate::hashing::{GENESIS_HASH, HashInput, event_hash};
use chrono::{DateTime, Utc};
use serde_json::Value;
use tessera_application::event_store::StoredId;
use tessera_application::{
    AppendOutcome, AppendRequest, EventMetadata, NewDeadline, NewEvent, RecordedEvent, StoreError,
    StreamId,
};
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

/// The event rows of a `READ_STREAM_OR_NOTHING` answer (either SQL store): no row means the
/// stream does not exist ([`StoreError::StreamNotFound`]); a single row whose first column
/// (`global_position`) is NULL means it exists with nothing from the asked version on (no events).
pub(crate) fn stream_rows<'r, R>(
    stream_id: &tessera_application::StreamId,
    rows: &'r [R],
) -> Result<std::slice::Iter<'r, R>, StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    Option<i64>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    match rows {
        [] => Err(StoreError::StreamNotFound(stream_id.clone())),
        [only] => {
            let position: Option<i64> = only
                .try_get(0)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok(if position.is_none() {
                rows[..0].iter()
            } else {
                rows.iter()
            })
        }
        rows => Ok(rows.iter()),
    }
}

/// Convert an integer column that must not be negative.
pub(crate) fn non_negative(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative {what}: {v}")))
}

/// Convert an append's metadata to the JSON object stored.
pub(crate) fn metadata_value(metadata: &EventMetadata) -> Result<Value, StoreError> {
    serde_json::to_value(metadata).map_err(|e| StoreError::InvalidRequest(format!("metadata: {e}")))
}

/// A stream's row as an append found it: its version (0 when new) and its last event's hash
/// ([`GENESIS_HASH`] when new).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub version: u64,
    pub last_hash: String,
}

impl Head {
    /// The head of a stream that has no events.
    pub fn empty() -> Self {
        Self {
            version: 0,
            last_hash: GENESIS_HASH.to_owned(),
        }
    }
}

/// One event row to insert.
pub(crate) struct PlannedEvent<'a> {
    pub position: u64,
    pub stream_id: &'a str,
    pub stream_version: u64,
    pub event: &'a NewEvent,
    /// `data` as JSON text.
    pub data: String,
    /// The metadata object as JSON text.
    pub metadata: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Everything one commit writes, computed before any row is written: event rows with their
/// positions and chained hashes, the new stream heads, the deadlines, and the outcomes to return.
pub(crate) struct Plan<'a> {
    pub events: Vec<PlannedEvent<'a>>,
    /// (stream, new version, new last hash), in request order.
    pub streams: Vec<(&'a str, u64, String)>,
    /// (stream, deadline), each deadline id once (the first wins, as in the table).
    pub deadlines: Vec<(&'a str, &'a NewDeadline)>,
    pub outcomes: Vec<AppendOutcome>,
}

/// The first version conflict of a commit, in request order; `heads` is in request order.
pub(crate) fn check_versions(requests: &[AppendRequest], heads: &[Head]) -> Result<(), StoreError> {
    for (request, head) in requests.iter().zip(heads) {
        if !request.expected_version.accepts(head.version) {
            return Err(StoreError::VersionConflict {
                stream: request.stream_id.clone(),
                expected: request.expected_version,
                actual: head.version,
            });
        }
    }
    Ok(())
}

/// Number the events of a commit from `first_position` (request order, then event order) and
/// chain each stream's hashes from its head. `heads` is in request order; `recorded_at` is the one
/// commit time of every event.
pub(crate) fn plan<'a>(
    requests: &'a [AppendRequest],
    heads: &[Head],
    first_position: u64,
    recorded_at: DateTime<Utc>,
) -> Result<Plan<'a>, StoreError> {
    let total = requests.iter().map(|r| r.events.len()).sum();
    let mut plan = Plan {
        events: Vec::with_capacity(total),
        streams: Vec::with_capacity(requests.len()),
        deadlines: Vec::new(),
        outcomes: Vec::with_capacity(requests.len()),
    };
    let mut position = first_position;
    let mut deadline_ids = std::collections::HashSet::new();
    for (request, head) in requests.iter().zip(heads) {
        let stream_id = request.stream_id.as_str();
        let mut version = head.version;
        let mut prev_hash = head.last_hash.clone();
        let mut positions = Vec::with_capacity(request.events.len());
        for event in &request.events {
            version += 1;
            let metadata = metadata_value(&event.metadata)?;
            let hash = event_hash(&HashInput {
                prev_hash: &prev_hash,
                stream_id,
                stream_version: version,
                event_id: event.event_id,
                event_type: &event.event_type,
                schema_version: event.schema_version,
                recorded_at,
                data: &event.data,
                metadata: &metadata,
            });
            plan.events.push(PlannedEvent {
                position,
                stream_id,
                stream_version: version,
                event,
                data: event.data.to_string(),
                metadata: metadata.to_string(),
                prev_hash: std::mem::replace(&mut prev_hash, hash.clone()),
                hash,
            });
            positions.push(position);
            position += 1;
        }
        for d in &request.deadlines {
            if deadline_ids.insert(d.deadline_id) {
                plan.deadlines.push((stream_id, d));
            }
        }
        plan.streams.push((stream_id, version, prev_hash));
        plan.outcomes.push(AppendOutcome {
            stream_version: version,
            positions,
            deduplicated: false,
        });
    }
    Ok(plan)
}

/// Turn an idempotency lookup's rows (event id, stream, version, position) into the port's shape.
pub(crate) fn stored_ids(
    rows: impl IntoIterator<Item = (Uuid, String, i64, i64)>,
) -> Result<Vec<StoredId>, StoreError> {
    rows.into_iter()
        .map(|(id, stream, version, position)| {
            Ok((
                id,
                StreamId::parse(stream).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                non_negative(version, "version")?,
                non_negative(position, "position")?,
            ))
        })
        .collect()
}
