//! The `privacy_keys` table (migration 0003 on both backends): one AES-256 key per data subject,
//! destroyed on erasure.

use crate::Database;
use crate::stored::unavailable;
use async_trait::async_trait;
use chrono::Utc;
use sqlx::Row;
use std::collections::HashMap;
use tessera_application::StoreError;
use tessera_application::identity::ports::SubjectKeys;
use uuid::Uuid;

/// Bytes of an AES-256 key.
pub const KEY_LEN: usize = 32;

/// What the table holds for one key id.
#[derive(Clone, PartialEq, Eq)]
pub enum KeyState {
    /// The key still exists.
    Live(Box<[u8; KEY_LEN]>),
    /// Its subject was erased: the key is gone for good.
    Erased,
}

impl std::fmt::Debug for KeyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        match self {
            KeyState::Live(_) => f.write_str("Live(..)"),
            KeyState::Erased => f.write_str("Erased"),
        }
    }
}

/// The key table of one database (the same database as the event log; see
/// docs/decisions/0008-crypto-shredding.md for why, and how to move keys elsewhere).
#[derive(Debug, Clone)]
pub struct KeyStore {
    database: Database,
}

fn key_from(bytes: &[u8]) -> Result<Box<[u8; KEY_LEN]>, StoreError> {
    <[u8; KEY_LEN]>::try_from(bytes)
        .map(Box::new)
        .map_err(|_| StoreError::Corrupt(format!("a privacy key is {} bytes", bytes.len())))
}

fn new_key() -> Result<Box<[u8; KEY_LEN]>, StoreError> {
    let mut key = Box::new([0u8; KEY_LEN]);
    aws_lc_rs::rand::fill(key.as_mut_slice())
        .map_err(|_| StoreError::Unavailable("the random source failed".into()))?;
    Ok(key)
}

impl KeyStore {
    /// The key table of `database` (migrated).
    pub fn new(database: Database) -> Self {
        Self { database }
    }

    /// The live key of `subject`, made and stored first if it has none.
    ///
    /// Errors: [`StoreError::Unavailable`].
    pub async fn key_for(&self, subject: &str) -> Result<(Uuid, Box<[u8; KEY_LEN]>), StoreError> {
        let found = match &self.database {
            Database::Sqlite(p) => sqlx::query(
                "SELECT key_id, key_material FROM privacy_keys \
                 WHERE subject = $1 AND erased_at IS NULL ORDER BY created_at, key_id LIMIT 1",
            )
            .bind(subject)
            .fetch_optional(&p.writer)
            .await
            .map_err(unavailable)?
            .map(|row| {
                let id: String = row.get(0);
                let key: Vec<u8> = row.get(1);
                (
                    id.parse::<Uuid>()
                        .map_err(|e| StoreError::Corrupt(format!("privacy key id: {e}"))),
                    key,
                )
            }),
            Database::Postgres(p) => sqlx::query(
                "SELECT key_id, key_material FROM privacy_keys \
                 WHERE subject = $1 AND erased_at IS NULL ORDER BY created_at, key_id LIMIT 1",
            )
            .bind(subject)
            .fetch_optional(p)
            .await
            .map_err(unavailable)?
            .map(|row| (Ok(row.get::<Uuid, _>(0)), row.get::<Vec<u8>, _>(1))),
        };
        if let Some((id, key)) = found {
            return Ok((id?, key_from(&key)?));
        }
        // Two first writers may both get here; each then stores a key of its own, both stay
        // valid, and erasure destroys both.
        let id = Uuid::now_v7();
        let key = new_key()?;
        match &self.database {
            Database::Sqlite(p) => sqlx::query(
                "INSERT INTO privacy_keys (key_id, subject, key_material, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id.to_string())
            .bind(subject)
            .bind(key.as_slice())
            .bind(crate::hashing::format_timestamp(Utc::now()))
            .execute(&p.writer)
            .await
            .map(drop),
            Database::Postgres(p) => sqlx::query(
                "INSERT INTO privacy_keys (key_id, subject, key_material) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(subject)
            .bind(key.as_slice())
            .execute(p)
            .await
            .map(drop),
        }
        .map_err(unavailable)?;
        Ok((id, key))
    }

    /// The state of each of `ids` that the table knows (an id missing from the answer is unknown).
    ///
    /// Errors: [`StoreError::Unavailable`], [`StoreError::Corrupt`] for a key of the wrong size.
    pub async fn lookup(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, KeyState>, StoreError> {
        let mut out = HashMap::with_capacity(ids.len());
        if ids.is_empty() {
            return Ok(out);
        }
        let rows: Vec<(Uuid, Option<Vec<u8>>)> = match &self.database {
            Database::Sqlite(p) => {
                let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
                let ids = serde_json::to_string(&ids)
                    .map_err(|e| StoreError::InvalidRequest(e.to_string()))?;
                let q = sqlx::query(
                    "SELECT key_id, key_material FROM privacy_keys \
                     WHERE key_id IN (SELECT value FROM json_each($1))",
                )
                .bind(ids);
                let rows = q.fetch_all(&p.reader).await.map_err(unavailable)?;
                let mut v = Vec::with_capacity(rows.len());
                for row in rows {
                    let id: String = row.get(0);
                    let id = id
                        .parse::<Uuid>()
                        .map_err(|e| StoreError::Corrupt(format!("privacy key id: {e}")))?;
                    v.push((id, row.get(1)));
                }
                v
            }
            Database::Postgres(p) => {
                sqlx::query("SELECT key_id, key_material FROM privacy_keys WHERE key_id = ANY($1)")
                    .bind(ids)
                    .fetch_all(p)
                    .await
                    .map_err(unavailable)?
                    .into_iter()
                    .map(|row| (row.get(0), row.get(1)))
                    .collect()
            }
        };
        for (id, key) in rows {
            let state = match key {
                Some(k) => KeyState::Live(key_from(&k)?),
                None => KeyState::Erased,
            };
            out.insert(id, state);
        }
        Ok(out)
    }
}

#[async_trait]
impl SubjectKeys for KeyStore {
    async fn erase_subjects(&self, subjects: &[String]) -> Result<u64, StoreError> {
        if subjects.is_empty() {
            return Ok(0);
        }
        let now = Utc::now();
        let mut erased = 0;
        match &self.database {
            Database::Sqlite(p) => {
                let mut conn = p.writer.acquire().await.map_err(unavailable)?;
                // Overwrite the freed bytes instead of leaving them in free pages of the file.
                sqlx::query("PRAGMA secure_delete = ON")
                    .execute(&mut *conn)
                    .await
                    .map_err(unavailable)?;
                for subject in subjects {
                    erased += sqlx::query(
                        "UPDATE privacy_keys SET key_material = NULL, subject = NULL, \
                         erased_at = $1 WHERE subject = $2",
                    )
                    .bind(crate::hashing::format_timestamp(now))
                    .bind(subject)
                    .execute(&mut *conn)
                    .await
                    .map_err(unavailable)?
                    .rows_affected();
                }
                // Fold the write-ahead log (which still holds the old pages) into the file. Best
                // effort: a reader in progress can keep part of it until the next checkpoint.
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(&mut *conn)
                    .await
                {
                    tracing::warn!(error = %e, "privacy keys erased; WAL checkpoint failed");
                }
            }
            Database::Postgres(p) => {
                erased = sqlx::query(
                    "UPDATE privacy_keys SET key_material = NULL, subject = NULL, \
                     erased_at = now() WHERE subject = ANY($1)",
                )
                .bind(subjects)
                .execute(p)
                .await
                .map_err(unavailable)?
                .rows_affected();
                // Dead row versions keep the old key bytes until vacuumed. Best effort: a
                // long-running transaction can hold them back until a later vacuum.
                if let Err(e) = sqlx::query("VACUUM privacy_keys").execute(p).await {
                    tracing::warn!(error = %e, "privacy keys erased; VACUUM failed");
                }
            }
        }
        Ok(erased)
    }
}
