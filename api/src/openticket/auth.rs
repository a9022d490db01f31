//! OpenTicket identity routes (seed 003 §2.2 plus what its clients need and the document lacks):
//! register, login, refresh, logout, the caller's own profile, and admin role management.
//!
//! - `POST /v1/auth/register` `{email, password, displayName?}` → 201 user
//! - `POST /v1/auth/login` `{email, password}` → 200 `{accessToken, refreshToken, expiresIn (s), tokenType}`
//! - `POST /v1/auth/refresh` `{refreshToken}` → 200 same shape; the presented token is spent
//! - `POST /v1/auth/logout` `{refreshToken}` → 200 `{revoked: true}`
//! - `GET /v1/auth/me` → 200 user
//! - `POST /v1/admin/users/{userId}/roles` `{role}` (admin) → 200 user;
//!   `DELETE /v1/admin/users/{userId}/roles/{role}` (admin) → 200 user

use super::common::{Caller, parse_id};
use super::envelope::{OtError, OtJson, ok};
use crate::request::RequestId;
use crate::startup::AppState;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use tessera_application::identity::{IdentityError, TokenPair, UserView};
use tessera_domain::UserId;
use tessera_domain::identity::Role;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/register", post(register))
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/auth/me", get(me))
        .route("/v1/admin/users/{user_id}/roles", post(grant_role))
        .route(
            "/v1/admin/users/{user_id}/roles/{role}",
            delete(revoke_role),
        )
}

impl From<IdentityError> for OtError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Validation { field, reason } => OtError::validation(field, reason),
            IdentityError::EmailTaken => OtError::Conflict {
                message: "The email address is already registered".into(),
                details: serde_json::json!({ "field": "email" }),
            },
            IdentityError::InvalidCredentials => {
                OtError::Unauthorized("invalid email or password".into())
            }
            IdentityError::InvalidRefreshToken => {
                OtError::Unauthorized("invalid refresh token".into())
            }
            IdentityError::RefreshTokenReused => OtError::Unauthorized(
                "refresh token reuse detected; every session of this sign-in has been revoked"
                    .into(),
            ),
            IdentityError::NotFound => OtError::not_found("user", ""),
            IdentityError::Disabled => OtError::Forbidden("the user is disabled".into()),
            IdentityError::Contended { .. } | IdentityError::Store(_) => {
                OtError::Unavailable(e.to_string())
            }
            IdentityError::Decode(_) | IdentityError::Hashing(_) | IdentityError::Crypto(_) => {
                OtError::Internal(e.to_string())
            }
        }
    }
}

/// A user as OpenTicket clients see it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct UserBody {
    user_id: UserId,
    email: String,
    display_name: Option<String>,
    roles: Vec<Role>,
    /// RFC 3339, UTC.
    registered_at: String,
}

impl From<UserView> for UserBody {
    fn from(u: UserView) -> Self {
        UserBody {
            user_id: u.user_id,
            email: u.email.to_string(),
            display_name: u.display_name,
            roles: u.roles,
            registered_at: u
                .registered_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }
}

/// Seed 003 §2.2 token response.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenBody {
    access_token: String,
    refresh_token: String,
    /// Seconds until the access token expires.
    expires_in: u64,
    token_type: &'static str,
}

impl From<TokenPair> for TokenBody {
    fn from(p: TokenPair) -> Self {
        TokenBody {
            access_token: p.access_token,
            refresh_token: p.refresh_token,
            expires_in: p.expires_in,
            token_type: p.token_type,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RegisterBody {
    email: String,
    password: String,
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoginBody {
    email: String,
    password: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshBody {
    refresh_token: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleBody {
    role: String,
}

fn identity(
    state: &AppState,
    request_id: &RequestId,
    actor: Option<UserId>,
) -> tessera_application::identity::IdentityService {
    state
        .services
        .identity
        .with_metadata(request_id.metadata(actor.map(|a| a.to_string())))
}

#[tracing::instrument(skip_all)]
async fn register(
    State(state): State<AppState>,
    request_id: RequestId,
    OtJson(body): OtJson<RegisterBody>,
) -> Result<Response, OtError> {
    let user = identity(&state, &request_id, None)
        .register(&body.email, &body.password, body.display_name.as_deref())
        .await?;
    Ok(ok(StatusCode::CREATED, UserBody::from(user)))
}

#[tracing::instrument(skip_all)]
async fn login(
    State(state): State<AppState>,
    request_id: RequestId,
    OtJson(body): OtJson<LoginBody>,
) -> Result<Response, OtError> {
    let pair = identity(&state, &request_id, None)
        .login(&body.email, &body.password)
        .await?;
    Ok(ok(StatusCode::OK, TokenBody::from(pair)))
}

#[tracing::instrument(skip_all)]
async fn refresh(
    State(state): State<AppState>,
    request_id: RequestId,
    OtJson(body): OtJson<RefreshBody>,
) -> Result<Response, OtError> {
    let pair = identity(&state, &request_id, None)
        .refresh(&body.refresh_token)
        .await?;
    Ok(ok(StatusCode::OK, TokenBody::from(pair)))
}

#[tracing::instrument(skip_all)]
async fn logout(
    State(state): State<AppState>,
    request_id: RequestId,
    OtJson(body): OtJson<RefreshBody>,
) -> Result<Response, OtError> {
    identity(&state, &request_id, None)
        .logout(&body.refresh_token)
        .await?;
    Ok(ok(StatusCode::OK, serde_json::json!({ "revoked": true })))
}

#[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
async fn me(State(state): State<AppState>, caller: Caller) -> Result<Response, OtError> {
    let user = state.services.identity.user(caller.user_id).await?;
    Ok(ok(StatusCode::OK, UserBody::from(user)))
}

fn parse_role(raw: &str, field: &str) -> Result<Role, OtError> {
    raw.parse().map_err(|_| {
        OtError::validation(
            field,
            "must be one of customer, organizer, staff, auditor, admin",
        )
    })
}

#[tracing::instrument(skip_all, fields(admin = %caller.user_id))]
async fn grant_role(
    State(state): State<AppState>,
    request_id: RequestId,
    caller: Caller,
    Path(user_id): Path<String>,
    OtJson(body): OtJson<RoleBody>,
) -> Result<Response, OtError> {
    caller.require(Role::Admin)?;
    let user_id: UserId = parse_id("userId", &user_id)?;
    let role = parse_role(&body.role, "role")?;
    let user = identity(&state, &request_id, Some(caller.user_id))
        .grant_role(Some(caller.user_id), user_id, role)
        .await
        .map_err(|e| match e {
            IdentityError::NotFound => OtError::not_found("user", user_id.to_string()),
            e => e.into(),
        })?;
    Ok(ok(StatusCode::OK, UserBody::from(user)))
}

#[tracing::instrument(skip_all, fields(admin = %caller.user_id))]
async fn revoke_role(
    State(state): State<AppState>,
    request_id: RequestId,
    caller: Caller,
    Path((user_id, role)): Path<(String, String)>,
) -> Result<Response, OtError> {
    caller.require(Role::Admin)?;
    let user_id: UserId = parse_id("userId", &user_id)?;
    let role = parse_role(&role, "role")?;
    let user = identity(&state, &request_id, Some(caller.user_id))
        .revoke_role(Some(caller.user_id), user_id, role)
        .await
        .map_err(|e| match e {
            IdentityError::NotFound => OtError::not_found("user", user_id.to_string()),
            e => e.into(),
        })?;
    Ok(ok(StatusCode::OK, UserBody::from(user)))
}
