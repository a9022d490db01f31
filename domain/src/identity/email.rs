//! [`Email`] and its guard stream [`EmailClaim`] (`userEmail-{uuid v5}`, DESIGN.md §5): it holds one
//! [`EmailClaimEvent::EmailClaimed`], appended with expected version "no stream", so of two concurrent
//! claims the second loses on the version.

use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// Value types
// ---------------------------------------------------------------------------------------------

/// An email address, trimmed and lower-cased.
///
/// Built only through [`Email::parse`] (also used when deserialising): at most
/// [`Email::MAX_LEN`] characters, no spaces or control characters, exactly one `@`, a non-empty
/// local part, and a domain that contains a dot and neither starts nor ends with one nor holds two
/// in a row. Deliberately no fuller RFC 5321 check: the only real proof of an address is mail that
/// arrives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// Why a string is not an [`Email`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Nothing but whitespace.
    #[error("email is empty")]
    Empty,
    /// Longer than [`Email::MAX_LEN`] characters.
    #[error("email is longer than {max} characters")]
    TooLong {
        /// The limit, in characters.
        max: usize,
    },
    /// Not shaped like `local@domain.tld`; the text says which rule failed.
    #[error("email is malformed: {0}")]
    Malformed(&'static str),
}

impl Email {
    /// Longest accepted address, in characters (RFC 5321's path limit minus the angle brackets).
    pub const MAX_LEN: usize = 254;

    /// Trim, lower-case and check an address.
    ///
    /// Errors: [`EmailError::Empty`], [`EmailError::TooLong`], [`EmailError::Malformed`].
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err(EmailError::Empty);
        }
        if email.chars().count() > Self::MAX_LEN {
            return Err(EmailError::TooLong { max: Self::MAX_LEN });
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError::Malformed(
                "contains spaces or control characters",
            ));
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(EmailError::Malformed("has no `@`"));
        };
        if domain.contains('@') {
            return Err(EmailError::Malformed("has more than one `@`"));
        }
        if local.is_empty() {
            return Err(EmailError::Malformed("has nothing before the `@`"));
        }
        if domain.is_empty() {
            return Err(EmailError::Malformed("has nothing after the `@`"));
        }
        if !domain.contains('.') {
            return Err(EmailError::Malformed("the domain has no dot"));
        }
        if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
            return Err(EmailError::Malformed("the domain has an empty label"));
        }
        Ok(Self(email))
    }

    /// Whether this is the erased marker rather than an address (its subject was erased).
    pub fn is_erased(&self) -> bool {
        self.0 == crate::shared::classification::ERASED
    }

    /// The address trimmed and lower-cased, as stored (`userEmail` stream names use it).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The stored form: an address, or the erased marker
/// ([`crate::shared::classification::ERASED`]) that the crypto-shredding store reads in place of
/// an erased subject's address, so erased history still replays. [`Email::parse`] (every input
/// path) never accepts the marker.
impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value == crate::shared::classification::ERASED {
            return Ok(Self(value));
        }
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

impl FromStr for Email {
    type Err = EmailError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The id of an email's guard stream: UUID v5 in the URL namespace of `mailto:{email}`
/// (docs/event-catalog.md). The same address always gives the same id, on every node.
pub fn email_claim_id(email: &Email) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("mailto:{}", email.as_str()).as_bytes(),
    )
}

/// The full name of an email's guard stream: `userEmail-{`[`email_claim_id`]`}`.
pub fn email_stream_id(email: &Email) -> String {
    format!("{}-{}", EmailClaim::CATEGORY, email_claim_id(email))
}

// ---------------------------------------------------------------------------------------------
// EmailClaim
// ---------------------------------------------------------------------------------------------

/// The guard stream of one email address (`userEmail-{uuid v5}`, DESIGN.md §5).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmailClaim {
    claim: Option<(Email, UserId, DateTime<Utc>)>,
}

impl EmailClaim {
    /// The user the address is claimed for, if claimed.
    pub fn user_id(&self) -> Option<UserId> {
        self.claim.as_ref().map(|(_, id, _)| *id)
    }

    /// The claimed address, if claimed.
    pub fn email(&self) -> Option<&Email> {
        self.claim.as_ref().map(|(e, _, _)| e)
    }

    /// When it was claimed (UTC), if claimed.
    pub fn claimed_at(&self) -> Option<DateTime<Utc>> {
        self.claim.as_ref().map(|(_, _, at)| *at)
    }
}

/// Claim an address for a user.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimEmail {
    /// The address (its guard stream is [`email_stream_id`]).
    pub email: Email,
    /// The user who will own it.
    pub user_id: UserId,
    /// Current time (UTC).
    pub now: DateTime<Utc>,
}

/// Events of [`EmailClaim`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum EmailClaimEvent {
    /// The address now belongs to `user_id`.
    EmailClaimed {
        /// Lower-cased address.
        email: Email,
        /// The user it belongs to; the stream holds no other claim.
        user_id: UserId,
        /// When (UTC).
        claimed_at: DateTime<Utc>,
    },
}

impl DomainEvent for EmailClaimEvent {}

/// Why a [`ClaimEmail`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailClaimError {
    /// Another user holds the address.
    #[error("the email address is already taken")]
    EmailTaken,
}

impl Decider for EmailClaim {
    const CATEGORY: &'static str = "userEmail";
    type Command = ClaimEmail;
    type Event = EmailClaimEvent;
    type Error = EmailClaimError;

    fn decide(&self, command: &ClaimEmail) -> Result<Vec<EmailClaimEvent>, EmailClaimError> {
        match self.user_id() {
            Some(owner) if owner == command.user_id => Ok(Vec::new()),
            Some(_) => Err(EmailClaimError::EmailTaken),
            None => Ok(vec![EmailClaimEvent::EmailClaimed {
                email: command.email.clone(),
                user_id: command.user_id,
                claimed_at: command.now,
            }]),
        }
    }

    fn evolve(mut self, event: &EmailClaimEvent) -> Self {
        match event {
            EmailClaimEvent::EmailClaimed {
                email,
                user_id,
                claimed_at,
            } => {
                // A guard stream holds one claim; should a second ever be stored, the first stands.
                if self.claim.is_none() {
                    self.claim = Some((email.clone(), *user_id, *claimed_at));
                }
            }
        }
        self
    }
}
