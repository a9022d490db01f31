//! Tessera's read side: projectors, the projection runner with checkpoints, and the read-model
//! tables analysts query with SQL (docs/read-models.md).
//!
//! Depends on the application ports (to read the log) and on sqlx (to write read models). Must not
//! depend on the infrastructure adapters or on HTTP.

pub mod courtesy;
pub mod db;
pub mod leadership;
pub mod meeting;
pub mod openticket;
pub mod plans;
pub mod process_manager;
pub mod projector;
pub mod query;
pub mod remote_status;
pub mod runner;
pub mod shop;
pub mod stats;

pub use db::{ProjectionTx, ReadModelDb};
pub use process_manager::{ProcessManagerRunner, ProcessStatus};
pub use projector::{ALL_CATEGORIES, ProjectionError, Projector};
pub use query::QueryError;
pub use runner::{Checkpoint, ProjectionRunner, ProjectionStatus, SharedReads};
pub use stats::EventTypeStatsProjector;

/// Run a query built by the same expression against whichever backend a [`ProjectionTx`] holds,
/// returning the rows affected. The expression is type-checked once per backend, so its binds must
/// encode on both (integers, text, booleans, `chrono::DateTime<Utc>`).
#[macro_export]
macro_rules! execute {
    ($tx:expr, $query:expr) => {
        match $tx {
            $crate::ProjectionTx::Sqlite(t) => {
                $query.execute(&mut **t).await.map(|r| r.rows_affected())
            }
            $crate::ProjectionTx::Postgres(t) => {
                $query.execute(&mut **t).await.map(|r| r.rows_affected())
            }
        }
    };
}
