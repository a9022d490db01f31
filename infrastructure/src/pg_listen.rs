//! Other processes' commits on one PostgreSQL database, for this process's live readers.
//!
//! Migration 0005 adds a trigger on `event_log_head`: every commit that takes positions sends
//! `pg_notify('tessera_appends', <new head position>)`. PostgreSQL delivers notifications when the
//! sending transaction commits, in commit order, so a notified position is committed and readable.
//! [`follow_appends`] keeps one `LISTEN` connection (taken from the store's pool) and feeds every
//! position to the store's [`AppendNotifier`], which wakes subscriptions, projection runners and
//! the live seat feeds of this process exactly as its own commits do.
//!
//! Lag bound: while the listener is connected, a commit elsewhere wakes readers here as soon as
//! the notification arrives (one network hop). Notifications sent while it is disconnected are
//! lost, so then it polls the log head every [`FALLBACK_POLL`] until it can listen again, and it
//! reads the head once after every (re)connection; a reader's own `max_wait` (500 ms in the
//! runners) bounds what remains, for example a notifier that this task could not reach at all.

use crate::notify::{AppendNotifier, WeakAppendNotifier};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::time::Duration;

/// The channel of migration 0005's trigger; the payload is the new log head position.
pub const APPENDS_CHANNEL: &str = "tessera_appends";

/// How often the head is polled while no `LISTEN` connection is up.
pub const FALLBACK_POLL: Duration = Duration::from_millis(250);

/// How often an idle listener checks whether its store still exists.
const LIVENESS_CHECK: Duration = Duration::from_secs(1);

/// Start following commits of every process on `pool`'s database into `notifier`. The task ends
/// when every store holding `notifier` is dropped or the pool is closed; it holds one of the
/// pool's connections while connected.
pub fn follow_appends(pool: PgPool, notifier: &AppendNotifier) -> tokio::task::JoinHandle<()> {
    let notifier = notifier.downgrade();
    tokio::spawn(async move { follow(pool, notifier).await })
}

async fn follow(pool: PgPool, notifier: WeakAppendNotifier) {
    loop {
        if pool.is_closed() {
            return;
        }
        let mut listener = match listen(&pool).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::debug!(error = %e, "cannot LISTEN for other processes' appends; polling");
                if !poll_head(&pool, &notifier).await {
                    return;
                }
                tokio::time::sleep(FALLBACK_POLL).await;
                continue;
            }
        };
        // Commits made before LISTEN took effect sent notifications nobody here received.
        if !poll_head(&pool, &notifier).await {
            return;
        }
        loop {
            // `try_recv` is cancel-safe (sqlx buffers partial messages), so a timeout only
            // interrupts the wait to see whether anyone still needs this task.
            match tokio::time::timeout(LIVENESS_CHECK, listener.try_recv()).await {
                Err(_) => {
                    if notifier.upgrade().is_none() {
                        return;
                    }
                }
                Ok(Ok(Some(notification))) => {
                    let Some(n) = notifier.upgrade() else { return };
                    match notification.payload().parse::<u64>() {
                        Ok(position) => n.committed(position),
                        Err(_) => tracing::warn!(
                            payload = notification.payload(),
                            "unreadable append notification"
                        ),
                    }
                }
                // Connection lost: notifications may have been missed; reconnect and re-read.
                Ok(Ok(None)) => break,
                Ok(Err(sqlx::Error::PoolClosed)) => return,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "append listener failed; reconnecting");
                    break;
                }
            }
        }
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // Reconnection is ours to do: after it the head must be read again.
    listener.eager_reconnect(false);
    listener.listen(APPENDS_CHANNEL).await?;
    Ok(listener)
}

/// Announce the current head; `false` when nobody needs the notifier any more.
async fn poll_head(pool: &PgPool, notifier: &WeakAppendNotifier) -> bool {
    let head: Result<i64, sqlx::Error> =
        sqlx::query_scalar("SELECT position FROM event_log_head WHERE id = 1")
            .fetch_one(pool)
            .await;
    let Some(n) = notifier.upgrade() else {
        return false;
    };
    match head {
        Ok(head) => n.committed(u64::try_from(head).unwrap_or(0)),
        Err(e) => tracing::debug!(error = %e, "cannot read the log head"),
    }
    true
}
