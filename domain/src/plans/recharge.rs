//! Wallet recharges (seed 004 "recharge"): the offer (`GET /plan/recharge/info`: amount limits and
//! discount tiers, configuration loaded at start and **versioned** like the catalogue) and the
//! [`Recharge`] aggregate (`plansRecharge-{rechargeId}`): created with its external payment,
//! paid once that payment's success is delivered, or expired unpaid
//! (docs/decisions/0028-plans-external-payments.md).
//!
//! Money is CNY: the offer file writes yuan with at most two decimals; events and commands carry
//! whole fen (`i64`).

use super::ObjectId;
use super::payment::PaymentMethod;
use crate::shared::FieldError;
use crate::{Decider, DomainEvent};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The built-in recharge offer (used when no file is configured).
pub const BUILTIN_OFFER_JSON: &str = r#"{
  "version": "2026-01",
  "amount": { "min": "100.00", "max": "50000.00" },
  "discounts": [
    { "_id": "695a0a000000000000000301", "title": "充 1000 送 50", "amount": "1000.00",
      "extra_amount": "50.00", "date_update": "2026-01-01T00:00:00Z", "date_create": "2026-01-01T00:00:00Z" },
    { "_id": "695a0a000000000000000302", "title": "充 5000 送 400", "amount": "5000.00",
      "extra_amount": "400.00", "date_update": "2026-01-01T00:00:00Z", "date_create": "2026-01-01T00:00:00Z" },
    { "_id": "695a0a000000000000000303", "title": "充 10000 送 1000", "amount": "10000.00",
      "extra_amount": "1000.00", "date_update": "2026-01-01T00:00:00Z", "date_create": "2026-01-01T00:00:00Z" }
  ]
}"#;

/// Recharge amount limits, CNY yuan (seed `limits.amount`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountLimits {
    /// Smallest recharge, inclusive.
    pub min: Decimal,
    /// Largest recharge, inclusive.
    pub max: Decimal,
}

/// A discount tier (seed `discounts[]`): recharging at least `amount` grants `extra_amount`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscountTier {
    /// Its id (fixed in the file).
    #[serde(rename = "_id")]
    pub id: ObjectId,
    /// What clients show.
    pub title: String,
    /// The recharge amount from which it applies, CNY yuan.
    pub amount: Decimal,
    /// Granted credit, CNY yuan.
    pub extra_amount: Decimal,
    /// Last change (UTC).
    pub date_update: DateTime<Utc>,
    /// Creation (UTC).
    pub date_create: DateTime<Utc>,
}

/// The whole, checked recharge offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RechargeOffer {
    /// Recorded in every recharge; change it whenever a limit or tier changes.
    pub version: String,
    /// Amount limits.
    pub amount: AmountLimits,
    /// Tiers, any order.
    pub discounts: Vec<DiscountTier>,
}

/// `yuan` (at most two decimals) as fen; `None` when it has more decimals or does not fit.
pub fn yuan_to_fen(yuan: Decimal) -> Option<i64> {
    let fen = yuan.checked_mul(Decimal::ONE_HUNDRED)?;
    if fen.fract() != Decimal::ZERO {
        return None;
    }
    i64::try_from(fen.trunc()).ok()
}

/// `fen` as yuan with two decimals (`12345` → `123.45`).
pub fn fen_to_yuan(fen: i64) -> Decimal {
    Decimal::new(fen, 2)
}

impl RechargeOffer {
    /// The built-in offer: 100.00–50000.00 yuan; tiers 1000 → +50, 5000 → +400, 10000 → +1000.
    ///
    /// Errors: only if the built-in text were broken (a unit test keeps it valid).
    pub fn builtin() -> Result<RechargeOffer, FieldError> {
        RechargeOffer::from_json(BUILTIN_OFFER_JSON)
    }

    /// Parse and check an offer file's text.
    ///
    /// Errors: a [`FieldError`] naming the path at fault (`discounts[1].extra_amount`).
    pub fn from_json(text: &str) -> Result<RechargeOffer, FieldError> {
        let offer: RechargeOffer = serde_json::from_str(text)
            .map_err(|e| FieldError::new("recharge_offer", e.to_string()))?;
        offer.check()?;
        Ok(offer)
    }

    /// Check: a version; 0 < min ≤ max; every amount positive with at most two decimals; tier
    /// ids and amounts unique; extra amounts ≥ 0.
    ///
    /// Errors: a [`FieldError`] naming the path at fault.
    pub fn check(&self) -> Result<(), FieldError> {
        if self.version.trim().is_empty() {
            return Err(FieldError::new("version", "must not be empty"));
        }
        let positive = |d: Decimal| d > Decimal::ZERO && yuan_to_fen(d).is_some();
        if !positive(self.amount.min) || !positive(self.amount.max) {
            return Err(FieldError::new(
                "amount",
                "min and max must be positive with at most two decimals",
            ));
        }
        if self.amount.min > self.amount.max {
            return Err(FieldError::new("amount.min", "must not exceed max"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, tier) in self.discounts.iter().enumerate() {
            if !positive(tier.amount) || !seen.insert((tier.amount, tier.id.clone())) {
                return Err(FieldError::new(
                    format!("discounts[{i}].amount"),
                    "must be positive with at most two decimals",
                ));
            }
            if tier.extra_amount < Decimal::ZERO || yuan_to_fen(tier.extra_amount).is_none() {
                return Err(FieldError::new(
                    format!("discounts[{i}].extra_amount"),
                    "must be at least 0 with at most two decimals",
                ));
            }
        }
        let mut amounts: Vec<_> = self.discounts.iter().map(|t| t.amount).collect();
        amounts.sort();
        amounts.dedup();
        if amounts.len() != self.discounts.len() {
            return Err(FieldError::new("discounts", "tier amounts must be unique"));
        }
        Ok(())
    }

    /// The tier a recharge of `amount_fen` earns: the one with the largest `amount` not above
    /// it (none below the smallest tier).
    pub fn best_tier(&self, amount_fen: i64) -> Option<&DiscountTier> {
        self.discounts
            .iter()
            .filter(|t| yuan_to_fen(t.amount).is_some_and(|a| a <= amount_fen))
            .max_by_key(|t| t.amount)
    }

    /// Check a requested amount written as decimal text (CNY yuan, e.g. `1000`, `99.5`, as the
    /// JSON number or string was sent) and return it in fen.
    ///
    /// Errors: a [`FieldError`] on `amount`: not a decimal number, more than two decimals, or
    /// outside the limits.
    pub fn checked_amount_text(&self, text: &str) -> Result<i64, FieldError> {
        let text = text.trim();
        let plain = !text.is_empty()
            && text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && text.bytes().filter(|b| *b == b'.').count() <= 1;
        let amount: Decimal = text
            .parse()
            .ok()
            .filter(|_| plain)
            .ok_or_else(|| FieldError::new("amount", "must be a decimal number of yuan"))?;
        self.checked_amount(amount)
    }

    /// Check a requested amount (CNY yuan) and return it in fen.
    ///
    /// Errors: a [`FieldError`] on `amount`: more than two decimals, or outside the limits.
    pub fn checked_amount(&self, amount: Decimal) -> Result<i64, FieldError> {
        let fen = yuan_to_fen(amount)
            .ok_or_else(|| FieldError::new("amount", "must have at most two decimals"))?;
        if amount < self.amount.min || amount > self.amount.max {
            return Err(FieldError::new(
                "amount",
                format!(
                    "must be between {} and {}",
                    self.amount.min.round_dp(2),
                    self.amount.max.round_dp(2)
                ),
            ));
        }
        Ok(fen)
    }
}

/// Where a recharge stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RechargeStatus {
    /// Waiting for its payment.
    #[default]
    Pending,
    /// Paid: the wallet was credited.
    Paid,
    /// Not paid in time.
    Expired,
}

impl RechargeStatus {
    /// `pending`, `paid` or `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            RechargeStatus::Pending => "pending",
            RechargeStatus::Paid => "paid",
            RechargeStatus::Expired => "expired",
        }
    }
}

/// What a recharge was created with (the [`RechargeEvent::Created`] data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RechargeTerms {
    /// The recharge (`_id`).
    pub recharge_id: ObjectId,
    /// The company whose wallet it fills.
    pub company_id: ObjectId,
    /// The owner who asked.
    pub user_id: ObjectId,
    /// Paid credit, CNY fen.
    pub amount_fen: i64,
    /// Granted credit (the tier's `extra_amount`), CNY fen.
    pub extra_amount_fen: i64,
    /// The tier applied, if any.
    pub discount_id: Option<ObjectId>,
    /// [`RechargeOffer::version`] when it was created.
    pub offer_version: String,
    /// `alipay`, `wxpay` or `banktrans`.
    pub method: PaymentMethod,
    /// Its external payment.
    pub payment_id: ObjectId,
}

/// One recharge's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recharge {
    terms: Option<RechargeTerms>,
    status: RechargeStatus,
}

impl Recharge {
    /// Its terms, once created.
    pub fn terms(&self) -> Option<&RechargeTerms> {
        self.terms.as_ref()
    }
    /// Where it stands.
    pub fn status(&self) -> RechargeStatus {
        self.status
    }
}

/// Commands for [`Recharge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RechargeCommand {
    /// Create it (once).
    Create {
        /// Its terms.
        terms: RechargeTerms,
        /// Now (UTC).
        now: DateTime<Utc>,
    },
    /// Its payment `payment_id` succeeded and the wallet was credited (from `pending` or
    /// `expired`: money that arrived late still counts; nothing when paid already).
    MarkPaid {
        /// The payment that paid it.
        payment_id: ObjectId,
        /// Now (UTC).
        now: DateTime<Utc>,
    },
    /// Its payment expired unpaid (nothing unless pending).
    Expire {
        /// Now (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`Recharge`] (docs/event-catalog.md, "Team plans (seed 004)").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum RechargeEvent {
    /// A recharge was asked for and its payment opened.
    #[serde(rename = "PlansRechargeCreated")]
    Created {
        /// The recharge.
        recharge_id: ObjectId,
        /// The company whose wallet it fills.
        company_id: ObjectId,
        /// The owner who asked.
        user_id: ObjectId,
        /// Paid credit, CNY fen.
        amount_fen: i64,
        /// Granted credit, CNY fen.
        extra_amount_fen: i64,
        /// The tier applied, if any.
        discount_id: Option<ObjectId>,
        /// The offer version.
        offer_version: String,
        /// `alipay`, `wxpay` or `banktrans`.
        method: PaymentMethod,
        /// Its external payment.
        payment_id: ObjectId,
        /// When (UTC).
        created_at: DateTime<Utc>,
    },
    /// It was paid and the wallet credited.
    #[serde(rename = "PlansRechargePaid")]
    Paid {
        /// The recharge.
        recharge_id: ObjectId,
        /// The payment.
        payment_id: ObjectId,
        /// When (UTC).
        paid_at: DateTime<Utc>,
    },
    /// It expired unpaid.
    #[serde(rename = "PlansRechargeExpired")]
    Expired {
        /// The recharge.
        recharge_id: ObjectId,
        /// When (UTC).
        expired_at: DateTime<Utc>,
    },
}

impl DomainEvent for RechargeEvent {}

impl RechargeEvent {
    /// The [`RechargeEvent::Created`] event of `terms` at `created_at`.
    pub fn created(terms: RechargeTerms, created_at: DateTime<Utc>) -> Self {
        let RechargeTerms {
            recharge_id,
            company_id,
            user_id,
            amount_fen,
            extra_amount_fen,
            discount_id,
            offer_version,
            method,
            payment_id,
        } = terms;
        RechargeEvent::Created {
            recharge_id,
            company_id,
            user_id,
            amount_fen,
            extra_amount_fen,
            discount_id,
            offer_version,
            method,
            payment_id,
            created_at,
        }
    }

    /// The terms a [`RechargeEvent::Created`] event records (`None` for other events).
    pub fn terms(&self) -> Option<RechargeTerms> {
        match self {
            RechargeEvent::Created {
                recharge_id,
                company_id,
                user_id,
                amount_fen,
                extra_amount_fen,
                discount_id,
                offer_version,
                method,
                payment_id,
                ..
            } => Some(RechargeTerms {
                recharge_id: recharge_id.clone(),
                company_id: company_id.clone(),
                user_id: user_id.clone(),
                amount_fen: *amount_fen,
                extra_amount_fen: *extra_amount_fen,
                discount_id: discount_id.clone(),
                offer_version: offer_version.clone(),
                method: *method,
                payment_id: payment_id.clone(),
            }),
            _ => None,
        }
    }
}

/// Why a [`Recharge`] refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RechargeError {
    /// No such recharge.
    #[error("no such recharge")]
    NotFound,
    /// It exists already.
    #[error("the recharge exists already")]
    AlreadyCreated,
    /// Paid by a payment that is not its own.
    #[error("payment {0} is not this recharge's")]
    OtherPayment(ObjectId),
}

impl Decider for Recharge {
    const CATEGORY: &'static str = "plansRecharge";
    type Command = RechargeCommand;
    type Event = RechargeEvent;
    type Error = RechargeError;

    fn decide(&self, command: &RechargeCommand) -> Result<Vec<RechargeEvent>, RechargeError> {
        match command {
            RechargeCommand::Create { terms, now } => {
                if self.terms.is_some() {
                    return Err(RechargeError::AlreadyCreated);
                }
                Ok(vec![RechargeEvent::created(terms.clone(), *now)])
            }
            RechargeCommand::MarkPaid { payment_id, now } => {
                let terms = self.terms.as_ref().ok_or(RechargeError::NotFound)?;
                if &terms.payment_id != payment_id {
                    return Err(RechargeError::OtherPayment(payment_id.clone()));
                }
                if self.status == RechargeStatus::Paid {
                    return Ok(Vec::new());
                }
                Ok(vec![RechargeEvent::Paid {
                    recharge_id: terms.recharge_id.clone(),
                    payment_id: payment_id.clone(),
                    paid_at: *now,
                }])
            }
            RechargeCommand::Expire { now } => {
                let terms = self.terms.as_ref().ok_or(RechargeError::NotFound)?;
                if self.status != RechargeStatus::Pending {
                    return Ok(Vec::new());
                }
                Ok(vec![RechargeEvent::Expired {
                    recharge_id: terms.recharge_id.clone(),
                    expired_at: *now,
                }])
            }
        }
    }

    fn evolve(mut self, event: &RechargeEvent) -> Self {
        match event {
            RechargeEvent::Created { .. } => {
                self.terms = event.terms();
                self.status = RechargeStatus::Pending;
            }
            RechargeEvent::Paid { .. } => self.status = RechargeStatus::Paid,
            RechargeEvent::Expired { .. } => self.status = RechargeStatus::Expired,
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;

    fn id(n: u8) -> ObjectId {
        ObjectId::from_parts(1, [n; 8])
    }

    fn created() -> RechargeEvent {
        RechargeEvent::created(
            RechargeTerms {
                recharge_id: id(1),
                company_id: id(2),
                user_id: id(3),
                amount_fen: 100_000,
                extra_amount_fen: 5_000,
                discount_id: Some(id(4)),
                offer_version: "v".into(),
                method: PaymentMethod::Alipay,
                payment_id: id(5),
            },
            DateTime::UNIX_EPOCH,
        )
    }

    #[test]
    fn the_builtin_offer_is_valid_and_picks_the_best_tier() {
        let o = RechargeOffer::builtin().unwrap();
        assert_eq!(o.best_tier(99_999), None);
        assert_eq!(
            o.best_tier(100_000).unwrap().extra_amount,
            Decimal::new(50, 0)
        );
        assert_eq!(
            o.best_tier(499_999).unwrap().extra_amount,
            Decimal::new(50, 0)
        );
        assert_eq!(
            o.best_tier(500_000).unwrap().extra_amount,
            Decimal::new(400, 0)
        );
        assert_eq!(
            o.best_tier(5_000_000).unwrap().extra_amount,
            Decimal::new(1000, 0)
        );
    }

    #[test]
    fn amounts_are_checked_against_limits_and_decimals() {
        let o = RechargeOffer::builtin().unwrap();
        assert_eq!(o.checked_amount(Decimal::new(10_000, 2)).unwrap(), 10_000);
        assert_eq!(
            o.checked_amount(Decimal::new(9_999, 2)).unwrap_err().field,
            "amount"
        );
        assert_eq!(
            o.checked_amount(Decimal::new(5_000_001, 2))
                .unwrap_err()
                .field,
            "amount"
        );
        assert_eq!(
            o.checked_amount(Decimal::new(100_001, 3))
                .unwrap_err()
                .field,
            "amount"
        );
        assert_eq!(o.checked_amount_text("1000.5").unwrap(), 100_050);
        assert_eq!(o.checked_amount_text("1e3").unwrap_err().field, "amount");
        let mut broken = o.clone();
        broken.discounts[1].extra_amount = Decimal::new(1, 3);
        assert_eq!(
            broken.check().unwrap_err().field,
            "discounts[1].extra_amount"
        );
    }

    #[test]
    fn paid_once_even_after_expiry() {
        let pay = RechargeCommand::MarkPaid {
            payment_id: id(5),
            now: DateTime::UNIX_EPOCH,
        };
        let paid = RechargeEvent::Paid {
            recharge_id: id(1),
            payment_id: id(5),
            paid_at: DateTime::UNIX_EPOCH,
        };
        let expired = RechargeEvent::Expired {
            recharge_id: id(1),
            expired_at: DateTime::UNIX_EPOCH,
        };
        given::<Recharge>([created()])
            .when(pay.clone())
            .then([paid.clone()]);
        given::<Recharge>([created(), expired.clone()])
            .when(pay.clone())
            .then([paid.clone()]);
        given::<Recharge>([created(), paid.clone()])
            .when(pay)
            .then([]);
        given::<Recharge>([created(), paid])
            .when(RechargeCommand::Expire {
                now: DateTime::UNIX_EPOCH,
            })
            .then([]);
        given::<Recharge>([created()])
            .when(RechargeCommand::MarkPaid {
                payment_id: id(6),
                now: DateTime::UNIX_EPOCH,
            })
            .then_err(RechargeError::OtherPayment(id(6)));
    }
}
