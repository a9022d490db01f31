//! The event store on KurrentDB (docs/decisions/0037-kurrentdb-event-store.md), through the
//! `kurrentdb` client crate (imported under the name `eventstore`).
//!
//! KurrentDB keeps the events; PostgreSQL (the read-model database) keeps a position index, the
//! deadlines and the write lock:
//! - **Positions.** KurrentDB's `$all` positions (commit, prepare) grow by byte offsets. The
//!   indexer walks `$all` in order and gives each Tessera event the next global position (1, 2,
//!   3…) in `kdb_index`, in the same PostgreSQL transaction that stores the deadlines the event
//!   carries in its metadata. `read_all(after)` reads the index, then the events from `$all`.
//! - **Writes.** An append holds one PostgreSQL advisory lock (`pg_advisory_xact_lock`) for the
//!   whole commit, across processes: it indexes whatever is not indexed yet (a crashed writer's
//!   events), checks idempotency and expected versions against the index, chains the hashes from
//!   the index, appends to KurrentDB with the exact expected revision (a second guard), indexes
//!   its own events and commits. So positions are contiguous and in commit order, `recorded_at`
//!   never decreases, and the append returns its positions (read-your-writes).
//! - **Multi-stream commits.** On a server with KurrentDB's v2 multi-stream append (25.1+,
//!   [`multi`]), a commit over several streams is one `AppendSession`: every stream or none. On a
//!   cluster that session goes to the leader, found through gossip and followed when it changes.
//!   Otherwise (older servers, some content) it is one v1 append per stream under the same lock,
//!   as the decision record explains.
//! - **Crashes.** A crash after the KurrentDB append but before the index commit leaves events
//!   in KurrentDB without positions or deadlines; the next append (or the next start) indexes
//!   them from `$all`, deadlines included, exactly once (the index head is the checkpoint).
//!
//! Must not know HTTP or the projections.

mod multi;

use crate::audit::AuditSource;
use crate::hashing::{format_timestamp, parse_timestamp, truncate_to_micros};
use crate::notify::AppendNotifier;
use crate::postgres::PostgresEventStore;
use crate::stored::{
    Head, StoredEvent, StreamHead, check_versions, non_negative, plan, unavailable,
};
use crate::{Database, InfraError, Stores};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use eventstore::{
    AppendToStreamOptions, Client, ClientSettings, CurrentRevision, EventData, Position,
    ReadAllOptions, ReadStreamOptions, StreamPosition, StreamState,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tessera_application::event_store::{deduplicate, validate_requests};
use tessera_application::{
    AppendOutcome, AppendRequest, EventStore, NewEvent, RecordedEvent, StoreError, StreamId,
};
use uuid::Uuid;

/// Key of the PostgreSQL advisory lock every KurrentDB append holds ("tesskdb\0").
const WRITE_LOCK: i64 = 0x7465_7373_6b64_6200;
/// Events read from `$all` per request while indexing.
const INDEX_BATCH: usize = 500;

/// Where the KurrentDB event store is.
#[derive(Debug, Clone)]
pub struct KurrentDbSettings {
    /// Connection string in the client's syntax: `kurrentdb://host:2113?tls=false`, `esdb://…`,
    /// `kurrentdb+discover://…` (a cluster found through DNS / gossip).
    pub url: String,
    /// Prefix of every stream name in KurrentDB (empty by default). Lets several Tessera databases
    /// (or test runs) share one KurrentDB: the indexer ignores streams without it.
    pub stream_prefix: String,
}

impl KurrentDbSettings {
    /// Settings for `url` without a stream prefix.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            stream_prefix: String::new(),
        }
    }

    /// Whether `url` names a KurrentDB / EventStoreDB server (`kurrentdb://`, `esdb://`, `+discover`).
    pub fn is_kurrentdb_url(url: &str) -> bool {
        url.split_once("://").is_some_and(|(scheme, _)| {
            let base = scheme.strip_suffix("+discover").unwrap_or(scheme);
            matches!(base, "kurrentdb" | "kurrent" | "kdb" | "esdb")
        })
    }
}

/// Tessera's envelope in a KurrentDB event's custom metadata (JSON); the event's data is the
/// event's `data` object and its type KurrentDB's event type.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    /// Always `"tessera"`: events without it are not Tessera's and are not indexed.
    format: String,
    schema_version: u32,
    /// `recorded_at`, as the hash covers it (six fractional digits, `Z`).
    recorded_at: String,
    prev_hash: String,
    hash: String,
    metadata: Value,
    /// The append's deadlines, carried by the first event of each stream's batch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    deadlines: Vec<CarriedDeadline>,
}

const FORMAT: &str = "tessera";

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CarriedDeadline {
    deadline_id: Uuid,
    kind: String,
    due_at: DateTime<Utc>,
    payload: Value,
}

/// The KurrentDB [`EventStore`] and [`AuditSource`] (deadlines are PostgreSQL's, see [`open`]).
pub struct KurrentDbEventStore {
    client: Client,
    /// The v2 multi-stream append over a channel of our own to the server, or to the cluster's
    /// leader (whether the server has it is asked at connect); `None` only when that channel
    /// cannot be set up from the connection string (an unreadable certificate file, say).
    multi: Option<multi::MultiStream>,
    pool: PgPool,
    prefix: String,
    notifier: AppendNotifier,
    /// Appends of this process queue here before taking a pool connection for the lock.
    local: tokio::sync::Mutex<()>,
}

/// Open the KurrentDB event store with its index, deadlines and keys in the migrated PostgreSQL
/// `pool`, and index whatever `$all` holds beyond the index (after a crash, or a first start).
///
/// Errors: [`InfraError::Store`] with [`StoreError::Unavailable`] when the URL does not parse or
/// KurrentDB or PostgreSQL cannot be reached.
pub async fn open(pool: PgPool, settings: &KurrentDbSettings) -> Result<Stores, InfraError> {
    let store = Arc::new(KurrentDbEventStore::connect(pool.clone(), settings).await?);
    let deadlines = Arc::new(PostgresEventStore::new(pool).await?);
    Ok(Stores {
        events: store.clone(),
        deadlines,
        audit: store,
    })
}

/// [`open`] over an opened database: refuses SQLite ([`InfraError::KurrentDbNeedsPostgres`]) and
/// URLs that are not KurrentDB's ([`InfraError::UnsupportedEventStoreUrl`]).
pub async fn open_on(
    database: &Database,
    settings: &KurrentDbSettings,
) -> Result<Stores, InfraError> {
    if !KurrentDbSettings::is_kurrentdb_url(&settings.url) {
        return Err(InfraError::UnsupportedEventStoreUrl(settings.url.clone()));
    }
    match database {
        Database::Postgres(pool) => open(pool.clone(), settings).await,
        Database::Sqlite(_) => Err(InfraError::KurrentDbNeedsPostgres(settings.url.clone())),
    }
}

impl KurrentDbEventStore {
    /// Connect to KurrentDB at `settings.url` and catch the index up with `$all`.
    ///
    /// Errors: [`StoreError::Unavailable`] (bad URL, unreachable server or database).
    pub async fn connect(pool: PgPool, settings: &KurrentDbSettings) -> Result<Self, StoreError> {
        let url = &settings.url;
        let parsed: ClientSettings = url.parse().map_err(|e| {
            StoreError::Unavailable(format!("KurrentDB connection string {url:?}: {e}"))
        })?;
        let multi = match multi::MultiStream::new(&parsed) {
            Ok(m) => Some(m),
            Err(why) => {
                tracing::info!(
                    reason = %why,
                    "KurrentDB: multi-stream commits use one append per stream"
                );
                None
            }
        };
        let client = Client::new(parsed)
            .map_err(|e| StoreError::Unavailable(format!("KurrentDB client: {e}")))?;
        if let Some(m) = &multi {
            m.probe().await;
        }
        let store = Self {
            client,
            multi,
            pool,
            prefix: settings.stream_prefix.clone(),
            notifier: AppendNotifier::new(0),
            local: tokio::sync::Mutex::new(()),
        };
        let mut tx = store.pool.begin().await.map_err(unavailable)?;
        lock(&mut tx).await?;
        let head = store.index_new(&mut tx).await?;
        tx.commit().await.map_err(unavailable)?;
        store.notifier.committed(head);
        Ok(store)
    }

    fn kurrent_name(&self, stream: &str) -> String {
        format!("{}{stream}", self.prefix)
    }

    /// Walk `$all` past the index head and index every Tessera event found, storing the deadlines
    /// it carries. Runs inside the caller's transaction, which holds the write lock. Returns the
    /// new head position.
    async fn index_new(&self, tx: &mut PgConnection) -> Result<u64, StoreError> {
        let (mut position, mut commit, mut prepare): (i64, i64, i64) = sqlx::query_as(
            "SELECT position, commit_position, prepare_position FROM kdb_index_head WHERE id = 1",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(unavailable)?;
        let start = position;
        let mut last_at: Option<DateTime<Utc>> = None;
        loop {
            let from = if commit < 0 {
                StreamPosition::Start
            } else {
                StreamPosition::Position(Position {
                    commit: commit as u64,
                    prepare: prepare as u64,
                })
            };
            let options = ReadAllOptions::default()
                .position(from)
                .forwards()
                .max_count(INDEX_BATCH);
            let mut read = self.client.read_all(&options).await.map_err(kurrent)?;
            let mut seen = 0;
            while let Some(resolved) = read.next().await.map_err(kurrent)? {
                seen += 1;
                let e = resolved.get_original_event();
                let p = (e.position.commit as i64, e.position.prepare as i64);
                if commit >= 0 && p <= (commit, prepare) {
                    continue;
                }
                (commit, prepare) = p;
                let Some(stream) = e.stream_id().strip_prefix(self.prefix.as_str()) else {
                    continue;
                };
                if stream.starts_with('$') {
                    continue;
                }
                let Ok(envelope) = serde_json::from_slice::<Envelope>(&e.custom_metadata) else {
                    continue;
                };
                if envelope.format != FORMAT {
                    continue;
                }
                let recorded_at = parse_timestamp(&envelope.recorded_at).ok_or_else(|| {
                    StoreError::Corrupt(format!("event {}: bad recordedAt", e.id))
                })?;
                position += 1;
                sqlx::query(
                    "INSERT INTO kdb_index (global_position, commit_position, prepare_position, \
                     stream_id, stream_version, event_id, hash, recorded_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(position)
                .bind(commit)
                .bind(prepare)
                .bind(stream)
                .bind(e.revision as i64 + 1)
                .bind(e.id)
                .bind(&envelope.hash)
                .bind(recorded_at)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
                for d in &envelope.deadlines {
                    sqlx::query(
                        "INSERT INTO deadlines (deadline_id, stream_id, kind, payload, due_at, \
                         next_attempt_at) VALUES ($1, $2, $3, $4, $5, $5) \
                         ON CONFLICT (deadline_id) DO NOTHING",
                    )
                    .bind(d.deadline_id)
                    .bind(stream)
                    .bind(&d.kind)
                    .bind(&d.payload)
                    .bind(d.due_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                }
                last_at = Some(last_at.map_or(recorded_at, |l| l.max(recorded_at)));
            }
            if seen < INDEX_BATCH {
                break;
            }
        }
        sqlx::query(
            "UPDATE kdb_index_head SET position = $1, commit_position = $2, prepare_position = $3, \
             recorded_at = GREATEST(recorded_at, COALESCE($4, recorded_at)) WHERE id = 1",
        )
        .bind(position)
        .bind(commit)
        .bind(prepare)
        .bind(last_at)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        if position > start {
            tracing::debug!(from = start, to = position, "indexed KurrentDB events");
        }
        non_negative(position, "index head")
    }

    /// The commit under the write lock (see the module comment).
    async fn append_locked(
        &self,
        tx: &mut PgConnection,
        requests: &[AppendRequest],
    ) -> Result<Vec<AppendOutcome>, StoreError> {
        let head = self.index_new(tx).await?;
        let ids: Vec<Uuid> = requests
            .iter()
            .flat_map(|r| r.events.iter().map(|e| e.event_id))
            .collect();
        let found: Vec<(Uuid, String, i64, i64)> = sqlx::query_as(
            "SELECT event_id, stream_id, stream_version, global_position FROM kdb_index \
             WHERE event_id = ANY($1)",
        )
        .bind(ids.as_slice())
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        let found = found
            .into_iter()
            .map(|(id, stream, version, position)| {
                Ok((
                    id,
                    StreamId::parse(stream).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    non_negative(version, "version")?,
                    non_negative(position, "position")?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        if let Some(outcomes) = deduplicate(requests, &found)? {
            return Ok(outcomes);
        }
        let mut heads = Vec::with_capacity(requests.len());
        for r in requests {
            let row: Option<(i64, String)> = sqlx::query_as(
                "SELECT stream_version, hash FROM kdb_index WHERE stream_id = $1 \
                 ORDER BY stream_version DESC LIMIT 1",
            )
            .bind(r.stream_id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?;
            heads.push(match row {
                Some((version, last_hash)) => Head {
                    version: non_negative(version, "version")?,
                    last_hash,
                },
                None => Head::empty(),
            });
        }
        check_versions(requests, &heads)?;
        let last_at: DateTime<Utc> =
            sqlx::query_scalar("SELECT recorded_at FROM kdb_index_head WHERE id = 1")
                .fetch_one(&mut *tx)
                .await
                .map_err(unavailable)?;
        let recorded_at = truncate_to_micros(Utc::now()).max(last_at);
        let planned = plan(requests, &heads, head + 1, recorded_at)?;
        let stamp = format_timestamp(recorded_at);
        // Each request's events with their envelopes (the custom metadata), in stream order.
        let mut batches: Vec<Vec<(&NewEvent, Value)>> = Vec::with_capacity(requests.len());
        for request in requests {
            let mut batch = Vec::with_capacity(request.events.len());
            for (i, e) in planned
                .events
                .iter()
                .filter(|e| e.stream_id == request.stream_id.as_str())
                .enumerate()
            {
                let envelope = Envelope {
                    format: FORMAT.to_owned(),
                    schema_version: e.event.schema_version,
                    recorded_at: stamp.clone(),
                    prev_hash: e.prev_hash.clone(),
                    hash: e.hash.clone(),
                    metadata: serde_json::from_str(&e.metadata)
                        .map_err(|err| StoreError::InvalidRequest(format!("metadata: {err}")))?,
                    deadlines: if i == 0 {
                        request
                            .deadlines
                            .iter()
                            .map(|d| CarriedDeadline {
                                deadline_id: d.deadline_id,
                                kind: d.kind.clone(),
                                due_at: d.due_at,
                                payload: d.payload.clone(),
                            })
                            .collect()
                    } else {
                        Vec::new()
                    },
                };
                let envelope = serde_json::to_value(&envelope)
                    .map_err(|err| StoreError::InvalidRequest(format!("envelope: {err}")))?;
                batch.push((e.event, envelope));
            }
            batches.push(batch);
        }
        if !self.append_atomically(requests, &heads, &batches).await? {
            self.append_per_stream(requests, &heads, batches).await?;
        }
        self.index_new(tx).await?;
        // Positions as indexed (equal to the plan's unless something else wrote to KurrentDB).
        let rows: Vec<(Uuid, i64)> = sqlx::query_as(
            "SELECT event_id, global_position FROM kdb_index WHERE event_id = ANY($1)",
        )
        .bind(ids.as_slice())
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        let indexed: HashMap<Uuid, i64> = rows.into_iter().collect();
        let mut outcomes = planned.outcomes;
        for (request, outcome) in requests.iter().zip(outcomes.iter_mut()) {
            for (e, p) in request.events.iter().zip(outcome.positions.iter_mut()) {
                let got = indexed.get(&e.event_id).ok_or_else(|| {
                    StoreError::Unavailable(format!(
                        "event {} was appended to KurrentDB but is not in $all yet",
                        e.event_id
                    ))
                })?;
                *p = non_negative(*got, "position")?;
            }
        }
        Ok(outcomes)
    }

    /// Write a commit over two or more streams in one v2 `AppendSession` when the server has it
    /// and the content fits it ([`multi::suitable`]). `Ok(false)`: nothing was written, use
    /// [`Self::append_per_stream`]. Each stream's expected revision is the index's, as there.
    async fn append_atomically(
        &self,
        requests: &[AppendRequest],
        heads: &[Head],
        batches: &[Vec<(&NewEvent, Value)>],
    ) -> Result<bool, StoreError> {
        let Some(multi) = &self.multi else {
            return Ok(false);
        };
        if requests.len() < 2
            || !multi::suitable(
                requests.iter().map(|r| r.stream_id.as_str()),
                requests
                    .iter()
                    .flat_map(|r| r.events.iter().map(|e| e.event_type.as_str())),
                batches.iter().flatten().map(|(_, envelope)| envelope),
            )
            || !multi.available().await
        {
            return Ok(false);
        }
        let writes = requests
            .iter()
            .zip(heads)
            .zip(batches)
            .map(|((request, head), batch)| multi::StreamWrite {
                stream: self.kurrent_name(request.stream_id.as_str()),
                expected_revision: head.version.checked_sub(1),
                events: batch
                    .iter()
                    .map(|(e, envelope)| {
                        (
                            e.event_id,
                            e.event_type.clone(),
                            e.data.clone(),
                            envelope.clone(),
                        )
                    })
                    .collect(),
            })
            .collect();
        match multi.append(writes).await {
            Ok(()) => {
                tracing::debug!(streams = requests.len(), "KurrentDB multi-stream append");
                Ok(true)
            }
            Err(multi::MultiError::Unsupported) => Ok(false),
            Err(multi::MultiError::Conflict {
                stream,
                actual_revision,
            }) => {
                let request = requests
                    .iter()
                    .find(|r| self.kurrent_name(r.stream_id.as_str()) == stream)
                    .or_else(|| {
                        requests.iter().find(|r| {
                            self.kurrent_name(r.stream_id.as_str())
                                .eq_ignore_ascii_case(&stream)
                        })
                    })
                    .ok_or_else(|| {
                        StoreError::Unavailable(format!(
                            "KurrentDB reported a conflict on {stream:?}, not in this commit"
                        ))
                    })?;
                Err(StoreError::VersionConflict {
                    stream: request.stream_id.clone(),
                    expected: request.expected_version,
                    actual: u64::try_from(actual_revision).map_or(0, |r| r + 1),
                })
            }
            Err(multi::MultiError::Other(message)) => Err(StoreError::Unavailable(message)),
        }
    }

    /// Write a commit as one v1 append per stream, in request order (not atomic across streams:
    /// see the module comment).
    async fn append_per_stream(
        &self,
        requests: &[AppendRequest],
        heads: &[Head],
        batches: Vec<Vec<(&NewEvent, Value)>>,
    ) -> Result<(), StoreError> {
        for ((request, head), batch) in requests.iter().zip(heads).zip(batches) {
            let batch = batch
                .into_iter()
                .map(|(e, envelope)| {
                    EventData::json(&e.event_type, &e.data)
                        .and_then(|d| d.id(e.event_id).metadata_as_json(&envelope))
                        .map_err(|err| StoreError::InvalidRequest(format!("event data: {err}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            // The index's version, not the request's expectation: KurrentDB refuses the write if
            // anything else reached the stream, so the hash chain stays whole.
            let state = match head.version {
                0 => StreamState::NoStream,
                v => StreamState::StreamRevision(v - 1),
            };
            self.client
                .append_to_stream(
                    self.kurrent_name(request.stream_id.as_str()),
                    &AppendToStreamOptions::default().stream_state(state),
                    batch,
                )
                .await
                .map_err(|e| match e {
                    eventstore::Error::WrongExpectedVersion { current, .. } => {
                        StoreError::VersionConflict {
                            stream: request.stream_id.clone(),
                            expected: request.expected_version,
                            actual: match current {
                                CurrentRevision::Current(r) => r + 1,
                                CurrentRevision::NoStream => 0,
                            },
                        }
                    }
                    other => kurrent(other),
                })?;
        }
        Ok(())
    }

    /// Up to `max_count` indexed events after `after`, as stored.
    async fn read_indexed(
        &self,
        after: u64,
        max_count: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows: Vec<(i64, i64, i64, Uuid)> = sqlx::query_as(
            "SELECT global_position, commit_position, prepare_position, event_id FROM kdb_index \
             WHERE global_position > $1 ORDER BY global_position LIMIT $2",
        )
        .bind(to_i64(after))
        .bind(to_i64(max_count as u64))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        let Some(first) = rows.first() else {
            return Ok(Vec::new());
        };
        let wanted: HashMap<Uuid, u64> = rows
            .iter()
            .map(|(p, _, _, id)| Ok((*id, non_negative(*p, "position")?)))
            .collect::<Result<_, StoreError>>()?;
        let mut from = Position {
            commit: first.1 as u64,
            prepare: first.2 as u64,
        };
        let mut out = Vec::with_capacity(rows.len());
        'reads: loop {
            let options = ReadAllOptions::default()
                .position(StreamPosition::Position(from))
                .forwards()
                .max_count(rows.len() + 64);
            let mut read = self.client.read_all(&options).await.map_err(kurrent)?;
            let mut seen = 0;
            while let Some(resolved) = read.next().await.map_err(kurrent)? {
                seen += 1;
                let e = resolved.get_original_event();
                from = e.position;
                if let Some(position) = wanted.get(&e.id)
                    && out.len() < rows.len()
                    && out
                        .last()
                        .is_none_or(|l: &StoredEvent| l.global_position < *position)
                {
                    out.push(self.to_stored(e, *position)?);
                    if out.len() == rows.len() {
                        break 'reads;
                    }
                }
            }
            if seen <= 1 {
                break;
            }
        }
        if out.len() != rows.len() {
            return Err(StoreError::Corrupt(format!(
                "{} indexed events after position {after} are missing from KurrentDB's $all",
                rows.len() - out.len()
            )));
        }
        Ok(out)
    }

    /// Events of one stream from version `from_version` (at most `max_count`), as stored.
    async fn read_stream_stored(
        &self,
        stream_id: &str,
        from_version: u64,
        max_count: usize,
    ) -> Result<Option<Vec<StoredEvent>>, StoreError> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT stream_version, global_position FROM kdb_index WHERE stream_id = $1 \
             AND stream_version >= $2 ORDER BY stream_version LIMIT $3",
        )
        .bind(stream_id)
        .bind(to_i64(from_version))
        .bind(to_i64(max_count as u64))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        let Some(first) = rows.first() else {
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM kdb_index WHERE stream_id = $1)")
                    .bind(stream_id)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(unavailable)?;
            return Ok(exists.then(Vec::new));
        };
        let options = ReadStreamOptions::default()
            .position(StreamPosition::Position(
                non_negative(first.0, "version")? - 1,
            ))
            .forwards()
            .max_count(rows.len());
        let mut read = self
            .client
            .read_stream(self.kurrent_name(stream_id), &options)
            .await
            .map_err(kurrent)?;
        let mut out = Vec::with_capacity(rows.len());
        let mut rows = rows.iter();
        while let Some(resolved) = read.next().await.map_err(kurrent)? {
            let e = resolved.get_original_event();
            let Some((version, position)) = rows.next() else {
                break;
            };
            if e.revision as i64 + 1 != *version {
                return Err(StoreError::Corrupt(format!(
                    "{stream_id}: KurrentDB has revision {} where the index expects version {version}",
                    e.revision
                )));
            }
            out.push(self.to_stored(e, non_negative(*position, "position")?)?);
        }
        Ok(Some(out))
    }

    fn to_stored(
        &self,
        e: &eventstore::RecordedEvent,
        global_position: u64,
    ) -> Result<StoredEvent, StoreError> {
        let corrupt = |what: &str, err: String| {
            StoreError::Corrupt(format!("KurrentDB event {}: {what}: {err}", e.id))
        };
        let envelope: Envelope = serde_json::from_slice(&e.custom_metadata)
            .map_err(|err| corrupt("metadata", err.to_string()))?;
        let stream = e.stream_id();
        Ok(StoredEvent {
            global_position,
            stream_id: stream
                .strip_prefix(self.prefix.as_str())
                .unwrap_or(stream)
                .to_owned(),
            stream_version: e.revision + 1,
            event_id: e.id,
            event_type: e.event_type.clone(),
            schema_version: envelope.schema_version,
            data: serde_json::from_slice(&e.data)
                .map_err(|err| corrupt("data", err.to_string()))?,
            metadata: envelope.metadata,
            recorded_at: parse_timestamp(&envelope.recorded_at)
                .ok_or_else(|| corrupt("recordedAt", envelope.recorded_at.clone()))?,
            prev_hash: envelope.prev_hash,
            hash: envelope.hash,
        })
    }
}

async fn lock(tx: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(WRITE_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
    Ok(())
}

fn kurrent(e: eventstore::Error) -> StoreError {
    StoreError::Unavailable(format!("KurrentDB: {e}"))
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[async_trait]
impl EventStore for KurrentDbEventStore {
    #[tracing::instrument(skip_all, fields(streams = requests.len()))]
    async fn append_streams(
        &self,
        requests: Vec<AppendRequest>,
    ) -> Result<Vec<AppendOutcome>, StoreError> {
        validate_requests(&requests)?;
        let _queue = self.local.lock().await;
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        lock(&mut tx).await?;
        let result = self.append_locked(&mut tx, &requests).await;
        // Commit even after a refusal: whatever the indexer found stays indexed.
        tx.commit().await.map_err(unavailable)?;
        let outcomes = result?;
        if let Some(last) = outcomes.iter().map(AppendOutcome::last_position).max() {
            self.notifier.committed(last);
        }
        Ok(outcomes)
    }

    async fn read_stream(
        &self,
        stream_id: &StreamId,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.read_stream_stored(stream_id.as_str(), from_version, max_count)
            .await?
            .ok_or_else(|| StoreError::StreamNotFound(stream_id.clone()))?
            .into_iter()
            .map(StoredEvent::into_recorded)
            .collect()
    }

    async fn read_all(
        &self,
        after: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.read_indexed(after, max_count)
            .await?
            .into_iter()
            .map(StoredEvent::into_recorded)
            .collect()
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        let head: i64 = sqlx::query_scalar("SELECT position FROM kdb_index_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        non_negative(head, "head")
    }

    async fn stream_version(&self, stream_id: &StreamId) -> Result<u64, StoreError> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT MAX(stream_version) FROM kdb_index WHERE stream_id = $1")
                .bind(stream_id.as_str())
                .fetch_one(&self.pool)
                .await
                .map_err(unavailable)?;
        non_negative(v.unwrap_or(0), "version")
    }

    async fn wait_for_append(&self, after: u64, max_wait: Duration) -> Result<(), StoreError> {
        self.notifier.wait(after, max_wait).await;
        Ok(())
    }

    fn instance_id(&self) -> Option<Uuid> {
        Some(self.notifier.instance())
    }
}

#[async_trait]
impl AuditSource for KurrentDbEventStore {
    async fn read_raw(&self, after: u64, max_count: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.read_indexed(after, max_count).await
    }

    async fn read_raw_stream(&self, stream_id: &str) -> Result<Vec<StoredEvent>, StoreError> {
        Ok(self
            .read_stream_stored(stream_id, 0, usize::MAX / 2)
            .await?
            .unwrap_or_default())
    }

    async fn stream_heads(&self) -> Result<Vec<StreamHead>, StoreError> {
        let rows: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT DISTINCT ON (stream_id) stream_id, stream_version, hash FROM kdb_index \
             ORDER BY stream_id, stream_version DESC",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.into_iter()
            .map(|(stream_id, v, last_hash)| {
                Ok(StreamHead {
                    stream_id,
                    version: non_negative(v, "version")?,
                    last_hash,
                })
            })
            .collect()
    }

    async fn log_head(&self) -> Result<u64, StoreError> {
        self.head_position().await
    }
}
