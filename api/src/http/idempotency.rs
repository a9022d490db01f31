//! `Idempotency-Key` on creating POSTs (Stripe's convention; docs/decisions/0010-idempotency-keys.md).
//!
//! A route adopts it in one line, `.routes(idempotent::<TheError>(routes!(create)))`. Then a POST
//! with an `Idempotency-Key` header:
//! - is keyed by (caller, method, path, key), the caller being the verified user of the access
//!   token or `anonymous`, so one client's key never reaches another's answers;
//! - the first time, runs as usual and its answer is stored (status, the headers that matter, body)
//!   unless it is a 5xx, a 401, 408 or 429, which a retry should run again;
//! - again with the same body, replays the stored answer with `Idempotent-Replayed: true`, running
//!   nothing;
//! - again with another body, is a 409 naming the header, in the document's format;
//! - while the first is still running, is a 409 saying so (retry later);
//! - after the configured time (`TESSERA_IDEMPOTENCY_TTL_SECS`, 24 h by default) counts as new.
//!
//! Keys are 1 to [`MAX_KEY_LEN`] characters of `[A-Za-z0-9._:-]` (a UUID fits); another key is a 400.
//! Requests without the header, and other methods, pass untouched.
//!
//! The request runs in a task of its own, so that a client hanging up mid-request cannot stop a
//! command between its commit and the stored answer.

use super::auth::{AuthRejection, authenticate};
use super::body::BodyError;
use super::request_id::{current_request_id, with_request_id};
use crate::startup::AppState;
use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::atomic::{AtomicI64, Ordering};
use tessera_infrastructure::idempotency::{
    Claim, ClaimTimes, IdempotencyScope, IdempotencyStore, StoredAnswer,
};
use tracing::Instrument;
use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Required, path::Operation};
use utoipa_axum::router::UtoipaMethodRouter;

/// The request header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The response header on a replayed answer (`true`).
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Longest key accepted, in bytes (Stripe allows 255).
pub const MAX_KEY_LEN: usize = 255;

/// Largest answer body stored for replay; a bigger answer is not kept (the key is released, so a
/// retry runs again and meets the command's own duplicate rules).
pub const MAX_STORED_BODY: usize = 32 * 1024 * 1024;

/// Whether `value` is an acceptable key: 1 to [`MAX_KEY_LEN`] characters of `[A-Za-z0-9._:-]`.
pub fn is_acceptable_key(value: &[u8]) -> bool {
    (1..=MAX_KEY_LEN).contains(&value.len())
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Why a request with an `Idempotency-Key` was not run; each document words it in its format.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// The key breaks the length or character rule (400 naming `Idempotency-Key`).
    #[error("must be 1 to 255 characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'")]
    InvalidKey,
    /// The key was used with another request body (409).
    #[error("was already used with a different request body; use a new key for a new request")]
    Reused,
    /// The first request with this key has not finished (409; retry later).
    #[error("a request with this key is still being processed; retry later")]
    InFlight,
    /// The key store could not be read or written; nothing ran (503).
    #[error("idempotency keys are unavailable: {0}")]
    Unavailable(String),
}

impl IdempotencyError {
    /// The header the error is about, for documents whose errors name a field.
    pub const FIELD: &'static str = "Idempotency-Key";
}

/// A document's error type, as the answer of the idempotency layer: words [`IdempotencyError`],
/// [`BodyError`] (the body could not be read to fingerprint it) and says where its access tokens
/// come from.
pub trait IdempotencyRejection:
    From<IdempotencyError> + From<BodyError> + AuthRejection + IntoResponse + 'static
{
}

impl<E> IdempotencyRejection for E where
    E: From<IdempotencyError> + From<BodyError> + AuthRejection + IntoResponse + 'static
{
}

/// The keys' store and their timing, shared by every adopting route (an extension set by
/// `startup::app`).
#[derive(Clone)]
pub struct Idempotency {
    state: AppState,
    store: IdempotencyStore,
    ttl_ms: i64,
    lease_ms: i64,
    last_purge_ms: std::sync::Arc<AtomicI64>,
}

impl Idempotency {
    /// Keys in the engine's database, remembered and leased as the server settings say
    /// (`TESSERA_IDEMPOTENCY_TTL_SECS`, `TESSERA_IDEMPOTENCY_LEASE_SECS`).
    pub fn new(state: &AppState) -> Self {
        let ms = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX);
        let (ttl_secs, lease_secs) = (
            state.server.idempotency_ttl_secs,
            state.server.idempotency_lease_secs,
        );
        Self {
            state: state.clone(),
            store: IdempotencyStore::new(state.engine.database.clone()),
            ttl_ms: ms(ttl_secs.max(1)),
            lease_ms: ms(lease_secs.max(1)),
            last_purge_ms: std::sync::Arc::new(AtomicI64::new(0)),
        }
    }

    /// Delete expired keys at most once every ten minutes, in the background.
    fn purge_now_and_then(&self, now_ms: i64) {
        let last = self.last_purge_ms.load(Ordering::Relaxed);
        if now_ms - last < 600_000
            || self
                .last_purge_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let store = self.store.clone();
        let before = now_ms - self.ttl_ms;
        tokio::spawn(async move {
            match store.purge(before).await {
                Ok(n) if n > 0 => tracing::debug!(purged = n, "expired idempotency keys deleted"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purging expired idempotency keys failed"),
            }
        });
    }
}

/// Adopt `Idempotency-Key` on a route's POST (other methods of the route pass untouched), with
/// errors worded by `E`; the OpenAPI operation gets the header parameter.
pub fn idempotent<E: IdempotencyRejection>(
    (schemas, mut paths, router): UtoipaMethodRouter<AppState>,
) -> UtoipaMethodRouter<AppState> {
    for item in paths.paths.values_mut() {
        if let Some(post) = item.post.as_mut() {
            document_header(post);
        }
    }
    (
        schemas,
        paths,
        router.layer(axum::middleware::from_fn(handle::<E>)),
    )
}

fn document_header(op: &mut Operation) {
    let parameter = ParameterBuilder::new()
        .name(IdempotencyError::FIELD)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "A key of the client's choosing (1–255 characters of `A-Z a-z 0-9 . _ : -`, e.g. a \
             UUID). A retry with the same key and body replays the first answer \
             (`Idempotent-Replayed: true`) instead of running again; the same key with another \
             body, or while the first request runs, is a 409. Keys are kept 24 hours.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(MAX_KEY_LEN))
                .pattern(Some("^[A-Za-z0-9._:-]+$")),
        ))
        .build();
    op.parameters
        .get_or_insert_with(Vec::new)
        .push(utoipa::openapi::RefOr::T(parameter));
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

/// Whether an answer with this status is kept for replay: successes, redirects and client errors,
/// except those a retry is meant to get past (401 bad credentials, 408 timeout, 429 rate limit).
pub fn is_kept(status: StatusCode) -> bool {
    !status.is_server_error()
        && !status.is_informational()
        && !matches!(
            status,
            StatusCode::UNAUTHORIZED | StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS
        )
}

/// Headers replayed with a stored answer (the request id and dates belong to each request).
const KEPT_HEADERS: [HeaderName; 5] = [
    header::CONTENT_TYPE,
    header::LOCATION,
    header::ETAG,
    header::RETRY_AFTER,
    header::CACHE_CONTROL,
];

async fn handle<E: IdempotencyRejection>(
    idempotency: Option<Extension<Idempotency>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(&IDEMPOTENCY_KEY).cloned() else {
        return next.run(request).await;
    };
    let Some(Extension(idempotency)) = idempotency else {
        tracing::error!("Idempotency-Key ignored: the idempotency layer is not wired");
        return next.run(request).await;
    };
    if !is_acceptable_key(key.as_bytes()) {
        return E::from(IdempotencyError::InvalidKey).into_response();
    }
    let key = String::from_utf8_lossy(key.as_bytes()).into_owned();
    let (parts, body) = request.into_parts();
    // The caller as the handler will see it; a token that does not verify gets no idempotency
    // (the handler answers it with the document's 401).
    let caller = match authenticate(&parts, &idempotency.state, E::TOKEN_COOKIE).await {
        Ok(c) => format!("user:{}", c.user_id),
        Err(super::AuthError::Missing) => "anonymous".to_owned(),
        Err(_) => return next.run(Request::from_parts(parts, body)).await,
    };
    // Read the body within the route's limit (`DefaultBodyLimit`), as the handler would.
    let bytes = match Bytes::from_request(Request::from_parts(parts.clone(), body), &()).await {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return E::from(BodyError::TooLarge).into_response();
        }
        Err(e) => return E::from(BodyError::Unreadable(e.body_text())).into_response(),
    };
    let scope = IdempotencyScope {
        caller,
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        key,
    };
    let fingerprint = sha256_hex(&bytes);
    let now = now_ms();
    idempotency.purge_now_and_then(now);
    let times = ClaimTimes {
        now_ms: now,
        ttl_ms: idempotency.ttl_ms,
        lease_ms: idempotency.lease_ms,
    };
    match idempotency.store.claim(&scope, &fingerprint, times).await {
        Ok(Claim::Claimed) => {}
        Ok(Claim::Done(answer)) => return replay(answer),
        Ok(Claim::InFlight) => return E::from(IdempotencyError::InFlight).into_response(),
        Ok(Claim::Mismatch) => return E::from(IdempotencyError::Reused).into_response(),
        Err(e) => return E::from(IdempotencyError::Unavailable(e.to_string())).into_response(),
    }
    let request = Request::from_parts(parts, Body::from(bytes));
    let store = idempotency.store.clone();
    let request_id = current_request_id();
    let run = async move {
        let response = next.run(request).await;
        record(&store, &scope, &fingerprint, response).await
    };
    let task = tokio::spawn(with_request_id(request_id, run).instrument(tracing::Span::current()));
    match task.await {
        Ok(response) => response,
        // The handler panicked: the claim stays until its lease ends; let the panic layer answer.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// Store `response` for replay when [`is_kept`], or release the key; returns the response to send.
async fn record(
    store: &IdempotencyStore,
    scope: &IdempotencyScope,
    fingerprint: &str,
    response: Response,
) -> Response {
    if !is_kept(response.status()) {
        if let Err(e) = store.release(scope, fingerprint).await {
            tracing::warn!(error = %e, "releasing an idempotency key failed; it lapses with its lease");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    // Handlers answer with bodies already in memory; collecting them copies nothing.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "answer body unreadable; idempotency key released");
            if let Err(e) = store.release(scope, fingerprint).await {
                tracing::warn!(error = %e, "releasing an idempotency key failed");
            }
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    if bytes.len() > MAX_STORED_BODY {
        tracing::warn!(
            bytes = bytes.len(),
            "answer too large to keep for its idempotency key; key released"
        );
        if let Err(e) = store.release(scope, fingerprint).await {
            tracing::warn!(error = %e, "releasing an idempotency key failed");
        }
        return Response::from_parts(parts, Body::from(bytes));
    }
    let headers = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let value = parts.headers.get(name)?.to_str().ok()?;
            Some((name.as_str().to_owned(), value.to_owned()))
        })
        .collect();
    let answer = StoredAnswer {
        status: parts.status.as_u16(),
        headers,
        body: bytes.to_vec(),
    };
    if let Err(e) = store.complete(scope, fingerprint, &answer).await {
        // The answer still goes out; a retry within the lease gets a 409, after it runs again.
        tracing::warn!(error = %e, "storing the answer of an idempotency key failed");
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn replay(answer: StoredAnswer) -> Response {
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            headers.insert(name, value);
        }
    }
    headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::{is_acceptable_key, is_kept};
    use axum::http::StatusCode;

    #[test]
    fn keys_are_short_safe_tokens() {
        for kept in [
            "a",
            "0b9c7f0e-6a4e-4c2f-9d1a-3f5e8b7c6d5a",
            "order:42_retry.1",
        ] {
            assert!(is_acceptable_key(kept.as_bytes()), "{kept}");
        }
        assert!(is_acceptable_key("k".repeat(255).as_bytes()));
        assert!(!is_acceptable_key("k".repeat(256).as_bytes()));
        for refused in ["", "with space", "nul\0", "ünï", "a/b", "{key}"] {
            assert!(!is_acceptable_key(refused.as_bytes()), "{refused:?}");
        }
    }

    #[test]
    fn server_errors_and_retryable_refusals_are_not_kept() {
        for kept in [200, 201, 202, 303, 400, 403, 404, 409, 422] {
            assert!(is_kept(StatusCode::from_u16(kept).unwrap()), "{kept}");
        }
        for not in [401, 408, 429, 500, 502, 503] {
            assert!(!is_kept(StatusCode::from_u16(not).unwrap()), "{not}");
        }
    }
}
