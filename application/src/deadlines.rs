//! Durable deadlines (DESIGN.md §6): a command handler schedules a future command together with the
//! events it appends; the scheduler fires it when due, at least once, also after a restart.
//!
//! Handlers must make a second firing harmless (the scheduler may fire again when it crashed after
//! the handler succeeded but before it recorded the firing).

pub use crate::event_store::NewDeadline;
use crate::event_store::{StoreError, StreamId};
use crate::process::HandlerError;
use async_trait::async_trait;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// How long a scheduler's claim on the deadlines returned by [`DeadlineStore::due_deadlines`]
/// lasts. Other processes skip claimed deadlines until then; a process that dies holding claims
/// loses them when the lease ends, and another fires them (docs/decisions/0038-several-processes.md).
/// A handler slower than this may be fired a second time elsewhere, which handlers must tolerate.
pub const CLAIM_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// A stored deadline that is due or pending.
#[derive(Debug, Clone, PartialEq)]
pub struct Deadline {
    /// Unique id, made by the command that scheduled it (a UUID v7).
    pub deadline_id: Uuid,
    /// The stream whose append scheduled it.
    pub stream_id: StreamId,
    /// Which handler fires it.
    pub kind: String,
    /// When it became due (UTC).
    pub due_at: DateTime<Utc>,
    /// What the handler needs.
    pub payload: serde_json::Value,
    /// Failed firings so far.
    pub attempts: u32,
}

/// Storage of deadlines; backends write new ones in the same transaction as the append that
/// scheduled them.
#[async_trait]
pub trait DeadlineStore: Send + Sync {
    /// Deadlines due at `now` (not fired, retry time passed, not claimed by another scheduler
    /// whose lease is still running), earliest first, at most `limit`, each claimed for
    /// [`CLAIM_LEASE`] by this store; `mark_fired` and `mark_failed` release the claim.
    async fn due_deadlines(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Deadline>, StoreError>;
    /// Record that the deadline fired successfully; it will not be returned again.
    async fn mark_fired(
        &self,
        deadline_id: Uuid,
        fired_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Record a failed firing and when to try again.
    async fn mark_failed(
        &self,
        deadline_id: Uuid,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Deadlines not fired yet (for operators and tests).
    async fn pending_count(&self) -> Result<u64, StoreError>;
    /// The backlog at `now`: deadlines whose `due_at` has passed and that have not fired (waiting
    /// for the scheduler or for a retry after a failure), and the earliest `due_at` among them.
    /// The default asks [`DeadlineStore::due_deadlines`] (at most 10,000, so it undercounts a
    /// larger backlog and misses those waiting for a retry); the SQL backends count exactly.
    async fn overdue(&self, now: DateTime<Utc>) -> Result<OverdueDeadlines, StoreError> {
        let due = self.due_deadlines(now, 10_000).await?;
        Ok(OverdueDeadlines {
            count: due.len() as u64,
            oldest_due_at: due.iter().map(|d| d.due_at).min(),
        })
    }
}

/// Deadlines past their due time and not fired yet (see [`DeadlineStore::overdue`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OverdueDeadlines {
    /// How many.
    pub count: u64,
    /// The earliest `due_at` among them (UTC); `None` when there are none.
    pub oldest_due_at: Option<DateTime<Utc>>,
}

/// Fires deadlines of one kind.
#[async_trait]
pub trait DeadlineHandler: Send + Sync {
    /// Carry out the deadline. Must be harmless when called twice for the same deadline.
    /// An `Err` is retried later with back-off.
    async fn fire(&self, deadline: &Deadline) -> Result<(), HandlerError>;
}

/// What one pass of the scheduler did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FireReport {
    /// Deadlines fired successfully.
    pub fired: usize,
    /// Deadlines whose handler failed or is missing (they are retried later).
    pub failed: usize,
}

/// The scheduler's logic, one pass at a time; the ticking loop lives with the runtime (api crate).
pub struct DeadlineScheduler {
    store: Arc<dyn DeadlineStore>,
    handlers: HashMap<String, Arc<dyn DeadlineHandler>>,
    batch_size: usize,
}

impl DeadlineScheduler {
    /// A scheduler with no handlers yet.
    pub fn new(store: Arc<dyn DeadlineStore>) -> Self {
        Self {
            store,
            handlers: HashMap::new(),
            batch_size: 100,
        }
    }

    /// Route deadlines of `kind` to `handler`.
    pub fn register(&mut self, kind: impl Into<String>, handler: Arc<dyn DeadlineHandler>) {
        self.handlers.insert(kind.into(), handler);
    }

    /// Back-off after `attempts` failures: 2^attempts seconds, at most 5 minutes.
    pub fn backoff(attempts: u32) -> ChronoDuration {
        ChronoDuration::seconds(1_i64 << attempts.min(8)).min(ChronoDuration::minutes(5))
    }

    /// Fire every deadline due at `now` (in batches until none are left).
    pub async fn fire_due(&self, now: DateTime<Utc>) -> Result<FireReport, StoreError> {
        let mut report = FireReport::default();
        loop {
            let due = self.store.due_deadlines(now, self.batch_size).await?;
            if due.is_empty() {
                return Ok(report);
            }
            let n = due.len();
            for deadline in due {
                let outcome = match self.handlers.get(&deadline.kind) {
                    Some(handler) => handler.fire(&deadline).await,
                    None => Err(format!("no handler for deadline kind `{}`", deadline.kind).into()),
                };
                match outcome {
                    Ok(()) => {
                        self.store.mark_fired(deadline.deadline_id, now).await?;
                        report.fired += 1;
                    }
                    Err(error) => {
                        tracing::warn!(deadline_id = %deadline.deadline_id, kind = %deadline.kind, %error, "deadline failed");
                        let retry_at = now + Self::backoff(deadline.attempts + 1);
                        self.store
                            .mark_failed(deadline.deadline_id, &error.to_string(), retry_at)
                            .await?;
                        report.failed += 1;
                    }
                }
            }
            if n < self.batch_size {
                return Ok(report);
            }
        }
    }
}
