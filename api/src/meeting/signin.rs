//! Seed 000 §1–§3: `POST /smsCodes`, `POST /wechat_tokens`, `POST /users`, `GET /users/current`,
//! `POST /tokens`.

use super::error::{MtError, MtJson};
use crate::http::RequestId;
use crate::http::auth::access_token;
use crate::http::read_your_writes;
use crate::startup::AppState;
use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_application::identity::UserView;
use tessera_application::identity::phone_signin::CurrentUser;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/smsCodes", post(sms_codes))
        .route("/wechat_tokens", post(wechat_tokens))
        .route("/users", post(create_user))
        .route("/users/current", get(current_user))
        .route("/tokens", post(tokens))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The user shape of seed 000: `{id, wechatId, phone, roles, createdAt}` (times RFC 3339 UTC).
pub fn user_json(u: &UserView) -> Value {
    json!({
        "id": u.user_id,
        "wechatId": u.wechat_id,
        "phone": u.phone,
        "email": u.email.as_ref().map(|e| e.as_str()),
        "roles": u.roles,
        "createdAt": rfc3339(u.registered_at),
    })
}

/// A `Set-Cookie` value: HttpOnly, path `/`, SameSite=Lax, expiring at `until`.
fn set_cookie(name: &str, value: &str, until: DateTime<Utc>) -> Option<HeaderValue> {
    let max_age = (until - Utc::now()).num_seconds().max(0);
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}"
    ))
    .ok()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhoneBody {
    phone: String,
}

/// §3: 202 `{createdAt}`; 400 naming `phone`; 429 during the 60 s cool-down (with `Retry-After`).
async fn sms_codes(
    State(state): State<AppState>,
    rid: RequestId,
    MtJson(body, raw): MtJson<PhoneBody>,
) -> Result<Response, MtError> {
    let created_at = state
        .services
        .phone_signin
        .request_sms_code(&body.phone, &rid.metadata(None))
        .await
        .map_err(|e| MtError::from(e).with_payload(&raw))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "createdAt": rfc3339(created_at) })),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WechatTokenBody {
    wechat_id: String,
    wechat_token: String,
}

/// §2.1: 201 `{wechatId, expiresAt}` and a `wechatToken` cookie once WeChat vouched for the token;
/// 400 naming `wechatToken` when WeChat refuses it; 502 when WeChat is unreachable.
async fn wechat_tokens(
    State(state): State<AppState>,
    rid: RequestId,
    MtJson(body, raw): MtJson<WechatTokenBody>,
) -> Result<Response, MtError> {
    let (expires_at, position) = state
        .services
        .phone_signin
        .record_wechat_token(&body.wechat_id, &body.wechat_token, &rid.metadata(None))
        .await
        .map_err(|e| MtError::from(e).with_payload(&raw))?;
    read_your_writes(&state, position).await;
    let mut response = (
        StatusCode::CREATED,
        Json(json!({ "wechatId": body.wechat_id.trim(), "expiresAt": rfc3339(expires_at) })),
    )
        .into_response();
    if let Some(c) = set_cookie("wechatToken", body.wechat_token.trim(), expires_at) {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(response)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UserBody {
    wechat_id: String,
    phone: String,
    sms_code: String,
}

/// §1: 201 user; 400 naming the field (payload = the submitted user); 409 'Duplicated Wechat Id'
/// or 'Duplicated Phone'.
async fn create_user(
    State(state): State<AppState>,
    rid: RequestId,
    MtJson(body, raw): MtJson<UserBody>,
) -> Result<Response, MtError> {
    let (user, position) = state
        .services
        .phone_signin
        .register(
            &body.wechat_id,
            &body.phone,
            &body.sms_code,
            &rid.metadata(None),
        )
        .await
        .map_err(|e| MtError::from(e).with_payload(&raw))?;
    read_your_writes(&state, position).await;
    Ok((StatusCode::CREATED, Json(user_json(&user))).into_response())
}

/// The credentials `GET /users/current` looks at.
struct Credentials {
    access_token: Option<String>,
    wechat_token: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Credentials {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Credentials {
            access_token: access_token(parts, Some("access_token")),
            wechat_token: CookieJar::from_headers(&parts.headers)
                .get("wechatToken")
                .map(|c| c.value().trim().to_owned())
                .filter(|v| !v.is_empty()),
        })
    }
}

/// §1.1: 200 the signed-in user; 401 not signed in; 404 a WeChat user (by the `wechatToken`
/// cookie) who has no account yet.
async fn current_user(
    State(state): State<AppState>,
    creds: Credentials,
) -> Result<Response, MtError> {
    let signin = &state.services.phone_signin;
    let wechat_id = match &creds.wechat_token {
        Some(token) => {
            state
                .services
                .meeting_queries
                .wechat_id_for_token(&signin.token_digest(token), Utc::now())
                .await?
        }
        None => None,
    };
    match signin
        .current_user(creds.access_token.as_deref(), wechat_id.as_deref())
        .await?
    {
        CurrentUser::SignedIn(user) => Ok(Json(user_json(&user)).into_response()),
        CurrentUser::NotSignedIn => Err(MtError::Unauthorized("未登录".into())),
        CurrentUser::NewUser { wechat_id } => {
            Err(MtError::NotFound(format!("微信用户 {wechat_id} 尚未注册")))
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TokenBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    wechat_id: Option<String>,
    wechat_token: Option<String>,
    phone: Option<String>,
    sms_code: Option<String>,
}

/// §2: 201 `{access_token, expires_at}` (and an `access_token` cookie). `type: 'wechat'` signs in
/// with `wechatId` + `wechatToken`; otherwise `phone` + `smsCode`. 400 naming a missing field, 401
/// for a token WeChat refuses, 404 for an unknown user.
async fn tokens(
    State(state): State<AppState>,
    rid: RequestId,
    MtJson(body, raw): MtJson<TokenBody>,
) -> Result<Response, MtError> {
    let signin = &state.services.phone_signin;
    let meta = rid.metadata(None);
    let need = |v: &Option<String>, field: &'static str| {
        v.clone()
            .ok_or_else(|| MtError::field(field, "不能为空").with_payload(&raw))
    };
    let (token, user) = match body.kind.as_deref() {
        Some("wechat") => {
            let id = need(&body.wechat_id, "wechatId")?;
            let tok = need(&body.wechat_token, "wechatToken")?;
            signin.token_by_wechat(&id, &tok, &meta).await
        }
        Some("sms") | Some("phone") | None => {
            let phone = need(&body.phone, "phone")?;
            let code = need(&body.sms_code, "smsCode")?;
            signin.token_by_sms(&phone, &code, &meta).await
        }
        Some(_) => {
            return Err(MtError::field("type", "应为 wechat 或 sms").with_payload(&raw));
        }
    }
    .map_err(|e| MtError::from(e).with_payload(&raw))?;
    let mut response = (
        StatusCode::CREATED,
        Json(json!({
            "access_token": token.token,
            "expires_at": rfc3339(token.expires_at),
            "user": user_json(&user),
        })),
    )
        .into_response();
    if let Some(c) = set_cookie("access_token", &token.token, token.expires_at) {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(response)
}
