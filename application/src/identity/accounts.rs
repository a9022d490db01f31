//! Identity use cases: registration, sign-in with rotating refresh tokens, sign-out, roles.
//!
//! The ports ([`PasswordHasher`], [`AccessTokens`], [`Secrets`]) keep cryptography outside: the
//! infrastructure crate implements them with Argon2id, HS256 JWTs and aws-lc-rs.
//!
//! # Unique emails
//! An address is claimed in its guard stream `userEmail-{uuid v5}` (DESIGN.md §5) and
//! `user-{userId}` is written in the same atomic commit, both with expected version "no stream"
//! (docs/decisions/0009-multi-stream-append.md). Of two concurrent registrations the second loses
//! on the guard stream and gets [`IdentityError::EmailTaken`]; a failed commit leaves neither.
//!
//! Versions before that wrote the two streams one after another, so a crash could leave a claim
//! whose user stream was never written. The claim names the user id, which makes that state
//! recognisable: a later registration of the same address that finds such an orphaned claim
//! re-uses the claimed user id and writes the user stream itself (again with "no stream", so of
//! several concurrent retries exactly one wins and the others get `EmailTaken`). No-one owned the
//! orphaned address, so nothing is taken from anyone; no stream ever holds a second
//! `UserRegistered` for one address.
//!
//! # Refresh tokens
//! A refresh token is `{familyId}.{random}`; only its SHA-256 hex digest is stored. Each refresh
//! rotates it (the expiry slides to now + `refresh_ttl`); presenting a token that was already
//! rotated revokes the whole family, so after a reuse even the newest token fails. Two refreshes
//! racing with the same token count as a reuse too: the loser re-decides against the rotated
//! state — strict, but it is what a stolen token looks like from here.

use super::access::{AccessCheck, AccessError};
use super::ports::SubjectKeys;
use crate::clock::Clock;
use crate::command::{CommandRunner, EngineError};
use crate::event_store::{
    AppendRequest, EventMetadata, EventStore, ExpectedVersion, NewEvent, StoreError, StreamId,
};
use chrono::{DateTime, SubsecRound, Utc};
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use tessera_domain::identity::{
    ClaimEmail, Email, EmailClaim, EmailClaimError, RefreshFamily, RefreshFamilyCommand,
    RefreshFamilyEvent, RevokeReason, Role, User, UserCommand, UserError, email_stream_id,
};
use tessera_domain::shared::classification;
use tessera_domain::{Decider, DomainEvent, EventDecodeError, UserId};
use uuid::Uuid;

/// Default lifetime of a refresh token, in seconds (30 days; it slides with each rotation).
pub const DEFAULT_REFRESH_TTL_SECS: i64 = 30 * 24 * 60 * 60;

/// Shortest accepted password, in characters (Unicode scalar values).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Longest accepted password, in characters; caps the work one request can cause.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Longest accepted display name, in characters (after trimming).
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;

/// Longest refresh token accepted for parsing, in bytes; anything longer was not issued here.
const MAX_REFRESH_TOKEN_LEN: usize = 256;

/// The `token_type` of every [`TokenPair`].
pub const TOKEN_TYPE: &str = "Bearer";

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why an identity use case failed. The API maps these to responses per document.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// An input is unusable (400/422). `field` is the request field's camelCase name.
    #[error("invalid {field}: {reason}")]
    Validation {
        /// `email`, `password`, `displayName` or `role`.
        field: &'static str,
        /// What is wrong, for the client.
        reason: String,
    },
    /// Another user holds the address, or won a concurrent registration of it (409).
    #[error("the email address is already registered")]
    EmailTaken,
    /// Unknown email, wrong password or disabled user — deliberately indistinguishable (401).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// The refresh token is malformed, unknown, expired or its family was revoked (401).
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// A refresh token that had already been rotated was presented; its whole family is now
    /// revoked (401).
    #[error("refresh token reuse detected; the session has been revoked")]
    RefreshTokenReused,
    /// No such user (404).
    #[error("user not found")]
    NotFound,
    /// The user is disabled (403).
    #[error("the user is disabled")]
    Disabled,
    /// The event store failed (500/503).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored event could not be decoded (500).
    #[error(transparent)]
    Decode(#[from] EventDecodeError),
    /// Lost the race for a stream too many times (503, retry).
    #[error("gave up on {stream} after {attempts} version conflicts")]
    Contended {
        /// The stream whose expected version kept losing to other writers.
        stream: StreamId,
        /// Attempts made.
        attempts: u32,
    },
    /// Password hashing failed (500).
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// Signing a token or drawing random bytes failed (500).
    #[error("token or randomness failure: {0}")]
    Crypto(String),
}

impl IdentityError {
    fn validation(field: &'static str, reason: impl Into<String>) -> Self {
        IdentityError::Validation {
            field,
            reason: reason.into(),
        }
    }
}

impl From<EngineError> for IdentityError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Contended { stream, attempts } => {
                IdentityError::Contended { stream, attempts }
            }
            EngineError::Decode(e) => IdentityError::Decode(e),
            EngineError::Store(e) => IdentityError::Store(e),
            EngineError::StreamId(e) => {
                IdentityError::Store(StoreError::InvalidRequest(e.to_string()))
            }
        }
    }
}

/// How a [`UserError`] reads to callers of this service.
fn user_rejected(error: UserError) -> IdentityError {
    match error {
        UserError::AlreadyRegistered => IdentityError::EmailTaken,
        UserError::NotRegistered => IdentityError::NotFound,
        // An erased account reads like a disabled one to callers: it cannot sign in or act.
        UserError::Disabled | UserError::Erased => IdentityError::Disabled,
        UserError::CustomerRoleIsPermanent => {
            IdentityError::validation("role", "every user keeps the customer role")
        }
    }
}

/// Why an access token was not accepted (all map to 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a well-formed JWT of ours: bad encoding, missing or ill-typed claims, an algorithm
    /// other than HS256 (including `none`), or another issuer.
    #[error("malformed access token")]
    Malformed,
    /// The signature does not match.
    #[error("access token signature mismatch")]
    BadSignature,
    /// `exp` is not after the current time.
    #[error("access token expired")]
    Expired,
    /// `aud` is not this service's audience.
    #[error("access token is for another audience")]
    WrongAudience,
    /// `nbf` is after the current time: the token is not valid yet.
    #[error("access token not valid yet")]
    NotYetValid,
    /// The token's user (`sub`) was never registered.
    #[error("the token's user does not exist")]
    UnknownUser,
    /// The token's user has been disabled since it was issued.
    #[error("the token's user is disabled")]
    UserDisabled,
    /// The sign-in session the token belongs to (`sid`) was ended: signed out, or revoked after a
    /// refresh token was reused.
    #[error("the session of this access token has ended")]
    SessionEnded,
}

// ---------------------------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------------------------

/// Password hashing (Argon2id in production). Synchronous and CPU-bound by design: callers that
/// must not block an async worker run the service's calls where blocking is acceptable.
pub trait PasswordHasher: Send + Sync {
    /// Hash `password` with a fresh random salt into a PHC string (`$argon2id$v=19$…`).
    ///
    /// Errors: [`IdentityError::Hashing`].
    fn hash(&self, password: &str) -> Result<String, IdentityError>;

    /// Whether `password` matches the PHC string `phc`. A malformed `phc` is simply `false`.
    fn verify(&self, password: &str, phc: &str) -> bool;
}

/// A freshly signed access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The compact JWT.
    pub token: String,
    /// When it stops being accepted (UTC, whole seconds).
    pub expires_at: DateTime<Utc>,
    /// Its lifetime from issue, in seconds.
    pub expires_in_secs: u64,
}

/// What a verified access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    /// `sub`: the signed-in user.
    pub user_id: UserId,
    /// `roles`: the roles held when the token was issued.
    pub roles: Vec<Role>,
    /// `exp` (UTC, whole seconds).
    pub expires_at: DateTime<Utc>,
    /// `jti`: unique token id.
    pub token_id: Uuid,
    /// `sid`: the refresh family (sign-in session) the token was issued for; `None` for tokens of
    /// sign-ins without refresh tokens (phone and WeChat, seed 000).
    pub session_id: Option<Uuid>,
}

impl AccessClaims {
    /// Whether the token carries `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// Short-lived access tokens (HS256 JWTs in production).
pub trait AccessTokens: Send + Sync {
    /// Sign a token for `user` with `roles`, issued at and valid from `now` (UTC), belonging to
    /// the sign-in session `session` (a refresh family id), if any.
    ///
    /// Errors: [`IdentityError::Crypto`] when signing fails.
    fn issue(
        &self,
        user: UserId,
        roles: &[Role],
        session: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, IdentityError>;

    /// Check a token's signature, algorithm, audience, issuer, expiry and not-before time against
    /// `now` (UTC). Whether its user and session still stand is [`IdentityService::authorize`]'s
    /// part.
    fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenError>;
}

/// Random refresh tokens and their digests.
pub trait Secrets: Send + Sync {
    /// A fresh random, URL-safe string of at least 256 bits of entropy.
    ///
    /// Errors: [`IdentityError::Crypto`] when the random source fails.
    fn new_refresh_token(&self) -> Result<String, IdentityError>;

    /// The stored form of a token: SHA-256 of its UTF-8 bytes, lower-case hex (64 characters).
    fn digest(&self, token: &str) -> String;
}

// ---------------------------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------------------------

/// A registered user as the use cases return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserView {
    /// The user's id (stream `user-{userId}`).
    pub user_id: UserId,
    /// Lower-cased address (users registered by phone have none).
    pub email: Option<Email>,
    /// Mainland phone number, for users registered by phone (seed 000).
    pub phone: Option<String>,
    /// WeChat openid, for users registered through WeChat (seed 000).
    pub wechat_id: Option<String>,
    /// Name to show, if given.
    pub display_name: Option<String>,
    /// Roles held, in [`Role`] order (always including customer).
    pub roles: Vec<Role>,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// When the user registered (UTC).
    pub registered_at: DateTime<Utc>,
}

impl UserView {
    /// The view of a user state; `None` when the user is not registered.
    pub fn from_state(user: &User) -> Option<Self> {
        Some(UserView {
            user_id: user.user_id()?,
            email: user.email().cloned(),
            phone: user.phone().map(str::to_owned),
            wechat_id: user.wechat_id().map(str::to_owned),
            display_name: user.display_name().map(str::to_owned),
            roles: user.roles().iter().copied().collect(),
            disabled: user.is_disabled(),
            registered_at: user.registered_at()?,
        })
    }
}

/// A sign-in session about to be started ([`IdentityService::new_session`]).
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The refresh family's id (the session id).
    pub family_id: Uuid,
    /// `refreshFamily-{familyId}`.
    pub stream: StreamId,
    /// The token the client keeps (a cookie value); secret.
    pub token: String,
    /// The command starting the family, to run in the caller's commit.
    pub command: RefreshFamilyCommand,
    /// When the session ends (UTC).
    pub expires_at: DateTime<Utc>,
}

/// What a sign-in or refresh returns (OAuth 2 token response shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// Short-lived JWT for `Authorization: Bearer …`.
    pub access_token: String,
    /// `{familyId}.{random}`; exchange it at refresh, once.
    pub refresh_token: String,
    /// Access-token lifetime, in seconds (3600 by default).
    pub expires_in: u64,
    /// Always [`TOKEN_TYPE`] (`"Bearer"`).
    pub token_type: &'static str,
    /// The signed-in user.
    pub user: UserView,
}

// ---------------------------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------------------------

/// The identity use cases over the event store. Cheap to clone (shared ports).
#[derive(Clone)]
pub struct IdentityService {
    store: Arc<dyn EventStore>,
    runner: CommandRunner,
    clock: Arc<dyn Clock>,
    hasher: Arc<dyn PasswordHasher>,
    tokens: Arc<dyn AccessTokens>,
    secrets: Arc<dyn Secrets>,
    refresh_ttl: chrono::Duration,
    metadata: EventMetadata,
    /// A hash of a throw-away password, verified against when the email is unknown so that
    /// unknown and known addresses take about as long (no account enumeration by timing).
    dummy_hash: Arc<OnceLock<Option<String>>>,
    /// Last seen user and refresh-family states, for [`IdentityService::authorize`].
    access: Arc<AccessCheck>,
}

impl std::fmt::Debug for IdentityService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityService")
            .field("refresh_ttl", &self.refresh_ttl)
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

impl IdentityService {
    /// A service with a refresh-token lifetime of [`DEFAULT_REFRESH_TTL_SECS`].
    pub fn new(
        store: Arc<dyn EventStore>,
        clock: Arc<dyn Clock>,
        hasher: Arc<dyn PasswordHasher>,
        tokens: Arc<dyn AccessTokens>,
        secrets: Arc<dyn Secrets>,
    ) -> Self {
        Self {
            runner: CommandRunner::new(store.clone()),
            store,
            clock,
            hasher,
            tokens,
            secrets,
            refresh_ttl: chrono::Duration::seconds(DEFAULT_REFRESH_TTL_SECS),
            metadata: EventMetadata::default(),
            dummy_hash: Arc::new(OnceLock::new()),
            access: Arc::new(AccessCheck::new()),
        }
    }

    /// Use another refresh-token lifetime (it slides: each rotation grants `ttl` again).
    pub fn with_refresh_ttl(mut self, ttl: chrono::Duration) -> Self {
        self.refresh_ttl = ttl;
        self
    }

    /// A copy whose appends carry `metadata` (request id, correlation id, actor), e.g. one per
    /// HTTP request. Use cases that know the actor fill `actor_user_id` when it is empty.
    pub fn with_metadata(&self, metadata: EventMetadata) -> Self {
        let mut copy = self.clone();
        copy.metadata = metadata;
        copy
    }

    /// The refresh-token lifetime.
    pub fn refresh_ttl(&self) -> chrono::Duration {
        self.refresh_ttl
    }

    /// Verify an access token against the service's clock.
    ///
    /// Errors: see [`TokenError`].
    pub fn verify_access_token(&self, token: &str) -> Result<AccessClaims, TokenError> {
        self.tokens.verify(token, self.clock.now())
    }

    /// Verify an access token and check, against the event store, that its user exists and is
    /// not disabled and that its sign-in session (`sid`) has not been revoked: what every
    /// signed-in request needs. Reads only the events appended since the last check of the same
    /// user and session (usually none; see the `access` module).
    ///
    /// Errors: [`AccessError::Refused`] with [`TokenError::UnknownUser`],
    /// [`TokenError::UserDisabled`], [`TokenError::SessionEnded`] or a verification failure;
    /// [`AccessError::Unavailable`] when the store cannot be read.
    pub async fn authorize(&self, token: &str) -> Result<AccessClaims, AccessError> {
        let claims = self.tokens.verify(token, self.clock.now())?;
        self.access.check(self.store.as_ref(), &claims).await?;
        Ok(claims)
    }

    /// Register a customer.
    ///
    /// `email` is trimmed and lower-cased; `password` must be 8–128 characters; `display_name` is
    /// trimmed, empty means none, at most 100 characters.
    ///
    /// Errors: [`IdentityError::Validation`] (`email`, `password`, `displayName`),
    /// [`IdentityError::EmailTaken`], store and hashing failures.
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        display_name: Option<&str>,
    ) -> Result<UserView, IdentityError> {
        let email = parse_email(email)?;
        check_password(password)?;
        let display_name = check_display_name(display_name)?;
        self.register_with_roles(
            email,
            password,
            display_name,
            BTreeSet::from([Role::Customer]),
        )
        .await
    }

    /// Check an email and password without signing in: the user when they match.
    ///
    /// Errors: [`IdentityError::InvalidCredentials`] for an unknown or malformed email or a wrong
    /// password alike (same work either way); [`IdentityError::Disabled`] only when the password
    /// matched a disabled user (documents that tell a banned account apart, seed 001's 407);
    /// store failures.
    pub async fn verify_credentials(
        &self,
        email: &str,
        password: &str,
    ) -> Result<(UserId, User), IdentityError> {
        let user = match Email::parse(email) {
            Ok(email) => self.find_by_email(&email).await?,
            Err(_) => None,
        };
        let Some((user_id, user)) = user else {
            self.burn_verification(password);
            return Err(IdentityError::InvalidCredentials);
        };
        let matches = user
            .password_hash()
            .is_some_and(|phc| self.hasher.verify(password, phc));
        if !matches {
            return Err(IdentityError::InvalidCredentials);
        }
        if user.is_disabled() {
            return Err(IdentityError::Disabled);
        }
        Ok((user_id, user))
    }

    /// A new sign-in session for `user_id`, to be started by the caller in its own commit: the
    /// refresh family's stream and `Start` command, and the token naming it (`{familyId}.{random}`,
    /// only its digest is stored). Cookie sessions present that token on every request
    /// ([`IdentityService::authorize_session`]) and end with [`IdentityService::logout`].
    ///
    /// Errors: [`IdentityError::Crypto`] when the random source fails.
    pub fn new_session(&self, user_id: UserId) -> Result<NewSession, IdentityError> {
        let now = self.now();
        let family_id = Uuid::now_v7();
        let (token, token_hash) = self.new_refresh_token(family_id)?;
        Ok(NewSession {
            family_id,
            stream: family_stream(family_id)?,
            token,
            command: RefreshFamilyCommand::Start {
                family_id,
                user_id,
                token_hash,
                now,
                expires_at: now + self.refresh_ttl,
            },
            expires_at: now + self.refresh_ttl,
        })
    }

    /// The user of a session token from [`IdentityService::new_session`]: the token must be its
    /// family's current one, the family neither revoked nor expired, the user registered and
    /// enabled. Read through the same in-process memory as [`IdentityService::authorize`].
    ///
    /// Errors: [`AccessError::Refused`] ([`TokenError::Malformed`], [`TokenError::SessionEnded`],
    /// [`TokenError::UnknownUser`], [`TokenError::UserDisabled`]); [`AccessError::Unavailable`].
    pub async fn authorize_session(&self, token: &str) -> Result<UserId, AccessError> {
        let family_id = parse_refresh_token(token).map_err(|_| TokenError::Malformed)?;
        let hash = self.secrets.digest(token);
        self.access
            .check_session(self.store.as_ref(), family_id, &hash, self.clock.now())
            .await
    }

    /// Sign in with email and password.
    ///
    /// Errors: [`IdentityError::InvalidCredentials`] for an unknown or malformed email, a wrong
    /// password or a disabled user alike; store and crypto failures.
    pub async fn login(&self, email: &str, password: &str) -> Result<TokenPair, IdentityError> {
        let (user_id, user) = match self.verify_credentials(email, password).await {
            Err(IdentityError::Disabled) => return Err(IdentityError::InvalidCredentials),
            other => other?,
        };
        let now = self.now();
        let family_id = Uuid::now_v7();
        let (refresh_token, token_hash) = self.new_refresh_token(family_id)?;
        let command = RefreshFamilyCommand::Start {
            family_id,
            user_id,
            token_hash,
            now,
            expires_at: now + self.refresh_ttl,
        };
        self.runner
            .run::<RefreshFamily>(
                &family_stream(family_id)?,
                &command,
                &self.metadata_for(Some(user_id)),
            )
            .await
            .map_err(|e| e.map_rejected(|_| IdentityError::InvalidRefreshToken))?;
        self.token_pair(&user, family_id, refresh_token, now)
    }

    /// Exchange a refresh token for a new pair (rotation).
    ///
    /// Errors: [`IdentityError::InvalidRefreshToken`] (malformed, unknown, expired, revoked),
    /// [`IdentityError::RefreshTokenReused`] (an already rotated token: the family is revoked
    /// first), [`IdentityError::Disabled`], store and crypto failures.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, IdentityError> {
        let family_id = parse_refresh_token(refresh_token)?;
        let stream = family_stream(family_id)?;
        let presented_hash = self.secrets.digest(refresh_token);
        let (family, _) = self.runner.load::<RefreshFamily>(&stream).await?;
        let Some(user_id) = family.user_id() else {
            return Err(IdentityError::InvalidRefreshToken);
        };
        if !family.knows_hash(&presented_hash) {
            return Err(IdentityError::InvalidRefreshToken);
        }
        let user = self.load_user(user_id).await?;
        if !user.is_registered() {
            return Err(IdentityError::InvalidRefreshToken);
        }
        if user.is_disabled() {
            return Err(IdentityError::Disabled);
        }
        let now = self.now();
        let (new_token, new_hash) = self.new_refresh_token(family_id)?;
        let command = RefreshFamilyCommand::Rotate {
            presented_hash,
            new_hash,
            now,
            expires_at: now + self.refresh_ttl,
        };
        let decided = self
            .runner
            .run::<RefreshFamily>(&stream, &command, &self.metadata_for(Some(user_id)))
            .await
            .map_err(|e| e.map_rejected(|_| IdentityError::InvalidRefreshToken))?;
        let reused = decided.events.iter().any(|e| {
            matches!(
                e,
                RefreshFamilyEvent::RefreshFamilyRevoked {
                    reason: RevokeReason::Reuse,
                    ..
                }
            )
        });
        if reused {
            tracing::warn!(%family_id, %user_id, "refresh token reuse: family revoked");
            return Err(IdentityError::RefreshTokenReused);
        }
        self.token_pair(&user, family_id, new_token, now)
    }

    /// Sign out: revoke the refresh token's whole family. The access tokens issued for the family
    /// (its `sid`) are refused by [`IdentityService::authorize`] from then on; other sign-ins of
    /// the same user are untouched. Signing out twice is fine.
    ///
    /// Errors: [`IdentityError::InvalidRefreshToken`] when the token is not one of the family's.
    pub async fn logout(&self, refresh_token: &str) -> Result<(), IdentityError> {
        let family_id = parse_refresh_token(refresh_token)?;
        let stream = family_stream(family_id)?;
        let presented_hash = self.secrets.digest(refresh_token);
        let (family, _) = self.runner.load::<RefreshFamily>(&stream).await?;
        if !family.knows_hash(&presented_hash) {
            return Err(IdentityError::InvalidRefreshToken);
        }
        let command = RefreshFamilyCommand::Revoke {
            reason: RevokeReason::Logout,
            now: self.now(),
        };
        self.runner
            .run::<RefreshFamily>(&stream, &command, &self.metadata_for(family.user_id()))
            .await
            .map_err(|e| e.map_rejected(|_| IdentityError::InvalidRefreshToken))?;
        Ok(())
    }

    /// Grant `role` to `user_id`; `by` is the acting admin (`None` for the CLI). Granting a role
    /// already held changes nothing. The caller checks that `by` may grant roles.
    ///
    /// Errors: [`IdentityError::NotFound`], [`IdentityError::Disabled`], store failures.
    pub async fn grant_role(
        &self,
        by: Option<UserId>,
        user_id: UserId,
        role: Role,
    ) -> Result<UserView, IdentityError> {
        let command = UserCommand::GrantRole {
            role,
            by,
            now: self.now(),
        };
        self.run_user_command(user_id, &command, by).await
    }

    /// Take `role` from `user_id`; revoking a role not held changes nothing.
    ///
    /// Errors: [`IdentityError::NotFound`], [`IdentityError::Validation`] (`role`) for customer,
    /// store failures.
    pub async fn revoke_role(
        &self,
        by: Option<UserId>,
        user_id: UserId,
        role: Role,
    ) -> Result<UserView, IdentityError> {
        let command = UserCommand::RevokeRole {
            role,
            by,
            now: self.now(),
        };
        self.run_user_command(user_id, &command, by).await
    }

    /// Disable `user_id`: sign-in and refresh stop working, and [`IdentityService::authorize`]
    /// refuses the user's access tokens from the next request on. Disabling twice changes nothing.
    ///
    /// Errors: [`IdentityError::NotFound`], store failures.
    pub async fn disable_user(
        &self,
        by: Option<UserId>,
        user_id: UserId,
    ) -> Result<UserView, IdentityError> {
        let command = UserCommand::DisableUser {
            by,
            now: self.now(),
        };
        self.run_user_command(user_id, &command, by).await
    }

    /// Let a disabled user sign in again; `by` is the acting admin (`None` for the CLI). Enabling
    /// an enabled user changes nothing.
    ///
    /// Errors: [`IdentityError::NotFound`], [`IdentityError::Disabled`] for an erased user (erasure
    /// is final), store failures.
    pub async fn enable_user(
        &self,
        by: Option<UserId>,
        user_id: UserId,
    ) -> Result<UserView, IdentityError> {
        let command = UserCommand::EnableUser {
            by,
            now: self.now(),
        };
        self.run_user_command(user_id, &command, by).await
    }

    /// Erase `user_id` (docs/decisions/0008-crypto-shredding.md): record
    /// [`UserEvent::UserErased`] (read models then blank the user's rows), then destroy the keys of
    /// the user and of the phone number and WeChat id they registered with, so every personal and
    /// secret field sealed under them reads as the erased marker from then on. `by` is the acting
    /// admin, or `None` for the CLI and self-service deletion; the caller checks that `by` may
    /// erase. Erasing twice is safe: a retry after a failure between the two steps destroys the keys
    /// still left. Returns how many keys were destroyed by this call.
    ///
    /// Events written before crypto-shredding was introduced hold plain personal data that this
    /// cannot remove from the log (SECURITY.md, "Secrets and personal data").
    ///
    /// Errors: [`IdentityError::NotFound`], store failures.
    pub async fn erase_user(
        &self,
        by: Option<UserId>,
        user_id: UserId,
        keys: &dyn SubjectKeys,
    ) -> Result<u64, IdentityError> {
        let user = self.load_user(user_id).await?;
        if !user.is_registered() {
            return Err(IdentityError::NotFound);
        }
        let mut subjects = vec![classification::user_subject(user_id)];
        if let Some(phone) = user.phone().filter(|p| *p != classification::ERASED) {
            subjects.push(classification::phone_subject(phone));
        }
        if let Some(openid) = user.wechat_id().filter(|w| *w != classification::ERASED) {
            subjects.push(classification::wechat_subject(openid));
        }
        let command = UserCommand::EraseUser {
            by,
            now: self.now(),
        };
        self.run_user_command(user_id, &command, by).await?;
        let destroyed = keys.erase_subjects(&subjects).await?;
        Ok(destroyed)
    }

    /// Change a user's password after checking the current one.
    ///
    /// Errors: [`IdentityError::NotFound`], [`IdentityError::InvalidCredentials`] (wrong current
    /// password), [`IdentityError::Validation`] (`password`), [`IdentityError::Disabled`].
    pub async fn change_password(
        &self,
        user_id: UserId,
        current_password: &str,
        new_password: &str,
    ) -> Result<UserView, IdentityError> {
        check_password(new_password)?;
        let user = self.load_user(user_id).await?;
        let Some(phc) = user.password_hash() else {
            return Err(IdentityError::NotFound);
        };
        if !self.hasher.verify(current_password, phc) {
            return Err(IdentityError::InvalidCredentials);
        }
        let command = UserCommand::ChangePassword {
            password_hash: self.hasher.hash(new_password)?,
            now: self.now(),
        };
        self.run_user_command(user_id, &command, Some(user_id))
            .await
    }

    /// Check a new password (8–128 characters) and hash it with Argon2id, for use cases that set
    /// it in their own commit ([`tessera_domain::identity::UserCommand::SetPassword`]).
    ///
    /// Errors: [`IdentityError::Validation`] (`password`), hashing failures.
    pub fn hash_new_password(&self, password: &str) -> Result<String, IdentityError> {
        check_password(password)?;
        self.hasher.hash(password)
    }

    /// A user by id.
    ///
    /// Errors: [`IdentityError::NotFound`], store failures.
    pub async fn user(&self, user_id: UserId) -> Result<UserView, IdentityError> {
        let user = self.load_user(user_id).await?;
        UserView::from_state(&user).ok_or(IdentityError::NotFound)
    }

    /// A user by email (any case; a malformed address is simply not found).
    ///
    /// Errors: [`IdentityError::NotFound`], store failures.
    pub async fn user_by_email(&self, email: &str) -> Result<UserView, IdentityError> {
        let Ok(email) = Email::parse(email) else {
            return Err(IdentityError::NotFound);
        };
        let (_, user) = self
            .find_by_email(&email)
            .await?
            .ok_or(IdentityError::NotFound)?;
        UserView::from_state(&user).ok_or(IdentityError::NotFound)
    }

    /// For the CLI: register `email` as customer + admin, or, when it is registered already and
    /// `password` matches, grant it admin.
    ///
    /// Errors: [`IdentityError::Validation`], [`IdentityError::InvalidCredentials`] (existing
    /// user, wrong password), [`IdentityError::Disabled`], [`IdentityError::EmailTaken`] (a
    /// concurrent registration is half-way), store and hashing failures.
    pub async fn create_admin(
        &self,
        email: &str,
        password: &str,
    ) -> Result<UserView, IdentityError> {
        let email = parse_email(email)?;
        check_password(password)?;
        let roles = BTreeSet::from([Role::Customer, Role::Admin]);
        match self
            .register_with_roles(email.clone(), password, None, roles)
            .await
        {
            Err(IdentityError::EmailTaken) => {}
            other => return other,
        }
        let (user_id, user) = self
            .find_by_email(&email)
            .await?
            .ok_or(IdentityError::EmailTaken)?;
        let matches = user
            .password_hash()
            .is_some_and(|phc| self.hasher.verify(password, phc));
        if !matches {
            return Err(IdentityError::InvalidCredentials);
        }
        self.grant_role(None, user_id, Role::Admin).await
    }

    // --- internals -----------------------------------------------------------------------------

    /// Now, truncated to microseconds (the catalog's precision for stored times).
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    fn metadata_for(&self, actor: Option<UserId>) -> EventMetadata {
        let mut metadata = self.metadata.clone();
        if metadata.actor_user_id.is_none() {
            metadata.actor_user_id = actor.map(|id| id.to_string());
        }
        metadata
    }

    /// Claim the address, then write the user (see the module docs for the orphaned-claim case).
    async fn register_with_roles(
        &self,
        email: Email,
        password: &str,
        display_name: Option<String>,
        roles: BTreeSet<Role>,
    ) -> Result<UserView, IdentityError> {
        // Hash before loading the claim: it is the slow step, and a concurrent registration of the
        // same address that commits meanwhile then makes ours lose cleanly on the claim's version.
        let password_hash = self.hasher.hash(password)?;
        let claim_stream = StreamId::parse(email_stream_id(&email))
            .map_err(|e| StoreError::InvalidRequest(e.to_string()))?;
        let (claim, _) = self.runner.load::<EmailClaim>(&claim_stream).await?;
        let now = self.now();
        let mut commit = Vec::with_capacity(2);
        let user_id = match claim.user_id() {
            Some(owner) => {
                if self.load_user(owner).await?.is_registered() {
                    return Err(IdentityError::EmailTaken);
                }
                // Only a version without atomic commits could leave such a claim behind.
                tracing::info!(user_id = %owner, "completing a registration whose user stream was never written");
                owner
            }
            None => {
                let user_id = UserId::from_uuid(Uuid::now_v7());
                let events = claim
                    .decide(&ClaimEmail {
                        email: email.clone(),
                        user_id,
                        now,
                    })
                    .map_err(|EmailClaimError::EmailTaken| IdentityError::EmailTaken)?;
                commit.push(self.new_stream(&claim_stream, &events, Some(user_id))?);
                user_id
            }
        };
        let events = User::default()
            .decide(&UserCommand::RegisterUser {
                user_id,
                email,
                password_hash,
                display_name,
                roles,
                now,
            })
            .map_err(user_rejected)?;
        commit.push(self.new_stream(&user_stream(user_id)?, &events, Some(user_id))?);
        // The claim and the user commit together (docs/decisions/0009-multi-stream-append.md):
        // losing the race for either stream means another registration owns the address.
        match self.store.append_streams(commit).await {
            Ok(_) => {}
            Err(StoreError::VersionConflict { .. }) => return Err(IdentityError::EmailTaken),
            Err(e) => return Err(e.into()),
        }
        UserView::from_state(&User::replay(&events)).ok_or(IdentityError::NotFound)
    }

    /// The first events of a stream, to append with expected version "no stream".
    fn new_stream<E: DomainEvent>(
        &self,
        stream: &StreamId,
        events: &[E],
        actor: Option<UserId>,
    ) -> Result<AppendRequest, IdentityError> {
        let metadata = self.metadata_for(actor);
        let mut new_events = Vec::with_capacity(events.len());
        for event in events {
            let (event_type, data) = event.to_stored()?;
            new_events.push(NewEvent {
                event_id: Uuid::now_v7(),
                schema_version: E::schema_version(&event_type),
                event_type,
                data,
                metadata: metadata.clone(),
            });
        }
        Ok(AppendRequest::new(
            stream.clone(),
            ExpectedVersion::NoStream,
            new_events,
        ))
    }

    async fn load_user(&self, user_id: UserId) -> Result<User, IdentityError> {
        let (user, _) = self.runner.load::<User>(&user_stream(user_id)?).await?;
        Ok(user)
    }

    /// The registered user holding `email`, if any (an orphaned claim counts as none).
    async fn find_by_email(&self, email: &Email) -> Result<Option<(UserId, User)>, IdentityError> {
        let stream = StreamId::parse(email_stream_id(email))
            .map_err(|e| StoreError::InvalidRequest(e.to_string()))?;
        let (claim, _) = self.runner.load::<EmailClaim>(&stream).await?;
        let Some(user_id) = claim.user_id() else {
            return Ok(None);
        };
        let user = self.load_user(user_id).await?;
        // An address the user changed away from still points here but no longer signs in.
        Ok((user.is_registered() && user.email() == Some(email)).then_some((user_id, user)))
    }

    async fn run_user_command(
        &self,
        user_id: UserId,
        command: &UserCommand,
        actor: Option<UserId>,
    ) -> Result<UserView, IdentityError> {
        let decided = self
            .runner
            .run::<User>(&user_stream(user_id)?, command, &self.metadata_for(actor))
            .await
            .map_err(|e| e.map_rejected(user_rejected))?;
        UserView::from_state(&decided.state).ok_or(IdentityError::NotFound)
    }

    /// `{familyId}.{random}` and its digest.
    fn new_refresh_token(&self, family_id: Uuid) -> Result<(String, String), IdentityError> {
        let token = format!("{family_id}.{}", self.secrets.new_refresh_token()?);
        let hash = self.secrets.digest(&token);
        Ok((token, hash))
    }

    fn token_pair(
        &self,
        user: &User,
        family_id: Uuid,
        refresh_token: String,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, IdentityError> {
        let view = UserView::from_state(user).ok_or(IdentityError::NotFound)?;
        let access = self
            .tokens
            .issue(view.user_id, &view.roles, Some(family_id), now)?;
        Ok(TokenPair {
            access_token: access.token,
            refresh_token,
            expires_in: access.expires_in_secs,
            token_type: TOKEN_TYPE,
            user: view,
        })
    }

    /// Spend about as long as a real password check would.
    fn burn_verification(&self, password: &str) {
        let dummy = self
            .dummy_hash
            .get_or_init(|| self.hasher.hash("tessera-timing-equaliser").ok());
        if let Some(phc) = dummy {
            let _ = self.hasher.verify(password, phc);
        }
    }
}

fn parse_email(raw: &str) -> Result<Email, IdentityError> {
    Email::parse(raw).map_err(|e| IdentityError::validation("email", e.to_string()))
}

fn check_password(password: &str) -> Result<(), IdentityError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        Err(IdentityError::validation(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ))
    } else if n > MAX_PASSWORD_CHARS {
        Err(IdentityError::validation(
            "password",
            format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        ))
    } else {
        Ok(())
    }
}

fn check_display_name(name: Option<&str>) -> Result<Option<String>, IdentityError> {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_DISPLAY_NAME_CHARS {
        return Err(IdentityError::validation(
            "displayName",
            format!("must be at most {MAX_DISPLAY_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(IdentityError::validation(
            "displayName",
            "must not contain control characters",
        ));
    }
    Ok(Some(name.to_owned()))
}

/// The family id of a `{familyId}.{random}` token.
fn parse_refresh_token(token: &str) -> Result<Uuid, IdentityError> {
    if token.len() > MAX_REFRESH_TOKEN_LEN {
        return Err(IdentityError::InvalidRefreshToken);
    }
    let (family, random) = token
        .split_once('.')
        .ok_or(IdentityError::InvalidRefreshToken)?;
    if random.is_empty() {
        return Err(IdentityError::InvalidRefreshToken);
    }
    Uuid::try_parse(family).map_err(|_| IdentityError::InvalidRefreshToken)
}

pub(super) fn user_stream(user_id: UserId) -> Result<StreamId, IdentityError> {
    Ok(CommandRunner::stream::<User>(user_id)?)
}

pub(super) fn family_stream(family_id: Uuid) -> Result<StreamId, IdentityError> {
    Ok(CommandRunner::stream::<RefreshFamily>(family_id)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn refresh_tokens_parse_by_family_prefix() {
        let family = Uuid::now_v7();
        assert_eq!(
            parse_refresh_token(&format!("{family}.abc")).unwrap(),
            family
        );
        for bad in [
            "".to_owned(),
            "nodot".to_owned(),
            format!("{family}."),
            "not-a-uuid.abc".to_owned(),
            format!("{family}.{}", "a".repeat(300)),
        ] {
            assert!(
                matches!(
                    parse_refresh_token(&bad),
                    Err(IdentityError::InvalidRefreshToken)
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn passwords_and_display_names_are_checked() {
        assert!(check_password("1234567").is_err());
        assert!(check_password("12345678").is_ok());
        assert!(check_password(&"é".repeat(128)).is_ok());
        assert!(matches!(
            check_password(&"x".repeat(129)),
            Err(IdentityError::Validation {
                field: "password",
                ..
            })
        ));
        assert_eq!(check_display_name(Some("  ")).unwrap(), None);
        assert_eq!(check_display_name(None).unwrap(), None);
        assert_eq!(
            check_display_name(Some(" Ann ")).unwrap(),
            Some("Ann".to_owned())
        );
        assert!(check_display_name(Some(&"x".repeat(101))).is_err());
        assert!(check_display_name(Some("a\u{0}b")).is_err());
        assert!(matches!(
            parse_email("nope"),
            Err(IdentityError::Validation { field: "email", .. })
        ));
    }
}
