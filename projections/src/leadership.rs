//! One leader among the processes that may run projections on one PostgreSQL database
//! (docs/decisions/0038-several-processes.md).
//!
//! The leader holds a session advisory lock (`pg_try_advisory_lock`) on a connection of its own,
//! taken out of the pool so that nobody else ever uses it. While it holds the lock it runs the work
//! it was given (the projection runner and the process managers); the others try again every
//! [`RETRY`]. When the leader dies its connection closes and PostgreSQL releases the lock, so the
//! next try of another process takes over. A leader that loses its connection (a network fault,
//! the server restarting) stops its work, because the lock may already be someone else's.
//!
//! Between a leader's loss and the moment it notices (at most [`RETRY`] plus one query), two
//! processes may both run. That costs work, not correctness: projection batches move their
//! checkpoint with a compare-and-set (runner.rs), and process-manager handlers are idempotent.
//!
//! SQLite has one process per file: it always leads.

use crate::db::ReadModelDb;
use sqlx::{Connection, PgConnection};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How often a follower tries to take the lead, and how often the leader checks it still holds it.
pub const RETRY: Duration = Duration::from_secs(1);

/// The advisory lock key of the projection leader (an arbitrary constant; the two halves spell
/// "TESS" and "PROJ" in ASCII so that `pg_locks` shows something recognisable).
pub const PROJECTIONS_LOCK: (i32, i32) = (0x5445_5353, 0x5052_4f4a);

/// Whether this process leads, for `/ready`-style reports and logs.
#[derive(Clone, Default)]
pub struct LeaderFlag(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl LeaderFlag {
    /// `true` while this process holds the lead and its work runs.
    pub fn is_leader(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn set(&self, leading: bool) {
        self.0.store(leading, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Run `start(token)` only while this process leads, until `shutdown`. `start` spawns the
/// leader's tasks and returns them; their token is cancelled when the lead is lost, and they are
/// awaited before this process tries to lead again. Returns the task that does all this.
pub fn lead<F>(
    db: ReadModelDb,
    key: (i32, i32),
    flag: LeaderFlag,
    shutdown: CancellationToken,
    start: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(CancellationToken) -> JoinSet<()> + Send + 'static,
{
    let pool = match db {
        ReadModelDb::Sqlite { .. } => {
            // Started before returning, like a single process always did.
            flag.set(true);
            let mut tasks = start(shutdown.child_token());
            return tokio::spawn(async move { while tasks.join_next().await.is_some() {} });
        }
        ReadModelDb::Postgres(pool) => pool,
    };
    tokio::spawn(async move {
        while !shutdown.is_cancelled() {
            match try_lock(&pool, key).await {
                Ok(Some(conn)) => {
                    tracing::info!("this process now leads the projections");
                    flag.set(true);
                    let work = shutdown.child_token();
                    let tasks = start(work.clone());
                    hold(conn, &work, tasks).await;
                    flag.set(false);
                    if !shutdown.is_cancelled() {
                        tracing::warn!(
                            "lost the projections' lead (its connection failed); \
                             trying to take it again"
                        );
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot try for the projections' lead");
                }
            }
            pause(&shutdown, RETRY).await;
        }
    })
}

/// A connection holding the lock, or `None` when another process holds it.
async fn try_lock(
    pool: &sqlx::PgPool,
    key: (i32, i32),
) -> Result<Option<PgConnection>, sqlx::Error> {
    // Detached: the session lock lives as long as this connection, which must never return to
    // the pool (another task would then hold the lock without knowing it).
    let mut conn = pool.acquire().await?.detach();
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
        .bind(key.0)
        .bind(key.1)
        .fetch_one(&mut conn)
        .await?;
    if locked {
        Ok(Some(conn))
    } else {
        let _ = conn.close().await;
        Ok(None)
    }
}

/// Keep the lock's connection alive and checked while the work runs; stop the work when the
/// connection fails or on shutdown (the work's token is a child of it), then release the lock.
async fn hold(mut conn: PgConnection, work: &CancellationToken, mut tasks: JoinSet<()>) {
    let work_ended = wait_all(&mut tasks, work);
    tokio::pin!(work_ended);
    loop {
        tokio::select! {
            () = &mut work_ended => break,
            () = tokio::time::sleep(RETRY) => {
                if let Err(e) = conn.ping().await {
                    tracing::warn!(error = %e, "the projections' lead connection failed");
                    work.cancel();
                    (&mut work_ended).await;
                    return;
                }
            }
        }
    }
    let _ = conn.close().await;
}

async fn wait_all(tasks: &mut JoinSet<()>, work: &CancellationToken) {
    while tasks.join_next().await.is_some() {}
    // Work that ended on its own (it should not) gives the lead up too.
    work.cancel();
}

async fn pause(shutdown: &CancellationToken, d: Duration) {
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = tokio::time::sleep(d) => {}
    }
}
