//! Seed 000's error shape `{ "type", "message", "payload", "errors" }` with the `type` strings the
//! document names, its JSON body extractor, and the caller extractor (Bearer header or the
//! `access_token` cookie).

use crate::startup::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tessera_application::identity::phone_signin::SignInError;
use tessera_application::meeting::MeetingServiceError;
use tessera_domain::UserId;
use tessera_domain::identity::Role;

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
                let body = json!({
                    "type": "Too Many Requests",
                    "message": format!("验证码发送过于频繁，请{secs}秒后再试"),
                    "payload": null,
                    "errors": { "phone": format!("请{secs}秒后再试") },
                });
                let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
                if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return response;
            }
            MtError::Upstream(m) => {
                tracing::warn!(error = %m, "upstream service failed");
                (
                    StatusCode::BAD_GATEWAY,
                    "Bad Gateway",
                    m,
                    Value::Null,
                    Value::Null,
                )
            }
            MtError::Unavailable(m) => {
                tracing::error!(error = %m, "meeting API unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service Unavailable",
                    "服务暂时不可用，请稍后重试".to_owned(),
                    Value::Null,
                    Value::Null,
                )
            }
        };
        let body =
            json!({ "type": kind, "message": message, "payload": payload, "errors": errors });
        (status, Json(body)).into_response()
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

impl From<tessera_projections::openticket::QueryError> for MtError {
    fn from(e: tessera_projections::openticket::QueryError) -> Self {
        MtError::Unavailable(e.to_string())
    }
}

/// A JSON body (any content type is accepted: the document's clients are mini-programs whose
/// `wx.request` sends JSON). Malformed JSON or a wrong type is a 400 naming the field.
#[derive(Debug)]
pub struct MtJson<T>(pub T, pub Value);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for MtJson<T> {
    type Rejection = MtError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| MtError::field("body", e.body_text()))?;
        let raw: Value = serde_json::from_slice(&bytes)
            .map_err(|e| MtError::field("body", format!("JSON 格式错误: {e}")))?;
        match crate::openticket::envelope::parse_json::<T>(&bytes) {
            Ok(v) => Ok(MtJson(v, raw)),
            Err(crate::openticket::envelope::OtError::Validation { field, reason }) => {
                Err(MtError::field(field, reason).with_payload(&raw))
            }
            Err(other) => Err(MtError::field("body", other.to_string())),
        }
    }
}

/// A cookie's value from the `Cookie` header.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The access token of a request: `Authorization: Bearer …`, else the `access_token` cookie.
pub fn access_token(parts: &Parts) -> Option<&str> {
    crate::openticket::common::bearer(parts).or_else(|| cookie(parts, "access_token"))
}

/// The signed-in caller of a seed 000 route (seed 000: "以下API全部需要在header中有Authorization").
/// Rejection: 401 'Unauthorized'.
#[derive(Debug, Clone)]
pub struct MtCaller {
    /// Who.
    pub user_id: UserId,
    /// Roles granted when the token was issued.
    pub roles: Vec<Role>,
}

impl MtCaller {
    /// Holds `role` (admins hold every role).
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role) || self.roles.contains(&Role::Admin)
    }
}

impl FromRequestParts<AppState> for MtCaller {
    type Rejection = MtError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = access_token(parts)
            .ok_or_else(|| MtError::Unauthorized("请先登录 (Authorization: Bearer …)".into()))?;
        let claims = state
            .services
            .tokens
            .verify(token, chrono::Utc::now())
            .map_err(|e| MtError::Unauthorized(format!("登录已失效: {e}")))?;
        Ok(MtCaller {
            user_id: claims.user_id,
            roles: claims.roles,
        })
    }
}
