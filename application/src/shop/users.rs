//! The admin's user routes (seed 002 `PUT /api/users/:id`, `DELETE /api/users/:id`). Every field
//! a `PUT` changes becomes its own event naming the acting admin, all in one atomic commit over
//! the shop user, the identity user and (for a new email) the address's guard stream, so a refused
//! field leaves nothing half-written. Deleting is the identity's erasure (crypto-shredding,
//! docs/decisions/0008-crypto-shredding.md).

use super::{Missing, ShopError, ShopService};
use crate::command::CommandRunner;
use crate::event_store::EventMetadata;
use crate::identity::ports::SubjectKeys;
use tessera_domain::UserId;
use tessera_domain::identity::{
    ClaimEmail, Email, EmailClaim, Role, User, UserCommand, email_stream_id,
};
use tessera_domain::shared::FieldError;
use tessera_domain::shop::customer::{CustomerCommand, ShopCustomer, check_nickname, check_phone};

/// What `PUT /api/users/:id` changes: each field only when given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    /// New nickname (`Some(None)` clears it).
    pub nickname: Option<Option<String>>,
    /// New email address (any case; stored lower-case).
    pub email: Option<String>,
    /// New contact phone (`Some(None)` clears it).
    pub phone: Option<Option<String>>,
    /// New password (8–128 characters).
    pub password: Option<String>,
    /// New `permission_level`: 0 customer, 1 admin.
    pub permission_level: Option<u8>,
}

impl ShopService {
    /// Apply `change` to the user `account_id` as admin `by`; returns the position reached
    /// (`None`: nothing changed).
    ///
    /// Errors: [`ShopError::Field`] (`nickname`, `email`, `phone`, `password`,
    /// `permission_level`), [`ShopError::EmailTaken`], [`ShopError::NotFound`] (no shop user),
    /// [`ShopError::Disabled`] for a deleted user, engine and hashing failures.
    pub async fn update_user(
        &self,
        by: UserId,
        account_id: UserId,
        change: UserChange,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, ShopError> {
        // Check everything before writing anything.
        if let Some(Some(n)) = &change.nickname {
            check_nickname(n)?;
        }
        if let Some(Some(p)) = &change.phone {
            check_phone(p)?;
        }
        let email = match &change.email {
            Some(raw) => {
                Some(Email::parse(raw).map_err(|e| FieldError::new("email", e.to_string()))?)
            }
            None => None,
        };
        let role = match change.permission_level {
            None => None,
            Some(0) => Some(false),
            Some(1) => Some(true),
            Some(_) => return Err(FieldError::new("permission_level", "must be 0 or 1").into()),
        };
        let password_hash = match &change.password {
            Some(p) => Some(self.identity.hash_new_password(p)?),
            None => None,
        };
        let now = self.now();
        let mut meta = meta.clone();
        meta.actor_user_id.get_or_insert_with(|| by.to_string());
        let mut atomic = self.runner.atomic(&meta);
        let customer =
            atomic.stream::<ShopCustomer>(&CommandRunner::stream::<ShopCustomer>(account_id)?);
        let user = atomic.stream::<User>(&CommandRunner::stream::<User>(account_id)?);
        let claim = match &email {
            Some(e) => Some(atomic.stream::<EmailClaim>(
                &crate::StreamId::parse(email_stream_id(e)).map_err(crate::EngineError::from)?,
            )),
            None => None,
        };
        let committed = atomic
            .run(|d| {
                if d.state(customer)?.user_id().is_none() {
                    return Err(ShopError::NotFound(Missing::User));
                }
                if d.state(user)?.is_disabled() {
                    return Err(ShopError::Disabled);
                }
                let shop = |e: crate::CommandError<_>| e.map_rejected(ShopError::from);
                if let Some(nickname) = &change.nickname {
                    let command = CustomerCommand::ChangeNickname {
                        nickname: nickname.clone(),
                        by,
                        now,
                    };
                    d.decide(customer, &command).map_err(shop)?;
                }
                if let Some(phone) = &change.phone {
                    let command = CustomerCommand::ChangePhone {
                        phone: phone.clone(),
                        by,
                        now,
                    };
                    d.decide(customer, &command).map_err(shop)?;
                }
                let identity = |e: crate::CommandError<_>| e.map_rejected(|_| ShopError::Disabled);
                if let (Some(email), Some(claim)) = (&email, claim) {
                    let command = ClaimEmail {
                        email: email.clone(),
                        user_id: account_id,
                        now,
                    };
                    d.decide(claim, &command)
                        .map_err(|e| e.map_rejected(|_| ShopError::EmailTaken))?;
                    let command = UserCommand::ChangeEmail {
                        email: email.clone(),
                        by: Some(by),
                        now,
                    };
                    d.decide(user, &command).map_err(identity)?;
                }
                if let Some(password_hash) = &password_hash {
                    let command = UserCommand::SetPassword {
                        password_hash: password_hash.clone(),
                        by,
                        now,
                    };
                    d.decide(user, &command).map_err(identity)?;
                }
                if let Some(admin) = role {
                    let command = if admin {
                        UserCommand::GrantRole {
                            role: Role::Admin,
                            by: Some(by),
                            now,
                        }
                    } else {
                        UserCommand::RevokeRole {
                            role: Role::Admin,
                            by: Some(by),
                            now,
                        }
                    };
                    d.decide(user, &command).map_err(identity)?;
                }
                Ok(())
            })
            .await?;
        Ok(committed.position())
    }

    /// Delete the user `account_id` as admin `by`: the identity's erasure. The user can no longer
    /// sign in (WeChat or email), their personal fields read `"[erased]"` in the log and vanish
    /// from the shop's read models; their number and history stay. Returns how many keys were
    /// destroyed.
    ///
    /// Errors: [`ShopError::NotFound`], store failures.
    pub async fn delete_user(
        &self,
        by: UserId,
        account_id: UserId,
        keys: &dyn SubjectKeys,
    ) -> Result<u64, ShopError> {
        let (customer, _) = self
            .runner
            .load::<ShopCustomer>(&CommandRunner::stream::<ShopCustomer>(account_id)?)
            .await?;
        if customer.user_id().is_none() {
            return Err(ShopError::NotFound(Missing::User));
        }
        Ok(self.identity.erase_user(Some(by), account_id, keys).await?)
    }
}
