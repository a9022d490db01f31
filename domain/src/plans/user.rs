//! [`PlansUser`] (`plansUser-{identity user uuid}`): the plans-facing `user_id` (an [`ObjectId`])
//! of an identity user, assigned in an event the first time the user appears in a company (creates
//! one or is added to one), so every company and every read model names them the same way.

use super::ObjectId;
use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One identity user as the plans document knows them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlansUser {
    user_id: Option<ObjectId>,
}

impl PlansUser {
    /// The assigned `user_id`, once assigned.
    pub fn user_id(&self) -> Option<&ObjectId> {
        self.user_id.as_ref()
    }
}

/// Commands for [`PlansUser`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlansUserCommand {
    /// Assign `user_id` unless one is assigned already (then nothing changes).
    Assign {
        /// A fresh id proposed by the caller.
        user_id: ObjectId,
        /// The identity user (also the stream id).
        account_id: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`PlansUser`] (docs/event-catalog.md, "Team plans (seed 004)").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum PlansUserEvent {
    /// The identity user got their plans `user_id`.
    #[serde(rename = "PlansUserAssigned")]
    Assigned {
        /// The plans-facing id.
        user_id: ObjectId,
        /// The identity user.
        account_id: UserId,
        /// When (UTC).
        assigned_at: DateTime<Utc>,
    },
}

impl DomainEvent for PlansUserEvent {}

/// [`PlansUser`] refuses nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlansUserError {}

impl Decider for PlansUser {
    const CATEGORY: &'static str = "plansUser";
    type Command = PlansUserCommand;
    type Event = PlansUserEvent;
    type Error = PlansUserError;

    fn decide(&self, command: &PlansUserCommand) -> Result<Vec<PlansUserEvent>, PlansUserError> {
        let PlansUserCommand::Assign {
            user_id,
            account_id,
            now,
        } = command;
        if self.user_id.is_some() {
            return Ok(Vec::new());
        }
        Ok(vec![PlansUserEvent::Assigned {
            user_id: user_id.clone(),
            account_id: *account_id,
            assigned_at: *now,
        }])
    }

    fn evolve(mut self, event: &PlansUserEvent) -> Self {
        let PlansUserEvent::Assigned { user_id, .. } = event;
        self.user_id = Some(user_id.clone());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;

    #[test]
    fn assigned_once() {
        let account = UserId::from_uuid(uuid::Uuid::from_u128(7));
        let first = ObjectId::from_parts(1, [1; 8]);
        let assigned = PlansUserEvent::Assigned {
            user_id: first.clone(),
            account_id: account,
            assigned_at: DateTime::UNIX_EPOCH,
        };
        let assign = |id: ObjectId| PlansUserCommand::Assign {
            user_id: id,
            account_id: account,
            now: DateTime::UNIX_EPOCH,
        };
        given::<PlansUser>([])
            .when(assign(first))
            .then([assigned.clone()]);
        given::<PlansUser>([assigned])
            .when(assign(ObjectId::from_parts(2, [2; 8])))
            .then([]);
    }
}
