//! Seed 002 "用户 API" for admins: `GET /api/users`, `GET/PUT/DELETE /api/users/:id`.

use super::error::{ErrorBody, ShopApiError, ShopCaller, ShopJson, not_found, require_admin};
use super::openapi::{Forbidden, ServiceUnavailable, Unauthorized, tags};
use super::views::{MessageView, UserView, path_id, text, whole};
use crate::http::{RequestId, read_your_writes};
use crate::startup::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tessera_application::shop::{Missing, UserChange};
use tessera_domain::UserId;
use tessera_projections::shop::UserRow;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list))
        .routes(routes!(detail, update, delete))
}

async fn find(state: &AppState, raw: &str) -> Result<UserRow, ShopApiError> {
    let id = path_id(raw, Missing::User)?;
    let id = i64::try_from(id).map_err(|_| not_found(Missing::User))?;
    state
        .services
        .shop_queries
        .user(id)
        .await?
        .ok_or_else(|| not_found(Missing::User))
}

fn account(row: &UserRow) -> Result<UserId, ShopApiError> {
    row.account_id
        .parse()
        .map_err(|_| ShopApiError::Unavailable(format!("bad account id {}", row.account_id)))
}

/// Every shop user, by `user_id` (admins only).
#[utoipa::path(
    get,
    path = "/api/users",
    operation_id = "listUsers",
    tag = tags::USERS,
    summary = "All users (admin)",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Every user who signed in to the shop and was not deleted", body = Vec<UserView>),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn list(
    State(state): State<AppState>,
    c: ShopCaller,
) -> Result<Json<Vec<UserView>>, ShopApiError> {
    require_admin(&c)?;
    let rows = state.services.shop_queries.users().await?;
    Ok(Json(rows.into_iter().map(UserView::from).collect()))
}

/// One user (admins only).
#[utoipa::path(
    get,
    path = "/api/users/{id}",
    operation_id = "getUser",
    tag = tags::USERS,
    summary = "One user (admin)",
    security(("bearerAuth" = [])),
    params(("id" = u64, Path, description = "The user's `user_id`")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such user (or deleted)", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn detail(
    State(state): State<AppState>,
    c: ShopCaller,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ShopApiError> {
    require_admin(&c)?;
    Ok(Json(find(&state, &id).await?.into()))
}

/// The request body of `PUT /api/users/:id`: every field optional.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct UserUpdateBody {
    /// New nickname (1–64 characters; null or empty clears it).
    nickname: Option<String>,
    /// New email address (unique across users).
    email: Option<String>,
    /// New contact phone (7–20 characters of digits, spaces and `+-()`; null clears it).
    phone: Option<String>,
    /// New password, 8–128 characters (lets the user sign in by email too).
    password: Option<String>,
    /// 0 normal user, 1 admin.
    permission_level: Option<u8>,
}

/// Change a user (admins only): each field given becomes its own event naming the admin, all in
/// one commit.
#[utoipa::path(
    put,
    path = "/api/users/{id}",
    operation_id = "updateUser",
    tag = tags::USERS,
    summary = "Change a user (admin)",
    security(("bearerAuth" = [])),
    params(("id" = u64, Path, description = "The user's `user_id`")),
    request_body = UserUpdateBody,
    responses(
        (status = 200, description = "`{\"message\": \"用户信息更新成功\"}`", body = MessageView),
        (status = 400, description = "A field is invalid, or the email is taken", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such user (or deleted)", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn update(
    State(state): State<AppState>,
    rid: RequestId,
    c: ShopCaller,
    Path(id): Path<String>,
    ShopJson(body): ShopJson,
) -> Result<Json<MessageView>, ShopApiError> {
    require_admin(&c)?;
    let row = find(&state, &id).await?;
    let email = text(&body, "email", false)?.flatten();
    let password = match body.get("password") {
        None => None,
        Some(serde_json::Value::String(p)) => Some(p.clone()),
        Some(_) => return Err(ShopApiError::field("password", "应为字符串")),
    };
    let permission_level = match whole(&body, "permission_level", 1)? {
        None => None,
        Some(None) => return Err(ShopApiError::field("permission_level", "应为 0 或 1")),
        Some(Some(n)) => Some(n as u8),
    };
    let change = UserChange {
        nickname: text(&body, "nickname", true)?,
        email,
        phone: text(&body, "phone", true)?,
        password,
        permission_level,
    };
    let position = state
        .services
        .shop
        .update_user(
            c.user_id,
            account(&row)?,
            change,
            &rid.metadata(Some(c.user_id.to_string())),
        )
        .await?;
    read_your_writes(&state, position).await;
    Ok(Json(MessageView {
        message: "用户信息更新成功".into(),
    }))
}

/// Delete a user (admins only): the identity's erasure. 204, no body.
#[utoipa::path(
    delete,
    path = "/api/users/{id}",
    operation_id = "deleteUser",
    tag = tags::USERS,
    summary = "Delete a user (admin): erasure",
    security(("bearerAuth" = [])),
    params(("id" = u64, Path, description = "The user's `user_id`")),
    responses(
        (status = 204, description = "Deleted: the user can no longer sign in; personal data is erased"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such user (or deleted already)", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn delete(
    State(state): State<AppState>,
    c: ShopCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ShopApiError> {
    require_admin(&c)?;
    let row = find(&state, &id).await?;
    state
        .services
        .shop
        .delete_user(c.user_id, account(&row)?, state.engine.privacy.keys())
        .await?;
    let head = state.engine.events.head_position().await.ok();
    read_your_writes(&state, head).await;
    Ok(StatusCode::NO_CONTENT)
}
