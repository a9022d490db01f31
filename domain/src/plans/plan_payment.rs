//! External payments of plans orders and recharges (seed 004 `PaimentMethod` `alipay`, `wxpay`,
//! `banktrans`; docs/decisions/0028-plans-external-payments.md).
//!
//! - [`PlanPayment`] (`plansPayment-{paymentId}`): one attempt to collect an amount (CNY fen)
//!   with one method, known to the provider by our `out_trade_no`. It is opened, succeeds at
//!   most once (a repeated notification or a second staff confirmation decides nothing), may be
//!   closed unpaid (expired, superseded), and records when its success was delivered to what it
//!   pays for. Money that arrives after a close is still accepted: the payer paid, so the payment
//!   succeeds and is delivered (the order side turns an unpayable order's money into wallet
//!   credit).
//! - [`PaymentDesk`] (`plansPaymentDesk-{purposeId}`): the guard stream of one purpose (an order
//!   or a recharge) that knows which payment is open per method, so opening the same purpose with
//!   the same method twice returns the first payment (DESIGN.md §5).

use super::ObjectId;
use super::payment::{PaymentMethod, PaymentPurpose};
use crate::{Decider, DomainEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why a payment was closed without being paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CloseReason {
    /// Not paid before `expires_at`.
    Expired,
    /// Replaced by a new payment of the same purpose and method (another amount).
    Superseded,
}

impl CloseReason {
    /// `expired` or `superseded`.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Expired => "expired",
            CloseReason::Superseded => "superseded",
        }
    }
}

/// Where a payment stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PaymentStatus {
    /// No such payment.
    #[default]
    None,
    /// Waiting for the payer (or for staff, for bank transfers).
    Open,
    /// Paid.
    Succeeded,
    /// Closed unpaid.
    Closed(CloseReason),
}

impl PaymentStatus {
    /// `open`, `succeeded`, `expired` or `superseded` (`none` for a payment that does not exist).
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::None => "none",
            PaymentStatus::Open => "open",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Closed(r) => r.as_str(),
        }
    }
}

/// What a payment was opened with (the [`PlanPaymentEvent::Opened`] data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentTerms {
    /// The payment (`paymentId`).
    pub payment_id: ObjectId,
    /// The company paying.
    pub company_id: ObjectId,
    /// The member who started it.
    pub user_id: ObjectId,
    /// What it pays for.
    pub purpose: PaymentPurpose,
    /// `alipay`, `wxpay` or `banktrans` (never `balance`).
    pub method: PaymentMethod,
    /// CNY fen (1/100 yuan), positive.
    pub amount_fen: i64,
    /// Our number at the provider (`out_trade_no`; for bank transfers, the reference the payer
    /// writes on the transfer): 32 hex digits.
    pub out_trade_no: String,
    /// The QR code content (WeChat Pay `code_url`, Alipay `qr_code`); `None` for bank transfers.
    pub code_url: Option<String>,
    /// When it stops being payable (UTC).
    pub expires_at: DateTime<Utc>,
}

/// How a success was learnt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum SuccessSource {
    /// The provider's signed notification (WeChat Pay `id`, Alipay `notify_id`).
    Notification {
        /// The provider's notification id.
        notification_id: String,
    },
    /// Staff confirmed a bank transfer.
    Confirmation {
        /// The identity user id (UUID) of the admin.
        admin_id: String,
    },
}

/// One payment's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanPayment {
    terms: Option<PaymentTerms>,
    status: PaymentStatus,
    transaction_id: Option<String>,
    delivered: bool,
}

impl PlanPayment {
    /// Its terms, once opened.
    pub fn terms(&self) -> Option<&PaymentTerms> {
        self.terms.as_ref()
    }
    /// Where it stands.
    pub fn status(&self) -> PaymentStatus {
        self.status
    }
    /// The provider's transaction id (bank transfers: `banktrans-{paymentId}`), once paid.
    pub fn transaction_id(&self) -> Option<&str> {
        self.transaction_id.as_deref()
    }
    /// Whether its success was delivered to its purpose.
    pub fn delivered(&self) -> bool {
        self.delivered
    }
}

/// Commands for [`PlanPayment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanPaymentCommand {
    /// Open it (only once).
    Open {
        /// What it is opened with.
        terms: PaymentTerms,
        /// Now (UTC).
        now: DateTime<Utc>,
    },
    /// Record the provider's (or staff's) word that `amount_fen` CNY fen were paid.
    Succeed {
        /// The provider's transaction id.
        transaction_id: String,
        /// What the provider says was paid, CNY fen; must equal the payment's amount.
        amount_fen: i64,
        /// How it was learnt.
        source: SuccessSource,
        /// Now (UTC).
        now: DateTime<Utc>,
    },
    /// Record that the success reached its purpose (nothing when not succeeded or done already).
    MarkDelivered {
        /// Now (UTC).
        now: DateTime<Utc>,
    },
    /// Close it unpaid (nothing unless open; an expiry before `expires_at` changes nothing).
    Close {
        /// Why.
        reason: CloseReason,
        /// Now (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`PlanPayment`] (docs/event-catalog.md, "Team plans (seed 004)").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum PlanPaymentEvent {
    /// A payment was opened with its provider.
    #[serde(rename = "PlansPaymentOpened")]
    Opened {
        /// The payment (`paymentId`).
        payment_id: ObjectId,
        /// The company paying.
        company_id: ObjectId,
        /// The member who started it.
        user_id: ObjectId,
        /// What it pays for.
        purpose: PaymentPurpose,
        /// `alipay`, `wxpay` or `banktrans`.
        method: PaymentMethod,
        /// CNY fen.
        amount_fen: i64,
        /// Our number at the provider (32 hex digits).
        out_trade_no: String,
        /// The QR code content; `None` for bank transfers.
        code_url: Option<String>,
        /// When it stops being payable (UTC).
        expires_at: DateTime<Utc>,
        /// When (UTC).
        opened_at: DateTime<Utc>,
    },
    /// It was paid (once).
    #[serde(rename = "PlansPaymentSucceeded")]
    Succeeded {
        /// The payment.
        payment_id: ObjectId,
        /// The provider's transaction id.
        transaction_id: String,
        /// CNY fen paid.
        amount_fen: i64,
        /// How it was learnt.
        source: SuccessSource,
        /// When (UTC).
        succeeded_at: DateTime<Utc>,
    },
    /// Its success reached the order or the recharge (and the wallet).
    #[serde(rename = "PlansPaymentDelivered")]
    Delivered {
        /// The payment.
        payment_id: ObjectId,
        /// When (UTC).
        delivered_at: DateTime<Utc>,
    },
    /// It was closed unpaid.
    #[serde(rename = "PlansPaymentClosed")]
    Closed {
        /// The payment.
        payment_id: ObjectId,
        /// Why.
        reason: CloseReason,
        /// When (UTC).
        closed_at: DateTime<Utc>,
    },
}

impl DomainEvent for PlanPaymentEvent {}

impl PlanPaymentEvent {
    /// The [`PlanPaymentEvent::Opened`] event of `terms` at `opened_at`.
    pub fn opened(terms: PaymentTerms, opened_at: DateTime<Utc>) -> Self {
        let PaymentTerms {
            payment_id,
            company_id,
            user_id,
            purpose,
            method,
            amount_fen,
            out_trade_no,
            code_url,
            expires_at,
        } = terms;
        PlanPaymentEvent::Opened {
            payment_id,
            company_id,
            user_id,
            purpose,
            method,
            amount_fen,
            out_trade_no,
            code_url,
            expires_at,
            opened_at,
        }
    }

    /// The terms an [`PlanPaymentEvent::Opened`] event records (`None` for other events).
    pub fn terms(&self) -> Option<PaymentTerms> {
        match self {
            PlanPaymentEvent::Opened {
                payment_id,
                company_id,
                user_id,
                purpose,
                method,
                amount_fen,
                out_trade_no,
                code_url,
                expires_at,
                ..
            } => Some(PaymentTerms {
                payment_id: payment_id.clone(),
                company_id: company_id.clone(),
                user_id: user_id.clone(),
                purpose: purpose.clone(),
                method: *method,
                amount_fen: *amount_fen,
                out_trade_no: out_trade_no.clone(),
                code_url: code_url.clone(),
                expires_at: *expires_at,
            }),
            _ => None,
        }
    }
}

/// Why a [`PlanPayment`] refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanPaymentError {
    /// No payment with that id.
    #[error("no such payment")]
    NotFound,
    /// It was opened already.
    #[error("the payment exists already")]
    AlreadyOpened,
    /// The amount paid is not the payment's amount.
    #[error("paid {paid} fen, but the payment is for {expected} fen")]
    AmountMismatch {
        /// The payment's amount, CNY fen.
        expected: i64,
        /// What the provider says, CNY fen.
        paid: i64,
    },
    /// The terms are unusable (a `balance` method, an amount that is not positive).
    #[error("invalid payment: {0}")]
    Invalid(&'static str),
}

impl Decider for PlanPayment {
    const CATEGORY: &'static str = "plansPayment";
    type Command = PlanPaymentCommand;
    type Event = PlanPaymentEvent;
    type Error = PlanPaymentError;

    fn decide(&self, command: &PlanPaymentCommand) -> Result<Vec<PlanPaymentEvent>, Self::Error> {
        match command {
            PlanPaymentCommand::Open { terms, now } => {
                if self.terms.is_some() {
                    return Err(PlanPaymentError::AlreadyOpened);
                }
                if terms.method == PaymentMethod::Balance {
                    return Err(PlanPaymentError::Invalid(
                        "balance is not an external method",
                    ));
                }
                if terms.amount_fen <= 0 {
                    return Err(PlanPaymentError::Invalid("the amount must be positive"));
                }
                Ok(vec![PlanPaymentEvent::opened(terms.clone(), *now)])
            }
            PlanPaymentCommand::Succeed {
                transaction_id,
                amount_fen,
                source,
                now,
            } => {
                let terms = self.terms.as_ref().ok_or(PlanPaymentError::NotFound)?;
                if self.status == PaymentStatus::Succeeded {
                    return Ok(Vec::new());
                }
                if *amount_fen != terms.amount_fen {
                    return Err(PlanPaymentError::AmountMismatch {
                        expected: terms.amount_fen,
                        paid: *amount_fen,
                    });
                }
                Ok(vec![PlanPaymentEvent::Succeeded {
                    payment_id: terms.payment_id.clone(),
                    transaction_id: transaction_id.clone(),
                    amount_fen: *amount_fen,
                    source: source.clone(),
                    succeeded_at: *now,
                }])
            }
            PlanPaymentCommand::MarkDelivered { now } => {
                let terms = self.terms.as_ref().ok_or(PlanPaymentError::NotFound)?;
                if self.status != PaymentStatus::Succeeded || self.delivered {
                    return Ok(Vec::new());
                }
                Ok(vec![PlanPaymentEvent::Delivered {
                    payment_id: terms.payment_id.clone(),
                    delivered_at: *now,
                }])
            }
            PlanPaymentCommand::Close { reason, now } => {
                let terms = self.terms.as_ref().ok_or(PlanPaymentError::NotFound)?;
                let early = *reason == CloseReason::Expired && *now < terms.expires_at;
                if self.status != PaymentStatus::Open || early {
                    return Ok(Vec::new());
                }
                Ok(vec![PlanPaymentEvent::Closed {
                    payment_id: terms.payment_id.clone(),
                    reason: *reason,
                    closed_at: *now,
                }])
            }
        }
    }

    fn evolve(mut self, event: &PlanPaymentEvent) -> Self {
        match event {
            PlanPaymentEvent::Opened { .. } => {
                self.terms = event.terms();
                self.status = PaymentStatus::Open;
            }
            PlanPaymentEvent::Succeeded { transaction_id, .. } => {
                self.status = PaymentStatus::Succeeded;
                self.transaction_id = Some(transaction_id.clone());
            }
            PlanPaymentEvent::Delivered { .. } => self.delivered = true,
            PlanPaymentEvent::Closed { reason, .. } => self.status = PaymentStatus::Closed(*reason),
        }
        self
    }
}

/// The open payments of one purpose, by method.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PaymentDesk {
    open: Vec<(PaymentMethod, ObjectId)>,
}

impl PaymentDesk {
    /// The open payment of `method`, if any.
    pub fn open_payment(&self, method: PaymentMethod) -> Option<&ObjectId> {
        self.open
            .iter()
            .find(|(m, _)| *m == method)
            .map(|(_, id)| id)
    }
}

/// Commands for [`PaymentDesk`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentDeskCommand {
    /// Take the slot of `method` for `payment_id`; refused while another payment holds it.
    Take {
        /// What the payments pay for.
        purpose: PaymentPurpose,
        /// The new payment.
        payment_id: ObjectId,
        /// Its method.
        method: PaymentMethod,
    },
    /// Free the slot `payment_id` holds (nothing when it holds none).
    Release {
        /// The payment.
        payment_id: ObjectId,
    },
}

/// Events of [`PaymentDesk`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum PaymentDeskEvent {
    /// A payment holds the slot of its method.
    #[serde(rename = "PlansPaymentDeskTaken")]
    Taken {
        /// What the payments pay for.
        purpose: PaymentPurpose,
        /// The payment.
        payment_id: ObjectId,
        /// Its method.
        method: PaymentMethod,
    },
    /// The payment no longer holds it (paid, expired or superseded).
    #[serde(rename = "PlansPaymentDeskReleased")]
    Released {
        /// The payment.
        payment_id: ObjectId,
    },
}

impl DomainEvent for PaymentDeskEvent {}

/// Why a [`PaymentDesk`] refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentDeskError {
    /// Another payment of that method is open.
    #[error("payment {0} of that method is open")]
    Taken(ObjectId),
}

impl Decider for PaymentDesk {
    const CATEGORY: &'static str = "plansPaymentDesk";
    type Command = PaymentDeskCommand;
    type Event = PaymentDeskEvent;
    type Error = PaymentDeskError;

    fn decide(&self, command: &PaymentDeskCommand) -> Result<Vec<PaymentDeskEvent>, Self::Error> {
        match command {
            PaymentDeskCommand::Take {
                purpose,
                payment_id,
                method,
            } => match self.open_payment(*method) {
                Some(id) if id == payment_id => Ok(Vec::new()),
                Some(id) => Err(PaymentDeskError::Taken(id.clone())),
                None => Ok(vec![PaymentDeskEvent::Taken {
                    purpose: purpose.clone(),
                    payment_id: payment_id.clone(),
                    method: *method,
                }]),
            },
            PaymentDeskCommand::Release { payment_id } => {
                if self.open.iter().any(|(_, id)| id == payment_id) {
                    Ok(vec![PaymentDeskEvent::Released {
                        payment_id: payment_id.clone(),
                    }])
                } else {
                    Ok(Vec::new())
                }
            }
        }
    }

    fn evolve(mut self, event: &PaymentDeskEvent) -> Self {
        match event {
            PaymentDeskEvent::Taken {
                payment_id, method, ..
            } => self.open.push((*method, payment_id.clone())),
            PaymentDeskEvent::Released { payment_id } => {
                self.open.retain(|(_, id)| id != payment_id)
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;
    use chrono::Duration;

    fn id(n: u8) -> ObjectId {
        ObjectId::from_parts(1, [n; 8])
    }

    fn terms() -> PaymentTerms {
        PaymentTerms {
            payment_id: id(1),
            company_id: id(2),
            user_id: id(3),
            purpose: PaymentPurpose::Recharge { recharge_id: id(4) },
            method: PaymentMethod::Wxpay,
            amount_fen: 10_000,
            out_trade_no: "0".repeat(32),
            code_url: Some("weixin://wxpay/bizpayurl?pr=abc".into()),
            expires_at: DateTime::UNIX_EPOCH + Duration::seconds(1800),
        }
    }

    fn opened() -> PlanPaymentEvent {
        PlanPaymentEvent::opened(terms(), DateTime::UNIX_EPOCH)
    }

    fn succeed(amount_fen: i64) -> PlanPaymentCommand {
        PlanPaymentCommand::Succeed {
            transaction_id: "4200000001".into(),
            amount_fen,
            source: SuccessSource::Notification {
                notification_id: "n1".into(),
            },
            now: DateTime::UNIX_EPOCH,
        }
    }

    fn succeeded() -> PlanPaymentEvent {
        PlanPaymentEvent::Succeeded {
            payment_id: id(1),
            transaction_id: "4200000001".into(),
            amount_fen: 10_000,
            source: SuccessSource::Notification {
                notification_id: "n1".into(),
            },
            succeeded_at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn succeeds_once_and_only_with_its_amount() {
        given::<PlanPayment>([opened()])
            .when(succeed(10_000))
            .then([succeeded()]);
        given::<PlanPayment>([opened(), succeeded()])
            .when(succeed(10_000))
            .then([]);
        given::<PlanPayment>([opened()])
            .when(succeed(9_999))
            .then_err(PlanPaymentError::AmountMismatch {
                expected: 10_000,
                paid: 9_999,
            });
        given::<PlanPayment>([])
            .when(succeed(10_000))
            .then_err(PlanPaymentError::NotFound);
    }

    #[test]
    fn money_after_expiry_still_counts() {
        let closed = PlanPaymentEvent::Closed {
            payment_id: id(1),
            reason: CloseReason::Expired,
            closed_at: DateTime::UNIX_EPOCH,
        };
        given::<PlanPayment>([opened(), closed])
            .when(succeed(10_000))
            .then([succeeded()]);
    }

    #[test]
    fn expiry_waits_for_its_time_and_skips_paid_payments() {
        let at = |s: i64| DateTime::UNIX_EPOCH + Duration::seconds(s);
        let expire = |s| PlanPaymentCommand::Close {
            reason: CloseReason::Expired,
            now: at(s),
        };
        given::<PlanPayment>([opened()]).when(expire(1799)).then([]);
        given::<PlanPayment>([opened()])
            .when(expire(1800))
            .then([PlanPaymentEvent::Closed {
                payment_id: id(1),
                reason: CloseReason::Expired,
                closed_at: at(1800),
            }]);
        given::<PlanPayment>([opened(), succeeded()])
            .when(expire(4000))
            .then([]);
    }

    #[test]
    fn delivered_once_after_success() {
        let deliver = PlanPaymentCommand::MarkDelivered {
            now: DateTime::UNIX_EPOCH,
        };
        let delivered = PlanPaymentEvent::Delivered {
            payment_id: id(1),
            delivered_at: DateTime::UNIX_EPOCH,
        };
        given::<PlanPayment>([opened()])
            .when(deliver.clone())
            .then([]);
        given::<PlanPayment>([opened(), succeeded()])
            .when(deliver.clone())
            .then([delivered.clone()]);
        given::<PlanPayment>([opened(), succeeded(), delivered])
            .when(deliver)
            .then([]);
    }

    #[test]
    fn balance_is_not_external() {
        let mut t = terms();
        t.method = PaymentMethod::Balance;
        given::<PlanPayment>([])
            .when(PlanPaymentCommand::Open {
                terms: t,
                now: DateTime::UNIX_EPOCH,
            })
            .then_err(PlanPaymentError::Invalid(
                "balance is not an external method",
            ));
    }

    #[test]
    fn one_open_payment_per_method() {
        let purpose = PaymentPurpose::Order { order_id: id(9) };
        let take = |p: u8, method| PaymentDeskCommand::Take {
            purpose: purpose.clone(),
            payment_id: id(p),
            method,
        };
        let taken = PaymentDeskEvent::Taken {
            purpose: purpose.clone(),
            payment_id: id(1),
            method: PaymentMethod::Alipay,
        };
        given::<PaymentDesk>([taken.clone()])
            .when(take(2, PaymentMethod::Alipay))
            .then_err(PaymentDeskError::Taken(id(1)));
        given::<PaymentDesk>([taken.clone()])
            .when(take(2, PaymentMethod::Wxpay))
            .then([PaymentDeskEvent::Taken {
                purpose: purpose.clone(),
                payment_id: id(2),
                method: PaymentMethod::Wxpay,
            }]);
        given::<PaymentDesk>([taken, PaymentDeskEvent::Released { payment_id: id(1) }])
            .when(take(2, PaymentMethod::Alipay))
            .then([PaymentDeskEvent::Taken {
                purpose,
                payment_id: id(2),
                method: PaymentMethod::Alipay,
            }]);
    }

    #[test]
    fn stored_shape() {
        let json = serde_json::to_value(opened()).unwrap();
        assert_eq!(json["type"], "PlansPaymentOpened");
        assert_eq!(json["data"]["amountFen"], 10_000);
        assert_eq!(json["data"]["purpose"]["kind"], "recharge");
        let back: PlanPaymentEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, opened());
    }
}
