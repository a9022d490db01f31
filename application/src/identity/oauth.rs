//! Sign-in with an OpenID Connect provider (Google, Apple): seed 003 §2.2
//! `POST /auth/oauth/{provider} {code, redirectUri}`, answered like `POST /auth/login`
//! (docs/decisions/0031-oauth-sign-in.md, docs/openticket.md "OAuth sign-in").
//!
//! The [`OidcProvider`] port exchanges the authorization code at the provider and verifies the ID
//! token it returns (signature against the provider's published keys, issuer, audience, expiry,
//! nonce); adapters live in the infrastructure crate. This module decides who signs in:
//!
//! 1. the user the provider account is linked to ([`OAuthIdentity`], `oauthIdentity-{uuid v5}`);
//! 2. else, when the provider says it verified the email (`email_verified`), the user holding that
//!    address, and the account is linked to them;
//! 3. else a new user, with the address only when it is verified (an unverified address is never
//!    attached to any account, so it can neither take over nor block one).
//!
//! Each case is one atomic commit (docs/decisions/0009-multi-stream-append.md) of the link, the
//! new user and its email claim where needed, and the new sign-in session (a refresh family), so a
//! failure leaves nothing behind. When another request changed one of those streams in between
//! (two first sign-ins of one account at once), the whole decision is taken again.

use crate::clock::Clock;
use crate::command::{AtomicCommand, CommandError, CommandRunner, EngineError};
use crate::event_store::{EventMetadata, EventStore, StreamId};
use crate::identity::{
    AccessTokens, IdentityError, IdentityService, TOKEN_TYPE, TokenPair, UserView,
};
use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tessera_domain::identity::oauth::{
    LinkOAuthIdentity, LinkedVia, OAuthIdentity, OAuthIdentityError, OAuthProvider,
    oauth_identity_stream_id,
};
use tessera_domain::identity::{
    ClaimEmail, Email, EmailClaim, EmailClaimError, Role, User, UserCommand, email_stream_id,
};
use tessera_domain::{Decider, UserId};
use uuid::Uuid;

/// Longest authorization code accepted, in bytes (Google's are about 75 characters, Apple's about
/// 90; the limit only caps what one request can carry).
pub const MAX_CODE_LEN: usize = 2_048;
/// Longest `redirectUri` accepted, in bytes.
pub const MAX_REDIRECT_URI_LEN: usize = 2_048;
/// Longest `nonce` accepted, in bytes.
pub const MAX_NONCE_LEN: usize = 512;
/// Longest display name taken from a provider, in characters (as for registration).
const MAX_NAME_CHARS: usize = 100;
/// How often the decision is taken again when a concurrent sign-in changed its streams.
const ATTEMPTS: u32 = 3;

// ---------------------------------------------------------------------------------------------
// Port
// ---------------------------------------------------------------------------------------------

/// One sign-in to check at a provider.
#[derive(Debug, Clone, Copy)]
pub struct OidcRequest<'a> {
    /// The authorization code the client received at its redirect URI.
    pub code: &'a str,
    /// The redirect URI the code was issued for (the provider checks it matches).
    pub redirect_uri: &'a str,
    /// The nonce the client put in its authorization request; when given, the ID token's `nonce`
    /// must equal it.
    pub nonce: Option<&'a str>,
    /// Current time (UTC), for the ID token's `exp` and `iat`.
    pub now: DateTime<Utc>,
}

/// What a verified ID token says about the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIdentity {
    /// `sub`: the provider's stable, never reassigned id of the account.
    pub subject: String,
    /// `email`, as sent (not yet normalised), if any.
    pub email: Option<String>,
    /// `email_verified` (a boolean at Google, the string `"true"` at Apple); false when absent.
    pub email_verified: bool,
    /// `name`, if the provider sent one (Google does; Apple's ID tokens never carry it).
    pub name: Option<String>,
}

/// Which check an ID token failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTokenProblem {
    /// Not a compact JWS with the claims an ID token must have (`sub`, `iss`, `aud`, `exp`, `iat`).
    Malformed,
    /// An algorithm other than RS256 or ES256 (never `none` or HMAC), or one its key does not fit.
    Algorithm,
    /// No key of the provider's published set has the token's `kid`, even after fetching it again.
    UnknownKey,
    /// The signature does not verify with the key.
    Signature,
    /// `iss` is not the provider's issuer.
    Issuer,
    /// `aud` does not name this app's client id (or `azp` names another party).
    Audience,
    /// `exp` has passed (beyond the allowed clock skew).
    Expired,
    /// `iat` lies in the future (beyond the allowed clock skew).
    IssuedInFuture,
    /// The request sent a nonce and the token's `nonce` is missing or different.
    Nonce,
}

impl IdTokenProblem {
    /// A short camelCase name for clients and logs (`issuer`, `audience`, `expired` …).
    pub const fn as_str(self) -> &'static str {
        match self {
            IdTokenProblem::Malformed => "malformed",
            IdTokenProblem::Algorithm => "algorithm",
            IdTokenProblem::UnknownKey => "unknownKey",
            IdTokenProblem::Signature => "signature",
            IdTokenProblem::Issuer => "issuer",
            IdTokenProblem::Audience => "audience",
            IdTokenProblem::Expired => "expired",
            IdTokenProblem::IssuedInFuture => "issuedInFuture",
            IdTokenProblem::Nonce => "nonce",
        }
    }
}

/// Why a provider did not vouch for a sign-in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// The token endpoint answered an OAuth 2 error (RFC 6749 §5.2), e.g. `invalid_grant` for a
    /// used, expired or foreign code, `invalid_client` for bad client credentials.
    #[error("the provider refused the code: {error}")]
    Refused {
        /// The `error` code.
        error: String,
        /// The `error_description`, if any (for logs).
        description: Option<String>,
    },
    /// The ID token failed a check.
    #[error("the ID token failed the {} check", .0.as_str())]
    InvalidIdToken(IdTokenProblem),
    /// The provider could not be reached, failed (5xx), or answered something unreadable.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
}

/// An OpenID Connect provider as sign-in needs it: exchange an authorization code at the token
/// endpoint and verify the returned ID token (OpenID Connect Core 1.0 §3.1.3).
#[async_trait]
pub trait OidcProvider: Send + Sync {
    /// Exchange `request.code` and verify the ID token; the verified identity on success.
    ///
    /// Errors: see [`OidcError`].
    async fn authenticate(&self, request: &OidcRequest<'_>) -> Result<OidcIdentity, OidcError>;
}

// ---------------------------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------------------------

/// Why an OAuth sign-in failed: typed, without wording; the api words it per document.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The provider name is not `google` or `apple`.
    #[error("unknown OAuth provider {0:?}")]
    UnknownProvider(String),
    /// The provider exists but this server has no client settings for it.
    #[error("{0} sign-in is not configured")]
    NotConfigured(OAuthProvider),
    /// A request field is empty, too long or malformed.
    #[error("{field}: {reason}")]
    Validation {
        /// `code`, `redirectUri` or `nonce`.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The provider refused the code (see [`OidcError::Refused`]).
    #[error("{provider} refused the code: {error}")]
    ProviderRefused {
        /// Which provider.
        provider: OAuthProvider,
        /// Its OAuth 2 `error` code.
        error: String,
        /// Its `error_description`, if any.
        description: Option<String>,
    },
    /// The ID token failed a check.
    #[error("{provider} ID token failed the {} check", .problem.as_str())]
    InvalidIdToken {
        /// Which provider.
        provider: OAuthProvider,
        /// Which check.
        problem: IdTokenProblem,
    },
    /// The provider could not be reached or failed.
    #[error("{provider} is unavailable: {detail}")]
    ProviderUnavailable {
        /// Which provider.
        provider: OAuthProvider,
        /// What failed (for logs only).
        detail: String,
    },
    /// The account's user is disabled or erased.
    #[error("the user is disabled")]
    Disabled,
    /// The verified email is claimed by a registration that never completed, or kept changing
    /// under concurrent sign-ins; try again.
    #[error("the sign-in kept racing with other changes")]
    Conflict,
    /// Signing the access token or making the refresh token failed.
    #[error("could not issue tokens")]
    Token(#[source] IdentityError),
    /// The engine failed (store, contention, encoding); never the client's fault.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Sign-in through OpenID Connect providers. Cheap to clone.
#[derive(Clone)]
pub struct OAuthSignIn {
    store: Arc<dyn EventStore>,
    clock: Arc<dyn Clock>,
    identity: IdentityService,
    tokens: Arc<dyn AccessTokens>,
    providers: BTreeMap<OAuthProvider, Arc<dyn OidcProvider>>,
}

impl std::fmt::Debug for OAuthSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthSignIn")
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Who the sign-in is for, as read before the commit.
#[derive(Debug, Clone, Copy)]
enum Plan {
    /// The account is linked to this user.
    Linked(UserId),
    /// Link the account to this user, who holds the verified email.
    LinkByEmail(UserId),
    /// Create this user and link the account.
    Create(UserId),
}

/// A decision that saw other streams than the plan was made from: plan again.
#[derive(Debug)]
enum Attempt {
    Raced,
    Failed(OAuthError),
}

impl From<EngineError> for Attempt {
    fn from(e: EngineError) -> Self {
        Attempt::Failed(OAuthError::Engine(e))
    }
}

impl From<OAuthError> for Attempt {
    fn from(e: OAuthError) -> Self {
        Attempt::Failed(e)
    }
}

fn raced<E: std::error::Error>(e: CommandError<E>) -> Attempt {
    match e {
        CommandError::Rejected(_) => Attempt::Raced,
        CommandError::Engine(e) => e.into(),
    }
}

impl OAuthSignIn {
    /// A service over the event store, with the configured providers (an absent provider answers
    /// [`OAuthError::NotConfigured`]). `identity` starts the refresh families; `tokens` signs the
    /// access tokens (the same as `/auth/login`'s).
    pub fn new(
        store: Arc<dyn EventStore>,
        clock: Arc<dyn Clock>,
        identity: IdentityService,
        tokens: Arc<dyn AccessTokens>,
        providers: BTreeMap<OAuthProvider, Arc<dyn OidcProvider>>,
    ) -> Self {
        Self {
            store,
            clock,
            identity,
            tokens,
            providers,
        }
    }

    /// The providers this server offers.
    pub fn configured(&self) -> Vec<OAuthProvider> {
        self.providers.keys().copied().collect()
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    /// `POST /auth/oauth/{provider}`: check the code with the provider, then sign in the linked
    /// user, link by verified email, or create a user (module docs). Returns the same token pair
    /// as `/auth/login` (access token for the user, refresh token of a new session).
    ///
    /// Errors: `UnknownProvider`, `NotConfigured`, `Validation` (`code`, `redirectUri`, `nonce`),
    /// `ProviderRefused`, `InvalidIdToken`, `ProviderUnavailable`, `Disabled`, `Conflict`,
    /// `Token`, `Engine`.
    pub async fn sign_in(
        &self,
        provider: &str,
        code: &str,
        redirect_uri: &str,
        nonce: Option<&str>,
        meta: &EventMetadata,
    ) -> Result<TokenPair, OAuthError> {
        let provider: OAuthProvider = provider
            .parse()
            .map_err(|_| OAuthError::UnknownProvider(provider.to_owned()))?;
        let client = self
            .providers
            .get(&provider)
            .ok_or(OAuthError::NotConfigured(provider))?;
        let code = check_field("code", code, MAX_CODE_LEN)?;
        let redirect_uri = check_redirect_uri(redirect_uri)?;
        let nonce = nonce
            .map(|n| check_field("nonce", n, MAX_NONCE_LEN))
            .transpose()?;
        let verified = client
            .authenticate(&OidcRequest {
                code,
                redirect_uri,
                nonce,
                now: self.clock.now(),
            })
            .await
            .map_err(|e| match e {
                OidcError::Refused { error, description } => OAuthError::ProviderRefused {
                    provider,
                    error,
                    description,
                },
                OidcError::InvalidIdToken(problem) => {
                    OAuthError::InvalidIdToken { provider, problem }
                }
                OidcError::Unavailable(detail) => {
                    OAuthError::ProviderUnavailable { provider, detail }
                }
            })?;
        let email = verified
            .email
            .as_deref()
            .and_then(|e| Email::parse(e).ok())
            .filter(|e| !e.is_erased());
        let verified_email = email.clone().filter(|_| verified.email_verified);
        let identity_stream = stream(oauth_identity_stream_id(provider, &verified.subject))?;
        let profile = Profile {
            provider,
            subject: verified.subject.clone(),
            email,
            email_verified: verified.email_verified,
            verified_email,
            name: display_name(verified.name.as_deref()),
        };
        for _ in 0..ATTEMPTS {
            let plan = self.plan(&identity_stream, &profile).await?;
            match self.commit(plan, &identity_stream, &profile, meta).await {
                Ok(pair) => return Ok(pair),
                Err(Attempt::Raced) => continue,
                Err(Attempt::Failed(e)) => return Err(e),
            }
        }
        Err(OAuthError::Conflict)
    }

    async fn plan(&self, identity_stream: &StreamId, p: &Profile) -> Result<Plan, OAuthError> {
        let runner = CommandRunner::new(self.store.clone());
        let (account, _) = runner.load::<OAuthIdentity>(identity_stream).await?;
        if let Some(user_id) = account.user_id() {
            return Ok(Plan::Linked(user_id));
        }
        if let Some(email) = &p.verified_email {
            match self.identity.user_by_email(email.as_str()).await {
                Ok(user) => return Ok(Plan::LinkByEmail(user.user_id)),
                Err(IdentityError::NotFound) => {}
                Err(IdentityError::Store(e)) => return Err(EngineError::Store(e).into()),
                Err(IdentityError::Decode(e)) => return Err(EngineError::Decode(e).into()),
                Err(IdentityError::Contended { stream, attempts }) => {
                    return Err(EngineError::Contended { stream, attempts }.into());
                }
                Err(e) => return Err(OAuthError::Token(e)),
            }
        }
        Ok(Plan::Create(UserId::from_uuid(Uuid::now_v7())))
    }

    async fn commit(
        &self,
        plan: Plan,
        identity_stream: &StreamId,
        p: &Profile,
        meta: &EventMetadata,
    ) -> Result<TokenPair, Attempt> {
        let (Plan::Linked(user_id) | Plan::LinkByEmail(user_id) | Plan::Create(user_id)) = plan;
        let session = self
            .identity
            .new_session(user_id)
            .map_err(|e| Attempt::Failed(OAuthError::Token(e)))?;
        let now = self.now();
        let mut meta = meta.clone();
        meta.actor_user_id
            .get_or_insert_with(|| user_id.to_string());
        let mut atomic = AtomicCommand::new(self.store.clone(), &meta);
        let account = atomic.stream::<OAuthIdentity>(identity_stream);
        let user = atomic.stream::<User>(&stream(format!("{}-{user_id}", User::CATEGORY))?);
        let family = atomic.stream::<tessera_domain::identity::RefreshFamily>(&session.stream);
        let email_claim = match (&plan, &p.verified_email) {
            (Plan::Create(_), Some(email)) => Some((
                atomic.stream::<EmailClaim>(&stream(email_stream_id(email))?),
                email,
            )),
            _ => None,
        };
        let link = |via| LinkOAuthIdentity {
            provider: p.provider,
            subject: p.subject.clone(),
            user_id,
            email: p.email.clone(),
            email_verified: p.email_verified,
            via,
            now,
        };
        let committed = atomic
            .run(|d| {
                match plan {
                    Plan::Linked(_) => {
                        if d.state(account)?.user_id() != Some(user_id) {
                            return Err(Attempt::Raced);
                        }
                    }
                    Plan::LinkByEmail(_) => {
                        let holder = d.state(user)?;
                        if holder.is_disabled() {
                            return Err(OAuthError::Disabled.into());
                        }
                        if !holder.is_registered() || holder.email() != p.verified_email.as_ref() {
                            return Err(Attempt::Raced);
                        }
                        d.decide(account, &link(LinkedVia::VerifiedEmail)).map_err(
                            |e| match e {
                                CommandError::Rejected(OAuthIdentityError::LinkedToAnother(_)) => {
                                    Attempt::Raced
                                }
                                CommandError::Engine(e) => e.into(),
                            },
                        )?;
                    }
                    Plan::Create(_) => {
                        if let Some((claim, email)) = email_claim {
                            d.decide(
                                claim,
                                &ClaimEmail {
                                    email: email.clone(),
                                    user_id,
                                    now,
                                },
                            )
                            .map_err(|e| match e {
                                CommandError::Rejected(EmailClaimError::EmailTaken) => {
                                    Attempt::Raced
                                }
                                CommandError::Engine(e) => e.into(),
                            })?;
                        }
                        d.decide(
                            user,
                            &UserCommand::RegisterWithOAuth {
                                user_id,
                                provider: p.provider,
                                email: p.verified_email.clone(),
                                display_name: p.name.clone(),
                                roles: BTreeSet::from([Role::Customer]),
                                now,
                            },
                        )
                        .map_err(raced)?;
                        d.decide(account, &link(LinkedVia::NewUser))
                            .map_err(raced)?;
                    }
                }
                let state = d.state(user)?.clone();
                if !state.is_registered() {
                    return Err(Attempt::Raced);
                }
                if state.is_disabled() {
                    return Err(OAuthError::Disabled.into());
                }
                d.decide(family, &session.command).map_err(raced)?;
                Ok(state)
            })
            .await?;
        let view = UserView::from_state(&committed.value).ok_or(Attempt::Raced)?;
        let access = self
            .tokens
            .issue(view.user_id, &view.roles, Some(session.family_id), now)
            .map_err(|e| Attempt::Failed(OAuthError::Token(e)))?;
        Ok(TokenPair {
            access_token: access.token,
            refresh_token: session.token,
            expires_in: access.expires_in_secs,
            token_type: TOKEN_TYPE,
            user: view,
        })
    }
}

/// The verified facts one sign-in works from.
#[derive(Debug, Clone)]
struct Profile {
    provider: OAuthProvider,
    subject: String,
    /// The reported address, verified or not (recorded on the link for auditors).
    email: Option<Email>,
    email_verified: bool,
    /// The address when verified: the only one that links or is attached to a new user.
    verified_email: Option<Email>,
    name: Option<String>,
}

fn stream(id: String) -> Result<StreamId, EngineError> {
    Ok(StreamId::parse(id)?)
}

/// A trimmed, non-empty field of at most `max` bytes without control characters.
fn check_field<'a>(field: &'static str, raw: &'a str, max: usize) -> Result<&'a str, OAuthError> {
    let v = raw.trim();
    let reason = if v.is_empty() {
        "must not be empty".to_owned()
    } else if v.len() > max {
        format!("must be at most {max} bytes")
    } else if v.chars().any(char::is_control) {
        "must not contain control characters".to_owned()
    } else {
        return Ok(v);
    };
    Err(OAuthError::Validation { field, reason })
}

/// An absolute URI (`https://…`, or an app's own scheme such as `com.example.app:/callback`).
fn check_redirect_uri(raw: &str) -> Result<&str, OAuthError> {
    let v = check_field("redirectUri", raw, MAX_REDIRECT_URI_LEN)?;
    let scheme_ok = v.split_once(':').is_some_and(|(scheme, rest)| {
        !rest.is_empty()
            && scheme
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    if !scheme_ok || v.chars().any(char::is_whitespace) {
        return Err(OAuthError::Validation {
            field: "redirectUri",
            reason: "must be an absolute URI such as https://app.example.com/callback".into(),
        });
    }
    Ok(v)
}

/// The provider's `name`, when usable as a display name (otherwise none: it is not the client's
/// input, so it is dropped rather than refused).
fn display_name(name: Option<&str>) -> Option<String> {
    let name = name?.trim();
    let usable = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && !name.chars().any(char::is_control);
    usable.then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn request_fields_are_checked() {
        assert_eq!(check_field("code", " abc ", 10).unwrap(), "abc");
        for bad in ["", "   ", "a\u{0}b", &"x".repeat(11)] {
            assert!(matches!(
                check_field("code", bad, 10),
                Err(OAuthError::Validation { field: "code", .. })
            ));
        }
        for good in [
            "https://app.openticket.io/callback",
            "com.example.app:/oauth2redirect",
            "http://127.0.0.1:5000/cb",
        ] {
            assert_eq!(check_redirect_uri(good).unwrap(), good);
        }
        for bad in [
            "callback",
            "/callback",
            "https:",
            "1http://x",
            "https://a b",
            "",
        ] {
            assert!(
                matches!(
                    check_redirect_uri(bad),
                    Err(OAuthError::Validation {
                        field: "redirectUri",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn provider_names_become_display_names_only_when_usable() {
        assert_eq!(display_name(Some(" Ann Lee ")), Some("Ann Lee".into()));
        assert_eq!(display_name(Some("")), None);
        assert_eq!(display_name(Some("a\nb")), None);
        assert_eq!(display_name(Some(&"x".repeat(101))), None);
        assert_eq!(display_name(None), None);
    }
}
