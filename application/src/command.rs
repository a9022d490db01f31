//! The generic command handler: load an aggregate's stream, decide, append with the expected
//! version, and on a version conflict reload and decide again.

use crate::deadlines::NewDeadline;
use crate::event_store::{
    AppendOutcome, AppendRequest, EventMetadata, EventStore, ExpectedVersion, NewEvent, StoreError,
    StreamId,
};
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

/// Why a command was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error + 'static> {
    /// The aggregate refused the command.
    #[error(transparent)]
    Rejected(E),
    /// Lost the race for the stream more than [`MAX_ATTEMPTS`] times.
    #[error("gave up on {stream} after {attempts} version conflicts")]
    Contended {
        /// The contended stream.
        stream: StreamId,
        /// Attempts made.
        attempts: u32,
    },
    /// A stored event could not be decoded, or a new one encoded.
    #[error(transparent)]
    Decode(#[from] EventDecodeError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Load the aggregate in `stream_id` and its version (0 when the stream does not exist).
pub async fn load<D: Decider>(
    store: &dyn EventStore,
    stream_id: &StreamId,
) -> Result<(D, u64), CommandError<D::Error>> {
    let mut state = D::default();
    let mut version = 0;
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

/// Run `command` against the aggregate stored in `stream_id`.
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
    for _ in 0..MAX_ATTEMPTS {
        let (state, version) = load::<D>(store, stream_id).await?;
        let events = state.decide(command).map_err(CommandError::Rejected)?;
        if events.is_empty() {
            return Ok(Decided {
                state,
                events,
                outcome: None,
            });
        }
        let new_state = events.iter().fold(state, |s, e| s.evolve(e));
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
                return Ok(Decided {
                    state: new_state,
                    events,
                    outcome: Some(outcome),
                });
            }
            Err(StoreError::VersionConflict { .. }) => {
                tracing::debug!(stream = %stream_id, "version conflict, deciding again");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(CommandError::Contended {
        stream: stream_id.clone(),
        attempts: MAX_ATTEMPTS,
    })
}
