//! Per-request context: the request id assigned by the middleware, made available to handlers (as an
//! extractor) and to error renderers (as a task-local), and event metadata built from it.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use std::convert::Infallible;
use tessera_application::EventMetadata;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The request's id (`x-request-id`, taken from the client or generated as a UUID).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn header_id(headers: &axum::http::HeaderMap) -> String {
    headers
        .get("x-request-id")
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

/// The id of the request being served ("" outside a request).
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}
