//! Errors of the engine's own routes (`/audit`, `/ready`), in the envelope also used by the
//! OpenTicket document: `{"error": {"code", "message", "details"}, "meta": {"requestId", "timestamp"}}`.
//! docs/api-conventions.md explains the choice.

use crate::http::errors::ErrorDetail;
use crate::http::request_id::current_request_id;
use crate::http::{AuthError, AuthRejection};
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer of an engine route.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `VALIDATION_ERROR`: a parameter is malformed; `field` names it.
    #[error("{field}: {message}")]
    Validation {
        /// The query or path parameter as the client named it (e.g. `limit`).
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// 401 `UNAUTHORIZED`: no, malformed, forged or expired access token.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// 403 `FORBIDDEN`: signed in without the role the route needs.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 404 `NOT_FOUND`.
    #[error("{0}")]
    NotFound(String),
    /// 503 `SERVICE_UNAVAILABLE`: the store failed. The detail is logged, never sent.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl ApiError {
    /// Render with the request id the middleware assigned.
    pub fn into_response_with(self, request_id: &str) -> Response {
        let (status, code, message, details) = match &self {
            ApiError::Validation { field, message } => (
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
                format!("invalid parameter `{field}`"),
                json!({ "field": field, "reason": message }),
            ),
            ApiError::Unauthorized(m) => (
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                m.clone(),
                json!({}),
            ),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, "FORBIDDEN", m.clone(), json!({})),
            ApiError::NotFound(what) => {
                (StatusCode::NOT_FOUND, "NOT_FOUND", what.clone(), json!([]))
            }
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "the event store is unavailable; try again".to_owned(),
                json!({}),
            ),
        };
        let mut response = (
            status,
            Json(json!({
                "error": { "code": code, "message": message, "details": details },
                "meta": meta(request_id),
            })),
        )
            .into_response();
        if let ApiError::Unavailable(detail) = &self {
            ErrorDetail::attach(&mut response, detail);
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.into_response_with(&current_request_id())
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Missing => {
                ApiError::Unauthorized("sign in: send `Authorization: Bearer <accessToken>`".into())
            }
            AuthError::Invalid(e) => ApiError::Unauthorized(format!("invalid access token: {e}")),
            AuthError::MissingRole(role) => {
                ApiError::Forbidden(format!("this action needs the {role} role"))
            }
            AuthError::Unavailable(e) => ApiError::Unavailable(e.to_string()),
        }
    }
}

/// The engine's routes take the access token from the `Authorization` header only.
impl AuthRejection for ApiError {}

/// The `meta` block: `requestId` and `timestamp` (RFC 3339 UTC, milliseconds).
pub fn meta(request_id: &str) -> serde_json::Value {
    json!({
        "requestId": request_id,
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}
