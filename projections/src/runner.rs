//! The projection runner: per projector, catch up from its checkpoint, then follow the log live, one
//! transaction per batch holding both the read-model rows and the new checkpoint.
//!
//! Several runners (processes) may share one database: each batch first moves the checkpoint with a
//! compare-and-set (`WHERE position = <what we read>`), so only one of them applies a given batch.

use crate::db::{ProjectionTx, ReadModelDb};
use crate::execute;
use crate::projector::{ProjectionError, Projector, reads_category};
use chrono::Utc;
use sqlx::Row;
use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tessera_application::{EventStore, RecordedEvent, StoreError};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A projection's stored progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Projector name.
    pub projection: String,
    /// Projector version that wrote it.
    pub version: u32,
    /// Last global position applied (0 = nothing yet).
    pub position: u64,
}

/// Live positions of this process's projections, for callers that want to read their own writes
/// and for readiness checks.
#[derive(Clone)]
pub struct ProjectionStatus {
    tx: Arc<watch::Sender<BTreeMap<&'static str, u64>>>,
}

impl ProjectionStatus {
    fn new(names: impl IntoIterator<Item = &'static str>) -> Self {
        let map = names.into_iter().map(|n| (n, 0)).collect();
        Self {
            tx: Arc::new(watch::channel(map).0),
        }
    }

    pub(crate) fn set(&self, name: &'static str, position: u64) {
        self.tx.send_modify(|m| {
            m.insert(name, position);
        });
    }

    /// Each projection's position.
    pub fn positions(&self) -> BTreeMap<&'static str, u64> {
        self.tx.borrow().clone()
    }

    /// The lowest position over all projections (the point up to which every read model is
    /// current); `None` without projections.
    pub fn min_position(&self) -> Option<u64> {
        self.tx.borrow().values().copied().min()
    }

    /// Wait until every projection has applied `position`, at most `timeout`. Returns whether it
    /// got there. A command's caller passes the last position of its append (DESIGN.md §4).
    pub async fn wait_for(&self, position: u64, timeout: Duration) -> bool {
        let mut rx = self.tx.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|m| m.values().all(|p| *p >= position)))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// One read of the log shared by every projector and process manager asking for the same batch
/// at the same time. Each of them follows the log on its own, and without sharing each would hold
/// its own decoded copy of every event: ten readers of one 100,000-seat venue held ten copies of
/// its seat map as JSON values at once (docs/benchmarks.md, "Memory per request").
///
/// Reads go one at a time; a reader asking for the batch after the position another has just
/// read, with the same size, gets that batch (an `Arc`) while anyone still holds it. A batch read
/// earlier may be shorter than one read now; it is still the log's next events, in order.
#[derive(Clone, Default)]
pub struct SharedReads {
    last: Arc<tokio::sync::Mutex<Option<LastBatch>>>,
}

struct LastBatch {
    after: u64,
    max: usize,
    events: Weak<Vec<RecordedEvent>>,
}

impl SharedReads {
    /// `store.read_all(after, max)`, or the same batch read by another reader and still held.
    pub async fn read_all(
        &self,
        store: &dyn EventStore,
        after: u64,
        max: usize,
    ) -> Result<Arc<Vec<RecordedEvent>>, StoreError> {
        let mut last = self.last.lock().await;
        if let Some(batch) = last
            .as_ref()
            .filter(|l| l.after == after && l.max == max)
            .and_then(|l| l.events.upgrade())
        {
            return Ok(batch);
        }
        let events = Arc::new(store.read_all(after, max).await?);
        if !events.is_empty() {
            *last = Some(LastBatch {
                after,
                max,
                events: Arc::downgrade(&events),
            });
        }
        Ok(events)
    }
}

/// Runs projectors against the log.
pub struct ProjectionRunner {
    db: ReadModelDb,
    store: Arc<dyn EventStore>,
    projectors: Vec<Arc<dyn Projector>>,
    status: ProjectionStatus,
    batch_size: usize,
    reads: SharedReads,
}

impl ProjectionRunner {
    /// A runner for these projectors. `store` should upcast (projectors see current schemas).
    pub fn new(
        db: ReadModelDb,
        store: Arc<dyn EventStore>,
        projectors: Vec<Arc<dyn Projector>>,
    ) -> Self {
        let status = ProjectionStatus::new(projectors.iter().map(|p| p.name()));
        Self {
            db,
            store,
            projectors,
            status,
            batch_size: 500,
            reads: SharedReads::default(),
        }
    }

    /// The shared log reader of this runner's projectors, for process managers to join.
    pub fn reads(&self) -> SharedReads {
        self.reads.clone()
    }

    /// Events per transaction (default 500).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// A handle on the projections' live positions, shared with the runner (clones see its
    /// updates).
    pub fn status(&self) -> ProjectionStatus {
        self.status.clone()
    }

    /// Names of the projectors, in registration order.
    pub fn names(&self) -> Vec<&'static str> {
        self.projectors.iter().map(|p| p.name()).collect()
    }

    fn projector(&self, name: &str) -> Result<&Arc<dyn Projector>, ProjectionError> {
        self.projectors
            .iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| ProjectionError::UnknownProjection(name.to_owned()))
    }

    /// Create missing checkpoints, and reset any projection whose stored version differs from its
    /// projector's (it is then rebuilt from 0 by catching up).
    pub async fn prepare(&self) -> Result<(), ProjectionError> {
        for p in &self.projectors {
            let mut tx = self.db.begin().await?;
            execute!(
                &mut tx,
                sqlx::query(
                    "INSERT INTO projection_checkpoints (projection, version, position, updated_at) \
                     VALUES ($1, $2, 0, $3) ON CONFLICT (projection) DO NOTHING",
                )
                .bind(p.name())
                .bind(i64::from(p.version()))
                .bind(Utc::now())
            )?;
            let cp = read_checkpoint(&mut tx, p.name()).await?;
            if cp.version != p.version() {
                tracing::info!(
                    projection = p.name(),
                    from = cp.version,
                    to = p.version(),
                    "projector version changed: rebuilding"
                );
                reset_in(&mut tx, p.as_ref()).await?;
            }
            tx.commit().await?;
            let cp = self.checkpoint(p.name()).await?;
            self.status.set(p.name(), cp.position);
        }
        Ok(())
    }

    /// The stored checkpoint of a projection.
    pub async fn checkpoint(&self, name: &str) -> Result<Checkpoint, ProjectionError> {
        let mut tx = self.db.begin().await?;
        let cp = read_checkpoint(&mut tx, name).await?;
        tx.commit().await?;
        Ok(cp)
    }

    /// Apply the next batch after `position` for one projector. Returns the new position, or `None`
    /// when there was nothing to apply.
    pub async fn step(
        &self,
        projector: &dyn Projector,
        position: u64,
    ) -> Result<Option<u64>, ProjectionError> {
        let batch = self
            .reads
            .read_all(self.store.as_ref(), position, self.batch_size)
            .await?;
        let Some(last) = batch.last().map(|e| e.global_position) else {
            return Ok(None);
        };
        let mut tx = self.db.begin().await?;
        let moved = execute!(
            &mut tx,
            sqlx::query(
                "UPDATE projection_checkpoints SET position = $1, updated_at = $2 \
                 WHERE projection = $3 AND position = $4",
            )
            .bind(last as i64)
            .bind(Utc::now())
            .bind(projector.name())
            .bind(position as i64)
        )?;
        if moved != 1 {
            return Err(ProjectionError::CheckpointMoved(
                projector.name().to_owned(),
            ));
        }
        let categories = projector.categories();
        let handles = projector.handles();
        for event in batch.iter() {
            if reads_category(categories, event.stream_id.category())
                && (handles.is_empty() || handles.contains(&event.event_type.as_str()))
            {
                projector.apply(&mut tx, event).await?;
            }
        }
        tx.commit().await?;
        self.status.set(projector.name(), last);
        Ok(Some(last))
    }

    /// Apply batches until the projection has reached the head as it was when called. Calls
    /// `on_progress(position, head)` after each batch. Returns the final position.
    pub async fn catch_up(
        &self,
        name: &str,
        mut on_progress: impl FnMut(u64, u64) + Send,
    ) -> Result<u64, ProjectionError> {
        let projector = self.projector(name)?;
        let head = self.store.head_position().await?;
        let mut position = self.checkpoint(name).await?.position;
        self.status.set(projector.name(), position);
        while position < head {
            match self.step(projector.as_ref(), position).await? {
                Some(p) => position = p,
                None => break,
            }
            on_progress(position, head.max(position));
        }
        Ok(position)
    }

    /// Drop a projection's rows and rebuild it from position 0 (`tessera projections rebuild`).
    pub async fn rebuild(
        &self,
        name: &str,
        on_progress: impl FnMut(u64, u64) + Send,
    ) -> Result<u64, ProjectionError> {
        let projector = self.projector(name)?;
        let mut tx = self.db.begin().await?;
        reset_in(&mut tx, projector.as_ref()).await?;
        tx.commit().await?;
        self.status.set(projector.name(), 0);
        self.catch_up(name, on_progress).await
    }

    /// Follow the log live with every projector until `shutdown`; a batch in progress finishes
    /// first. Returns the tasks, so that the caller can wait for them to end.
    pub fn spawn(self: Arc<Self>, shutdown: CancellationToken) -> JoinSet<()> {
        let mut set = JoinSet::new();
        for p in self.projectors.clone() {
            let runner = self.clone();
            let shutdown = shutdown.clone();
            set.spawn(async move { runner.follow(p, shutdown).await });
        }
        set
    }

    async fn follow(&self, projector: Arc<dyn Projector>, shutdown: CancellationToken) {
        let name = projector.name();
        let mut failures = 0u32;
        let mut position = None;
        while !shutdown.is_cancelled() {
            let pos = match position {
                Some(p) => p,
                None => match self.checkpoint(name).await {
                    Ok(cp) => {
                        self.status.set(name, cp.position);
                        position = Some(cp.position);
                        cp.position
                    }
                    Err(e) => {
                        tracing::error!(projection = name, error = %e, "cannot read checkpoint");
                        pause(&shutdown, Duration::from_secs(1)).await;
                        continue;
                    }
                },
            };
            match self.step(projector.as_ref(), pos).await {
                Ok(Some(p)) => {
                    position = Some(p);
                    failures = 0;
                }
                Ok(None) => {
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        r = self.store.wait_for_append(pos, Duration::from_millis(500)) => {
                            if let Err(e) = r {
                                tracing::warn!(projection = name, error = %e, "waiting for events failed");
                            }
                        }
                    }
                }
                Err(ProjectionError::CheckpointMoved(_)) => position = None,
                Err(e) => {
                    failures += 1;
                    let wait = Duration::from_millis(200 * u64::from(failures.min(50)));
                    tracing::error!(projection = name, position = pos, error = %e, "projection batch failed; retrying");
                    position = None;
                    pause(&shutdown, wait).await;
                }
            }
        }
        tracing::info!(projection = name, "projection runner stopped");
    }
}

async fn pause(shutdown: &CancellationToken, d: Duration) {
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = tokio::time::sleep(d) => {}
    }
}

async fn reset_in(tx: &mut ProjectionTx, projector: &dyn Projector) -> Result<(), ProjectionError> {
    projector.reset(tx).await?;
    execute!(
        tx,
        sqlx::query(
            "UPDATE projection_checkpoints SET position = 0, version = $1, updated_at = $2 WHERE projection = $3",
        )
        .bind(i64::from(projector.version()))
        .bind(Utc::now())
        .bind(projector.name())
    )?;
    Ok(())
}

async fn read_checkpoint(tx: &mut ProjectionTx, name: &str) -> Result<Checkpoint, ProjectionError> {
    const SQL: &str = "SELECT version, position FROM projection_checkpoints WHERE projection = $1";
    let (version, position): (i64, i64) = match tx {
        ProjectionTx::Sqlite(t) => {
            let row = sqlx::query(SQL).bind(name).fetch_optional(&mut **t).await?;
            match row {
                Some(r) => (r.try_get(0)?, r.try_get(1)?),
                None => (0, 0),
            }
        }
        ProjectionTx::Postgres(t) => {
            let row = sqlx::query(SQL).bind(name).fetch_optional(&mut **t).await?;
            match row {
                Some(r) => (i64::from(r.try_get::<i32, _>(0)?), r.try_get(1)?),
                None => (0, 0),
            }
        }
    };
    Ok(Checkpoint {
        projection: name.to_owned(),
        version: u32::try_from(version).unwrap_or(0),
        position: u64::try_from(position).unwrap_or(0),
    })
}
