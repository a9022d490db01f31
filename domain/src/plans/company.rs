//! [`Company`] (`plansCompany-{companyId}`): a team that holds a plan — its name, its members and
//! their roles. Not in seed 004, which assumes companies exist; docs/plans.md, "Companies".
//!
//! Rules: the creator is its first owner; only owners add and remove members (checked by the
//! application, which knows the caller); a member is added at most once; adding one never takes
//! the company over the member limit its plan allows at that moment (passed in by the caller,
//! which reads the [`super::team_plan::TeamPlan`] and the catalogue in the same atomic command); the
//! last owner cannot be removed, so a company always has someone who can write.

use super::{ObjectId, Role};
use crate::shared::{FieldError, check_text};
use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest company name, in characters.
pub const MAX_NAME: usize = 100;

/// One member of a company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The identity user.
    pub account_id: UserId,
    /// Owner or member.
    pub role: Role,
    /// When they were added (UTC).
    pub joined_at: DateTime<Utc>,
}

/// A company and its members.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Company {
    company_id: Option<ObjectId>,
    name: String,
    owner_id: Option<ObjectId>,
    created_at: Option<DateTime<Utc>>,
    members: BTreeMap<ObjectId, Member>,
}

impl Company {
    /// Its id, once created.
    pub fn company_id(&self) -> Option<&ObjectId> {
        self.company_id.as_ref()
    }

    /// Whether it was created.
    pub fn exists(&self) -> bool {
        self.company_id.is_some()
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plans `user_id` of its creator.
    pub fn owner_id(&self) -> Option<&ObjectId> {
        self.owner_id.as_ref()
    }

    /// When it was created (UTC).
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        self.created_at
    }

    /// Its members by plans `user_id`.
    pub fn members(&self) -> &BTreeMap<ObjectId, Member> {
        &self.members
    }

    /// The membership of the identity user `account`: their plans `user_id` and member record.
    pub fn member_by_account(&self, account: UserId) -> Option<(&ObjectId, &Member)> {
        self.members.iter().find(|(_, m)| m.account_id == account)
    }
}

/// A company name, checked: 1–[`MAX_NAME`] characters, no control characters.
pub fn check_name(name: &str) -> Result<(), FieldError> {
    check_text("name", name, 1, MAX_NAME)
}

/// Commands for [`Company`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompanyCommand {
    /// Create it with its creator as owner; creating it again changes nothing.
    Create {
        /// Its id (also the stream id).
        company_id: ObjectId,
        /// Its name (trimmed by the caller).
        name: String,
        /// The creator's plans `user_id`.
        owner_id: ObjectId,
        /// The creator.
        owner_account: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Add a member.
    AddMember {
        /// Their plans `user_id`.
        user_id: ObjectId,
        /// The identity user.
        account_id: UserId,
        /// Their role.
        role: Role,
        /// The owner adding them (plans `user_id`).
        by: ObjectId,
        /// Members the company's plan allows now (owners included).
        member_limit: u32,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Remove a member.
    RemoveMember {
        /// Their plans `user_id`.
        user_id: ObjectId,
        /// The owner removing them.
        by: ObjectId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`Company`] (docs/event-catalog.md, "Team plans (seed 004)").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum CompanyEvent {
    /// The company was created; its creator is its first owner (no separate member event).
    #[serde(rename = "PlansCompanyCreated")]
    Created {
        /// Its id.
        company_id: ObjectId,
        /// Its name (a company's, not a person's).
        name: String,
        /// The creator's plans `user_id`.
        owner_id: ObjectId,
        /// The creator.
        owner_account: UserId,
        /// When (UTC).
        created_at: DateTime<Utc>,
    },
    /// A member was added.
    #[serde(rename = "PlansMemberAdded")]
    MemberAdded {
        /// Their plans `user_id`.
        user_id: ObjectId,
        /// The identity user.
        account_id: UserId,
        /// `member` or `owner`.
        role: Role,
        /// The owner who added them.
        added_by: ObjectId,
        /// The limit that was checked (owners included).
        member_limit: u32,
        /// When (UTC).
        added_at: DateTime<Utc>,
    },
    /// A member was removed.
    #[serde(rename = "PlansMemberRemoved")]
    MemberRemoved {
        /// Their plans `user_id`.
        user_id: ObjectId,
        /// The owner who removed them.
        removed_by: ObjectId,
        /// When (UTC).
        removed_at: DateTime<Utc>,
    },
}

impl DomainEvent for CompanyEvent {}

/// Why a [`CompanyCommand`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompanyError {
    /// A field is invalid.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// No such company.
    #[error("no such company")]
    NotFound,
    /// The user is a member already.
    #[error("the user is a member already")]
    AlreadyMember,
    /// The user is not a member.
    #[error("the user is not a member")]
    NotMember,
    /// The plan allows no more members.
    #[error("the plan allows at most {limit} members")]
    MemberLimit {
        /// The limit (owners included).
        limit: u32,
    },
    /// The last owner cannot be removed.
    #[error("the last owner cannot be removed")]
    LastOwner,
}

impl Decider for Company {
    const CATEGORY: &'static str = "plansCompany";
    type Command = CompanyCommand;
    type Event = CompanyEvent;
    type Error = CompanyError;

    fn decide(&self, command: &CompanyCommand) -> Result<Vec<CompanyEvent>, CompanyError> {
        match command {
            CompanyCommand::Create {
                company_id,
                name,
                owner_id,
                owner_account,
                now,
            } => {
                if self.exists() {
                    return Ok(Vec::new());
                }
                check_name(name)?;
                Ok(vec![CompanyEvent::Created {
                    company_id: company_id.clone(),
                    name: name.clone(),
                    owner_id: owner_id.clone(),
                    owner_account: *owner_account,
                    created_at: *now,
                }])
            }
            CompanyCommand::AddMember {
                user_id,
                account_id,
                role,
                by,
                member_limit,
                now,
            } => {
                if !self.exists() {
                    return Err(CompanyError::NotFound);
                }
                if self.members.contains_key(user_id) {
                    return Err(CompanyError::AlreadyMember);
                }
                if self.members.len() >= *member_limit as usize {
                    return Err(CompanyError::MemberLimit {
                        limit: *member_limit,
                    });
                }
                Ok(vec![CompanyEvent::MemberAdded {
                    user_id: user_id.clone(),
                    account_id: *account_id,
                    role: *role,
                    added_by: by.clone(),
                    member_limit: *member_limit,
                    added_at: *now,
                }])
            }
            CompanyCommand::RemoveMember { user_id, by, now } => {
                if !self.exists() {
                    return Err(CompanyError::NotFound);
                }
                let Some(member) = self.members.get(user_id) else {
                    return Err(CompanyError::NotMember);
                };
                let owners = self
                    .members
                    .values()
                    .filter(|m| m.role == Role::Owner)
                    .count();
                if member.role == Role::Owner && owners <= 1 {
                    return Err(CompanyError::LastOwner);
                }
                Ok(vec![CompanyEvent::MemberRemoved {
                    user_id: user_id.clone(),
                    removed_by: by.clone(),
                    removed_at: *now,
                }])
            }
        }
    }

    fn evolve(mut self, event: &CompanyEvent) -> Self {
        match event {
            CompanyEvent::Created {
                company_id,
                name,
                owner_id,
                owner_account,
                created_at,
            } => {
                self.company_id = Some(company_id.clone());
                self.name = name.clone();
                self.owner_id = Some(owner_id.clone());
                self.created_at = Some(*created_at);
                self.members.insert(
                    owner_id.clone(),
                    Member {
                        account_id: *owner_account,
                        role: Role::Owner,
                        joined_at: *created_at,
                    },
                );
            }
            CompanyEvent::MemberAdded {
                user_id,
                account_id,
                role,
                added_at,
                ..
            } => {
                self.members.insert(
                    user_id.clone(),
                    Member {
                        account_id: *account_id,
                        role: *role,
                        joined_at: *added_at,
                    },
                );
            }
            CompanyEvent::MemberRemoved { user_id, .. } => {
                self.members.remove(user_id);
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;

    fn oid(n: u8) -> ObjectId {
        ObjectId::from_parts(1, [n; 8])
    }

    fn account(n: u128) -> UserId {
        UserId::from_uuid(uuid::Uuid::from_u128(n))
    }

    fn created() -> CompanyEvent {
        CompanyEvent::Created {
            company_id: oid(0),
            name: "Acme".into(),
            owner_id: oid(1),
            owner_account: account(1),
            created_at: DateTime::UNIX_EPOCH,
        }
    }

    fn add(n: u8, limit: u32) -> CompanyCommand {
        CompanyCommand::AddMember {
            user_id: oid(n),
            account_id: account(u128::from(n)),
            role: Role::Member,
            by: oid(1),
            member_limit: limit,
            now: DateTime::UNIX_EPOCH,
        }
    }

    fn added(n: u8, limit: u32) -> CompanyEvent {
        CompanyEvent::MemberAdded {
            user_id: oid(n),
            account_id: account(u128::from(n)),
            role: Role::Member,
            added_by: oid(1),
            member_limit: limit,
            added_at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_member_limit_counts_the_owner() {
        given::<Company>([created()])
            .when(add(2, 2))
            .then([added(2, 2)]);
        given::<Company>([created(), added(2, 2)])
            .when(add(3, 2))
            .then_err(CompanyError::MemberLimit { limit: 2 });
        given::<Company>([created(), added(2, 2)])
            .when(add(2, 9))
            .then_err(CompanyError::AlreadyMember);
        given::<Company>([])
            .when(add(2, 9))
            .then_err(CompanyError::NotFound);
    }

    #[test]
    fn the_last_owner_stays() {
        let remove = |n| CompanyCommand::RemoveMember {
            user_id: oid(n),
            by: oid(1),
            now: DateTime::UNIX_EPOCH,
        };
        given::<Company>([created()])
            .when(remove(1))
            .then_err(CompanyError::LastOwner);
        given::<Company>([created(), added(2, 5)])
            .when(remove(2))
            .then([CompanyEvent::MemberRemoved {
                user_id: oid(2),
                removed_by: oid(1),
                removed_at: DateTime::UNIX_EPOCH,
            }]);
        given::<Company>([created()])
            .when(remove(3))
            .then_err(CompanyError::NotMember);
    }
}
