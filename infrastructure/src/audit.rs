//! The auditor's view of a store: raw rows as stored, hash-chain verification, and CloudEvents 1.0
//! export.
//!
//! What `verify` checks, in global order (docs/architecture.md, "Tamper evidence"):
//! 1. positions are contiguous from 1 (a gap is a removed event);
//! 2. each stream's versions follow 1, 2, 3… along the global order (a jump or step back is a removed
//!    or reordered event);
//! 3. each event's `prev_hash` is the hash of the event before it in its stream, and its `hash`
//!    matches its content (a mismatch is an altered event);
//! 4. `recorded_at` never decreases along the global order (events swapped across streams);
//! 5. the `streams` table and the log head agree with the last events seen (events cut off the end).

use crate::hashing::{GENESIS_HASH, format_timestamp};
use crate::stored::{StoredEvent, StreamHead};
use async_trait::async_trait;
use serde::Serialize;
use std::collections::HashMap;
use tessera_application::StoreError;

/// Raw, un-upcast access to a store's rows, for auditors.
#[async_trait]
pub trait AuditSource: Send + Sync {
    /// Up to `max_count` rows with position > `after`, in position order, exactly as stored.
    async fn read_raw(&self, after: u64, max_count: usize) -> Result<Vec<StoredEvent>, StoreError>;
    /// Every row of one stream in version order, exactly as stored (empty when unknown).
    async fn read_raw_stream(&self, stream_id: &str) -> Result<Vec<StoredEvent>, StoreError>;
    /// Every row of the `streams` table.
    async fn stream_heads(&self) -> Result<Vec<StreamHead>, StoreError>;
    /// The position recorded in the log head.
    async fn log_head(&self) -> Result<u64, StoreError>;
}

/// What kind of tampering a finding points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Content no longer matches its hash.
    Altered,
    /// An event is missing.
    Removed,
    /// Events are out of order.
    Reordered,
}

/// One problem found by [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditFinding {
    /// Kind of problem.
    pub kind: FindingKind,
    /// Global position where it shows (the event found there, or the gap).
    pub position: u64,
    /// Stream of the event concerned.
    pub stream_id: String,
    /// Its stream version (0 when not applicable).
    pub stream_version: u64,
    /// What exactly is wrong.
    pub detail: String,
}

/// The result of a full verification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Events read and checked: the whole log.
    pub events_checked: u64,
    /// Distinct streams among them.
    pub streams_checked: u64,
    /// Problems, in global order (at most [`MAX_FINDINGS`]).
    pub findings: Vec<AuditFinding>,
}

impl AuditReport {
    /// True when nothing was found.
    pub fn is_intact(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Findings kept at most (the first one is what matters; the rest give context).
pub const MAX_FINDINGS: usize = 1_000;

struct StreamState {
    version: u64,
    hash: String,
}

/// Walk the whole log and report every inconsistency, the first one first. `on_progress` is called
/// after each batch with the number of events checked so far.
pub async fn verify(
    source: &dyn AuditSource,
    mut on_progress: impl FnMut(u64) + Send,
) -> Result<AuditReport, StoreError> {
    let mut report = AuditReport::default();
    let mut streams: HashMap<String, StreamState> = HashMap::new();
    let mut last_position = 0u64;
    // (recorded_at, position, stream, version) of the previous event in the log.
    let mut last_seen: Option<(chrono::DateTime<chrono::Utc>, u64, String, u64)> = None;
    let push = |report: &mut AuditReport, f: AuditFinding| {
        if report.findings.len() < MAX_FINDINGS {
            report.findings.push(f);
        }
    };
    loop {
        let batch = source.read_raw(last_position, 5_000).await?;
        if batch.is_empty() {
            break;
        }
        for e in batch {
            let finding = |kind, detail: String| AuditFinding {
                kind,
                position: e.global_position,
                stream_id: e.stream_id.clone(),
                stream_version: e.stream_version,
                detail,
            };
            if e.global_position != last_position + 1 {
                push(
                    &mut report,
                    finding(
                        FindingKind::Removed,
                        format!(
                            "positions {}..{} are missing before this event",
                            last_position + 1,
                            e.global_position - 1
                        ),
                    ),
                );
            }
            if let Some((prev, prev_position, prev_stream, prev_version)) = &last_seen
                && e.recorded_at < *prev
            {
                push(
                    &mut report,
                    finding(
                        FindingKind::Reordered,
                        format!(
                            "recorded_at {} is earlier than that of position {prev_position} \
                             ({prev_stream} version {prev_version}, {}): one of the two was moved",
                            format_timestamp(e.recorded_at),
                            format_timestamp(*prev)
                        ),
                    ),
                );
            }
            let (expected_version, expected_prev) = match streams.get(&e.stream_id) {
                Some(s) => (s.version + 1, s.hash.as_str()),
                None => (1, GENESIS_HASH),
            };
            if e.stream_version != expected_version {
                let kind = if e.stream_version < expected_version {
                    FindingKind::Reordered
                } else {
                    FindingKind::Removed
                };
                push(
                    &mut report,
                    finding(
                        kind,
                        format!(
                            "expected stream version {expected_version} next, found {}",
                            e.stream_version
                        ),
                    ),
                );
            } else if e.prev_hash != expected_prev {
                push(
                    &mut report,
                    finding(
                        FindingKind::Altered,
                        "prev_hash does not match the hash of the stream's previous event".into(),
                    ),
                );
            }
            let computed = e.computed_hash();
            if computed != e.hash {
                push(
                    &mut report,
                    finding(
                        FindingKind::Altered,
                        format!("content hashes to {computed}, stored hash is {}", e.hash),
                    ),
                );
            }
            streams.insert(
                e.stream_id.clone(),
                StreamState {
                    version: e.stream_version,
                    hash: e.hash.clone(),
                },
            );
            last_position = e.global_position;
            last_seen = Some((
                e.recorded_at,
                e.global_position,
                e.stream_id.clone(),
                e.stream_version,
            ));
            report.events_checked += 1;
        }
        on_progress(report.events_checked);
    }

    let head = source.log_head().await?;
    if head != last_position {
        push(
            &mut report,
            AuditFinding {
                kind: FindingKind::Removed,
                position: last_position + 1,
                stream_id: String::new(),
                stream_version: 0,
                detail: format!(
                    "the log head says {head} events, the last event found is at {last_position}"
                ),
            },
        );
    }
    for head in source.stream_heads().await? {
        let seen = streams.get(&head.stream_id);
        let ok = seen.is_some_and(|s| s.version == head.version && s.hash == head.last_hash);
        if !ok {
            let found = seen.map_or(0, |s| s.version);
            push(
                &mut report,
                AuditFinding {
                    kind: FindingKind::Removed,
                    position: 0,
                    stream_id: head.stream_id.clone(),
                    stream_version: head.version,
                    detail: format!(
                        "stream table says version {} (hash {}), the log ends at version {found}",
                        head.version, head.last_hash
                    ),
                },
            );
        }
    }
    report.streams_checked = streams.len() as u64;
    Ok(report)
}

/// Events as auditors may see them, as CloudEvents (see [`to_cloud_event`]) whose `data` follows
/// the field classes (docs/decisions/0007-field-classification.md): plain fields as stored,
/// personal fields opened, or `"[erased]"` once their subject was erased, secret fields
/// `"[secret]"`. Every export path (`/audit/*`, `tessera events export`) goes through here.
///
/// `hash` and `prevhash` cover the data as stored (sealed), not as shown: re-hashing an export
/// does not reproduce them; `tessera audit verify` checks the stored rows.
///
/// Errors: the key table cannot be read, or a sealed field does not open (altered).
pub async fn to_cloud_events(
    privacy: &crate::Privacy,
    events: &[StoredEvent],
) -> Result<Vec<serde_json::Value>, StoreError> {
    let shown = privacy.export_data(events).await?;
    Ok(events
        .iter()
        .zip(shown)
        .map(|(e, data)| {
            let mut ce = to_cloud_event(e);
            ce["data"] = data;
            ce
        })
        .collect())
}

/// One event as a CloudEvents 1.0 structured-mode JSON object, with `data` exactly as stored
/// (sealed fields as envelopes, secret fields of old events in clear): for internal use; exports
/// use [`to_cloud_events`].
///
/// `id` = event id, `source` = `/tessera/{category}`, `type` = stored event type, `subject` = stream
/// id, `time` = recorded_at, `data` = stored data; extensions: `position`, `streamversion`,
/// `schemaversion`, `hash`, `prevhash`, and the metadata as `metadata` (an object).
pub fn to_cloud_event(e: &StoredEvent) -> serde_json::Value {
    let category = e
        .stream_id
        .split_once('-')
        .map_or(e.stream_id.as_str(), |(c, _)| c);
    serde_json::json!({
        "specversion": "1.0",
        "id": e.event_id,
        "source": format!("/tessera/{category}"),
        "type": e.event_type,
        "subject": e.stream_id,
        "time": format_timestamp(e.recorded_at),
        "datacontenttype": "application/json",
        "data": e.data,
        "position": e.global_position,
        "streamversion": e.stream_version,
        "schemaversion": e.schema_version,
        "hash": e.hash,
        "prevhash": e.prev_hash,
        "metadata": e.metadata,
    })
}
