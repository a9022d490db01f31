//! Read model `event_type_stats`: events per stream category and type (docs/read-models.md).

use crate::db::ProjectionTx;
use crate::execute;
use crate::projector::{ALL_CATEGORIES, ProjectionError, Projector};
use async_trait::async_trait;
use tessera_application::RecordedEvent;

/// Counts events per (stream category, event type), with the first and last position and the last
/// commit time. Reads every category ([`ALL_CATEGORIES`]) and handles every event type.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventTypeStatsProjector;

#[async_trait]
impl Projector for EventTypeStatsProjector {
    fn name(&self) -> &'static str {
        "event_type_stats"
    }

    fn version(&self) -> u32 {
        1
    }

    /// Every category: these counts are the one read model that is about the log itself rather
    /// than a bounded context, so it is the one user of the sentinel.
    fn categories(&self) -> &'static [&'static str] {
        ALL_CATEGORIES
    }

    fn handles(&self) -> &'static [&'static str] {
        &[]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(tx, sqlx::query("DELETE FROM event_type_stats"))?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        execute!(
            tx,
            sqlx::query(
                "INSERT INTO event_type_stats \
                 (category, event_type, event_count, first_position, last_position, last_recorded_at) \
                 VALUES ($1, $2, 1, $3, $3, $4) \
                 ON CONFLICT (category, event_type) DO UPDATE SET \
                 event_count = event_type_stats.event_count + 1, \
                 last_position = excluded.last_position, \
                 last_recorded_at = excluded.last_recorded_at",
            )
            .bind(event.stream_id.category())
            .bind(&event.event_type)
            .bind(event.global_position as i64)
            .bind(event.recorded_at)
        )?;
        Ok(())
    }
}
