//! Seed 000's error shape `{ "type", "message", "payload", "errors" }` with the `type` strings the
//! document names, its JSON body extractor, the caller extractor (Bearer header or the
//! `access_token` cookie), and how the neutral HTTP errors read in this format.

use super::views::ErrorBody;
use crate::http::errors::ErrorDetail;
use crate::http::{AuthError, AuthRejection, BodyError, ParamError, SignedIn, body};
use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tessera_application::identity::phone_signin::SignInError;
use tessera_application::meeting::MeetingServiceError;

/// An error of the meeting-ticket API (seed 000). Statuses: 400, 401, 403, 404, 409, 410, 429,
/// 502, 503, 500.
#[derive(Debug)]
pub enum MtError {
    /// 400 'Validation Error': `errors` maps each field (JSON path) to a message.
    Validation {
        /// Field → message.
        errors: Map<String, Value>,
        /// The submitted object, when there was one.
        payload: Value,
    },
    /// 400 'No Stock': `errors.items[i].amount` is how many of line i's grade remain.
    NoStock {
        /// Remaining per line.
        remaining: Vec<u32>,
        /// The submitted order.
        payload: Value,
    },
    /// 401 'Unauthorized'.
    Unauthorized(String),
    /// 403 'Forbidden'.
    Forbidden(String),
    /// 404 'Not Found'.
    NotFound(String),
    /// 409 with a document type: 'Duplicated Wechat Id', 'Duplicated Phone', 'One for One'.
    Conflict(&'static str, String),
    /// 410 'Already Taken'.
    AlreadyTaken,
    /// 429 'Too Many Requests' with `Retry-After` (SMS cool-down).
    TooManyRequests(i64),
    /// 502 'Bad Gateway': WeChat, WeChat Pay or the SMS gateway failed.
    Upstream(String),
    /// 503 'Service Unavailable'.
    Unavailable(String),
}

impl MtError {
    /// 400 naming one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Map::new();
        errors.insert(field.into(), Value::String(message.into()));
        MtError::Validation {
            errors,
            payload: Value::Null,
        }
    }

    /// The same error carrying the submitted object as `payload` (400s only).
    pub fn with_payload(self, body: &Value) -> Self {
        match self {
            MtError::Validation { errors, .. } => MtError::Validation {
                errors,
                payload: body.clone(),
            },
            MtError::NoStock { remaining, .. } => MtError::NoStock {
                remaining,
                payload: body.clone(),
            },
            other => other,
        }
    }
}

impl IntoResponse for MtError {
    fn into_response(self) -> Response {
        let upstream = match &self {
            MtError::Upstream(m) => Some(m.clone()),
            _ => None,
        };
        let (status, kind, message, payload, errors) = match self {
            MtError::Validation { errors, payload } => (
                StatusCode::BAD_REQUEST,
                "Validation Error",
                "提交的信息有误".to_owned(),
                payload,
                Value::Object(errors),
            ),
            MtError::NoStock { remaining, payload } => (
                StatusCode::BAD_REQUEST,
                "No Stock",
                "库存不足".to_owned(),
                payload,
                json!({ "items": remaining.iter().map(|n| json!({ "amount": n })).collect::<Vec<_>>() }),
            ),
            MtError::Unauthorized(m) => (
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                m,
                Value::Null,
                Value::Null,
            ),
            MtError::Forbidden(m) => (
                StatusCode::FORBIDDEN,
                "Forbidden",
                m,
                Value::Null,
                Value::Null,
            ),
            MtError::NotFound(m) => (
                StatusCode::NOT_FOUND,
                "Not Found",
                m,
                Value::Null,
                Value::Null,
            ),
            MtError::Conflict(kind, m) => (StatusCode::CONFLICT, kind, m, Value::Null, Value::Null),
            MtError::AlreadyTaken => (
                StatusCode::GONE,
                "Already Taken",
                "门票已被他人领取".to_owned(),
                Value::Null,
                Value::Null,
            ),
            MtError::TooManyRequests(secs) => {
                let body = ErrorBody {
                    errors: json!({ "phone": format!("请{secs}秒后再试") }),
                    message: format!("验证码发送过于频繁，请{secs}秒后再试"),
                    payload: Value::Null,
                    kind: "Too Many Requests".into(),
                };
                let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
                if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return response;
            }
            MtError::Upstream(m) => (
                StatusCode::BAD_GATEWAY,
                "Bad Gateway",
                m,
                Value::Null,
                Value::Null,
            ),
            MtError::Unavailable(m) => {
                let body = ErrorBody {
                    errors: Value::Null,
                    message: "服务暂时不可用，请稍后重试".into(),
                    payload: Value::Null,
                    kind: "Service Unavailable".into(),
                };
                let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
                ErrorDetail::attach(&mut response, m);
                return response;
            }
        };
        let body = ErrorBody {
            errors,
            message,
            payload,
            kind: kind.into(),
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(detail) = upstream {
            ErrorDetail::attach(&mut response, detail);
        }
        response
    }
}

impl From<SignInError> for MtError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::Validation { field, message } => MtError::field(field, message),
            SignInError::DuplicatedWechatId => {
                MtError::Conflict("Duplicated Wechat Id", "该微信号已注册".into())
            }
            SignInError::DuplicatedPhone => {
                MtError::Conflict("Duplicated Phone", "该手机号已注册".into())
            }
            SignInError::CoolingDown { retry_after_secs } => {
                MtError::TooManyRequests(retry_after_secs)
            }
            SignInError::InvalidCredentials => MtError::Unauthorized("登录凭证无效".into()),
            SignInError::NotFound => MtError::NotFound("用户不存在".into()),
            SignInError::Upstream(m) => MtError::Upstream(m),
            SignInError::Unavailable(m) | SignInError::Crypto(m) => MtError::Unavailable(m),
        }
    }
}

impl From<MeetingServiceError> for MtError {
    fn from(e: MeetingServiceError) -> Self {
        use MeetingServiceError as E;
        match e {
            E::Validation { field, message } => MtError::field(field, message),
            E::NoStock { remaining } => MtError::NoStock {
                remaining,
                payload: Value::Null,
            },
            E::NotFound(what) => MtError::NotFound(format!("{what} not found")),
            E::Forbidden => MtError::Forbidden(e.to_string()),
            E::OneForOne => MtError::Conflict("One for One", e.to_string()),
            E::AlreadyTaken => MtError::AlreadyTaken,
            E::Provider(m) => MtError::Upstream(m),
            E::Unavailable(m) => MtError::Unavailable(m),
        }
    }
}

impl From<tessera_projections::QueryError> for MtError {
    fn from(e: tessera_projections::QueryError) -> Self {
        MtError::Unavailable(e.to_string())
    }
}

impl From<AuthError> for MtError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Missing => {
                MtError::Unauthorized("请先登录 (Authorization: Bearer …)".into())
            }
            AuthError::Invalid(e) => MtError::Unauthorized(format!("登录已失效: {e}")),
            AuthError::MissingRole(role) => {
                MtError::Forbidden(format!("this action needs the {role} role"))
            }
        }
    }
}

/// Seed 000's clients may keep the access token in the `access_token` cookie.
impl AuthRejection for MtError {
    const TOKEN_COOKIE: Option<&'static str> = Some("access_token");
}

impl From<ParamError> for MtError {
    fn from(e: ParamError) -> Self {
        let message = match &e {
            ParamError::NotANumber { min, max, .. } | ParamError::OutOfRange { min, max, .. } => {
                format!("应为 {min} 到 {max} 的整数")
            }
        };
        MtError::field(e.field(), message)
    }
}

/// A JSON body (any content type is accepted: the document's clients are mini-programs whose
/// `wx.request` sends JSON). Malformed JSON or a wrong type is a 400 naming the field, with the
/// submitted object as `payload`.
#[derive(Debug)]
pub struct MtJson<T>(pub T, pub Value);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for MtJson<T> {
    type Rejection = MtError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body::read(req, state, false)
            .await
            .map_err(|e| MtError::field("body", e.to_string()))?;
        let raw: Value = serde_json::from_slice(&bytes)
            .map_err(|e| MtError::field("body", format!("JSON 格式错误: {e}")))?;
        match body::parse_json::<T>(&bytes) {
            Ok(v) => Ok(MtJson(v, raw)),
            Err(BodyError::Invalid { field, reason }) => {
                Err(MtError::field(field, reason).with_payload(&raw))
            }
            Err(other) => Err(MtError::field("body", other.to_string())),
        }
    }
}

/// The signed-in caller of a seed 000 route (seed 000: "以下API全部需要在header中有Authorization";
/// the `access_token` cookie is accepted too). Rejection: 401 'Unauthorized'.
pub type MtCaller = SignedIn<MtError>;
