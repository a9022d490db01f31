//! Per-request context: the request id assigned by the middleware, made available to handlers (as an
//! extractor) and to error renderers (as a task-local), and event metadata built from it.
//!
//! The id ends up in every event's metadata, kept forever, so [`assign_request_id`] is the one place
//! that decides it: a client's `X-Request-Id` is kept only when it is a short, safe token
//! ([`is_acceptable`]); anything else is replaced by a fresh UUID, which the response carries back
//! so the client can still correlate (docs/decisions/0017-bounded-connections-and-request-ids.md).

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::convert::Infallible;
use tessera_application::EventMetadata;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The request header (and response header) carrying the id.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-chosen request id kept, in bytes (a hyphenated UUID is 36).
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// Whether a client's request id is kept as given: 1 to [`MAX_REQUEST_ID_LEN`] characters of
/// `[A-Za-z0-9._-]` (a hyphenated UUID is one such token). Anything else — too long, empty,
/// spaces, control characters, non-ASCII — is replaced.
pub fn is_acceptable(value: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&value.len())
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Middleware, outermost: keep the client's `x-request-id` when [`is_acceptable`], otherwise (or
/// when there is none) put a fresh UUID v4 in its place, so every layer, handler and event below
/// sees only the decided id; the response carries the same id back.
pub async fn assign_request_id(mut request: Request, next: Next) -> Response {
    let given = request.headers().get(&REQUEST_ID_HEADER);
    let id = match given {
        Some(v) if is_acceptable(v.as_bytes()) => v.clone(),
        _ => {
            let fresh = uuid::Uuid::new_v4().hyphenated().to_string();
            match HeaderValue::from_str(&fresh) {
                Ok(v) => v,
                // A hyphenated UUID is always a valid header value.
                Err(_) => HeaderValue::from_static("unassigned"),
            }
        }
    };
    // `insert` also drops any further `x-request-id` lines the client sent.
    request.headers_mut().insert(REQUEST_ID_HEADER, id.clone());
    let mut response = next.run(request).await;
    response.headers_mut().insert(REQUEST_ID_HEADER, id);
    response
}

/// The request's id: the client's `x-request-id` when acceptable, otherwise a generated UUID (see
/// [`assign_request_id`]).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn header_id(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestId(header_id(&parts.headers)))
    }
}

impl RequestId {
    /// Metadata for events written while serving this request (DESIGN.md §7: every event records
    /// its request id).
    pub fn metadata(&self, actor_user_id: Option<String>) -> EventMetadata {
        EventMetadata {
            request_id: Some(self.0.clone()),
            correlation_id: uuid::Uuid::try_parse(&self.0).ok(),
            actor_user_id,
            ..EventMetadata::default()
        }
    }
}

/// Middleware: run the rest of the request with its id in a task-local, so that error responses
/// built far from the handler (extractor rejections) can still name it in their `meta`.
pub async fn scope_request_id(request: Request, next: Next) -> Response {
    let id = header_id(request.headers());
    REQUEST_ID.scope(id, next.run(request)).await
}

/// Run `f` with `id` as the request id that [`current_request_id`] returns, for work of a request
/// moved to a task of its own (task-locals do not follow `tokio::spawn`).
pub async fn with_request_id<F: std::future::Future>(id: String, f: F) -> F::Output {
    REQUEST_ID.scope(id, f).await
}

/// The id of the request being served ("" outside a request).
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::is_acceptable;

    #[test]
    fn only_short_safe_tokens_are_kept() {
        for kept in [
            "a",
            "client.req_42-A",
            "0b9c7f0e-6a4e-4c2f-9d1a-3f5e8b7c6d5a",
        ] {
            assert!(is_acceptable(kept.as_bytes()), "{kept}");
        }
        assert!(is_acceptable("x".repeat(64).as_bytes()));
        assert!(!is_acceptable("x".repeat(65).as_bytes()));
        for refused in [
            "",
            "with space",
            "tab\there",
            "nul\0",
            "ünï",
            "a/b",
            "{uuid}",
        ] {
            assert!(!is_acceptable(refused.as_bytes()), "{refused:?}");
        }
    }
}
