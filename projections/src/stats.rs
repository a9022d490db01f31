//! Read model `event_type_stats`: events per stream category and type (docs/read-models.md).

use crate::db::ProjectionTx;
use crate::execute;
use crate::projector::{ALL_CATEGORIES, ProjectionError, Projector};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
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
        self.apply_batch(tx, &[event]).await
    }

    /// One upsert per (category, type) present in the batch, adding its count: the same rows as
    /// one upsert per event, in a handful of statements for a whole batch.
    async fn apply_batch(
        &self,
        tx: &mut ProjectionTx,
        events: &[&RecordedEvent],
    ) -> Result<(), ProjectionError> {
        // (category, type) → (count, first position, last position, last recorded_at), in log
        // order within each key.
        let mut counts: BTreeMap<(&str, &str), (i64, u64, u64, DateTime<Utc>)> = BTreeMap::new();
        for e in events {
            counts
                .entry((e.stream_id.category(), e.event_type.as_str()))
                .and_modify(|c| {
                    c.0 += 1;
                    c.2 = e.global_position;
                    c.3 = e.recorded_at;
                })
                .or_insert((1, e.global_position, e.global_position, e.recorded_at));
        }
        for ((category, event_type), (count, first, last, recorded_at)) in counts {
            execute!(
                &mut *tx,
                sqlx::query(
                    "INSERT INTO event_type_stats \
                     (category, event_type, event_count, first_position, last_position, last_recorded_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (category, event_type) DO UPDATE SET \
                     event_count = event_type_stats.event_count + excluded.event_count, \
                     last_position = excluded.last_position, \
                     last_recorded_at = excluded.last_recorded_at",
                )
                .bind(category)
                .bind(event_type)
                .bind(count)
                .bind(first as i64)
                .bind(last as i64)
                .bind(recorded_at)
            )?;
        }
        Ok(())
    }
}
