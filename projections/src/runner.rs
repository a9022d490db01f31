//! The projection runner: per projector, catch up from its checkpoint, then follow the log live, one
//! transaction per batch holding both the read-model rows and the new checkpoint.
//!
//! Several runners (processes) may share one database: each batch first moves the checkpoint with a
//! compare-and-set (`WHERE position = <what we read>`), so only one of them applies a given batch.

use crate::db::{ProjectionTx, ReadModelDb};
use crate::execute;
use crate::projector::{ProjectionError, Projector, applies_to};
use chrono::Utc;
use sqlx::Row;
use std::collections::{BTreeMap, VecDeque};
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

/// How many not-yet-applied events a projector's status remembers it must apply before it gives up
/// remembering (a projector that far behind is then waited for on every position past its own).
const PENDING_LIMIT: usize = 100_000;

/// What the status knows of one projector.
struct Tracked {
    /// Last position applied (its checkpoint as this process last saw it).
    position: u64,
    /// Which events it applies; `None` = unknown (fed by [`ProjectionStatus::set`] alone): every
    /// event counts.
    projector: Option<Arc<dyn Projector>>,
    /// Every event in `(position, scanned]` has been looked at: those this projector applies are
    /// in `pending`, in order.
    scanned: u64,
    /// Positions in `(position, scanned]` of events it applies.
    pending: VecDeque<u64>,
    /// Its last batch failed and it was moved to a lane of its own (cleared by its next commit).
    failing: bool,
}

impl Tracked {
    fn new(position: u64, projector: Option<Arc<dyn Projector>>) -> Self {
        Self {
            position,
            projector,
            scanned: position,
            pending: VecDeque::new(),
            failing: false,
        }
    }

    fn moved_to(&mut self, position: u64) {
        if position < self.position || position >= self.scanned {
            self.pending.clear();
            self.scanned = position;
        } else {
            while self.pending.front().is_some_and(|p| *p <= position) {
                self.pending.pop_front();
            }
        }
        self.position = position;
    }

    /// Whether a caller at `position` need not wait for this projector: it applied `position`;
    /// or every event between its checkpoint and `position` is one it does not apply; or it is
    /// failing in a lane of its own and does not apply the event at `position` itself (the
    /// command's own last event), so waiting would only delay an answer it does not give.
    fn current_at(&self, position: u64) -> bool {
        self.position >= position
            || (self.scanned >= position
                && (self.pending.front().is_none_or(|p| *p > position)
                    || (self.failing && self.pending.binary_search(&position).is_err())))
    }

    fn observe(&mut self, events: &[RecordedEvent]) {
        let Some(first) = events.first().map(|e| e.global_position) else {
            return;
        };
        // Positions are contiguous: a batch that starts past what was scanned leaves a gap.
        if first > self.scanned + 1 || self.pending.len() >= PENDING_LIMIT {
            return;
        }
        let skip = usize::try_from(self.scanned + 1 - first).unwrap_or(usize::MAX);
        for e in events.iter().skip(skip) {
            let applies = self
                .projector
                .as_ref()
                .is_none_or(|p| applies_to(p.as_ref(), e));
            if applies {
                if self.pending.len() >= PENDING_LIMIT {
                    return;
                }
                self.pending.push_back(e.global_position);
            }
            self.scanned = e.global_position;
        }
    }
}

/// Live positions of this process's projections, for callers that want to read their own writes
/// and for readiness checks.
///
/// It also remembers, from the batches the runner reads, which of the events past each
/// projector's checkpoint that projector applies, so that [`ProjectionStatus::wait_for`] does not
/// wait for a projector that has nothing to apply up to the position asked for
/// (docs/decisions/0035-projection-transactions.md).
#[derive(Clone)]
pub struct ProjectionStatus {
    tx: Arc<watch::Sender<BTreeMap<&'static str, Tracked>>>,
}

impl ProjectionStatus {
    fn new(projectors: &[Arc<dyn Projector>]) -> Self {
        let map = projectors
            .iter()
            .map(|p| (p.name(), Tracked::new(0, Some(p.clone()))))
            .collect();
        Self {
            tx: Arc::new(watch::channel(map).0),
        }
    }

    pub(crate) fn set(&self, name: &'static str, position: u64) {
        self.tx.send_modify(|m| {
            m.entry(name)
                .or_insert_with(|| Tracked::new(position, None))
                .moved_to(position);
        });
    }

    /// Mark a projector as failing in a lane of its own, or no longer failing.
    fn set_failing(&self, name: &'static str, failing: bool) {
        self.tx.send_if_modified(|m| match m.get_mut(name) {
            Some(t) if t.failing != failing => {
                t.failing = failing;
                true
            }
            _ => false,
        });
    }

    /// Record the events of a batch read from the log (contiguous positions, in order).
    fn observe(&self, events: &[RecordedEvent]) {
        self.tx.send_modify(|m| {
            for t in m.values_mut() {
                t.observe(events);
            }
        });
    }

    /// Each projection's position.
    pub fn positions(&self) -> BTreeMap<&'static str, u64> {
        self.tx
            .borrow()
            .iter()
            .map(|(n, t)| (*n, t.position))
            .collect()
    }

    /// The lowest position over all projections (the point up to which every read model is
    /// current); `None` without projections.
    pub fn min_position(&self) -> Option<u64> {
        self.tx.borrow().values().map(|t| t.position).min()
    }

    /// Wait until every projection is current as of `position`, at most `timeout`. Returns whether
    /// it got there. A command's caller passes the last position of its append (DESIGN.md §4).
    ///
    /// A projection is current when it has applied `position`, or when every event between its
    /// checkpoint and `position` is of a category or type it does not apply (known from the
    /// batches this process's runner has read): a response then waits only for the read models its
    /// command's events, and those before them, change — not for an unrelated projector that is
    /// behind or failing.
    pub async fn wait_for(&self, position: u64, timeout: Duration) -> bool {
        let mut rx = self.tx.subscribe();
        tokio::time::timeout(
            timeout,
            rx.wait_for(|m| m.values().all(|t| t.current_at(position))),
        )
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

/// A batch being read on its own task while the previous one is applied.
type ReadAhead = tokio::task::JoinHandle<Result<Arc<Vec<RecordedEvent>>, StoreError>>;

/// Smallest batch a lane reads (at the head of the log, where latency matters).
const MIN_BATCH: usize = 64;
/// Largest batch a lane reads (far behind, where one commit per batch matters).
const MAX_BATCH: usize = 8_192;
/// Consecutive failures of one projector after which the main lane leaves it to a lane of its own.
const ISOLATE_AFTER: u32 = 3;

/// Why a lane's batch failed, and which projector's `apply` failed when one did.
struct LaneFailure {
    projector: Option<&'static str>,
    error: ProjectionError,
}

impl From<ProjectionError> for LaneFailure {
    fn from(error: ProjectionError) -> Self {
        Self {
            projector: None,
            error,
        }
    }
}

impl From<sqlx::Error> for LaneFailure {
    fn from(error: sqlx::Error) -> Self {
        ProjectionError::from(error).into()
    }
}

impl From<StoreError> for LaneFailure {
    fn from(error: StoreError) -> Self {
        ProjectionError::from(error).into()
    }
}

/// Runs projectors against the log.
///
/// Projectors that follow the log together form a *lane*: each batch is read once, applied to
/// every projector of the lane in one transaction that also moves each one's checkpoint (a
/// compare-and-set per checkpoint), and committed once. The server runs one lane for all
/// projectors; a projector whose batches keep failing is moved to a lane of its own so that the
/// others go on (docs/decisions/0035-projection-transactions.md).
pub struct ProjectionRunner {
    db: ReadModelDb,
    store: Arc<dyn EventStore>,
    projectors: Vec<Arc<dyn Projector>>,
    status: ProjectionStatus,
    min_batch: usize,
    max_batch: usize,
    isolate_after: u32,
    reads: SharedReads,
}

impl ProjectionRunner {
    /// A runner for these projectors. `store` should upcast (projectors see current schemas).
    pub fn new(
        db: ReadModelDb,
        store: Arc<dyn EventStore>,
        projectors: Vec<Arc<dyn Projector>>,
    ) -> Self {
        let status = ProjectionStatus::new(&projectors);
        Self {
            db,
            store,
            projectors,
            status,
            min_batch: MIN_BATCH,
            max_batch: MAX_BATCH,
            isolate_after: ISOLATE_AFTER,
            reads: SharedReads::default(),
        }
    }

    /// The shared log reader of this runner's projectors, for process managers to join.
    pub fn reads(&self) -> SharedReads {
        self.reads.clone()
    }

    /// A fixed number of events per transaction (by default batches grow from 64 to 8,192 events
    /// while the log is behind, see [`ProjectionRunner::with_batch_sizes`]).
    pub fn with_batch_size(self, batch_size: usize) -> Self {
        self.with_batch_sizes(batch_size, batch_size)
    }

    /// Events per transaction: `min` at the head of the log; each full batch doubles the next one,
    /// up to `max`, so a lane far behind (a rebuild) commits thousands of events at once.
    pub fn with_batch_sizes(mut self, min: usize, max: usize) -> Self {
        self.min_batch = min.max(1);
        self.max_batch = max.max(self.min_batch);
        self
    }

    /// Consecutive failures of one projector's `apply` after which the shared lane goes on
    /// without it, leaving it to retry in a lane of its own (default 3).
    pub fn with_isolation_after(mut self, failures: u32) -> Self {
        self.isolate_after = failures.max(1);
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

    fn lane_of(&self, names: &[&str]) -> Result<Vec<Arc<dyn Projector>>, ProjectionError> {
        names.iter().map(|n| self.projector(n).cloned()).collect()
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

    async fn lane_positions(
        &self,
        lane: &[Arc<dyn Projector>],
    ) -> Result<Vec<u64>, ProjectionError> {
        let mut tx = self.db.begin().await?;
        let mut positions = Vec::with_capacity(lane.len());
        for p in lane {
            positions.push(read_checkpoint(&mut tx, p.name()).await?.position);
        }
        tx.commit().await?;
        for (p, pos) in lane.iter().zip(&positions) {
            self.status.set(p.name(), *pos);
        }
        Ok(positions)
    }

    /// Apply the next batch after `position` for one projector. Returns the new position, or `None`
    /// when there was nothing to apply.
    #[tracing::instrument(level = "debug", name = "projection_batch", skip_all, fields(projector = projector.name(), after = position))]
    pub async fn step(
        &self,
        projector: &dyn Projector,
        position: u64,
    ) -> Result<Option<u64>, ProjectionError> {
        let lane = [self.projector(projector.name())?.clone()];
        let mut positions = [position];
        match self.step_lane(&lane, &mut positions, self.min_batch).await {
            Ok(Some((last, _))) => Ok(Some(last)),
            Ok(None) => Ok(None),
            Err(f) => Err(f.error),
        }
    }

    /// Read the batch after the lowest of `positions` (at most `max` events) once, apply it to
    /// every projector of `lane` that has not applied it yet, move each one's checkpoint from its
    /// position to the batch's last with a compare-and-set, and commit once. Returns the batch's
    /// last position and length, or `None` when the log had nothing new.
    async fn step_lane(
        &self,
        lane: &[Arc<dyn Projector>],
        positions: &mut [u64],
        max: usize,
    ) -> Result<Option<(u64, usize)>, LaneFailure> {
        let Some(from) = positions.iter().copied().min() else {
            return Ok(None);
        };
        let batch = self.reads.read_all(self.store.as_ref(), from, max).await?;
        self.apply_lane(lane, positions, &batch).await
    }

    /// The apply half of [`ProjectionRunner::step_lane`], for a `batch` read after the lowest of
    /// `positions`.
    async fn apply_lane(
        &self,
        lane: &[Arc<dyn Projector>],
        positions: &mut [u64],
        batch: &[RecordedEvent],
    ) -> Result<Option<(u64, usize)>, LaneFailure> {
        let Some(last) = batch.last().map(|e| e.global_position) else {
            return Ok(None);
        };
        self.status.observe(batch);
        let mut tx = self.db.begin().await?;
        // One compare-and-set per distinct old position (usually one for the whole lane).
        let mut by_position: BTreeMap<u64, Vec<&'static str>> = BTreeMap::new();
        for (p, pos) in lane.iter().zip(positions.iter()) {
            if *pos < last {
                by_position.entry(*pos).or_default().push(p.name());
            }
        }
        let now = Utc::now();
        for (old, names) in &by_position {
            let moved = move_checkpoints(&mut tx, names, *old, last, now).await?;
            if moved != names.len() as u64 {
                return Err(ProjectionError::CheckpointMoved(names.join(", ")).into());
            }
        }
        for (p, pos) in lane.iter().zip(positions.iter()) {
            let events: Vec<&RecordedEvent> = batch
                .iter()
                .filter(|e| e.global_position > *pos && applies_to(p.as_ref(), e))
                .collect();
            if !events.is_empty() {
                p.apply_batch(&mut tx, &events)
                    .await
                    .map_err(|error| LaneFailure {
                        projector: Some(p.name()),
                        error,
                    })?;
            }
        }
        tx.commit().await?;
        metrics::counter!("tessera_projection_batches_total").increment(1);
        metrics::histogram!("tessera_projection_batch_events").record(batch.len() as f64);
        for (p, pos) in lane.iter().zip(positions.iter_mut()) {
            if *pos < last {
                *pos = last;
                self.status.set(p.name(), last);
            }
        }
        Ok(Some((last, batch.len())))
    }

    /// Apply batches until the projection has reached the head as it was when called. Calls
    /// `on_progress(position, head)` after each batch. Returns the final position.
    pub async fn catch_up(
        &self,
        name: &str,
        on_progress: impl FnMut(u64, u64) + Send,
    ) -> Result<u64, ProjectionError> {
        self.catch_up_together(&[name], on_progress).await
    }

    /// [`ProjectionRunner::catch_up`] for several projections in one lane: each batch is read once
    /// and committed once for all of them. Returns the lowest final position.
    pub async fn catch_up_together(
        &self,
        names: &[&str],
        mut on_progress: impl FnMut(u64, u64) + Send,
    ) -> Result<u64, ProjectionError> {
        let lane = self.lane_of(names)?;
        let head = self.store.head_position().await?;
        let mut positions = self.lane_positions(&lane).await?;
        let mut size = self.min_batch;
        let mut position = positions.iter().copied().min().unwrap_or(head);
        // The next batch is read (and decoded) on another task while this one is applied: every
        // projector of the lane ends a batch at its last position, where the next read starts.
        let mut ahead: Option<ReadAhead> = None;
        while position < head {
            let batch = match ahead.take() {
                Some(read) => read.await.map_err(|e| {
                    StoreError::Unavailable(format!("reading the next batch stopped: {e}"))
                })??,
                None => {
                    self.reads
                        .read_all(self.store.as_ref(), position, size)
                        .await?
                }
            };
            let Some(last) = batch.last().map(|e| e.global_position) else {
                break;
            };
            let next_size = self.next_size(size, batch.len());
            if last < head {
                let (store, reads) = (self.store.clone(), self.reads.clone());
                ahead = Some(tokio::spawn(async move {
                    reads.read_all(store.as_ref(), last, next_size).await
                }));
            }
            self.apply_lane(&lane, &mut positions, &batch)
                .await
                .map_err(|f| f.error)?;
            size = next_size;
            position = positions.iter().copied().min().unwrap_or(head);
            if position != last {
                ahead = None;
            }
            on_progress(position, head.max(position));
        }
        Ok(position)
    }

    fn next_size(&self, size: usize, got: usize) -> usize {
        if got >= size {
            (size * 2).min(self.max_batch)
        } else {
            self.min_batch
        }
    }

    /// Drop a projection's rows and rebuild it from position 0 (`tessera projections rebuild`).
    pub async fn rebuild(
        &self,
        name: &str,
        on_progress: impl FnMut(u64, u64) + Send,
    ) -> Result<u64, ProjectionError> {
        self.rebuild_together(&[name], on_progress).await
    }

    /// Drop the rows of several projections in one transaction and rebuild them from position 0
    /// in one lane (`tessera projections rebuild` without a name): the log is read once for all.
    pub async fn rebuild_together(
        &self,
        names: &[&str],
        on_progress: impl FnMut(u64, u64) + Send,
    ) -> Result<u64, ProjectionError> {
        let lane = self.lane_of(names)?;
        let mut tx = self.db.begin().await?;
        for p in &lane {
            reset_in(&mut tx, p.as_ref()).await?;
        }
        tx.commit().await?;
        for p in &lane {
            self.status.set(p.name(), 0);
        }
        self.catch_up_together(names, on_progress).await
    }

    /// Follow the log live with every projector, in one lane, until `shutdown`; a batch in progress
    /// finishes first. Returns the tasks, so that the caller can wait for them to end (lanes of
    /// isolated projectors are owned by the main lane's task, which waits for them).
    pub fn spawn(self: Arc<Self>, shutdown: CancellationToken) -> JoinSet<()> {
        let mut set = JoinSet::new();
        let lane = self.projectors.clone();
        set.spawn(async move { self.follow(lane, shutdown).await });
        set
    }

    /// The main lane: follows the log with `lane`, moving a projector that keeps failing to a lane
    /// of its own.
    async fn follow(
        self: Arc<Self>,
        mut lane: Vec<Arc<dyn Projector>>,
        shutdown: CancellationToken,
    ) {
        let mut isolated = JoinSet::new();
        while let Some(culprit) = self.run_lane(&lane, &shutdown, true).await {
            lane.retain(|p| p.name() != culprit.name());
            self.status.set_failing(culprit.name(), true);
            tracing::error!(
                projection = culprit.name(),
                failures = self.isolate_after,
                "projector keeps failing: it now follows the log in a lane of its own, the others go on"
            );
            metrics::counter!("tessera_projection_isolations_total", "projector" => culprit.name())
                .increment(1);
            let runner = self.clone();
            let shutdown = shutdown.clone();
            isolated.spawn(async move {
                runner.run_lane(&[culprit], &shutdown, false).await;
            });
        }
        while isolated.join_next().await.is_some() {}
        tracing::info!("projection runner stopped");
    }

    /// Until an event after `after` is appended, `shutdown`, or half a second (the wait is
    /// re-armed by the caller's loop).
    async fn wait_for_more(
        &self,
        lane: &[Arc<dyn Projector>],
        after: u64,
        shutdown: &CancellationToken,
    ) {
        tokio::select! {
            _ = shutdown.cancelled() => {}
            r = self.store.wait_for_append(after, Duration::from_millis(500)) => {
                if let Err(e) = r {
                    tracing::warn!(projections = %lane_names(lane), error = %e, "waiting for events failed");
                }
            }
        }
    }

    /// Follow the log with one lane until `shutdown` (returns `None`), or until, with `isolate`, one
    /// of several projectors failed [`ProjectionRunner::with_isolation_after`] times in a row
    /// (returns it). A failed batch is rolled back and retried with a growing pause.
    async fn run_lane(
        &self,
        lane: &[Arc<dyn Projector>],
        shutdown: &CancellationToken,
        isolate: bool,
    ) -> Option<Arc<dyn Projector>> {
        let mut failures = 0u32;
        let mut blamed: BTreeMap<&'static str, u32> = BTreeMap::new();
        let mut positions: Option<Vec<u64>> = None;
        let mut size = self.min_batch;
        while !shutdown.is_cancelled() {
            if positions.is_none() {
                match self.lane_positions(lane).await {
                    Ok(p) => positions = Some(p),
                    Err(e) => {
                        tracing::error!(projections = %lane_names(lane), error = %e, "cannot read checkpoints");
                        pause(shutdown, Duration::from_secs(1)).await;
                        continue;
                    }
                }
            }
            let Some(pos) = positions.as_mut() else {
                continue;
            };
            let from = pos.iter().copied().min().unwrap_or(0);
            match self.step_lane(lane, pos, size).await {
                Ok(Some((last, n))) => {
                    if failures > 0 && !isolate {
                        for p in lane {
                            self.status.set_failing(p.name(), false);
                        }
                    }
                    failures = 0;
                    blamed.clear();
                    // A short batch reached the head as it was read: wait for more rather than
                    // send a read that would find nothing (it returns at once when more came).
                    if n < size {
                        self.wait_for_more(lane, last, shutdown).await;
                    }
                    size = self.next_size(size, n);
                }
                Ok(None) => {
                    size = self.min_batch;
                    self.wait_for_more(lane, from, shutdown).await;
                }
                Err(LaneFailure {
                    error: ProjectionError::CheckpointMoved(_),
                    ..
                }) => positions = None,
                Err(LaneFailure { projector, error }) => {
                    failures += 1;
                    size = self.min_batch;
                    positions = None;
                    let projection = projector.unwrap_or("(lane)");
                    tracing::error!(projection, lane = %lane_names(lane), position = from, error = %error, "projection batch failed; rolled back, retrying");
                    metrics::counter!("tessera_projection_failures_total", "projector" => projection)
                        .increment(1);
                    if !isolate {
                        for p in lane {
                            self.status.set_failing(p.name(), true);
                        }
                    }
                    if let Some(name) = projector {
                        let n = blamed.entry(name).or_default();
                        *n += 1;
                        if isolate && lane.len() > 1 && *n >= self.isolate_after {
                            return lane.iter().find(|p| p.name() == name).cloned();
                        }
                    }
                    let wait = Duration::from_millis(200 * u64::from(failures.min(50)));
                    pause(shutdown, wait).await;
                }
            }
        }
        None
    }
}

fn lane_names(lane: &[Arc<dyn Projector>]) -> String {
    if lane.len() > 3 {
        return format!("{} projectors", lane.len());
    }
    lane.iter().map(|p| p.name()).collect::<Vec<_>>().join(",")
}

/// `UPDATE … SET position = new WHERE projection IN (names) AND position = old`: rows moved.
async fn move_checkpoints(
    tx: &mut ProjectionTx,
    names: &[&'static str],
    old: u64,
    new: u64,
    now: chrono::DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let list = (0..names.len())
        .map(|i| format!("${}", i + 4))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE projection_checkpoints SET position = $1, updated_at = $2 \
         WHERE position = $3 AND projection IN ({list})"
    );
    match tx {
        ProjectionTx::Sqlite(t) => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(new as i64)
                .bind(now)
                .bind(old as i64);
            for n in names {
                q = q.bind(*n);
            }
            q.execute(&mut **t).await.map(|r| r.rows_affected())
        }
        ProjectionTx::Postgres(t) => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(new as i64)
                .bind(now)
                .bind(old as i64);
            for n in names {
                q = q.bind(*n);
            }
            q.execute(&mut **t).await.map(|r| r.rows_affected())
        }
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
