//! What every document's queries share.

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The read-model database failed.
    #[error("read-model database: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored value cannot be read back (a bug in a projector, or a hand-edited row).
    #[error("read model holds an unreadable value: {0}")]
    Corrupt(String),
}
