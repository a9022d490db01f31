//! `POST /weixin-login` (seed 002 "微信小程序登录"): exchange a mini-program login code for the
//! user's openid (`jscode2session`), find the identity user holding that openid or create one,
//! give them the shop's integer `user_id` the first time, and sign an access token — the same JWT
//! every document accepts.

use super::numbers::{next_number, sequence_stream, take};
use super::{ShopError, ShopService};
use crate::command::{CommandRunner, EngineError};
use crate::event_store::EventMetadata;
use crate::identity::IssuedToken;
use crate::identity::ports::WechatAuthError;
use std::collections::BTreeSet;
use tessera_domain::UserId;
use tessera_domain::identity::{Role, User, UserCommand};
use tessera_domain::shared::FieldError;
use tessera_domain::shared::claim::{ClaimCommand, ClaimKind, IdentifierClaim, claim_stream_id};
use tessera_domain::shop::customer::{CustomerCommand, ShopCustomer};
use tessera_domain::shop::sequence::{SequenceKind, ShopSequence};
use uuid::Uuid;

/// Longest login code accepted, in characters (WeChat's are 32).
pub const MAX_CODE_LEN: usize = 128;

/// Attempts at finding or creating the user when concurrent logins of one openid race.
const MAX_LOGIN_ATTEMPTS: u32 = 5;

/// A signed-in shop user.
#[derive(Debug, Clone)]
pub struct ShopLogin {
    /// The access token.
    pub token: IssuedToken,
    /// The identity user.
    pub account_id: UserId,
    /// The shop's integer `user_id`.
    pub user_id: u64,
    /// Where the writes of this login reached (`None`: nothing was written).
    pub position: Option<u64>,
    /// What the login knows of the user from the event store, for an answer that cannot wait for
    /// the read model (docs/decisions/0011-answer-after-write.md).
    pub known: KnownUser,
}

/// The user as the login's own commands left them (the read model may lag behind).
#[derive(Debug, Clone)]
pub struct KnownUser {
    /// The WeChat openid the login was for.
    pub openid: String,
    /// Nickname set by an admin, if any.
    pub nickname: Option<String>,
    /// Contact phone, if any.
    pub phone: Option<String>,
    /// The identity user's email, if any.
    pub email: Option<String>,
    /// Whether the user holds the admin role.
    pub admin: bool,
    /// When the user joined the shop (UTC).
    pub joined_at: chrono::DateTime<chrono::Utc>,
    /// When the shop profile last changed (UTC).
    pub changed_at: chrono::DateTime<chrono::Utc>,
}

impl ShopService {
    /// Sign in with a mini-program login `code` (trimmed; 1–[`MAX_CODE_LEN`] characters, no
    /// control characters).
    ///
    /// Errors: [`ShopError::Field`] (`code`), [`ShopError::WechatRefused`],
    /// [`ShopError::WechatUnavailable`], [`ShopError::Disabled`] for a disabled or deleted user,
    /// engine and token failures.
    pub async fn weixin_login(
        &self,
        code: &str,
        meta: &EventMetadata,
    ) -> Result<ShopLogin, ShopError> {
        let code = code.trim();
        if code.is_empty()
            || code.chars().count() > MAX_CODE_LEN
            || code.chars().any(char::is_control)
        {
            return Err(
                FieldError::new("code", format!("must be 1 to {MAX_CODE_LEN} characters")).into(),
            );
        }
        let session = self
            .wechat
            .code_to_session(code)
            .await
            .map_err(|e| match e {
                WechatAuthError::Refused { errcode, errmsg } => {
                    ShopError::WechatRefused { errcode, errmsg }
                }
                WechatAuthError::Unavailable(m) => ShopError::WechatUnavailable(m),
            })?;
        let openid = session.openid;
        if openid.trim().is_empty() {
            return Err(ShopError::WechatUnavailable(
                "WeChat returned no openid".into(),
            ));
        }
        let claim_stream = crate::StreamId::parse(claim_stream_id(ClaimKind::WechatId, &openid))
            .map_err(EngineError::from)?;
        let sequence_stream = sequence_stream(SequenceKind::User)?;
        for _ in 0..MAX_LOGIN_ATTEMPTS {
            let (claim, _) = self.runner.load::<IdentifierClaim>(&claim_stream).await?;
            let account_id = UserId::from_uuid(claim.owner().unwrap_or_else(Uuid::now_v7));
            let user_stream = CommandRunner::stream::<User>(account_id)?;
            let (user, _) = self.runner.load::<User>(&user_stream).await?;
            if user.is_disabled() {
                return Err(ShopError::Disabled);
            }
            let customer_stream = CommandRunner::stream::<ShopCustomer>(account_id)?;
            let (customer, _) = self.runner.load::<ShopCustomer>(&customer_stream).await?;
            if let Some(user_id) = customer.user_id() {
                return self.sign(account_id, &user, &customer, &openid, user_id, None);
            }
            let register = !user.is_registered();
            let result = next_number(&self.runner, SequenceKind::User, |number| {
                let now = self.now();
                let mut meta = meta.clone();
                meta.actor_user_id
                    .get_or_insert_with(|| account_id.to_string());
                let mut atomic = self.runner.atomic(&meta);
                let claim = atomic.stream::<IdentifierClaim>(&claim_stream);
                let user = atomic.stream::<User>(&user_stream);
                let sequence = atomic.stream::<ShopSequence>(&sequence_stream);
                let customer = atomic.stream::<ShopCustomer>(&customer_stream);
                let openid = openid.clone();
                let customer_stream = customer_stream.clone();
                async move {
                    atomic
                        .run(|d| {
                            if register {
                                d.decide(
                                    claim,
                                    &ClaimCommand::Claim {
                                        kind: ClaimKind::WechatId,
                                        value: openid.clone(),
                                        owner: account_id.as_uuid(),
                                        now,
                                    },
                                )
                                // Another login of the same openid won: find its user next time.
                                .map_err(|e| e.map_rejected(|_| ShopError::Retry))?;
                                d.decide(
                                    user,
                                    &UserCommand::RegisterWithWechat {
                                        user_id: account_id,
                                        wechat_id: openid.clone(),
                                        roles: BTreeSet::from([Role::Customer]),
                                        now,
                                    },
                                )
                                .map_err(|e| e.map_rejected(|_| ShopError::Retry))?;
                            }
                            take(
                                d,
                                sequence,
                                SequenceKind::User,
                                number,
                                &customer_stream,
                                now,
                            )?;
                            d.decide(
                                customer,
                                &CustomerCommand::Join {
                                    user_id: number,
                                    account_id,
                                    now,
                                },
                            )
                            .map_err(|e| e.map_rejected(ShopError::from))?;
                            Ok::<_, ShopError>((d.state(user)?.clone(), d.state(customer)?.clone()))
                        })
                        .await
                }
            })
            .await;
            match result {
                Ok(committed) => {
                    let position = committed.position();
                    let (user, customer) = committed.value;
                    let Some(user_id) = customer.user_id() else {
                        continue;
                    };
                    return self.sign(account_id, &user, &customer, &openid, user_id, position);
                }
                Err(ShopError::Retry) => {}
                Err(e) => return Err(e),
            }
        }
        Err(EngineError::Contended {
            stream: claim_stream,
            attempts: MAX_LOGIN_ATTEMPTS,
        }
        .into())
    }

    fn sign(
        &self,
        account_id: UserId,
        user: &User,
        customer: &ShopCustomer,
        openid: &str,
        user_id: u64,
        position: Option<u64>,
    ) -> Result<ShopLogin, ShopError> {
        if user.is_disabled() {
            return Err(ShopError::Disabled);
        }
        let roles: Vec<Role> = user.roles().iter().copied().collect();
        let token = self
            .tokens
            .issue(account_id, &roles, None, self.clock.now())
            .map_err(ShopError::Identity)?;
        Ok(ShopLogin {
            token,
            account_id,
            user_id,
            position,
            known: KnownUser {
                openid: openid.to_owned(),
                nickname: customer.nickname().map(str::to_owned),
                phone: customer.phone().map(str::to_owned),
                email: user.email().map(|e| e.as_str().to_owned()),
                admin: user.roles().contains(&Role::Admin),
                joined_at: customer.joined_at().unwrap_or_else(|| self.now()),
                changed_at: customer.changed_at().unwrap_or_else(|| self.now()),
            },
        })
    }
}
