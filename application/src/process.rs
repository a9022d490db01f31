//! Process managers: react to events by sending commands to other aggregates (e.g. an order's
//! payment succeeded → sell its seats, issue its tickets, complete it).
//!
//! A process manager is fed the global log in order, at least once, by a runner that keeps its
//! checkpoint (the projections crate has one). Its commands must therefore be idempotent: handlers
//! send commands whose `decide` returns no events when the work is already done.

use crate::event_store::RecordedEvent;
use async_trait::async_trait;

/// Why a process manager or deadline handler could not do its work this time; the runner logs it
/// and retries. Any error type with a source chain fits (`?` converts).
pub type HandlerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Reacts to events of the global log.
#[async_trait]
pub trait ProcessManager: Send + Sync {
    /// Unique name; its checkpoint is stored under it.
    fn name(&self) -> &'static str;
    /// Stream categories it reads (DESIGN.md §8), from the domain's `Decider::CATEGORY` constants;
    /// the runner only advances its checkpoint past events of other categories.
    fn categories(&self) -> &'static [&'static str];
    /// Event types it reacts to; the runner only advances its checkpoint past the others.
    fn handles(&self) -> &'static [&'static str];
    /// React to one event. `Err` makes the runner retry the same event later (with back-off), so
    /// a failure is never skipped; the error is logged.
    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError>;
}
