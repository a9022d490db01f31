//! The generic command handler: load an aggregate's stream, decide, append with the expected
//! version, and on a version conflict reload and decide again.

use crate::deadlines::NewDeadline;
use crate::event_store::{
    AppendOutcome, AppendRequest, EventMetadata, EventStore, ExpectedVersion, NewEvent, StoreError,
    StreamId, StreamIdError,
};
use std::fmt::Display;
use std::sync::Arc;
use tessera_domain::{Decider, DomainEvent, EventDecodeError};
use uuid::Uuid;

/// How many times a command is re-decided after losing a race before giving up.
pub const MAX_ATTEMPTS: u32 = 8;

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
/// Commands on one stream in this process run one at a time (they queue on the stream's slot
/// instead of losing version races to each other), and the slot keeps the aggregate's last state so
/// the next command reads only newer events. Writers in other processes are still caught by the
/// expected version: on a conflict the handler catches up and decides again, at most
/// [`MAX_ATTEMPTS`] times.
///
/// `schedule` sees the state after the new events and the events themselves, and returns deadlines
/// to store in the same append (e.g. a lock expiry). Event ids are fresh UUIDv7s on each attempt.
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
    let instance = store.instance_id();
    let slot = slots::slot(instance, stream_id);
    let mut cached = slot.lock().await;
    for _ in 0..MAX_ATTEMPTS {
        let (state, version) = match cached.take().and_then(slots::Cached::into_state::<D>) {
            Some((state, version)) => load_from(store, stream_id, state, version).await?,
            None => load::<D>(store, stream_id).await?,
        };
        let remember =
            |state: &D, version: u64| instance.map(|_| slots::Cached::new(state.clone(), version));
        let events = match state.decide(command) {
            Ok(events) => events,
            Err(e) => {
                *cached = remember(&state, version);
                return Err(CommandError::Rejected(e));
            }
        };
        if events.is_empty() {
            *cached = remember(&state, version);
            return Ok(Decided {
                state,
                events,
                outcome: None,
            });
        }
        let new_state = events.iter().fold(state.clone(), |s, e| s.evolve(e));
        let mut new_events = Vec::with_capacity(events.len());
        for event in &events {
            let (event_type, data) = event.to_stored()?;
            new_events.push(NewEvent {
                event_id: Uuid::now_v7(),
                schema_version: D::Event::schema_version(&event_type),
                event_type,
                data,
                metadata: metadata.clone(),
            });
        }
        let request = AppendRequest {
            stream_id: stream_id.clone(),
            expected_version: ExpectedVersion::Exact(version),
            events: new_events,
            deadlines: schedule(&new_state, &events),
        };
        match store.append(request).await {
            Ok(outcome) => {
                if !outcome.deduplicated {
                    *cached = remember(&new_state, outcome.stream_version);
                }
                return Ok(Decided {
                    state: new_state,
                    events,
                    outcome: Some(outcome),
                });
            }
            Err(StoreError::VersionConflict { .. }) => {
                // Another process wrote first; what we had is still a true prefix of the stream.
                *cached = remember(&state, version);
                tracing::debug!(stream = %stream_id, "version conflict, deciding again");
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
        execute::<D, _>(self.store.as_ref(), stream_id, command, metadata, |_, _| {
            Vec::new()
        })
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
        execute_scheduling::<D>(self.store.as_ref(), stream_id, command, metadata, deadlines).await
    }

    /// [`CommandRunner::run`] with deadlines computed from the new state and events ([`execute`]).
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
        execute::<D, S>(self.store.as_ref(), stream_id, command, metadata, schedule).await
    }
}

/// Per-stream slots: an async lock that queues this process's commands on one stream, holding the
/// aggregate's last known state. Keyed by the store's instance id and the stream; bounded.
mod slots {
    use crate::event_store::StreamId;
    use std::any::Any;
    use std::collections::HashMap;
    use std::sync::{Arc, LazyLock, Mutex};
    use tessera_domain::Decider;
    use uuid::Uuid;

    /// Slots kept at most; past it the least recently used idle half is dropped.
    const CAPACITY: usize = 4_096;

    /// An aggregate state at a stream version.
    pub struct Cached {
        state: Box<dyn Any + Send + Sync>,
        version: u64,
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

    pub type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

    #[derive(Default)]
    struct Slots {
        map: HashMap<(Uuid, StreamId), (Slot, u64)>,
        tick: u64,
    }

    static SLOTS: LazyLock<Mutex<Slots>> = LazyLock::new(Mutex::default);

    /// The slot of `stream` in the store `instance` (stores without an id share the nil id and
    /// never cache, see `execute`).
    pub fn slot(instance: Option<Uuid>, stream: &StreamId) -> Slot {
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
        let slot = Slot::default();
        slots.map.insert(key, (slot.clone(), tick));
        slot
    }
}
/// The global position an accepted command's append reached (for read-your-writes), if it wrote.
pub fn position<D: Decider>(decided: &Decided<D>) -> Option<u64> {
    decided.position()
}
