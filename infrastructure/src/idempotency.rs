//! Durable idempotency keys on both SQL backends (docs/decisions/0010-idempotency-keys.md): the
//! table `idempotency_keys` (migration 0004) holds, per (scope, method, path, key), the fingerprint
//! of the first request's body and, once it finished, its answer.
//!
//! The store knows nothing of HTTP: answers are a status code, header pairs and body bytes. The
//! api crate decides which requests use it and which answers are kept.

use crate::Database;
use crate::stored::unavailable;
use sqlx::Row;
use tessera_application::StoreError;

/// Whose key it is and for which route: a key is only ever compared within its scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyScope {
    /// `user:{uuid}` for a signed-in caller, `anonymous` otherwise.
    pub caller: String,
    /// HTTP method, upper case.
    pub method: String,
    /// Request path (no query string).
    pub path: String,
    /// The client's `Idempotency-Key`.
    pub key: String,
}

/// An answer kept for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    /// HTTP status code.
    pub status: u16,
    /// Header name and value pairs worth replaying (content type, location, …).
    pub headers: Vec<(String, String)>,
    /// The body bytes as first sent.
    pub body: Vec<u8>,
}

/// What [`IdempotencyStore::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new (or expired, or abandoned by a request that died): the caller runs the
    /// request and then calls [`IdempotencyStore::complete`] or [`IdempotencyStore::release`].
    Claimed,
    /// The first request with this key is still running.
    InFlight,
    /// The key was used with another body.
    Mismatch,
    /// The first request finished: replay its answer.
    Done(StoredAnswer),
}

/// Timing rules of a claim, in milliseconds since the Unix epoch and milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct ClaimTimes {
    /// Now.
    pub now_ms: i64,
    /// How long a key is remembered after its first use.
    pub ttl_ms: i64,
    /// How long an unfinished claim holds the key before another request may take it over.
    pub lease_ms: i64,
}

/// The `idempotency_keys` table of one database.
#[derive(Debug, Clone)]
pub struct IdempotencyStore {
    db: Database,
}

const INSERT: &str = "INSERT INTO idempotency_keys \
    (scope, method, path, idem_key, fingerprint, created_ms, locked_ms) \
    VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT DO NOTHING";
const SELECT: &str = "SELECT fingerprint, created_ms, locked_ms, status, headers, body \
    FROM idempotency_keys WHERE scope = $1 AND method = $2 AND path = $3 AND idem_key = $4";
// Compare-and-set on the times read, so that of two requests taking over one stale row only one
// wins.
const TAKE_OVER: &str = "UPDATE idempotency_keys SET fingerprint = $5, created_ms = $6, \
    locked_ms = $6, status = NULL, headers = NULL, body = NULL \
    WHERE scope = $1 AND method = $2 AND path = $3 AND idem_key = $4 \
    AND created_ms = $7 AND locked_ms = $8";
const COMPLETE: &str = "UPDATE idempotency_keys SET status = $6, headers = $7, body = $8 \
    WHERE scope = $1 AND method = $2 AND path = $3 AND idem_key = $4 AND fingerprint = $5 \
    AND status IS NULL";
const RELEASE: &str = "DELETE FROM idempotency_keys \
    WHERE scope = $1 AND method = $2 AND path = $3 AND idem_key = $4 AND fingerprint = $5 \
    AND status IS NULL";
const PURGE: &str = "DELETE FROM idempotency_keys WHERE created_ms < $1";
const FORGET: &str = "DELETE FROM idempotency_keys WHERE scope = $1";

/// One row as read.
struct KeyRow {
    fingerprint: String,
    created_ms: i64,
    locked_ms: i64,
    status: Option<i32>,
    headers: Option<String>,
    body: Option<Vec<u8>>,
}

macro_rules! bind_scope {
    ($q:expr, $s:expr) => {
        $q.bind(&$s.caller)
            .bind(&$s.method)
            .bind(&$s.path)
            .bind(&$s.key)
    };
}

/// Run one statement on whichever backend; the rows it changed.
macro_rules! run {
    ($db:expr, $q:expr) => {
        match $db {
            Database::Sqlite(p) => $q.execute(&p.writer).await.map(|r| r.rows_affected()),
            Database::Postgres(p) => $q.execute(p).await.map(|r| r.rows_affected()),
        }
        .map_err(unavailable)
    };
}

/// Decode a row of either backend.
macro_rules! decode {
    ($r:expr) => {
        (|| -> Result<KeyRow, sqlx::Error> {
            Ok(KeyRow {
                fingerprint: $r.try_get("fingerprint")?,
                created_ms: $r.try_get("created_ms")?,
                locked_ms: $r.try_get("locked_ms")?,
                status: $r.try_get("status")?,
                headers: $r.try_get("headers")?,
                body: $r.try_get("body")?,
            })
        })()
    };
}

impl IdempotencyStore {
    /// The store over `db` (migrated: the table comes with the event store's migrations).
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    async fn read(&self, scope: &IdempotencyScope) -> Result<Option<KeyRow>, StoreError> {
        let row = match &self.db {
            Database::Sqlite(p) => bind_scope!(sqlx::query(SELECT), scope)
                .fetch_optional(&p.writer)
                .await
                .map_err(unavailable)?
                .map(|r| decode!(r)),
            Database::Postgres(p) => bind_scope!(sqlx::query(SELECT), scope)
                .fetch_optional(p)
                .await
                .map_err(unavailable)?
                .map(|r| decode!(r)),
        };
        row.transpose().map_err(unavailable)
    }

    /// Claim `scope` for a request whose body has `fingerprint`, or say why not.
    pub async fn claim(
        &self,
        scope: &IdempotencyScope,
        fingerprint: &str,
        times: ClaimTimes,
    ) -> Result<Claim, StoreError> {
        let inserted = run!(
            &self.db,
            bind_scope!(sqlx::query(INSERT), scope)
                .bind(fingerprint)
                .bind(times.now_ms)
        )?;
        if inserted == 1 {
            return Ok(Claim::Claimed);
        }
        let Some(row) = self.read(scope).await? else {
            // Purged between the insert and the read: the next attempt inserts.
            return Ok(Claim::InFlight);
        };
        let expired = row.created_ms < times.now_ms - times.ttl_ms;
        let abandoned = row.status.is_none() && row.locked_ms < times.now_ms - times.lease_ms;
        if expired || abandoned {
            let taken = run!(
                &self.db,
                bind_scope!(sqlx::query(TAKE_OVER), scope)
                    .bind(fingerprint)
                    .bind(times.now_ms)
                    .bind(row.created_ms)
                    .bind(row.locked_ms)
            )?;
            return Ok(if taken == 1 {
                Claim::Claimed
            } else {
                Claim::InFlight
            });
        }
        if row.fingerprint != fingerprint {
            return Ok(Claim::Mismatch);
        }
        match row.status {
            None => Ok(Claim::InFlight),
            Some(status) => {
                let headers: Vec<(String, String)> = match row.headers.as_deref() {
                    Some(h) => serde_json::from_str(h).map_err(|e| {
                        StoreError::Corrupt(format!("idempotency key headers: {e}"))
                    })?,
                    None => Vec::new(),
                };
                Ok(Claim::Done(StoredAnswer {
                    status: u16::try_from(status).unwrap_or(500),
                    headers,
                    body: row.body.unwrap_or_default(),
                }))
            }
        }
    }

    /// Keep the answer of the request that claimed `scope`.
    pub async fn complete(
        &self,
        scope: &IdempotencyScope,
        fingerprint: &str,
        answer: &StoredAnswer,
    ) -> Result<(), StoreError> {
        let headers = serde_json::to_string(&answer.headers)
            .map_err(|e| StoreError::InvalidRequest(e.to_string()))?;
        run!(
            &self.db,
            bind_scope!(sqlx::query(COMPLETE), scope)
                .bind(fingerprint)
                .bind(i32::from(answer.status))
                .bind(headers)
                .bind(answer.body.as_slice())
        )?;
        Ok(())
    }

    /// Forget an unfinished claim (the request failed in a way a retry should run again).
    pub async fn release(
        &self,
        scope: &IdempotencyScope,
        fingerprint: &str,
    ) -> Result<(), StoreError> {
        run!(
            &self.db,
            bind_scope!(sqlx::query(RELEASE), scope).bind(fingerprint)
        )?;
        Ok(())
    }

    /// Delete every key (and kept answer) of `caller` (`user:{uuid}`), e.g. when the user is
    /// erased: kept answers can hold their personal data. Returns how many.
    pub async fn forget_caller(&self, caller: &str) -> Result<u64, StoreError> {
        run!(&self.db, sqlx::query(FORGET).bind(caller.to_owned()))
    }

    /// Delete keys first used before `before_ms`; returns how many.
    pub async fn purge(&self, before_ms: i64) -> Result<u64, StoreError> {
        run!(&self.db, sqlx::query(PURGE).bind(before_ms))
    }
}
