//! The generic command handler: load an aggregate's stream, decide, append with the expected
//! version, and on a version conflict reload and decide again.

use crate::deadlines::NewDeadline;
use crate::event_store::{
    AppendOutcome, AppendRequest, EventMetadata, EventStore, ExpectedVersion, NewEvent, StoreError,
    StreamId, StreamIdError,
};
use std::any::{Any, TypeId};
use std::fmt::Display;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use tessera_domain::{Decider, DomainEvent, EventDecodeError};
use uuid::Uuid;

/// How many times a command is re-decided after losing a race before giving up.
pub const MAX_ATTEMPTS: u32 = 16;

/// Events read per query while loading an aggregate.
const LOAD_BATCH: usize = 1_000;

/// The result of a command that was accepted.
#[derive(Debug, Clone)]
pub struct Decided<D: Decider> {
    /// The aggregate's state after the new events.
    pub state: D,
    /// The new events (empty when the command changed nothing).
    pub events: Vec<D::Event>,
    /// The append, when there were events; its positions let the caller wait for read models.
    pub outcome: Option<AppendOutcome>,
}

/// Why the engine could not carry out a command, whatever the aggregate would have decided: these
/// are never the client's fault (services answer them as "unavailable" or "internal").
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Lost the race for the stream more than [`MAX_ATTEMPTS`] times.
    #[error("gave up on {stream} after {attempts} version conflicts")]
    Contended {
        /// The stream whose expected version kept losing to other writers.
        stream: StreamId,
        /// Always [`MAX_ATTEMPTS`]: each attempt re-read the stream and decided again.
        attempts: u32,
    },
    /// A stored event could not be decoded, or a new one encoded.
    #[error(transparent)]
    Decode(#[from] EventDecodeError),
    /// The event store failed: unreachable, unreadable, or refusing the append for a reason other
    /// than a version conflict (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An aggregate id made no valid stream name (a bug: ids are validated before commands).
    #[error(transparent)]
    StreamId(#[from] StreamIdError),
}

/// Why a command was not carried out: the aggregate refused it, or the engine failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error + 'static> {
    /// The aggregate refused the command.
    #[error(transparent)]
    Rejected(E),
    /// The engine failed; see [`EngineError`].
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl<E: std::error::Error + 'static> CommandError<E> {
    /// Translate into a service's error: a refusal through `rejected`, an engine failure through
    /// the service error's `From<EngineError>`.
    pub fn map_rejected<X: From<EngineError>>(self, rejected: impl FnOnce(E) -> X) -> X {
        match self {
            CommandError::Rejected(e) => rejected(e),
            CommandError::Engine(e) => X::from(e),
        }
    }
}

impl<E: std::error::Error + 'static> From<StoreError> for CommandError<E> {
    fn from(e: StoreError) -> Self {
        CommandError::Engine(e.into())
    }
}

impl<E: std::error::Error + 'static> From<EventDecodeError> for CommandError<E> {
    fn from(e: EventDecodeError) -> Self {
        CommandError::Engine(e.into())
    }
}

/// Load the aggregate in `stream_id` and its version (0 when the stream does not exist).
pub async fn load<D: Decider>(
    store: &dyn EventStore,
    stream_id: &StreamId,
) -> Result<(D, u64), CommandError<D::Error>> {
    load_from(store, stream_id, D::default(), 0).await
}

/// Fold the events after `version` into `state` (a state known to be at `version`), in batches;
/// returns the state and version at the stream's end (unchanged when nothing is newer or the stream
/// does not exist). For callers that keep aggregate states of their own between reads.
pub async fn catch_up<D: Decider>(
    store: &dyn EventStore,
    stream_id: &StreamId,
    mut state: D,
    mut version: u64,
) -> Result<(D, u64), EngineError> {
    loop {
        let batch = match store.read_stream(stream_id, version + 1, LOAD_BATCH).await {
            Ok(batch) => batch,
            Err(StoreError::StreamNotFound(_)) => break,
            Err(e) => return Err(e.into()),
        };
        let n = batch.len();
        for recorded in batch {
            let event = D::Event::from_stored(&recorded.event_type, &recorded.data)?;
            state = state.evolve(&event);
            version = recorded.stream_version;
        }
        if n < LOAD_BATCH {
            break;
        }
    }
    Ok((state, version))
}

/// [`catch_up`] for the command handler.
async fn load_from<D: Decider>(
    store: &dyn EventStore,
    stream_id: &StreamId,
    state: D,
    version: u64,
) -> Result<(D, u64), CommandError<D::Error>> {
    Ok(catch_up(store, stream_id, state, version).await?)
}

/// [`execute`] storing the same `deadlines` with whatever the command appends (none when it
/// appends nothing).
pub async fn execute_scheduling<D>(
    store: &dyn EventStore,
    stream_id: &StreamId,
    command: &D::Command,
    metadata: &EventMetadata,
    deadlines: Vec<NewDeadline>,
) -> Result<Decided<D>, CommandError<D::Error>>
where
    D: Decider,
    D::Command: Sync,
{
    execute::<D, _>(store, stream_id, command, metadata, move |_, _| {
        deadlines.clone()
    })
    .await
}

/// Run `command` against the aggregate stored in `stream_id`.
///
/// Commands on one stream in this process are batched (docs/decisions/0032-hot-stream-batching.md):
/// each is decided under the stream's slot against the state the slot keeps in memory — which
/// already includes the commands decided before it, committed or still on their way — and its
/// events are folded into that state in place (no copy of the state per command, no read of the
/// stream per command). Whatever queued up while the previous append was in flight is then
/// appended together: one append and one commit for the whole batch, each caller answered with
/// its own result (a refused command fails no neighbour; a refusal is only answered once the
/// decisions it saw are committed). Writers in other processes are still caught by the expected
/// version of each batch (a batch of refusals only checks the stream's version): on a conflict the
/// slot forgets its state, and every command of the batch and those decided after it load the
/// stream again and decide again, at most [`MAX_ATTEMPTS`] times.
///
/// Aggregates with `KEEP_STATE = false` and stores without an instance id are not batched: they
/// load the whole stream for every command, one command at a time.
///
/// `schedule` sees the state after the new events and the events themselves, and returns deadlines
/// to store in the same append (e.g. a lock expiry). Event ids are fresh UUIDv7s on each attempt.
///
/// This function finishes the batch in the caller's task: a caller dropped between deciding and
/// committing leaves its events to the next command on the stream. [`CommandRunner`]'s methods
/// commit in a task of their own instead, so a dropped caller changes nothing.
pub async fn execute<D, S>(
    store: &dyn EventStore,
    stream_id: &StreamId,
    command: &D::Command,
    metadata: &EventMetadata,
    schedule: S,
) -> Result<Decided<D>, CommandError<D::Error>>
where
    D: Decider,
    D::Command: Sync,
    S: Fn(&D, &[D::Event]) -> Vec<NewDeadline> + Send + Sync,
{
    let (state, events, outcome) = run_command::<D, S, D>(
        store,
        None,
        stream_id,
        command,
        metadata,
        schedule,
        D::clone,
    )
    .await?;
    Ok(Decided {
        state,
        events,
        outcome,
    })
}

/// The engine behind [`execute`] and [`CommandRunner`]: the batched path when the store has an
/// instance id and `D::KEEP_STATE`, the one-at-a-time path otherwise. `keep` takes what the caller
/// wants of the state after its events (a clone for [`Decided`], nothing for [`Applied`]).
/// With `shared`, the batch is committed in a task of its own (see [`execute`]).
async fn run_command<D, S, T>(
    store: &dyn EventStore,
    shared: Option<&Arc<dyn EventStore>>,
    stream_id: &StreamId,
    command: &D::Command,
    metadata: &EventMetadata,
    schedule: S,
    keep: fn(&D) -> T,
) -> Result<(T, Vec<D::Event>, Option<AppendOutcome>), CommandError<D::Error>>
where
    D: Decider,
    D::Command: Sync,
    S: Fn(&D, &[D::Event]) -> Vec<NewDeadline> + Send + Sync,
{
    let Some(instance) = store.instance_id().filter(|_| D::KEEP_STATE) else {
        return execute_alone::<D, S, T>(store, stream_id, command, metadata, schedule, keep).await;
    };
    let slot = slots::slot(Some(instance), stream_id);
    for attempt in 0..MAX_ATTEMPTS {
        let cell = slots::Cell::default();
        let verdict = {
            let mut inner = slot.inner.lock().await;
            let (mut state, mut version) =
                match inner.cached.take().and_then(slots::Cached::into_state::<D>) {
                    Some(cached) => cached,
                    None => {
                        let (state, version) = load::<D>(store, stream_id).await?;
                        inner.committed = version;
                        (state, version)
                    }
                };
            let decided = state.decide(command);
            let encoded = match &decided {
                Ok(events) => to_new_events::<D>(events, metadata),
                Err(_) => Ok(Vec::new()),
            };
            let (verdict, new_events, deadlines) = match (decided, encoded) {
                (_, Err(e)) => {
                    // Nothing was folded in: the state is still the slot's.
                    inner.cached = Some(slots::Cached::new(state, version));
                    return Err(e.into());
                }
                (Err(e), _) => (Err(e), Vec::new(), Vec::new()),
                (Ok(events), Ok(new_events)) => {
                    let mut deadlines = Vec::new();
                    if !events.is_empty() {
                        // Folded in place: the state is moved, never copied.
                        for event in &events {
                            state = state.evolve(event);
                        }
                        version += events.len() as u64;
                        deadlines = schedule(&state, &events);
                    }
                    (Ok((keep(&state), events)), new_events, deadlines)
                }
            };
            inner.cached = Some(slots::Cached::new(state, version));
            inner.pending.push(slots::Pending {
                events: new_events,
                deadlines,
                cell: cell.clone(),
            });
            verdict
        };
        let done = match shared {
            Some(store) => {
                let (slot, store, stream, cell) =
                    (slot.clone(), store.clone(), stream_id.clone(), cell.clone());
                // A task of its own: the batch is committed even when this caller is dropped.
                // It stays inside the caller's span (the request's trace, docs/operations.md).
                let settle =
                    async move { slots::settle(&slot, store.as_ref(), &stream, &cell).await };
                match tokio::spawn(tracing::Instrument::instrument(
                    settle,
                    tracing::Span::current(),
                ))
                .await
                {
                    Ok(done) => done,
                    Err(e) => slots::Done::Failed(StoreError::Unavailable(format!(
                        "the commit task failed: {e}"
                    ))),
                }
            }
            None => slots::settle(&slot, store, stream_id, &cell).await,
        };
        match done {
            slots::Done::Committed(outcome) => {
                return match verdict {
                    Ok((kept, events)) => Ok((kept, events, outcome)),
                    Err(e) => Err(CommandError::Rejected(e)),
                };
            }
            slots::Done::Retry => {
                tracing::debug!(stream = %stream_id, "batch not committed as decided, deciding again");
                after_conflict(attempt).await;
            }
            slots::Done::Failed(e) => return Err(e.into()),
        }
    }
    Err(EngineError::Contended {
        stream: stream_id.clone(),
        attempts: MAX_ATTEMPTS,
    }
    .into())
}

/// The pause after the `attempt`-th (from 0) lost race for a stream, before deciding again: a
/// random time up to 2 ms × 2^attempt, at most 64 ms. Writers in several processes retrying on one
/// hot stream at once would otherwise collide again on every attempt and give up together
/// (docs/decisions/0038-several-processes.md).
async fn after_conflict(attempt: u32) {
    let ceiling_ms = (2u64 << attempt.min(5)).min(64);
    tokio::time::sleep(std::time::Duration::from_micros(fastrand::u64(
        0..=ceiling_ms * 1000,
    )))
    .await;
}

/// One command at a time, loading the whole stream for each (see [`execute`]).
async fn execute_alone<D, S, T>(
    store: &dyn EventStore,
    stream_id: &StreamId,
    command: &D::Command,
    metadata: &EventMetadata,
    schedule: S,
    keep: fn(&D) -> T,
) -> Result<(T, Vec<D::Event>, Option<AppendOutcome>), CommandError<D::Error>>
where
    D: Decider,
    D::Command: Sync,
    S: Fn(&D, &[D::Event]) -> Vec<NewDeadline> + Send + Sync,
{
    let slot = slots::slot(store.instance_id(), stream_id);
    let _flush = slot.flush.lock().await;
    let mut inner = slot.inner.lock().await;
    slots::flush_held(&mut inner, store, stream_id).await;
    inner.cached = None;
    for attempt in 0..MAX_ATTEMPTS {
        let (state, version) = load::<D>(store, stream_id).await?;
        let events = state.decide(command).map_err(CommandError::Rejected)?;
        if events.is_empty() {
            return Ok((keep(&state), events, None));
        }
        let new_events = to_new_events::<D>(&events, metadata)?;
        let new_state = events.iter().fold(state, |s, e| s.evolve(e));
        let request = AppendRequest {
            stream_id: stream_id.clone(),
            expected_version: ExpectedVersion::Exact(version),
            events: new_events,
            deadlines: schedule(&new_state, &events),
        };
        match store.append(request).await {
            Ok(outcome) => return Ok((keep(&new_state), events, Some(outcome))),
            Err(StoreError::VersionConflict { .. }) => {
                tracing::debug!(stream = %stream_id, "version conflict, deciding again");
                after_conflict(attempt).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(EngineError::Contended {
        stream: stream_id.clone(),
        attempts: MAX_ATTEMPTS,
    }
    .into())
}

/// What an accepted command did, without the aggregate's state ([`CommandRunner::apply`]): for
/// callers of large aggregates (a seat session) that answer from the events alone, so the engine
/// need not copy the state for them.
#[derive(Debug, Clone)]
pub struct Applied<D: Decider> {
    /// The new events (empty when the command changed nothing).
    pub events: Vec<D::Event>,
    /// The append that carried them (a batch's append seen through this command's events alone:
    /// its positions and the stream version after its last event); `None` when nothing was written.
    pub outcome: Option<AppendOutcome>,
}

impl<D: Decider> Applied<D> {
    /// The global position of this command's last event (for read-your-writes); `None` when
    /// nothing was written.
    pub fn position(&self) -> Option<u64> {
        self.outcome.as_ref().map(AppendOutcome::last_position)
    }
}

impl<D: Decider> Decided<D> {
    /// The global position the append reached (for read-your-writes); `None` when nothing was
    /// written.
    pub fn position(&self) -> Option<u64> {
        self.outcome.as_ref().map(AppendOutcome::last_position)
    }
}

/// The one command runner every application service uses: stream names from aggregate ids, load,
/// decide, append with the expected version, retry on conflict, deadlines stored with the append.
/// Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct CommandRunner {
    store: Arc<dyn EventStore>,
}

impl std::fmt::Debug for CommandRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandRunner").finish_non_exhaustive()
    }
}

impl CommandRunner {
    /// A runner over `store` (upcasting already applied by the caller, as for every read path).
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self { store }
    }

    /// The store it appends to.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// The stream of aggregate `D` with id `id`: `{D::CATEGORY}-{id}`.
    pub fn stream<D: Decider>(id: impl Display) -> Result<StreamId, EngineError> {
        Ok(StreamId::parse(format!("{}-{id}", D::CATEGORY))?)
    }

    /// Start a command that changes several aggregates atomically ([`AtomicCommand`]); its events
    /// carry `metadata`.
    pub fn atomic(&self, metadata: &EventMetadata) -> AtomicCommand {
        AtomicCommand::new(self.store.clone(), metadata)
    }

    /// The aggregate in `stream_id` and its version (`D::default()` and 0 when the stream does not
    /// exist).
    pub async fn load<D: Decider>(&self, stream_id: &StreamId) -> Result<(D, u64), EngineError> {
        load::<D>(self.store.as_ref(), stream_id)
            .await
            .map_err(|e| match e {
                CommandError::Engine(e) => e,
                // `load` decides nothing, so it refuses nothing.
                CommandError::Rejected(e) => EngineError::Store(StoreError::Corrupt(e.to_string())),
            })
    }

    /// Run `command` against the aggregate in `stream_id` ([`execute`]), storing no deadlines.
    pub async fn run<D>(
        &self,
        stream_id: &StreamId,
        command: &D::Command,
        metadata: &EventMetadata,
    ) -> Result<Decided<D>, CommandError<D::Error>>
    where
        D: Decider,
        D::Command: Sync,
    {
        self.run_with::<D, _>(stream_id, command, metadata, |_, _| Vec::new())
            .await
    }

    /// [`CommandRunner::run`] storing `deadlines` with whatever the command appends.
    pub async fn run_scheduling<D>(
        &self,
        stream_id: &StreamId,
        command: &D::Command,
        metadata: &EventMetadata,
        deadlines: Vec<NewDeadline>,
    ) -> Result<Decided<D>, CommandError<D::Error>>
    where
        D: Decider,
        D::Command: Sync,
    {
        self.run_with::<D, _>(stream_id, command, metadata, move |_, _| deadlines.clone())
            .await
    }

    /// [`CommandRunner::run`] with deadlines computed from the new state and events ([`execute`]).
    /// The batch is committed in a task of its own: dropping the caller does not strand it.
    pub async fn run_with<D, S>(
        &self,
        stream_id: &StreamId,
        command: &D::Command,
        metadata: &EventMetadata,
        schedule: S,
    ) -> Result<Decided<D>, CommandError<D::Error>>
    where
        D: Decider,
        D::Command: Sync,
        S: Fn(&D, &[D::Event]) -> Vec<NewDeadline> + Send + Sync,
    {
        let (state, events, outcome) = run_command::<D, S, D>(
            self.store.as_ref(),
            Some(&self.store),
            stream_id,
            command,
            metadata,
            schedule,
            D::clone,
        )
        .await?;
        Ok(Decided {
            state,
            events,
            outcome,
        })
    }

    /// [`CommandRunner::run_scheduling`] answering without the aggregate's state ([`Applied`]):
    /// the engine then never copies the state for this command — for large, hot aggregates such as
    /// a 15,000-seat session (docs/decisions/0032-hot-stream-batching.md).
    ///
    /// Errors: as [`execute`].
    pub async fn apply<D>(
        &self,
        stream_id: &StreamId,
        command: &D::Command,
        metadata: &EventMetadata,
        deadlines: Vec<NewDeadline>,
    ) -> Result<Applied<D>, CommandError<D::Error>>
    where
        D: Decider,
        D::Command: Sync,
    {
        let ((), events, outcome) = run_command::<D, _, ()>(
            self.store.as_ref(),
            Some(&self.store),
            stream_id,
            command,
            metadata,
            move |_, _| deadlines.clone(),
            |_| (),
        )
        .await?;
        Ok(Applied { events, outcome })
    }

    /// How many commands on `stream_id` this process has decided and not yet committed (the next
    /// batch's size, for diagnostics and tests).
    pub async fn queued(&self, stream_id: &StreamId) -> usize {
        let slot = slots::slot(self.store.instance_id(), stream_id);
        slot.inner.lock().await.pending.len()
    }

    /// Decide `command` against the aggregate in `stream_id` without storing anything: the events
    /// it would produce now, or its refusal. Decided against the state the runner keeps for the
    /// stream (loaded when it has none; it includes commands decided and still being committed),
    /// so it reads nothing when the stream is hot. A check before a slower step, never a promise:
    /// the real command is decided again when it runs.
    ///
    /// Errors: [`CommandError::Rejected`] with the aggregate's refusal; engine failures loading.
    pub async fn check<D>(
        &self,
        stream_id: &StreamId,
        command: &D::Command,
    ) -> Result<Vec<D::Event>, CommandError<D::Error>>
    where
        D: Decider,
        D::Command: Sync,
    {
        let store = self.store.as_ref();
        let Some(instance) = store.instance_id().filter(|_| D::KEEP_STATE) else {
            let (state, _) = load::<D>(store, stream_id).await?;
            return state.decide(command).map_err(CommandError::Rejected);
        };
        let slot = slots::slot(Some(instance), stream_id);
        let mut inner = slot.inner.lock().await;
        let (state, version) = match inner.cached.take().and_then(slots::Cached::into_state::<D>) {
            Some(cached) => cached,
            None => {
                let (state, version) = load::<D>(store, stream_id).await?;
                inner.committed = version;
                (state, version)
            }
        };
        let decided = state.decide(command);
        inner.cached = Some(slots::Cached::new(state, version));
        decided.map_err(CommandError::Rejected)
    }
}

/// A command that changes several aggregates and commits all their events in one
/// [`EventStore::append_streams`] (DESIGN.md §8, docs/decisions/0009-multi-stream-append.md).
///
/// Name the streams it touches with [`AtomicCommand::stream`], then [`AtomicCommand::run`] a
/// synchronous decision over their states. The runner loads every stream, lets the decision run
/// commands through [`Decisions::decide`], and appends each changed stream with the version it
/// was decided against; when any stream moved meanwhile, nothing is written and it loads and
/// decides again (at most [`MAX_ATTEMPTS`] times), like the single-stream path.
pub struct AtomicCommand {
    store: Arc<dyn EventStore>,
    metadata: EventMetadata,
    unit: u64,
    streams: Vec<Registered>,
    /// A stream named twice with different aggregate types (a bug), reported by `run`.
    misuse: Option<String>,
}

impl std::fmt::Debug for AtomicCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtomicCommand")
            .field(
                "streams",
                &self.streams.iter().map(|r| &r.stream).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Loads one stream's aggregate (of the type it was registered with), catching up from a cached
/// state when there is one.
type LoadFn = for<'a> fn(
    &'a dyn EventStore,
    &'a StreamId,
    Option<slots::Cached>,
) -> Pin<
    Box<dyn Future<Output = Result<slots::Cached, EngineError>> + Send + 'a>,
>;

struct Registered {
    stream: StreamId,
    type_id: TypeId,
    load: LoadFn,
}

fn load_erased<'a, D: Decider>(
    store: &'a dyn EventStore,
    stream: &'a StreamId,
    cached: Option<slots::Cached>,
) -> Pin<Box<dyn Future<Output = Result<slots::Cached, EngineError>> + Send + 'a>> {
    Box::pin(async move {
        let (state, version) = match cached.and_then(slots::Cached::into_state::<D>) {
            Some((state, version)) => catch_up(store, stream, state, version).await?,
            None => catch_up(store, stream, D::default(), 0).await?,
        };
        Ok(slots::Cached::new(state, version))
    })
}

/// Names one aggregate of an [`AtomicCommand`]; valid only with the command that made it.
pub struct Handle<D> {
    unit: u64,
    index: usize,
    _aggregate: PhantomData<fn() -> D>,
}

impl<D> Clone for Handle<D> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<D> Copy for Handle<D> {}

impl<D> Handle<D> {
    /// Which stream of its command it names (0 for the first named).
    pub fn index(&self) -> usize {
        self.index
    }
}

impl<D> std::fmt::Debug for Handle<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("index", &self.index)
            .finish()
    }
}

/// `events` as stored: each with a new id, its stored type name and schema version, and `metadata`.
fn to_new_events<D: Decider>(
    events: &[D::Event],
    metadata: &EventMetadata,
) -> Result<Vec<NewEvent>, EngineError> {
    events
        .iter()
        .map(|event| {
            let (event_type, data) = event.to_stored()?;
            Ok(NewEvent {
                event_id: Uuid::now_v7(),
                schema_version: D::Event::schema_version(&event_type),
                event_type,
                data,
                metadata: metadata.clone(),
            })
        })
        .collect()
}

/// The aggregates of one attempt of an [`AtomicCommand`], as loaded, and the events decided so
/// far.
pub struct Decisions {
    unit: u64,
    metadata: EventMetadata,
    entries: Vec<Entry>,
}

struct Entry {
    stream: StreamId,
    /// The state as loaded, at `base.version`.
    base: slots::Cached,
    /// The state after the events decided so far (none yet: `base`).
    current: Option<Box<dyn Any + Send + Sync>>,
    events: Vec<NewEvent>,
    deadlines: Vec<NewDeadline>,
}

impl std::fmt::Debug for Decisions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decisions")
            .field(
                "streams",
                &self
                    .entries
                    .iter()
                    .map(|e| (&e.stream, e.base.version, e.events.len()))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn foreign_handle() -> EngineError {
    EngineError::Store(StoreError::InvalidRequest(
        "a handle used with another atomic command than the one that made it".into(),
    ))
}

impl Decisions {
    fn entry<D: Decider>(&self, handle: Handle<D>) -> Result<(&Entry, &D), EngineError> {
        let entry = self
            .entries
            .get(handle.index)
            .filter(|_| handle.unit == self.unit)
            .ok_or_else(foreign_handle)?;
        let state = match &entry.current {
            Some(current) => current.downcast_ref::<D>(),
            None => entry.base.state.downcast_ref::<D>(),
        }
        .ok_or_else(foreign_handle)?;
        Ok((entry, state))
    }

    /// The aggregate's state: as loaded, with the events decided so far in this attempt folded in.
    ///
    /// Errors: only for a handle of another [`AtomicCommand`] (a bug).
    pub fn state<D: Decider>(&self, handle: Handle<D>) -> Result<&D, EngineError> {
        Ok(self.entry(handle)?.1)
    }

    /// The stream version the aggregate was loaded at (0: the stream does not exist).
    ///
    /// Errors: only for a handle of another [`AtomicCommand`] (a bug).
    pub fn version<D: Decider>(&self, handle: Handle<D>) -> Result<u64, EngineError> {
        Ok(self.entry(handle)?.0.base.version)
    }

    /// Decide `command` against the aggregate's current state; its events are kept for the commit
    /// and folded into the state (a second command on the same aggregate sees them). Returns the
    /// new events (none when the command changes nothing).
    ///
    /// Errors: [`CommandError::Rejected`] when the aggregate refuses (nothing is kept);
    /// [`CommandError::Engine`] when an event cannot be encoded or the handle is foreign.
    pub fn decide<D>(
        &mut self,
        handle: Handle<D>,
        command: &D::Command,
    ) -> Result<Vec<D::Event>, CommandError<D::Error>>
    where
        D: Decider,
    {
        let (_, state) = self.entry(handle)?;
        let events = state.decide(command).map_err(CommandError::Rejected)?;
        if events.is_empty() {
            return Ok(events);
        }
        let new_events = to_new_events::<D>(&events, &self.metadata)?;
        let next = events.iter().fold(state.clone(), |s, e| s.evolve(e));
        let entry = &mut self.entries[handle.index];
        entry.current = Some(Box::new(next));
        entry.events.extend(new_events);
        Ok(events)
    }

    /// Store `deadlines` with the aggregate's events, in the same commit; dropped when the
    /// aggregate gets no events (as with [`CommandRunner::run_scheduling`]).
    ///
    /// Errors: only for a handle of another [`AtomicCommand`] (a bug).
    pub fn schedule<D: Decider>(
        &mut self,
        handle: Handle<D>,
        deadlines: Vec<NewDeadline>,
    ) -> Result<(), EngineError> {
        self.entry(handle)?;
        self.entries[handle.index].deadlines.extend(deadlines);
        Ok(())
    }
}

/// What an [`AtomicCommand`] committed.
#[derive(Debug, Clone)]
pub struct Committed<T> {
    /// What the decision returned.
    pub value: T,
    /// Each stream that got events, with its append's outcome (empty when nothing changed).
    pub outcomes: Vec<(StreamId, AppendOutcome)>,
}

impl<T> Committed<T> {
    /// The highest global position the commit reached (for read-your-writes); `None` when
    /// nothing was written.
    pub fn position(&self) -> Option<u64> {
        self.outcomes.iter().map(|(_, o)| o.last_position()).max()
    }
}

static UNITS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl AtomicCommand {
    /// An atomic command over `store` whose events carry `metadata`.
    pub fn new(store: Arc<dyn EventStore>, metadata: &EventMetadata) -> Self {
        Self {
            store,
            metadata: metadata.clone(),
            unit: UNITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            streams: Vec::new(),
            misuse: None,
        }
    }

    /// Take part the aggregate `D` stored in `stream_id`. Naming the same stream again returns the
    /// same handle.
    pub fn stream<D: Decider>(&mut self, stream_id: &StreamId) -> Handle<D> {
        let unit = self.unit;
        let handle = move |index| Handle {
            unit,
            index,
            _aggregate: PhantomData,
        };
        if let Some(index) = self.streams.iter().position(|r| r.stream == *stream_id) {
            if self.streams[index].type_id != TypeId::of::<D>() {
                self.misuse = Some(format!(
                    "stream {stream_id} named twice with different aggregate types"
                ));
            }
            return handle(index);
        }
        self.streams.push(Registered {
            stream: stream_id.clone(),
            type_id: TypeId::of::<D>(),
            load: load_erased::<D>,
        });
        handle(self.streams.len() - 1)
    }

    /// Load every named aggregate, call `decide`, and commit the events it decided (with their
    /// deadlines) to all changed streams at once, each with the version it was loaded at. On a
    /// version conflict on any stream nothing is written and all of it runs again, so `decide`
    /// must depend only on the states it is given (and what it captured).
    ///
    /// Commands of this process on these streams queue behind each other (slots taken in sorted
    /// order, so two atomic commands never wait on each other in a cycle).
    ///
    /// Errors: whatever `decide` returns (nothing is written); engine failures through
    /// `E: From<EngineError>` — [`EngineError::Contended`] after [`MAX_ATTEMPTS`] conflicts
    /// (naming the stream of the last one), store and decode failures.
    pub async fn run<T, E, F>(self, mut decide: F) -> Result<Committed<T>, E>
    where
        F: FnMut(&mut Decisions) -> Result<T, E> + Send,
        E: From<EngineError>,
        T: Send,
    {
        if let Some(misuse) = self.misuse {
            return Err(EngineError::Store(StoreError::InvalidRequest(misuse)).into());
        }
        let store = self.store.as_ref();
        let instance = store.instance_id();
        let mut order: Vec<usize> = (0..self.streams.len()).collect();
        order.sort_by(|&a, &b| self.streams[a].stream.cmp(&self.streams[b].stream));
        let mut guards: Vec<Option<slots::Guard>> = (0..self.streams.len()).map(|_| None).collect();
        // Held to the end: no batch of single-stream commands is appended meanwhile.
        let mut flushes: Vec<slots::FlushGuard> = Vec::with_capacity(self.streams.len());
        for i in order {
            let stream = &self.streams[i].stream;
            let slot = slots::slot(instance, stream);
            flushes.push(slot.flush.clone().lock_owned().await);
            let mut guard = slot.inner.clone().lock_owned().await;
            // Commands decided before this one are committed first; their state is then the
            // stream's (or forgotten, when their batch failed).
            slots::flush_held(&mut guard, store, stream).await;
            guards[i] = Some(guard);
        }
        let mut guards: Vec<slots::Guard> = guards.into_iter().flatten().collect();
        // Put what is known to be a true prefix of each stream back into its slot.
        let remember = |guards: &mut [slots::Guard], cached: Vec<Option<slots::Cached>>| {
            if instance.is_some() {
                for (guard, cached) in guards.iter_mut().zip(cached) {
                    if let Some(c) = &cached {
                        guard.committed = c.version;
                    }
                    guard.cached = cached;
                }
            }
        };
        let mut conflicted = None;
        for attempt in 0..MAX_ATTEMPTS {
            let mut entries = Vec::with_capacity(self.streams.len());
            for (registered, guard) in self.streams.iter().zip(guards.iter_mut()) {
                let base =
                    (registered.load)(store, &registered.stream, guard.cached.take()).await?;
                entries.push(Entry {
                    stream: registered.stream.clone(),
                    base,
                    current: None,
                    events: Vec::new(),
                    deadlines: Vec::new(),
                });
            }
            let mut decisions = Decisions {
                unit: self.unit,
                metadata: self.metadata.clone(),
                entries,
            };
            let decided = decide(&mut decisions);
            let entries = decisions.entries;
            let value = match decided {
                Ok(value) => value,
                Err(e) => {
                    remember(
                        &mut guards,
                        entries.into_iter().map(|e| Some(e.base)).collect(),
                    );
                    return Err(e);
                }
            };
            let requests: Vec<AppendRequest> = entries
                .iter()
                .filter(|e| !e.events.is_empty())
                .map(|e| AppendRequest {
                    stream_id: e.stream.clone(),
                    expected_version: ExpectedVersion::Exact(e.base.version),
                    events: e.events.clone(),
                    deadlines: e.deadlines.clone(),
                })
                .collect();
            if requests.is_empty() {
                remember(
                    &mut guards,
                    entries.into_iter().map(|e| Some(e.base)).collect(),
                );
                return Ok(Committed {
                    value,
                    outcomes: Vec::new(),
                });
            }
            match store.append_streams(requests).await {
                Ok(outcomes) => {
                    let mut outcomes = outcomes.into_iter();
                    let mut committed = Vec::new();
                    let mut cached = Vec::with_capacity(entries.len());
                    for entry in entries {
                        if entry.events.is_empty() {
                            cached.push(Some(entry.base));
                            continue;
                        }
                        let Some(outcome) = outcomes.next() else {
                            cached.push(None);
                            continue;
                        };
                        // A deduplicated commit says nothing of the stream's state now.
                        cached.push(match (outcome.deduplicated, entry.current) {
                            (false, Some(state)) => Some(slots::Cached {
                                state,
                                version: outcome.stream_version,
                            }),
                            _ => None,
                        });
                        committed.push((entry.stream, outcome));
                    }
                    remember(&mut guards, cached);
                    return Ok(Committed {
                        value,
                        outcomes: committed,
                    });
                }
                Err(StoreError::VersionConflict { stream, .. }) => {
                    // Another process wrote first; what was loaded is still a true prefix.
                    tracing::debug!(%stream, "version conflict in an atomic command, deciding again");
                    remember(
                        &mut guards,
                        entries.into_iter().map(|e| Some(e.base)).collect(),
                    );
                    conflicted = Some(stream);
                    after_conflict(attempt).await;
                }
                Err(e) => {
                    remember(
                        &mut guards,
                        entries.into_iter().map(|e| Some(e.base)).collect(),
                    );
                    return Err(EngineError::Store(e).into());
                }
            }
        }
        let stream = conflicted
            .or_else(|| self.streams.first().map(|r| r.stream.clone()))
            .ok_or_else(|| EngineError::Store(StoreError::InvalidRequest("no streams".into())))?;
        Err(EngineError::Contended {
            stream,
            attempts: MAX_ATTEMPTS,
        }
        .into())
    }
}

/// Per-stream slots: the aggregate state this process keeps for a stream, the commands decided
/// against it and not yet committed, and the lock that lets one batch at a time be appended.
/// Keyed by the store's instance id and the stream; bounded.
///
/// Lock order: `flush` before `inner`, and a batch's deciders hold `inner` only while deciding
/// (never while waiting for another lock), so nothing waits in a cycle.
mod slots {
    use crate::deadlines::NewDeadline;
    use crate::event_store::{
        AppendOutcome, AppendRequest, EventStore, ExpectedVersion, NewEvent, StoreError, StreamId,
    };
    use std::any::Any;
    use std::collections::HashMap;
    use std::sync::{Arc, LazyLock, Mutex};
    use tessera_domain::Decider;
    use uuid::Uuid;

    /// Slots kept at most; past it the least recently used idle half is dropped.
    const CAPACITY: usize = 4_096;

    /// An aggregate state at a stream version.
    pub struct Cached {
        pub(super) state: Box<dyn Any + Send + Sync>,
        pub(super) version: u64,
    }

    impl Cached {
        pub fn new<D: Decider>(state: D, version: u64) -> Self {
            Self {
                state: Box::new(state),
                version,
            }
        }

        /// The state, when it is of type `D` (a stream always holds one aggregate type).
        pub fn into_state<D: Decider>(self) -> Option<(D, u64)> {
            let version = self.version;
            self.state.downcast::<D>().ok().map(|s| (*s, version))
        }
    }

    /// How a decided command's batch ended.
    #[derive(Debug, Clone)]
    pub enum Done {
        /// Committed (or, for a batch without events, the stream was still at the version the
        /// batch was decided on); this command's share of the append, if it had events.
        Committed(Option<AppendOutcome>),
        /// Not committed because the state it was decided on was not the stream's: decide again.
        Retry,
        /// The store failed this batch.
        Failed(StoreError),
    }

    /// Where a decided command's end is put by whoever commits its batch.
    pub type Cell = Arc<Mutex<Option<Done>>>;

    /// A decided command waiting for its batch's commit.
    pub struct Pending {
        pub events: Vec<NewEvent>,
        pub deadlines: Vec<NewDeadline>,
        pub cell: Cell,
    }

    /// What one slot holds under its `inner` lock.
    #[derive(Default)]
    pub struct Inner {
        /// The state with every decided command folded in (committed or pending), at the
        /// version it will have once they are all committed; `None`: load it from the store.
        pub cached: Option<Cached>,
        /// The stream version known committed: the expected version of the next batch.
        pub committed: u64,
        /// Decided commands not yet taken by a commit, in decision order.
        pub pending: Vec<Pending>,
    }

    impl Inner {
        /// Forget the state (it is no longer known to be the stream's) and send every pending
        /// command back to decide again.
        fn forget(&mut self) {
            self.cached = None;
            for pending in self.pending.drain(..) {
                put(&pending.cell, Done::Retry);
            }
        }
    }

    fn put(cell: &Cell, done: Done) {
        *cell.lock().unwrap_or_else(|p| p.into_inner()) = Some(done);
    }

    fn taken(cell: &Cell) -> Option<Done> {
        cell.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// One stream's slot.
    #[derive(Default)]
    pub struct Slot {
        /// The state and the pending commands.
        pub inner: Arc<tokio::sync::Mutex<Inner>>,
        /// Held while a batch is appended (and by atomic and one-at-a-time commands throughout).
        pub flush: Arc<tokio::sync::Mutex<()>>,
    }

    /// `inner` held until dropped.
    pub type Guard = tokio::sync::OwnedMutexGuard<Inner>;

    /// `flush` held until dropped.
    pub type FlushGuard = tokio::sync::OwnedMutexGuard<()>;

    /// Wait until the batch holding `cell`'s command is committed, committing it (with everything
    /// else pending) when nobody has yet; returns how it ended.
    pub async fn settle(
        slot: &Slot,
        store: &dyn EventStore,
        stream: &StreamId,
        cell: &Cell,
    ) -> Done {
        let _flush = slot.flush.lock().await;
        if let Some(done) = taken(cell) {
            return done;
        }
        let (batch, expected) = {
            let mut inner = slot.inner.lock().await;
            (std::mem::take(&mut inner.pending), inner.committed)
        };
        let (events, deadlines, shares) = split(batch);
        // Deciders go on deciding against the slot's state while this batch is appended.
        let result = commit(store, stream, expected, events, deadlines).await;
        let mut inner = slot.inner.lock().await;
        finish(&mut inner, shares, result);
        drop(inner);
        taken(cell).unwrap_or(Done::Retry)
    }

    /// Commit whatever is pending while holding both locks (atomic and one-at-a-time commands
    /// start with this, so they see only committed state).
    pub async fn flush_held(inner: &mut Inner, store: &dyn EventStore, stream: &StreamId) {
        if inner.pending.is_empty() {
            return;
        }
        let (events, deadlines, shares) = split(std::mem::take(&mut inner.pending));
        let expected = inner.committed;
        let result = commit(store, stream, expected, events, deadlines).await;
        finish(inner, shares, result);
    }

    /// One append for the whole batch, expecting the stream at `expected`; for a batch without
    /// events (refusals, commands that changed nothing) a check that the stream is still there.
    /// Records `tessera_batch_events` and `tessera_append_seconds` (docs/operations.md).
    #[tracing::instrument(level = "debug", name = "command_batch", skip_all, fields(aggregate = stream.category(), stream = %stream, events = events.len() as u64))]
    async fn commit(
        store: &dyn EventStore,
        stream: &StreamId,
        expected: u64,
        events: Vec<NewEvent>,
        deadlines: Vec<NewDeadline>,
    ) -> Result<Option<AppendOutcome>, StoreError> {
        let category = stream.category().to_owned();
        metrics::histogram!("tessera_batch_events", "category" => category.clone())
            .record(events.len() as f64);
        let started = std::time::Instant::now();
        let result = append_batch(store, stream, expected, events, deadlines).await;
        let outcome = match &result {
            Ok(_) => "committed",
            Err(StoreError::VersionConflict { .. }) => "conflict",
            Err(_) => "failed",
        };
        metrics::histogram!("tessera_append_seconds", "category" => category, "outcome" => outcome)
            .record(started.elapsed().as_secs_f64());
        result
    }

    async fn append_batch(
        store: &dyn EventStore,
        stream: &StreamId,
        expected: u64,
        events: Vec<NewEvent>,
        deadlines: Vec<NewDeadline>,
    ) -> Result<Option<AppendOutcome>, StoreError> {
        if events.is_empty() {
            let actual = store.stream_version(stream).await?;
            return if actual == expected {
                Ok(None)
            } else {
                Err(StoreError::VersionConflict {
                    stream: stream.clone(),
                    expected: ExpectedVersion::Exact(expected),
                    actual,
                })
            };
        }
        store
            .append(AppendRequest {
                stream_id: stream.clone(),
                expected_version: ExpectedVersion::Exact(expected),
                events,
                deadlines,
            })
            .await
            .map(Some)
    }

    /// A batch's events and deadlines in decision order, and each command's event count and cell.
    fn split(batch: Vec<Pending>) -> (Vec<NewEvent>, Vec<NewDeadline>, Vec<(usize, Cell)>) {
        metrics::histogram!("tessera_batch_commands").record(batch.len() as f64);
        let mut events = Vec::with_capacity(batch.iter().map(|p| p.events.len()).sum());
        let mut deadlines = Vec::new();
        let mut shares = Vec::with_capacity(batch.len());
        for pending in batch {
            shares.push((pending.events.len(), pending.cell));
            events.extend(pending.events);
            deadlines.extend(pending.deadlines);
        }
        (events, deadlines, shares)
    }

    /// Answer each command of a batch (its event count and cell, in order) after its commit
    /// (`inner` locked).
    fn finish(
        inner: &mut Inner,
        shares: Vec<(usize, Cell)>,
        result: Result<Option<AppendOutcome>, StoreError>,
    ) {
        match result {
            Ok(outcome) => {
                match &outcome {
                    // A deduplicated commit says nothing of the stream's state now.
                    Some(o) if o.deduplicated => inner.forget(),
                    Some(o) => inner.committed = o.stream_version,
                    None => {}
                }
                let total: usize = shares.iter().map(|(n, _)| n).sum();
                let mut offset = 0;
                for (n, cell) in shares {
                    let share = match (&outcome, n) {
                        (Some(o), n) if n > 0 => {
                            let after = (total - offset - n) as u64;
                            Some(AppendOutcome {
                                stream_version: o.stream_version.saturating_sub(after),
                                positions: o
                                    .positions
                                    .get(offset..offset + n)
                                    .map_or_else(Vec::new, <[u64]>::to_vec),
                                deduplicated: o.deduplicated,
                            })
                        }
                        _ => None,
                    };
                    offset += n;
                    put(&cell, Done::Committed(share));
                }
            }
            Err(e) => {
                // Everything decided on top of this batch was decided on a state that is not the
                // stream's: all of it decides again, from a fresh load.
                inner.forget();
                let done = match e {
                    StoreError::VersionConflict { .. } => {
                        tracing::debug!(error = %e, "batch lost a version race");
                        Done::Retry
                    }
                    e => Done::Failed(e),
                };
                for (_, cell) in shares {
                    put(&cell, done.clone());
                }
            }
        }
    }

    #[derive(Default)]
    struct Slots {
        map: HashMap<(Uuid, StreamId), (Arc<Slot>, u64)>,
        tick: u64,
    }

    static SLOTS: LazyLock<Mutex<Slots>> = LazyLock::new(Mutex::default);

    /// The slot of `stream` in the store `instance` (stores without an id share the nil id and
    /// never cache, see `execute`).
    pub fn slot(instance: Option<Uuid>, stream: &StreamId) -> Arc<Slot> {
        let mut slots = SLOTS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slots.tick += 1;
        let tick = slots.tick;
        let key = (instance.unwrap_or_else(Uuid::nil), stream.clone());
        if let Some((slot, used)) = slots.map.get_mut(&key) {
            *used = tick;
            return slot.clone();
        }
        if slots.map.len() >= CAPACITY {
            let mut idle: Vec<((Uuid, StreamId), u64)> = slots
                .map
                .iter()
                .filter(|(_, (slot, _))| Arc::strong_count(slot) == 1)
                .map(|(k, (_, used))| (k.clone(), *used))
                .collect();
            idle.sort_by_key(|(_, used)| *used);
            for (k, _) in idle.into_iter().take(CAPACITY / 2) {
                slots.map.remove(&k);
            }
        }
        let slot = Arc::new(Slot::default());
        slots.map.insert(key, (slot.clone(), tick));
        slot
    }
}
/// The global position an accepted command's append reached (for read-your-writes), if it wrote.
pub fn position<D: Decider>(decided: &Decided<D>) -> Option<u64> {
    decided.position()
}
