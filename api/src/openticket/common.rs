//! What every OpenTicket route shares: the signed-in caller, role checks, id and pagination
//! parameters, read-model errors, and waiting for read models to catch up with a command (read your own writes).

use super::envelope::OtError;
use crate::startup::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::collections::HashMap;
use std::time::Duration;
use tessera_domain::UserId;
use tessera_domain::identity::Role;
use tessera_projections::openticket::PageRequest;

/// The signed-in user of a request, from `Authorization: Bearer <access token>` (seed 003 §2.1).
/// Rejection: 401 `UNAUTHORIZED` for a missing, malformed, forged or expired token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who.
    pub user_id: UserId,
    /// Roles granted when the token was issued (a revoked role lasts until the token expires).
    pub roles: Vec<Role>,
}

impl Caller {
    /// Holds `role`; admins hold every role.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role) || self.roles.contains(&Role::Admin)
    }

    /// 403 `FORBIDDEN` unless the caller holds `role` (or is an admin).
    pub fn require(&self, role: Role) -> Result<(), OtError> {
        if self.has(role) {
            Ok(())
        } else {
            Err(OtError::Forbidden(format!(
                "this action needs the {role} role"
            )))
        }
    }

    /// Is an admin.
    pub fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }
}

/// The bearer token of a request, if any.
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

impl FromRequestParts<AppState> for Caller {
    type Rejection = OtError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(|| {
            OtError::Unauthorized("sign in: send `Authorization: Bearer <accessToken>`".into())
        })?;
        let claims = state
            .services
            .tokens
            .verify(token, chrono::Utc::now())
            .map_err(|e| OtError::Unauthorized(format!("invalid access token: {e}")))?;
        Ok(Caller {
            user_id: claims.user_id,
            roles: claims.roles,
        })
    }
}

/// Parse a UUID path or query parameter; 400 naming `field` otherwise.
pub fn parse_id<T: std::str::FromStr>(field: &str, raw: &str) -> Result<T, OtError> {
    raw.parse()
        .map_err(|_| OtError::validation(field, format!("must be a UUID, got {raw:?}")))
}

/// Largest `pageSize` (seed 003 §3.1).
pub const MAX_PAGE_SIZE: u32 = PageRequest::MAX_PAGE_SIZE;

/// Read `page` (from 1, default 1) and `pageSize` (1–100, default 20) from query parameters
/// (seed 003 §3.1). Out-of-range or non-numeric values are a 400 naming the parameter, never
/// silently clamped.
pub fn page_request(query: &HashMap<String, String>) -> Result<PageRequest, OtError> {
    let number = |field: &str, default: u32, max: u32| -> Result<u32, OtError> {
        match query.get(field) {
            None => Ok(default),
            Some(raw) => match raw.trim().parse::<i64>() {
                Ok(n) if n >= 1 && n <= i64::from(max) => Ok(n as u32),
                Ok(_) => Err(OtError::validation(
                    field,
                    format!("must be between 1 and {max}"),
                )),
                Err(_) => Err(OtError::validation(
                    field,
                    format!("must be a whole number, got {raw:?}"),
                )),
            },
        }
    };
    Ok(PageRequest::new(
        number("page", 1, 1_000_000)?,
        number("pageSize", 20, MAX_PAGE_SIZE)?,
    ))
}

/// Longest a command waits for the read models to show its own write.
const READ_YOUR_WRITES: Duration = Duration::from_secs(5);

/// Wait until every projection has applied `position` (DESIGN.md §4: no 404 right after a 201).
/// Gives up quietly after a few seconds: the write stands, only the read model lags.
pub async fn caught_up(state: &AppState, position: Option<u64>) {
    if let Some(position) = position
        && !state
            .engine
            .runner
            .status()
            .wait_for(position, READ_YOUR_WRITES)
            .await
    {
        tracing::warn!(
            position,
            "read models did not reach the command's position in time"
        );
    }
}

impl From<tessera_projections::openticket::QueryError> for OtError {
    fn from(e: tessera_projections::openticket::QueryError) -> Self {
        OtError::Unavailable(e.to_string())
    }
}
