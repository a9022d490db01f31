//! Read your own writes (DESIGN.md §4, docs/decisions/0004-read-your-writes.md), and what a handler
//! answers once its command has committed (docs/decisions/0011-answer-after-write.md).
//!
//! After a command, a handler waits until the read models have applied its events — and the
//! events that process managers appended in reaction to them (fulfilment: tickets after a
//! payment) — so that no 404 follows a 201 and no `Paid` order shows without its tickets.
//!
//! A handler waits only for the read models that have something to apply up to its command's
//! position: [`tessera_projections::ProjectionStatus::wait_for`] skips a projector whose unapplied
//! events up to there are all of categories or types it does not read, and one that is failing in
//! a lane of its own unless it applies the command's own last event
//! (docs/decisions/0035-projection-transactions.md). The call sites do not change.
//!
//! A write that committed is never answered with an error: when the read models do not show it in
//! time, or reading them fails, [`read_after_write`] says so and the handler answers
//! `202 Accepted` with a `Location` to poll ([`accepted`]) instead of a 503 that would make a
//! client retry and create a duplicate.

use crate::startup::AppState;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use std::fmt::Display;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Longest a command waits for the read models to show its own write (and its process managers'
/// effects).
pub const READ_YOUR_WRITES: Duration = Duration::from_secs(5);

/// Wait until every projection is current as of `position` (the command's last global position;
/// `None` when it wrote nothing): it applied it, or has nothing of its own to apply up to it. Gives up after [`READ_YOUR_WRITES`]: the write stands, only the read
/// model lags, and the lag is logged. Returns whether the read models caught up.
pub async fn read_your_writes(state: &AppState, position: Option<u64>) -> bool {
    let Some(position) = position else {
        return true;
    };
    wait_for_projections(state, position, READ_YOUR_WRITES).await
}

/// Before a read that commands do not wait for (the seat reads: a lock answers from its own
/// result): wait until the read models are current as of the log's head when the read arrived, so
/// that a client sees every write acknowledged to it before it asked, whichever process took the
/// write (the head is read from the store, not from this process's memory). Bounded by
/// [`READ_YOUR_WRITES`] like a command's wait; when the store cannot be asked or the wait times
/// out, the read answers from the read models as they are (its `X-Log-Position` says how far they
/// are). docs/decisions/0039-seat-commands-answer-from-the-command.md.
pub async fn caught_up_to_head(state: &AppState) -> bool {
    match state.engine.events.head_position().await {
        Ok(head) => read_your_writes(state, Some(head)).await,
        Err(e) => {
            tracing::warn!(error = %e, "reading the log head before a read failed");
            false
        }
    }
}

/// [`read_your_writes`] extended to the process managers' effects, for commands that trigger one
/// (a confirmed payment → fulfilment issues the tickets): wait until every process manager has
/// handled `position`, then until every projection has applied what they appended in reaction.
/// [`READ_YOUR_WRITES`] bounds both waits together; returns whether everything caught up.
pub async fn read_your_effects(state: &AppState, position: Option<u64>) -> bool {
    let Some(position) = position else {
        return true;
    };
    let deadline = Instant::now() + READ_YOUR_WRITES;
    let processes = &state.engine.processes;
    let effects = processes.effects_of(position, READ_YOUR_WRITES).await;
    if effects.is_none() {
        tracing::warn!(
            position,
            "process managers did not handle the command's events in time"
        );
    }
    let target = effects.unwrap_or(position);
    let left = deadline.saturating_duration_since(Instant::now());
    wait_for_projections(state, target, left).await && effects.is_some()
}

async fn wait_for_projections(state: &AppState, position: u64, within: Duration) -> bool {
    let reached = state
        .engine
        .runner
        .status()
        .wait_for(position, within)
        .await;
    if !reached {
        tracing::warn!(
            position,
            "read models did not reach the command's position in time"
        );
    }
    reached
}

/// After a committed command: wait as [`read_your_writes`] does, then `read` the result from the
/// read models. `None` when they did not catch up in time, the read failed, or it found nothing —
/// the handler then answers [`accepted`], never an error.
pub async fn read_after_write<T, E, F>(
    state: &AppState,
    position: Option<u64>,
    read: F,
) -> Option<T>
where
    E: Display,
    F: Future<Output = Result<Option<T>, E>>,
{
    // Read even when the wait timed out: the row may be there already.
    let _ = read_your_writes(state, position).await;
    match read.await {
        Ok(Some(v)) => Some(v),
        Ok(None) => {
            tracing::warn!("the read model does not show a committed write yet");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "reading a committed write back failed");
            None
        }
    }
}

/// `response` (the document's body naming what was created) turned into `202 Accepted` with
/// `Location: location` (where the result will be readable) and `Retry-After: 1`.
pub fn accepted(mut response: Response, location: &str) -> Response {
    *response.status_mut() = StatusCode::ACCEPTED;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}
