//! The OpenTicket response envelope and error format (seed 003 §1.2–1.3): success is
//! `{"data": …, "meta": {"requestId", "timestamp"}}`, failure is
//! `{"error": {"code", "message", "details"}, "meta": {…}}`; and the JSON body extractor whose
//! rejections name the offending field.

use crate::request::current_request_id;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, body::Bytes};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The `meta` block of every OpenTicket response: `requestId` (the `x-request-id` of the request)
/// and `timestamp` (RFC 3339, UTC, milliseconds).
pub fn meta() -> Value {
    crate::error::meta(&current_request_id())
}

/// A success response: `status` with `{"data": data, "meta": …}`.
pub fn ok<T: Serialize>(status: StatusCode, data: T) -> Response {
    (status, Json(json!({ "data": data, "meta": meta() }))).into_response()
}

/// One seat that could not be locked or ordered, as in `details.unavailableSeats` (seed 003 §5.2).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnavailableSeat {
    /// The seat, e.g. `A-002`.
    pub seat_id: String,
    /// Why, in words, e.g. `Already locked by another user`.
    pub reason: String,
}

/// Every error an OpenTicket route answers with. Each variant's doc names its status and `code`.
#[derive(Debug, thiserror::Error)]
pub enum OtError {
    /// 400 `VALIDATION_ERROR`; `details: {"field", "reason"}` names the offending field (a JSON path
    /// such as `seatIds[2]`, or a query parameter).
    #[error("{field}: {reason}")]
    Validation {
        /// The field, as the client named it.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// 401 `UNAUTHORIZED`: no, malformed, forged or expired access token, or bad credentials.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// 403 `FORBIDDEN`: signed in, but the role does not allow it.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 404 `NOT_FOUND`; `details: {"resource", "id"}`.
    #[error("{resource} {id} not found")]
    NotFound {
        /// What kind of thing, e.g. `order`.
        resource: &'static str,
        /// The id asked for.
        id: String,
    },
    /// 409 `CONFLICT`: the request contradicts the resource's state; `details` says how.
    #[error("conflict: {message}")]
    Conflict {
        /// Human-readable reason.
        message: String,
        /// Machine-readable context.
        details: Value,
    },
    /// 409 `SEAT_UNAVAILABLE`; `details: {"unavailableSeats": [{seatId, reason}]}` (seed 003 §5.2).
    #[error("seats unavailable")]
    SeatUnavailable(Vec<UnavailableSeat>),
    /// 413 `PAYLOAD_TOO_LARGE`: the body is over the route's limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// 502 `PAYMENT_PROVIDER_ERROR`: the payment provider refused or failed; detail is logged.
    #[error("payment provider: {0}")]
    PaymentProvider(String),
    /// 503 `SERVICE_UNAVAILABLE`: the store failed or is contended; detail logged, never sent.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// 500 `INTERNAL_ERROR`: a bug; detail logged, never sent.
    #[error("internal: {0}")]
    Internal(String),
}

impl OtError {
    /// A validation error naming `field`.
    pub fn validation(field: impl Into<String>, reason: impl Into<String>) -> Self {
        OtError::Validation {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A 404 for `resource` with `id`.
    pub fn not_found(resource: &'static str, id: impl Into<String>) -> Self {
        OtError::NotFound {
            resource,
            id: id.into(),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, String, Value) {
        match self {
            OtError::Validation { field, reason } => (
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
                format!("Invalid field `{field}`: {reason}"),
                json!({ "field": field, "reason": reason }),
            ),
            OtError::Unauthorized(m) => (
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                m.clone(),
                json!({}),
            ),
            OtError::Forbidden(m) => (StatusCode::FORBIDDEN, "FORBIDDEN", m.clone(), json!({})),
            OtError::NotFound { resource, id } => (
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!("{resource} not found"),
                json!({ "resource": resource, "id": id }),
            ),
            OtError::Conflict { message, details } => (
                StatusCode::CONFLICT,
                "CONFLICT",
                message.clone(),
                details.clone(),
            ),
            OtError::SeatUnavailable(seats) => (
                StatusCode::CONFLICT,
                "SEAT_UNAVAILABLE",
                "One or more seats are not available".to_owned(),
                json!({ "unavailableSeats": seats }),
            ),
            OtError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "The request body is too large".to_owned(),
                json!({}),
            ),
            OtError::PaymentProvider(detail) => {
                tracing::warn!(%detail, "payment provider error");
                (
                    StatusCode::BAD_GATEWAY,
                    "PAYMENT_PROVIDER_ERROR",
                    "The payment provider could not start the payment; try again".to_owned(),
                    json!({}),
                )
            }
            OtError::Unavailable(detail) => {
                tracing::error!(%detail, "service unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "SERVICE_UNAVAILABLE",
                    "The service is temporarily unavailable; try again".to_owned(),
                    json!({}),
                )
            }
            OtError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL_ERROR",
                    "Internal error".to_owned(),
                    json!({}),
                )
            }
        }
    }
}

impl IntoResponse for OtError {
    fn into_response(self) -> Response {
        let (status, code, message, details) = self.parts();
        (
            status,
            Json(json!({
                "error": { "code": code, "message": message, "details": details },
                "meta": meta(),
            })),
        )
            .into_response()
    }
}

/// A JSON request body. Rejections are OpenTicket `VALIDATION_ERROR`s naming the field serde
/// stopped at (`seatIds[1]`), or `body` for malformed JSON and a wrong content type.
#[derive(Debug, Clone)]
pub struct OtJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OtJson<T> {
    type Rejection = OtError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                let ct = ct.to_ascii_lowercase();
                ct.starts_with("application/json") || ct.contains("+json")
            });
        if !is_json {
            return Err(OtError::validation(
                "body",
                "expected a JSON body with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                OtError::PayloadTooLarge
            } else {
                OtError::validation("body", e.body_text())
            }
        })?;
        parse_json(&bytes).map(OtJson)
    }
}

/// Deserialize `bytes`, naming the field at fault in the error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, OtError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        // serde reports a missing field at its parent's path; name the field itself.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        let parent = if path.is_empty() || path == "." || path == "?" {
            None
        } else {
            Some(path)
        };
        let field = match (parent, missing) {
            (Some(p), Some(m)) => format!("{p}.{m}"),
            (None, Some(m)) => m.to_owned(),
            (Some(p), None) => p,
            (None, None) => "body".to_owned(),
        };
        let reason = match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                format!("malformed JSON: {inner}")
            }
            _ => message,
        };
        OtError::Validation { field, reason }
    })
}
