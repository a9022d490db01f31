//! `POST /weixin-login` (seed 002 "微信小程序登录").

use super::error::{ShopApiError, ShopJson};
use super::openapi::{ServiceUnavailable, Unauthorized, tags};
use super::views::{UserView, text};
use crate::http::{RequestId, read_after_write};
use crate::startup::AppState;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(weixin_login))
}

/// The request body.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct LoginBody {
    /// The code of `wx.login()` (in development without a WeChat app: `dev:{openid}`).
    #[schema(example = "0a3Xyz")]
    code: String,
}

/// The answer: an access token and the user.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginView {
    /// Access token (JWT) for `Authorization: Bearer`, accepted by every Tessera document.
    pub token: String,
    /// The signed-in user.
    pub user: UserView,
}

/// Exchange a mini-program login code for a token: the user is found by WeChat openid or created
/// (the first time with the next `user_id`).
#[utoipa::path(
    post,
    path = "/weixin-login",
    operation_id = "weixinLogin",
    tag = tags::USERS,
    summary = "Sign in with a WeChat mini-program login code",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Signed in", body = LoginView),
        (status = 400, description = "`code` missing or malformed", body = super::error::ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 502, description = "WeChat could not be asked (or no WeChat app is configured in production)", body = super::error::ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn weixin_login(
    State(state): State<AppState>,
    rid: RequestId,
    ShopJson(body): ShopJson,
) -> Result<Json<LoginView>, ShopApiError> {
    let code = text(&body, "code", false)?
        .flatten()
        .ok_or_else(|| ShopApiError::field("code", "不能为空"))?;
    let login = state
        .services
        .shop
        .weixin_login(&code, &rid.metadata(None))
        .await?;
    let account = login.account_id.to_string();
    let queries = &state.services.shop_queries;
    let read = read_after_write(&state, login.position, queries.user_by_account(&account)).await;
    let user = match read {
        Some(row) => row.into(),
        // The row is not readable (yet): answer from what the login read and decided in the event
        // store rather than fail a sign-in, least of all one that committed (decision 0011).
        None => {
            let known = login.known;
            UserView {
                user_id: login.user_id as i64,
                openid: Some(known.openid),
                nickname: known.nickname,
                avatar_url: None,
                gender: None,
                phone: known.phone,
                email: known.email,
                permission_level: u8::from(known.admin),
                created_at: known.joined_at,
                updated_at: known.changed_at,
            }
        }
    };
    Ok(Json(LoginView {
        token: login.token.token,
        user,
    }))
}
