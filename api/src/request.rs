//! Per-request context: the request id assigned by the middleware, and event metadata built from it.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::convert::Infallible;
use tessera_application::EventMetadata;

/// The request's id (`x-request-id`, taken from the client or generated as a UUID).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok(RequestId(id))
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
