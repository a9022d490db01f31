//! What the shop keeps about a user of the shared identity (seed 002 "用户 API"), in the stream
//! `shopUser-{userId}` (the identity user's UUID): the shop's integer `user_id`, given the first
//! time the user signs in to the shop, and the profile fields only the shop has — nickname and
//! contact phone. Email, password, roles (`permission_level`), the WeChat openid and erasure are
//! [`crate::identity::User`]'s.
//!
//! The contact phone is free text the admin keeps for the shop (7–20 characters of digits, spaces
//! and `+-()`); it is not a sign-in identifier and is not unique, unlike the seed 000 phone.

use crate::shared::{FieldError, check_text};
use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest nickname, in characters.
pub const MAX_NICKNAME: usize = 64;

/// The shop's view of one identity user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShopCustomer {
    user_id: Option<u64>,
    nickname: Option<String>,
    phone: Option<String>,
    joined_at: Option<DateTime<Utc>>,
    changed_at: Option<DateTime<Utc>>,
}

impl ShopCustomer {
    /// When the user joined the shop (UTC), once joined.
    pub fn joined_at(&self) -> Option<DateTime<Utc>> {
        self.joined_at
    }

    /// When the shop profile last changed (UTC): the join or the latest nickname/phone change.
    pub fn changed_at(&self) -> Option<DateTime<Utc>> {
        self.changed_at
    }

    /// The shop's integer `user_id`, once joined.
    pub fn user_id(&self) -> Option<u64> {
        self.user_id
    }

    /// The nickname, if set.
    pub fn nickname(&self) -> Option<&str> {
        self.nickname.as_deref()
    }

    /// The contact phone, if set.
    pub fn phone(&self) -> Option<&str> {
        self.phone.as_deref()
    }
}

/// A nickname, checked: 1–[`MAX_NICKNAME`] characters, no control characters.
pub fn check_nickname(nickname: &str) -> Result<(), FieldError> {
    check_text("nickname", nickname, 1, MAX_NICKNAME)
}

/// A contact phone, checked: 7–20 characters of digits, spaces and `+-()`, at least 7 digits.
pub fn check_phone(phone: &str) -> Result<(), FieldError> {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let allowed = phone
        .chars()
        .all(|c| c.is_ascii_digit() || " +-()".contains(c));
    if !allowed || !(7..=20).contains(&phone.chars().count()) || digits < 7 {
        return Err(FieldError::new(
            "phone",
            "must be 7 to 20 characters of digits, spaces and +-()",
        ));
    }
    Ok(())
}

/// Commands for [`ShopCustomer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerCommand {
    /// Give the user their shop number; joining again changes nothing.
    Join {
        /// The number taken from `shopSequence-user` in the same commit.
        user_id: u64,
        /// The identity user (also the stream id).
        account_id: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Set or clear (`None`) the nickname.
    ChangeNickname {
        /// The new nickname (trimmed by the caller).
        nickname: Option<String>,
        /// The admin acting.
        by: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Set or clear (`None`) the contact phone.
    ChangePhone {
        /// The new phone (trimmed by the caller).
        phone: Option<String>,
        /// The admin acting.
        by: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`ShopCustomer`] (docs/event-catalog.md, "Shop").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum CustomerEvent {
    /// The user got their shop number (first shop sign-in).
    #[serde(rename = "ShopUserJoined")]
    Joined {
        /// The shop's integer `user_id`.
        user_id: u64,
        /// The identity user.
        account_id: UserId,
        /// When (UTC).
        joined_at: DateTime<Utc>,
    },
    /// The nickname was set or cleared.
    #[serde(rename = "ShopUserNicknameChanged")]
    NicknameChanged {
        /// The new nickname, or null.
        nickname: Option<String>,
        /// The admin who changed it.
        changed_by: UserId,
        /// When (UTC).
        changed_at: DateTime<Utc>,
    },
    /// The contact phone was set or cleared.
    #[serde(rename = "ShopUserPhoneChanged")]
    PhoneChanged {
        /// The new phone, or null.
        phone: Option<String>,
        /// The admin who changed it.
        changed_by: UserId,
        /// When (UTC).
        changed_at: DateTime<Utc>,
    },
}

impl DomainEvent for CustomerEvent {}

/// Why a [`CustomerCommand`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomerError {
    /// A field is invalid.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// The user has no shop number yet.
    #[error("the user has not joined the shop")]
    NotJoined,
}

impl Decider for ShopCustomer {
    const CATEGORY: &'static str = "shopUser";
    type Command = CustomerCommand;
    type Event = CustomerEvent;
    type Error = CustomerError;

    fn decide(&self, command: &CustomerCommand) -> Result<Vec<CustomerEvent>, CustomerError> {
        match command {
            CustomerCommand::Join {
                user_id,
                account_id,
                now,
            } => Ok(if self.user_id.is_some() {
                Vec::new()
            } else {
                vec![CustomerEvent::Joined {
                    user_id: *user_id,
                    account_id: *account_id,
                    joined_at: *now,
                }]
            }),
            CustomerCommand::ChangeNickname { nickname, by, now } => {
                if self.user_id.is_none() {
                    return Err(CustomerError::NotJoined);
                }
                if let Some(n) = nickname {
                    check_nickname(n)?;
                }
                if *nickname == self.nickname {
                    return Ok(Vec::new());
                }
                Ok(vec![CustomerEvent::NicknameChanged {
                    nickname: nickname.clone(),
                    changed_by: *by,
                    changed_at: *now,
                }])
            }
            CustomerCommand::ChangePhone { phone, by, now } => {
                if self.user_id.is_none() {
                    return Err(CustomerError::NotJoined);
                }
                if let Some(p) = phone {
                    check_phone(p)?;
                }
                if *phone == self.phone {
                    return Ok(Vec::new());
                }
                Ok(vec![CustomerEvent::PhoneChanged {
                    phone: phone.clone(),
                    changed_by: *by,
                    changed_at: *now,
                }])
            }
        }
    }

    fn evolve(mut self, event: &CustomerEvent) -> Self {
        match event {
            CustomerEvent::Joined {
                user_id, joined_at, ..
            } => {
                self.user_id = Some(*user_id);
                self.joined_at = Some(*joined_at);
                self.changed_at = Some(*joined_at);
            }
            CustomerEvent::NicknameChanged {
                nickname,
                changed_at,
                ..
            } => {
                self.nickname = nickname.clone();
                self.changed_at = Some(*changed_at);
            }
            CustomerEvent::PhoneChanged {
                phone, changed_at, ..
            } => {
                self.phone = phone.clone();
                self.changed_at = Some(*changed_at);
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_once_and_checks_profile_fields() {
        let now = DateTime::UNIX_EPOCH;
        let account = UserId::from_uuid(uuid::Uuid::from_u128(1));
        let join = |n| CustomerCommand::Join {
            user_id: n,
            account_id: account,
            now,
        };
        let c = ShopCustomer::replay(&ShopCustomer::default().decide(&join(3)).unwrap());
        assert_eq!(c.user_id(), Some(3));
        assert_eq!(c.decide(&join(4)), Ok(Vec::new()));
        let phone = |p: &str| CustomerCommand::ChangePhone {
            phone: Some(p.into()),
            by: account,
            now,
        };
        assert!(c.decide(&phone("+86 138-0013-8000")).is_ok());
        assert!(matches!(
            c.decide(&phone("call me")),
            Err(CustomerError::Field(_))
        ));
        assert_eq!(
            ShopCustomer::default().decide(&phone("13800138000")),
            Err(CustomerError::NotJoined)
        );
    }
}
