//! The shop's use cases (seed 002), one file each: [`login`] (`POST /weixin-login`), [`users`]
//! (the admin's user routes), [`catalog`] (categories and products), [`orders`] (orders with
//! their stock reservation and expiry), [`cards`] (membership cards and member transactions);
//! [`payments`] (WeChat Pay and membership-card payments of orders); [`error`] says why one
//! failed;
//! [`numbers`] hands out the integer ids the seed shows, reusable by the later parts (orders,
//! cards, transactions). All run over the shared [`CommandRunner`]; no HTTP type reaches here.
//!
//! Every write returns the global position it reached (`None` when nothing changed), so the api
//! can wait for the read models before answering (docs/decisions/0004-read-your-writes.md).

pub mod cards;
pub mod catalog;
pub mod error;
pub mod login;
pub mod numbers;
pub mod orders;
pub mod payments;
pub mod users;

pub use cards::{CardChange, CardHandles, CardTransaction, pay_from_card};
pub use catalog::{CategoryChange, CategoryInput, ProductChange, ProductInput};
pub use error::{Missing, ShopError};
pub use login::{KnownUser, ShopLogin};
pub use orders::{
    NewShopOrder, OrderChange, OrderItemInput, PaymentRecorded, SHOP_ORDER_EXPIRY, ShopOrderExpiry,
};
pub use payments::{CardPayment, NotPayable, WxpayNotified};
pub use users::UserChange;

use crate::clock::Clock;
use crate::command::CommandRunner;
use crate::identity::ports::WechatAuth;
use crate::identity::{AccessTokens, IdentityService};
use crate::payments::wechatpay::WechatPay;
use chrono::{DateTime, SubsecRound, Utc};
use std::sync::Arc;

/// The shop's ports.
pub struct ShopPorts {
    /// Appends and loads aggregates.
    pub runner: CommandRunner,
    /// Source of the current time (cut to microseconds before storing).
    pub clock: Arc<dyn Clock>,
    /// WeChat's `jscode2session` (the development verifier takes `dev:{openid}`).
    pub wechat: Arc<dyn WechatAuth>,
    /// Signs the access tokens, the same JWTs every document accepts.
    pub tokens: Arc<dyn AccessTokens>,
    /// The shared identity: passwords, emails, roles, erasure.
    pub identity: IdentityService,
}

/// The shop's use cases. Cheap to clone.
#[derive(Clone)]
pub struct ShopService {
    runner: CommandRunner,
    clock: Arc<dyn Clock>,
    wechat: Arc<dyn WechatAuth>,
    tokens: Arc<dyn AccessTokens>,
    identity: IdentityService,
    /// How long an unpaid order holds its stock ([`ShopService::with_order_ttl`]).
    order_ttl: chrono::Duration,
    /// WeChat Pay, when configured ([`ShopService::with_wechat_pay`]).
    wechat_pay: Option<Arc<dyn WechatPay>>,
    /// The `notify_url` sent with the shop's JSAPI orders (`None`: the client's configured one).
    wxpay_notify_url: Option<String>,
}

impl std::fmt::Debug for ShopService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopService").finish_non_exhaustive()
    }
}

impl ShopService {
    /// A service over `ports`.
    pub fn new(ports: ShopPorts) -> Self {
        Self {
            runner: ports.runner,
            clock: ports.clock,
            wechat: ports.wechat,
            tokens: ports.tokens,
            identity: ports.identity,
            order_ttl: chrono::Duration::seconds(orders::DEFAULT_ORDER_TTL_SECS),
            wechat_pay: None,
            wxpay_notify_url: None,
        }
    }

    /// The same service paying orders through WeChat Pay `pay`, asking WeChat Pay to post the
    /// shop's payment notifications to `notify_url` (`{public URL}/api/payment/wxpay/notify`).
    pub fn with_wechat_pay(mut self, pay: Arc<dyn WechatPay>, notify_url: String) -> Self {
        self.wechat_pay = Some(pay);
        self.wxpay_notify_url = Some(notify_url);
        self
    }

    /// The same service with unpaid orders expiring after `ttl` (default
    /// [`orders::DEFAULT_ORDER_TTL_SECS`]; at least one second).
    pub fn with_order_ttl(mut self, ttl: chrono::Duration) -> Self {
        self.order_ttl = ttl.max(chrono::Duration::seconds(1));
        self
    }

    /// Now, cut to microseconds (the stored precision).
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }
}

#[cfg(test)]
mod tests;
