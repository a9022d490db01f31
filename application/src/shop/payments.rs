//! Paying orders (seed 002 "支付 API"; docs/shop.md, "Payments"): opening a WeChat Pay v3 JSAPI
//! payment for the buyer's order (`POST /api/payment/wxpay`), WeChat Pay's payment notification
//! (`POST /api/payment/wxpay/notify`, verified and decrypted here with the service's clock, then
//! recorded through [`ShopService::record_order_payment`]), and paying an order from the buyer's
//! membership card (`POST /api/payment/card`, a Tessera addition): the card's spend and the order
//! becoming paid in ONE atomic commit (docs/decisions/0009-multi-stream-append.md), or nothing.

use super::cards::{CardHandles, pay_from_card};
use super::orders::{PaymentRecorded, order_stream};
use super::{Missing, ShopError, ShopService};
use crate::command::CommandRunner;
use crate::event_store::EventMetadata;
use crate::payments::wechatpay::{
    JsapiOrder, JsapiPayParams, TradeState, WechatPayNotification, WechatPaySignatureHeaders,
};
use chrono::{DateTime, Utc};
use tessera_domain::UserId;
use tessera_domain::identity::User;
use tessera_domain::shared::{Currency, FieldError, Money};
use tessera_domain::shop::order::{
    OrderCommand, OrderStatus, PaidBy, PaymentMethod, PlacedOrder, ShopOrder, ShopOrderId,
};

/// The channel a WeChat Pay notification's payment is recorded under (`ShopOrderPaid.channel`).
pub const WXPAY_CHANNEL: &str = "wxpay";
/// The channel a membership-card payment is recorded under (`ShopOrderPaid.channel`).
pub const CARD_CHANNEL: &str = "card";
/// The `payment_method` text recorded when an order placed with another method is paid by WeChat
/// Pay.
pub const WXPAY_METHOD: &str = "微信支付";
/// The `payment_method` text recorded when an order placed with another method is paid from the
/// membership card.
pub const CARD_METHOD: &str = "会员卡";

/// Why an order cannot be paid any more (400 on `order_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotPayable {
    /// Already paid (status 1).
    Paid,
    /// Cancelled by an admin (status 2).
    Cancelled,
    /// Not paid before its `expires_at` (status 3, or past it with the deadline not fired yet).
    Expired,
    /// Refunded (status 4).
    Refunded,
}

/// What a WeChat Pay notification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WxpayNotified {
    /// A successful payment for a shop order: what recording it did, and the position reached.
    Recorded(PaymentRecorded, Option<u64>),
    /// Not a successful payment (`trade_state` other than `SUCCESS`, or no `transaction_id`):
    /// nothing to record.
    NoPayment,
    /// `out_trade_no` names no shop order: nothing recorded (retrying cannot help).
    UnknownOrder(String),
}

/// A membership-card payment as committed: the order as paid and the card's spend.
#[derive(Debug, Clone, PartialEq)]
pub struct CardPayment {
    /// The order after the payment (status 1).
    pub order: ShopOrder,
    /// The card debited.
    pub card_id: u64,
    /// The spend transaction's `transaction_id` (also the order's `payment_id`, as text).
    pub transaction_id: u64,
    /// The amount debited: the order's total.
    pub amount: Money,
    /// The card's balance after the spend.
    pub balance_after: Money,
    /// The position reached.
    pub position: Option<u64>,
}

/// Whether an order in `status`, due at `expires_at`, may still be paid at `now`.
fn payable(
    status: OrderStatus,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), ShopError> {
    let refusal = match status {
        OrderStatus::Unpaid if now < expires_at => return Ok(()),
        OrderStatus::Unpaid | OrderStatus::Expired => NotPayable::Expired,
        OrderStatus::Paid => NotPayable::Paid,
        OrderStatus::Cancelled => NotPayable::Cancelled,
        OrderStatus::Refunded => NotPayable::Refunded,
    };
    Err(ShopError::NotPayable(refusal))
}

/// The buyer's live order `id` (another user's, deleted or never placed: `NotFound(Order)`).
fn owned(order: &ShopOrder, buyer: UserId) -> Result<(&PlacedOrder, OrderStatus), ShopError> {
    match (order.placed(), order.status()) {
        (Some(p), Some(s)) if !order.is_deleted() && p.account_id == buyer => Ok((p, s)),
        _ => Err(ShopError::NotFound(Missing::Order)),
    }
}

/// The method text to record: the order's own when it already names `method`, else `text`.
fn method_for(order: &ShopOrder, method: PaymentMethod, text: &str) -> Option<String> {
    (PaymentMethod::parse(order.payment_method()) != Some(method)).then(|| text.to_owned())
}

/// What the payer sees on WeChat Pay: the first product's name and how many products more, at
/// most 127 characters.
fn description(placed: &PlacedOrder) -> String {
    let first = placed
        .lines
        .first()
        .map_or("商品", |l| l.product_name.as_str());
    let text = match placed.lines.len() {
        0 | 1 => first.to_owned(),
        n => format!("{first} 等{n}件商品"),
    };
    text.chars().take(127).collect()
}

impl ShopService {
    /// `POST /api/payment/wxpay`: open a WeChat Pay JSAPI payment of `buyer`'s unpaid order
    /// `order_id` for their openid (`out_trade_no` = the order id, amount in fen = its total,
    /// `time_expire` = its expiry, `notify_url` = the shop's notify route) and return the signed
    /// parameters for `wx.requestPayment`. Writes nothing: asking again returns parameters for
    /// the same WeChat Pay order (WeChat Pay keeps one prepay id per `out_trade_no`).
    ///
    /// Errors: [`ShopError::NotFound`] (`Order`: unknown, deleted or another user's),
    /// [`ShopError::NotPayable`], [`ShopError::Field`] (`order_id`: a total of 0.00, or the buyer
    /// has no WeChat openid), [`ShopError::WechatPayNotConfigured`], [`ShopError::WechatPay`]
    /// (WeChat Pay refused or could not be reached), engine failures.
    pub async fn wxpay_params(
        &self,
        buyer: UserId,
        order_id: &ShopOrderId,
    ) -> Result<JsapiPayParams, ShopError> {
        let order = self.order(order_id).await?;
        let (placed, status) = owned(&order, buyer)?;
        payable(status, placed.expires_at, self.now())?;
        let pay = self
            .wechat_pay
            .as_ref()
            .ok_or(ShopError::WechatPayNotConfigured)?;
        let amount_fen = placed
            .total_amount
            .to_minor()
            .map_err(|e| FieldError::new("order_id", e.to_string()))?;
        if amount_fen <= 0 {
            return Err(FieldError::new("order_id", "订单金额为 0，无需支付").into());
        }
        let (user, _) = self
            .runner
            .load::<User>(&CommandRunner::stream::<User>(buyer)?)
            .await?;
        let openid = user.wechat_id().filter(|o| !o.is_empty()).ok_or_else(|| {
            FieldError::new("order_id", "下单用户没有微信 openid，无法使用微信支付")
        })?;
        Ok(pay
            .create_jsapi_order(&JsapiOrder {
                out_trade_no: placed.order_id.to_string(),
                description: description(placed),
                amount_fen,
                payer_openid: openid.to_owned(),
                time_expire: Some(placed.expires_at),
                notify_url: self.wxpay_notify_url.clone(),
            })
            .await?)
    }

    /// Verify (signature, serial, timestamp within 5 minutes of the service's clock) and decrypt
    /// a WeChat Pay notification.
    ///
    /// Errors: [`ShopError::WechatPayNotConfigured`]; [`ShopError::WechatPay`] with
    /// `BadSignature` (forged, tampered, stale, unknown serial, missing headers) or `Malformed`.
    pub fn wxpay_notification(
        &self,
        headers: &WechatPaySignatureHeaders,
        body: &[u8],
    ) -> Result<WechatPayNotification, ShopError> {
        let pay = self
            .wechat_pay
            .as_ref()
            .ok_or(ShopError::WechatPayNotConfigured)?;
        Ok(pay.parse_notification(headers, body, self.now())?)
    }

    /// Record a verified notification's payment on its order through
    /// [`ShopService::record_order_payment`] (`payment_id` = WeChat Pay's `transaction_id`,
    /// channel [`WXPAY_CHANNEL`]): paid once however often WeChat Pay repeats it; a payment that
    /// cannot pay the order — it is already paid another way (the card, another transaction), the
    /// amount is not its total, or it was cancelled, expired or refunded — is recorded once per
    /// `transaction_id` as needing a refund, takes no stock and leaves the order as it is. `meta`
    /// should carry the notification id.
    ///
    /// Errors: [`ShopError::Field`] (an amount WeChat Pay reported that is not money, a
    /// `transaction_id` longer than 64 characters), engine failures.
    pub async fn wxpay_notified(
        &self,
        notification: &WechatPayNotification,
        meta: &EventMetadata,
    ) -> Result<WxpayNotified, ShopError> {
        let t = &notification.transaction;
        let (TradeState::Success, Some(txn)) = (t.trade_state, t.transaction_id.as_deref()) else {
            return Ok(WxpayNotified::NoPayment);
        };
        let Ok(order_id) = ShopOrderId::parse(&t.out_trade_no) else {
            return Ok(WxpayNotified::UnknownOrder(t.out_trade_no.clone()));
        };
        let order = self.order(&order_id).await?;
        if order.placed().is_none() {
            return Ok(WxpayNotified::UnknownOrder(t.out_trade_no.clone()));
        }
        let amount = match t.amount_fen {
            Some(fen) => Money::from_minor(fen, Currency::CNY)
                .map_err(|e| FieldError::new("amount", e.to_string()))?,
            None => order
                .placed()
                .map_or(Money::zero(Currency::CNY), |p| p.total_amount),
        };
        let (what, position) = self
            .record_order_payment(
                &order_id,
                method_for(&order, PaymentMethod::WechatPay, WXPAY_METHOD),
                txn.to_owned(),
                amount,
                PaidBy::Channel(WXPAY_CHANNEL.into()),
                meta,
            )
            .await?;
        Ok(WxpayNotified::Recorded(what, position))
    }

    /// `POST /api/payment/card`: pay `buyer`'s unpaid order `order_id` from their open membership
    /// card (`card_id`, when given, must be it): a spend of the order's total naming the order
    /// and the order becoming paid (`payment_id` = the spend's `transaction_id`, channel
    /// [`CARD_CHANNEL`]) in one atomic commit over the order, the card and the transaction
    /// counter. A concurrent second payment of the same order re-decides against the paid order
    /// and is refused, so the card is charged once.
    ///
    /// Errors: [`ShopError::NotFound`] (`Order`: unknown, deleted or another user's; `Card`: the
    /// given card is not the buyer's open card), [`ShopError::NotPayable`], [`ShopError::NoCard`],
    /// [`ShopError::CardFrozen`], [`ShopError::InsufficientBalance`], engine failures — nothing
    /// is written then.
    pub async fn pay_order_with_card(
        &self,
        buyer: UserId,
        order_id: &ShopOrderId,
        card_id: Option<u64>,
        meta: &EventMetadata,
    ) -> Result<CardPayment, ShopError> {
        let current = self.order(order_id).await?;
        let (placed, status) = owned(&current, buyer)?;
        payable(status, placed.expires_at, self.now())?;
        let user_id = placed.user_id;
        let open = self.open_card_of(user_id).await?;
        let card_id = match (card_id, open) {
            (_, None) => return Err(ShopError::NoCard),
            (Some(given), Some(open)) if given != open => {
                return Err(ShopError::NotFound(Missing::Card));
            }
            (_, Some(open)) => open,
        };
        let now = self.now();
        let mut atomic = self.runner.atomic(&super::catalog::with_actor(meta, buyer));
        let order = atomic.stream::<ShopOrder>(&order_stream(order_id)?);
        let h = CardHandles::register(&mut atomic, card_id)?;
        let committed = atomic
            .run(|d| {
                let state = d.state(order)?.clone();
                let (placed, status) = owned(&state, buyer)?;
                payable(status, placed.expires_at, now)?;
                let card = d.state(h.card)?;
                if !card.is_open() || card.user_id() != placed.user_id {
                    return Err(ShopError::NotFound(Missing::Card));
                }
                let amount = placed.total_amount;
                let transaction_id = pay_from_card(
                    d,
                    &h,
                    amount,
                    placed.order_id.as_str(),
                    Some(format!("订单 {} 会员卡支付", placed.order_id)),
                    buyer,
                    now,
                )?;
                d.decide(
                    order,
                    &OrderCommand::Pay {
                        payment_method: method_for(
                            &state,
                            PaymentMethod::MembershipCard,
                            CARD_METHOD,
                        ),
                        payment_id: Some(transaction_id.to_string()),
                        amount,
                        by: PaidBy::Channel(CARD_CHANNEL.into()),
                        now,
                    },
                )
                .map_err(|e| e.map_rejected(ShopError::from))?;
                let balance_after = d.state(h.card)?.balance();
                Ok::<_, ShopError>((
                    d.state(order)?.clone(),
                    transaction_id,
                    amount,
                    balance_after,
                ))
            })
            .await?;
        let position = committed.position();
        let (order, transaction_id, amount, balance_after) = committed.value;
        Ok(CardPayment {
            order,
            card_id,
            transaction_id,
            amount,
            balance_after,
            position,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn only_unpaid_orders_before_their_expiry_are_payable() {
        let now = DateTime::UNIX_EPOCH + Duration::hours(1);
        let later = now + Duration::minutes(1);
        assert!(payable(OrderStatus::Unpaid, later, now).is_ok());
        for (status, due, why) in [
            (OrderStatus::Unpaid, now, NotPayable::Expired),
            (OrderStatus::Expired, later, NotPayable::Expired),
            (OrderStatus::Paid, later, NotPayable::Paid),
            (OrderStatus::Cancelled, later, NotPayable::Cancelled),
            (OrderStatus::Refunded, later, NotPayable::Refunded),
        ] {
            assert!(
                matches!(payable(status, due, now), Err(ShopError::NotPayable(w)) if w == why),
                "{status:?}"
            );
        }
    }
}
