//! Guard streams for values that must be unique across many aggregates (DESIGN.md §5): a phone
//! number or WeChat id held by one user, one attendee seat per person per meeting.
//!
//! Each guarded value has a stream `claim-{uuid v5 of "{kind}:{value}"}` (see [`claim_stream_id`]).
//! Claiming appends to it with the version that was read, so of two concurrent claims exactly one
//! lands; the other re-decides against the new state and is refused. A claim names its owner (a
//! user id, a ticket id …) so a failed multi-step operation can release what it claimed.

use crate::{Decider, DomainEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The kinds of guarded values, stored as their `as_str` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClaimKind {
    /// A mainland phone number (11 digits), unique across users.
    #[serde(rename = "phone")]
    Phone,
    /// A WeChat openid, unique across users.
    #[serde(rename = "wechatId")]
    WechatId,
    /// `{meetingId}:{attendee phone}`: one attendee seat per person per meeting (seed 000 §8.2).
    #[serde(rename = "meetingAttendee")]
    MeetingAttendee,
}

impl ClaimKind {
    /// The stored name (`phone`, `wechatId`, `meetingAttendee`).
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimKind::Phone => "phone",
            ClaimKind::WechatId => "wechatId",
            ClaimKind::MeetingAttendee => "meetingAttendee",
        }
    }
}

/// The stream of the claim on `value` of `kind`: `claim-{v5(URL namespace, "tessera:{kind}:{value}")}`.
pub fn claim_stream_id(kind: ClaimKind, value: &str) -> String {
    let name = format!("tessera:{}:{value}", kind.as_str());
    format!(
        "{}-{}",
        IdentifierClaim::CATEGORY,
        Uuid::new_v5(&Uuid::NAMESPACE_URL, name.as_bytes())
    )
}

/// One guarded value: free, or held by an owner since a time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdentifierClaim {
    holder: Option<(Uuid, DateTime<Utc>)>,
}

impl IdentifierClaim {
    /// The current owner, if held.
    pub fn owner(&self) -> Option<Uuid> {
        self.holder.map(|(o, _)| o)
    }

    /// When the current owner claimed it (UTC), if held.
    pub fn claimed_at(&self) -> Option<DateTime<Utc>> {
        self.holder.map(|(_, at)| at)
    }
}

/// Commands for [`IdentifierClaim`].
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimCommand {
    /// Take the value for `owner`; taking it again for the same owner changes nothing.
    Claim {
        /// Which kind of value.
        kind: ClaimKind,
        /// The value as stored (normalised by the caller).
        value: String,
        /// Who will hold it.
        owner: Uuid,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Give the value up; only its owner can, and releasing a value not held changes nothing.
    Release {
        /// The owner giving it up.
        owner: Uuid,
        /// Why (e.g. `registration failed`), for auditors.
        reason: String,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`IdentifierClaim`] (docs/event-catalog.md, "Meeting tickets (seed 000)").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum ClaimEvent {
    /// `owner` now holds the value.
    IdentifierClaimed {
        /// Which kind of value.
        kind: ClaimKind,
        /// As stored: the 11-digit phone, the openid, or `{meetingId}:{phone}`, by `kind`.
        value: String,
        /// Its holder: a user id, or a ticket id for [`ClaimKind::MeetingAttendee`].
        owner: Uuid,
        /// When (UTC).
        claimed_at: DateTime<Utc>,
    },
    /// The holder gave the value up; it is free again.
    IdentifierReleased {
        /// The holder that gave it up (a user id, or a ticket id for an attendee claim).
        owner: Uuid,
        /// The releasing caller's reason (e.g. `registration failed`), kept for auditors.
        reason: String,
        /// When (UTC).
        released_at: DateTime<Utc>,
    },
}

impl DomainEvent for ClaimEvent {}

/// Why a [`ClaimCommand`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// Someone else holds the value.
    #[error("the value is held by {owner}")]
    Taken {
        /// The current holder: a user id, or a ticket id for [`ClaimKind::MeetingAttendee`].
        owner: Uuid,
    },
}

impl Decider for IdentifierClaim {
    const CATEGORY: &'static str = "claim";
    type Command = ClaimCommand;
    type Event = ClaimEvent;
    type Error = ClaimError;

    fn decide(&self, command: &ClaimCommand) -> Result<Vec<ClaimEvent>, ClaimError> {
        match command {
            ClaimCommand::Claim {
                kind,
                value,
                owner,
                now,
            } => match self.owner() {
                Some(current) if current == *owner => Ok(Vec::new()),
                Some(current) => Err(ClaimError::Taken { owner: current }),
                None => Ok(vec![ClaimEvent::IdentifierClaimed {
                    kind: *kind,
                    value: value.clone(),
                    owner: *owner,
                    claimed_at: *now,
                }]),
            },
            ClaimCommand::Release { owner, reason, now } => match self.owner() {
                Some(current) if current == *owner => Ok(vec![ClaimEvent::IdentifierReleased {
                    owner: *owner,
                    reason: reason.clone(),
                    released_at: *now,
                }]),
                _ => Ok(Vec::new()),
            },
        }
    }

    fn evolve(mut self, event: &ClaimEvent) -> Self {
        match event {
            ClaimEvent::IdentifierClaimed {
                owner, claimed_at, ..
            } => self.holder = Some((*owner, *claimed_at)),
            ClaimEvent::IdentifierReleased { .. } => self.holder = None,
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap_or_default()
    }

    fn claimed(owner: Uuid) -> ClaimEvent {
        ClaimEvent::IdentifierClaimed {
            kind: ClaimKind::Phone,
            value: "13800138000".into(),
            owner,
            claimed_at: t(0),
        }
    }

    fn claim(owner: Uuid) -> ClaimCommand {
        ClaimCommand::Claim {
            kind: ClaimKind::Phone,
            value: "13800138000".into(),
            owner,
            now: t(0),
        }
    }

    #[test]
    fn a_free_value_is_claimed_once_and_refused_to_others() {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        given::<IdentifierClaim>([])
            .when(claim(a))
            .then([claimed(a)]);
        given::<IdentifierClaim>([claimed(a)])
            .when(claim(a))
            .then([]);
        given::<IdentifierClaim>([claimed(a)])
            .when(claim(b))
            .then_err(ClaimError::Taken { owner: a });
    }

    #[test]
    fn only_the_owner_releases_and_a_released_value_is_free() {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        let release = |owner| ClaimCommand::Release {
            owner,
            reason: "test".into(),
            now: t(1),
        };
        given::<IdentifierClaim>([claimed(a)])
            .when(release(b))
            .then([]);
        let released = ClaimEvent::IdentifierReleased {
            owner: a,
            reason: "test".into(),
            released_at: t(1),
        };
        given::<IdentifierClaim>([claimed(a)])
            .when(release(a))
            .then([released.clone()]);
        given::<IdentifierClaim>([claimed(a), released])
            .when(claim(b))
            .then([claimed(b)]);
    }

    #[test]
    fn stream_ids_differ_by_kind_and_value() {
        let p = claim_stream_id(ClaimKind::Phone, "13800138000");
        assert!(p.starts_with("claim-"));
        assert_ne!(p, claim_stream_id(ClaimKind::WechatId, "13800138000"));
        assert_ne!(p, claim_stream_id(ClaimKind::Phone, "13800138001"));
        assert_eq!(p, claim_stream_id(ClaimKind::Phone, "13800138000"));
    }
}
