//! Read your own writes (DESIGN.md §4, docs/decisions/0004-read-your-writes.md): after a command,
//! wait until the read models have applied its events before answering, so no 404 follows a 201.

use crate::startup::AppState;
use std::time::Duration;

/// Longest a command waits for the read models to show its own write.
pub const READ_YOUR_WRITES: Duration = Duration::from_secs(5);

/// Wait until every projection has applied `position` (the command's last global position;
/// `None` when it wrote nothing). Gives up quietly after [`READ_YOUR_WRITES`]: the write stands,
/// only the read model lags, and the lag is logged.
pub async fn read_your_writes(state: &AppState, position: Option<u64>) {
    if let Some(position) = position
        && !state
            .engine
            .runner
            .status()
            .wait_for(position, READ_YOUR_WRITES)
            .await
    {
        tracing::warn!(
            position,
            "read models did not reach the command's position in time"
        );
    }
}
