//! Ports to the platforms users sign in through: an SMS gateway for sign-in codes and the WeChat API
//! that vouches for a WeChat id and its token (seed 000) or a mini-program login code (seed 002).
//! Adapters live in the infrastructure crate; each takes its base URL from configuration so tests can
//! point it at a local server speaking the provider's protocol.

use async_trait::async_trait;

/// Why an SMS could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    /// The gateway refused the message (bad number, template, signature, quota …); `code` is the
    /// provider's own error code (e.g. Tencent Cloud `FailedOperation.PhoneNumberInBlacklist`).
    #[error("SMS gateway refused the message ({code}): {message}")]
    Rejected {
        /// Provider error code.
        code: String,
        /// Provider message.
        message: String,
    },
    /// The gateway could not be reached or failed.
    #[error("SMS gateway unavailable: {0}")]
    Unavailable(String),
}

/// Sends sign-in codes by SMS (seed 000 §3 `POST /smsCodes`).
#[async_trait]
pub trait SmsSender: Send + Sync {
    /// Send `code` (6 digits) to a mainland phone number given as 11 digits without country code
    /// (`13800138000`); the adapter adds `+86` where its provider wants E.164. `ttl_minutes` is how
    /// long the code stays valid, for the message template.
    async fn send_code(&self, phone: &str, code: &str, ttl_minutes: u32) -> Result<(), SmsError>;
}

/// Why WeChat did not vouch for a token or code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WechatAuthError {
    /// WeChat answered with a non-zero `errcode` (40001/40003/42001 for a bad or expired token or
    /// openid, 40029 for an invalid login code, 45011 rate limited …).
    #[error("WeChat refused ({errcode}): {errmsg}")]
    Refused {
        /// WeChat's `errcode`.
        errcode: i64,
        /// WeChat's `errmsg`.
        errmsg: String,
    },
    /// WeChat could not be reached, was busy (`errcode` -1) or answered something unreadable.
    #[error("WeChat unavailable: {0}")]
    Unavailable(String),
}

/// A mini-program session from `jscode2session`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WechatSession {
    /// The user's openid for this app (the "WeChat id").
    pub openid: String,
    /// The session key (secret; never logged or returned to clients).
    pub session_key: String,
    /// The unionid, when the app is bound to an open-platform account.
    pub unionid: Option<String>,
}

/// The WeChat API as far as sign-in needs it.
#[async_trait]
pub trait WechatAuth: Send + Sync {
    /// Check that `access_token` is a live web-authorisation token of `openid`
    /// (`GET /sns/auth?access_token&openid`, errcode 0 = valid). Seed 000 §2.1 `POST /wechat_tokens`.
    async fn verify_token(&self, openid: &str, access_token: &str) -> Result<(), WechatAuthError>;
    /// Exchange a mini-program login code (`wx.login`) for a session
    /// (`GET /sns/jscode2session`). Seed 002 `/weixin-login`.
    async fn code_to_session(&self, js_code: &str) -> Result<WechatSession, WechatAuthError>;
}

/// The keys that seal data subjects' personal and secret fields in the event log
/// (docs/decisions/0008-crypto-shredding.md). Destroying a subject's keys is what erases its data.
#[async_trait]
pub trait SubjectKeys: Send + Sync {
    /// Destroy every key of each subject (names from
    /// `tessera_domain::shared::classification::{user_subject, phone_subject, wechat_subject}`);
    /// from then on every read of fields sealed under them yields the erased marker. Subjects
    /// without keys are skipped. Returns how many keys were destroyed.
    ///
    /// Errors: [`crate::StoreError::Unavailable`] when the key store cannot be written.
    async fn erase_subjects(&self, subjects: &[String]) -> Result<u64, crate::StoreError>;
}
