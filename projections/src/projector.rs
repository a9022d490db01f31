//! The projector contract.

use crate::db::ProjectionTx;
use async_trait::async_trait;
use tessera_application::RecordedEvent;

/// Why a projector could not apply an event. The runner rolls the batch back and retries later; the
/// projection stalls at that event rather than skip it (readiness reports the lag).
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The read-model database failed.
    #[error("read-model database: {0}")]
    Database(#[from] sqlx::Error),
    /// The event's data does not have the shape the projector expects.
    #[error("event at position {position} cannot be projected: {reason}")]
    BadEvent {
        /// Its global position.
        position: u64,
        /// What is wrong.
        reason: String,
    },
    /// The event store failed while reading.
    #[error(transparent)]
    Store(#[from] tessera_application::StoreError),
    /// Another runner moved this projection's checkpoint (it will be reloaded).
    #[error("checkpoint of {0} moved under us")]
    CheckpointMoved(String),
    /// No projector has that name.
    #[error("no projection named {0}")]
    UnknownProjection(String),
}

/// Builds one read model from the global log.
///
/// `apply` runs inside the runner's transaction, which also writes the checkpoint: an event's rows
/// and the checkpoint past it commit together or not at all.
#[async_trait]
pub trait Projector: Send + Sync {
    /// Unique name (the checkpoint's key), e.g. `event_type_stats`.
    fn name(&self) -> &'static str;
    /// Bump when the read model's meaning changes: a stored checkpoint of another version makes the
    /// runner rebuild this projection from position 0.
    fn version(&self) -> u32;
    /// Event types it handles; others only advance its checkpoint. Empty means all.
    fn handles(&self) -> &'static [&'static str];
    /// Delete every row this projector wrote (start of a rebuild).
    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError>;
    /// Apply one event.
    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError>;
}
