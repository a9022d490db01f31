//! WeChat ids whose tokens WeChat has vouched for (seed 000 §2.1 `POST /wechat_tokens`), one stream
//! per WeChat id: `wechatAccount-{uuid v5 of the openid}`. Only a SHA-256 digest of each token is
//! stored; a token is accepted for sign-in until its `expiresAt`.

use crate::{Decider, DomainEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The stream of `wechat_id`: `wechatAccount-{v5(URL namespace, "tessera:wechat:{openid}")}`.
pub fn wechat_stream_id(wechat_id: &str) -> String {
    let name = format!("tessera:wechat:{wechat_id}");
    format!(
        "{}-{}",
        WechatAccount::CATEGORY,
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes())
    )
}

/// A WeChat id and its verified tokens.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WechatAccount {
    tokens: BTreeMap<String, DateTime<Utc>>,
}

impl WechatAccount {
    /// Whether WeChat ever vouched for a token of this id.
    pub fn is_verified(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// Whether the token with this digest was verified and has not expired at `now`.
    pub fn accepts(&self, token_hash: &str, now: DateTime<Utc>) -> bool {
        self.tokens.get(token_hash).is_some_and(|exp| now < *exp)
    }
}

/// Record a token WeChat vouched for; recording a live one again changes nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordWechatToken {
    /// WeChat's openid (seed 000 §2.1 `wechatId`); [`wechat_stream_id`] names its stream.
    pub wechat_id: String,
    /// SHA-256 hex digest of the token.
    pub token_hash: String,
    /// Until when it is accepted (UTC).
    pub expires_at: DateTime<Utc>,
    /// Current time (UTC).
    pub now: DateTime<Utc>,
}

/// Events of [`WechatAccount`] (docs/event-catalog.md, "Meeting tickets").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum WechatAccountEvent {
    /// WeChat confirmed the token belongs to the id.
    WechatTokenVerified {
        /// WeChat's openid (seed 000 `wechatId`); [`wechat_stream_id`] names its stream.
        wechat_id: String,
        /// SHA-256 hex digest of the token.
        token_hash: String,
        /// When (UTC).
        verified_at: DateTime<Utc>,
        /// Until when it is accepted (UTC).
        expires_at: DateTime<Utc>,
    },
}

impl DomainEvent for WechatAccountEvent {}

impl Decider for WechatAccount {
    const CATEGORY: &'static str = "wechatAccount";
    type Command = RecordWechatToken;
    type Event = WechatAccountEvent;
    type Error = std::convert::Infallible;

    fn decide(&self, c: &RecordWechatToken) -> Result<Vec<WechatAccountEvent>, Self::Error> {
        if self.accepts(&c.token_hash, c.now) {
            return Ok(Vec::new());
        }
        Ok(vec![WechatAccountEvent::WechatTokenVerified {
            wechat_id: c.wechat_id.clone(),
            token_hash: c.token_hash.clone(),
            verified_at: c.now,
            expires_at: c.expires_at,
        }])
    }

    fn evolve(mut self, event: &WechatAccountEvent) -> Self {
        let WechatAccountEvent::WechatTokenVerified {
            token_hash,
            expires_at,
            ..
        } = event;
        self.tokens.insert(token_hash.clone(), *expires_at);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap_or_default()
    }
    fn record(at: i64) -> RecordWechatToken {
        RecordWechatToken {
            wechat_id: "o6_bmjrPTlm6_2sgVt7hMZOPfL2M".into(),
            token_hash: "ab".into(),
            expires_at: t(at + 7200),
            now: t(at),
        }
    }
    fn verified(at: i64) -> WechatAccountEvent {
        WechatAccountEvent::WechatTokenVerified {
            wechat_id: "o6_bmjrPTlm6_2sgVt7hMZOPfL2M".into(),
            token_hash: "ab".into(),
            verified_at: t(at),
            expires_at: t(at + 7200),
        }
    }

    #[test]
    fn a_live_token_is_recorded_once_and_accepted_until_expiry() {
        given::<WechatAccount>([])
            .when(record(0))
            .then([verified(0)]);
        given::<WechatAccount>([verified(0)])
            .when(record(10))
            .then([]);
        given::<WechatAccount>([verified(0)])
            .when(record(7200))
            .then([verified(7200)]);
        let state = WechatAccount::replay(&[verified(0)]);
        assert!(state.accepts("ab", t(7199)));
        assert!(!state.accepts("ab", t(7200)));
        assert!(!state.accepts("cd", t(1)));
    }
}
