//! Identity: one set of users for all five API documents (DESIGN.md §7), as three deciders.
//!
//! - [`User`] (`user-{userId}`): registration, password changes, roles, disabling.
//! - [`EmailClaim`] (`userEmail-{uuid v5}`): the guard stream that makes an email address unique
//!   (DESIGN.md §5). It holds one [`EmailClaimEvent::EmailClaimed`]; the service appends it with
//!   expected version "no stream", so of two concurrent claims the second loses on the version.
//! - [`RefreshFamily`] (`refreshFamily-{familyId}`): one sign-in's chain of refresh tokens. Each
//!   refresh rotates the token; presenting a token that was already rotated away is taken as theft
//!   and revokes the whole family.
//!
//! Nothing secret is held here: passwords arrive as Argon2id PHC strings and refresh tokens as
//! SHA-256 hex digests, both computed by adapters outside the domain. Stored shapes follow
//! docs/event-catalog.md, section "Identity".

use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashSet};
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

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
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

    /// Whether the account is disabled (it can no longer sign in).
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    fn require_active(&self) -> Result<(), UserError> {
        if !self.is_registered() {
            Err(UserError::NotRegistered)
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
    /// Replace the password hash.
    ChangePassword {
        /// Argon2id PHC string of the new password.
        password_hash: String,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Grant a role; granting one already held changes nothing.
    GrantRole {
        /// The role.
        role: Role,
        /// The admin acting, or `None` for the command-line tool.
        by: Option<UserId>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Take a role away; revoking one not held changes nothing. Customer cannot be revoked.
    RevokeRole {
        /// The role.
        role: Role,
        /// The admin acting, or `None` for the command-line tool.
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
        /// The user's id.
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
        /// The user's id.
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
    /// The password was replaced.
    PasswordChanged {
        /// Argon2id PHC string of the new password.
        password_hash: String,
        /// When (UTC).
        changed_at: DateTime<Utc>,
    },
    /// A role was granted.
    RoleGranted {
        /// The role.
        role: Role,
        /// Who granted it (null for the command-line tool).
        granted_by: Option<UserId>,
        /// When (UTC).
        granted_at: DateTime<Utc>,
    },
    /// A role was taken away.
    RoleRevoked {
        /// The role.
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
                if self.is_registered() {
                    return Err(UserError::AlreadyRegistered);
                }
                let mut roles = roles.clone();
                roles.insert(Role::Customer);
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
                if self.is_registered() {
                    return Err(UserError::AlreadyRegistered);
                }
                let mut roles = roles.clone();
                roles.insert(Role::Customer);
                Ok(vec![UserEvent::UserRegisteredWithPhone {
                    user_id: *user_id,
                    phone: phone.clone(),
                    wechat_id: wechat_id.clone(),
                    roles,
                    registered_at: *now,
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
                if self.disabled {
                    return Ok(Vec::new());
                }
                Ok(vec![UserEvent::UserDisabled {
                    disabled_by: *by,
                    disabled_at: *now,
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
            UserEvent::PasswordChanged { password_hash, .. } => {
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
        }
        self
    }
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
        /// Its owner.
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
        /// Why.
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
        /// The family's id.
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::testing::given;
    use chrono::TimeZone;
    use serde_json::json;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 20, 10, 0, 0).unwrap() + chrono::Duration::seconds(secs)
    }

    fn uid(n: u128) -> UserId {
        UserId::from_uuid(Uuid::from_u128(n))
    }

    fn email(s: &str) -> Email {
        Email::parse(s).unwrap()
    }

    // --- value types -----------------------------------------------------------------------

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(email("  Ann@Example.COM ").as_str(), "ann@example.com");
        assert_eq!(
            Email::parse(&format!("{}@example.com", "a".repeat(242)))
                .unwrap()
                .as_str()
                .len(),
            254
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
        for bad in [
            "plain",
            "@example.com",
            "ann@",
            "ann@localhost",
            "ann@@example.com",
            "a@b@example.com",
            "ann@.example.com",
            "ann@example.com.",
            "ann@example..com",
            "an n@example.com",
        ] {
            assert!(
                matches!(Email::parse(bad), Err(EmailError::Malformed(_))),
                "{bad}"
            );
        }
        assert_eq!(
            Email::parse(&format!("{}@example.com", "a".repeat(250))),
            Err(EmailError::TooLong { max: 254 })
        );
    }

    #[test]
    fn emails_deserialise_through_parse() {
        let e: Email = serde_json::from_value(json!("Ann@Example.com")).unwrap();
        assert_eq!(e.as_str(), "ann@example.com");
        assert!(serde_json::from_value::<Email>(json!("nope")).is_err());
        assert_eq!(serde_json::to_value(&e).unwrap(), json!("ann@example.com"));
    }

    #[test]
    fn email_stream_is_uuid_v5_of_the_mailto_url() {
        let e = email("Ann@Example.com");
        let expected = Uuid::new_v5(&Uuid::NAMESPACE_URL, b"mailto:ann@example.com");
        assert_eq!(email_claim_id(&e), expected);
        assert_eq!(email_stream_id(&e), format!("userEmail-{expected}"));
        assert_eq!(email_claim_id(&e).get_version_num(), 5);
        assert_ne!(
            email_stream_id(&e),
            email_stream_id(&email("bob@example.com"))
        );
    }

    #[test]
    fn roles_parse_and_serialise_lower_case() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(serde_json::to_value(role).unwrap(), json!(role.as_str()));
        }
        assert_eq!(" Admin ".parse::<Role>(), Ok(Role::Admin));
        assert_eq!("root".parse::<Role>(), Err(UnknownRole("root".into())));
        assert!(serde_json::from_value::<Role>(json!("Admin")).is_err());
    }

    // --- User ------------------------------------------------------------------------------

    fn registered(roles: &[Role]) -> UserEvent {
        UserEvent::UserRegistered {
            user_id: uid(1),
            email: email("ann@example.com"),
            password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA".into(),
            display_name: Some("Ann".into()),
            roles: roles.iter().copied().collect(),
            registered_at: t(0),
        }
    }

    #[test]
    fn registering_adds_the_customer_role() {
        given::<User>([])
            .when(UserCommand::RegisterUser {
                user_id: uid(1),
                email: email("ann@example.com"),
                password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA".into(),
                display_name: Some("Ann".into()),
                roles: BTreeSet::new(),
                now: t(0),
            })
            .then([registered(&[Role::Customer])]);
    }

    #[test]
    fn registering_twice_is_refused() {
        given::<User>([registered(&[Role::Customer])])
            .when(UserCommand::RegisterUser {
                user_id: uid(1),
                email: email("ann@example.com"),
                password_hash: "x".into(),
                display_name: None,
                roles: BTreeSet::new(),
                now: t(1),
            })
            .then_err(UserError::AlreadyRegistered);
    }

    #[test]
    fn state_after_registration() {
        let user = User::replay(&[registered(&[Role::Organizer])]);
        assert!(user.is_registered());
        assert_eq!(user.user_id(), Some(uid(1)));
        assert_eq!(user.email(), Some(&email("ann@example.com")));
        assert_eq!(user.display_name(), Some("Ann"));
        assert_eq!(user.registered_at(), Some(t(0)));
        assert!(user.has_role(Role::Customer), "customer is implied");
        assert!(user.has_role(Role::Organizer));
        assert!(!user.is_disabled());
    }

    #[test]
    fn changing_the_password() {
        given::<User>([registered(&[Role::Customer])])
            .when(UserCommand::ChangePassword {
                password_hash: "new".into(),
                now: t(5),
            })
            .then([UserEvent::PasswordChanged {
                password_hash: "new".into(),
                changed_at: t(5),
            }]);
        let user = User::replay(&[
            registered(&[Role::Customer]),
            UserEvent::PasswordChanged {
                password_hash: "new".into(),
                changed_at: t(5),
            },
        ]);
        assert_eq!(user.password_hash(), Some("new"));
        given::<User>([])
            .when(UserCommand::ChangePassword {
                password_hash: "new".into(),
                now: t(5),
            })
            .then_err(UserError::NotRegistered);
    }

    #[test]
    fn granting_a_role() {
        given::<User>([registered(&[Role::Customer])])
            .when(UserCommand::GrantRole {
                role: Role::Staff,
                by: Some(uid(9)),
                now: t(3),
            })
            .then([UserEvent::RoleGranted {
                role: Role::Staff,
                granted_by: Some(uid(9)),
                granted_at: t(3),
            }]);
    }

    #[test]
    fn granting_a_held_role_changes_nothing() {
        given::<User>([registered(&[Role::Customer, Role::Admin])])
            .when(UserCommand::GrantRole {
                role: Role::Admin,
                by: None,
                now: t(3),
            })
            .then([]);
    }

    #[test]
    fn granting_to_an_unknown_or_disabled_user_is_refused() {
        given::<User>([])
            .when(UserCommand::GrantRole {
                role: Role::Admin,
                by: None,
                now: t(3),
            })
            .then_err(UserError::NotRegistered);
        given::<User>([
            registered(&[Role::Customer]),
            UserEvent::UserDisabled {
                disabled_by: None,
                disabled_at: t(1),
            },
        ])
        .when(UserCommand::GrantRole {
            role: Role::Admin,
            by: None,
            now: t(3),
        })
        .then_err(UserError::Disabled);
    }

    #[test]
    fn revoking_a_role() {
        given::<User>([registered(&[Role::Customer, Role::Auditor])])
            .when(UserCommand::RevokeRole {
                role: Role::Auditor,
                by: None,
                now: t(4),
            })
            .then([UserEvent::RoleRevoked {
                role: Role::Auditor,
                revoked_by: None,
                revoked_at: t(4),
            }]);
        let user = User::replay(&[
            registered(&[Role::Auditor]),
            UserEvent::RoleRevoked {
                role: Role::Auditor,
                revoked_by: None,
                revoked_at: t(4),
            },
        ]);
        assert_eq!(user.roles(), &BTreeSet::from([Role::Customer]));
    }

    #[test]
    fn revoking_a_role_not_held_changes_nothing() {
        given::<User>([registered(&[Role::Customer])])
            .when(UserCommand::RevokeRole {
                role: Role::Admin,
                by: None,
                now: t(4),
            })
            .then([]);
    }

    #[test]
    fn customer_cannot_be_revoked() {
        given::<User>([registered(&[Role::Customer])])
            .when(UserCommand::RevokeRole {
                role: Role::Customer,
                by: None,
                now: t(4),
            })
            .then_err(UserError::CustomerRoleIsPermanent);
        given::<User>([])
            .when(UserCommand::RevokeRole {
                role: Role::Admin,
                by: None,
                now: t(4),
            })
            .then_err(UserError::NotRegistered);
    }

    #[test]
    fn disabling_a_user_once() {
        let disabled = UserEvent::UserDisabled {
            disabled_by: Some(uid(9)),
            disabled_at: t(6),
        };
        given::<User>([registered(&[Role::Customer])])
            .when(UserCommand::DisableUser {
                by: Some(uid(9)),
                now: t(6),
            })
            .then([disabled.clone()]);
        given::<User>([registered(&[Role::Customer]), disabled.clone()])
            .when(UserCommand::DisableUser {
                by: None,
                now: t(7),
            })
            .then([]);
        given::<User>([registered(&[Role::Customer]), disabled])
            .when(UserCommand::ChangePassword {
                password_hash: "x".into(),
                now: t(7),
            })
            .then_err(UserError::Disabled);
        given::<User>([])
            .when(UserCommand::DisableUser {
                by: None,
                now: t(7),
            })
            .then_err(UserError::NotRegistered);
    }

    #[test]
    fn user_events_round_trip_in_catalog_shape() {
        let events = [
            registered(&[Role::Customer, Role::Admin]),
            UserEvent::PasswordChanged {
                password_hash: "p".into(),
                changed_at: t(1),
            },
            UserEvent::RoleGranted {
                role: Role::Staff,
                granted_by: None,
                granted_at: t(2),
            },
            UserEvent::RoleRevoked {
                role: Role::Staff,
                revoked_by: Some(uid(9)),
                revoked_at: t(3),
            },
            UserEvent::UserDisabled {
                disabled_by: None,
                disabled_at: t(4),
            },
        ];
        for event in &events {
            let (ty, data) = event.to_stored().unwrap();
            assert_eq!(&UserEvent::from_stored(&ty, &data).unwrap(), event);
        }
        let (ty, data) = events[0].to_stored().unwrap();
        assert_eq!(ty, "UserRegistered");
        assert_eq!(
            data,
            json!({
                "userId": "00000000-0000-0000-0000-000000000001",
                "email": "ann@example.com",
                "passwordHash": "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
                "displayName": "Ann",
                "roles": ["customer", "admin"],
                "registeredAt": "2025-01-20T10:00:00Z",
            })
        );
        let (ty, data) = events[2].to_stored().unwrap();
        assert_eq!(ty, "RoleGranted");
        assert_eq!(
            data,
            json!({"role": "staff", "grantedBy": null, "grantedAt": "2025-01-20T10:00:02Z"})
        );
        let (_, data) = events[3].to_stored().unwrap();
        assert_eq!(
            data["revokedBy"],
            json!("00000000-0000-0000-0000-000000000009")
        );
        let (ty, data) = events[4].to_stored().unwrap();
        assert_eq!(ty, "UserDisabled");
        assert_eq!(
            data,
            json!({"disabledBy": null, "disabledAt": "2025-01-20T10:00:04Z"})
        );
        let (ty, data) = events[1].to_stored().unwrap();
        assert_eq!(ty, "PasswordChanged");
        assert_eq!(
            data,
            json!({"passwordHash": "p", "changedAt": "2025-01-20T10:00:01Z"})
        );
    }

    // --- EmailClaim ------------------------------------------------------------------------

    fn claimed(user: u128) -> EmailClaimEvent {
        EmailClaimEvent::EmailClaimed {
            email: email("ann@example.com"),
            user_id: uid(user),
            claimed_at: t(0),
        }
    }

    fn claim(user: u128) -> ClaimEmail {
        ClaimEmail {
            email: email("ann@example.com"),
            user_id: uid(user),
            now: t(0),
        }
    }

    #[test]
    fn claiming_a_free_address() {
        given::<EmailClaim>([]).when(claim(1)).then([claimed(1)]);
        let state = EmailClaim::replay(&[claimed(1)]);
        assert_eq!(state.user_id(), Some(uid(1)));
        assert_eq!(state.email(), Some(&email("ann@example.com")));
        assert_eq!(state.claimed_at(), Some(t(0)));
    }

    #[test]
    fn claiming_an_address_held_by_another_is_refused() {
        given::<EmailClaim>([claimed(1)])
            .when(claim(2))
            .then_err(EmailClaimError::EmailTaken);
    }

    #[test]
    fn claiming_again_for_the_same_user_changes_nothing() {
        given::<EmailClaim>([claimed(1)]).when(claim(1)).then([]);
    }

    #[test]
    fn the_first_claim_stands() {
        let state = EmailClaim::replay(&[claimed(1), claimed(2)]);
        assert_eq!(state.user_id(), Some(uid(1)));
    }

    #[test]
    fn email_claim_round_trips_in_catalog_shape() {
        let event = claimed(1);
        let (ty, data) = event.to_stored().unwrap();
        assert_eq!(ty, "EmailClaimed");
        assert_eq!(
            data,
            json!({
                "email": "ann@example.com",
                "userId": "00000000-0000-0000-0000-000000000001",
                "claimedAt": "2025-01-20T10:00:00Z",
            })
        );
        assert_eq!(EmailClaimEvent::from_stored(&ty, &data).unwrap(), event);
    }

    // --- RefreshFamily ---------------------------------------------------------------------

    const FAMILY: u128 = 77;

    fn started() -> RefreshFamilyEvent {
        RefreshFamilyEvent::RefreshFamilyStarted {
            family_id: Uuid::from_u128(FAMILY),
            user_id: uid(1),
            token_hash: "h1".into(),
            started_at: t(0),
            expires_at: t(100),
        }
    }

    fn rotated(from: &str, to: &str, at: i64) -> RefreshFamilyEvent {
        RefreshFamilyEvent::RefreshTokenRotated {
            previous_hash: from.into(),
            token_hash: to.into(),
            rotated_at: t(at),
            expires_at: t(at + 100),
        }
    }

    fn rotate(presented: &str, new: &str, at: i64) -> RefreshFamilyCommand {
        RefreshFamilyCommand::Rotate {
            presented_hash: presented.into(),
            new_hash: new.into(),
            now: t(at),
            expires_at: t(at + 100),
        }
    }

    #[test]
    fn starting_a_family() {
        given::<RefreshFamily>([])
            .when(RefreshFamilyCommand::Start {
                family_id: Uuid::from_u128(FAMILY),
                user_id: uid(1),
                token_hash: "h1".into(),
                now: t(0),
                expires_at: t(100),
            })
            .then([started()]);
        given::<RefreshFamily>([started()])
            .when(RefreshFamilyCommand::Start {
                family_id: Uuid::from_u128(FAMILY),
                user_id: uid(1),
                token_hash: "h9".into(),
                now: t(0),
                expires_at: t(100),
            })
            .then_err(RefreshFamilyError::AlreadyStarted);
        let state = RefreshFamily::replay(&[started()]);
        assert_eq!(state.family_id(), Some(Uuid::from_u128(FAMILY)));
        assert_eq!(state.user_id(), Some(uid(1)));
        assert_eq!(state.expires_at(), Some(t(100)));
        assert!(state.knows_hash("h1") && !state.knows_hash("h2"));
    }

    #[test]
    fn rotating_the_current_token() {
        given::<RefreshFamily>([started()])
            .when(rotate("h1", "h2", 10))
            .then([rotated("h1", "h2", 10)]);
        given::<RefreshFamily>([started(), rotated("h1", "h2", 10)])
            .when(rotate("h2", "h3", 20))
            .then([rotated("h2", "h3", 20)]);
    }

    #[test]
    fn presenting_a_rotated_token_revokes_the_family() {
        given::<RefreshFamily>([started(), rotated("h1", "h2", 10)])
            .when(rotate("h1", "h3", 20))
            .then([RefreshFamilyEvent::RefreshFamilyRevoked {
                reason: RevokeReason::Reuse,
                revoked_at: t(20),
            }]);
    }

    #[test]
    fn after_reuse_even_the_newest_token_is_refused() {
        given::<RefreshFamily>([
            started(),
            rotated("h1", "h2", 10),
            RefreshFamilyEvent::RefreshFamilyRevoked {
                reason: RevokeReason::Reuse,
                revoked_at: t(20),
            },
        ])
        .when(rotate("h2", "h3", 21))
        .then_err(RefreshFamilyError::Revoked);
    }

    #[test]
    fn expired_unknown_and_unstarted_tokens_are_refused() {
        given::<RefreshFamily>([started()])
            .when(rotate("h1", "h2", 100))
            .then_err(RefreshFamilyError::Expired);
        given::<RefreshFamily>([started(), rotated("h1", "h2", 10)])
            .when(rotate("h2", "h3", 109))
            .then([rotated("h2", "h3", 109)]);
        given::<RefreshFamily>([started()])
            .when(rotate("zz", "h2", 10))
            .then_err(RefreshFamilyError::UnknownToken);
        given::<RefreshFamily>([])
            .when(rotate("h1", "h2", 10))
            .then_err(RefreshFamilyError::NotStarted);
    }

    #[test]
    fn logging_out_revokes_once() {
        let revoked = RefreshFamilyEvent::RefreshFamilyRevoked {
            reason: RevokeReason::Logout,
            revoked_at: t(5),
        };
        given::<RefreshFamily>([started()])
            .when(RefreshFamilyCommand::Revoke {
                reason: RevokeReason::Logout,
                now: t(5),
            })
            .then([revoked.clone()]);
        given::<RefreshFamily>([started(), revoked.clone()])
            .when(RefreshFamilyCommand::Revoke {
                reason: RevokeReason::Logout,
                now: t(6),
            })
            .then([]);
        given::<RefreshFamily>([started(), revoked.clone()])
            .when(rotate("h1", "h2", 6))
            .then_err(RefreshFamilyError::Revoked);
        given::<RefreshFamily>([])
            .when(RefreshFamilyCommand::Revoke {
                reason: RevokeReason::Logout,
                now: t(6),
            })
            .then_err(RefreshFamilyError::NotStarted);
        assert_eq!(
            RefreshFamily::replay(&[started(), revoked]).revoked(),
            Some(RevokeReason::Logout)
        );
    }

    #[test]
    fn refresh_family_events_round_trip_in_catalog_shape() {
        let events = [
            started(),
            rotated("h1", "h2", 10),
            RefreshFamilyEvent::RefreshFamilyRevoked {
                reason: RevokeReason::Reuse,
                revoked_at: t(20),
            },
        ];
        for event in &events {
            let (ty, data) = event.to_stored().unwrap();
            assert_eq!(&RefreshFamilyEvent::from_stored(&ty, &data).unwrap(), event);
        }
        assert_eq!(
            events[0].to_stored().unwrap(),
            (
                "RefreshFamilyStarted".to_owned(),
                json!({
                    "familyId": "00000000-0000-0000-0000-00000000004d",
                    "userId": "00000000-0000-0000-0000-000000000001",
                    "tokenHash": "h1",
                    "startedAt": "2025-01-20T10:00:00Z",
                    "expiresAt": "2025-01-20T10:01:40Z",
                })
            )
        );
        assert_eq!(
            events[1].to_stored().unwrap(),
            (
                "RefreshTokenRotated".to_owned(),
                json!({
                    "previousHash": "h1",
                    "tokenHash": "h2",
                    "rotatedAt": "2025-01-20T10:00:10Z",
                    "expiresAt": "2025-01-20T10:01:50Z",
                })
            )
        );
        assert_eq!(
            events[2].to_stored().unwrap(),
            (
                "RefreshFamilyRevoked".to_owned(),
                json!({"reason": "reuse", "revokedAt": "2025-01-20T10:00:20Z"})
            )
        );
    }
}
