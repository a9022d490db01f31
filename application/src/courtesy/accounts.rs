//! Accounts (seed 001 `user_register`, `user_login`, `user_logout`, `user_info`,
//! `user_edit_profile`) on the one shared identity.
//!
//! The client sends `pwd` as the MD5 hex of the password; that string is what the identity
//! hashes with Argon2id and stores — the MD5 itself is never stored (SECURITY.md, "Courtesy").
//! Registering claims the email (`userEmail-…`), writes the identity user, takes the next
//! `user_id` (`courtesySequence-user`) and opens `courtesyAccount-{userId}` in one atomic commit
//! (docs/decisions/0009-multi-stream-append.md), so two concurrent registrations of one address
//! leave exactly one user. A sign-in starts an identity session (a refresh family) and records
//! `CourtesyAccountSignedIn` in one commit too (docs/decisions/0023-courtesy-sessions.md).

use super::{CourtesyError, CourtesyService};
use crate::command::CommandRunner;
use crate::event_store::{EventMetadata, StreamId};
use crate::identity::AccessError;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use tessera_domain::UserId;
use tessera_domain::courtesy::account::{AccountCommand, CourtesyAccount};
use tessera_domain::courtesy::profile::{Profile, ProfileChange};
use tessera_domain::courtesy::sequence::{CourtesySequence, SequenceCommand, SequenceKind};
use tessera_domain::identity::{
    ClaimEmail, Email, EmailClaim, RefreshFamily, Role, User, UserCommand, email_stream_id,
};
use tessera_domain::shared::FieldError;
use uuid::Uuid;

/// A registered or signed-in account.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The identity user.
    pub account_id: UserId,
    /// The seed's integer `user_id`.
    pub user_id: u64,
    /// The session token for the cookie (`None` for a registration, which does not sign in).
    pub session: Option<String>,
    /// When the session ends (UTC).
    pub session_expires_at: Option<DateTime<Utc>>,
    /// Where the commit reached.
    pub position: Option<u64>,
}

/// `account_info` as far as the event store knows it (`card_count` comes from the read model).
#[derive(Debug, Clone)]
pub struct AccountInfo {
    /// The seed's integer `user_id`.
    pub user_id: u64,
    /// The email (`[erased]` after erasure).
    pub email: String,
    /// When the account was opened (UTC).
    pub registered_at: DateTime<Utc>,
    /// The latest sign-in (UTC), if any.
    pub last_login_at: Option<DateTime<Utc>>,
    /// The profile, once edited.
    pub profile: Option<Profile>,
}

/// Check `pwd`: 32 hexadecimal characters (the client's MD5 of the password); lower-cased.
///
/// Errors: [`FieldError`] on `pwd`.
pub fn check_pwd(pwd: &str) -> Result<String, FieldError> {
    if pwd.len() == 32 && pwd.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(pwd.to_ascii_lowercase())
    } else {
        Err(FieldError::new(
            "pwd",
            "must be 32 hexadecimal characters (the MD5 of the password)",
        ))
    }
}

/// Check `email`.
///
/// Errors: [`FieldError`] on `email`.
pub fn check_email(email: &str) -> Result<Email, FieldError> {
    Email::parse(email).map_err(|e| FieldError::new("email", e.to_string()))
}

impl CourtesyService {
    /// `user_register`: a new identity user with a Courtesy account and the next `user_id`.
    ///
    /// Errors: [`CourtesyError::Field`] (`email`, `pwd`), [`CourtesyError::EmailTaken`], engine
    /// and hashing failures.
    pub async fn register(
        &self,
        email: &str,
        pwd: &str,
        meta: &EventMetadata,
    ) -> Result<SignedIn, CourtesyError> {
        let email = check_email(email)?;
        let pwd = check_pwd(pwd)?;
        let password_hash = self.identity.hash_new_password(&pwd)?;
        let claim_stream =
            StreamId::parse(email_stream_id(&email)).map_err(crate::command::EngineError::from)?;
        let account_id = UserId::from_uuid(Uuid::now_v7());
        let user_stream = CommandRunner::stream::<User>(account_id)?;
        let account_stream = CommandRunner::stream::<CourtesyAccount>(account_id)?;
        let sequence_stream =
            CommandRunner::stream::<CourtesySequence>(SequenceKind::User.as_str())?;
        let now = self.now();
        let mut meta = meta.clone();
        meta.actor_user_id
            .get_or_insert_with(|| account_id.to_string());
        let mut atomic = self.runner.atomic(&meta);
        let claim = atomic.stream::<EmailClaim>(&claim_stream);
        let user = atomic.stream::<User>(&user_stream);
        let sequence = atomic.stream::<CourtesySequence>(&sequence_stream);
        let account = atomic.stream::<CourtesyAccount>(&account_stream);
        let committed = atomic
            .run(|d| {
                if d.state(claim)?.user_id().is_some() {
                    return Err(CourtesyError::EmailTaken);
                }
                d.decide(
                    claim,
                    &ClaimEmail {
                        email: email.clone(),
                        user_id: account_id,
                        now,
                    },
                )
                .map_err(|e| e.map_rejected(|_| CourtesyError::EmailTaken))?;
                d.decide(
                    user,
                    &UserCommand::RegisterUser {
                        user_id: account_id,
                        email: email.clone(),
                        password_hash: password_hash.clone(),
                        display_name: None,
                        roles: BTreeSet::from([Role::Customer]),
                        now,
                    },
                )
                .map_err(|e| e.map_rejected(|_| CourtesyError::EmailTaken))?;
                let number = d.state(sequence)?.next();
                take(d, sequence, number, &account_stream, now)?;
                d.decide(
                    account,
                    &AccountCommand::Open {
                        user_id: number,
                        account_id,
                        now,
                    },
                )
                .map_err(|e| e.map_rejected(|_| CourtesyError::NotFound))?;
                Ok::<_, CourtesyError>(number)
            })
            .await?;
        Ok(SignedIn {
            account_id,
            user_id: committed.value,
            session: None,
            session_expires_at: None,
            position: committed.position(),
        })
    }

    /// `user_login`: check the email and `pwd`, start a session, record the sign-in (opening a
    /// Courtesy account first for an identity user who never used Courtesy).
    ///
    /// Errors: [`CourtesyError::Field`] (`email`, `pwd` malformed),
    /// [`CourtesyError::InvalidCredentials`], [`CourtesyError::Banned`], engine failures.
    pub async fn login(
        &self,
        email: &str,
        pwd: &str,
        meta: &EventMetadata,
    ) -> Result<SignedIn, CourtesyError> {
        check_email(email)?;
        let pwd = check_pwd(pwd)?;
        let (account_id, _) = self.identity.verify_credentials(email, &pwd).await?;
        let session = self.identity.new_session(account_id)?;
        let account_stream = CommandRunner::stream::<CourtesyAccount>(account_id)?;
        let sequence_stream =
            CommandRunner::stream::<CourtesySequence>(SequenceKind::User.as_str())?;
        let now = self.now();
        let mut meta = meta.clone();
        meta.actor_user_id
            .get_or_insert_with(|| account_id.to_string());
        let mut atomic = self.runner.atomic(&meta);
        let family = atomic.stream::<RefreshFamily>(&session.stream);
        let sequence = atomic.stream::<CourtesySequence>(&sequence_stream);
        let account = atomic.stream::<CourtesyAccount>(&account_stream);
        let session_id = session.family_id;
        let committed = atomic
            .run(|d| {
                d.decide(family, &session.command)
                    .map_err(|e| e.map_rejected(|_| CourtesyError::InvalidCredentials))?;
                if d.state(account)?.user_id().is_none() {
                    let number = d.state(sequence)?.next();
                    take(d, sequence, number, &account_stream, now)?;
                    d.decide(
                        account,
                        &AccountCommand::Open {
                            user_id: number,
                            account_id,
                            now,
                        },
                    )
                    .map_err(|e| e.map_rejected(|_| CourtesyError::NotFound))?;
                }
                d.decide(account, &AccountCommand::SignIn { session_id, now })
                    .map_err(|e| e.map_rejected(|_| CourtesyError::NotFound))?;
                Ok::<_, CourtesyError>(d.state(account)?.user_id().unwrap_or_default())
            })
            .await?;
        Ok(SignedIn {
            account_id,
            user_id: committed.value,
            session: Some(session.token),
            session_expires_at: Some(session.expires_at),
            position: committed.position(),
        })
    }

    /// The user of a session cookie.
    ///
    /// Errors: [`CourtesyError::NotSignedIn`] (unknown, ended, expired session; disabled user),
    /// [`CourtesyError::Identity`] when the store cannot be read.
    pub async fn authorize(&self, session: &str) -> Result<UserId, CourtesyError> {
        match self.identity.authorize_session(session).await {
            Ok(user) => Ok(user),
            Err(AccessError::Refused(_)) => Err(CourtesyError::NotSignedIn),
            Err(AccessError::Unavailable(e)) => Err(CourtesyError::Identity(e)),
        }
    }

    /// `user_logout`: end the session server side; its cookie is refused from then on.
    ///
    /// Errors: [`CourtesyError::NotSignedIn`] when the session is not live; engine failures.
    pub async fn logout(&self, session: &str) -> Result<(), CourtesyError> {
        self.authorize(session).await?;
        self.identity
            .logout(session)
            .await
            .map_err(|e| match CourtesyError::from(e) {
                CourtesyError::Identity(crate::identity::IdentityError::InvalidRefreshToken) => {
                    CourtesyError::NotSignedIn
                }
                other => other,
            })
    }

    /// `user_info` from the event store (the api adds `card_count` from the read model).
    ///
    /// Errors: [`CourtesyError::NotFound`] (no Courtesy account), engine failures.
    pub async fn info(&self, account_id: UserId) -> Result<AccountInfo, CourtesyError> {
        let (account, _) = self
            .runner
            .load::<CourtesyAccount>(&CommandRunner::stream::<CourtesyAccount>(account_id)?)
            .await?;
        let (user, _) = self
            .runner
            .load::<User>(&CommandRunner::stream::<User>(account_id)?)
            .await?;
        let (Some(user_id), Some(registered_at)) = (account.user_id(), account.opened_at()) else {
            return Err(CourtesyError::NotFound);
        };
        Ok(AccountInfo {
            user_id,
            email: user
                .email()
                .map(|e| e.as_str().to_owned())
                .unwrap_or_default(),
            registered_at,
            last_login_at: account.last_login_at(),
            profile: account.profile().cloned(),
        })
    }

    /// `user_edit_profile`: change the given fields (see `tessera_domain::courtesy::profile`
    /// for the limits).
    ///
    /// Errors: [`CourtesyError::Field`] naming the first invalid field, engine failures.
    pub async fn edit_profile(
        &self,
        account_id: UserId,
        change: ProfileChange,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, CourtesyError> {
        let command = AccountCommand::EditProfile {
            change,
            now: self.now(),
        };
        let decided = self
            .runner
            .run::<CourtesyAccount>(
                &CommandRunner::stream::<CourtesyAccount>(account_id)?,
                &command,
                meta,
            )
            .await
            .map_err(|e| {
                e.map_rejected(|r| match r {
                    tessera_domain::courtesy::account::AccountError::Field(f) => f.into(),
                    tessera_domain::courtesy::account::AccountError::NotOpened => {
                        CourtesyError::NotFound
                    }
                })
            })?;
        Ok(decided.position())
    }
}

/// Inside an atomic decision: take `number` of the user counter for `assigned_to`.
fn take(
    d: &mut crate::command::Decisions,
    sequence: crate::command::Handle<CourtesySequence>,
    number: u64,
    assigned_to: &StreamId,
    now: DateTime<Utc>,
) -> Result<(), CourtesyError> {
    d.decide(
        sequence,
        &SequenceCommand::Take {
            kind: SequenceKind::User,
            number,
            assigned_to: assigned_to.as_str().to_owned(),
            now,
        },
    )
    // The number was read from the same state inside this decision, so it is always next; a
    // concurrent taker makes the whole commit conflict and decide again.
    .map_err(|e| e.map_rejected(|_| CourtesyError::NotFound))?;
    Ok(())
}
