//! The PostgreSQL event store (production).
//!
//! Ordering: appends arriving together form a group (group_commit.rs) written in one transaction.
//! It locks every stream row of the group (in sorted order so that transactions over overlapping
//! streams cannot deadlock), then, in one statement, looks up every event id and locks the log
//! head with `SELECT … FOR UPDATE`. That row lock is held until commit, so groups commit in
//! position order and positions are contiguous: a reader that has seen position `P` can never
//! later find an event below `P` (the bug class of Marten #1629/#4953 and disintegrate #240). Each
//! commit of the group is then decided on its own (idempotency, expected versions) and the
//! accepted ones are written in one statement, so the lock is held for two round trips plus the
//! commit, once per group.
//! docs/architecture.md weighs the cost.
//!
//! Most groups take a shorter way (decision 0042): planned in this process from the stream heads
//! its own commits left ([`PlannedHeads`]), they are written by one autocommitted call of the
//! `tessera_append_planned` function (migration 0007), which takes the same locks in the same
//! order and checks every assumption of the plan under them. One round trip, and no Tessera code
//! runs while the head is locked. A group whose assumptions do not hold (another process wrote
//! one of its streams, an event id is stored already) is refused as a whole, writes nothing, and
//! is written again by the transaction above; so is a group that cannot be planned here (a
//! stream this process has not seen, a commit the plan would refuse or deduplicate).

use crate::audit::AuditSource;
use crate::batcher::{BatchLimits, Batcher, VERSION_READ_LIMITS, VersionReads, VersionSource};
use crate::group_commit::{
    CommitResult, GROUP_LIMITS, GroupCommit, GroupPlan, GroupWriter, Groups, group_event_ids,
    group_streams, plan_group,
};
use crate::hashing::{GENESIS_HASH, truncate_to_micros};
use crate::notify::AppendNotifier;
use crate::stored::{
    Head, StoredEvent, StreamHead, non_negative, stored_ids, stream_rows, unavailable,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgArguments, PgPool, PgRow};
use sqlx::{Postgres, Row};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tessera_application::event_store::validate_requests;
use tessera_application::{
    AppendOutcome, AppendRequest, Deadline, DeadlineStore, EventMetadata, EventStore,
    ExpectedVersion, RecordedEvent, StoreError, StreamId,
};
use tokio_stream::StreamExt;
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

/// Locks the log head (`FOR UPDATE`, held until commit) and looks up a group's event ids (`$1`,
/// `uuid[]`): one row per stored id, or one row with NULL id columns when none is stored. Columns:
/// head position, commit time (`GREATEST(clock_timestamp(), last recorded_at)`, UTC), then the
/// stored event's id, stream, stream version and global position.
const LOCK_HEAD_AND_FIND_IDS: &str = "
WITH head AS (
    SELECT position, GREATEST(clock_timestamp(), recorded_at) AS recorded_at
    FROM event_log_head WHERE id = 1 FOR UPDATE
)
SELECT head.position, head.recorded_at, e.event_id, e.stream_id, e.stream_version, e.global_position
FROM head LEFT JOIN events e ON e.event_id = ANY($1)";

/// A row of [`LOCK_HEAD_AND_FIND_IDS`].
type HeadAndStoredId = (
    i64,
    DateTime<Utc>,
    Option<Uuid>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

/// Most events [`EventStore::read_all`] reserves room for before any arrive.
const READ_ALL_CAPACITY: usize = 5_000;

/// Everything a group writes after it holds the log head, in one statement: the events of every
/// accepted commit, their deadlines, the new stream heads and the new log head.
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
), head AS (
    UPDATE event_log_head SET position = $20, recorded_at = $1 WHERE id = 1
)
UPDATE streams SET version = n.v, last_hash = n.h
FROM UNNEST($17::text[], $18::bigint[], $19::text[]) AS n(s, v, h)
WHERE streams.stream_id = n.s";

/// A planned group in one autocommitted statement (migration 0007): `$1`–`$19` as bound by
/// [`bind_group`] (positions as offsets 1, 2, …), then the heads the plan started from (`$20`
/// streams sorted, `$21` versions, `$22` last hashes). Answers the head position the offsets count
/// from, or fails with SQLSTATE [`PLAN_REFUSED`] or a unique violation, having written nothing.
const APPEND_PLANNED: &str = "SELECT tessera_append_planned($1, $2, $3, $4, $5, $6, $7, $8, $9, \
    $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)";

/// The SQLSTATE `tessera_append_planned` raises when an assumption of the plan does not hold.
const PLAN_REFUSED: &str = "TS001";

/// Most stream heads a store remembers for planning ([`PlannedHeads`]); past it the memory is
/// dropped and refilled by the next commits (about 200 bytes each: 3 MB at most).
const PLANNED_HEADS_CAPACITY: usize = 16_384;

/// Groups written at the same time by one store: one. A planned group is one statement whose
/// serial part (under the log head's lock, through the WAL flush) is all of its work, so a second
/// group in flight overlaps almost nothing and only halves the groups: with 16 writers of one
/// event the bench measured 92–93% of plain INSERTs with one group in flight, 62–74% with two and
/// 27–28% with four (docs/benchmarks.md, "One group in flight"). It was two while every group was
/// a five-round-trip transaction, whose stream locking and id lookup the second group overlapped.
const PG_GROUPS_IN_FLIGHT: usize = 1;

/// Connect a pool to `url` (e.g. `postgres://postgres@127.0.0.1:5432/tessera`).
pub async fn connect_pool(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    crate::pool::pool_options::<Postgres>()
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
    group: GroupCommit<PgWriter>,
    versions: Batcher<VersionReads<PgVersions>>,
    paths: Arc<AppendPathCounts>,
}

/// The `streams` lookup behind [`EventStore::stream_versions`], whose concurrent calls share one
/// query (decision 0040).
#[derive(Debug)]
struct PgVersions {
    pool: PgPool,
}

#[async_trait]
impl VersionSource for PgVersions {
    async fn fetch_versions(&self, ids: &[&str]) -> Result<Vec<(String, i64)>, StoreError> {
        sqlx::query_as("SELECT stream_id, version FROM streams WHERE stream_id = ANY($1)")
            .bind(ids)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)
    }
}

/// The writer side of a PostgreSQL store, driven by its group-commit queue (the store's pool and
/// notifier; not the store itself, whose queue would then own itself).
#[derive(Debug, Clone)]
struct PgWriter {
    pool: PgPool,
    notifier: AppendNotifier,
    planned: Arc<Mutex<PlannedHeads>>,
    paths: Arc<AppendPathCounts>,
}

/// What a store's own commits told it about the log (decision 0042): the heads of streams it
/// wrote or locked, and the latest `recorded_at` it wrote or saw. Only the assumptions of a plan:
/// `tessera_append_planned` checks each under its locks, so a stale entry costs a refused
/// statement, never a wrong write.
#[derive(Debug, Default)]
struct PlannedHeads {
    heads: HashMap<String, Head>,
    recorded_at: Option<DateTime<Utc>>,
}

impl PlannedHeads {
    /// The heads to plan `commits` from: remembered ones, and an empty head for a stream not
    /// remembered whose first request in the group expects no stream. None when a stream is
    /// neither (another request could only be answered by reading its row).
    fn assume(
        &self,
        commits: &[Vec<AppendRequest>],
        streams: &[&str],
    ) -> Option<HashMap<String, Head>> {
        let mut heads = HashMap::with_capacity(streams.len());
        for stream in streams {
            let head = match self.heads.get(*stream) {
                Some(head) => head.clone(),
                None => {
                    let first = commits
                        .iter()
                        .flatten()
                        .find(|r| r.stream_id.as_str() == *stream)?;
                    match first.expected_version {
                        ExpectedVersion::NoStream | ExpectedVersion::Exact(0) => Head::empty(),
                        _ => return None,
                    }
                }
            };
            heads.insert((*stream).to_owned(), head);
        }
        Some(heads)
    }

    /// The commit time of the next planned group: now (UTC, microseconds), or the latest one
    /// written or seen when the clock is behind it, so that `recorded_at` never decreases.
    fn next_recorded_at(&mut self) -> DateTime<Utc> {
        let now = truncate_to_micros(Utc::now());
        let at = self.recorded_at.map_or(now, |seen| seen.max(now));
        self.recorded_at = Some(at);
        at
    }

    /// Remember heads as a commit left them, and its `recorded_at`.
    fn remember<S: AsRef<str> + Into<String>>(
        &mut self,
        heads: impl IntoIterator<Item = (S, Head)>,
        recorded_at: DateTime<Utc>,
    ) {
        for (stream, head) in heads {
            if self.heads.len() >= PLANNED_HEADS_CAPACITY
                && !self.heads.contains_key(stream.as_ref())
            {
                self.heads.clear();
            }
            self.heads.insert(stream.into(), head);
        }
        self.recorded_at = Some(
            self.recorded_at
                .map_or(recorded_at, |seen| seen.max(recorded_at)),
        );
    }

    fn forget(&mut self, streams: &[&str]) {
        for stream in streams {
            self.heads.remove(*stream);
        }
    }
}

/// How many groups each way wrote ([`PostgresEventStore::append_paths`]).
#[derive(Debug, Default)]
struct AppendPathCounts {
    planned: AtomicU64,
    refused: AtomicU64,
    transaction: AtomicU64,
}

/// Groups a [`PostgresEventStore`] has written, by way (decision 0042); also counted in
/// `tessera_postgres_append_groups_total` (docs/operations.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendPaths {
    /// Planned here and written by one `tessera_append_planned` statement.
    pub planned: u64,
    /// Planned, refused by that statement (an assumption did not hold), then written by the
    /// locked transaction.
    pub refused: u64,
    /// Not planned (a stream this store had not seen, a commit its plan would refuse or
    /// deduplicate): written by the locked transaction.
    pub transaction: u64,
}

/// What [`PgWriter::write_planned`] did with a group.
enum PlannedWrite {
    /// Written (or failed for a reason the transaction would meet as well): the answers.
    Answered(Vec<CommitResult>),
    /// Refused by `tessera_append_planned`: nothing written.
    Refused,
    /// Not planned: nothing sent.
    NotPlanned,
}

#[async_trait]
impl GroupWriter for PgWriter {
    async fn write_group(&self, commits: &[Vec<AppendRequest>]) -> Vec<CommitResult> {
        match self.write_planned(commits).await {
            PlannedWrite::Answered(results) => return results,
            PlannedWrite::Refused => self.count("refused", &self.paths.refused),
            PlannedWrite::NotPlanned => self.count("transaction", &self.paths.transaction),
        }
        match self.commit_group(commits).await {
            Ok(results) => results,
            Err(AppendFailure::Store(e)) => commits.iter().map(|_| Err(e.clone())).collect(),
            // An event id was committed meanwhile by another process, in a stream this group did
            // not lock: the group's statement failed as a whole. Write each commit alone, so only
            // the one holding that id fails.
            Err(AppendFailure::EventIdTaken) if commits.len() > 1 => {
                let mut results = Vec::with_capacity(commits.len());
                for commit in commits {
                    let one = std::slice::from_ref(commit);
                    results.push(match self.commit_group(one).await {
                        Ok(mut r) => r.pop().unwrap_or_else(|| {
                            Err(StoreError::Unavailable("no answer for a commit".into()))
                        }),
                        Err(AppendFailure::Store(e)) => Err(e),
                        Err(AppendFailure::EventIdTaken) => Err(self.duplicate_error(commit).await),
                    });
                }
                results
            }
            Err(AppendFailure::EventIdTaken) => {
                let mut results = Vec::with_capacity(1);
                for commit in commits {
                    results.push(Err(self.duplicate_error(commit).await));
                }
                results
            }
        }
    }
}

impl PostgresEventStore {
    /// A store over a migrated pool.
    pub async fn new(pool: PgPool) -> Result<Self, StoreError> {
        let head: i64 = sqlx::query_scalar("SELECT position FROM event_log_head WHERE id = 1")
            .fetch_one(&pool)
            .await
            .map_err(unavailable)?;
        let notifier = AppendNotifier::new(non_negative(head, "head")?);
        let paths = Arc::new(AppendPathCounts::default());
        let group = GroupCommit::new(
            Groups(PgWriter {
                pool: pool.clone(),
                notifier: notifier.clone(),
                planned: Arc::default(),
                paths: paths.clone(),
            }),
            BatchLimits {
                max_leaders: PG_GROUPS_IN_FLIGHT,
                ..GROUP_LIMITS
            },
        );
        let versions = Batcher::new(
            VersionReads(PgVersions { pool: pool.clone() }),
            VERSION_READ_LIMITS,
        );
        Ok(Self {
            pool,
            notifier,
            group,
            versions,
            paths,
        })
    }

    /// How many append groups this store wrote by each way since it was created.
    pub fn append_paths(&self) -> AppendPaths {
        AppendPaths {
            planned: self.paths.planned.load(Ordering::Relaxed),
            refused: self.paths.refused.load(Ordering::Relaxed),
            transaction: self.paths.transaction.load(Ordering::Relaxed),
        }
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
}

impl PgWriter {
    /// One transaction for a whole group (several `append_streams` calls): lock every stream row
    /// of the group (in sorted order, so two groups or commits over overlapping streams never wait
    /// on each other in a cycle), look up every event id and lock the log head, decide each commit
    /// in queue order ([`plan_group`]: idempotency, expected versions, positions, hashes), and
    /// write the accepted ones in one statement. Nothing is written unless the caller commits.
    async fn append_in_tx(
        &self,
        tx: &mut sqlx::Transaction<'static, Postgres>,
        commits: &[Vec<AppendRequest>],
    ) -> Result<GroupWritten, AppendFailure> {
        // Lock (creating when new) the stream rows first: a concurrent retry of the same commit
        // then waits here and finds the first one's events below, instead of a version conflict.
        let streams = group_streams(commits);
        let rows: Vec<(String, i64, String)> = sqlx::query_as(
            "INSERT INTO streams (stream_id, version, last_hash) \
             SELECT s.id, 0, $2 FROM UNNEST($1::text[]) WITH ORDINALITY AS s(id, n) ORDER BY s.n \
             ON CONFLICT (stream_id) DO UPDATE SET stream_id = EXCLUDED.stream_id \
             RETURNING stream_id, version, last_hash",
        )
        .bind(&streams)
        .bind(GENESIS_HASH)
        .fetch_all(&mut **tx)
        .await
        .map_err(unavailable)?;
        let mut heads = HashMap::with_capacity(rows.len());
        for (stream, version, last_hash) in rows {
            heads.insert(
                stream,
                Head {
                    version: non_negative(version, "version")?,
                    last_hash,
                },
            );
        }

        // The stored-id lookup and the log head's row lock in one round trip. The lookup reads
        // the statement's snapshot, taken after the stream rows above were locked, so it sees a
        // concurrent retry's events; an id committed meanwhile in a stream this group did not lock
        // is a unique violation below ([`AppendFailure::EventIdTaken`]). The head's row lock is
        // held until commit: groups (and other processes' groups) commit in position order.
        // Planned on every execution (an unnamed statement): a plan cached by a connection while
        // `events` was small scans the whole table for every group once it has grown, until
        // autovacuum's next ANALYZE; the load tool measured that scan at 1.7 ms of a 6 ms append.
        let ids = group_event_ids(commits);
        let rows: Vec<HeadAndStoredId> = sqlx::query_as(LOCK_HEAD_AND_FIND_IDS)
            .bind(&ids)
            .persistent(false)
            .fetch_all(&mut **tx)
            .await
            .map_err(unavailable)?;
        let Some(&(head, recorded_at, ..)) = rows.first() else {
            return Err(AppendFailure::Store(StoreError::Corrupt(
                "event_log_head has no row".into(),
            )));
        };
        let found = stored_ids(
            rows.into_iter()
                .filter_map(|(_, _, id, stream, v, p)| Some((id?, stream?, v?, p?))),
        )?;

        let head = non_negative(head, "head")?;
        let recorded_at = truncate_to_micros(recorded_at);
        let plan = plan_group(commits, &found, &heads, head + 1, recorded_at);
        for (stream, version, last_hash) in &plan.streams {
            heads.insert(
                (*stream).to_owned(),
                Head {
                    version: *version,
                    last_hash: last_hash.clone(),
                },
            );
        }
        let Some(last) = plan.last_position() else {
            return Ok(GroupWritten {
                results: plan.results,
                last: None,
                heads,
                recorded_at,
            });
        };
        // Stream rows this group created for commits that were refused: leave none behind.
        let empty: Vec<&str> = plan
            .untouched
            .iter()
            .copied()
            .filter(|s| heads.get(*s).is_some_and(|h| h.version == 0))
            .collect();
        if !empty.is_empty() {
            sqlx::query("DELETE FROM streams WHERE stream_id = ANY($1) AND version = 0")
                .bind(&empty)
                .execute(&mut **tx)
                .await
                .map_err(unavailable)?;
        }

        bind_group(sqlx::query(WRITE_BATCH), recorded_at, &plan)
            .bind(to_i64(last))
            .execute(&mut **tx)
            .await
            .map_err(|e| {
                if is_event_id_violation(&e) {
                    AppendFailure::EventIdTaken
                } else {
                    AppendFailure::Store(unavailable(e))
                }
            })?;
        Ok(GroupWritten {
            results: plan.results,
            last: Some(last),
            heads,
            recorded_at,
        })
    }

    /// Write one group: one transaction, one commit, readers woken once after it.
    async fn commit_group(
        &self,
        commits: &[Vec<AppendRequest>],
    ) -> Result<Vec<CommitResult>, AppendFailure> {
        let streams = group_streams(commits);
        let written = match self.transaction(commits).await {
            Ok(written) => written,
            Err(e) => {
                self.planned_heads().forget(&streams);
                return Err(e);
            }
        };
        self.planned_heads()
            .remember(written.heads, written.recorded_at);
        Ok(written.results)
    }

    /// [`PgWriter::append_in_tx`] in a transaction of its own, committed when it wrote anything.
    async fn transaction(
        &self,
        commits: &[Vec<AppendRequest>],
    ) -> Result<GroupWritten, AppendFailure> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let written = self.append_in_tx(&mut tx, commits).await?;
        if let Some(last) = written.last {
            tx.commit().await.map_err(unavailable)?;
            self.notifier.committed(last);
        }
        Ok(written)
    }

    fn planned_heads(&self) -> std::sync::MutexGuard<'_, PlannedHeads> {
        // The state is a cache of assumptions checked by the database: a panic elsewhere while it
        // was held cannot make it unsafe to use.
        self.planned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn count(&self, path: &'static str, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("tessera_postgres_append_groups_total", "path" => path).increment(1);
    }

    /// Plan `commits` from the remembered heads and write them with one `tessera_append_planned`
    /// statement (decision 0042). Only a group whose every commit the plan accepts is sent: a
    /// refusal or a deduplication must be decided against the locked rows.
    async fn write_planned(&self, commits: &[Vec<AppendRequest>]) -> PlannedWrite {
        let streams = group_streams(commits);
        let (assumed, recorded_at) = {
            let mut planned = self.planned_heads();
            let Some(assumed) = planned.assume(commits, &streams) else {
                return PlannedWrite::NotPlanned;
            };
            (assumed, planned.next_recorded_at())
        };
        let mut plan = plan_group(commits, &[], &assumed, 1, recorded_at);
        let all_new = plan
            .results
            .iter()
            .all(|r| r.as_ref().is_ok_and(|o| o.iter().all(|o| !o.deduplicated)));
        if !all_new || !plan.untouched.is_empty() {
            return PlannedWrite::NotPlanned;
        }
        // Positions are offsets from 1: the last one is the number of events.
        let Some(events) = plan.last_position() else {
            return PlannedWrite::NotPlanned;
        };
        let from: Vec<&Head> = streams.iter().filter_map(|s| assumed.get(*s)).collect();
        let answer = bind_group(sqlx::query(APPEND_PLANNED), recorded_at, &plan)
            .bind(&streams)
            .bind(from.iter().map(|h| to_i64(h.version)).collect::<Vec<_>>())
            .bind(
                from.iter()
                    .map(|h| h.last_hash.as_str())
                    .collect::<Vec<_>>(),
            )
            .fetch_one(&self.pool)
            .await
            .and_then(|row| row.try_get::<i64, _>(0));
        let head = match answer {
            Ok(head) => non_negative(head, "head"),
            Err(sqlx::Error::Database(db))
                if db.code().as_deref() == Some(PLAN_REFUSED) || db.is_unique_violation() =>
            {
                self.planned_heads().forget(&streams);
                return PlannedWrite::Refused;
            }
            Err(e) => Err(unavailable(e)),
        };
        let head = match head {
            Ok(head) => head,
            Err(e) => {
                self.planned_heads().forget(&streams);
                return PlannedWrite::Answered(commits.iter().map(|_| Err(e.clone())).collect());
            }
        };
        self.notifier.committed(head + events);
        self.planned_heads().remember(
            plan.streams.iter().map(|(s, v, h)| {
                (
                    *s,
                    Head {
                        version: *v,
                        last_hash: h.clone(),
                    },
                )
            }),
            recorded_at,
        );
        self.count("planned", &self.paths.planned);
        for outcome in plan.results.iter_mut().flatten().flatten() {
            for p in &mut outcome.positions {
                *p += head;
            }
        }
        PlannedWrite::Answered(plan.results)
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
}

impl PostgresEventStore {
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

/// What a group's transaction decided ([`PgWriter::append_in_tx`]).
struct GroupWritten {
    /// One answer per commit.
    results: Vec<CommitResult>,
    /// The last position written (None: nothing written, nothing to commit).
    last: Option<u64>,
    /// Every stream the group locked, with its head after the group (an empty head for a stream
    /// created for a refused commit and removed again): what the next planned group starts from.
    heads: HashMap<String, Head>,
    /// The group's commit time.
    recorded_at: DateTime<Utc>,
}

/// Bind `$1`–`$19` of [`WRITE_BATCH`] and [`APPEND_PLANNED`]: the commit time, the event rows
/// (position, stream, version, id, type, schema version, data and metadata as JSON text, prev
/// hash, hash), the deadlines (id, stream, kind, payload as JSON text, due at) and the written
/// streams' new heads (stream, version, last hash), one array per column.
fn bind_group<'q>(
    query: sqlx::query::Query<'q, Postgres, PgArguments>,
    recorded_at: DateTime<Utc>,
    plan: &'q GroupPlan<'_>,
) -> sqlx::query::Query<'q, Postgres, PgArguments> {
    let e = &plan.events;
    let d = &plan.deadlines;
    let st = &plan.streams;
    query
        .bind(recorded_at)
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

/// A `READ_ALL` / `READ_STREAM` row straight to the port's envelope, by column index and without
/// the raw metadata `Value` that audits need: the hot path of projections and rebuilds.
fn row_to_recorded(row: &PgRow) -> Result<RecordedEvent, StoreError> {
    let get = |e: sqlx::Error| StoreError::Corrupt(e.to_string());
    let position: i64 = row.try_get(0).map_err(get)?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("position {position}: {what}"));
    let stream: String = row.try_get(1).map_err(get)?;
    let schema: i32 = row.try_get(5).map_err(get)?;
    let metadata: sqlx::types::Json<EventMetadata> = row
        .try_get(7)
        .map_err(|e| corrupt(&format!("metadata: {e}")))?;
    Ok(RecordedEvent {
        global_position: non_negative(position, "position")?,
        stream_id: StreamId::parse(stream).map_err(|e| corrupt(&e.to_string()))?,
        stream_version: non_negative(row.try_get(2).map_err(get)?, "version")?,
        event_id: row.try_get(3).map_err(get)?,
        event_type: row.try_get(4).map_err(get)?,
        schema_version: u32::try_from(schema).map_err(|_| corrupt("bad schema_version"))?,
        data: row.try_get(6).map_err(get)?,
        metadata: metadata.0,
        recorded_at: row.try_get(8).map_err(get)?,
        prev_hash: row.try_get(9).map_err(get)?,
        hash: row.try_get(10).map_err(get)?,
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
            .fetch_all(&self.pool)
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
        // Each row is decoded as it arrives, while PostgreSQL is still sending the rest: the
        // backend's work (jsonb to text) and ours (JSON parsing) overlap instead of taking turns.
        let mut rows = sqlx::query(READ_ALL)
            .bind(to_i64(after))
            .bind(to_i64(max_count as u64))
            .fetch(&self.pool);
        let mut events = Vec::with_capacity(max_count.min(READ_ALL_CAPACITY));
        while let Some(row) = rows.next().await {
            events.push(row_to_recorded(&row.map_err(unavailable)?)?);
        }
        Ok(events)
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

    async fn overdue(
        &self,
        now: DateTime<Utc>,
    ) -> Result<tessera_application::deadlines::OverdueDeadlines, StoreError> {
        let (n, oldest): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(due_at) FROM deadlines WHERE fired_at IS NULL AND due_at <= $1",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(tessera_application::deadlines::OverdueDeadlines {
            count: non_negative(n, "count")?,
            oldest_due_at: oldest,
        })
    }
}
