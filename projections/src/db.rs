//! The read-model database: the same database as the event store (so analysts find events and read
//! models side by side), on either backend.

use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

/// Pools of the read-model database.
#[derive(Debug, Clone)]
pub enum ReadModelDb {
    /// SQLite: writes go through the process's single writer connection.
    Sqlite {
        /// The single writer (shared with the event store).
        writer: SqlitePool,
        /// Read-only connections for queries.
        reader: SqlitePool,
    },
    /// PostgreSQL.
    Postgres(PgPool),
}

/// A read-model transaction on either backend. Projectors write with [`crate::execute!`] or match
/// on the variant for backend-specific SQL.
pub enum ProjectionTx {
    /// SQLite transaction (`BEGIN IMMEDIATE`).
    Sqlite(Transaction<'static, Sqlite>),
    /// PostgreSQL transaction.
    Postgres(Transaction<'static, Postgres>),
}

impl ReadModelDb {
    /// Apply the projections' embedded migrations (their own migration table, beside the event
    /// store's).
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self {
            ReadModelDb::Sqlite { writer, .. } => {
                let mut m = sqlx::migrate!("./migrations/sqlite");
                m.dangerous_set_table_name("_tessera_projection_migrations");
                m.run(writer).await
            }
            ReadModelDb::Postgres(pool) => {
                let mut m = sqlx::migrate!("./migrations/postgres");
                m.dangerous_set_table_name("_tessera_projection_migrations");
                m.run(pool).await
            }
        }
    }

    /// Begin a write transaction.
    pub async fn begin(&self) -> Result<ProjectionTx, sqlx::Error> {
        Ok(match self {
            ReadModelDb::Sqlite { writer, .. } => {
                ProjectionTx::Sqlite(writer.begin_with("BEGIN IMMEDIATE").await?)
            }
            ReadModelDb::Postgres(pool) => ProjectionTx::Postgres(pool.begin().await?),
        })
    }
}

impl ProjectionTx {
    /// Commit every write made in it (dropping it uncommitted rolls back).
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            ProjectionTx::Sqlite(t) => t.commit().await,
            ProjectionTx::Postgres(t) => t.commit().await,
        }
    }
}
