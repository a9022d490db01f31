//! Runs process managers over the global log: in order, at least once, with a checkpoint per process
//! manager kept in `projection_checkpoints` under `process:{name}`.
//!
//! Unlike a projector, a process manager's work (commands appended to the event store) cannot share a
//! transaction with its checkpoint, so the checkpoint is saved after the event was handled: a crash in
//! between hands the event over again, and handlers are idempotent (application::process). The
//! checkpoint is written in a short transaction of its own and never held while handling, so on
//! SQLite the single writer connection stays free for the handler's appends.

use crate::db::ReadModelDb;
use crate::projector::{ProjectionError, reads_category};
use crate::runner::SharedReads;
use chrono::Utc;
use sqlx::Row;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tessera_application::{EventStore, ProcessManager};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How far one process manager got in this process: every event up to `handled` was handed to it,
/// and everything it appended in reaction is at or below `output` (the log head it saw after its
/// last handled event).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Progress {
    handled: u64,
    output: u64,
}

/// Live progress of this process's process managers, for read-your-writes that includes their
/// effects (docs/decisions/0011-answer-after-write.md): a command that wrote up to position P
/// waits until every process manager has handled P, then until the projections reach the highest
/// position those process managers wrote by then. In-process only, like
/// [`crate::ProjectionStatus`]: another process running the process managers is not seen.
#[derive(Clone)]
pub struct ProcessStatus {
    tx: Arc<watch::Sender<BTreeMap<&'static str, Progress>>>,
}

impl Default for ProcessStatus {
    fn default() -> Self {
        Self {
            tx: Arc::new(watch::channel(BTreeMap::new()).0),
        }
    }
}

impl ProcessStatus {
    pub(crate) fn set(&self, name: &'static str, handled: u64, output: Option<u64>) {
        self.tx.send_modify(|m| {
            let p = m.entry(name).or_default();
            p.handled = p.handled.max(handled);
            if let Some(output) = output {
                p.output = p.output.max(output);
            }
        });
    }

    /// Names of the process managers reporting here.
    pub fn names(&self) -> Vec<&'static str> {
        self.tx.borrow().keys().copied().collect()
    }

    /// Wait (at most `timeout`) until every process manager has handled `position`; then the
    /// highest position any of them had written by then (`position` itself when they wrote
    /// nothing after it). `None` when one did not get there in time (it is failing or far behind).
    /// Without process managers, `Some(position)` at once.
    pub async fn effects_of(&self, position: u64, timeout: Duration) -> Option<u64> {
        let mut rx = self.tx.subscribe();
        let reached = tokio::time::timeout(
            timeout,
            rx.wait_for(|m| m.values().all(|p| p.handled >= position)),
        )
        .await;
        match reached {
            Ok(Ok(m)) => Some(m.values().map(|p| p.output).fold(position, u64::max)),
            _ => None,
        }
    }
}

/// Feeds process managers from their checkpoints.
pub struct ProcessManagerRunner {
    db: ReadModelDb,
    store: Arc<dyn EventStore>,
    managers: Vec<Arc<dyn ProcessManager>>,
    batch_size: usize,
    status: ProcessStatus,
    reads: SharedReads,
}

impl ProcessManagerRunner {
    /// A runner for these process managers over `store` (which should upcast).
    pub fn new(
        db: ReadModelDb,
        store: Arc<dyn EventStore>,
        managers: Vec<Arc<dyn ProcessManager>>,
    ) -> Self {
        Self {
            db,
            store,
            managers,
            // The projections' batch size, so that shared reads match theirs.
            batch_size: 500,
            status: ProcessStatus::default(),
            reads: SharedReads::default(),
        }
    }

    /// Read the log through `reads` (the projection runner's), so that process managers and
    /// projectors following the log together decode each batch once.
    pub fn with_reads(mut self, reads: SharedReads) -> Self {
        self.reads = reads;
        self
    }

    /// Report progress to `status` (shared with read-your-writes waiters) instead of a private one.
    pub fn with_status(mut self, status: ProcessStatus) -> Self {
        self.status = status;
        self
    }

    /// A handle on the process managers' live progress (clones see its updates).
    pub fn status(&self) -> ProcessStatus {
        self.status.clone()
    }

    fn key(manager: &dyn ProcessManager) -> String {
        format!("process:{}", manager.name())
    }

    /// The stored checkpoint of a process manager (0 when it has none yet).
    pub async fn checkpoint(&self, manager: &dyn ProcessManager) -> Result<u64, ProjectionError> {
        const SQL: &str = "SELECT position FROM projection_checkpoints WHERE projection = $1";
        let key = Self::key(manager);
        let position: Option<i64> = match &self.db {
            ReadModelDb::Sqlite { reader, .. } => sqlx::query(SQL)
                .bind(&key)
                .fetch_optional(reader)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?,
            ReadModelDb::Postgres(pool) => sqlx::query(SQL)
                .bind(&key)
                .fetch_optional(pool)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?,
        };
        Ok(position.and_then(|p| u64::try_from(p).ok()).unwrap_or(0))
    }

    /// Store a manager's checkpoint: one autocommitted statement (no explicit transaction: it is
    /// the only write, and the catch-up of every wake-up ends with one).
    async fn save(
        &self,
        manager: &dyn ProcessManager,
        position: u64,
    ) -> Result<(), ProjectionError> {
        const SQL: &str = "INSERT INTO projection_checkpoints (projection, version, position, updated_at) \
             VALUES ($1, 1, $2, $3) ON CONFLICT (projection) DO UPDATE SET \
             position = excluded.position, updated_at = excluded.updated_at";
        let key = Self::key(manager);
        let position = position as i64;
        let now = Utc::now();
        match &self.db {
            ReadModelDb::Sqlite { writer, .. } => {
                sqlx::query(SQL)
                    .bind(key)
                    .bind(position)
                    .bind(now)
                    .execute(writer)
                    .await?;
            }
            ReadModelDb::Postgres(pool) => {
                sqlx::query(SQL)
                    .bind(key)
                    .bind(position)
                    .bind(now)
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Handle every event after the checkpoint up to the head as it is now; returns the new
    /// checkpoint. Stops at the first event whose handler fails (it is handed over again next time).
    pub async fn catch_up(&self, manager: &dyn ProcessManager) -> Result<u64, ProjectionError> {
        let position = self.checkpoint(manager).await?;
        self.catch_up_from(manager, position).await
    }

    /// [`ProcessManagerRunner::catch_up`] from a checkpoint the caller already knows (the follower
    /// keeps its own between catch-ups instead of reading it back each time). A batch shorter than
    /// the batch size reached the head as it was read, so no further read is sent to find nothing.
    async fn catch_up_from(
        &self,
        manager: &dyn ProcessManager,
        mut position: u64,
    ) -> Result<u64, ProjectionError> {
        loop {
            let batch = self
                .reads
                .read_all(self.store.as_ref(), position, self.batch_size)
                .await?;
            let Some(last) = batch.last().map(|e| e.global_position) else {
                return Ok(position);
            };
            let categories = manager.categories();
            let handles = manager.handles();
            for event in batch.iter() {
                if reads_category(categories, event.stream_id.category())
                    && handles.contains(&event.event_type.as_str())
                {
                    if let Err(reason) = manager.handle(event).await {
                        if position > 0 {
                            self.save(manager, position).await?;
                        }
                        return Err(ProjectionError::BadEvent {
                            position: event.global_position,
                            reason: reason.to_string(),
                        });
                    }
                    // Saved per handled event: a crash then repeats at most this one.
                    self.save(manager, event.global_position).await?;
                    // Its appends are committed: the head bounds them.
                    let head = self.store.head_position().await?;
                    self.status
                        .set(manager.name(), event.global_position, Some(head));
                }
                position = event.global_position;
            }
            self.save(manager, last).await?;
            self.status.set(manager.name(), last, None);
            position = last;
            if batch.len() < self.batch_size {
                return Ok(position);
            }
        }
    }

    /// Follow the log with every process manager until `shutdown`.
    pub fn spawn(self: Arc<Self>, shutdown: CancellationToken) -> JoinSet<()> {
        let mut set = JoinSet::new();
        // Registered before any task runs, so that no waiter sees an empty set and skips them.
        for manager in &self.managers {
            self.status.set(manager.name(), 0, None);
        }
        for manager in self.managers.clone() {
            let runner = self.clone();
            let shutdown = shutdown.clone();
            set.spawn(async move { runner.follow(manager, shutdown).await });
        }
        set
    }

    async fn follow(&self, manager: Arc<dyn ProcessManager>, shutdown: CancellationToken) {
        let mut failures = 0u32;
        // Effects of events handled before this start are below today's head.
        match (
            self.checkpoint(manager.as_ref()).await,
            self.store.head_position().await,
        ) {
            (Ok(checkpoint), Ok(head)) => self.status.set(manager.name(), checkpoint, Some(head)),
            _ => self.status.set(manager.name(), 0, None),
        }
        // The checkpoint as this follower left it; read again after a failure.
        let mut known: Option<u64> = None;
        while !shutdown.is_cancelled() {
            let caught_up = match known {
                Some(position) => self.catch_up_from(manager.as_ref(), position).await,
                None => self.catch_up(manager.as_ref()).await,
            };
            known = caught_up.as_ref().ok().copied();
            let wait = match caught_up {
                Ok(position) => {
                    failures = 0;
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        r = self.store.wait_for_append(position, Duration::from_millis(500)) => {
                            if let Err(e) = r {
                                tracing::warn!(process = manager.name(), error = %e, "waiting for events failed");
                            }
                        }
                    }
                    continue;
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(process = manager.name(), error = %e, "process manager step failed; retrying");
                    Duration::from_millis(100 * u64::from(failures.min(50)))
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        tracing::info!(process = manager.name(), "process manager stopped");
    }
}
