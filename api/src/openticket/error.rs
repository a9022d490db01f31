//! OpenTicket's error format (seed 003 §1.3): `{"error": {"code", "message", "details"}, "meta":
//! {"requestId", "timestamp"}}`, and how the neutral HTTP errors (auth, body, query parameters,
//! read models) read in it.

use super::envelope::{Meta, meta};
use crate::http::errors::{EdgeFailure, ErrorDetail};
use crate::http::{AuthError, AuthRejection, BodyError, IdempotencyError, ParamError};
use axum::Json;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::SecondsFormat;
use serde::Serialize;
use serde_json::{Value, json};
use tessera_application::EngineError;
use tessera_application::openticket::{OpenTicketError, Resource, SeatRequestError};
use tessera_domain::openticket::order::OrderError;
use tessera_domain::openticket::ticket::TicketError;
use utoipa::ToSchema;

/// One seat that could not be locked or ordered, as in `details.unavailableSeats` (seed 003 §5.2).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnavailableSeat {
    /// The seat, e.g. `A-002`.
    #[schema(example = "A-002")]
    pub seat_id: String,
    /// Why, in words, e.g. `Already locked by another user`.
    #[schema(example = "Already locked by another user")]
    pub reason: String,
}

/// The body of every OpenTicket error response (seed 003 §1.2–1.3).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorObject,
    /// Request id and server time.
    pub meta: Meta,
}

/// `{"code", "message", "details"}` of an `ErrorBody`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorObject {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human-readable message (for people, not for parsing).
    pub message: String,
    /// Machine-readable context; `{}` when there is none.
    #[schema(value_type = ErrorDetails)]
    pub details: Value,
}

/// Every error code the OpenTicket routes answer with, and its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// 400: a body, path or query field is malformed or out of range; `details` names it.
    ValidationError,
    /// 401: no, malformed, forged or expired access token; bad credentials; bad webhook signature.
    Unauthorized,
    /// 403: signed in, but the caller's roles do not allow it.
    Forbidden,
    /// 404: no such resource (also someone else's order or ticket); `details` names it. An
    /// unknown path under `/v1` has `details: {"resource": "route", "path"}`.
    NotFound,
    /// 405: the path exists, not with this method; `details.allow` and the `Allow` header list
    /// the methods it answers.
    MethodNotAllowed,
    /// 409: the request contradicts the resource's state; `details` says how.
    Conflict,
    /// 409: one or more seats cannot be locked or ordered; `details.unavailableSeats` lists them.
    SeatUnavailable,
    /// 413: the body is over the route's limit.
    PayloadTooLarge,
    /// 429: the caller spent this route class's budget (seed 003 §9); `Retry-After` and
    /// `details.retryAfter` say in how many seconds one more request is allowed.
    RateLimited,
    /// 502: the payment provider refused or failed.
    PaymentProviderError,
    /// 503: the store failed or is contended; try again.
    ServiceUnavailable,
    /// 500: a bug; the detail is logged with the request id, never sent.
    InternalError,
}

/// The members `details` may have, by code: `VALIDATION_ERROR` has `field` and `reason`;
/// `NOT_FOUND` has `resource` and `id` (or `resource: "route"` and `path` for an unknown path);
/// `METHOD_NOT_ALLOWED` has `allow`; `SEAT_UNAVAILABLE` has `unavailableSeats`; `CONFLICT` may
/// have `field` (a taken email), `usedAt` (a ticket already used) or `saleStartTime`/`saleEndTime`
/// (a session not on sale); the others are `{}`.
// `OtError` assembles `details` per case (a conflict's comes with the error, from the error
// mappings), so this type is never built: it declares the members for the OpenAPI document.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetails {
    /// The offending field: a JSON path such as `seatIds[2]` or `sessions[0].startTime`, a
    /// query or path parameter, or `body` for malformed JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub field: Option<String>,
    /// What is wrong with `field`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<String>,
    /// The kind of resource not found, e.g. `order`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub resource: Option<String>,
    /// The id asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub id: Option<String>,
    /// The path asked for, when no route has it (`resource` is `route`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub path: Option<String>,
    /// The methods the path answers (405).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub allow: Option<Vec<String>>,
    /// The seats that could not be locked or ordered.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub unavailable_seats: Option<Vec<UnavailableSeat>>,
    /// When the ticket was first used (a second scan), RFC 3339 UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub used_at: Option<String>,
    /// When the session's sale opens (ordering or locking outside the sale).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub sale_start_time: Option<String>,
    /// When the session's sale closes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub sale_end_time: Option<String>,
    /// The rate-limit class whose budget is spent (`RATE_LIMITED`): `auth`, `seat_lock`,
    /// `order_create`, `webhook` or `other`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub class: Option<String>,
    /// Requests allowed per window in that class (`RATE_LIMITED`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub limit: Option<u32>,
    /// Seconds until one more request is allowed, as in `Retry-After` (`RATE_LIMITED`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub retry_after: Option<u64>,
    /// The OAuth provider (`google`, `apple`) that refused or failed a sign-in
    /// (`POST /v1/auth/oauth/{provider}`); `reason` is then `invalid_grant` or `invalid_id_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub provider: Option<String>,
    /// The ID-token check that failed (`reason` = `invalid_id_token`): `issuer`, `audience`,
    /// `expired`, `issuedInFuture`, `signature`, `unknownKey`, `algorithm`, `nonce` or `malformed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub check: Option<String>,
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

    fn parts(&self) -> (StatusCode, ErrorCode, String, Value) {
        match self {
            OtError::Validation { field, reason } => (
                StatusCode::BAD_REQUEST,
                ErrorCode::ValidationError,
                format!("Invalid field `{field}`: {reason}"),
                json!({ "field": field, "reason": reason }),
            ),
            OtError::Unauthorized(m) => (
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                m.clone(),
                json!({}),
            ),
            OtError::Forbidden(m) => (
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                m.clone(),
                json!({}),
            ),
            OtError::NotFound { resource, id } => (
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                format!("{resource} not found"),
                json!({ "resource": resource, "id": id }),
            ),
            OtError::Conflict { message, details } => (
                StatusCode::CONFLICT,
                ErrorCode::Conflict,
                message.clone(),
                details.clone(),
            ),
            OtError::SeatUnavailable(seats) => (
                StatusCode::CONFLICT,
                ErrorCode::SeatUnavailable,
                "One or more seats are not available".to_owned(),
                json!({ "unavailableSeats": seats }),
            ),
            OtError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                "The request body is too large".to_owned(),
                json!({}),
            ),
            OtError::PaymentProvider(_) => (
                StatusCode::BAD_GATEWAY,
                ErrorCode::PaymentProviderError,
                "The payment provider could not start the payment; try again".to_owned(),
                json!({}),
            ),
            OtError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ServiceUnavailable,
                "The service is temporarily unavailable; try again".to_owned(),
                json!({}),
            ),
            OtError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::InternalError,
                "Internal error".to_owned(),
                json!({}),
            ),
        }
    }
}

impl IntoResponse for OtError {
    fn into_response(self) -> Response {
        let (status, code, message, details) = self.parts();
        let body = ErrorBody {
            error: ErrorObject {
                code,
                message,
                details,
            },
            meta: meta(),
        };
        let mut response = (status, Json(body)).into_response();
        if let OtError::PaymentProvider(detail)
        | OtError::Unavailable(detail)
        | OtError::Internal(detail) = &self
        {
            ErrorDetail::attach(&mut response, detail);
        }
        response
    }
}

impl From<AuthError> for OtError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Missing => {
                OtError::Unauthorized("sign in: send `Authorization: Bearer <accessToken>`".into())
            }
            AuthError::Invalid(e) => OtError::Unauthorized(format!("invalid access token: {e}")),
            AuthError::MissingRole(role) => {
                OtError::Forbidden(format!("this action needs the {role} role"))
            }
            AuthError::Unavailable(e) => OtError::Unavailable(e.to_string()),
        }
    }
}

/// Seed 003 §2.1: the access token comes in the `Authorization` header only.
impl AuthRejection for OtError {}

impl From<BodyError> for OtError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => OtError::PayloadTooLarge,
            BodyError::Invalid { field, reason } => OtError::Validation { field, reason },
            other @ (BodyError::NotJson | BodyError::Unreadable(_)) => {
                OtError::validation("body", other.to_string())
            }
        }
    }
}

/// `Idempotency-Key` refusals (docs/decisions/0010-idempotency-keys.md): a bad key is a 400, a
/// key reused with another body or still in flight a 409 `CONFLICT`, both with `details.field`.
impl From<IdempotencyError> for OtError {
    fn from(e: IdempotencyError) -> Self {
        let field = IdempotencyError::FIELD;
        match e {
            IdempotencyError::InvalidKey => OtError::validation(field, e.to_string()),
            IdempotencyError::Reused | IdempotencyError::InFlight => OtError::Conflict {
                message: format!("{field}: {e}"),
                details: json!({ "field": field, "reason": e.to_string() }),
            },
            IdempotencyError::Unavailable(detail) => OtError::Unavailable(detail),
        }
    }
}

impl From<ParamError> for OtError {
    fn from(e: ParamError) -> Self {
        let field = e.field().to_owned();
        let reason = match e {
            ParamError::NotANumber { raw, .. } => format!("must be a whole number, got {raw:?}"),
            ParamError::OutOfRange { min, max, .. } => format!("must be between {min} and {max}"),
        };
        OtError::Validation { field, reason }
    }
}

impl From<tessera_projections::QueryError> for OtError {
    fn from(e: tessera_projections::QueryError) -> Self {
        OtError::Unavailable(e.to_string())
    }
}

/// How the application's refusals read in seed 003's format (statuses and wording as the
/// document and docs/openticket.md give them).
impl From<OpenTicketError> for OtError {
    fn from(e: OpenTicketError) -> Self {
        use OpenTicketError as E;
        match e {
            E::NotFound(resource) => {
                let (kind, id) = missing(resource);
                OtError::not_found(kind, id)
            }
            E::UnknownVenue(_) => OtError::validation("venueId", "no venue has this id"),
            E::SeatRequest(e) => seat_request(e),
            E::Invalid(f) => OtError::validation(f.field, f.reason),
            E::UnknownProvider { offered, .. } => OtError::validation(
                "paymentProvider",
                format!("must be one of {}", offered.join(", ")),
            ),
            E::SeatsUnavailable(seats) => OtError::SeatUnavailable(
                seats
                    .into_iter()
                    .map(|s| UnavailableSeat {
                        seat_id: s.seat_id.to_string(),
                        reason: s.reason.message().to_owned(),
                    })
                    .collect(),
            ),
            E::SaleNotOpen {
                sale_start_time,
                sale_end_time,
            } => OtError::Conflict {
                message: "The session is not on sale".into(),
                details: json!({
                    "saleStartTime": sale_start_time.to_rfc3339_opts(SecondsFormat::Millis, true),
                    "saleEndTime": sale_end_time.to_rfc3339_opts(SecondsFormat::Millis, true),
                }),
            },
            E::Order(OrderError::UnknownPayment) => {
                OtError::validation("paymentId", "does not belong to this order")
            }
            E::Ticket(TicketError::AlreadyUsed { used_at }) => OtError::Conflict {
                message: "The ticket was already used".into(),
                details: json!({ "usedAt": used_at.to_rfc3339_opts(SecondsFormat::Millis, true) }),
            },
            E::Ticket(TicketError::WrongTicket) => {
                OtError::validation("qrCode", "the code belongs to another ticket")
            }
            E::SeatSession(e) => conflict(e.to_string()),
            E::Venue(e) => conflict(e.to_string()),
            E::Event(e) => conflict(e.to_string()),
            E::Order(e) => conflict(e.to_string()),
            E::Ticket(e) => conflict(e.to_string()),
            E::Money(e) => conflict(e.to_string()),
            E::OrderNotDue(_) => conflict("the order is not due to expire yet".into()),
            E::Payment(p) => OtError::PaymentProvider(p.to_string()),
            E::Engine(e @ (EngineError::Decode(_) | EngineError::StreamId(_))) => {
                OtError::Internal(e.to_string())
            }
            E::Engine(e) => OtError::Unavailable(e.to_string()),
            e @ (E::DeadlinePayload { .. } | E::NotAnOrderStream(_) | E::Inconsistent(_)) => {
                OtError::Internal(e.to_string())
            }
        }
    }
}

/// How OpenTicket answers what no handler of its own rendered (`crate::http::errors::EdgeFailure`):
/// an unknown path under `/v1` is 404 `NOT_FOUND` with `details: {"resource": "route", "path"}`; a
/// wrong method 405 `METHOD_NOT_ALLOWED` with `details.allow` (and the `Allow` header); an axum
/// rejection 400 `VALIDATION_ERROR` naming the part (413 `PAYLOAD_TOO_LARGE` for a body over the
/// limit); a panic 500 `INTERNAL_ERROR`.
pub fn edge(failure: &EdgeFailure, method: &Method, path: &str) -> Response {
    let (status, code, message, details) = match failure {
        EdgeFailure::NoRoute => (
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("No route {method} {path}"),
            json!({ "resource": "route", "path": path }),
        ),
        EdgeFailure::MethodNotAllowed { allow } => (
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            format!("{path} does not answer {method}; use {}", allow.join(", ")),
            json!({ "allow": allow }),
        ),
        EdgeFailure::Rejected { status, .. } if *status == StatusCode::PAYLOAD_TOO_LARGE => {
            return OtError::PayloadTooLarge.into_response();
        }
        EdgeFailure::Rejected { field, reason, .. } => {
            return OtError::validation(field.clone(), reason.clone()).into_response();
        }
        EdgeFailure::Panic => (
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            "Internal error".to_owned(),
            json!({}),
        ),
    };
    let body = ErrorBody {
        error: ErrorObject {
            code,
            message,
            details,
        },
        meta: meta(),
    };
    (status, Json(body)).into_response()
}

/// 429 `RATE_LIMITED` (seed 003 §1.3, §9.2) with `details: {"class", "limit", "retryAfter"}`; the
/// rate-limit middleware adds `Retry-After` and the `X-RateLimit-*` headers
/// (`crate::http::rate_limit`).
pub fn rate_limited(refusal: &crate::http::rate_limit::Refusal) -> Response {
    let d = &refusal.decision;
    let body = ErrorBody {
        error: ErrorObject {
            code: ErrorCode::RateLimited,
            message: format!(
                "Too many requests: {} allowed per window here; retry in {} s",
                d.limit, d.retry_after_secs
            ),
            details: json!({
                "class": refusal.class.name(),
                "limit": d.limit,
                "retryAfter": d.retry_after_secs,
            }),
        },
        meta: meta(),
    };
    (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response()
}

/// 404 `details`: the resource's name in seed 003 and its id.
fn missing(resource: Resource) -> (&'static str, String) {
    match resource {
        Resource::Venue(id) => ("venue", id.to_string()),
        Resource::Event(id) => ("event", id.to_string()),
        Resource::Session(id) => ("session", id.to_string()),
        Resource::Order(id) => ("order", id.to_string()),
        Resource::Ticket(id) => ("ticket", id.to_string()),
    }
}

/// A bad `seatIds` list (§5.2, §5.3, §6.1), naming the list or the seat's place in it.
fn seat_request(e: SeatRequestError) -> OtError {
    let at = |index: usize| format!("seatIds[{index}]");
    match e {
        SeatRequestError::NoSeats => {
            OtError::validation("seatIds", "at least one seat is required")
        }
        SeatRequestError::TooMany { max } => {
            OtError::validation("seatIds", format!("at most {max} seats per request"))
        }
        SeatRequestError::Repeated { index, seat } => {
            OtError::validation(at(index), format!("seat {seat} is listed twice"))
        }
        SeatRequestError::Malformed { index, reason } => OtError::validation(at(index), reason),
        SeatRequestError::UnknownSeat { index, seat } => {
            OtError::validation(at(index), format!("the venue has no seat {seat}"))
        }
        SeatRequestError::NotForSale { index, seat } => OtError::validation(
            at(index),
            format!("seat {seat} is not for sale in this event"),
        ),
    }
}

/// 409 `CONFLICT` with `message` and empty `details`.
fn conflict(message: String) -> OtError {
    OtError::Conflict {
        message,
        details: json!({}),
    }
}
