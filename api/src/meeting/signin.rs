//! Seed 000 §1–§3: `POST /smsCodes`, `POST /wechat_tokens`, `POST /users`, `GET /users/current`,
//! `POST /tokens`.

use super::error::{MtError, MtJson};
use super::openapi::{InternalError, ServiceUnavailable, tags};
use super::views::{AccessTokenView, ErrorBody, MtUserView, SmsCodeSentView, WechatTokenView};
use crate::http::RequestId;
use crate::http::auth::access_token;
use crate::http::read_your_writes;
use crate::startup::AppState;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tessera_application::identity::AccessError;
use tessera_application::identity::phone_signin::CurrentUser;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this module, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(sms_codes))
        .routes(routes!(wechat_tokens))
        .routes(routes!(create_user))
        .routes(routes!(current_user))
        .routes(routes!(tokens))
}

/// A `Set-Cookie` value: HttpOnly, path `/`, SameSite=Lax, expiring at `until`; also `Secure`
/// in production mode, so browsers send it over HTTPS only.
fn set_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    until: DateTime<Utc>,
) -> Option<HeaderValue> {
    let max_age = (until - Utc::now()).num_seconds().max(0);
    let secure = if state.server.is_production() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .ok()
}

/// `POST /smsCodes`: `{phone}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SmsCodeRequest)]
struct PhoneBody {
    /// Mainland mobile number, 11 digits starting with 1.
    #[schema(example = "13800138000")]
    phone: String,
}

/// §3: 202 `{createdAt}`; 400 naming `phone`; 429 during the 60 s cool-down (with `Retry-After`).
#[utoipa::path(
    post,
    path = "/smsCodes",
    operation_id = "sendSmsCode",
    tag = tags::SIGN_IN,
    summary = "Send a sign-in code by SMS",
    request_body = PhoneBody,
    responses(
        (status = 202, description = "The code was sent; it is valid for 5 minutes (by default)", body = SmsCodeSentView),
        (status = 400, description = "'Validation Error' naming `phone`", body = ErrorBody),
        (status = 429, description = "'Too Many Requests': a code was sent to this phone less than a minute ago (by default)", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds until a new code may be requested"))),
        (status = 502, description = "'Bad Gateway': the SMS gateway failed", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
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
    Ok((StatusCode::ACCEPTED, Json(SmsCodeSentView { created_at })).into_response())
}

/// `POST /wechat_tokens`: `{wechatId, wechatToken}`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = WechatTokenRequest)]
struct WechatTokenBody {
    /// The WeChat openid.
    wechat_id: String,
    /// The token the mini-program got from WeChat for it (`wx.login`'s code).
    wechat_token: String,
}

/// §2.1: 201 `{wechatId, expiresAt}` and a `wechatToken` cookie once WeChat vouched for the token;
/// 400 naming `wechatToken` when WeChat refuses it; 502 when WeChat is unreachable.
#[utoipa::path(
    post,
    path = "/wechat_tokens",
    operation_id = "recordWechatToken",
    tag = tags::SIGN_IN,
    summary = "Have WeChat vouch for a WeChat token",
    request_body = WechatTokenBody,
    responses(
        (status = 201, description = "WeChat vouched for the token; it is also set as the `wechatToken` cookie", body = WechatTokenView,
            headers(("Set-Cookie" = String, description = "`wechatToken=…; Path=/; HttpOnly; SameSite=Lax; Max-Age=…`"))),
        (status = 400, description = "'Validation Error' naming the field (`wechatToken` when WeChat refuses it)", body = ErrorBody),
        (status = 502, description = "'Bad Gateway': WeChat could not be reached", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
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
    let view = WechatTokenView {
        expires_at,
        wechat_id: body.wechat_id.trim().to_owned(),
    };
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if let Some(c) = set_cookie(&state, "wechatToken", body.wechat_token.trim(), expires_at) {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(response)
}

/// `POST /users`: `{wechatId, phone, smsCode}`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = UserRequest)]
struct UserBody {
    /// A WeChat openid that `POST /wechat_tokens` verified.
    wechat_id: String,
    /// Mainland mobile number, 11 digits starting with 1.
    #[schema(example = "13800138000")]
    phone: String,
    /// The code `POST /smsCodes` sent to `phone`.
    #[schema(example = "123456")]
    sms_code: String,
}

/// §1: 201 user; 400 naming the field (payload = the submitted user); 409 'Duplicated Wechat Id'
/// or 'Duplicated Phone'.
#[utoipa::path(
    post,
    path = "/users",
    operation_id = "createUser",
    tag = tags::SIGN_IN,
    summary = "Register with a WeChat id, a phone and its SMS code",
    request_body = UserBody,
    responses(
        (status = 201, description = "The new user", body = MtUserView),
        (status = 400, description = "'Validation Error' naming the field (a wrong or used-up `smsCode`, an unverified `wechatId`); `payload` is the submitted user", body = ErrorBody),
        (status = 409, description = "'Duplicated Wechat Id' or 'Duplicated Phone'", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
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
    Ok((StatusCode::CREATED, Json(MtUserView::from(&user))).into_response())
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
#[utoipa::path(
    get,
    path = "/users/current",
    operation_id = "getCurrentUser",
    tag = tags::SIGN_IN,
    summary = "The signed-in user",
    description = "Signed in by `Authorization: Bearer` or the `access_token` cookie; a WeChat user \
        without an account is recognised by the `wechatToken` cookie (404).",
    security(("bearerAuth" = []), ("accessTokenCookie" = []), ("wechatTokenCookie" = [])),
    responses(
        (status = 200, description = "The signed-in user (老用户已登陆)", body = MtUserView),
        (status = 401, description = "'Unauthorized': not signed in (老用户未登录)", body = ErrorBody),
        (status = 404, description = "'Not Found': the `wechatToken` cookie names a WeChat user without an account (新用户)", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
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
    // A token whose user or sign-in session no longer stands counts as none, as on every
    // signed-in route.
    let access_token = match creds.access_token.as_deref() {
        Some(token) => match state.services.identity.authorize(token).await {
            Ok(_) => Some(token),
            Err(AccessError::Refused(_)) => None,
            Err(e) => return Err(MtError::Unavailable(e.to_string())),
        },
        None => None,
    };
    match signin
        .current_user(access_token, wechat_id.as_deref())
        .await?
    {
        CurrentUser::SignedIn(user) => Ok(Json(MtUserView::from(&user)).into_response()),
        CurrentUser::NotSignedIn => Err(MtError::Unauthorized("未登录".into())),
        CurrentUser::NewUser { wechat_id } => {
            Err(MtError::NotFound(format!("微信用户 {wechat_id} 尚未注册")))
        }
    }
}

/// `POST /tokens`: `{type: 'wechat', wechatId, wechatToken}` or `{type?: 'sms', phone, smsCode}`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = TokenRequest)]
struct TokenBody {
    /// `wechat` to sign in with `wechatId` + `wechatToken`; `sms` (or `phone`, or none) to sign in
    /// with `phone` + `smsCode`.
    #[serde(rename = "type")]
    #[schema(example = "wechat")]
    kind: Option<String>,
    /// The WeChat openid (`type: 'wechat'`).
    wechat_id: Option<String>,
    /// A token WeChat vouches for (`type: 'wechat'`).
    wechat_token: Option<String>,
    /// Mainland mobile number (SMS sign-in).
    phone: Option<String>,
    /// The code `POST /smsCodes` sent (SMS sign-in; not needed for WeChat).
    sms_code: Option<String>,
}

/// §2: 201 `{access_token, expires_at}` (and an `access_token` cookie). `type: 'wechat'` signs in
/// with `wechatId` + `wechatToken`; otherwise `phone` + `smsCode`. 400 naming a missing field, 401
/// for a token WeChat refuses, 404 for an unknown user.
#[utoipa::path(
    post,
    path = "/tokens",
    operation_id = "createToken",
    tag = tags::SIGN_IN,
    summary = "Sign in: an access token by WeChat or by SMS code",
    request_body = TokenBody,
    responses(
        (status = 201, description = "Signed in; the token is also set as the `access_token` cookie", body = AccessTokenView,
            headers(("Set-Cookie" = String, description = "`access_token=…; Path=/; HttpOnly; SameSite=Lax; Max-Age=…`"))),
        (status = 400, description = "'Validation Error' naming a missing or wrong field (`smsCode`, `type`, …)", body = ErrorBody),
        (status = 401, description = "'Unauthorized': WeChat does not vouch for `wechatToken`", body = ErrorBody),
        (status = 404, description = "'Not Found': no user has this WeChat id or phone", body = ErrorBody),
        (status = 502, description = "'Bad Gateway': WeChat could not be reached", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
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
    let cookie = set_cookie(&state, "access_token", &token.token, token.expires_at);
    let view = AccessTokenView {
        access_token: token.token,
        expires_at: token.expires_at,
        user: MtUserView::from(&user),
    };
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if let Some(c) = cookie {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(response)
}
