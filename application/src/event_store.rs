//! The event store port and its envelope (../shared/DESIGN.md §3).
//!
//! Conventions every backend keeps:
//! - stream versions start at 1 (a stream with `n` events has version `n`; no stream = version 0);
//! - global positions start at 1 and increase in commit order: once a reader has seen position `P`,
//!   no event below `P` appears later;
//! - appending a batch whose event ids are all stored already in that stream is a no-op returning the
//!   original versions and positions;
//! - each event carries `hash` = SHA-256 over its content and the previous event's hash in the same
//!   stream (`prev_hash`; 64 zeros for the first event), see docs/architecture.md.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;
use uuid::Uuid;

/// A deadline to store with an append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDeadline {
    /// Unique id; storing the same id twice keeps the first.
    pub deadline_id: Uuid,
    /// Which handler fires it, e.g. `seat-lock-expiry`.
    pub kind: String,
    /// When it becomes due (UTC).
    pub due_at: DateTime<Utc>,
    /// What the handler needs (a JSON value).
    pub payload: serde_json::Value,
}

/// Name of one stream: `{category}-{id}`, e.g. `openticketOrder-0193…`.
///
/// 1 to 200 characters; the category is the part before the first `-`, non-empty and made of ASCII
/// letters, digits and `_`; the id after it is non-empty and has no control characters or spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StreamId(String);

/// Why a string is not a stream id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamIdError {
    /// Empty, over 200 characters, or not `{category}-{id}`.
    #[error("stream id must look like `{{category}}-{{id}}` (1-200 characters): {0:?}")]
    Malformed(String),
}

impl StreamId {
    /// Longest accepted stream id, in characters.
    pub const MAX_LEN: usize = 200;

    /// Parse a full stream name.
    pub fn parse(value: impl Into<String>) -> Result<Self, StreamIdError> {
        let value = value.into();
        let ok = value.chars().count() <= Self::MAX_LEN
            && match value.split_once('-') {
                Some((category, id)) => {
                    !category.is_empty()
                        && category
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_')
                        && !id.is_empty()
                        && !id.chars().any(|c| c.is_control() || c.is_whitespace())
                }
                None => false,
            };
        if ok {
            Ok(Self(value))
        } else {
            Err(StreamIdError::Malformed(value))
        }
    }

    /// Build `{category}-{id}`.
    pub fn for_aggregate(category: &str, id: impl fmt::Display) -> Result<Self, StreamIdError> {
        Self::parse(format!("{category}-{id}"))
    }

    /// The category (the part before the first `-`).
    pub fn category(&self) -> &str {
        self.0.split_once('-').map_or("", |(c, _)| c)
    }

    /// The whole `{category}-{id}` name, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for StreamId {
    type Error = StreamIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<StreamId> for String {
    fn from(value: StreamId) -> Self {
        value.0
    }
}

/// What the writer believes the stream's version to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// Append whatever the version is.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must be at exactly this version (`Exact(0)` means the same as `NoStream`).
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream currently at `actual` (0 = no stream) satisfies this expectation.
    pub fn accepts(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(n) => actual == n,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(n) => write!(f, "{n}"),
        }
    }
}

/// Who and what caused an event. Stored as a JSON object; unknown keys are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventMetadata {
    /// The id shared by every event that one outside request set off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    /// The event or command that directly caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// The signed-in user who acted, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_user_id: Option<String>,
    /// The HTTP request id (`x-request-id`) the event was written under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Anything else a writer attached.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// An event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Unique id; re-appending the same ids to the same stream is a no-op.
    pub event_id: Uuid,
    /// Stored type name, e.g. `OpenTicketSeatsLocked`.
    pub event_type: String,
    /// Schema version of `data`.
    pub schema_version: u32,
    /// The event's content (a JSON object).
    pub data: serde_json::Value,
    /// Correlation, causation, actor and request ids.
    pub metadata: EventMetadata,
}

/// One atomic append: a batch of events to one stream, plus deadlines stored with them.
#[derive(Debug, Clone)]
pub struct AppendRequest {
    /// The stream to append to.
    pub stream_id: StreamId,
    /// The version the writer decided against.
    pub expected_version: ExpectedVersion,
    /// At least one event.
    pub events: Vec<NewEvent>,
    /// Deadlines that become durable exactly when the events do (DESIGN.md §6).
    pub deadlines: Vec<NewDeadline>,
}

impl AppendRequest {
    /// An append without deadlines.
    pub fn new(
        stream_id: StreamId,
        expected_version: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Self {
        Self {
            stream_id,
            expected_version,
            events,
            deadlines: Vec::new(),
        }
    }
}

/// What an append did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    /// The stream's version after the append (the version of its last event).
    pub stream_version: u64,
    /// Global position of each appended event, in request order.
    pub positions: Vec<u64>,
    /// True when every event id was already stored: nothing was written, and the versions and
    /// positions are the original ones.
    pub deduplicated: bool,
}

impl AppendOutcome {
    /// Position of the last event of the batch.
    pub fn last_position(&self) -> u64 {
        self.positions.last().copied().unwrap_or(0)
    }
}

/// Check a commit before any backend touches storage: at least one request, each with at least
/// one event, every `data` a JSON object, event types of 1–200 characters, no stream named twice
/// and no event id used twice in the whole commit.
///
/// Errors: [`StoreError::InvalidRequest`] saying which rule failed.
pub fn validate_requests(requests: &[AppendRequest]) -> Result<(), StoreError> {
    if requests.is_empty() {
        return Err(StoreError::InvalidRequest(
            "a commit needs at least one stream".into(),
        ));
    }
    let mut streams = std::collections::HashSet::new();
    let mut ids = std::collections::HashSet::new();
    for request in requests {
        if !streams.insert(&request.stream_id) {
            return Err(StoreError::InvalidRequest(format!(
                "stream {} appears twice in one commit; put its events in one request",
                request.stream_id
            )));
        }
        if request.events.is_empty() {
            return Err(StoreError::InvalidRequest(format!(
                "the append to {} has no events; an append needs at least one",
                request.stream_id
            )));
        }
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
            if !ids.insert(e.event_id) {
                return Err(StoreError::InvalidRequest(format!(
                    "event id {} appears twice in the commit",
                    e.event_id
                )));
            }
        }
    }
    Ok(())
}

/// Where an event id of a commit is stored already: (event id, stream, stream version, global
/// position), as a backend's idempotency lookup finds it.
pub type StoredId = (Uuid, StreamId, u64, u64);

/// The idempotency rule of [`EventStore::append_streams`], shared by backends: `found` holds the
/// commit's event ids that are stored already.
///
/// Returns `None` when none is (append), the original outcomes (`deduplicated = true`, request
/// order) when all are, each in its request's stream.
///
/// Errors: [`StoreError::DuplicateEventId`] for anything in between (an id in another stream, part
/// of a batch, or one request stored and another not), naming the first offending id.
pub fn deduplicate(
    requests: &[AppendRequest],
    found: &[StoredId],
) -> Result<Option<Vec<AppendOutcome>>, StoreError> {
    if found.is_empty() {
        return Ok(None);
    }
    let clash = |(event_id, stream, _, _): &StoredId| StoreError::DuplicateEventId {
        event_id: *event_id,
        stored_in: stream.clone(),
    };
    let mut outcomes = Vec::with_capacity(requests.len());
    for request in requests {
        let mut stream_version = 0;
        let mut positions = Vec::with_capacity(request.events.len());
        for e in &request.events {
            match found.iter().find(|f| f.0 == e.event_id) {
                Some((_, stream, version, position)) if *stream == request.stream_id => {
                    stream_version = stream_version.max(*version);
                    positions.push(*position);
                }
                Some(other) => return Err(clash(other)),
                // Part of the commit is stored and part is not: not a retry of the same commit.
                None => return Err(clash(&found[0])),
            }
        }
        outcomes.push(AppendOutcome {
            stream_version,
            positions,
            deduplicated: true,
        });
    }
    Ok(Some(outcomes))
}

/// A stored event with its envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// Position in the global log (from 1, increasing in commit order).
    pub global_position: u64,
    /// The stream it belongs to.
    pub stream_id: StreamId,
    /// Version within its stream (from 1).
    pub stream_version: u64,
    /// Unique event id.
    pub event_id: Uuid,
    /// Stored type name, e.g. `OpenTicketSeatsLocked` (docs/event-catalog.md).
    pub event_type: String,
    /// Schema version of `data` (after upcasting, when read through an [`crate::UpcastingEventStore`]).
    pub schema_version: u32,
    /// The event's `data`: a JSON object with camelCase fields (docs/event-catalog.md).
    pub data: serde_json::Value,
    /// Correlation, causation, actor and request ids.
    pub metadata: EventMetadata,
    /// When it was committed (UTC, microsecond precision, never decreasing along the global log).
    pub recorded_at: DateTime<Utc>,
    /// Hash of the previous event in the same stream (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 (lower-case hex) of this event's content chained to `prev_hash`.
    pub hash: String,
}

/// Errors of the event store port.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The stream's version is not the expected one. `actual` is 0 when the stream does not exist.
    #[error("version conflict on {stream}: expected {expected}, actual {actual}")]
    VersionConflict {
        /// The stream appended to.
        stream: StreamId,
        /// What the writer expected.
        expected: ExpectedVersion,
        /// The stream's current version.
        actual: u64,
    },
    /// The stream has no events.
    #[error("stream {0} not found")]
    StreamNotFound(StreamId),
    /// Some (not all) of the batch's event ids are stored already, or stored in another stream.
    #[error("event id {event_id} is already stored in stream {stored_in}")]
    DuplicateEventId {
        /// The event id that is stored already.
        event_id: Uuid,
        /// Where it is stored.
        stored_in: StreamId,
    },
    /// The request itself is unusable (empty batch, data that is not an object, …).
    #[error("invalid append: {0}")]
    InvalidRequest(String),
    /// A stored row cannot be read back (corruption or an unreadable migration state).
    #[error("stored event is unreadable: {0}")]
    Corrupt(String),
    /// The database cannot be reached or failed.
    #[error("event store unavailable: {0}")]
    Unavailable(String),
}

/// The event store port. Every backend passes the same contract suite (tests/tests/event_store_contract.rs).
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Append a batch to one stream, atomically, if its version matches `expected_version`:
    /// [`EventStore::append_streams`] with one request.
    ///
    /// Errors: [`StoreError::VersionConflict`], [`StoreError::DuplicateEventId`],
    /// [`StoreError::InvalidRequest`] for an empty batch, [`StoreError::Unavailable`].
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, StoreError> {
        let mut outcomes = self.append_streams(vec![request]).await?;
        outcomes
            .pop()
            .ok_or_else(|| StoreError::Unavailable("the store answered no outcome".into()))
    }

    /// Commit batches to several streams in one atomic step (docs/decisions/0009-multi-stream-append.md):
    /// every request's events and deadlines are stored, or none are.
    ///
    /// - Each request carries its own expected version; when any one does not match, nothing is
    ///   written and the error is [`StoreError::VersionConflict`] naming that stream (the first in
    ///   request order).
    /// - Each stream may appear in one request only (two would make "expected version" of the
    ///   second ambiguous): otherwise [`StoreError::InvalidRequest`]. So must each event id.
    /// - Idempotent retry: when every event id of every request is stored already, each in its
    ///   request's stream, nothing is written and the original outcomes come back with
    ///   `deduplicated = true`. When only some are (one request stored, another not, or part of a
    ///   batch), or an id is stored in another stream, it is [`StoreError::DuplicateEventId`]: that
    ///   is not a retry of the same commit.
    /// - Global positions follow request order, then event order, contiguous across the whole
    ///   commit; all events share one `recorded_at`. Readers in this process are woken once.
    ///
    /// Returns one outcome per request, in request order. Errors as [`EventStore::append`], plus
    /// [`StoreError::InvalidRequest`] for an empty list.
    async fn append_streams(
        &self,
        requests: Vec<AppendRequest>,
    ) -> Result<Vec<AppendOutcome>, StoreError>;

    /// Up to `max_count` events of one stream with version ≥ `from_version`, in version order.
    ///
    /// Errors: [`StoreError::StreamNotFound`] when the stream has no events at all.
    async fn read_stream(
        &self,
        stream_id: &StreamId,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Up to `max_count` events with global position > `after`, in position order.
    async fn read_all(
        &self,
        after: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The highest committed global position (0 when the store is empty).
    async fn head_position(&self) -> Result<u64, StoreError>;

    /// The stream's current version (0 when it does not exist).
    async fn stream_version(&self, stream_id: &StreamId) -> Result<u64, StoreError>;

    /// The current versions of several streams (0 for one that does not exist), in the order
    /// given. The SQL stores answer in one query; a caller keeping states of its own reads only
    /// the streams whose version moved past its copy (the access check of every signed-in
    /// request, docs/decisions/0014-access-token-revocation.md). The default asks
    /// [`EventStore::stream_version`] once per stream.
    async fn stream_versions(&self, stream_ids: &[&StreamId]) -> Result<Vec<u64>, StoreError> {
        let mut versions = Vec::with_capacity(stream_ids.len());
        for stream_id in stream_ids {
            versions.push(self.stream_version(stream_id).await?);
        }
        Ok(versions)
    }

    /// Wait until an event with position > `after` may be readable, or `max_wait` passes.
    /// Returns early on a local append; may also return spuriously. Callers re-read.
    async fn wait_for_append(&self, after: u64, max_wait: Duration) -> Result<(), StoreError>;

    /// A random id of this store object, made when it was opened. The command handler keys its
    /// in-process aggregate cache by it, so two stores in one process (tests) never share entries.
    /// `None` (the default) disables that cache for the store.
    fn instance_id(&self) -> Option<Uuid> {
        None
    }
}
