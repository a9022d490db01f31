//! The one error shape of the team-plans document (seed 004 gives none; docs/plans.md, "Errors"):
//! `{"error": {"code": "...", "message": "...", "field": "..."}}` — `code` a stable snake_case
//! word clients branch on, `message` for people, `field` (the request field at fault) only on 400s.
//! Also its JSON body extractor, its caller extractor (`Authorization: Bearer`, the token every
//! document accepts) and how the neutral HTTP errors and [`PlansError`] read in this shape.
//! Later parts of the plans issue reuse all of it.

use crate::http::errors::ErrorDetail;
use crate::http::{AuthError, AuthRejection, BodyError, IdempotencyError, SignedIn, body};
use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use tessera_application::plans::{Missing, PlansError};
use tessera_domain::plans::certification::CertificationError;
use tessera_domain::plans::order::OrderError;
use utoipa::ToSchema;

/// What went wrong.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorInfo {
    /// Stable code: `invalid_field` (400), `unauthorized` (401), `forbidden` (403), `not_found`
    /// (404), `method_not_allowed` (405), `conflict` or `member_limit` (409), `payload_too_large`
    /// (413), `internal` (500), `unavailable` (503).
    #[schema(example = "invalid_field")]
    pub code: String,
    /// For people.
    #[schema(example = "plan: must be `pro` or `ent`")]
    pub message: String,
    /// The request field at fault (400 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "plan")]
    pub field: Option<String>,
}

/// Every failure of the plans document: `{"error": {...}}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorInfo,
}

/// An error of the plans document: a status, a code, a message and maybe a field.
#[derive(Debug, Clone)]
pub struct PlansApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// `ErrorInfo::code`.
    pub code: &'static str,
    /// `ErrorInfo::message`.
    pub message: String,
    /// `ErrorInfo::field`.
    pub field: Option<String>,
    /// Logged, never sent (5xx causes).
    pub detail: Option<String>,
}

impl PlansApiError {
    /// `status` with `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            detail: None,
        }
    }

    /// 400 `invalid_field` naming `field`; the message reads `{field}: {reason}`.
    pub fn field(field: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        let field = field.into();
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_field",
            format!("{field}: {reason}"),
        );
        e.field = Some(field);
        e
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409 `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 503 `unavailable`; `detail` goes to the log only.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the service is busy or unavailable; try again",
        );
        e.detail = Some(detail.into());
        e
    }
}

impl IntoResponse for PlansApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorInfo {
                code: self.code.to_owned(),
                message: self.message,
                field: self.field,
            },
        };
        let mut r = (self.status, Json(body)).into_response();
        if let Some(d) = self.detail {
            ErrorDetail::attach(&mut r, d);
        }
        r
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl From<PlansError> for PlansApiError {
    fn from(e: PlansError) -> Self {
        match e {
            PlansError::Field(f) => PlansApiError::field(f.field, f.reason),
            PlansError::NotFound(Missing::Company) => {
                PlansApiError::not_found("no such company (or you are not a member)")
            }
            PlansError::NotFound(Missing::Member) => {
                PlansApiError::not_found("no such member in this company")
            }
            PlansError::NotFound(Missing::Order) => {
                PlansApiError::not_found("no such order (or no pending order)")
            }
            PlansError::NotFound(Missing::Degrade) => {
                PlansApiError::not_found("no downgrade is scheduled")
            }
            PlansError::NotOwner => {
                PlansApiError::forbidden("only an owner of the company may do this")
            }
            PlansError::UnknownEmail => {
                PlansApiError::field("email", "no user is registered with this email")
            }
            PlansError::AlreadyMember => PlansApiError::conflict("the user is a member already"),
            PlansError::MemberLimit { limit } => PlansApiError::new(
                StatusCode::CONFLICT,
                "member_limit",
                format!("the company's plan allows at most {limit} members"),
            ),
            PlansError::LastOwner => PlansApiError::conflict("the last owner cannot be removed"),
            PlansError::NotPaidPlan => PlansApiError::field("plan", "must be `pro` or `ent`"),
            e @ (PlansError::AlreadyTrialled(_) | PlansError::AlreadyBought(_)) => {
                PlansApiError::conflict(e.to_string())
            }
            PlansError::Certification(CertificationError::NotFound) => {
                PlansApiError::not_found("no such certification application")
            }
            PlansError::Certification(CertificationError::Field(f)) => {
                PlansApiError::field(f.field, f.reason)
            }
            PlansError::Certification(e) => PlansApiError::conflict(e.to_string()),
            PlansError::Order(e) => order_error(e),
            PlansError::Wallet(e) => {
                PlansApiError::new(StatusCode::CONFLICT, "insufficient_balance", e.to_string())
            }
            e @ (PlansError::Identity(_) | PlansError::Engine(_) | PlansError::Blob(_)) => {
                PlansApiError::unavailable(error_chain(&e))
            }
        }
    }
}

/// An order rule in the document's shape: 400 naming the field, else 409 with a code clients
/// branch on (`degrade_scheduled`, `not_certified`, `already_paid`, `not_payable`, `conflict`).
fn order_error(e: OrderError) -> PlansApiError {
    let code = match &e {
        OrderError::Field(f) => return PlansApiError::field(f.field.clone(), &f.reason),
        OrderError::NotFound => return PlansApiError::not_found("no such order"),
        OrderError::DegradeScheduled => "degrade_scheduled",
        OrderError::NotCertified(_) => "not_certified",
        OrderError::AlreadyPaid => "already_paid",
        OrderError::NotPayable(_) => "not_payable",
        OrderError::NotAllowed(_) | OrderError::Exists => "conflict",
    };
    PlansApiError::new(StatusCode::CONFLICT, code, e.to_string())
}

impl From<tessera_projections::QueryError> for PlansApiError {
    fn from(e: tessera_projections::QueryError) -> Self {
        PlansApiError::unavailable(e.to_string())
    }
}

impl From<AuthError> for PlansApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Missing => PlansApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "sign in first (Authorization: Bearer <token>)",
            ),
            AuthError::Invalid(e) => PlansApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                format!("invalid access token: {e}"),
            ),
            AuthError::MissingRole(r) => {
                PlansApiError::forbidden(format!("this action needs the {r} role"))
            }
            AuthError::Unavailable(e) => PlansApiError::unavailable(e.to_string()),
        }
    }
}

impl AuthRejection for PlansApiError {}

impl From<BodyError> for PlansApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => PlansApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "request body too large",
            ),
            BodyError::Invalid { field, reason } => PlansApiError::field(field, reason),
            other => PlansApiError::field("body", other),
        }
    }
}

impl From<IdempotencyError> for PlansApiError {
    fn from(e: IdempotencyError) -> Self {
        let field = IdempotencyError::FIELD;
        match e {
            IdempotencyError::InvalidKey => PlansApiError::field(field, e),
            IdempotencyError::Reused | IdempotencyError::InFlight => {
                PlansApiError::conflict(format!("{field}: {e}"))
            }
            IdempotencyError::Unavailable(detail) => PlansApiError::unavailable(detail),
        }
    }
}

/// The signed-in caller of a plans route.
pub type PlansCaller = SignedIn<PlansApiError>;

/// A JSON object body: read within the body limit, parsed by the shared rules, required to be an
/// object; 400 naming `body` (or the field) otherwise.
#[derive(Debug)]
pub struct PlansJson(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for PlansJson {
    type Rejection = PlansApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body::read(req, state, false).await?;
        match body::parse_json::<Value>(&bytes)? {
            Value::Object(map) => Ok(PlansJson(map)),
            _ => Err(PlansApiError::field("body", "must be a JSON object")),
        }
    }
}

/// `page` (from 1, default 1) and `pagesize` (1–100, default 20) of a list's query (seed 004
/// `GET /recharge`: `page, pagesize`); 400 naming the parameter when it is not a whole number in
/// range (an empty value counts as absent).
pub fn page_params(
    q: &std::collections::HashMap<String, String>,
) -> Result<(i64, i64), PlansApiError> {
    let number = |name: &str, default: i64, max: i64| match q.get(name).map(|v| v.trim()) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                PlansApiError::field(name, format!("must be a whole number from 1 to {max}"))
            }),
    };
    Ok((number("page", 1, 1_000_000)?, number("pagesize", 20, 100)?))
}

/// The required string field `name` of `body`, trimmed; 400 naming it when missing, not a string
/// or empty.
pub fn required_text(body: &Map<String, Value>, name: &str) -> Result<String, PlansApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Err(PlansApiError::field(name, "is required")),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        Some(Value::String(_)) => Err(PlansApiError::field(name, "must not be empty")),
        Some(_) => Err(PlansApiError::field(name, "must be a string")),
    }
}
