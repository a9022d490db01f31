//! Accounts at OpenID Connect providers (Google, Apple) linked to users, for OpenTicket's
//! `POST /v1/auth/oauth/{provider}` (seed 003 §2.2; docs/decisions/0031-oauth-sign-in.md).
//!
//! One stream per provider account: `oauthIdentity-{uuid v5 of "{provider}:{subject}"}`
//! ([`oauth_identity_stream_id`]). It holds one [`OAuthIdentityEvent::OAuthIdentityLinked`] naming
//! the user the account signs in; the service appends it with the version it read, so of two
//! concurrent first sign-ins of one account exactly one links and the other signs in as that user.
//! A link is never moved to another user.

use super::Email;
use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The OpenID Connect providers users may sign in with. Serialised lower-case (`"google"`,
/// `"apple"`), as in the route `POST /v1/auth/oauth/{provider}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OAuthProvider {
    /// Google (Sign in with Google, OpenID Connect).
    Google,
    /// Apple (Sign in with Apple).
    Apple,
}

impl OAuthProvider {
    /// Every provider, in order.
    pub const ALL: [OAuthProvider; 2] = [OAuthProvider::Google, OAuthProvider::Apple];

    /// The lower-case name, as stored and as in the route.
    pub const fn as_str(self) -> &'static str {
        match self {
            OAuthProvider::Google => "google",
            OAuthProvider::Apple => "apple",
        }
    }
}

impl fmt::Display for OAuthProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provider name that is not one of [`OAuthProvider`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown OAuth provider {0:?} (expected google or apple)")]
pub struct UnknownProvider(pub String);

impl FromStr for OAuthProvider {
    type Err = UnknownProvider;
    /// Parse a provider name exactly as routed: lower-case, no surrounding whitespace.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OAuthProvider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

/// How a provider account came to be linked to its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LinkedVia {
    /// The first sign-in created the user.
    NewUser,
    /// The provider vouched for an email address (`email_verified`) that an existing user holds.
    VerifiedEmail,
}

/// The stream of a provider account:
/// `oauthIdentity-{v5(URL namespace, "tessera:oauth:{provider}:{subject}")}`.
pub fn oauth_identity_stream_id(provider: OAuthProvider, subject: &str) -> String {
    let name = format!("tessera:oauth:{provider}:{subject}");
    format!(
        "{}-{}",
        OAuthIdentity::CATEGORY,
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes())
    )
}

/// A provider account: not linked yet, or linked to one user for good.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OAuthIdentity {
    user_id: Option<UserId>,
}

impl OAuthIdentity {
    /// The user this account signs in, once linked.
    pub fn user_id(&self) -> Option<UserId> {
        self.user_id
    }
}

/// Link a provider account to a user; linking it again to the same user changes nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkOAuthIdentity {
    /// Which provider.
    pub provider: OAuthProvider,
    /// The provider's stable id of the account (the ID token's `sub`).
    pub subject: String,
    /// The user it will sign in.
    pub user_id: UserId,
    /// The email the provider reported (lower-cased), verified or not; `None` when it sent none.
    pub email: Option<Email>,
    /// Whether the provider said it verified `email`.
    pub email_verified: bool,
    /// Why this user.
    pub via: LinkedVia,
    /// Current time (UTC).
    pub now: DateTime<Utc>,
}

/// Events of [`OAuthIdentity`] (docs/event-catalog.md, "Identity").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum OAuthIdentityEvent {
    /// The provider account signs in `user_id` from now on.
    OAuthIdentityLinked {
        /// `google` or `apple`.
        provider: OAuthProvider,
        /// The ID token's `sub` (personal: it identifies the person at the provider).
        subject: String,
        /// The user it signs in.
        user_id: UserId,
        /// The email the provider reported at linking, or null.
        email: Option<Email>,
        /// Whether the provider said it verified that email.
        email_verified: bool,
        /// `newUser` or `verifiedEmail`.
        via: LinkedVia,
        /// When (UTC).
        linked_at: DateTime<Utc>,
    },
}

impl DomainEvent for OAuthIdentityEvent {}

/// Why a [`LinkOAuthIdentity`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthIdentityError {
    /// The account is linked to another user already.
    #[error("the provider account is linked to user {0}")]
    LinkedToAnother(UserId),
}

impl Decider for OAuthIdentity {
    const CATEGORY: &'static str = "oauthIdentity";
    type Command = LinkOAuthIdentity;
    type Event = OAuthIdentityEvent;
    type Error = OAuthIdentityError;

    fn decide(&self, c: &LinkOAuthIdentity) -> Result<Vec<OAuthIdentityEvent>, Self::Error> {
        match self.user_id {
            Some(linked) if linked == c.user_id => Ok(Vec::new()),
            Some(linked) => Err(OAuthIdentityError::LinkedToAnother(linked)),
            None => Ok(vec![OAuthIdentityEvent::OAuthIdentityLinked {
                provider: c.provider,
                subject: c.subject.clone(),
                user_id: c.user_id,
                email: c.email.clone(),
                email_verified: c.email_verified,
                via: c.via,
                linked_at: c.now,
            }]),
        }
    }

    fn evolve(mut self, event: &OAuthIdentityEvent) -> Self {
        let OAuthIdentityEvent::OAuthIdentityLinked { user_id, .. } = event;
        self.user_id = Some(*user_id);
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::testing::given;

    fn t() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }
    fn user(n: u128) -> UserId {
        UserId::from_uuid(uuid::Uuid::from_u128(n))
    }
    fn link(n: u128) -> LinkOAuthIdentity {
        LinkOAuthIdentity {
            provider: OAuthProvider::Google,
            subject: "10769150350006150715113082367".into(),
            user_id: user(n),
            email: Some(Email::parse("ann@example.com").unwrap()),
            email_verified: true,
            via: LinkedVia::NewUser,
            now: t(),
        }
    }
    fn linked(n: u128) -> OAuthIdentityEvent {
        OAuthIdentityEvent::OAuthIdentityLinked {
            provider: OAuthProvider::Google,
            subject: "10769150350006150715113082367".into(),
            user_id: user(n),
            email: Some(Email::parse("ann@example.com").unwrap()),
            email_verified: true,
            via: LinkedVia::NewUser,
            linked_at: t(),
        }
    }

    #[test]
    fn an_account_links_once_and_never_moves() {
        given::<OAuthIdentity>([]).when(link(1)).then([linked(1)]);
        given::<OAuthIdentity>([linked(1)]).when(link(1)).then([]);
        given::<OAuthIdentity>([linked(1)])
            .when(link(2))
            .then_err(OAuthIdentityError::LinkedToAnother(user(1)));
        assert_eq!(OAuthIdentity::replay(&[linked(1)]).user_id(), Some(user(1)));
    }

    #[test]
    fn providers_parse_by_their_route_names() {
        assert_eq!("google".parse(), Ok(OAuthProvider::Google));
        assert_eq!("apple".parse(), Ok(OAuthProvider::Apple));
        assert!("Google".parse::<OAuthProvider>().is_err());
        assert!("github".parse::<OAuthProvider>().is_err());
    }

    #[test]
    fn streams_differ_by_provider_and_subject() {
        let a = oauth_identity_stream_id(OAuthProvider::Google, "1");
        assert!(a.starts_with("oauthIdentity-"));
        assert_ne!(a, oauth_identity_stream_id(OAuthProvider::Apple, "1"));
        assert_ne!(a, oauth_identity_stream_id(OAuthProvider::Google, "2"));
    }
}
