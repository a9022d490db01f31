//! An order of the shop (seed 002 "订单 API"), in the stream `shopOrder-{orderId}`.
//!
//! The order records what was bought (lines with the product's name and unit price as bought) and
//! its life: [`OrderStatus`] numbers and the transitions between them are documented in
//! docs/shop.md ("Orders"). Stock is not here: it is reserved on each
//! [`super::product::ShopProduct`] in the same atomic commit that places the order, and returned
//! in the same commit that cancels, expires or refunds it
//! (docs/decisions/0021-shop-order-reservation.md). A decision here never looks at the clock:
//! `now` comes with the command.

use crate::shared::{Currency, FieldError, Money, check_text};
use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Most lines (distinct products) one order may hold.
pub const MAX_LINES: usize = 50;
/// Most units of one product in one order.
pub const MAX_QUANTITY: u32 = 9_999;
/// Longest `payment_method` or `payment_id`, in characters.
pub const MAX_PAYMENT_TEXT: usize = 64;
/// Digits after `ORDER` in an order id made by the shop.
pub const ORDER_DIGITS: usize = 18;

/// An order id: `ORDER` followed by 10 to 30 digits (`ORDER123456789012345678`). The shop draws the
/// digits at random ([`ORDER_DIGITS`] of them), so ids cannot be enumerated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShopOrderId(String);

impl ShopOrderId {
    /// The prefix every order id starts with.
    pub const PREFIX: &'static str = "ORDER";

    /// Parse `ORDER` + 10–30 ASCII digits.
    ///
    /// Errors: a [`FieldError`] on `id` for anything else.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        match raw.strip_prefix(Self::PREFIX) {
            Some(d) if (10..=30).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(Self(raw.to_owned()))
            }
            _ => Err(FieldError::new("id", "应为 ORDER 加 10 到 30 位数字")),
        }
    }

    /// An id from `random` (its low [`ORDER_DIGITS`] decimal digits, zero-padded).
    pub fn from_random(random: u128) -> Self {
        let digits = random % 10_u128.pow(ORDER_DIGITS as u32);
        Self(format!(
            "{}{digits:0width$}",
            Self::PREFIX,
            width = ORDER_DIGITS
        ))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShopOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ShopOrderId {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Self::parse(&s)
    }
}

impl From<ShopOrderId> for String {
    fn from(id: ShopOrderId) -> String {
        id.0
    }
}

/// The status numbers the seed shows in `status` (it only shows 0 and 1; the rest are Tessera's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// 0: placed, stock reserved, waiting for payment until its expiry.
    Unpaid,
    /// 1: paid; stock stays taken.
    Paid,
    /// 2: cancelled by an admin while unpaid; stock returned.
    Cancelled,
    /// 3: not paid before its expiry; stock returned.
    Expired,
    /// 4: paid, then refunded by an admin; stock returned.
    Refunded,
}

impl OrderStatus {
    /// The number the api shows.
    pub fn number(self) -> u8 {
        match self {
            OrderStatus::Unpaid => 0,
            OrderStatus::Paid => 1,
            OrderStatus::Cancelled => 2,
            OrderStatus::Expired => 3,
            OrderStatus::Refunded => 4,
        }
    }

    /// The status of `number`, if it is one.
    pub fn from_number(number: u64) -> Option<Self> {
        Some(match number {
            0 => OrderStatus::Unpaid,
            1 => OrderStatus::Paid,
            2 => OrderStatus::Cancelled,
            3 => OrderStatus::Expired,
            4 => OrderStatus::Refunded,
            _ => return None,
        })
    }
}

/// How an order is paid, read from its `payment_method` text. The seed's examples use `微信支付`
/// (placing) and `支付宝` (an admin's `PUT`); the shop also accepts the short forms its payment
/// routes are named after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentMethod {
    /// `微信支付`, `wxpay`, `wechat`: WeChat Pay (`POST /api/payment/wxpay`).
    WechatPay,
    /// `会员卡`, `余额`, `card`, `balance`: the buyer's membership card balance.
    MembershipCard,
    /// `支付宝`, `alipay`: recorded by an admin (no gateway); placing an order with it is refused.
    Alipay,
}

impl PaymentMethod {
    /// The method `text` names (trimmed, ASCII case-insensitive), if any.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "微信支付" | "wxpay" | "wechat" | "wechatpay" => Some(PaymentMethod::WechatPay),
            "会员卡" | "余额" | "card" | "balance" => Some(PaymentMethod::MembershipCard),
            "支付宝" | "alipay" => Some(PaymentMethod::Alipay),
            _ => None,
        }
    }

    /// Whether a buyer may place an order with it (an online or balance payment follows).
    pub fn can_place(self) -> bool {
        !matches!(self, PaymentMethod::Alipay)
    }
}

/// One line of an order, as bought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    /// `order_item_id`, taken from `shopSequence-orderItem` in the placing commit.
    pub order_item_id: u64,
    /// The product.
    pub product_id: u64,
    /// The product's name when bought.
    pub product_name: String,
    /// Units, 1–[`MAX_QUANTITY`].
    pub quantity: u32,
    /// The product's price when bought (CNY).
    pub unit_price: Money,
    /// `unit_price × quantity`.
    pub total_price: Money,
}

/// An order as placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedOrder {
    /// Its id.
    pub order_id: ShopOrderId,
    /// The buyer's shop `user_id`.
    pub user_id: u64,
    /// The buyer's identity user.
    pub account_id: UserId,
    /// The lines, one per product.
    pub lines: Vec<OrderLine>,
    /// Sum of the lines' totals.
    pub total_amount: Money,
    /// As the buyer wrote it (one [`PaymentMethod`] can place).
    pub payment_method: String,
    /// When it expires unless paid.
    pub expires_at: DateTime<Utc>,
    /// When it was placed.
    pub placed_at: DateTime<Utc>,
}

/// Who recorded a payment: an admin's `PUT`, or a payment channel (`wxpay-notify`, `card`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaidBy {
    /// An admin marked the order paid.
    Admin(UserId),
    /// A payment channel reported it; the text names the channel.
    Channel(String),
}

/// An order: nothing before [`OrderEvent::Placed`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShopOrder {
    placed: Option<PlacedOrder>,
    status: Option<OrderStatus>,
    payment_method: String,
    payment_id: Option<String>,
    /// Payment ids received after the order could no longer be paid, to be refunded.
    refunds_due: Vec<String>,
    deleted: bool,
    updated_at: Option<DateTime<Utc>>,
}

impl ShopOrder {
    /// The order as placed.
    pub fn placed(&self) -> Option<&PlacedOrder> {
        self.placed.as_ref()
    }

    /// Its status (none before it is placed).
    pub fn status(&self) -> Option<OrderStatus> {
        self.status
    }

    /// Current payment method text.
    pub fn payment_method(&self) -> &str {
        &self.payment_method
    }

    /// Payment id once paid (or as an admin set it).
    pub fn payment_id(&self) -> Option<&str> {
        self.payment_id.as_deref()
    }

    /// Payment ids received when the order could no longer be paid.
    pub fn refunds_due(&self) -> &[String] {
        &self.refunds_due
    }

    /// Whether an admin deleted (hid) it.
    pub fn is_deleted(&self) -> bool {
        self.deleted
    }

    /// Last change (placing included).
    pub fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.updated_at
    }

    /// Whether it holds stock on its products (unpaid or paid).
    pub fn holds_stock(&self) -> bool {
        matches!(self.status, Some(OrderStatus::Unpaid | OrderStatus::Paid))
    }
}

/// Commands for [`ShopOrder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCommand {
    /// Place the order (its stock is reserved by the caller in the same commit).
    Place(PlacedOrder),
    /// A payment of `amount` arrived with `payment_id`. Unpaid → paid (the amount must be the
    /// total); paid with the same id → nothing. Through a payment channel ([`PaidBy::Channel`])
    /// money that cannot pay the order is recorded as needing a refund, once per payment id
    /// ([`RefundReason`]: another id on a paid order, an amount other than the total, a
    /// cancelled, expired or refunded order). From an admin ([`PaidBy::Admin`]) those are refused
    /// ([`OrderError::AlreadyPaid`], [`OrderError::AmountMismatch`], [`OrderError::Transition`]).
    Pay {
        /// Payment method text (the order's when `None`).
        payment_method: Option<String>,
        /// The payment's id (WeChat Pay `transaction_id`, card transaction, admin's text); none
        /// only for an admin marking paid without one.
        payment_id: Option<String>,
        /// The amount paid.
        amount: Money,
        /// Who recorded it.
        by: PaidBy,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// An admin changes payment method and/or id without changing the status.
    ChangePayment {
        /// New method text, if given.
        payment_method: Option<String>,
        /// New id (`Some(None)` clears it), if given.
        payment_id: Option<Option<String>>,
        /// The admin.
        by: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// An admin cancels an unpaid order (the caller returns its stock in the same commit).
    Cancel {
        /// The admin.
        by: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// The expiry deadline fired: an unpaid order past `expires_at` expires (nothing otherwise).
    Expire {
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// An admin refunds a paid order (the caller returns its stock in the same commit).
    Refund {
        /// The admin.
        by: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// An admin hides the order; its history stays. Deleting twice changes nothing.
    Delete {
        /// The admin.
        by: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`ShopOrder`] (docs/event-catalog.md, "Shop orders").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum OrderEvent {
    /// The order was placed (status 0) with its stock reserved in the same commit.
    #[serde(rename = "ShopOrderPlaced")]
    Placed {
        /// Its id.
        order_id: ShopOrderId,
        /// The buyer's shop `user_id`.
        user_id: u64,
        /// The buyer's identity user.
        account_id: UserId,
        /// What was bought, one line per product.
        lines: Vec<OrderLine>,
        /// Sum of the lines.
        total_amount: Money,
        /// As the buyer wrote it.
        payment_method: String,
        /// When it expires unless paid.
        expires_at: DateTime<Utc>,
        /// When (UTC).
        placed_at: DateTime<Utc>,
    },
    /// The order was paid (status 1).
    #[serde(rename = "ShopOrderPaid")]
    Paid {
        /// The order.
        order_id: ShopOrderId,
        /// Payment method text after the payment.
        payment_method: String,
        /// The payment's id, if any.
        payment_id: Option<String>,
        /// The amount paid.
        amount: Money,
        /// The admin who marked it paid, if one did.
        paid_by: Option<UserId>,
        /// The channel that reported it (`admin` for an admin).
        channel: String,
        /// When (UTC).
        paid_at: DateTime<Utc>,
    },
    /// A payment arrived through a payment channel that cannot pay the order (see `reason`): the
    /// money must go back; the order's status, payment and stock are unchanged.
    #[serde(rename = "ShopOrderPaymentNeedsRefund")]
    PaymentNeedsRefund {
        /// The order.
        order_id: ShopOrderId,
        /// Payment method text of the payment.
        payment_method: String,
        /// The payment's id.
        payment_id: Option<String>,
        /// The amount paid.
        amount: Money,
        /// The channel that reported it.
        channel: String,
        /// Why the payment could not pay the order. Events written before the field existed
        /// were all for orders no longer payable, so it defaults to [`RefundReason::NotPayable`].
        #[serde(default)]
        reason: RefundReason,
        /// When (UTC).
        recorded_at: DateTime<Utc>,
    },
    /// An admin changed the payment method or id (status unchanged).
    #[serde(rename = "ShopOrderPaymentChanged")]
    PaymentChanged {
        /// The order.
        order_id: ShopOrderId,
        /// Method after the change.
        payment_method: String,
        /// Id after the change.
        payment_id: Option<String>,
        /// The admin.
        changed_by: UserId,
        /// When (UTC).
        changed_at: DateTime<Utc>,
    },
    /// An admin cancelled the unpaid order (status 2); its stock was returned in the same commit.
    #[serde(rename = "ShopOrderCancelled")]
    Cancelled {
        /// The order.
        order_id: ShopOrderId,
        /// The admin.
        cancelled_by: UserId,
        /// When (UTC).
        cancelled_at: DateTime<Utc>,
    },
    /// The order was not paid in time (status 3); its stock was returned in the same commit.
    #[serde(rename = "ShopOrderExpired")]
    Expired {
        /// The order.
        order_id: ShopOrderId,
        /// When (UTC).
        expired_at: DateTime<Utc>,
    },
    /// An admin refunded the paid order (status 4); its stock was returned in the same commit.
    #[serde(rename = "ShopOrderRefunded")]
    Refunded {
        /// The order.
        order_id: ShopOrderId,
        /// The admin.
        refunded_by: UserId,
        /// When (UTC).
        refunded_at: DateTime<Utc>,
    },
    /// An admin deleted (hid) the order; history stays.
    #[serde(rename = "ShopOrderDeleted")]
    Deleted {
        /// The order.
        order_id: ShopOrderId,
        /// The admin.
        deleted_by: UserId,
        /// When (UTC).
        deleted_at: DateTime<Utc>,
    },
}

impl DomainEvent for OrderEvent {}

/// Why a channel's payment was recorded as [`OrderEvent::PaymentNeedsRefund`] instead of paying
/// the order; stored as `alreadyPaid`, `amountMismatch`, `notPayable` (docs/shop.md, "Orders").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RefundReason {
    /// The order was already paid with another payment id (e.g. from the membership card, or
    /// another WeChat Pay transaction); it stays paid with the first payment.
    AlreadyPaid,
    /// The amount is not the order's total; the order stays unpaid.
    AmountMismatch,
    /// The order was cancelled, expired or refunded; its stock is not taken again.
    #[default]
    NotPayable,
}

impl RefundReason {
    /// The stored text (`alreadyPaid`, `amountMismatch`, `notPayable`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AlreadyPaid => "alreadyPaid",
            Self::AmountMismatch => "amountMismatch",
            Self::NotPayable => "notPayable",
        }
    }
}

impl fmt::Display for RefundReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an [`OrderCommand`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// A field is invalid.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// No such order (or deleted).
    #[error("the order does not exist")]
    NotFound,
    /// The stream already holds an order (a bug: ids are random and checked).
    #[error("the order already exists")]
    AlreadyExists,
    /// The transition is not allowed from the current status.
    #[error("status {from} cannot become {to}")]
    Transition {
        /// Current status number.
        from: u8,
        /// Requested status number.
        to: u8,
    },
    /// The order is paid with another payment id.
    #[error("the order is already paid with another payment")]
    AlreadyPaid,
    /// The amount paid is not the order's total.
    #[error("paid {}, the order's total is {}", paid.amount(), total.amount())]
    AmountMismatch {
        /// What was paid.
        paid: Money,
        /// The order's total.
        total: Money,
    },
}

fn check_payment_text(field: &str, text: &str) -> Result<(), FieldError> {
    check_text(field, text, 1, MAX_PAYMENT_TEXT)
}

impl PlacedOrder {
    /// Check the lines and totals: 1–[`MAX_LINES`] lines of distinct products, quantities
    /// 1–[`MAX_QUANTITY`], CNY, line totals and the total adding up, a placeable method.
    pub fn check(&self) -> Result<(), FieldError> {
        if self.lines.is_empty() {
            return Err(FieldError::new("items", "至少需要一个商品"));
        }
        if self.lines.len() > MAX_LINES {
            return Err(FieldError::new("items", format!("最多 {MAX_LINES} 种商品")));
        }
        check_payment_text("payment_method", &self.payment_method)?;
        if !PaymentMethod::parse(&self.payment_method).is_some_and(PaymentMethod::can_place) {
            return Err(FieldError::new(
                "payment_method",
                "应为 微信支付 (wxpay) 或 会员卡 (balance)",
            ));
        }
        let mut total = Money::zero(Currency::CNY);
        for (i, line) in self.lines.iter().enumerate() {
            if self.lines[..i]
                .iter()
                .any(|l| l.product_id == line.product_id)
            {
                return Err(FieldError::new(
                    format!("items[{i}].product_id"),
                    "商品重复",
                ));
            }
            if line.quantity == 0 || line.quantity > MAX_QUANTITY {
                return Err(FieldError::new(
                    format!("items[{i}].quantity"),
                    format!("应为 1 到 {MAX_QUANTITY} 的整数"),
                ));
            }
            let line_total = line
                .unit_price
                .checked_mul(line.quantity)
                .map_err(|e| FieldError::new(format!("items[{i}].quantity"), e.to_string()))?;
            if line.unit_price.currency() != Currency::CNY || line_total != line.total_price {
                return Err(FieldError::new(
                    format!("items[{i}]"),
                    "line total is not unit price × quantity in CNY",
                ));
            }
            total = total
                .checked_add(&line_total)
                .map_err(|e| FieldError::new("items", e.to_string()))?;
        }
        if total != self.total_amount {
            return Err(FieldError::new(
                "total_amount",
                "is not the sum of the lines",
            ));
        }
        Ok(())
    }
}

impl ShopOrder {
    fn live(&self) -> Result<(&PlacedOrder, OrderStatus), OrderError> {
        match (&self.placed, self.status) {
            (Some(p), Some(s)) if !self.deleted => Ok((p, s)),
            _ => Err(OrderError::NotFound),
        }
    }

    fn pay(
        &self,
        payment_method: &Option<String>,
        payment_id: &Option<String>,
        amount: &Money,
        by: &PaidBy,
        now: DateTime<Utc>,
    ) -> Result<Vec<OrderEvent>, OrderError> {
        // A payment is money that arrived: it is recorded even on a deleted order.
        let (Some(placed), Some(status)) = (&self.placed, self.status) else {
            return Err(OrderError::NotFound);
        };
        if let Some(m) = payment_method {
            check_payment_text("payment_method", m)?;
        }
        if let Some(id) = payment_id {
            check_payment_text("payment_id", id)?;
        }
        let method = payment_method
            .clone()
            .unwrap_or_else(|| self.payment_method.clone());
        let (paid_by, channel) = match by {
            PaidBy::Admin(admin) => (Some(*admin), "admin".to_owned()),
            PaidBy::Channel(c) => (None, c.clone()),
        };
        let order_id = placed.order_id.clone();
        let channel_payment = matches!(by, PaidBy::Channel(_));
        // A channel's payment id seen before (paid, or recorded as needing a refund): nothing.
        let seen = payment_id.as_ref().is_some_and(|id| {
            (status != OrderStatus::Unpaid && self.payment_id.as_ref() == Some(id))
                || self.refunds_due.contains(id)
        });
        let (reason, error) = match status {
            OrderStatus::Unpaid if *amount == placed.total_amount => {
                if channel_payment && seen {
                    return Ok(Vec::new());
                }
                return Ok(vec![OrderEvent::Paid {
                    order_id,
                    payment_method: method,
                    payment_id: payment_id.clone(),
                    amount: *amount,
                    paid_by,
                    channel,
                    paid_at: now,
                }]);
            }
            OrderStatus::Paid if payment_id.is_some() && *payment_id == self.payment_id => {
                return Ok(Vec::new());
            }
            OrderStatus::Unpaid => (
                RefundReason::AmountMismatch,
                OrderError::AmountMismatch {
                    paid: *amount,
                    total: placed.total_amount,
                },
            ),
            OrderStatus::Paid => (RefundReason::AlreadyPaid, OrderError::AlreadyPaid),
            OrderStatus::Cancelled | OrderStatus::Expired | OrderStatus::Refunded => (
                RefundReason::NotPayable,
                OrderError::Transition {
                    from: status.number(),
                    to: OrderStatus::Paid.number(),
                },
            ),
        };
        if !channel_payment {
            return Err(error);
        }
        if seen {
            return Ok(Vec::new());
        }
        Ok(vec![OrderEvent::PaymentNeedsRefund {
            order_id,
            payment_method: method,
            payment_id: payment_id.clone(),
            amount: *amount,
            channel,
            reason,
            recorded_at: now,
        }])
    }
}

impl Decider for ShopOrder {
    const CATEGORY: &'static str = "shopOrder";
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = OrderError;

    fn decide(&self, command: &OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
        match command {
            OrderCommand::Place(order) => {
                if self.placed.is_some() {
                    return Err(OrderError::AlreadyExists);
                }
                order.check()?;
                Ok(vec![OrderEvent::Placed {
                    order_id: order.order_id.clone(),
                    user_id: order.user_id,
                    account_id: order.account_id,
                    lines: order.lines.clone(),
                    total_amount: order.total_amount,
                    payment_method: order.payment_method.trim().to_owned(),
                    expires_at: order.expires_at,
                    placed_at: order.placed_at,
                }])
            }
            OrderCommand::Pay {
                payment_method,
                payment_id,
                amount,
                by,
                now,
            } => self.pay(payment_method, payment_id, amount, by, *now),
            OrderCommand::ChangePayment {
                payment_method,
                payment_id,
                by,
                now,
            } => {
                let (placed, _) = self.live()?;
                if let Some(m) = payment_method {
                    check_payment_text("payment_method", m)?;
                    if PaymentMethod::parse(m).is_none() {
                        return Err(FieldError::new(
                            "payment_method",
                            "应为 微信支付、会员卡 或 支付宝",
                        )
                        .into());
                    }
                }
                if let Some(Some(id)) = payment_id {
                    check_payment_text("payment_id", id)?;
                }
                let method = payment_method
                    .as_ref()
                    .map(|m| m.trim().to_owned())
                    .unwrap_or_else(|| self.payment_method.clone());
                let id = payment_id
                    .clone()
                    .unwrap_or_else(|| self.payment_id.clone());
                if method == self.payment_method && id == self.payment_id {
                    return Ok(Vec::new());
                }
                Ok(vec![OrderEvent::PaymentChanged {
                    order_id: placed.order_id.clone(),
                    payment_method: method,
                    payment_id: id,
                    changed_by: *by,
                    changed_at: *now,
                }])
            }
            OrderCommand::Cancel { by, now } => {
                let (placed, status) = self.live()?;
                match status {
                    OrderStatus::Unpaid => Ok(vec![OrderEvent::Cancelled {
                        order_id: placed.order_id.clone(),
                        cancelled_by: *by,
                        cancelled_at: *now,
                    }]),
                    OrderStatus::Cancelled => Ok(Vec::new()),
                    other => Err(OrderError::Transition {
                        from: other.number(),
                        to: OrderStatus::Cancelled.number(),
                    }),
                }
            }
            OrderCommand::Expire { now } => match (&self.placed, self.status) {
                (Some(p), Some(OrderStatus::Unpaid)) if *now >= p.expires_at => {
                    Ok(vec![OrderEvent::Expired {
                        order_id: p.order_id.clone(),
                        expired_at: *now,
                    }])
                }
                _ => Ok(Vec::new()),
            },
            OrderCommand::Refund { by, now } => {
                let (placed, status) = self.live()?;
                match status {
                    OrderStatus::Paid => Ok(vec![OrderEvent::Refunded {
                        order_id: placed.order_id.clone(),
                        refunded_by: *by,
                        refunded_at: *now,
                    }]),
                    OrderStatus::Refunded => Ok(Vec::new()),
                    other => Err(OrderError::Transition {
                        from: other.number(),
                        to: OrderStatus::Refunded.number(),
                    }),
                }
            }
            OrderCommand::Delete { by, now } => {
                let Some(placed) = &self.placed else {
                    return Err(OrderError::NotFound);
                };
                if self.deleted {
                    return Ok(Vec::new());
                }
                Ok(vec![OrderEvent::Deleted {
                    order_id: placed.order_id.clone(),
                    deleted_by: *by,
                    deleted_at: *now,
                }])
            }
        }
    }

    fn evolve(mut self, event: &OrderEvent) -> Self {
        match event {
            OrderEvent::Placed {
                order_id,
                user_id,
                account_id,
                lines,
                total_amount,
                payment_method,
                expires_at,
                placed_at,
            } => {
                self.placed = Some(PlacedOrder {
                    order_id: order_id.clone(),
                    user_id: *user_id,
                    account_id: *account_id,
                    lines: lines.clone(),
                    total_amount: *total_amount,
                    payment_method: payment_method.clone(),
                    expires_at: *expires_at,
                    placed_at: *placed_at,
                });
                self.status = Some(OrderStatus::Unpaid);
                self.payment_method = payment_method.clone();
                self.updated_at = Some(*placed_at);
            }
            OrderEvent::Paid {
                payment_method,
                payment_id,
                paid_at,
                ..
            } => {
                self.status = Some(OrderStatus::Paid);
                self.payment_method = payment_method.clone();
                self.payment_id = payment_id.clone();
                self.updated_at = Some(*paid_at);
            }
            OrderEvent::PaymentNeedsRefund { payment_id, .. } => {
                if let Some(id) = payment_id {
                    self.refunds_due.push(id.clone());
                }
            }
            OrderEvent::PaymentChanged {
                payment_method,
                payment_id,
                changed_at,
                ..
            } => {
                self.payment_method = payment_method.clone();
                self.payment_id = payment_id.clone();
                self.updated_at = Some(*changed_at);
            }
            OrderEvent::Cancelled { cancelled_at, .. } => {
                self.status = Some(OrderStatus::Cancelled);
                self.updated_at = Some(*cancelled_at);
            }
            OrderEvent::Expired { expired_at, .. } => {
                self.status = Some(OrderStatus::Expired);
                self.updated_at = Some(*expired_at);
            }
            OrderEvent::Refunded { refunded_at, .. } => {
                self.status = Some(OrderStatus::Refunded);
                self.updated_at = Some(*refunded_at);
            }
            OrderEvent::Deleted { deleted_at, .. } => {
                self.deleted = true;
                self.updated_at = Some(*deleted_at);
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn cny(fen: i64) -> Money {
        Money::from_minor(fen, Currency::CNY).unwrap()
    }

    fn placed(now: DateTime<Utc>) -> PlacedOrder {
        PlacedOrder {
            order_id: ShopOrderId::from_random(42),
            user_id: 1,
            account_id: UserId::from_uuid(uuid::Uuid::nil()),
            lines: vec![
                OrderLine {
                    order_item_id: 1,
                    product_id: 1,
                    product_name: "咖啡".into(),
                    quantity: 2,
                    unit_price: cny(9999),
                    total_price: cny(19998),
                },
                OrderLine {
                    order_item_id: 2,
                    product_id: 2,
                    product_name: "茶".into(),
                    quantity: 1,
                    unit_price: cny(9999),
                    total_price: cny(9999),
                },
            ],
            total_amount: cny(29997),
            payment_method: "微信支付".into(),
            expires_at: now + Duration::minutes(15),
            placed_at: now,
        }
    }

    fn given(events: &[OrderEvent]) -> ShopOrder {
        ShopOrder::replay(events)
    }

    fn pay(id: &str, fen: i64, now: DateTime<Utc>) -> OrderCommand {
        OrderCommand::Pay {
            payment_method: None,
            payment_id: Some(id.into()),
            amount: cny(fen),
            by: PaidBy::Channel("wxpay-notify".into()),
            now,
        }
    }

    #[test]
    fn order_ids_are_order_and_digits() {
        let id = ShopOrderId::from_random(u128::MAX);
        assert!(id.as_str().starts_with("ORDER"));
        assert_eq!(id.as_str().len(), 5 + ORDER_DIGITS);
        assert!(ShopOrderId::parse(id.as_str()).is_ok());
        assert_eq!(
            ShopOrderId::from_random(7).as_str(),
            "ORDER000000000000000007"
        );
        for bad in [
            "ORDER123",
            "order1234567890",
            "ORDER12345678901x",
            "1234567890",
        ] {
            assert!(ShopOrderId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn placing_checks_lines_and_totals() {
        let now = DateTime::UNIX_EPOCH;
        let ok = ShopOrder::default()
            .decide(&OrderCommand::Place(placed(now)))
            .unwrap();
        assert!(matches!(ok.as_slice(), [OrderEvent::Placed { .. }]));
        let mut dup = placed(now);
        dup.lines[1].product_id = 1;
        assert!(matches!(
            ShopOrder::default().decide(&OrderCommand::Place(dup)),
            Err(OrderError::Field(f)) if f.field == "items[1].product_id"
        ));
        let mut zero = placed(now);
        zero.lines[0].quantity = 0;
        assert!(matches!(
            ShopOrder::default().decide(&OrderCommand::Place(zero)),
            Err(OrderError::Field(f)) if f.field == "items[0].quantity"
        ));
        let mut wrong_total = placed(now);
        wrong_total.total_amount = cny(1);
        assert!(
            ShopOrder::default()
                .decide(&OrderCommand::Place(wrong_total))
                .is_err()
        );
        let mut alipay = placed(now);
        alipay.payment_method = "支付宝".into();
        assert!(matches!(
            ShopOrder::default().decide(&OrderCommand::Place(alipay)),
            Err(OrderError::Field(f)) if f.field == "payment_method"
        ));
        let again = given(&ok).decide(&OrderCommand::Place(placed(now)));
        assert_eq!(again, Err(OrderError::AlreadyExists));
    }

    fn admin_pay(id: &str, fen: i64, now: DateTime<Utc>) -> OrderCommand {
        OrderCommand::Pay {
            payment_method: None,
            payment_id: Some(id.into()),
            amount: cny(fen),
            by: PaidBy::Admin(UserId::from_uuid(uuid::Uuid::nil())),
            now,
        }
    }

    fn needs_refund(events: &[OrderEvent], want_id: &str, want: RefundReason, fen: i64) -> bool {
        matches!(
            events,
            [OrderEvent::PaymentNeedsRefund { payment_id: Some(id), reason, amount, .. }]
                if id == want_id && *reason == want && *amount == cny(fen)
        )
    }

    #[test]
    fn paying_is_idempotent_per_payment_id_and_money_that_cannot_pay_needs_a_refund() {
        let now = DateTime::UNIX_EPOCH;
        let placed_events = ShopOrder::default()
            .decide(&OrderCommand::Place(placed(now)))
            .unwrap();
        let order = given(&placed_events);
        // A wrong amount: an admin is refused; a channel's payment is recorded once, unpaid.
        assert!(matches!(
            order.decide(&admin_pay("wx0", 100, now)),
            Err(OrderError::AmountMismatch { .. })
        ));
        let wrong = order.decide(&pay("wx0", 100, now)).unwrap();
        assert!(needs_refund(
            &wrong,
            "wx0",
            RefundReason::AmountMismatch,
            100
        ));
        let order = wrong.iter().fold(order, |o, e| o.evolve(e));
        assert_eq!(order.status(), Some(OrderStatus::Unpaid));
        assert_eq!(order.refunds_due(), ["wx0"]);
        assert_eq!(order.decide(&pay("wx0", 100, now)), Ok(Vec::new()));
        let paid = order.decide(&pay("wx1", 29997, now)).unwrap();
        let order = paid.iter().fold(order, |o, e| o.evolve(e));
        assert_eq!(order.status(), Some(OrderStatus::Paid));
        assert_eq!(order.decide(&pay("wx1", 29997, now)), Ok(Vec::new()));
        assert_eq!(order.decide(&pay("wx0", 100, now)), Ok(Vec::new()));
        // Another payment of the paid order: an admin is refused; a channel's is recorded once
        // and the order stays paid with the first payment.
        assert_eq!(
            order.decide(&admin_pay("wx2", 29997, now)),
            Err(OrderError::AlreadyPaid)
        );
        let second = order.decide(&pay("wx2", 29997, now)).unwrap();
        assert!(needs_refund(
            &second,
            "wx2",
            RefundReason::AlreadyPaid,
            29997
        ));
        let order = second.iter().fold(order, |o, e| o.evolve(e));
        assert_eq!(order.status(), Some(OrderStatus::Paid));
        assert_eq!(order.payment_id(), Some("wx1"));
        assert_eq!(order.decide(&pay("wx2", 29997, now)), Ok(Vec::new()));
        // Paid orders neither expire nor cancel.
        let later = now + Duration::hours(1);
        assert_eq!(
            order.decide(&OrderCommand::Expire { now: later }),
            Ok(Vec::new())
        );
        let admin = UserId::from_uuid(uuid::Uuid::nil());
        assert_eq!(
            order.decide(&OrderCommand::Cancel { by: admin, now }),
            Err(OrderError::Transition { from: 1, to: 2 })
        );
    }

    #[test]
    fn expiry_waits_for_the_deadline_and_late_payments_need_a_refund() {
        let now = DateTime::UNIX_EPOCH;
        let order = given(
            &ShopOrder::default()
                .decide(&OrderCommand::Place(placed(now)))
                .unwrap(),
        );
        assert_eq!(order.decide(&OrderCommand::Expire { now }), Ok(Vec::new()));
        let later = now + Duration::minutes(15);
        let expired = order.decide(&OrderCommand::Expire { now: later }).unwrap();
        let order = expired.iter().fold(order, |o, e| o.evolve(e));
        assert_eq!(order.status(), Some(OrderStatus::Expired));
        let late = order.decide(&pay("wx9", 29997, later)).unwrap();
        assert!(needs_refund(&late, "wx9", RefundReason::NotPayable, 29997));
        let order = late.iter().fold(order, |o, e| o.evolve(e));
        assert_eq!(order.status(), Some(OrderStatus::Expired));
        assert_eq!(order.decide(&pay("wx9", 29997, later)), Ok(Vec::new()));
        let admin = PaidBy::Admin(UserId::from_uuid(uuid::Uuid::nil()));
        assert_eq!(
            order.decide(&OrderCommand::Pay {
                payment_method: None,
                payment_id: None,
                amount: cny(29997),
                by: admin,
                now
            }),
            Err(OrderError::Transition { from: 3, to: 1 })
        );
    }

    #[test]
    fn refund_reason_is_stored_and_old_events_default_to_not_payable() {
        let now = DateTime::UNIX_EPOCH;
        let event = OrderEvent::PaymentNeedsRefund {
            order_id: ShopOrderId::from_random(42),
            payment_method: "微信支付".into(),
            payment_id: Some("wx1".into()),
            amount: cny(100),
            channel: "wxpay".into(),
            reason: RefundReason::AmountMismatch,
            recorded_at: now,
        };
        let mut json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["data"]["reason"], "amountMismatch");
        json["data"].as_object_mut().unwrap().remove("reason");
        let old: OrderEvent = serde_json::from_value(json).unwrap();
        assert!(matches!(
            old,
            OrderEvent::PaymentNeedsRefund {
                reason: RefundReason::NotPayable,
                ..
            }
        ));
    }
}
