//! The default [`BlobStore`]: a folder (`{data dir}/blobs` unless configured), one file per
//! SHA-256 at `ab/cd/abcd…` (two levels of 256 folders keep directories small). A put writes a
//! uniquely named temporary file in the same folder, flushes it, and renames it onto its final
//! name: readers see a whole file or none, and concurrent puts of the same bytes end with one
//! file (rename replaces atomically with identical content). docs/decisions/0024-blob-store.md.

use async_trait::async_trait;
use aws_lc_rs::digest;
use std::io::Write;
use std::path::{Path, PathBuf};
use tessera_application::blobs::{BlobError, BlobStore, StoredBlob};

/// A content-addressed blob store in a folder.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    /// A store rooted at `root` (created on first put).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob `sha256` lives; `None` for a name that is not 64 lower-case hex digits.
    pub fn path_of(&self, sha256: &str) -> Option<PathBuf> {
        let ok = sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| {
            self.root
                .join(&sha256[..2])
                .join(&sha256[2..4])
                .join(sha256)
        })
    }
}

fn io(e: std::io::Error) -> BlobError {
    BlobError(e.to_string())
}

fn put_sync(root: &Path, bytes: &[u8]) -> Result<StoredBlob, BlobError> {
    let sha256 = hex::encode(digest::digest(&digest::SHA256, bytes));
    let store = FsBlobStore::new(root);
    let path = store
        .path_of(&sha256)
        .ok_or_else(|| BlobError("bad digest".into()))?;
    let size = bytes.len() as u64;
    if path.exists() {
        return Ok(StoredBlob {
            sha256,
            size,
            created: false,
        });
    }
    let dir = path
        .parent()
        .ok_or_else(|| BlobError("blob path has no folder".into()))?;
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = dir.join(format!(".{sha256}.{}.tmp", uuid::Uuid::now_v7().simple()));
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(StoredBlob {
        sha256,
        size,
        created: true,
    })
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(&self, bytes: &[u8]) -> Result<StoredBlob, BlobError> {
        let root = self.root.clone();
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || put_sync(&root, &bytes))
            .await
            .map_err(|e| BlobError(e.to_string()))?
    }

    async fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>, BlobError> {
        let Some(path) = self.path_of(sha256) else {
            return Ok(None);
        };
        tokio::task::spawn_blocking(move || match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        })
        .await
        .map_err(|e| BlobError(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[tokio::test]
    async fn same_bytes_are_stored_once_under_their_hash() {
        let dir = std::env::temp_dir().join(format!("tessera-blobs-{}", uuid::Uuid::now_v7()));
        let store = FsBlobStore::new(&dir);
        let a = store.put(b"abc").await.unwrap();
        assert_eq!(
            a.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(a.created);
        assert!(!store.put(b"abc").await.unwrap().created);
        assert_eq!(store.get(&a.sha256).await.unwrap().unwrap(), b"abc");
        assert_eq!(store.get(&"0".repeat(64)).await.unwrap(), None);
        assert_eq!(store.get("../etc/passwd").await.unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
