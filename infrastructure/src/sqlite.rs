//! The SQLite event store: the embedded default (one file under ./data, WAL mode).
//!
//! All writes of the process go through one pooled connection and `BEGIN IMMEDIATE`, so appends are
//! serialised; positions are contiguous and in commit order. Appends that arrive together share one
//! such transaction and one commit (group commit, group_commit.rs), each answered on its own.
//! Readers use their own pool and never block the writer (WAL).

use crate::audit::AuditSource;
use crate::batcher::{Batcher, VERSION_READ_LIMITS, VersionReads, VersionSource};
use crate::group_commit::{
    CommitResult, GROUP_LIMITS, GroupCommit, GroupWriter, Groups, group_event_ids, group_streams,
    plan_group,
};
use crate::hashing::{format_timestamp, parse_timestamp, truncate_to_micros};
use crate::notify::AppendNotifier;
use crate::stored::{
    Head, StoredEvent, StreamHead, non_negative, stored_ids, stream_rows, unavailable,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;
use tessera_application::event_store::validate_requests;
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
/// [`READ_STREAM`] and the stream's existence in one round trip: the events, or one row of NULLs
/// when the stream exists but has none from `$2` on, or no row when it does not exist (a stream
/// row at version 0 is one a refused commit is about to remove: not there). Catch-ups of cached
/// states, which usually find nothing new, then cost one query instead of two.
const READ_STREAM_OR_NOTHING: &str = concat!(
    "SELECT e.* FROM streams s LEFT JOIN (SELECT ",
    event_columns!(),
    " FROM events WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT $3) e",
    " ON 1 = 1 WHERE s.stream_id = $1 AND s.version > 0 ORDER BY e.stream_version"
);
const READ_ALL: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events WHERE global_position > $1 ORDER BY global_position LIMIT $2"
);

/// Rows per multi-row INSERT (11 bound values each; SQLite allows 32,766 per statement).
const INSERT_CHUNK: usize = 500;

/// The two pools of one SQLite database file: a single writer and several readers.
#[derive(Debug, Clone)]
pub struct SqlitePools {
    /// One connection: every write of the process queues here instead of spinning on SQLITE_BUSY.
    pub writer: SqlitePool,
    /// Up to 4 read-only connections, for every read.
    pub reader: SqlitePool,
}

impl SqlitePools {
    /// Open (creating the file and its folder when missing) the database at `url`, e.g.
    /// `sqlite://data/tessera.db`.
    pub async fn open(url: &str) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // An acknowledged append survives a power cut, not only a process crash.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        if let Some(parent) = options.get_filename().parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(sqlx::Error::Io)?;
        }
        let writer = crate::pool::pool_options::<Sqlite>()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        let reader = crate::pool::pool_options::<Sqlite>()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self { writer, reader })
    }

    /// Apply the event store's embedded migrations.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        let mut migrator = sqlx::migrate!("./migrations/sqlite");
        migrator.dangerous_set_table_name("_tessera_event_store_migrations");
        migrator.run(&self.writer).await
    }
}

/// The SQLite [`EventStore`] and [`DeadlineStore`].
#[derive(Debug, Clone)]
pub struct SqliteEventStore {
    pools: SqlitePools,
    notifier: AppendNotifier,
    group: GroupCommit<SqliteWriter>,
    versions: Batcher<VersionReads<SqliteVersions>>,
}

/// The reader pool's `streams` lookup behind [`EventStore::stream_versions`], whose concurrent
/// calls share one query (decision 0040).
#[derive(Debug)]
struct SqliteVersions {
    reader: SqlitePool,
}

#[async_trait]
impl VersionSource for SqliteVersions {
    async fn fetch_versions(&self, ids: &[&str]) -> Result<Vec<(String, i64)>, StoreError> {
        let list = serde_json::to_string(ids)
            .map_err(|e| StoreError::InvalidRequest(format!("stream ids: {e}")))?;
        sqlx::query_as(
            "SELECT stream_id, version FROM streams \
             WHERE stream_id IN (SELECT value FROM json_each($1))",
        )
        .bind(list)
        .fetch_all(&self.reader)
        .await
        .map_err(unavailable)
    }
}

impl SqliteEventStore {
    /// A store over migrated pools.
    pub async fn new(pools: SqlitePools) -> Result<Self, StoreError> {
        let head: i64 = sqlx::query_scalar("SELECT position FROM event_log_head WHERE id = 1")
            .fetch_one(&pools.reader)
            .await
            .map_err(unavailable)?;
        let notifier = AppendNotifier::new(non_negative(head, "head")?);
        let group = GroupCommit::new(
            Groups(SqliteWriter {
                pools: pools.clone(),
                notifier: notifier.clone(),
            }),
            // One writer connection: one group at a time.
            GROUP_LIMITS,
        );
        let versions = Batcher::new(
            VersionReads(SqliteVersions {
                reader: pools.reader.clone(),
            }),
            VERSION_READ_LIMITS,
        );
        Ok(Self {
            notifier,
            pools,
            group,
            versions,
        })
    }

    /// The pools (the projections share the writer so that SQLite sees one writer per process).
    pub fn pools(&self) -> &SqlitePools {
        &self.pools
    }
}

fn row_to_stored(row: &SqliteRow) -> Result<StoredEvent, StoreError> {
    let get = |e: sqlx::Error| StoreError::Corrupt(e.to_string());
    let position: i64 = row.try_get("global_position").map_err(get)?;
    let event_id: String = row.try_get("event_id").map_err(get)?;
    let data: String = row.try_get("data").map_err(get)?;
    let metadata: String = row.try_get("metadata").map_err(get)?;
    let recorded_at: String = row.try_get("recorded_at").map_err(get)?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("position {position}: bad {what}"));
    Ok(StoredEvent {
        global_position: non_negative(position, "position")?,
        stream_id: row.try_get("stream_id").map_err(get)?,
        stream_version: non_negative(row.try_get("stream_version").map_err(get)?, "version")?,
        event_id: Uuid::parse_str(&event_id).map_err(|_| corrupt("event_id"))?,
        event_type: row.try_get("event_type").map_err(get)?,
        schema_version: u32::try_from(row.try_get::<i64, _>("schema_version").map_err(get)?)
            .map_err(|_| corrupt("schema_version"))?,
        data: serde_json::from_str(&data).map_err(|_| corrupt("data"))?,
        metadata: serde_json::from_str(&metadata).map_err(|_| corrupt("metadata"))?,
        recorded_at: parse_timestamp(&recorded_at).ok_or_else(|| corrupt("recorded_at"))?,
        prev_hash: row.try_get("prev_hash").map_err(get)?,
        hash: row.try_get("hash").map_err(get)?,
    })
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Event ids per idempotency lookup (one bound value each).
const LOOKUP_CHUNK: usize = 5_000;

/// The writer side of a SQLite store, driven by its group-commit queue: every group is one
/// `BEGIN IMMEDIATE` transaction on the single writer connection, one commit, one fsync.
#[derive(Debug, Clone)]
struct SqliteWriter {
    pools: SqlitePools,
    notifier: AppendNotifier,
}

#[async_trait]
impl GroupWriter for SqliteWriter {
    async fn write_group(&self, commits: &[Vec<AppendRequest>]) -> Vec<CommitResult> {
        match self.commit_group(commits).await {
            Ok(results) => results,
            Err(e) => commits.iter().map(|_| Err(e.clone())).collect(),
        }
    }
}

impl SqliteWriter {
    /// One transaction for the whole group; readers are woken once, after its commit. A group in
    /// which nothing is written (all deduplicated or refused) is rolled back.
    async fn commit_group(
        &self,
        commits: &[Vec<AppendRequest>],
    ) -> Result<Vec<CommitResult>, StoreError> {
        let mut tx = self
            .pools
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(unavailable)?;
        let (results, last) = self.append_in_tx(&mut tx, commits).await?;
        if let Some(last) = last {
            tx.commit().await.map_err(unavailable)?;
            self.notifier.committed(last);
        }
        Ok(results)
    }

    /// The whole group inside the caller's `BEGIN IMMEDIATE` transaction: idempotency, expected
    /// versions (both decided per commit by [`plan_group`]), then every row of the accepted
    /// commits. Returns each commit's answer and the last position written (None: nothing).
    async fn append_in_tx(
        &self,
        tx: &mut sqlx::Transaction<'static, Sqlite>,
        commits: &[Vec<AppendRequest>],
    ) -> Result<(Vec<CommitResult>, Option<u64>), StoreError> {
        let ids: Vec<String> = group_event_ids(commits)
            .iter()
            .map(Uuid::to_string)
            .collect();
        let mut found = Vec::new();
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "SELECT event_id, stream_id, stream_version, global_position FROM events WHERE event_id IN (",
            );
            let mut sep = qb.separated(", ");
            for id in chunk {
                sep.push_bind(id);
            }
            sep.push_unseparated(")");
            for row in qb.build().fetch_all(&mut **tx).await.map_err(unavailable)? {
                let id: String = row.try_get(0).map_err(unavailable)?;
                found.push((
                    Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    row.try_get::<String, _>(1).map_err(unavailable)?,
                    row.try_get::<i64, _>(2).map_err(unavailable)?,
                    row.try_get::<i64, _>(3).map_err(unavailable)?,
                ));
            }
        }
        let found = stored_ids(found)?;

        let mut heads = HashMap::new();
        for chunk in group_streams(commits).chunks(LOOKUP_CHUNK) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "SELECT stream_id, version, last_hash FROM streams WHERE stream_id IN (",
            );
            let mut sep = qb.separated(", ");
            for stream in chunk {
                sep.push_bind(*stream);
            }
            sep.push_unseparated(")");
            for row in qb.build().fetch_all(&mut **tx).await.map_err(unavailable)? {
                let stream: String = row.try_get(0).map_err(unavailable)?;
                let version: i64 = row.try_get(1).map_err(unavailable)?;
                heads.insert(
                    stream,
                    Head {
                        version: non_negative(version, "version")?,
                        last_hash: row.try_get(2).map_err(unavailable)?,
                    },
                );
            }
        }

        let (head, head_time): (i64, String) =
            sqlx::query_as("SELECT position, recorded_at FROM event_log_head WHERE id = 1")
                .fetch_one(&mut **tx)
                .await
                .map_err(unavailable)?;
        let head = non_negative(head, "head")?;
        let now = truncate_to_micros(Utc::now());
        let recorded_at = match parse_timestamp(&head_time) {
            Some(last) if last > now => last,
            _ => now,
        };
        let recorded_text = format_timestamp(recorded_at);
        let plan = plan_group(commits, &found, &heads, head + 1, recorded_at);
        let Some(last_position) = plan.last_position() else {
            return Ok((plan.results, None));
        };

        for chunk in plan.events.chunks(INSERT_CHUNK) {
            let mut qb: QueryBuilder<Sqlite> =
                QueryBuilder::new(concat!("INSERT INTO events (", event_columns!(), ") "));
            qb.push_values(chunk, |mut b, r| {
                b.push_bind(to_i64(r.position))
                    .push_bind(r.stream_id)
                    .push_bind(to_i64(r.stream_version))
                    .push_bind(r.event.event_id.to_string())
                    .push_bind(&r.event.event_type)
                    .push_bind(i64::from(r.event.schema_version))
                    .push_bind(&r.data)
                    .push_bind(&r.metadata)
                    .push_bind(&recorded_text)
                    .push_bind(&r.prev_hash)
                    .push_bind(&r.hash);
            });
            qb.build().execute(&mut **tx).await.map_err(unavailable)?;
        }
        for chunk in plan.streams.chunks(INSERT_CHUNK) {
            let mut qb: QueryBuilder<Sqlite> =
                QueryBuilder::new("INSERT INTO streams (stream_id, version, last_hash) ");
            qb.push_values(chunk, |mut b, (stream, version, last_hash)| {
                b.push_bind(*stream)
                    .push_bind(to_i64(*version))
                    .push_bind(last_hash);
            });
            qb.push(
                " ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, \
                 last_hash = excluded.last_hash",
            );
            qb.build().execute(&mut **tx).await.map_err(unavailable)?;
        }
        sqlx::query("UPDATE event_log_head SET position = $1, recorded_at = $2 WHERE id = 1")
            .bind(to_i64(last_position))
            .bind(&recorded_text)
            .execute(&mut **tx)
            .await
            .map_err(unavailable)?;
        for chunk in plan.deadlines.chunks(INSERT_CHUNK) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO deadlines (deadline_id, stream_id, kind, payload, due_at, next_attempt_at) ",
            );
            qb.push_values(chunk, |mut b, (stream, d)| {
                let due = format_timestamp(d.due_at);
                b.push_bind(d.deadline_id.to_string())
                    .push_bind(*stream)
                    .push_bind(&d.kind)
                    .push_bind(d.payload.to_string())
                    .push_bind(due.clone())
                    .push_bind(due);
            });
            qb.push(" ON CONFLICT (deadline_id) DO NOTHING");
            qb.build().execute(&mut **tx).await.map_err(unavailable)?;
        }
        Ok((plan.results, Some(last_position)))
    }
}

impl SqliteEventStore {
    async fn fetch_stored(
        &self,
        sql: &'static str,
        binds: (Option<&str>, i64, i64),
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut q = sqlx::query(sql);
        if let Some(s) = binds.0 {
            q = q.bind(s);
        }
        q.bind(binds.1)
            .bind(binds.2)
            .fetch_all(&self.pools.reader)
            .await
            .map_err(unavailable)?
            .iter()
            .map(row_to_stored)
            .collect()
    }
}

#[async_trait]
impl EventStore for SqliteEventStore {
    #[tracing::instrument(skip_all, fields(streams = requests.len()))]
    async fn append_streams(
        &self,
        requests: Vec<AppendRequest>,
    ) -> Result<Vec<AppendOutcome>, StoreError> {
        validate_requests(&requests)?;
        // Queued with the appends arriving meanwhile; committed together (group_commit.rs).
        self.group.submit(requests).await
    }

    async fn read_stream(
        &self,
        stream_id: &StreamId,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(READ_STREAM_OR_NOTHING)
            .bind(stream_id.as_str())
            .bind(to_i64(from_version))
            .bind(to_i64(max_count as u64))
            .fetch_all(&self.pools.reader)
            .await
            .map_err(unavailable)?;
        stream_rows(stream_id, &rows)?
            .map(|row| row_to_stored(row).and_then(StoredEvent::into_recorded))
            .collect()
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
            .fetch_one(&self.pools.reader)
            .await
            .map_err(unavailable)?;
        non_negative(head, "head")
    }

    async fn stream_version(&self, stream_id: &StreamId) -> Result<u64, StoreError> {
        let v: Option<i64> = sqlx::query_scalar("SELECT version FROM streams WHERE stream_id = $1")
            .bind(stream_id.as_str())
            .fetch_optional(&self.pools.reader)
            .await
            .map_err(unavailable)?;
        non_negative(v.unwrap_or(0), "version")
    }

    async fn stream_versions(&self, stream_ids: &[&StreamId]) -> Result<Vec<u64>, StoreError> {
        let ids = stream_ids.iter().map(|s| s.as_str().to_owned()).collect();
        self.versions.submit(ids).await
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
impl AuditSource for SqliteEventStore {
    async fn read_raw(&self, after: u64, max_count: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.fetch_stored(READ_ALL, (None, to_i64(after), to_i64(max_count as u64)))
            .await
    }

    async fn read_raw_stream(&self, stream_id: &str) -> Result<Vec<StoredEvent>, StoreError> {
        self.fetch_stored(READ_STREAM, (Some(stream_id), 0, i64::MAX))
            .await
    }

    async fn stream_heads(&self) -> Result<Vec<StreamHead>, StoreError> {
        let rows: Vec<(String, i64, String)> =
            sqlx::query_as("SELECT stream_id, version, last_hash FROM streams ORDER BY stream_id")
                .fetch_all(&self.pools.reader)
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

fn row_to_deadline(row: &SqliteRow) -> Result<Deadline, StoreError> {
    let bad = |what: &str| StoreError::Corrupt(format!("deadline: bad {what}"));
    let id: String = row.try_get("deadline_id").map_err(unavailable)?;
    let stream: String = row.try_get("stream_id").map_err(unavailable)?;
    let payload: String = row.try_get("payload").map_err(unavailable)?;
    let due: String = row.try_get("due_at").map_err(unavailable)?;
    let attempts: i64 = row.try_get("attempts").map_err(unavailable)?;
    Ok(Deadline {
        deadline_id: Uuid::parse_str(&id).map_err(|_| bad("id"))?,
        stream_id: StreamId::parse(stream).map_err(|_| bad("stream"))?,
        kind: row.try_get("kind").map_err(unavailable)?,
        due_at: parse_timestamp(&due).ok_or_else(|| bad("due_at"))?,
        payload: serde_json::from_str(&payload).map_err(|_| bad("payload"))?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
    })
}

#[async_trait]
impl DeadlineStore for SqliteEventStore {
    async fn due_deadlines(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Deadline>, StoreError> {
        // Claimed like on PostgreSQL (docs/decisions/0038-several-processes.md); the single
        // writer makes the claim atomic without row locks.
        let lease = chrono::Duration::from_std(tessera_application::deadlines::CLAIM_LEASE)
            .unwrap_or(chrono::Duration::seconds(60));
        let mut rows = sqlx::query(
            "UPDATE deadlines SET claimed_by = $3, claimed_until = $4 WHERE deadline_id IN ( \
                 SELECT deadline_id FROM deadlines \
                 WHERE fired_at IS NULL AND next_attempt_at <= $1 \
                   AND (claimed_until IS NULL OR claimed_until < $1) \
                 ORDER BY next_attempt_at LIMIT $2) \
             RETURNING deadline_id, stream_id, kind, payload, due_at, attempts, next_attempt_at",
        )
        .bind(format_timestamp(now))
        .bind(to_i64(limit as u64))
        .bind(self.notifier.instance().to_string())
        .bind(format_timestamp(now + lease))
        .fetch_all(&self.pools.writer)
        .await
        .map_err(unavailable)?;
        // RETURNING has no order of its own; the stored format sorts as text.
        rows.sort_by_key(|r| r.try_get::<String, _>("next_attempt_at").ok());
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
        .bind(deadline_id.to_string())
        .bind(format_timestamp(fired_at))
        .execute(&self.pools.writer)
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
        .bind(deadline_id.to_string())
        .bind(error)
        .bind(format_timestamp(retry_at))
        .execute(&self.pools.writer)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn pending_count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deadlines WHERE fired_at IS NULL")
            .fetch_one(&self.pools.reader)
            .await
            .map_err(unavailable)?;
        non_negative(n, "count")
    }

    async fn overdue(
        &self,
        now: DateTime<Utc>,
    ) -> Result<tessera_application::deadlines::OverdueDeadlines, StoreError> {
        // RFC 3339 text with a fixed format (microseconds, `Z`) sorts as time does.
        let (n, oldest): (i64, Option<String>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(due_at) FROM deadlines WHERE fired_at IS NULL AND due_at <= $1",
        )
        .bind(format_timestamp(now))
        .fetch_one(&self.pools.reader)
        .await
        .map_err(unavailable)?;
        Ok(tessera_application::deadlines::OverdueDeadlines {
            count: non_negative(n, "count")?,
            oldest_due_at: oldest.as_deref().and_then(parse_timestamp),
        })
    }
}
