//! Read-your-writes in a process that does not run the projections itself
//! (docs/decisions/0038-several-processes.md).
//!
//! An API process answers a command only once the read models show it ([`ProjectionStatus`]) and,
//! for commands with effects, once the process managers have handled it ([`ProcessStatus`]). When
//! another process leads the projections, those statuses are fed here from what the leader stores:
//! the rows of `projection_checkpoints` (one per projector, and `process:{name}` per process
//! manager). Migration 1038 makes every change of a row send
//! `pg_notify('tessera_checkpoints', '<projection> <position>')`; [`follow_checkpoints`] listens
//! and, while it cannot, reads the whole table every [`FALLBACK_POLL`].
//!
//! A process manager's effects: its checkpoint is saved after the commands it sent have
//! committed, so the log head read after seeing the checkpoint is at or past them, which is what
//! read-your-effects waits for next.
//!
//! Positions only ever rise here: a projection rebuilt elsewhere (its checkpoint back to 0) is not
//! followed downwards, so during such a rebuild this process may answer before that read model
//! shows a write (it answers with what the rebuilt model shows once caught up).

use crate::db::ReadModelDb;
use crate::process_manager::ProcessStatus;
use crate::runner::ProjectionStatus;
use sqlx::PgPool;
use sqlx::Row;
use sqlx::postgres::PgListener;
use std::sync::Arc;
use std::time::Duration;
use tessera_application::EventStore;
use tokio_util::sync::CancellationToken;

/// The channel of migration 1038's trigger; the payload is `<projection> <position>`.
pub const CHECKPOINTS_CHANNEL: &str = "tessera_checkpoints";

/// How often the checkpoints are read while no `LISTEN` connection is up.
pub const FALLBACK_POLL: Duration = Duration::from_millis(250);

/// Where the followed statuses go and what they contain.
#[derive(Clone)]
pub struct RemoteStatus {
    /// The projections' positions (the runner's status, shared with read-your-writes).
    pub projections: ProjectionStatus,
    /// Names of the projectors whose positions are followed.
    pub projectors: Vec<&'static str>,
    /// The process managers' progress.
    pub processes: ProcessStatus,
    /// Names of the process managers whose progress is followed.
    pub managers: Vec<&'static str>,
    /// The event store, for the log head that bounds process managers' effects.
    pub store: Arc<dyn EventStore>,
}

/// Follow the stored checkpoints into `status` until `shutdown`. On SQLite (one process per
/// file) there is nothing to follow and no task is started.
pub fn follow_checkpoints(
    db: &ReadModelDb,
    status: RemoteStatus,
    shutdown: CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    let ReadModelDb::Postgres(pool) = db else {
        return None;
    };
    for name in &status.managers {
        // Registered at once, so that a waiter never sees no managers and skips their effects.
        status.processes.set(name, 0, None);
    }
    let pool = pool.clone();
    Some(tokio::spawn(async move {
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = follow(pool, status) => {}
        }
    }))
}

async fn follow(pool: PgPool, status: RemoteStatus) {
    loop {
        let mut listener = match listen(&pool).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::debug!(error = %e, "cannot LISTEN for checkpoints; polling");
                if let Err(sqlx::Error::PoolClosed) = poll(&pool, &status).await {
                    return;
                }
                tokio::time::sleep(FALLBACK_POLL).await;
                continue;
            }
        };
        // What moved before LISTEN took effect.
        if let Err(e) = poll(&pool, &status).await {
            tracing::debug!(error = %e, "cannot read checkpoints");
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(first)) => {
                    let mut batch = vec![first];
                    while let Some(n) = listener.next_buffered() {
                        batch.push(n);
                    }
                    let parsed = batch.iter().filter_map(|n| {
                        let (name, position) = n.payload().rsplit_once(' ')?;
                        Some((name.to_owned(), position.parse::<u64>().ok()?))
                    });
                    apply(&status, parsed.collect()).await;
                }
                // Connection lost: notifications may have been missed; reconnect and re-read.
                Ok(None) => break,
                Err(sqlx::Error::PoolClosed) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "checkpoint listener failed; reconnecting");
                    break;
                }
            }
        }
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.eager_reconnect(false);
    listener.listen(CHECKPOINTS_CHANNEL).await?;
    Ok(listener)
}

async fn poll(pool: &PgPool, status: &RemoteStatus) -> Result<(), sqlx::Error> {
    let rows = sqlx::query("SELECT projection, position FROM projection_checkpoints")
        .fetch_all(pool)
        .await?;
    let mut all = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.try_get(0)?;
        let position: i64 = row.try_get(1)?;
        all.push((name, u64::try_from(position).unwrap_or(0)));
    }
    apply(status, all).await;
    Ok(())
}

/// Raise the statuses to these stored positions.
async fn apply(status: &RemoteStatus, checkpoints: Vec<(String, u64)>) {
    let current = status.projections.positions();
    let mut handled = Vec::new();
    for (name, position) in checkpoints {
        if let Some(manager) = name.strip_prefix("process:") {
            if let Some(m) = status.managers.iter().find(|m| **m == manager) {
                handled.push((*m, position));
            }
        } else if let Some(p) = status.projectors.iter().find(|p| **p == name)
            && current.get(p).is_none_or(|c| *c < position)
        {
            status.projections.set(p, position);
        }
    }
    if handled.is_empty() {
        return;
    }
    // Read after the checkpoints were seen: at or past every command those managers sent.
    match status.store.head_position().await {
        Ok(head) => {
            for (m, position) in handled {
                status.processes.set(m, position, Some(head));
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the log head"),
    }
}
