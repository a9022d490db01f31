//! Tessera's adapters: the event store on SQLite (embedded default) and PostgreSQL (production), the
//! tamper-evidence hash chain, and the auditor's raw view and verification.
//!
//! Depends inward on the application ports and the domain. Must not know HTTP (axum) or the
//! projections; the api crate wires them together.

pub mod alipay;
pub mod audit;
pub mod batcher;
pub mod blobs;
pub mod group_commit;
pub mod hashing;
pub mod idempotency;
pub mod identity;
pub mod kurrentdb;
pub mod notify;
pub mod oidc;
pub mod openticket;
pub mod payments;
pub mod pg_listen;
pub mod pool;
pub mod postgres;
pub mod privacy;
pub mod ratelimit;
pub mod sqlite;
pub mod stored;
pub mod wechatpay;

use std::sync::Arc;
use tessera_application::{DeadlineStore, EventStore, StoreError};

pub use audit::{
    AuditFinding, AuditReport, AuditSource, FindingKind, to_cloud_event, to_cloud_events, verify,
};
pub use postgres::PostgresEventStore;
pub use privacy::{KeyStore, Privacy, PrivacyEventStore};
pub use sqlite::{SqliteEventStore, SqlitePools};
pub use stored::{StoredEvent, StreamHead};

/// Which database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite:` URLs: one file, the embedded default.
    Sqlite,
    /// `postgres:` / `postgresql:` URLs.
    Postgres,
}

impl Backend {
    /// Recognise the backend from a database URL's scheme.
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// Errors while connecting to or preparing a database.
#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    /// The URL names no supported backend.
    #[error("unsupported database URL (use sqlite://… or postgres://…): {0}")]
    UnsupportedUrl(String),
    /// The database could not be opened or reached.
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// Applying the embedded migrations (`infrastructure/migrations/{sqlite,postgres}`, recorded in
    /// `_tessera_event_store_migrations`) failed, or those applied do not match the embedded files.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The store could not start.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `TESSERA_EVENT_STORE_URL` names KurrentDB but the database is not PostgreSQL.
    #[error(
        "TESSERA_EVENT_STORE_URL={0} (KurrentDB) needs TESSERA_DATABASE_URL=postgres://… for read \
         models, deadlines and the position index; SQLite cannot be used with KurrentDB"
    )]
    KurrentDbNeedsPostgres(String),
    /// `TESSERA_EVENT_STORE_URL` is not a KurrentDB connection string.
    #[error(
        "TESSERA_EVENT_STORE_URL: unsupported event store URL (use kurrentdb://…, \
         kurrentdb+discover://… or esdb://…): {0}"
    )]
    UnsupportedEventStoreUrl(String),
}

/// An open database: the pools of one backend.
#[derive(Debug, Clone)]
pub enum Database {
    /// SQLite file.
    Sqlite(SqlitePools),
    /// PostgreSQL server.
    Postgres(sqlx::PgPool),
}

/// The event store of a database, seen through each port it implements.
#[derive(Clone)]
pub struct Stores {
    /// Appends and reads (not upcast; wrap in an `UpcastingEventStore` for application use).
    pub events: Arc<dyn EventStore>,
    /// Deadlines stored with appends.
    pub deadlines: Arc<dyn DeadlineStore>,
    /// Raw rows for auditors.
    pub audit: Arc<dyn AuditSource>,
}

impl Database {
    /// Open the database at `url`; `max_connections` sizes the PostgreSQL pool.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, InfraError> {
        match Backend::from_url(url) {
            Some(Backend::Sqlite) => Ok(Database::Sqlite(
                SqlitePools::open(url).await.map_err(InfraError::Connect)?,
            )),
            Some(Backend::Postgres) => Ok(Database::Postgres(
                postgres::connect_pool(url, max_connections)
                    .await
                    .map_err(InfraError::Connect)?,
            )),
            None => Err(InfraError::UnsupportedUrl(url.to_owned())),
        }
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self {
            Database::Sqlite(_) => Backend::Sqlite,
            Database::Postgres(_) => Backend::Postgres,
        }
    }

    /// Apply the event store's migrations (idempotent).
    pub async fn migrate(&self) -> Result<(), InfraError> {
        match self {
            Database::Sqlite(p) => p.migrate().await?,
            Database::Postgres(p) => postgres::migrate(p).await?,
        }
        Ok(())
    }

    /// Open the event store over this (migrated) database.
    pub async fn stores(&self) -> Result<Stores, InfraError> {
        Ok(match self {
            Database::Sqlite(p) => {
                let s = Arc::new(SqliteEventStore::new(p.clone()).await?);
                Stores {
                    events: s.clone(),
                    deadlines: s.clone(),
                    audit: s,
                }
            }
            Database::Postgres(p) => {
                let s = Arc::new(PostgresEventStore::new(p.clone()).await?);
                // Other processes' commits wake this process's readers too (LISTEN/NOTIFY).
                pg_listen::follow_appends(p.clone(), s.notifier());
                Stores {
                    events: s.clone(),
                    deadlines: s.clone(),
                    audit: s,
                }
            }
        })
    }

    /// Check the database answers (for readiness probes).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let r = match self {
            Database::Sqlite(p) => sqlx::query("SELECT 1").execute(&p.reader).await.map(drop),
            Database::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.map(drop),
        };
        r.map_err(|e| StoreError::Unavailable(e.to_string()))
    }
}
