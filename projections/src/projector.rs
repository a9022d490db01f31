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

/// The [`Projector::categories`] of a projector that reads every stream category. `*` cannot be a
/// category (`StreamId` allows ASCII letters, digits and `_`), so it cannot be declared by mistake.
pub const ALL_CATEGORIES: &[&str] = &["*"];

/// Whether a projector or process manager that declared `categories` reads `category`.
pub fn reads_category(categories: &[&str], category: &str) -> bool {
    categories == ALL_CATEGORIES || categories.contains(&category)
}

/// Whether `projector` applies `event`: it reads the event's stream category and handles its type
/// (an empty [`Projector::handles`] handles every type). Others only move its checkpoint past them.
pub fn applies_to(projector: &dyn Projector, event: &RecordedEvent) -> bool {
    let handles = projector.handles();
    reads_category(projector.categories(), event.stream_id.category())
        && (handles.is_empty() || handles.contains(&event.event_type.as_str()))
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
    /// Stream categories it reads (DESIGN.md §8): the runner passes it only events of these
    /// categories and only advances its checkpoint past the others, so events of a context it does
    /// not know never reach it. Use the domain's `Decider::CATEGORY` constants.
    /// [`ALL_CATEGORIES`] reads every category (for context-free read models such as
    /// `event_type_stats` only); an empty slice reads none.
    fn categories(&self) -> &'static [&'static str];
    /// Event types it handles among those of its categories; others only advance its checkpoint.
    /// Empty means all of them.
    fn handles(&self) -> &'static [&'static str];
    /// Delete every row this projector wrote (start of a rebuild).
    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError>;
    /// Apply one event.
    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError>;
    /// Apply the events of one batch that this projector applies ([`applies_to`]), in log order,
    /// in the runner's transaction. The default applies them one at a time; a projector whose
    /// events overwrite rows (last write wins) can instead write a batch's net effect in a few
    /// statements, as long as the rows end the same as applying each event in order.
    async fn apply_batch(
        &self,
        tx: &mut ProjectionTx,
        events: &[&RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for event in events {
            self.apply(tx, event).await?;
        }
        Ok(())
    }
}

/// A projection error for `event`, whose data (or stream id) does not match what its projector
/// reads: names the event type, the stream and `reason`.
pub(crate) fn bad_event(event: &RecordedEvent, reason: impl std::fmt::Display) -> ProjectionError {
    ProjectionError::BadEvent {
        position: event.global_position,
        reason: format!(
            "{} in {}: {reason}",
            event.event_type,
            event.stream_id.as_str()
        ),
    }
}

/// `event`'s `data` as a projector's own event struct; [`bad_event`] when it does not match.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    event: &RecordedEvent,
) -> Result<T, ProjectionError> {
    T::deserialize(&event.data).map_err(|e| bad_event(event, e))
}

/// The aggregate id of `event`'s stream (`{category}-{uuid}` → the UUID); [`bad_event`] when the
/// stream id does not end in one.
pub(crate) fn stream_uuid(event: &RecordedEvent) -> Result<uuid::Uuid, ProjectionError> {
    let id = event
        .stream_id
        .as_str()
        .split_once('-')
        .map_or("", |(_, id)| id);
    id.parse()
        .map_err(|_| bad_event(event, "the stream id does not end in a UUID"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_projector_reads_only_what_it_declares() {
        assert!(reads_category(&["openticketOrder"], "openticketOrder"));
        assert!(!reads_category(&["openticketOrder"], "shopOrder"));
        assert!(
            !reads_category(&[], "openticketOrder"),
            "empty reads nothing"
        );
        assert!(reads_category(ALL_CATEGORIES, "shopOrder"));
        assert!(
            !reads_category(&["*", "user"], "shopOrder"),
            "only the sentinel alone"
        );
    }
}
