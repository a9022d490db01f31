//! The port to a content-addressed blob store (docs/decisions/0024-blob-store.md): files are kept
//! under the SHA-256 of their bytes, so storing the same bytes twice keeps one copy, and events
//! only need to record the hash. Neutral: any document that stores uploads (Courtesy's avatars
//! and card resources, team plans' certification pictures) uses it. The default adapter is a folder under the data directory
//! (`tessera_infrastructure::blobs::FsBlobStore`).

use async_trait::async_trait;

/// What [`BlobStore::put`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    /// SHA-256 of the bytes, lower-case hex (64 characters).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Whether this call wrote it (`false`: the same bytes were already stored).
    pub created: bool,
}

/// Why the blob store failed (never the client's fault: answered as a service error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("blob store: {0}")]
pub struct BlobError(pub String);

/// A content-addressed store of immutable files.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Store `bytes` under their SHA-256; atomic (readers see the whole file or none) and
    /// idempotent (concurrent puts of the same bytes leave one file).
    ///
    /// Errors: [`BlobError`] when the storage cannot be written.
    async fn put(&self, bytes: &[u8]) -> Result<StoredBlob, BlobError>;

    /// The bytes stored under `sha256` (lower-case hex), or `None`.
    ///
    /// Errors: [`BlobError`] when the storage cannot be read.
    async fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>, BlobError>;
}
