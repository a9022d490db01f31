//! The SQLite event store: the embedded default (one file under ./data, WAL mode).
//!
//! All writes of the process go through one pooled connection and `BEGIN IMMEDIATE`, so appends are
//! serialised; positions are contiguous and in commit order. Readers use their own pool and never
//! block the writer (WAL).

use crate::audit::AuditSource;
use crate::hashing::{
    GENESIS_HASH, HashInput, event_hash, format_timestamp, parse_timestamp, truncate_to_micros,
};
use crate::notify::AppendNotifier;
use crate::stored::{
    Existing, StoredEvent, StreamHead, classify_existing, metadata_value, non_negative,
    unavailable, validate_append,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};
use std::str::FromStr;
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
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
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
}

impl SqliteEventStore {
    /// A store over migrated pools.
    pub async fn new(pools: SqlitePools) -> Result<Self, StoreError> {
        let head: i64 = sqlx::query_scalar("SELECT position FROM event_log_head WHERE id = 1")
            .fetch_one(&pools.reader)
            .await
            .map_err(unavailable)?;
        Ok(Self {
            notifier: AppendNotifier::new(non_negative(head, "head")?),
            pools,
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

impl SqliteEventStore {
    async fn append_in_tx(
        &self,
        tx: &mut sqlx::Transaction<'static, Sqlite>,
        request: &AppendRequest,
    ) -> Result<AppendOutcome, StoreError> {
        let stream = request.stream_id.as_str();

        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT event_id, stream_id, stream_version, global_position FROM events WHERE event_id IN (",
        );
        let mut sep = qb.separated(", ");
        for e in &request.events {
            sep.push_bind(e.event_id.to_string());
        }
        sep.push_unseparated(")");
        let mut found = Vec::new();
        for row in qb.build().fetch_all(&mut **tx).await.map_err(unavailable)? {
            let id: String = row.try_get(0).map_err(unavailable)?;
            found.push((
                Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                row.try_get::<String, _>(1).map_err(unavailable)?,
                non_negative(row.try_get(2).map_err(unavailable)?, "version")?,
                non_negative(row.try_get(3).map_err(unavailable)?, "position")?,
            ));
        }
        if let Existing::All(pairs) = classify_existing(request, &found)? {
            return Ok(AppendOutcome {
                stream_version: pairs.iter().map(|p| p.0).max().unwrap_or(0),
                positions: pairs.into_iter().map(|p| p.1).collect(),
                deduplicated: true,
            });
        }

        let current: Option<(i64, String)> =
            sqlx::query_as("SELECT version, last_hash FROM streams WHERE stream_id = $1")
                .bind(stream)
                .fetch_optional(&mut **tx)
                .await
                .map_err(unavailable)?;
        let (version, mut prev_hash) = match current {
            Some((v, h)) => (non_negative(v, "version")?, h),
            None => (0, GENESIS_HASH.to_owned()),
        };
        if !request.expected_version.accepts(version) {
            return Err(StoreError::VersionConflict {
                stream: request.stream_id.clone(),
                expected: request.expected_version,
                actual: version,
            });
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

        struct Row {
            position: i64,
            version: i64,
            data: String,
            metadata: String,
            hash: String,
            prev_hash: String,
        }
        let mut rows = Vec::with_capacity(request.events.len());
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
            rows.push(Row {
                position: to_i64(head + i as u64 + 1),
                version: to_i64(stream_version),
                data: e.data.to_string(),
                metadata: metadata.to_string(),
                prev_hash: std::mem::replace(&mut prev_hash, hash.clone()),
                hash,
            });
        }
        for (chunk_rows, chunk_events) in rows
            .chunks(INSERT_CHUNK)
            .zip(request.events.chunks(INSERT_CHUNK))
        {
            let mut qb: QueryBuilder<Sqlite> =
                QueryBuilder::new(concat!("INSERT INTO events (", event_columns!(), ") "));
            qb.push_values(chunk_rows.iter().zip(chunk_events), |mut b, (r, e)| {
                b.push_bind(r.position)
                    .push_bind(stream)
                    .push_bind(r.version)
                    .push_bind(e.event_id.to_string())
                    .push_bind(&e.event_type)
                    .push_bind(i64::from(e.schema_version))
                    .push_bind(&r.data)
                    .push_bind(&r.metadata)
                    .push_bind(&recorded_text)
                    .push_bind(&r.prev_hash)
                    .push_bind(&r.hash);
            });
            qb.build().execute(&mut **tx).await.map_err(unavailable)?;
        }

        let new_version = version + request.events.len() as u64;
        let last_position = head + request.events.len() as u64;
        sqlx::query(
            "INSERT INTO streams (stream_id, version, last_hash) VALUES ($1, $2, $3) \
             ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, last_hash = excluded.last_hash",
        )
        .bind(stream)
        .bind(to_i64(new_version))
        .bind(&prev_hash)
        .execute(&mut **tx)
        .await
        .map_err(unavailable)?;
        sqlx::query("UPDATE event_log_head SET position = $1, recorded_at = $2 WHERE id = 1")
            .bind(to_i64(last_position))
            .bind(&recorded_text)
            .execute(&mut **tx)
            .await
            .map_err(unavailable)?;
        for d in &request.deadlines {
            let due = format_timestamp(d.due_at);
            sqlx::query(
                "INSERT INTO deadlines (deadline_id, stream_id, kind, payload, due_at, next_attempt_at) \
                 VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (deadline_id) DO NOTHING",
            )
            .bind(d.deadline_id.to_string())
            .bind(stream)
            .bind(&d.kind)
            .bind(d.payload.to_string())
            .bind(&due)
            .execute(&mut **tx)
            .await
            .map_err(unavailable)?;
        }
        Ok(AppendOutcome {
            stream_version: new_version,
            positions: (head + 1..=last_position).collect(),
            deduplicated: false,
        })
    }

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
    #[tracing::instrument(skip_all, fields(stream = %request.stream_id, events = request.events.len()))]
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, StoreError> {
        validate_append(&request)?;
        let mut tx = self
            .pools
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(unavailable)?;
        let outcome = self.append_in_tx(&mut tx, &request).await?;
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
                READ_STREAM,
                (
                    Some(stream_id.as_str()),
                    to_i64(from_version),
                    to_i64(max_count as u64),
                ),
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
        sqlx::query(
            "SELECT deadline_id, stream_id, kind, payload, due_at, attempts FROM deadlines \
             WHERE fired_at IS NULL AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2",
        )
        .bind(format_timestamp(now))
        .bind(to_i64(limit as u64))
        .fetch_all(&self.pools.reader)
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
            "UPDATE deadlines SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3 \
             WHERE deadline_id = $1",
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
}
