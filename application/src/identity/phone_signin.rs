//! Sign-in of the meeting-ticket document (seed 000 §1–§3): SMS codes, WeChat tokens, users made
//! of a WeChat id and a phone number, and access tokens for either.
//!
//! Users made here are the same [`User`] aggregate as email users (one identity for all five
//! documents); they carry a phone and a WeChat id instead of an email and a password.
//!
//! # Unique phone and WeChat id
//! Both are guarded by [`IdentifierClaim`] streams (DESIGN.md §5). `POST /users` claims the WeChat
//! id and the phone and writes the user in one atomic commit
//! (docs/decisions/0009-multi-stream-append.md), so a failed or interrupted registration leaves
//! nothing behind. Versions before that wrote the three one after another, and a crash between
//! them could leave a claim whose user was never written; such a claim older than
//! [`ORPHAN_AFTER_SECS`] is released by the next registration that needs the value (with the
//! claim's expected version, so of several racing registrations one wins).

use crate::clock::Clock;
use crate::command::{AtomicCommand, EngineError, execute, load};
use crate::event_store::{EventMetadata, EventStore, StoreError, StreamId};
use crate::identity::ports::{SmsError, SmsSender, WechatAuth, WechatAuthError};
use crate::identity::{AccessTokens, IdentityError, IssuedToken, Secrets, UserView};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use std::collections::BTreeSet;
use std::sync::Arc;
use tessera_domain::identity::sms::{
    SmsChallenge, SmsChallengeError, SmsCommand, SmsEvent, sms_stream_id,
};
use tessera_domain::identity::wechat::{RecordWechatToken, WechatAccount, wechat_stream_id};
use tessera_domain::identity::{Phone, PhoneError};
use tessera_domain::identity::{Role, User, UserCommand};
use tessera_domain::shared::claim::{ClaimCommand, ClaimKind, IdentifierClaim, claim_stream_id};
use tessera_domain::{Decider, UserId};
use uuid::Uuid;

/// A claim whose user stream is still missing after this many seconds is treated as left behind
/// by a crashed registration.
pub const ORPHAN_AFTER_SECS: i64 = 60;

/// Longest WeChat id or token accepted, in bytes (openids are 28 characters; tokens about 100).
pub const MAX_WECHAT_FIELD_LEN: usize = 512;

/// Tunables (docs/meeting-tickets.md).
#[derive(Debug, Clone, Copy)]
pub struct SignInSettings {
    /// How long an SMS code is valid (default 5 minutes).
    pub sms_ttl: Duration,
    /// Minimum time between two codes for one phone (default 60 s).
    pub sms_cooldown: Duration,
    /// Wrong attempts allowed per code (default 5).
    pub sms_max_attempts: u32,
    /// How long a WeChat token verified with WeChat is accepted for sign-in (default 7200 s, the
    /// lifetime WeChat gives web access tokens).
    pub wechat_token_ttl: Duration,
}

impl Default for SignInSettings {
    fn default() -> Self {
        Self {
            sms_ttl: Duration::minutes(5),
            sms_cooldown: Duration::seconds(60),
            sms_max_attempts: 5,
            wechat_token_ttl: Duration::seconds(7200),
        }
    }
}

/// Random sign-in codes and their keyed hashes.
pub trait SignInCodes: Send + Sync {
    /// A fresh uniformly random 6-digit code (`"042917"`).
    ///
    /// Errors: [`SignInError::Crypto`] when the random source fails.
    fn new_code(&self) -> Result<String, SignInError>;
    /// The stored form of `code` for `phone`: a keyed hash (HMAC-SHA256 with a server secret,
    /// lower-case hex), so the log of events does not reveal codes even to someone who can try all
    /// million of them.
    fn hash(&self, phone: &str, code: &str) -> String;
}

/// Which WeChat input of a sign-in request was unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WechatField {
    /// The openid (`wechatId`).
    Id,
    /// The access token (`wechatToken`).
    Token,
}

/// Why a sign-in request failed: typed, without wording; each document's api module words it.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The phone is not a mainland mobile number.
    #[error(transparent)]
    Phone(#[from] PhoneError),
    /// A WeChat input is empty (`empty`), or longer than [`MAX_WECHAT_FIELD_LEN`] bytes or holds
    /// control characters.
    #[error("{field:?} is empty or malformed")]
    Wechat {
        /// Which input.
        field: WechatField,
        /// Empty after trimming (otherwise malformed).
        empty: bool,
    },
    /// The SMS code is not six ASCII digits.
    #[error("the SMS code must be six digits")]
    SmsCodeFormat,
    /// No usable SMS code: none sent, expired, used, or too many wrong attempts.
    #[error("no valid SMS code: request a new one")]
    SmsCodeExpired,
    /// A wrong SMS code; `attempts_left` more tries before the code is void.
    #[error("wrong SMS code; {attempts_left} attempts left")]
    SmsCodeWrong {
        /// Wrong attempts still allowed.
        attempts_left: u32,
    },
    /// WeChat refused the token for this WeChat id (invalid or expired).
    #[error("WeChat refused the token ({errcode}): {errmsg}")]
    WechatRefused {
        /// WeChat's `errcode`.
        errcode: i64,
        /// WeChat's `errmsg`.
        errmsg: String,
    },
    /// WeChat never vouched for this WeChat id (`POST /wechat_tokens` first).
    #[error("the WeChat id is not verified")]
    WechatNotVerified,
    /// Another user holds the WeChat id.
    #[error("the WeChat id belongs to another user")]
    DuplicatedWechatId,
    /// Another user holds the phone number.
    #[error("the phone number belongs to another user")]
    DuplicatedPhone,
    /// A code was sent less than the cool-down ago.
    #[error("a code was sent recently; retry in {retry_after_secs} s")]
    CoolingDown {
        /// Seconds to wait.
        retry_after_secs: i64,
    },
    /// The credentials sign nobody in (or the user is disabled).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// No user for this WeChat id, phone or id.
    #[error("no such user")]
    NotFound,
    /// The SMS gateway refused the message or failed.
    #[error("the SMS gateway failed")]
    Sms(#[source] SmsError),
    /// WeChat could not be reached or was busy.
    #[error("WeChat failed")]
    WechatUnavailable(#[source] WechatAuthError),
    /// The SMS challenge refused an operation that cannot be refused (a bug).
    #[error("SMS challenge")]
    SmsChallenge(#[source] SmsChallengeError),
    /// Signing the access token failed.
    #[error("could not sign the access token")]
    Token(#[source] IdentityError),
    /// The random source failed while making a code ([`SignInCodes::new_code`]).
    #[error("{0}")]
    Crypto(String),
    /// The engine failed (store, contention, encoding); never the client's fault.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<StoreError> for SignInError {
    fn from(e: StoreError) -> Self {
        SignInError::Engine(e.into())
    }
}

fn stream(id: String) -> Result<StreamId, SignInError> {
    Ok(StreamId::parse(id).map_err(EngineError::from)?)
}

/// Parse a phone; [`SignInError::Phone`] otherwise.
pub fn parse_phone(raw: &str) -> Result<Phone, SignInError> {
    Ok(Phone::parse(raw)?)
}

fn check_wechat_field(field: WechatField, raw: &str) -> Result<String, SignInError> {
    let v = raw.trim();
    if v.is_empty() {
        return Err(SignInError::Wechat { field, empty: true });
    }
    if v.len() > MAX_WECHAT_FIELD_LEN || v.chars().any(char::is_control) {
        return Err(SignInError::Wechat {
            field,
            empty: false,
        });
    }
    Ok(v.to_owned())
}

/// What `GET /users/current` finds (seed 000 §1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CurrentUser {
    /// 200: signed in.
    SignedIn(UserView),
    /// 401: not signed in (or a known user without a valid access token).
    NotSignedIn,
    /// 404: a WeChat id with no user yet.
    NewUser {
        /// The WeChat openid the `wechatToken` cookie was verified for; no user has it yet.
        wechat_id: String,
    },
}

/// The sign-in use cases of seed 000.
#[derive(Clone)]
pub struct PhoneSignIn {
    store: Arc<dyn EventStore>,
    clock: Arc<dyn Clock>,
    sms: Arc<dyn SmsSender>,
    wechat: Arc<dyn WechatAuth>,
    tokens: Arc<dyn AccessTokens>,
    secrets: Arc<dyn Secrets>,
    codes: Arc<dyn SignInCodes>,
    settings: SignInSettings,
}

impl std::fmt::Debug for PhoneSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneSignIn")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The ports [`PhoneSignIn`] needs.
pub struct SignInPorts {
    /// Where users, SMS codes, WeChat tokens and identifier claims are stored.
    pub store: Arc<dyn EventStore>,
    /// Source of the current time (UTC); the service cuts it to microseconds before storing.
    pub clock: Arc<dyn Clock>,
    /// Sends the 6-digit codes (Tencent Cloud SMS, or the log in development).
    pub sms: Arc<dyn SmsSender>,
    /// Asks WeChat whether a `wechatToken` belongs to a `wechatId` (`/sns/auth`).
    pub wechat: Arc<dyn WechatAuth>,
    /// Access tokens (the same JWTs as every document).
    pub tokens: Arc<dyn AccessTokens>,
    /// SHA-256 digests (WeChat tokens are stored as digests).
    pub secrets: Arc<dyn Secrets>,
    /// Makes random 6-digit codes and their keyed (HMAC-SHA256) hashes.
    pub codes: Arc<dyn SignInCodes>,
}

impl PhoneSignIn {
    /// A service over the given ports.
    pub fn new(ports: SignInPorts, settings: SignInSettings) -> Self {
        Self {
            store: ports.store,
            clock: ports.clock,
            sms: ports.sms,
            wechat: ports.wechat,
            tokens: ports.tokens,
            secrets: ports.secrets,
            codes: ports.codes,
            settings,
        }
    }

    /// The tunables it was built with: SMS code TTL, cool-down and attempts; WeChat token TTL.
    pub fn settings(&self) -> SignInSettings {
        self.settings
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    /// `POST /smsCodes`: send a new code unless one was sent within the cool-down. The code is
    /// recorded (hashed) before it is sent, so a code that reached a phone can always be checked;
    /// if sending fails the caller may retry after the cool-down. Returns `createdAt` (UTC).
    ///
    /// Errors: `Phone`, `CoolingDown`, `Sms` (gateway refused or down).
    pub async fn request_sms_code(
        &self,
        raw_phone: &str,
        meta: &EventMetadata,
    ) -> Result<DateTime<Utc>, SignInError> {
        let phone = parse_phone(raw_phone)?;
        let code = self.codes.new_code()?;
        let now = self.now();
        let command = SmsCommand::Issue {
            phone: phone.clone(),
            code_hash: self.codes.hash(phone.as_str(), &code),
            ttl: self.settings.sms_ttl,
            cooldown: self.settings.sms_cooldown,
            now,
        };
        execute::<SmsChallenge, _>(
            self.store.as_ref(),
            &stream(sms_stream_id(&phone))?,
            &command,
            meta,
            |_, _| Vec::new(),
        )
        .await
        .map_err(|e| {
            e.map_rejected(|e| match e {
                SmsChallengeError::CoolingDown { retry_after_secs } => {
                    SignInError::CoolingDown { retry_after_secs }
                }
                other @ SmsChallengeError::NoActiveCode => SignInError::SmsChallenge(other),
            })
        })?;
        let ttl_minutes = u32::try_from(self.settings.sms_ttl.num_minutes().max(1)).unwrap_or(5);
        self.sms
            .send_code(phone.as_str(), &code, ttl_minutes)
            .await
            .map_err(SignInError::Sms)?;
        Ok(now)
    }

    /// Check (and use up) an SMS code; a wrong code counts an attempt.
    async fn check_sms_code(
        &self,
        phone: &Phone,
        code: &str,
        meta: &EventMetadata,
    ) -> Result<(), SignInError> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SignInError::SmsCodeFormat);
        }
        let command = SmsCommand::Verify {
            code_hash: self.codes.hash(phone.as_str(), code),
            max_attempts: self.settings.sms_max_attempts,
            now: self.now(),
        };
        let decided = execute::<SmsChallenge, _>(
            self.store.as_ref(),
            &stream(sms_stream_id(phone))?,
            &command,
            meta,
            |_, _| Vec::new(),
        )
        .await
        .map_err(|e| e.map_rejected(|_| SignInError::SmsCodeExpired))?;
        match decided.events.first() {
            Some(SmsEvent::SmsCodeVerified { .. }) => Ok(()),
            Some(SmsEvent::SmsCodeRejected {
                failed_attempts, ..
            }) => {
                let attempts_left = self
                    .settings
                    .sms_max_attempts
                    .saturating_sub(*failed_attempts);
                Err(SignInError::SmsCodeWrong { attempts_left })
            }
            _ => Err(SignInError::SmsCodeExpired),
        }
    }

    /// `POST /wechat_tokens`: ask WeChat whether `token` belongs to `wechat_id`, and record it.
    /// Returns when it stops being accepted (UTC) and the append's global position (for
    /// read-your-writes), `None` when it was already recorded.
    ///
    /// Errors: `Wechat(Id|Token)`, `WechatRefused` when WeChat says the token is invalid or
    /// expired, `WechatUnavailable` (WeChat down or busy).
    pub async fn record_wechat_token(
        &self,
        raw_wechat_id: &str,
        raw_token: &str,
        meta: &EventMetadata,
    ) -> Result<(DateTime<Utc>, Option<u64>), SignInError> {
        let wechat_id = check_wechat_field(WechatField::Id, raw_wechat_id)?;
        let token = check_wechat_field(WechatField::Token, raw_token)?;
        self.wechat
            .verify_token(&wechat_id, &token)
            .await
            .map_err(|e| match e {
                WechatAuthError::Refused { errcode, errmsg } => {
                    SignInError::WechatRefused { errcode, errmsg }
                }
                other @ WechatAuthError::Unavailable(_) => SignInError::WechatUnavailable(other),
            })?;
        let now = self.now();
        let expires_at = now + self.settings.wechat_token_ttl;
        let command = RecordWechatToken {
            wechat_id: wechat_id.clone(),
            token_hash: self.secrets.digest(&token),
            expires_at,
            now,
        };
        let decided = execute::<WechatAccount, _>(
            self.store.as_ref(),
            &stream(wechat_stream_id(&wechat_id))?,
            &command,
            meta,
            |_, _| Vec::new(),
        )
        .await
        .map_err(|e| e.map_rejected::<SignInError>(|never| match never {}))?;
        let position = crate::command::position(&decided);
        Ok((expires_at, position))
    }

    /// `POST /users`: create a user from a WeChat id WeChat vouched for (via `POST /wechat_tokens`)
    /// and a phone proven by an SMS code.
    ///
    /// Errors: `Wechat(Id)`, `WechatNotVerified`, `Phone`, `SmsCode*`, `DuplicatedWechatId`,
    /// `DuplicatedPhone`.
    pub async fn register(
        &self,
        raw_wechat_id: &str,
        raw_phone: &str,
        sms_code: &str,
        meta: &EventMetadata,
    ) -> Result<(UserView, Option<u64>), SignInError> {
        let wechat_id = check_wechat_field(WechatField::Id, raw_wechat_id)?;
        let phone = parse_phone(raw_phone)?;
        let (account, _) =
            load::<WechatAccount>(self.store.as_ref(), &stream(wechat_stream_id(&wechat_id))?)
                .await
                .map_err(|e| e.map_rejected::<SignInError>(|never| match never {}))?;
        if !account.is_verified() {
            return Err(SignInError::WechatNotVerified);
        }
        // Cheap checks first, so a duplicate does not burn the SMS code.
        if self
            .holder(ClaimKind::WechatId, &wechat_id)
            .await?
            .is_some()
        {
            return Err(SignInError::DuplicatedWechatId);
        }
        if self
            .holder(ClaimKind::Phone, phone.as_str())
            .await?
            .is_some()
        {
            return Err(SignInError::DuplicatedPhone);
        }
        self.check_sms_code(&phone, sms_code, meta).await?;

        let user_id = UserId::from_uuid(Uuid::now_v7());
        let owner = user_id.as_uuid();
        self.release_orphan(ClaimKind::WechatId, &wechat_id, meta)
            .await?;
        self.release_orphan(ClaimKind::Phone, phone.as_str(), meta)
            .await?;
        let now = self.now();
        let command = UserCommand::RegisterWithPhone {
            user_id,
            phone: phone.as_str().to_owned(),
            wechat_id: wechat_id.clone(),
            roles: BTreeSet::from([Role::Customer]),
            now,
        };
        let claim = |kind, value: &str| ClaimCommand::Claim {
            kind,
            value: value.to_owned(),
            owner,
            now,
        };
        let (claim_wechat, claim_phone) = (
            claim(ClaimKind::WechatId, &wechat_id),
            claim(ClaimKind::Phone, phone.as_str()),
        );
        let mut meta = meta.clone();
        meta.actor_user_id
            .get_or_insert_with(|| user_id.to_string());
        // Both claims and the user commit together (docs/decisions/0009-multi-stream-append.md).
        let mut atomic = AtomicCommand::new(self.store.clone(), &meta);
        let wechat_claim = atomic
            .stream::<IdentifierClaim>(&stream(claim_stream_id(ClaimKind::WechatId, &wechat_id))?);
        let phone_claim = atomic
            .stream::<IdentifierClaim>(&stream(claim_stream_id(ClaimKind::Phone, phone.as_str()))?);
        let user = atomic.stream::<User>(&self.user_stream(user_id)?);
        let decided = atomic
            .run(|d| {
                d.decide(wechat_claim, &claim_wechat)
                    .map_err(|e| e.map_rejected(|_| SignInError::DuplicatedWechatId))?;
                d.decide(phone_claim, &claim_phone)
                    .map_err(|e| e.map_rejected(|_| SignInError::DuplicatedPhone))?;
                d.decide(user, &command)
                    .map_err(|e| e.map_rejected(|_| SignInError::DuplicatedWechatId))?;
                Ok::<_, SignInError>(d.state(user)?.clone())
            })
            .await?;
        let position = decided.position();
        let view = UserView::from_state(&decided.value).ok_or(SignInError::NotFound)?;
        Ok((view, position))
    }

    /// `POST /tokens` with `type: 'wechat'`: a token recorded by `POST /wechat_tokens` (or, failing
    /// that, one WeChat vouches for now) signs in the user holding the WeChat id.
    ///
    /// Errors: `Wechat` for empty fields, `InvalidCredentials` for a token WeChat refuses,
    /// `NotFound` when the WeChat id has no user yet.
    pub async fn token_by_wechat(
        &self,
        raw_wechat_id: &str,
        raw_token: &str,
        meta: &EventMetadata,
    ) -> Result<(IssuedToken, UserView), SignInError> {
        let wechat_id = check_wechat_field(WechatField::Id, raw_wechat_id)?;
        let token = check_wechat_field(WechatField::Token, raw_token)?;
        let (account, _) =
            load::<WechatAccount>(self.store.as_ref(), &stream(wechat_stream_id(&wechat_id))?)
                .await
                .map_err(|e| e.map_rejected::<SignInError>(|never| match never {}))?;
        if !account.accepts(&self.secrets.digest(&token), self.now()) {
            match self.record_wechat_token(&wechat_id, &token, meta).await {
                Ok(_) => {}
                Err(SignInError::WechatRefused { .. } | SignInError::Wechat { .. }) => {
                    return Err(SignInError::InvalidCredentials);
                }
                Err(e) => return Err(e),
            }
        }
        let user = self
            .user_holding(ClaimKind::WechatId, &wechat_id)
            .await?
            .ok_or(SignInError::NotFound)?;
        self.issue(user)
    }

    /// `POST /tokens` with `phone` and `smsCode` (any `type` other than `wechat`).
    ///
    /// Errors: `Phone`, `SmsCode*`, `NotFound` when no user has the phone.
    pub async fn token_by_sms(
        &self,
        raw_phone: &str,
        sms_code: &str,
        meta: &EventMetadata,
    ) -> Result<(IssuedToken, UserView), SignInError> {
        let phone = parse_phone(raw_phone)?;
        let user = self.user_holding(ClaimKind::Phone, phone.as_str()).await?;
        // Check the code even for an unknown phone: it counts the attempt either way.
        self.check_sms_code(&phone, sms_code, meta).await?;
        self.issue(user.ok_or(SignInError::NotFound)?)
    }

    /// `GET /users/current`: the user of a valid access token; else, for a WeChat id (found by the
    /// caller from the `wechatToken` cookie), whether it is a known user (401) or new (404).
    ///
    /// Errors: store failures only.
    pub async fn current_user(
        &self,
        access_token: Option<&str>,
        wechat_id: Option<&str>,
    ) -> Result<CurrentUser, SignInError> {
        if let Some(token) = access_token
            && let Ok(claims) = self.tokens.verify(token, self.clock.now())
        {
            let (user, _) = load::<User>(self.store.as_ref(), &self.user_stream(claims.user_id)?)
                .await
                .map_err(|e| e.map_rejected(|_| SignInError::NotFound))?;
            if !user.is_disabled()
                && let Some(view) = UserView::from_state(&user)
            {
                return Ok(CurrentUser::SignedIn(view));
            }
        }
        if let Some(wechat_id) = wechat_id
            && self
                .user_holding(ClaimKind::WechatId, wechat_id)
                .await?
                .is_none()
        {
            return Ok(CurrentUser::NewUser {
                wechat_id: wechat_id.to_owned(),
            });
        }
        Ok(CurrentUser::NotSignedIn)
    }

    /// SHA-256 digest of a WeChat token, as stored in `WechatTokenVerified`.
    pub fn token_digest(&self, token: &str) -> String {
        self.secrets.digest(token)
    }

    /// A user by id, if registered.
    pub async fn user(&self, user_id: UserId) -> Result<Option<UserView>, SignInError> {
        let (user, _) = load::<User>(self.store.as_ref(), &self.user_stream(user_id)?)
            .await
            .map_err(|e| e.map_rejected(|_| SignInError::NotFound))?;
        Ok(UserView::from_state(&user))
    }

    fn issue(&self, user: (UserId, User)) -> Result<(IssuedToken, UserView), SignInError> {
        let (user_id, user) = user;
        if user.is_disabled() {
            return Err(SignInError::InvalidCredentials);
        }
        let roles: Vec<Role> = user.roles().iter().copied().collect();
        let token = self
            .tokens
            .issue(user_id, &roles, None, self.clock.now())
            .map_err(SignInError::Token)?;
        let view = UserView::from_state(&user).ok_or(SignInError::NotFound)?;
        Ok((token, view))
    }

    fn user_stream(&self, user_id: UserId) -> Result<StreamId, SignInError> {
        Ok(StreamId::for_aggregate(User::CATEGORY, user_id).map_err(EngineError::from)?)
    }

    /// The registered user holding a value, if any (a claim left by a failed registration counts
    /// as none).
    async fn user_holding(
        &self,
        kind: ClaimKind,
        value: &str,
    ) -> Result<Option<(UserId, User)>, SignInError> {
        let Some(owner) = self.holder(kind, value).await? else {
            return Ok(None);
        };
        let user_id = UserId::from_uuid(owner);
        let (user, _) = load::<User>(self.store.as_ref(), &self.user_stream(user_id)?)
            .await
            .map_err(|e| e.map_rejected(|_| SignInError::NotFound))?;
        Ok(user.is_registered().then_some((user_id, user)))
    }

    /// Who holds a value, ignoring claims whose user never registered.
    async fn holder(&self, kind: ClaimKind, value: &str) -> Result<Option<Uuid>, SignInError> {
        let (claim, _) =
            load::<IdentifierClaim>(self.store.as_ref(), &stream(claim_stream_id(kind, value))?)
                .await
                .map_err(|e| e.map_rejected(|_| SignInError::NotFound))?;
        let Some(owner) = claim.owner() else {
            return Ok(None);
        };
        let (user, _) = load::<User>(
            self.store.as_ref(),
            &self.user_stream(UserId::from_uuid(owner))?,
        )
        .await
        .map_err(|e| e.map_rejected(|_| SignInError::NotFound))?;
        Ok(user.is_registered().then_some(owner))
    }

    /// Release the claim on a value when a registration of an older version (without atomic
    /// commits) crashed after claiming it and never wrote its user; nothing otherwise. The release
    /// carries the claim's expected version, so of several racing registrations one releases.
    async fn release_orphan(
        &self,
        kind: ClaimKind,
        value: &str,
        meta: &EventMetadata,
    ) -> Result<(), SignInError> {
        let stream_id = stream(claim_stream_id(kind, value))?;
        let (claim, _) = load::<IdentifierClaim>(self.store.as_ref(), &stream_id)
            .await
            .map_err(|e| e.map_rejected(|_| SignInError::NotFound))?;
        let Some(holder) = claim.owner() else {
            return Ok(());
        };
        if !self.is_orphan(&stream_id, holder).await? {
            return Ok(());
        }
        tracing::info!(%holder, kind = kind.as_str(), "releasing a claim left by a failed registration");
        let release = ClaimCommand::Release {
            owner: holder,
            reason: "left behind by a registration that never completed".into(),
            now: self.now(),
        };
        execute::<IdentifierClaim, _>(self.store.as_ref(), &stream_id, &release, meta, |_, _| {
            Vec::new()
        })
        .await
        .map_err(|e| e.map_rejected(|_| SignInError::DuplicatedPhone))?;
        Ok(())
    }

    async fn is_orphan(&self, stream_id: &StreamId, holder: Uuid) -> Result<bool, SignInError> {
        let (claim, _) = load::<IdentifierClaim>(self.store.as_ref(), stream_id)
            .await
            .map_err(|e| e.map_rejected(|_| SignInError::NotFound))?;
        let old = claim
            .claimed_at()
            .is_some_and(|at| self.now() - at > Duration::seconds(ORPHAN_AFTER_SECS));
        if !old {
            return Ok(false);
        }
        let (user, _) = load::<User>(
            self.store.as_ref(),
            &self.user_stream(UserId::from_uuid(holder))?,
        )
        .await
        .map_err(|e| e.map_rejected(|_| SignInError::NotFound))?;
        Ok(!user.is_registered())
    }
}
