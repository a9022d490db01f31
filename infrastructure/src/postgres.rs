//! The PostgreSQL event store (production).
//!
//! Ordering: a commit locks its stream rows (one or several, in sorted order so that commits over
//! overlapping streams cannot deadlock), checks idempotency and every expected version, then takes
//! its positions with `UPDATE event_log_head … RETURNING`. That row lock is held until commit, so
//! appends commit in position order and positions are contiguous: a reader that has seen position
//! `P` can never later find an event below `P` (the bug class of Marten #1629/#4953 and
//! disintegrate #240). Everything after taking the lock is one statement, so the lock is held for two
//! round trips plus the commit. docs/architecture.md weighs the cost.

use crate::audit::AuditSource;
use crate::hashing::{GENESIS_HASH, truncate_to_micros};
use crate::notify::AppendNotifier;
use crate::stored::{
    Head, StoredEvent, StreamHead, check_versions, non_negative, plan, stored_ids, unavailable,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row};
use std::time::Duration;
use tessera_application::event_store::{deduplicate, validate_requests};
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

/// Everything a commit writes after it holds the log head, in one statement: the events of every
/// stream, their deadlines, and the new stream heads.
const WRITE_BATCH: &str = "
WITH inserted AS (
    INSERT INTO events (global_position, stream_id, stream_version, event_id, event_type,
                        schema_version, data, metadata, recorded_at, prev_hash, hash)
    SELECT u.p, u.s, u.v, u.id, u.t, u.sv, u.d::jsonb, u.m::jsonb, $1, u.ph, u.h
    FROM UNNEST($2::bigint[], $3::text[], $4::bigint[], $5::uuid[], $6::text[], $7::int4[],
                $8::text[], $9::text[], $10::text[], $11::text[])
         AS u(p, s, v, id, t, sv, d, m, ph, h)
), scheduled AS (
    INSERT INTO deadlines (deadline_id, stream_id, kind, payload, due_at, next_attempt_at)
    SELECT d.id, d.s, d.kind, d.payload::jsonb, d.due, d.due
    FROM UNNEST($12::uuid[], $13::text[], $14::text[], $15::text[], $16::timestamptz[])
         AS d(id, s, kind, payload, due)
    ON CONFLICT (deadline_id) DO NOTHING
)
UPDATE streams SET version = n.v, last_hash = n.h
FROM UNNEST($17::text[], $18::bigint[], $19::text[]) AS n(s, v, h)
WHERE streams.stream_id = n.s";

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

    /// The notifier that wakes this store's live readers; `crate::pg_listen` feeds it with other
    /// processes' commits.
    pub fn notifier(&self) -> &AppendNotifier {
        &self.notifier
    }

    /// The whole commit inside the caller's transaction: lock every stream row (in sorted order,
    /// so two commits over overlapping streams never wait on each other in a cycle), check
    /// idempotency and every expected version, take the positions under the log head's lock, and
    /// write everything in one statement. Nothing is written unless the caller commits.
    async fn append_in_tx(
        &self,
        tx: &mut sqlx::Transaction<'static, Postgres>,
        requests: &[AppendRequest],
    ) -> Result<Vec<AppendOutcome>, AppendFailure> {
        // Lock (creating when new) the stream rows first: a concurrent retry of the same commit
        // then waits here and finds the first one's events below, instead of a version conflict.
        let mut order: Vec<usize> = (0..requests.len()).collect();
        order.sort_by(|&a, &b| requests[a].stream_id.cmp(&requests[b].stream_id));
        let mut heads = vec![Head::empty(); requests.len()];
        for i in order {
            let (version, last_hash): (i64, String) = sqlx::query_as(
                "INSERT INTO streams (stream_id, version, last_hash) VALUES ($1, 0, $2) \
                 ON CONFLICT (stream_id) DO UPDATE SET stream_id = EXCLUDED.stream_id \
                 RETURNING version, last_hash",
            )
            .bind(requests[i].stream_id.as_str())
            .bind(GENESIS_HASH)
            .fetch_one(&mut **tx)
            .await
            .map_err(unavailable)?;
            heads[i] = Head {
                version: non_negative(version, "version")?,
                last_hash,
            };
        }

        let ids: Vec<Uuid> = requests
            .iter()
            .flat_map(|r| &r.events)
            .map(|e| e.event_id)
            .collect();
        let found: Vec<(Uuid, String, i64, i64)> = sqlx::query_as(
            "SELECT event_id, stream_id, stream_version, global_position FROM events WHERE event_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&mut **tx)
        .await
        .map_err(unavailable)?;
        if let Some(outcomes) = deduplicate(requests, &stored_ids(found)?)? {
            return Ok(outcomes);
        }
        check_versions(requests, &heads)?;

        let n = ids.len();
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
        let plan = plan(
            requests,
            &heads,
            last + 1 - n as u64,
            truncate_to_micros(recorded_at),
        )?;

        let e = &plan.events;
        let d = &plan.deadlines;
        let st = &plan.streams;
        sqlx::query(WRITE_BATCH)
            .bind(truncate_to_micros(recorded_at))
            .bind(e.iter().map(|r| to_i64(r.position)).collect::<Vec<_>>())
            .bind(e.iter().map(|r| r.stream_id).collect::<Vec<_>>())
            .bind(
                e.iter()
                    .map(|r| to_i64(r.stream_version))
                    .collect::<Vec<_>>(),
            )
            .bind(e.iter().map(|r| r.event.event_id).collect::<Vec<_>>())
            .bind(
                e.iter()
                    .map(|r| r.event.event_type.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                e.iter()
                    .map(|r| i32::try_from(r.event.schema_version).unwrap_or(i32::MAX))
                    .collect::<Vec<_>>(),
            )
            .bind(e.iter().map(|r| r.data.as_str()).collect::<Vec<_>>())
            .bind(e.iter().map(|r| r.metadata.as_str()).collect::<Vec<_>>())
            .bind(e.iter().map(|r| r.prev_hash.as_str()).collect::<Vec<_>>())
            .bind(e.iter().map(|r| r.hash.as_str()).collect::<Vec<_>>())
            .bind(d.iter().map(|(_, d)| d.deadline_id).collect::<Vec<_>>())
            .bind(d.iter().map(|(s, _)| *s).collect::<Vec<_>>())
            .bind(d.iter().map(|(_, d)| d.kind.as_str()).collect::<Vec<_>>())
            .bind(
                d.iter()
                    .map(|(_, d)| d.payload.to_string())
                    .collect::<Vec<_>>(),
            )
            .bind(d.iter().map(|(_, d)| d.due_at).collect::<Vec<_>>())
            .bind(st.iter().map(|(s, _, _)| *s).collect::<Vec<_>>())
            .bind(st.iter().map(|(_, v, _)| to_i64(*v)).collect::<Vec<_>>())
            .bind(st.iter().map(|(_, _, h)| h.as_str()).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await
            .map_err(|e| {
                if is_event_id_violation(&e) {
                    AppendFailure::EventIdTaken
                } else {
                    AppendFailure::Store(unavailable(e))
                }
            })?;
        Ok(plan.outcomes)
    }

    /// After a unique violation on `event_id`: one of the ids was committed meanwhile, in another
    /// stream (a retry into the same stream waits on the stream lock and is deduplicated instead).
    async fn duplicate_error(&self, requests: &[AppendRequest]) -> StoreError {
        let ids: Vec<Uuid> = requests
            .iter()
            .flat_map(|r| &r.events)
            .map(|e| e.event_id)
            .collect();
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
    #[tracing::instrument(skip_all, fields(streams = requests.len()))]
    async fn append_streams(
        &self,
        requests: Vec<AppendRequest>,
    ) -> Result<Vec<AppendOutcome>, StoreError> {
        validate_requests(&requests)?;
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let outcomes = match self.append_in_tx(&mut tx, &requests).await {
            Ok(o) => o,
            Err(AppendFailure::EventIdTaken) => {
                drop(tx);
                return Err(self.duplicate_error(&requests).await);
            }
            Err(AppendFailure::Store(e)) => return Err(e),
        };
        if outcomes.iter().all(|o| !o.deduplicated) {
            tx.commit().await.map_err(unavailable)?;
            if let Some(last) = outcomes.iter().map(AppendOutcome::last_position).max() {
                self.notifier.committed(last);
            }
        }
        Ok(outcomes)
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
        // Claim what is returned (docs/decisions/0038-several-processes.md): rows another
        // process is claiming right now are skipped, not waited for, and a claim whose lease has
        // passed (its process died) is taken over.
        let lease = chrono::Duration::from_std(tessera_application::deadlines::CLAIM_LEASE)
            .unwrap_or(chrono::Duration::seconds(60));
        let mut rows = sqlx::query(
            "UPDATE deadlines SET claimed_by = $3, claimed_until = $4 WHERE deadline_id IN ( \
                 SELECT deadline_id FROM deadlines \
                 WHERE fired_at IS NULL AND next_attempt_at <= $1 \
                   AND (claimed_until IS NULL OR claimed_until < $1) \
                 ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
             RETURNING deadline_id, stream_id, kind, payload, due_at, attempts, next_attempt_at",
        )
        .bind(now)
        .bind(to_i64(limit as u64))
        .bind(self.notifier.instance().to_string())
        .bind(now + lease)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        // RETURNING has no order of its own: earliest first, as the trait promises.
        rows.sort_by_key(|r| r.try_get::<DateTime<Utc>, _>("next_attempt_at").ok());
        rows.iter().map(row_to_deadline).collect()
    }

    async fn mark_fired(
        &self,
        deadline_id: Uuid,
        fired_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE deadlines SET fired_at = $2, claimed_by = NULL, claimed_until = NULL \
             WHERE deadline_id = $1",
        )
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
            "UPDATE deadlines SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3, \
             claimed_by = NULL, claimed_until = NULL WHERE deadline_id = $1",
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
