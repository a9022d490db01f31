//! [`RefreshFamily`] (`refreshFamily-{familyId}`): one sign-in's chain of refresh tokens. Each
//! refresh rotates the token; presenting a token that was already rotated away is taken as theft
//! and revokes the whole family.

use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// RefreshFamily
// ---------------------------------------------------------------------------------------------

/// Why a refresh family was revoked. Stored lower-case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevokeReason {
    /// The user signed out.
    Logout,
    /// A token that had already been rotated was presented again (likely stolen).
    Reuse,
}

/// One sign-in's chain of refresh tokens (stream `refreshFamily-{familyId}`).
///
/// Only SHA-256 hex digests of tokens are held. The current digest may be exchanged once for a new
/// token until `expires_at`; each exchange moves the old digest to the spent set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefreshFamily {
    owner: Option<(Uuid, UserId)>,
    current_hash: String,
    spent_hashes: HashSet<String>,
    expires_at: Option<DateTime<Utc>>,
    revoked: Option<RevokeReason>,
}

impl RefreshFamily {
    /// Whether the family was started.
    pub fn is_started(&self) -> bool {
        self.owner.is_some()
    }

    /// The family id, once started.
    pub fn family_id(&self) -> Option<Uuid> {
        self.owner.map(|(f, _)| f)
    }

    /// The signed-in user, once started.
    pub fn user_id(&self) -> Option<UserId> {
        self.owner.map(|(_, u)| u)
    }

    /// When the current token stops being accepted (UTC), once started.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.expires_at
    }

    /// Why the family was revoked, if it was.
    pub fn revoked(&self) -> Option<RevokeReason> {
        self.revoked
    }

    /// Whether `hash` is the current token's digest (not one rotated away).
    pub fn is_current(&self, hash: &str) -> bool {
        self.is_started() && self.current_hash == hash
    }

    /// Whether `hash` is the current token's digest or one rotated away earlier.
    pub fn knows_hash(&self, hash: &str) -> bool {
        self.is_started() && (self.current_hash == hash || self.spent_hashes.contains(hash))
    }
}

/// Commands for [`RefreshFamily`].
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshFamilyCommand {
    /// Start a family with its first token.
    Start {
        /// The family's id (also the prefix of its tokens).
        family_id: Uuid,
        /// Who signed in.
        user_id: UserId,
        /// SHA-256 hex digest of the first token.
        token_hash: String,
        /// Current time (UTC).
        now: DateTime<Utc>,
        /// When the first token stops being accepted (UTC).
        expires_at: DateTime<Utc>,
    },
    /// Exchange the presented token for a new one.
    Rotate {
        /// SHA-256 hex digest of the token presented.
        presented_hash: String,
        /// SHA-256 hex digest of its replacement.
        new_hash: String,
        /// Current time (UTC).
        now: DateTime<Utc>,
        /// When the replacement stops being accepted (UTC).
        expires_at: DateTime<Utc>,
    },
    /// End the family; revoking a revoked family changes nothing.
    Revoke {
        /// [`RevokeReason::Logout`] on sign-out; [`RevokeReason::Reuse`] if a spent token returns.
        reason: RevokeReason,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`RefreshFamily`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum RefreshFamilyEvent {
    /// A sign-in issued its first refresh token.
    RefreshFamilyStarted {
        /// Also in the stream id, and the prefix of each of its tokens (`{familyId}.{random}`).
        family_id: Uuid,
        /// Who signed in.
        user_id: UserId,
        /// SHA-256 hex digest of the token.
        token_hash: String,
        /// When (UTC).
        started_at: DateTime<Utc>,
        /// When the token stops being accepted (UTC).
        expires_at: DateTime<Utc>,
    },
    /// The current token was exchanged for a new one.
    RefreshTokenRotated {
        /// Digest of the token given up.
        previous_hash: String,
        /// Digest of the new token.
        token_hash: String,
        /// When (UTC).
        rotated_at: DateTime<Utc>,
        /// When the new token stops being accepted (UTC).
        expires_at: DateTime<Utc>,
    },
    /// No token of the family is accepted any more.
    RefreshFamilyRevoked {
        /// `logout` or `reuse`.
        reason: RevokeReason,
        /// When (UTC).
        revoked_at: DateTime<Utc>,
    },
}

impl DomainEvent for RefreshFamilyEvent {}

/// Why a [`RefreshFamilyCommand`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshFamilyError {
    /// `Start` on a family that exists.
    #[error("the refresh family was already started")]
    AlreadyStarted,
    /// No such family.
    #[error("unknown refresh family")]
    NotStarted,
    /// The family was revoked.
    #[error("the refresh family was revoked")]
    Revoked,
    /// The current token's lifetime has passed.
    #[error("the refresh token expired")]
    Expired,
    /// The presented digest was never issued in this family.
    #[error("unknown refresh token")]
    UnknownToken,
}

impl Decider for RefreshFamily {
    const CATEGORY: &'static str = "refreshFamily";
    type Command = RefreshFamilyCommand;
    type Event = RefreshFamilyEvent;
    type Error = RefreshFamilyError;

    fn decide(
        &self,
        command: &RefreshFamilyCommand,
    ) -> Result<Vec<RefreshFamilyEvent>, RefreshFamilyError> {
        match command {
            RefreshFamilyCommand::Start {
                family_id,
                user_id,
                token_hash,
                now,
                expires_at,
            } => {
                if self.is_started() {
                    return Err(RefreshFamilyError::AlreadyStarted);
                }
                Ok(vec![RefreshFamilyEvent::RefreshFamilyStarted {
                    family_id: *family_id,
                    user_id: *user_id,
                    token_hash: token_hash.clone(),
                    started_at: *now,
                    expires_at: *expires_at,
                }])
            }
            RefreshFamilyCommand::Rotate {
                presented_hash,
                new_hash,
                now,
                expires_at,
            } => {
                if !self.is_started() {
                    return Err(RefreshFamilyError::NotStarted);
                }
                if self.revoked.is_some() {
                    return Err(RefreshFamilyError::Revoked);
                }
                if self.spent_hashes.contains(presented_hash) {
                    // A spent token came back: whoever holds the chain now, it may be a thief.
                    // Revoke everything; the caller reports the reuse after storing this.
                    return Ok(vec![RefreshFamilyEvent::RefreshFamilyRevoked {
                        reason: RevokeReason::Reuse,
                        revoked_at: *now,
                    }]);
                }
                if *presented_hash != self.current_hash {
                    return Err(RefreshFamilyError::UnknownToken);
                }
                if self.expires_at.is_none_or(|at| *now >= at) {
                    return Err(RefreshFamilyError::Expired);
                }
                Ok(vec![RefreshFamilyEvent::RefreshTokenRotated {
                    previous_hash: presented_hash.clone(),
                    token_hash: new_hash.clone(),
                    rotated_at: *now,
                    expires_at: *expires_at,
                }])
            }
            RefreshFamilyCommand::Revoke { reason, now } => {
                if !self.is_started() {
                    return Err(RefreshFamilyError::NotStarted);
                }
                if self.revoked.is_some() {
                    return Ok(Vec::new());
                }
                Ok(vec![RefreshFamilyEvent::RefreshFamilyRevoked {
                    reason: *reason,
                    revoked_at: *now,
                }])
            }
        }
    }

    fn evolve(mut self, event: &RefreshFamilyEvent) -> Self {
        match event {
            RefreshFamilyEvent::RefreshFamilyStarted {
                family_id,
                user_id,
                token_hash,
                expires_at,
                ..
            } => {
                self.owner = Some((*family_id, *user_id));
                self.current_hash = token_hash.clone();
                self.expires_at = Some(*expires_at);
            }
            RefreshFamilyEvent::RefreshTokenRotated {
                previous_hash,
                token_hash,
                expires_at,
                ..
            } => {
                self.spent_hashes.insert(previous_hash.clone());
                self.current_hash = token_hash.clone();
                self.expires_at = Some(*expires_at);
            }
            RefreshFamilyEvent::RefreshFamilyRevoked { reason, .. } => {
                if self.revoked.is_none() {
                    self.revoked = Some(*reason);
                }
            }
        }
        self
    }
}
