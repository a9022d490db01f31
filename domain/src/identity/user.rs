//! [`User`] (`user-{userId}`): registration, password changes, roles, disabling; and [`Role`].

use super::Email;
use super::oauth::OAuthProvider;
use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// What a user may do. Every user holds [`Role::Customer`]; the others are granted.
///
/// Serialised lower-case (`"customer"`, `"organizer"`, `"staff"`, `"auditor"`, `"admin"`); ordered
/// as listed, so sets of roles print in a stable order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Buys tickets; every user has it.
    Customer,
    /// Creates and runs events.
    Organizer,
    /// Checks tickets at the door.
    Staff,
    /// Reads the raw event log and verifies its hash chain.
    Auditor,
    /// Manages users and roles.
    Admin,
}

/// A role name that is not one of [`Role`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (expected customer, organizer, staff, auditor or admin)")]
pub struct UnknownRole(pub String);

impl Role {
    /// Every role, in order.
    pub const ALL: [Role; 5] = [
        Role::Customer,
        Role::Organizer,
        Role::Staff,
        Role::Auditor,
        Role::Admin,
    ];

    /// The lower-case name, as stored.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Organizer => "organizer",
            Role::Staff => "staff",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UnknownRole;
    /// Parse a role name; surrounding whitespace and ASCII case are ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

// ---------------------------------------------------------------------------------------------
// User
// ---------------------------------------------------------------------------------------------

/// A user account (stream `user-{userId}`). The state after no events is "not registered".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct User {
    registration: Option<Registration>,
    roles: BTreeSet<Role>,
    disabled: bool,
    erased: bool,
}

/// What registration fixed, plus the current password hash.
#[derive(Debug, Clone, PartialEq)]
struct Registration {
    user_id: UserId,
    email: Option<Email>,
    password_hash: Option<String>,
    phone: Option<String>,
    wechat_id: Option<String>,
    display_name: Option<String>,
    registered_at: DateTime<Utc>,
}

impl User {
    /// Whether [`UserEvent::UserRegistered`] has happened.
    pub fn is_registered(&self) -> bool {
        self.registration.is_some()
    }

    /// The user's id, once registered.
    pub fn user_id(&self) -> Option<UserId> {
        self.registration.as_ref().map(|r| r.user_id)
    }

    /// The registered email, once registered.
    pub fn email(&self) -> Option<&Email> {
        self.registration.as_ref().and_then(|r| r.email.as_ref())
    }

    /// The mainland phone number (11 digits), for users registered by phone (seed 000).
    pub fn phone(&self) -> Option<&str> {
        self.registration.as_ref().and_then(|r| r.phone.as_deref())
    }

    /// The WeChat openid, for users registered through WeChat (seed 000).
    pub fn wechat_id(&self) -> Option<&str> {
        self.registration
            .as_ref()
            .and_then(|r| r.wechat_id.as_deref())
    }

    /// The current Argon2id PHC string, once registered.
    pub fn password_hash(&self) -> Option<&str> {
        self.registration
            .as_ref()
            .and_then(|r| r.password_hash.as_deref())
    }

    /// The display name given at registration, if any.
    pub fn display_name(&self) -> Option<&str> {
        self.registration
            .as_ref()
            .and_then(|r| r.display_name.as_deref())
    }

    /// When the user registered (UTC), once registered.
    pub fn registered_at(&self) -> Option<DateTime<Utc>> {
        self.registration.as_ref().map(|r| r.registered_at)
    }

    /// The roles held (always including [`Role::Customer`] once registered).
    pub fn roles(&self) -> &BTreeSet<Role> {
        &self.roles
    }

    /// Whether the user holds `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the account is disabled (it can no longer sign in). An erased account is always
    /// disabled.
    pub fn is_disabled(&self) -> bool {
        self.disabled || self.erased
    }

    /// Whether the account was erased ([`UserEvent::UserErased`]): its personal data is gone and
    /// it can never sign in again.
    pub fn is_erased(&self) -> bool {
        self.erased
    }

    fn require_active(&self) -> Result<(), UserError> {
        if !self.is_registered() {
            Err(UserError::NotRegistered)
        } else if self.erased {
            Err(UserError::Erased)
        } else if self.disabled {
            Err(UserError::Disabled)
        } else {
            Ok(())
        }
    }
}

/// Commands for [`User`].
#[derive(Debug, Clone, PartialEq)]
pub enum UserCommand {
    /// Create the account. [`Role::Customer`] is added to `roles` if missing.
    RegisterUser {
        /// The new user's id (made by the caller).
        user_id: UserId,
        /// The address, already claimed in its guard stream.
        email: Email,
        /// Argon2id PHC string of the password.
        password_hash: String,
        /// Optional name to show.
        display_name: Option<String>,
        /// Roles to start with.
        roles: BTreeSet<Role>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Create an account identified by a WeChat id and a phone number proven by an SMS code (seed
    /// 000 `POST /users`), both already claimed in their guard streams. No password.
    RegisterWithPhone {
        /// The new user's id (made by the caller).
        user_id: UserId,
        /// Mainland phone number, 11 digits.
        phone: String,
        /// WeChat openid.
        wechat_id: String,
        /// Roles to start with (customer is added).
        roles: BTreeSet<Role>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Create an account identified by a WeChat openid alone (seed 002 `POST /weixin-login`), the
    /// openid already claimed in its guard stream. No password, email or phone.
    RegisterWithWechat {
        /// The new user's id (made by the caller).
        user_id: UserId,
        /// WeChat openid from `jscode2session`.
        wechat_id: String,
        /// Roles to start with (customer is added).
        roles: BTreeSet<Role>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Create an account from an OpenID Connect provider's account (seed 003 §2.2
    /// `POST /auth/oauth/{provider}`; docs/decisions/0031-oauth-sign-in.md). No password. `email`
    /// is set only when the provider verified it, and is then already claimed in its guard stream
    /// in the same commit.
    RegisterWithOAuth {
        /// The new user's id (made by the caller).
        user_id: UserId,
        /// The provider.
        provider: OAuthProvider,
        /// The provider-verified address, if any.
        email: Option<Email>,
        /// The name the provider reported, if any.
        display_name: Option<String>,
        /// Roles to start with (customer is added).
        roles: BTreeSet<Role>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// An admin sets a new password (seed 002 `PUT /api/users/:id`); the current one is not asked.
    SetPassword {
        /// Argon2id PHC string of the new password.
        password_hash: String,
        /// The admin acting.
        by: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Replace the email address; the new address is already claimed in its guard stream for this
    /// user (in the same commit). Setting the current address changes nothing.
    ChangeEmail {
        /// The new address.
        email: Email,
        /// The admin acting, or `None` for the user themself.
        by: Option<UserId>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Replace the password hash.
    ChangePassword {
        /// Argon2id PHC string of the new password.
        password_hash: String,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Grant a role; granting one already held changes nothing.
    GrantRole {
        /// The role to add; [`Role::Customer`] is always held already.
        role: Role,
        /// The admin acting, or `None` for the command-line tool.
        by: Option<UserId>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Take a role away; revoking one not held changes nothing. Customer cannot be revoked.
    RevokeRole {
        /// The role to take away; not [`Role::Customer`] ([`UserError::CustomerRoleIsPermanent`]).
        role: Role,
        /// The admin acting, or `None` for the command-line tool.
        by: Option<UserId>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Let a disabled user sign in again; enabling an enabled user changes nothing, an erased
    /// one is refused ([`UserError::Erased`]).
    EnableUser {
        /// The admin who enabled it (`None` from the command line).
        by: Option<UserId>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Erase the account (docs/decisions/0008-crypto-shredding.md): record that its personal data
    /// is to be destroyed; the account is disabled for good. Erasing twice changes nothing.
    EraseUser {
        /// The admin who erased it (`None` from the command line).
        by: Option<UserId>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Stop the user from signing in; disabling a disabled user changes nothing.
    DisableUser {
        /// The admin acting, or `None` for the command-line tool.
        by: Option<UserId>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`User`] (docs/event-catalog.md, "Identity").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum UserEvent {
    /// The account was created.
    UserRegistered {
        /// The user's id, also in the stream id `user-{userId}`.
        user_id: UserId,
        /// Lower-cased address.
        email: Email,
        /// Argon2id PHC string.
        password_hash: String,
        /// Name to show, or null.
        display_name: Option<String>,
        /// Roles held from the start (always including customer).
        roles: BTreeSet<Role>,
        /// When (UTC).
        registered_at: DateTime<Utc>,
    },
    /// The account was created from a WeChat id and a verified phone number (seed 000).
    UserRegisteredWithPhone {
        /// The user's id, also in the stream id `user-{userId}`.
        user_id: UserId,
        /// Mainland phone number, 11 digits.
        phone: String,
        /// WeChat openid.
        wechat_id: String,
        /// Roles held from the start (always including customer).
        roles: BTreeSet<Role>,
        /// When (UTC).
        registered_at: DateTime<Utc>,
    },
    /// The account was created from a WeChat openid alone (seed 002 `POST /weixin-login`).
    UserRegisteredWithWechat {
        /// The user's id, also in the stream id `user-{userId}`.
        user_id: UserId,
        /// WeChat openid.
        wechat_id: String,
        /// Roles held from the start (always including customer).
        roles: BTreeSet<Role>,
        /// When (UTC).
        registered_at: DateTime<Utc>,
    },
    /// The account was created from an OpenID Connect provider's account (seed 003 §2.2).
    UserRegisteredWithOAuth {
        /// The user's id, also in the stream id `user-{userId}`.
        user_id: UserId,
        /// `google` or `apple`.
        provider: OAuthProvider,
        /// Lower-cased address the provider verified, or null (never an unverified one).
        email: Option<Email>,
        /// Name the provider reported, or null.
        display_name: Option<String>,
        /// Roles held from the start (always including customer).
        roles: BTreeSet<Role>,
        /// When (UTC).
        registered_at: DateTime<Utc>,
    },
    /// An admin set a new password (no current password was asked).
    PasswordSetByAdmin {
        /// Argon2id PHC string of the new password.
        password_hash: String,
        /// The admin who set it.
        set_by: UserId,
        /// When (UTC).
        set_at: DateTime<Utc>,
    },
    /// The email address was replaced; the old address's claim stays with the user (it is not
    /// free for others) but no longer signs in.
    UserEmailChanged {
        /// Lower-cased new address.
        email: Email,
        /// The admin who changed it (null when the user did).
        changed_by: Option<UserId>,
        /// When (UTC).
        changed_at: DateTime<Utc>,
    },
    /// The password was replaced.
    PasswordChanged {
        /// Argon2id PHC string of the new password.
        password_hash: String,
        /// When (UTC).
        changed_at: DateTime<Utc>,
    },
    /// A role was granted.
    RoleGranted {
        /// The role added (never one the user already held).
        role: Role,
        /// Who granted it (null for the command-line tool).
        granted_by: Option<UserId>,
        /// When (UTC).
        granted_at: DateTime<Utc>,
    },
    /// A role was taken away.
    RoleRevoked {
        /// The role taken away (never [`Role::Customer`]).
        role: Role,
        /// Who revoked it (null for the command-line tool).
        revoked_by: Option<UserId>,
        /// When (UTC).
        revoked_at: DateTime<Utc>,
    },
    /// The account was disabled.
    UserDisabled {
        /// Who disabled it (null for the command-line tool).
        disabled_by: Option<UserId>,
        /// When (UTC).
        disabled_at: DateTime<Utc>,
    },
    /// The account may sign in again after [`UserEvent::UserDisabled`].
    UserEnabled {
        /// The admin who enabled it (null for the command-line tool).
        enabled_by: Option<UserId>,
        /// When (UTC).
        enabled_at: DateTime<Utc>,
    },
    /// The account's personal data was erased: the keys sealing it are destroyed right after this
    /// event is stored, read models blank the user's rows, and the account can never sign in or
    /// be enabled again. Carries no personal data.
    UserErased {
        /// The admin who erased it (null for the command-line tool or a self-service deletion).
        erased_by: Option<UserId>,
        /// When (UTC).
        erased_at: DateTime<Utc>,
    },
}

impl DomainEvent for UserEvent {}

/// Why a [`UserCommand`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// The stream already holds a registration.
    #[error("the user is already registered")]
    AlreadyRegistered,
    /// There is no such user.
    #[error("the user is not registered")]
    NotRegistered,
    /// The user is disabled; only revoking roles and disabling again are allowed.
    #[error("the user is disabled")]
    Disabled,
    /// Every user keeps the customer role.
    #[error("the customer role cannot be revoked")]
    CustomerRoleIsPermanent,
    /// The account was erased; nothing but revoking roles and erasing again is accepted.
    #[error("the user was erased")]
    Erased,
}

impl User {
    /// The roles a registration grants: `roles` plus `customer` (every user is one); refused when
    /// the user is already registered, however they registered.
    fn first_roles(&self, roles: &BTreeSet<Role>) -> Result<BTreeSet<Role>, UserError> {
        if self.is_registered() {
            return Err(UserError::AlreadyRegistered);
        }
        let mut roles = roles.clone();
        roles.insert(Role::Customer);
        Ok(roles)
    }
}

impl Decider for User {
    const CATEGORY: &'static str = "user";
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = UserError;

    fn decide(&self, command: &UserCommand) -> Result<Vec<UserEvent>, UserError> {
        match command {
            UserCommand::RegisterUser {
                user_id,
                email,
                password_hash,
                display_name,
                roles,
                now,
            } => {
                let roles = self.first_roles(roles)?;
                Ok(vec![UserEvent::UserRegistered {
                    user_id: *user_id,
                    email: email.clone(),
                    password_hash: password_hash.clone(),
                    display_name: display_name.clone(),
                    roles,
                    registered_at: *now,
                }])
            }
            UserCommand::RegisterWithPhone {
                user_id,
                phone,
                wechat_id,
                roles,
                now,
            } => {
                let roles = self.first_roles(roles)?;
                Ok(vec![UserEvent::UserRegisteredWithPhone {
                    user_id: *user_id,
                    phone: phone.clone(),
                    wechat_id: wechat_id.clone(),
                    roles,
                    registered_at: *now,
                }])
            }
            UserCommand::RegisterWithWechat {
                user_id,
                wechat_id,
                roles,
                now,
            } => {
                let roles = self.first_roles(roles)?;
                Ok(vec![UserEvent::UserRegisteredWithWechat {
                    user_id: *user_id,
                    wechat_id: wechat_id.clone(),
                    roles,
                    registered_at: *now,
                }])
            }
            UserCommand::RegisterWithOAuth {
                user_id,
                provider,
                email,
                display_name,
                roles,
                now,
            } => {
                let roles = self.first_roles(roles)?;
                Ok(vec![UserEvent::UserRegisteredWithOAuth {
                    user_id: *user_id,
                    provider: *provider,
                    email: email.clone(),
                    display_name: display_name.clone(),
                    roles,
                    registered_at: *now,
                }])
            }
            UserCommand::SetPassword {
                password_hash,
                by,
                now,
            } => {
                self.require_active()?;
                Ok(vec![UserEvent::PasswordSetByAdmin {
                    password_hash: password_hash.clone(),
                    set_by: *by,
                    set_at: *now,
                }])
            }
            UserCommand::ChangeEmail { email, by, now } => {
                self.require_active()?;
                if self.email() == Some(email) {
                    return Ok(Vec::new());
                }
                Ok(vec![UserEvent::UserEmailChanged {
                    email: email.clone(),
                    changed_by: *by,
                    changed_at: *now,
                }])
            }
            UserCommand::ChangePassword { password_hash, now } => {
                self.require_active()?;
                Ok(vec![UserEvent::PasswordChanged {
                    password_hash: password_hash.clone(),
                    changed_at: *now,
                }])
            }
            UserCommand::GrantRole { role, by, now } => {
                self.require_active()?;
                if self.has_role(*role) {
                    return Ok(Vec::new());
                }
                Ok(vec![UserEvent::RoleGranted {
                    role: *role,
                    granted_by: *by,
                    granted_at: *now,
                }])
            }
            UserCommand::RevokeRole { role, by, now } => {
                if !self.is_registered() {
                    return Err(UserError::NotRegistered);
                }
                if *role == Role::Customer {
                    return Err(UserError::CustomerRoleIsPermanent);
                }
                // Allowed on a disabled user too: taking privileges away is always safe.
                if !self.has_role(*role) {
                    return Ok(Vec::new());
                }
                Ok(vec![UserEvent::RoleRevoked {
                    role: *role,
                    revoked_by: *by,
                    revoked_at: *now,
                }])
            }
            UserCommand::DisableUser { by, now } => {
                if !self.is_registered() {
                    return Err(UserError::NotRegistered);
                }
                if self.disabled || self.erased {
                    return Ok(Vec::new());
                }
                Ok(vec![UserEvent::UserDisabled {
                    disabled_by: *by,
                    disabled_at: *now,
                }])
            }
            UserCommand::EnableUser { by, now } => {
                if !self.is_registered() {
                    return Err(UserError::NotRegistered);
                }
                if self.erased {
                    return Err(UserError::Erased);
                }
                if !self.disabled {
                    return Ok(Vec::new());
                }
                Ok(vec![UserEvent::UserEnabled {
                    enabled_by: *by,
                    enabled_at: *now,
                }])
            }
            UserCommand::EraseUser { by, now } => {
                if !self.is_registered() {
                    return Err(UserError::NotRegistered);
                }
                if self.erased {
                    return Ok(Vec::new());
                }
                Ok(vec![UserEvent::UserErased {
                    erased_by: *by,
                    erased_at: *now,
                }])
            }
        }
    }

    fn evolve(mut self, event: &UserEvent) -> Self {
        match event {
            UserEvent::UserRegistered {
                user_id,
                email,
                password_hash,
                display_name,
                roles,
                registered_at,
            } => {
                self.registration = Some(Registration {
                    user_id: *user_id,
                    email: Some(email.clone()),
                    password_hash: Some(password_hash.clone()),
                    phone: None,
                    wechat_id: None,
                    display_name: display_name.clone(),
                    registered_at: *registered_at,
                });
                self.roles = roles.clone();
                self.roles.insert(Role::Customer);
            }
            UserEvent::UserRegisteredWithPhone {
                user_id,
                phone,
                wechat_id,
                roles,
                registered_at,
            } => {
                self.registration = Some(Registration {
                    user_id: *user_id,
                    email: None,
                    password_hash: None,
                    phone: Some(phone.clone()),
                    wechat_id: Some(wechat_id.clone()),
                    display_name: None,
                    registered_at: *registered_at,
                });
                self.roles = roles.clone();
                self.roles.insert(Role::Customer);
            }
            UserEvent::UserRegisteredWithWechat {
                user_id,
                wechat_id,
                roles,
                registered_at,
            } => {
                self.registration = Some(Registration {
                    user_id: *user_id,
                    email: None,
                    password_hash: None,
                    phone: None,
                    wechat_id: Some(wechat_id.clone()),
                    display_name: None,
                    registered_at: *registered_at,
                });
                self.roles = roles.clone();
                self.roles.insert(Role::Customer);
            }
            UserEvent::UserRegisteredWithOAuth {
                user_id,
                email,
                display_name,
                roles,
                registered_at,
                ..
            } => {
                self.registration = Some(Registration {
                    user_id: *user_id,
                    email: email.clone(),
                    password_hash: None,
                    phone: None,
                    wechat_id: None,
                    display_name: display_name.clone(),
                    registered_at: *registered_at,
                });
                self.roles = roles.clone();
                self.roles.insert(Role::Customer);
            }
            UserEvent::UserEmailChanged { email, .. } => {
                if let Some(r) = self.registration.as_mut() {
                    r.email = Some(email.clone());
                }
            }
            UserEvent::PasswordSetByAdmin { password_hash, .. }
            | UserEvent::PasswordChanged { password_hash, .. } => {
                if let Some(r) = self.registration.as_mut() {
                    r.password_hash = Some(password_hash.clone());
                }
            }
            UserEvent::RoleGranted { role, .. } => {
                self.roles.insert(*role);
            }
            UserEvent::RoleRevoked { role, .. } => {
                self.roles.remove(role);
            }
            UserEvent::UserDisabled { .. } => self.disabled = true,
            UserEvent::UserEnabled { .. } => self.disabled = false,
            UserEvent::UserErased { .. } => self.erased = true,
        }
        self
    }
}
