//! The PostgreSQL event store (production).
//!
//! Ordering: an append locks its stream row, checks idempotency and the expected version, then takes
//! its positions with `UPDATE event_log_head … RETURNING`. That row lock is held until commit, so
//! appends commit in position order and positions are contiguous: a reader that has seen position
//! `P` can never later find an event below `P` (the bug class of Marten #1629/#4953 and
//! disintegrate #240). Everything after taking the lock is one statement, so the lock is held for two
//! round trips plus the commit. docs/architecture.md weighs the cost.

use crate::audit::AuditSource;
use crate::hashing::{GENESIS_HASH, HashInput, event_hash, truncate_to_micros};
use crate::notify::AppendNotifier;
use crate::stored::{
    Existing, StoredEvent, StreamHead, classify_existing, metadata_value, non_negative,
    unavailable, validate_append,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row};
use std::time::Duration;
use tessera_application::{
    AppendOutcome, AppendRequest, Deadline, DeadlineStore, EventStore, RecordedEvent, StoreError,
    StreamId,
};
use uuid::Uuid;

macro_rules! event_columns {
    () => {
        "global_position, stream_id, stream_version, event_id, event_type, schema_version, data, \
         metadata, recorded_at, prev_hash, hash"
    };
}

const READ_STREAM: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT $3"
);
const READ_ALL: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE global_position > $1 ORDER BY global_position LIMIT $2"
);

/// Everything an append writes after it holds the log head, in one statement.
const WRITE_BATCH: &str = "
WITH inserted AS (
    INSERT INTO events (global_position, stream_id, stream_version, event_id, event_type,
                        schema_version, data, metadata, recorded_at, prev_hash, hash)
    SELECT u.p, $1, u.v, u.id, u.t, u.sv, u.d::jsonb, u.m::jsonb, $2, u.ph, u.h
    FROM UNNEST($3::bigint[], $4::bigint[], $5::uuid[], $6::text[], $7::int4[], $8::text[],
                $9::text[], $10::text[], $11::text[]) AS u(p, v, id, t, sv, d, m, ph, h)
), scheduled AS (
    INSERT INTO deadlines (deadline_id, stream_id, kind, payload, due_at, next_attempt_at)
    SELECT d.id, $1, d.kind, d.payload::jsonb, d.due, d.due
    FROM UNNEST($12::uuid[], $13::text[], $14::text[], $15::timestamptz[]) AS d(id, kind, payload, due)
    ON CONFLICT (deadline_id) DO NOTHING
)
UPDATE streams SET version = $16, last_hash = $17 WHERE stream_id = $1";

/// Connect a pool to `url` (e.g. `postgres://postgres@127.0.0.1:5432/tessera`).
pub async fn connect_pool(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
}

/// Apply the event store's embedded migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    let mut migrator = sqlx::migrate!("./migrations/postgres");
    migrator.dangerous_set_table_name("_tessera_event_store_migrations");
    migrator.run(pool).await
}

/// The PostgreSQL [`EventStore`] and [`DeadlineStore`].
#[derive(Debug, Clone)]
pub struct PostgresEventStore {
    pool: PgPool,
    notifier: AppendNotifier,
}

impl PostgresEventStore {
    /// A store over a migrated pool.
    pub async fn new(pool: PgPool) -> Result<Self, StoreError> {
        let head: i64 = sqlx::query_scalar("SELECT position FROM event_log_head WHERE id = 1")
            .fetch_one(&pool)
            .await
            .map_err(unavailable)?;
        Ok(Self {
            notifier: AppendNotifier::new(non_negative(head, "head")?),
            pool,
        })
    }

    /// The migrated pool it appends and reads through, as given to [`PostgresEventStore::new`].
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn append_in_tx(
        &self,
        tx: &mut sqlx::Transaction<'static, Postgres>,
        request: &AppendRequest,
    ) -> Result<AppendOutcome, AppendFailure> {
        let stream = request.stream_id.as_str();
        // Lock (creating when new) the stream row first: a concurrent retry of the same batch then
        // waits here and finds the first one's events below, instead of a version conflict.
        let (version, mut prev_hash): (i64, String) = sqlx::query_as(
            "INSERT INTO streams (stream_id, version, last_hash) VALUES ($1, 0, $2) \
             ON CONFLICT (stream_id) DO UPDATE SET stream_id = EXCLUDED.stream_id \
             RETURNING version, last_hash",
        )
        .bind(stream)
        .bind(GENESIS_HASH)
        .fetch_one(&mut **tx)
        .await
        .map_err(unavailable)?;
        let version = non_negative(version, "version")?;

        let ids: Vec<Uuid> = request.events.iter().map(|e| e.event_id).collect();
        let found: Vec<(Uuid, String, i64, i64)> = sqlx::query_as(
            "SELECT event_id, stream_id, stream_version, global_position FROM events WHERE event_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&mut **tx)
        .await
        .map_err(unavailable)?;
        let found = found
            .into_iter()
            .map(|(id, s, v, p)| {
                Ok((
                    id,
                    s,
                    non_negative(v, "version")?,
                    non_negative(p, "position")?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        if let Existing::All(pairs) = classify_existing(request, &found)? {
            return Ok(AppendOutcome {
                stream_version: pairs.iter().map(|p| p.0).max().unwrap_or(0),
                positions: pairs.into_iter().map(|p| p.1).collect(),
                deduplicated: true,
            });
        }
        if !request.expected_version.accepts(version) {
            return Err(StoreError::VersionConflict {
                stream: request.stream_id.clone(),
                expected: request.expected_version,
                actual: version,
            }
            .into());
        }

        let n = request.events.len();
        let (last, recorded_at): (i64, DateTime<Utc>) = sqlx::query_as(
            "UPDATE event_log_head SET position = position + $1, \
             recorded_at = GREATEST(clock_timestamp(), recorded_at) WHERE id = 1 \
             RETURNING position, recorded_at",
        )
        .bind(n as i64)
        .fetch_one(&mut **tx)
        .await
        .map_err(unavailable)?;
        let last = non_negative(last, "head")?;
        let first = last + 1 - n as u64;
        let recorded_at = truncate_to_micros(recorded_at);

        let mut positions = Vec::with_capacity(n);
        let mut versions = Vec::with_capacity(n);
        let mut types = Vec::with_capacity(n);
        let mut schema_versions = Vec::with_capacity(n);
        let mut datas = Vec::with_capacity(n);
        let mut metas = Vec::with_capacity(n);
        let mut prevs = Vec::with_capacity(n);
        let mut hashes = Vec::with_capacity(n);
        for (i, e) in request.events.iter().enumerate() {
            let metadata = metadata_value(&e.metadata)?;
            let stream_version = version + i as u64 + 1;
            let hash = event_hash(&HashInput {
                prev_hash: &prev_hash,
                stream_id: stream,
                stream_version,
                event_id: e.event_id,
                event_type: &e.event_type,
                schema_version: e.schema_version,
                recorded_at,
                data: &e.data,
                metadata: &metadata,
            });
            positions.push((first + i as u64) as i64);
            versions.push(stream_version as i64);
            types.push(e.event_type.clone());
            schema_versions.push(i32::try_from(e.schema_version).unwrap_or(i32::MAX));
            datas.push(e.data.to_string());
            metas.push(metadata.to_string());
            prevs.push(std::mem::replace(&mut prev_hash, hash.clone()));
            hashes.push(hash);
        }
        let d = &request.deadlines;
        sqlx::query(WRITE_BATCH)
            .bind(stream)
            .bind(recorded_at)
            .bind(&positions)
            .bind(&versions)
            .bind(&ids)
            .bind(&types)
            .bind(&schema_versions)
            .bind(&datas)
            .bind(&metas)
            .bind(&prevs)
            .bind(&hashes)
            .bind(d.iter().map(|d| d.deadline_id).collect::<Vec<_>>())
            .bind(d.iter().map(|d| d.kind.clone()).collect::<Vec<_>>())
            .bind(d.iter().map(|d| d.payload.to_string()).collect::<Vec<_>>())
            .bind(d.iter().map(|d| d.due_at).collect::<Vec<_>>())
            .bind((version + n as u64) as i64)
            .bind(&prev_hash)
            .execute(&mut **tx)
            .await
            .map_err(|e| {
                if is_event_id_violation(&e) {
                    AppendFailure::EventIdTaken
                } else {
                    AppendFailure::Store(unavailable(e))
                }
            })?;
        Ok(AppendOutcome {
            stream_version: version + n as u64,
            positions: (first..=last).collect(),
            deduplicated: false,
        })
    }

    /// After a unique violation on `event_id`: one of the ids was committed meanwhile, in another
    /// stream (a retry into the same stream waits on the stream lock and is deduplicated instead).
    async fn duplicate_error(&self, request: &AppendRequest) -> StoreError {
        let ids: Vec<Uuid> = request.events.iter().map(|e| e.event_id).collect();
        let found: Result<Option<(Uuid, String)>, _> = sqlx::query_as(
            "SELECT event_id, stream_id FROM events WHERE event_id = ANY($1) LIMIT 1",
        )
        .bind(&ids)
        .fetch_optional(&self.pool)
        .await;
        match found {
            Ok(Some((event_id, stream))) => match StreamId::parse(stream) {
                Ok(stored_in) => StoreError::DuplicateEventId {
                    event_id,
                    stored_in,
                },
                Err(e) => StoreError::Corrupt(e.to_string()),
            },
            Ok(None) => StoreError::Unavailable("unique violation on event_id, then no row".into()),
            Err(e) => unavailable(e),
        }
    }

    async fn fetch_stored(
        &self,
        query: sqlx::query::Query<'_, Postgres, sqlx::postgres::PgArguments>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        query
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(row_to_stored)
            .collect()
    }
}

/// Why an append transaction stopped.
enum AppendFailure {
    /// An event id was committed meanwhile by another transaction (unique violation).
    EventIdTaken,
    /// Anything else.
    Store(StoreError),
}

impl From<StoreError> for AppendFailure {
    fn from(e: StoreError) -> Self {
        AppendFailure::Store(e)
    }
}

fn is_event_id_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.constraint() == Some("events_event_id_key"))
}

fn row_to_stored(row: &PgRow) -> Result<StoredEvent, StoreError> {
    let get = |e: sqlx::Error| StoreError::Corrupt(e.to_string());
    let position: i64 = row.try_get("global_position").map_err(get)?;
    let schema: i32 = row.try_get("schema_version").map_err(get)?;
    Ok(StoredEvent {
        global_position: non_negative(position, "position")?,
        stream_id: row.try_get("stream_id").map_err(get)?,
        stream_version: non_negative(row.try_get("stream_version").map_err(get)?, "version")?,
        event_id: row.try_get("event_id").map_err(get)?,
        event_type: row.try_get("event_type").map_err(get)?,
        schema_version: u32::try_from(schema)
            .map_err(|_| StoreError::Corrupt(format!("position {position}: bad schema_version")))?,
        data: row.try_get("data").map_err(get)?,
        metadata: row.try_get("metadata").map_err(get)?,
        recorded_at: row.try_get("recorded_at").map_err(get)?,
        prev_hash: row.try_get("prev_hash").map_err(get)?,
        hash: row.try_get("hash").map_err(get)?,
    })
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[async_trait]
impl EventStore for PostgresEventStore {
    #[tracing::instrument(skip_all, fields(stream = %request.stream_id, events = request.events.len()))]
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, StoreError> {
        validate_append(&request)?;
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let outcome = match self.append_in_tx(&mut tx, &request).await {
            Ok(o) => o,
            Err(AppendFailure::EventIdTaken) => {
                drop(tx);
                return Err(self.duplicate_error(&request).await);
            }
            Err(AppendFailure::Store(e)) => return Err(e),
        };
        if !outcome.deduplicated {
            tx.commit().await.map_err(unavailable)?;
            self.notifier.committed(outcome.last_position());
        }
        Ok(outcome)
    }

    async fn read_stream(
        &self,
        stream_id: &StreamId,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = self
            .fetch_stored(
                sqlx::query(READ_STREAM)
                    .bind(stream_id.as_str())
                    .bind(to_i64(from_version))
                    .bind(to_i64(max_count as u64)),
            )
            .await?;
        if rows.is_empty() && self.stream_version(stream_id).await? == 0 {
            return Err(StoreError::StreamNotFound(stream_id.clone()));
        }
        rows.into_iter().map(StoredEvent::into_recorded).collect()
    }

    async fn read_all(
        &self,
        after: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.read_raw(after, max_count)
            .await?
            .into_iter()
            .map(StoredEvent::into_recorded)
            .collect()
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        let head: i64 = sqlx::query_scalar("SELECT position FROM event_log_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        non_negative(head, "head")
    }

    async fn stream_version(&self, stream_id: &StreamId) -> Result<u64, StoreError> {
        let v: Option<i64> = sqlx::query_scalar("SELECT version FROM streams WHERE stream_id = $1")
            .bind(stream_id.as_str())
            .fetch_optional(&self.pool)
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
impl AuditSource for PostgresEventStore {
    async fn read_raw(&self, after: u64, max_count: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.fetch_stored(
            sqlx::query(READ_ALL)
                .bind(to_i64(after))
                .bind(to_i64(max_count as u64)),
        )
        .await
    }

    async fn read_raw_stream(&self, stream_id: &str) -> Result<Vec<StoredEvent>, StoreError> {
        self.fetch_stored(
            sqlx::query(READ_STREAM)
                .bind(stream_id)
                .bind(0_i64)
                .bind(i64::MAX),
        )
        .await
    }

    async fn stream_heads(&self) -> Result<Vec<StreamHead>, StoreError> {
        let rows: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT stream_id, version, last_hash FROM streams WHERE version > 0 ORDER BY stream_id",
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

fn row_to_deadline(row: &PgRow) -> Result<Deadline, StoreError> {
    let stream: String = row.try_get("stream_id").map_err(unavailable)?;
    let attempts: i32 = row.try_get("attempts").map_err(unavailable)?;
    Ok(Deadline {
        deadline_id: row.try_get("deadline_id").map_err(unavailable)?,
        stream_id: StreamId::parse(stream).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        kind: row.try_get("kind").map_err(unavailable)?,
        due_at: row.try_get("due_at").map_err(unavailable)?,
        payload: row.try_get("payload").map_err(unavailable)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
    })
}

#[async_trait]
impl DeadlineStore for PostgresEventStore {
    async fn due_deadlines(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Deadline>, StoreError> {
        sqlx::query(
            "SELECT deadline_id, stream_id, kind, payload, due_at, attempts FROM deadlines \
             WHERE fired_at IS NULL AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2",
        )
        .bind(now)
        .bind(to_i64(limit as u64))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?
        .iter()
        .map(row_to_deadline)
        .collect()
    }

    async fn mark_fired(
        &self,
        deadline_id: Uuid,
        fired_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE deadlines SET fired_at = $2 WHERE deadline_id = $1")
            .bind(deadline_id)
            .bind(fired_at)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn mark_failed(
        &self,
        deadline_id: Uuid,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE deadlines SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3 \
             WHERE deadline_id = $1",
        )
        .bind(deadline_id)
        .bind(error)
        .bind(retry_at)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn pending_count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deadlines WHERE fired_at IS NULL")
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        non_negative(n, "count")
    }
}
