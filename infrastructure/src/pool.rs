//! Connection-pool settings shared by both stores (decision 0041).
//!
//! sqlx checks a connection before lending it (`test_before_acquire`, on by default): one round
//! trip to PostgreSQL, or one hand-off to SQLite's worker thread and back, on every acquire. It
//! also pings each connection when it is given back, so a connection broken during use never
//! returns to the pool. What is left for the check on acquire is a connection that died while it
//! sat idle (a database restart, an idle-session timeout): it is checked only when it has been idle
//! for at least [`IDLE_CHECK_AFTER`], which a restart always takes longer than. Under load, the
//! connections in use are never idle that long and no check is sent.

use sqlx::pool::{PoolConnectionMetadata, PoolOptions};
use sqlx::{Connection, Database};
use std::time::Duration;

/// Idle time after which a connection is pinged before it is lent.
pub const IDLE_CHECK_AFTER: Duration = Duration::from_secs(1);

/// Pool options with the check on acquire limited to connections idle for at least
/// [`IDLE_CHECK_AFTER`]; the caller adds sizes and timeouts.
pub fn pool_options<DB: Database>() -> PoolOptions<DB> {
    PoolOptions::new()
        .test_before_acquire(false)
        .before_acquire(|conn: &mut DB::Connection, meta: PoolConnectionMetadata| {
            Box::pin(async move {
                if meta.idle_for >= IDLE_CHECK_AFTER {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}
