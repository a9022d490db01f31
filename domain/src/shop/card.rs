//! Membership cards (seed 002 "会员卡 API"): [`MembershipCard`] in `shopMembershipCard-{cardId}`
//! holds one card's number, balance and status, and records every member transaction as an event
//! ([`CardEvent::TransactionRecorded`]); [`CardHolder`] in `shopCardHolder-{userId}` guards the
//! rule that a shop user holds at most one open card (docs/shop.md, "Membership cards";
//! docs/decisions/0022-membership-card-balance.md).
//!
//! The balance is CNY ([`Money`], scale 2) and never negative: a spend or a downward adjustment
//! larger than the balance is refused by [`MembershipCard::decide`], and because every change is
//! decided against the stream version it was loaded at, concurrent spends cannot together overdraw
//! it (the loser re-decides against the winner's balance).
//!
//! Card numbers are derived from `card_id` ([`card_number`]): the prefix [`CARD_PREFIX`], the id in
//! 11 digits and a Luhn check digit, so two cards never share a number (their ids differ) without
//! any claim stream.

use crate::shared::{Currency, FieldError, Money, check_text};
use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The first four digits of every card number.
pub const CARD_PREFIX: &str = "8860";
/// Digits of the `card_id` part of a card number (ids up to 99,999,999,999).
pub const CARD_ID_DIGITS: usize = 11;
/// Longest transaction description (or adjustment reason), in characters.
pub const MAX_DESCRIPTION: usize = 200;
/// Longest order id a spend or refund may name, in characters.
pub const MAX_ORDER_ID: usize = 64;

/// The Luhn check digit of `payload` (ASCII digits): the digit that makes `payload` followed by
/// it pass [`luhn_valid`]. `None` when `payload` holds anything but ASCII digits.
pub fn luhn_digit(payload: &str) -> Option<u8> {
    let mut sum = 0u32;
    // From the right of the payload, every first digit is doubled (the check digit will sit
    // to its right and be the undoubled position 0).
    for (i, c) in payload.chars().rev().enumerate() {
        let d = c.to_digit(10)?;
        let d = if i % 2 == 0 {
            let x = d * 2;
            if x > 9 { x - 9 } else { x }
        } else {
            d
        };
        sum += d;
    }
    u8::try_from((10 - sum % 10) % 10).ok()
}

/// Whether `number` (ASCII digits, at least two) ends in the Luhn check digit of the rest.
pub fn luhn_valid(number: &str) -> bool {
    if number.len() < 2 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let (payload, check) = number.split_at(number.len() - 1);
    luhn_digit(payload).map(|d| d.to_string()) == Some(check.to_owned())
}

/// The card number of card `card_id`: [`CARD_PREFIX`], `card_id` zero-padded to
/// [`CARD_ID_DIGITS`] digits, and a Luhn check digit — 16 digits, e.g. card 1 →
/// `8860000000000010`. Distinct ids give distinct numbers.
pub fn card_number(card_id: u64) -> String {
    let payload = format!("{CARD_PREFIX}{card_id:0width$}", width = CARD_ID_DIGITS);
    let check = luhn_digit(&payload).unwrap_or(0);
    format!("{payload}{check}")
}

/// What a member transaction does to the balance; [`TransactionKind::code`] is the seed's `type`
/// number (seed 002 shows `"type": 1` for a top-up, "充值50元").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TransactionKind {
    /// 1 充值: money paid in; adds to the balance.
    TopUp,
    /// 2 消费: a purchase paid from the card; takes from the balance, never below zero.
    Spend,
    /// 3 退款: a purchase paid back onto the card; adds to the balance.
    Refund,
    /// 4 调增: an admin's correction upwards (a balance `PUT` above the balance).
    AdjustmentUp,
    /// 5 调减: an admin's correction downwards (a balance `PUT` below the balance); never below zero.
    AdjustmentDown,
}

impl TransactionKind {
    /// Every kind, by code.
    pub const ALL: [TransactionKind; 5] = [
        TransactionKind::TopUp,
        TransactionKind::Spend,
        TransactionKind::Refund,
        TransactionKind::AdjustmentUp,
        TransactionKind::AdjustmentDown,
    ];

    /// The seed's `type` number: 1 top-up, 2 spend, 3 refund, 4 adjustment up, 5 adjustment down.
    pub fn code(self) -> u8 {
        match self {
            TransactionKind::TopUp => 1,
            TransactionKind::Spend => 2,
            TransactionKind::Refund => 3,
            TransactionKind::AdjustmentUp => 4,
            TransactionKind::AdjustmentDown => 5,
        }
    }

    /// The kind of `type` number `code`; `None` outside 1–5.
    pub fn from_code(code: u64) -> Option<Self> {
        Self::ALL.into_iter().find(|k| u64::from(k.code()) == code)
    }

    /// Whether it adds to the balance (top-up, refund, adjustment up).
    pub fn is_credit(self) -> bool {
        matches!(
            self,
            TransactionKind::TopUp | TransactionKind::Refund | TransactionKind::AdjustmentUp
        )
    }

    /// Whether it is an admin's correction (a reason is required).
    pub fn is_adjustment(self) -> bool {
        matches!(
            self,
            TransactionKind::AdjustmentUp | TransactionKind::AdjustmentDown
        )
    }

    /// Whether a frozen card refuses it: top-ups and spends. Refunds and adjustments still go
    /// through (money owed back to the member, an admin's correction).
    pub fn refused_when_frozen(self) -> bool {
        matches!(self, TransactionKind::TopUp | TransactionKind::Spend)
    }
}

/// One transaction to record on a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionInput {
    /// What it does to the balance.
    pub kind: TransactionKind,
    /// Its `transaction_id`, taken from `shopSequence-transaction` in the same commit.
    pub transaction_id: u64,
    /// How much, CNY, more than 0.00 (the direction is the kind's).
    pub amount: Money,
    /// What it was for (required for adjustments), at most [`MAX_DESCRIPTION`] characters.
    pub description: Option<String>,
    /// The order paid or refunded, when there is one (the order part sets it).
    pub order_id: Option<String>,
    /// Who did it: the admin, or the member paying an order.
    pub by: UserId,
    /// Current time (UTC).
    pub now: DateTime<Utc>,
}

/// A membership card: nothing before [`CardEvent::Issued`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipCard {
    card_id: u64,
    user_id: u64,
    number: Option<String>,
    balance: Money,
    frozen: bool,
    closed: bool,
}

impl Default for MembershipCard {
    fn default() -> Self {
        Self {
            card_id: 0,
            user_id: 0,
            number: None,
            balance: Money::zero(Currency::CNY),
            frozen: false,
            closed: false,
        }
    }
}

impl MembershipCard {
    /// Its `card_id` (0 before issue).
    pub fn card_id(&self) -> u64 {
        self.card_id
    }

    /// The shop `user_id` of its holder (0 before issue).
    pub fn user_id(&self) -> u64 {
        self.user_id
    }

    /// Its number, once issued.
    pub fn number(&self) -> Option<&str> {
        self.number.as_deref()
    }

    /// The balance (CNY, never negative).
    pub fn balance(&self) -> Money {
        self.balance
    }

    /// Whether it is frozen (`status` 0).
    pub fn is_frozen(&self) -> bool {
        self.frozen
    }

    /// Whether it was issued and is not closed.
    pub fn is_open(&self) -> bool {
        self.number.is_some() && !self.closed
    }
}

/// Commands for [`MembershipCard`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardCommand {
    /// Issue the card to `user_id` with balance 0.00 and the number [`card_number`]`(card_id)`.
    Issue {
        /// Its number, taken from `shopSequence-card` in the same commit (also the stream id).
        card_id: u64,
        /// The holder's shop `user_id`.
        user_id: u64,
        /// The admin issuing it.
        by: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Record a member transaction (top-up, spend, refund, adjustment).
    Transact(TransactionInput),
    /// Pay `amount` from the card for order `order_id`: a [`TransactionKind::Spend`] naming the
    /// order, for the order part to decide in the same atomic commit as the order becoming paid.
    Spend {
        /// Its `transaction_id` (from `shopSequence-transaction`, same commit).
        transaction_id: u64,
        /// The order's total, CNY, more than 0.00.
        amount: Money,
        /// The order paid.
        order_id: String,
        /// What the member sees in the card's transactions.
        description: Option<String>,
        /// The member paying (or the admin acting for them).
        by: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Set the balance to `target` (an admin's `PUT`): records an adjustment of the difference
    /// (up or down) with `reason`; nothing when `target` is the balance.
    SetBalance {
        /// The balance wanted, CNY, at most [`super::MAX_YUAN`].
        target: Money,
        /// Its `transaction_id` (from `shopSequence-transaction`, same commit).
        transaction_id: u64,
        /// Why (required, at most [`MAX_DESCRIPTION`] characters).
        reason: String,
        /// The admin.
        by: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Freeze (`status` 0); freezing a frozen card changes nothing.
    Freeze {
        /// The admin.
        by: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Unfreeze (`status` 1); unfreezing an active card changes nothing.
    Unfreeze {
        /// The admin.
        by: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Close the card for good (`DELETE`); only with a balance of 0.00.
    Close {
        /// The admin.
        by: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`MembershipCard`] (docs/event-catalog.md, "Shop membership cards").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum CardEvent {
    /// The card was issued with balance 0.00 and status 1.
    #[serde(rename = "ShopMembershipCardIssued")]
    Issued {
        /// Its `card_id` (also the stream id).
        card_id: u64,
        /// The holder's shop `user_id`.
        user_id: u64,
        /// Its 16-digit number with a Luhn check digit.
        card_number: String,
        /// The admin who issued it.
        issued_by: UserId,
        /// When (UTC).
        issued_at: DateTime<Utc>,
    },
    /// A member transaction changed the balance.
    #[serde(rename = "ShopMemberTransactionRecorded")]
    TransactionRecorded {
        /// The card.
        card_id: u64,
        /// Its `transaction_id`.
        transaction_id: u64,
        /// What it does (`topUp`, `spend`, `refund`, `adjustmentUp`, `adjustmentDown`).
        kind: TransactionKind,
        /// How much, `{"amount": "50.00", "currency": "CNY"}`, always more than 0.
        amount: Money,
        /// The balance after it.
        balance_after: Money,
        /// What it was for, or null.
        description: Option<String>,
        /// The order it paid or refunded, or null.
        order_id: Option<String>,
        /// Who recorded it.
        recorded_by: UserId,
        /// When (UTC).
        recorded_at: DateTime<Utc>,
    },
    /// The card was frozen (`status` 0).
    #[serde(rename = "ShopMembershipCardFrozen")]
    Frozen {
        /// The card.
        card_id: u64,
        /// The admin.
        frozen_by: UserId,
        /// When (UTC).
        frozen_at: DateTime<Utc>,
    },
    /// The card was unfrozen (`status` 1).
    #[serde(rename = "ShopMembershipCardUnfrozen")]
    Unfrozen {
        /// The card.
        card_id: u64,
        /// The admin.
        unfrozen_by: UserId,
        /// When (UTC).
        unfrozen_at: DateTime<Utc>,
    },
    /// The card was closed (`DELETE`): gone from the routes, history kept.
    #[serde(rename = "ShopMembershipCardClosed")]
    Closed {
        /// The card.
        card_id: u64,
        /// The admin.
        closed_by: UserId,
        /// When (UTC).
        closed_at: DateTime<Utc>,
    },
}

impl DomainEvent for CardEvent {}

/// Why a [`CardCommand`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// A field is invalid (`amount`, `description`, `balance`, `reason`).
    #[error(transparent)]
    Field(#[from] FieldError),
    /// No open card (never issued, or closed).
    #[error("the card does not exist")]
    NotFound,
    /// The stream already holds a card (a bug in the caller: numbers come from the sequence).
    #[error("the card already exists")]
    AlreadyIssued,
    /// The card is frozen and refuses top-ups and spends.
    #[error("the card is frozen")]
    Frozen,
    /// The balance is smaller than the amount taken.
    #[error("balance {} is less than {}", .balance.amount(), .amount.amount())]
    InsufficientBalance {
        /// The balance.
        balance: Money,
        /// The amount asked for.
        amount: Money,
    },
    /// A card with money on it is not closed (set the balance to 0.00 first).
    #[error("the balance is {}, not 0.00", .0.amount())]
    BalanceNotZero(Money),
}

fn check_amount(field: &str, amount: &Money) -> Result<(), FieldError> {
    super::check_price(field, amount)?;
    if amount.amount().is_zero() {
        return Err(FieldError::new(field, "must be more than 0.00"));
    }
    Ok(())
}

fn check_description(field: &str, text: Option<&str>, required: bool) -> Result<(), FieldError> {
    match text {
        Some(t) => check_text(field, t, usize::from(required), MAX_DESCRIPTION),
        None if required => Err(FieldError::new(
            field,
            "is required for an adjustment (the reason)",
        )),
        None => Ok(()),
    }
}

impl MembershipCard {
    fn open(&self) -> Result<(), CardError> {
        if self.is_open() {
            Ok(())
        } else {
            Err(CardError::NotFound)
        }
    }

    /// The balance after `kind` of `amount`, or why not.
    fn after(&self, kind: TransactionKind, amount: &Money) -> Result<Money, CardError> {
        let cap = Money::from_minor(super::MAX_YUAN * 100, Currency::CNY)
            .map_err(|e| FieldError::new("amount", e.to_string()))?;
        if kind.is_credit() {
            let after = self
                .balance
                .checked_add(amount)
                .map_err(|e| FieldError::new("amount", e.to_string()))?;
            if after.amount() > cap.amount() {
                return Err(FieldError::new(
                    "amount",
                    format!("the balance would exceed {} yuan", super::MAX_YUAN),
                )
                .into());
            }
            Ok(after)
        } else {
            let rest = self.balance.amount() - amount.amount();
            if rest.is_sign_negative() && !rest.is_zero() {
                return Err(CardError::InsufficientBalance {
                    balance: self.balance,
                    amount: *amount,
                });
            }
            Money::new(rest, Currency::CNY)
                .map_err(|e| FieldError::new("amount", e.to_string()).into())
        }
    }

    fn record(&self, t: &TransactionInput, field: &str) -> Result<CardEvent, CardError> {
        self.open()?;
        check_amount(field, &t.amount)?;
        let description_field = if field == "balance" {
            "reason"
        } else {
            "description"
        };
        check_description(
            description_field,
            t.description.as_deref(),
            t.kind.is_adjustment(),
        )?;
        if let Some(order) = &t.order_id {
            check_text("order_id", order, 1, MAX_ORDER_ID)?;
        }
        if self.frozen && t.kind.refused_when_frozen() {
            return Err(CardError::Frozen);
        }
        let balance_after = self.after(t.kind, &t.amount)?;
        Ok(CardEvent::TransactionRecorded {
            card_id: self.card_id,
            transaction_id: t.transaction_id,
            kind: t.kind,
            amount: t.amount,
            balance_after,
            description: t.description.clone(),
            order_id: t.order_id.clone(),
            recorded_by: t.by,
            recorded_at: t.now,
        })
    }
}

impl Decider for MembershipCard {
    const CATEGORY: &'static str = "shopMembershipCard";
    type Command = CardCommand;
    type Event = CardEvent;
    type Error = CardError;

    fn decide(&self, command: &CardCommand) -> Result<Vec<CardEvent>, CardError> {
        match command {
            CardCommand::Issue {
                card_id,
                user_id,
                by,
                now,
            } => {
                if self.number.is_some() {
                    return Err(CardError::AlreadyIssued);
                }
                Ok(vec![CardEvent::Issued {
                    card_id: *card_id,
                    user_id: *user_id,
                    card_number: card_number(*card_id),
                    issued_by: *by,
                    issued_at: *now,
                }])
            }
            CardCommand::Transact(t) => Ok(vec![self.record(t, "amount")?]),
            CardCommand::Spend {
                transaction_id,
                amount,
                order_id,
                description,
                by,
                now,
            } => {
                let t = TransactionInput {
                    kind: TransactionKind::Spend,
                    transaction_id: *transaction_id,
                    amount: *amount,
                    description: description.clone(),
                    order_id: Some(order_id.clone()),
                    by: *by,
                    now: *now,
                };
                Ok(vec![self.record(&t, "amount")?])
            }
            CardCommand::SetBalance {
                target,
                transaction_id,
                reason,
                by,
                now,
            } => {
                self.open()?;
                super::check_price("balance", target)?;
                let (kind, amount) = if target.amount() > self.balance.amount() {
                    (
                        TransactionKind::AdjustmentUp,
                        target.amount() - self.balance.amount(),
                    )
                } else {
                    (
                        TransactionKind::AdjustmentDown,
                        self.balance.amount() - target.amount(),
                    )
                };
                if amount.is_zero() {
                    return Ok(Vec::new());
                }
                let amount = Money::new(amount, Currency::CNY)
                    .map_err(|e| FieldError::new("balance", e.to_string()))?;
                let t = TransactionInput {
                    kind,
                    transaction_id: *transaction_id,
                    amount,
                    description: Some(reason.clone()),
                    order_id: None,
                    by: *by,
                    now: *now,
                };
                Ok(vec![self.record(&t, "balance")?])
            }
            CardCommand::Freeze { by, now } => {
                self.open()?;
                if self.frozen {
                    return Ok(Vec::new());
                }
                Ok(vec![CardEvent::Frozen {
                    card_id: self.card_id,
                    frozen_by: *by,
                    frozen_at: *now,
                }])
            }
            CardCommand::Unfreeze { by, now } => {
                self.open()?;
                if !self.frozen {
                    return Ok(Vec::new());
                }
                Ok(vec![CardEvent::Unfrozen {
                    card_id: self.card_id,
                    unfrozen_by: *by,
                    unfrozen_at: *now,
                }])
            }
            CardCommand::Close { by, now } => {
                self.open()?;
                if !self.balance.amount().is_zero() {
                    return Err(CardError::BalanceNotZero(self.balance));
                }
                Ok(vec![CardEvent::Closed {
                    card_id: self.card_id,
                    closed_by: *by,
                    closed_at: *now,
                }])
            }
        }
    }

    fn evolve(mut self, event: &CardEvent) -> Self {
        match event {
            CardEvent::Issued {
                card_id,
                user_id,
                card_number,
                ..
            } => {
                self.card_id = *card_id;
                self.user_id = *user_id;
                self.number = Some(card_number.clone());
            }
            CardEvent::TransactionRecorded { balance_after, .. } => self.balance = *balance_after,
            CardEvent::Frozen { .. } => self.frozen = true,
            CardEvent::Unfrozen { .. } => self.frozen = false,
            CardEvent::Closed { .. } => self.closed = true,
        }
        self
    }
}

// ------------------------------------------------------------------------------- card holder

/// Which open card a shop user holds, in `shopCardHolder-{userId}`: a user holds at most one open
/// card. Issuing decides [`HolderCommand::Hold`] here in the same atomic commit as
/// [`CardCommand::Issue`]; closing decides [`HolderCommand::Release`] with [`CardCommand::Close`],
/// after which a new card may be issued. The order part finds the card a user pays with here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardHolder {
    card_id: Option<u64>,
}

impl CardHolder {
    /// The user's open card, if any.
    pub fn card_id(&self) -> Option<u64> {
        self.card_id
    }
}

/// Commands for [`CardHolder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HolderCommand {
    /// The user now holds `card_id`; refused while they hold another open card.
    Hold {
        /// The user's shop `user_id` (also the stream id).
        user_id: u64,
        /// The card issued.
        card_id: u64,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// The user no longer holds `card_id` (it was closed); nothing if they do not hold it.
    Release {
        /// The user's shop `user_id`.
        user_id: u64,
        /// The card closed.
        card_id: u64,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`CardHolder`] (docs/event-catalog.md, "Shop membership cards").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum HolderEvent {
    /// The user holds this open card.
    #[serde(rename = "ShopMemberCardHeld")]
    Held {
        /// The user's shop `user_id`.
        user_id: u64,
        /// The card.
        card_id: u64,
        /// When (UTC).
        held_at: DateTime<Utc>,
    },
    /// The user's card was closed; they may get a new one.
    #[serde(rename = "ShopMemberCardReleased")]
    Released {
        /// The user's shop `user_id`.
        user_id: u64,
        /// The card.
        card_id: u64,
        /// When (UTC).
        released_at: DateTime<Utc>,
    },
}

impl DomainEvent for HolderEvent {}

/// Why a [`HolderCommand`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HolderError {
    /// The user already holds this open card.
    #[error("the user already holds open card {0}")]
    AlreadyHolds(u64),
}

impl Decider for CardHolder {
    const CATEGORY: &'static str = "shopCardHolder";
    type Command = HolderCommand;
    type Event = HolderEvent;
    type Error = HolderError;

    fn decide(&self, command: &HolderCommand) -> Result<Vec<HolderEvent>, HolderError> {
        match command {
            HolderCommand::Hold {
                user_id,
                card_id,
                now,
            } => match self.card_id {
                Some(held) => Err(HolderError::AlreadyHolds(held)),
                None => Ok(vec![HolderEvent::Held {
                    user_id: *user_id,
                    card_id: *card_id,
                    held_at: *now,
                }]),
            },
            HolderCommand::Release {
                user_id,
                card_id,
                now,
            } => {
                if self.card_id != Some(*card_id) {
                    return Ok(Vec::new());
                }
                Ok(vec![HolderEvent::Released {
                    user_id: *user_id,
                    card_id: *card_id,
                    released_at: *now,
                }])
            }
        }
    }

    fn evolve(mut self, event: &HolderEvent) -> Self {
        match event {
            HolderEvent::Held { card_id, .. } => self.card_id = Some(*card_id),
            HolderEvent::Released { card_id, .. } => {
                if self.card_id == Some(*card_id) {
                    self.card_id = None;
                }
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yuan(fen: i64) -> Money {
        Money::from_minor(fen, Currency::CNY).unwrap()
    }

    fn by() -> UserId {
        UserId::from_uuid(uuid::Uuid::nil())
    }

    fn tx(kind: TransactionKind, id: u64, fen: i64) -> CardCommand {
        CardCommand::Transact(TransactionInput {
            kind,
            transaction_id: id,
            amount: yuan(fen),
            description: Some("x".into()),
            order_id: None,
            by: by(),
            now: DateTime::UNIX_EPOCH,
        })
    }

    fn run(card: MembershipCard, c: &CardCommand) -> Result<MembershipCard, CardError> {
        let events = card.decide(c)?;
        Ok(events.iter().fold(card, |s, e| s.evolve(e)))
    }

    fn issued() -> MembershipCard {
        run(
            MembershipCard::default(),
            &CardCommand::Issue {
                card_id: 1,
                user_id: 7,
                by: by(),
                now: DateTime::UNIX_EPOCH,
            },
        )
        .unwrap()
    }

    #[test]
    fn card_numbers_carry_a_luhn_check_digit_and_differ_by_id() {
        assert_eq!(card_number(1), "8860000000000010");
        assert!(luhn_valid("79927398713"), "the textbook example");
        assert!(!luhn_valid("79927398710"));
        let mut seen = std::collections::HashSet::new();
        for id in (1..2_000).chain([99_999_999_999]) {
            let n = card_number(id);
            assert_eq!(n.len(), 16, "{n}");
            assert!(luhn_valid(&n), "{n}");
            assert!(seen.insert(n));
        }
        // One digit changed is always caught.
        let n = card_number(42);
        let mut bytes = n.into_bytes();
        bytes[10] = if bytes[10] == b'9' {
            b'0'
        } else {
            bytes[10] + 1
        };
        assert!(!luhn_valid(std::str::from_utf8(&bytes).unwrap()));
    }

    #[test]
    fn the_balance_never_goes_negative_and_frozen_cards_refuse_spends() {
        let card = issued();
        assert_eq!(card.balance(), yuan(0));
        let card = run(card, &tx(TransactionKind::TopUp, 1, 5000)).unwrap();
        assert_eq!(
            run(card.clone(), &tx(TransactionKind::Spend, 2, 5001)),
            Err(CardError::InsufficientBalance {
                balance: yuan(5000),
                amount: yuan(5001)
            })
        );
        let card = run(card, &tx(TransactionKind::Spend, 2, 5000)).unwrap();
        assert_eq!(card.balance(), yuan(0));
        assert!(matches!(
            run(card.clone(), &tx(TransactionKind::AdjustmentDown, 3, 1)),
            Err(CardError::InsufficientBalance { .. })
        ));
        let frozen = run(
            card,
            &CardCommand::Freeze {
                by: by(),
                now: DateTime::UNIX_EPOCH,
            },
        )
        .unwrap();
        assert_eq!(
            run(frozen.clone(), &tx(TransactionKind::TopUp, 3, 100)),
            Err(CardError::Frozen)
        );
        let refunded = run(frozen, &tx(TransactionKind::Refund, 3, 100)).unwrap();
        assert_eq!(refunded.balance(), yuan(100));
        assert!(matches!(
            run(refunded.clone(), &tx(TransactionKind::TopUp, 4, 0)),
            Err(CardError::Field(f)) if f.field == "amount"
        ));
        assert_eq!(
            run(
                refunded,
                &CardCommand::Close {
                    by: by(),
                    now: DateTime::UNIX_EPOCH
                }
            ),
            Err(CardError::BalanceNotZero(yuan(100)))
        );
    }

    #[test]
    fn setting_the_balance_records_the_difference() {
        let card = run(issued(), &tx(TransactionKind::TopUp, 1, 10000)).unwrap();
        let set = |fen| CardCommand::SetBalance {
            target: yuan(fen),
            transaction_id: 2,
            reason: "盘点".into(),
            by: by(),
            now: DateTime::UNIX_EPOCH,
        };
        let events = card.decide(&set(20000)).unwrap();
        assert!(matches!(
            events.as_slice(),
            [CardEvent::TransactionRecorded { kind: TransactionKind::AdjustmentUp, amount, balance_after, .. }]
                if *amount == yuan(10000) && *balance_after == yuan(20000)
        ));
        let events = card.decide(&set(2500)).unwrap();
        assert!(matches!(
            events.as_slice(),
            [CardEvent::TransactionRecorded { kind: TransactionKind::AdjustmentDown, amount, .. }]
                if *amount == yuan(7500)
        ));
        assert_eq!(card.decide(&set(10000)), Ok(Vec::new()));
    }

    #[test]
    fn a_user_holds_one_open_card_at_a_time() {
        let now = DateTime::UNIX_EPOCH;
        let h = CardHolder::default();
        let h = CardHolder::replay(
            &h.decide(&HolderCommand::Hold {
                user_id: 1,
                card_id: 3,
                now,
            })
            .unwrap(),
        );
        assert_eq!(
            h.decide(&HolderCommand::Hold {
                user_id: 1,
                card_id: 4,
                now
            }),
            Err(HolderError::AlreadyHolds(3))
        );
        let released = h
            .decide(&HolderCommand::Release {
                user_id: 1,
                card_id: 3,
                now,
            })
            .unwrap();
        let h = released.iter().fold(h, |s, e| s.evolve(e));
        assert_eq!(h.card_id(), None);
    }
}
