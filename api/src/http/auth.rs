//! The signed-in caller of a request, from `Authorization: Bearer <access token>` or, for documents
//! whose clients keep the token in a cookie, from that cookie. One [`Caller`] type for all
//! documents; the extractor [`SignedIn<E>`] rejects with the document's own error type `E`.

use crate::startup::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum_extra::extract::cookie::CookieJar;
use std::marker::PhantomData;
use std::ops::Deref;
use tessera_application::identity::{AccessError, TokenError};
use tessera_domain::UserId;
use tessera_domain::identity::Role;

/// Who is calling: the user and the roles their access token was issued with (a role revoked
/// since lasts until the token expires; a disabled user or an ended session does not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The signed-in user.
    pub user_id: UserId,
    /// Roles granted when the token was issued.
    pub roles: Vec<Role>,
}

impl Caller {
    /// Holds `role`; admins hold every role.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role) || self.is_admin()
    }

    /// Holds the admin role.
    pub fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }

    /// `Err(AuthError::MissingRole(role))` unless the caller holds `role`; the document's error
    /// type words it through its `From<AuthError>` (a 403).
    pub fn require(&self, role: Role) -> Result<(), AuthError> {
        if self.has(role) {
            Ok(())
        } else {
            Err(AuthError::MissingRole(role))
        }
    }
}

/// Why a request has no acceptable caller.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No bearer token (nor token cookie, where the document accepts one).
    #[error("no access token")]
    Missing,
    /// The token is malformed, forged, expired, not valid yet or for another audience, or its
    /// user is unknown or disabled, or its session was signed out.
    #[error("invalid access token: {0}")]
    Invalid(#[source] TokenError),
    /// Whether the token's user and session still stand could not be read (a 503: the client
    /// keeps its token and retries).
    #[error("{0}")]
    Unavailable(#[source] AccessError),
    /// Signed in, but without the role the action needs.
    #[error("this action needs the {0} role")]
    MissingRole(Role),
}

/// A document's error type, as the rejection of [`SignedIn`]: its `From<AuthError>` words the
/// failure (401 for missing or invalid tokens, 403 for a missing role, in the document's format),
/// and [`AuthRejection::TOKEN_COOKIE`] says which cookie (if any) its clients send the token in.
pub trait AuthRejection: From<AuthError> {
    /// Cookie holding the access token when there is no `Authorization` header; `None` accepts the
    /// header only.
    const TOKEN_COOKIE: Option<&'static str> = None;
}

/// Extracts the [`Caller`] (deref to it), rejecting with the document's error `E`.
///
/// A document names it once, e.g. `pub type OtCaller = SignedIn<OtError>;`.
pub struct SignedIn<E>(pub Caller, PhantomData<fn() -> E>);

impl<E> Deref for SignedIn<E> {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl<E> std::fmt::Debug for SignedIn<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<E> Clone for SignedIn<E> {
    fn clone(&self) -> Self {
        SignedIn(self.0.clone(), PhantomData)
    }
}

/// The bearer token of a request, if any (`Authorization: Bearer <token>`, scheme
/// case-insensitive).
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The access token of a request: the bearer header, else the non-empty cookie `cookie`.
pub fn access_token(parts: &Parts, cookie: Option<&str>) -> Option<String> {
    if let Some(token) = bearer(parts) {
        return Some(token.to_owned());
    }
    let name = cookie?;
    CookieJar::from_headers(&parts.headers)
        .get(name)
        .map(|c| c.value().trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Verify the request's access token, check that its user exists and is enabled and that its
/// session was not signed out ([`IdentityService::authorize`], which reads the event store), and
/// return its caller.
///
/// [`IdentityService::authorize`]: tessera_application::identity::IdentityService::authorize
pub async fn authenticate(
    parts: &Parts,
    state: &AppState,
    cookie: Option<&str>,
) -> Result<Caller, AuthError> {
    let token = access_token(parts, cookie).ok_or(AuthError::Missing)?;
    let claims = state
        .services
        .identity
        .authorize(&token)
        .await
        .map_err(|e| match e {
            AccessError::Refused(e) => AuthError::Invalid(e),
            e @ AccessError::Unavailable(_) => AuthError::Unavailable(e),
        })?;
    Ok(Caller {
        user_id: claims.user_id,
        roles: claims.roles,
    })
}

impl<E: AuthRejection + IntoResponse> FromRequestParts<AppState> for SignedIn<E> {
    type Rejection = E;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        authenticate(parts, state, E::TOKEN_COOKIE)
            .await
            .map(|caller| SignedIn(caller, PhantomData))
            .map_err(E::from)
    }
}
