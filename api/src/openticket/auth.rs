//! OpenTicket identity routes (seed 003 §2.2 plus what its clients need and the document lacks):
//! register, login, refresh, logout, the caller's own profile, and admin role management.
//!
//! - `POST /v1/auth/register` `{email, password, displayName?}` → 201 user
//! - `POST /v1/auth/login` `{email, password}` → 200 `{accessToken, refreshToken, expiresIn (s), tokenType}`
//! - `POST /v1/auth/refresh` `{refreshToken}` → 200 same shape; the presented token is spent
//! - `POST /v1/auth/logout` `{refreshToken}` → 200 `{revoked: true}`; the session's access tokens
//!   stop working at once
//! - `GET /v1/auth/me` → 200 user
//! - `POST /v1/auth/oauth/{provider}` `{code, redirectUri, nonce?}` → 200 same shape as login
//!   (Google and Apple through OpenID Connect; docs/decisions/0031-oauth-sign-in.md)
//! - `POST /v1/admin/users/{userId}/roles` `{role}` (admin) → 200 user;
//!   `DELETE /v1/admin/users/{userId}/roles/{role}` (admin) → 200 user

use super::common::{OtCaller, parse_id};
use super::envelope::{OtJson, ok};
use super::error::{ErrorBody, OtError};
use super::error::{ErrorCode, ErrorObject};
use super::openapi::{InternalError, PayloadTooLarge, ServiceUnavailable, tags};
use super::views::{
    LogoutResult, LogoutResultResponse, RoleName, Tokens, TokensResponse, User, UserResponse,
};
use crate::http::RequestId;
use crate::startup::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;
use serde::Deserialize;
use tessera_application::identity::IdentityError;
use tessera_application::identity::oauth::OAuthError;
use tessera_domain::UserId;
use tessera_domain::identity::Role;
use tessera_domain::identity::oauth::OAuthProvider;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this module, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(grant_role))
        .routes(routes!(revoke_role))
        .routes(routes!(oauth_sign_in))
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

/// `POST /v1/auth/register` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RegisterRequest {
    /// Email address (the sign-in name).
    #[schema(example = "user@example.com")]
    email: String,
    /// Password, 8 to 128 characters.
    #[schema(example = "correct horse battery")]
    password: String,
    /// Name to show; optional.
    #[serde(default)]
    display_name: Option<String>,
}

/// `POST /v1/auth/login` body (seed 003 §2.2).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct LoginRequest {
    /// Email address.
    #[schema(example = "user@example.com")]
    email: String,
    /// The account's password.
    #[schema(example = "correct horse battery")]
    password: String,
}

/// `POST /v1/auth/refresh` and `POST /v1/auth/logout` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct RefreshRequest {
    /// A refresh token from login or an earlier refresh.
    refresh_token: String,
}

/// `POST /v1/admin/users/{userId}/roles` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct RoleRequest {
    /// The role to grant (checked by the handler, which names `role` when it is not one).
    #[schema(value_type = RoleName)]
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

/// Register a user. Not in the seed document; every new user holds `customer`.
#[utoipa::path(
    post,
    path = "/v1/auth/register",
    operation_id = "register",
    tag = tags::AUTH,
    summary = "Register",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered", body = UserResponse),
        (status = 400, description = "VALIDATION_ERROR: malformed body, bad email, weak password or unknown member", body = ErrorBody),
        (status = 409, description = "CONFLICT: the email is already registered (`details.field` = `email`)", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all)]
async fn register(
    State(state): State<AppState>,
    request_id: RequestId,
    OtJson(body): OtJson<RegisterRequest>,
) -> Result<Response, OtError> {
    let user = identity(&state, &request_id, None)
        .register(&body.email, &body.password, body.display_name.as_deref())
        .await?;
    Ok(ok(StatusCode::CREATED, User::from(user)))
}

/// Sign in (seed 003 §2.2).
#[utoipa::path(
    post,
    path = "/v1/auth/login",
    operation_id = "login",
    tag = tags::AUTH,
    summary = "Sign in",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokensResponse),
        (status = 400, description = "VALIDATION_ERROR: malformed body", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED: unknown email, wrong password or disabled user alike", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all)]
async fn login(
    State(state): State<AppState>,
    request_id: RequestId,
    OtJson(body): OtJson<LoginRequest>,
) -> Result<Response, OtError> {
    let pair = identity(&state, &request_id, None)
        .login(&body.email, &body.password)
        .await?;
    Ok(ok(StatusCode::OK, Tokens::from(pair)))
}

/// Exchange a refresh token for a new pair (seed 003 §2.2). The presented token is spent;
/// presenting a spent one revokes every token of its sign-in.
#[utoipa::path(
    post,
    path = "/v1/auth/refresh",
    operation_id = "refreshTokens",
    tag = tags::AUTH,
    summary = "Refresh tokens",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair", body = TokensResponse),
        (status = 400, description = "VALIDATION_ERROR: malformed body", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED: unknown, expired, revoked or reused refresh token", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the user is disabled", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all)]
async fn refresh(
    State(state): State<AppState>,
    request_id: RequestId,
    OtJson(body): OtJson<RefreshRequest>,
) -> Result<Response, OtError> {
    let pair = identity(&state, &request_id, None)
        .refresh(&body.refresh_token)
        .await?;
    Ok(ok(StatusCode::OK, Tokens::from(pair)))
}

/// Sign out: revoke the refresh token's whole family (the sign-in session). The access tokens of
/// that session are refused from the next request on; the user's other sign-ins keep working.
/// Signing out twice is fine.
#[utoipa::path(
    post,
    path = "/v1/auth/logout",
    operation_id = "logout",
    tag = tags::AUTH,
    summary = "Sign out",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "Revoked", body = LogoutResultResponse),
        (status = 400, description = "VALIDATION_ERROR: malformed body", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED: not a refresh token of this server", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all)]
async fn logout(
    State(state): State<AppState>,
    request_id: RequestId,
    OtJson(body): OtJson<RefreshRequest>,
) -> Result<Response, OtError> {
    identity(&state, &request_id, None)
        .logout(&body.refresh_token)
        .await?;
    Ok(ok(StatusCode::OK, LogoutResult { revoked: true }))
}

/// The signed-in caller.
#[utoipa::path(
    get,
    path = "/v1/auth/me",
    operation_id = "getMe",
    tag = tags::AUTH,
    summary = "The caller",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The caller", body = UserResponse),
        (status = 401, description = "UNAUTHORIZED: missing, malformed, forged, expired or not yet valid access token; its user does not exist or is disabled; its session was signed out", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the user was disabled while the request ran", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: never in practice (the token's user is checked first)", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
async fn me(State(state): State<AppState>, caller: OtCaller) -> Result<Response, OtError> {
    let user = state.services.identity.user(caller.user_id).await?;
    Ok(ok(StatusCode::OK, User::from(user)))
}

fn parse_role(raw: &str, field: &str) -> Result<Role, OtError> {
    raw.parse().map_err(|_| {
        OtError::validation(
            field,
            "must be one of customer, organizer, staff, auditor, admin",
        )
    })
}

/// Grant a role (admins only). The user's new token carries it; tokens issued before do not.
#[utoipa::path(
    post,
    path = "/v1/admin/users/{userId}/roles",
    operation_id = "grantRole",
    tag = tags::ADMIN,
    summary = "Grant a role",
    security(("bearerAuth" = [])),
    params(("userId" = Uuid, Path, description = "The user")),
    request_body = RoleRequest,
    responses(
        (status = 200, description = "The user with the role", body = UserResponse),
        (status = 400, description = "VALIDATION_ERROR: `userId` is not a UUID, or `role` is not a role", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, malformed, forged or expired access token", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the caller is not an admin", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such user", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(admin = %caller.user_id))]
async fn grant_role(
    State(state): State<AppState>,
    request_id: RequestId,
    caller: OtCaller,
    Path(user_id): Path<String>,
    OtJson(body): OtJson<RoleRequest>,
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
    Ok(ok(StatusCode::OK, User::from(user)))
}

/// Revoke a role (admins only). Tokens already issued keep it until they expire.
#[utoipa::path(
    delete,
    path = "/v1/admin/users/{userId}/roles/{role}",
    operation_id = "revokeRole",
    tag = tags::ADMIN,
    summary = "Revoke a role",
    security(("bearerAuth" = [])),
    params(
        ("userId" = Uuid, Path, description = "The user"),
        ("role" = RoleName, Path, description = "The role to revoke"),
    ),
    responses(
        (status = 200, description = "The user without the role", body = UserResponse),
        (status = 400, description = "VALIDATION_ERROR: `userId` is not a UUID, or `role` is not a role", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, malformed, forged or expired access token", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the caller is not an admin", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such user", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(admin = %caller.user_id))]
async fn revoke_role(
    State(state): State<AppState>,
    request_id: RequestId,
    caller: OtCaller,
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
    Ok(ok(StatusCode::OK, User::from(user)))
}

// ------------------------------------------------------------------------------ OAuth sign-in

/// `POST /v1/auth/oauth/{provider}` body (seed 003 §2.2).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct OAuthRequest {
    /// The authorization code the provider sent to the app's redirect URI.
    #[schema(example = "oauth_authorization_code")]
    code: String,
    /// The redirect URI the code was issued for (the provider checks it matches the
    /// authorization request's).
    #[schema(example = "https://app.openticket.io/callback")]
    redirect_uri: String,
    /// The nonce the app put in its authorization request, if it sent one: the ID token must then
    /// carry the same value (replay protection). Not in the seed document; optional.
    #[serde(default)]
    nonce: Option<String>,
}

/// An error in the seed's envelope with `details` of this route's own (provider, reason, check).
fn oauth_reply(
    status: StatusCode,
    code: ErrorCode,
    message: String,
    details: serde_json::Value,
    log: Option<String>,
) -> Response {
    let body = ErrorBody {
        error: ErrorObject {
            code,
            message,
            details,
        },
        meta: super::envelope::meta(),
    };
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(detail) = log {
        crate::http::errors::ErrorDetail::attach(&mut response, detail);
    }
    response
}

/// The provider's name as people know it.
fn provider_title(p: OAuthProvider) -> &'static str {
    match p {
        OAuthProvider::Google => "Google",
        OAuthProvider::Apple => "Apple",
    }
}

/// How each [`OAuthError`] reads in OpenTicket's format (docs/openticket.md, "OAuth sign-in").
fn oauth_failure(e: OAuthError) -> Result<Response, OtError> {
    use serde_json::json;
    Ok(match e {
        OAuthError::UnknownProvider(name) => oauth_reply(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "Unknown OAuth provider: use `google` or `apple`".into(),
            json!({ "resource": "oauthProvider", "id": name }),
            None,
        ),
        OAuthError::NotConfigured(p) => oauth_reply(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!(
                "{} sign-in is not configured on this server",
                provider_title(p)
            ),
            json!({ "resource": "oauthProvider", "id": p.as_str(), "reason": "notConfigured" }),
            None,
        ),
        OAuthError::Validation { field, reason } => return Err(OtError::validation(field, reason)),
        OAuthError::ProviderRefused {
            provider,
            error,
            description,
        } => match error.as_str() {
            "invalid_grant" => oauth_reply(
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                format!(
                    "{} refused the authorization code (invalid_grant): it is invalid, expired, already used or was issued for another redirect URI",
                    provider_title(provider)
                ),
                json!({ "provider": provider.as_str(), "reason": "invalid_grant" }),
                None,
            ),
            "redirect_uri_mismatch" => {
                return Err(OtError::validation(
                    "redirectUri",
                    format!(
                        "{} says it does not match the authorization request's",
                        provider_title(provider)
                    ),
                ));
            }
            // invalid_client, unauthorized_client, invalid_request …: this server's settings or
            // the provider are at fault, not the caller.
            _ => oauth_reply(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ServiceUnavailable,
                format!(
                    "{} sign-in is temporarily unavailable; try again later",
                    provider_title(provider)
                ),
                json!({ "provider": provider.as_str() }),
                Some(format!(
                    "{provider} token endpoint refused: {error} ({})",
                    description.unwrap_or_default()
                )),
            ),
        },
        OAuthError::InvalidIdToken { provider, problem } => {
            tracing::warn!(%provider, check = problem.as_str(), "OAuth ID token refused");
            oauth_reply(
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                format!(
                    "{}'s ID token failed the `{}` check",
                    provider_title(provider),
                    problem.as_str()
                ),
                json!({
                    "provider": provider.as_str(),
                    "reason": "invalid_id_token",
                    "check": problem.as_str(),
                }),
                None,
            )
        }
        OAuthError::ProviderUnavailable { provider, detail } => oauth_reply(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServiceUnavailable,
            format!(
                "{} could not be reached; try again",
                provider_title(provider)
            ),
            json!({ "provider": provider.as_str() }),
            Some(detail),
        ),
        OAuthError::Disabled => return Err(OtError::Forbidden("the user is disabled".into())),
        OAuthError::Conflict => {
            return Err(OtError::Unavailable(
                "OAuth sign-in kept racing with concurrent sign-ins".into(),
            ));
        }
        OAuthError::Token(e) => return Err(e.into()),
        OAuthError::Engine(e @ tessera_application::EngineError::Decode(_)) => {
            return Err(OtError::Internal(e.to_string()));
        }
        OAuthError::Engine(e) => return Err(OtError::Unavailable(e.to_string())),
    })
}

/// Sign in with Google or Apple (seed 003 §2.2): the code is exchanged at the provider and its
/// ID token verified (signature against the provider's keys, issuer, audience, expiry, `nonce`
/// when sent); then the user linked to that provider account signs in, or the user holding the
/// provider-verified email (the account is linked to them), or a new user. An unverified email
/// never links to an existing account: a new account without an email is made.
#[utoipa::path(
    post,
    path = "/v1/auth/oauth/{provider}",
    operation_id = "oauthSignIn",
    tag = tags::AUTH,
    summary = "Sign in with Google or Apple",
    params(("provider" = String, Path, description = "`google` or `apple`")),
    request_body = OAuthRequest,
    responses(
        (status = 200, description = "Signed in (the same tokens as `/v1/auth/login`)", body = TokensResponse),
        (status = 400, description = "VALIDATION_ERROR: malformed body; empty or oversized `code`, `redirectUri` (not an absolute URI, or the provider says it does not match) or `nonce`", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED: the provider refused the code (`details.reason` = `invalid_grant`), or its ID token failed a check (`details.reason` = `invalid_id_token`, `details.check` = `issuer`, `audience`, `expired`, `issuedInFuture`, `signature`, `unknownKey`, `algorithm`, `nonce` or `malformed`)", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the account's user is disabled", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: unknown provider, or the provider is not configured on this server (`details.reason` = `notConfigured`)", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = InternalError),
        (status = 503, description = "SERVICE_UNAVAILABLE: the provider could not be reached or refused this server's client credentials (`details.provider`), or the store failed", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(provider = %provider))]
async fn oauth_sign_in(
    State(state): State<AppState>,
    request_id: RequestId,
    Path(provider): Path<String>,
    OtJson(body): OtJson<OAuthRequest>,
) -> Result<Response, OtError> {
    let signed_in = state
        .services
        .oauth
        .sign_in(
            &provider,
            &body.code,
            &body.redirect_uri,
            body.nonce.as_deref(),
            &request_id.metadata(None),
        )
        .await;
    match signed_in {
        Ok(pair) => Ok(ok(StatusCode::OK, Tokens::from(pair))),
        Err(e) => oauth_failure(e),
    }
}
