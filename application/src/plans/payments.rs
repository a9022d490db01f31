//! External payments of plans orders and recharges (`alipay`, `wxpay`, `banktrans`;
//! docs/decisions/0028-plans-external-payments.md).
//!
//! - [`PlansService::start_external_payment`] opens a [`PlanPayment`] with its provider (WeChat
//!   Pay Native `code_url`, Alipay precreate `qr_code`, nothing for bank transfers) and takes the
//!   purpose's [`PaymentDesk`] slot for the method in the same commit, so opening the same purpose
//!   and method again returns the open payment.
//! - Success comes from a verified provider notification ([`PlansService::wechatpay_notified`],
//!   [`PlansService::alipay_notified`]) or staff ([`PlansService::confirm_bank_transfer`]); it is
//!   recorded once, with a [`PLANS_PAYMENT_DELIVERY`] deadline **in the same commit**, due
//!   [`DELIVERY_FALLBACK`] later.
//! - Delivery ([`PlansService::deliver_payment`]) hands the success to
//!   [`PlansService::settle_order_payment`] or to [`PlansService::credit_wallet`] and the recharge,
//!   then records `PlansPaymentDelivered`. It is tried at once after the success and, should that
//!   fail or the process stop, by the deadline scheduler, which retries with back-off until it
//!   succeeds (after restarts too). Every step is idempotent by payment id, so a repeated
//!   delivery changes nothing: the purpose gets the success exactly once.
//! - Unpaid payments close at `expires_at` ([`PLANS_PAYMENT_EXPIRY`]), and so does the recharge
//!   they pay for.

use super::{PlansError, PlansService, new_object_id};
use crate::command::{CommandRunner, EngineError};
use crate::deadlines::{Deadline, DeadlineHandler};
use crate::event_store::{EventMetadata, NewDeadline, StoreError};
use crate::payments::alipay::{Alipay, AlipayError, AlipayNotification, AlipayPrecreate};
use crate::payments::wechatpay::{NativeOrder, TradeState, WechatPay, WechatPayNotification};
use crate::process::HandlerError;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use std::sync::Arc;
use tessera_domain::plans::ObjectId;
use tessera_domain::plans::payment::{PaymentMethod, PaymentPurpose};
use tessera_domain::plans::plan_payment::{
    CloseReason, PaymentDesk, PaymentDeskCommand, PaymentDeskError, PaymentStatus, PaymentTerms,
    PlanPayment, PlanPaymentCommand, PlanPaymentError, SuccessSource,
};
use tessera_domain::plans::recharge::{Recharge, RechargeCommand, RechargeOffer};
use tessera_domain::shared::FieldError;
use uuid::Uuid;

/// Deadline kind: an unpaid payment's end. Payload `{"paymentId"}`.
pub const PLANS_PAYMENT_EXPIRY: &str = "plans.payment-expiry";
/// Deadline kind: deliver a succeeded payment to its purpose (due [`DELIVERY_FALLBACK`] after it
/// succeeded; retried with back-off until delivered). Payload `{"paymentId"}`.
pub const PLANS_PAYMENT_DELIVERY: &str = "plans.payment-delivery";

/// How long after a success its delivery deadline falls due: the request that recorded the
/// success delivers it at once, and the deadline only catches a delivery that failed or a process
/// that stopped. Were it due at once, the scheduler and the request would deliver side by side and
/// the request could answer before the delivery it lost the race to was committed (its reader
/// would then miss the order paid or the wallet credited).
pub const DELIVERY_FALLBACK: chrono::Duration = chrono::Duration::seconds(30);

/// How plans payments reach their providers, and their tunables (docs/plans.md, "Payments").
#[derive(Clone)]
pub struct PaymentPorts {
    /// WeChat Pay (the merchant client the other documents share); `None`: `wxpay` is refused.
    pub wechat_pay: Option<Arc<dyn WechatPay>>,
    /// The plans WeChat Pay notify URL (`{public URL}/plans/wechatpay/notify`).
    pub wechatpay_notify_url: Option<String>,
    /// Alipay; `None`: `alipay` is refused.
    pub alipay: Option<Arc<dyn Alipay>>,
    /// The plans Alipay notify URL (`{public URL}/plans/alipay/notify`).
    pub alipay_notify_url: Option<String>,
    /// How long a payment (and the recharge it pays for) stays payable (default 30 minutes).
    pub ttl: Duration,
    /// The recharge offer; the built-in one when `None`.
    pub recharge_offer: Option<Arc<RechargeOffer>>,
}

impl Default for PaymentPorts {
    fn default() -> Self {
        Self {
            wechat_pay: None,
            wechatpay_notify_url: None,
            alipay: None,
            alipay_notify_url: None,
            ttl: Duration::minutes(30),
            recharge_offer: None,
        }
    }
}

/// An external payment opened with its provider, as the order or recharge response shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalPayment {
    /// The payment (`paymentId` in responses; staff confirm bank transfers by it).
    pub payment_id: ObjectId,
    /// `alipay`, `wxpay` or `banktrans`.
    pub method: PaymentMethod,
    /// CNY fen.
    pub amount_fen: i64,
    /// The QR code content the payer scans: WeChat Pay Native `code_url` or Alipay precreate
    /// `qr_code`; `None` for bank transfers.
    pub code_url: Option<String>,
    /// The position reached by storing it.
    pub position: Option<u64>,
}

impl ExternalPayment {
    fn of(terms: &PaymentTerms, position: Option<u64>) -> Self {
        Self {
            payment_id: terms.payment_id.clone(),
            method: terms.method,
            amount_fen: terms.amount_fen,
            code_url: terms.code_url.clone(),
            position,
        }
    }
}

/// What to open: `amount_fen` CNY fen for `purpose`, paid with `method` (not `balance`),
/// described to the payer as `description` (shown by the provider's app).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    /// What the payment pays for.
    pub purpose: PaymentPurpose,
    /// CNY fen, at least 1.
    pub amount_fen: i64,
    /// `alipay`, `wxpay` or `banktrans`.
    pub method: PaymentMethod,
    /// Shown to the payer (WeChat Pay `description`, Alipay `subject`).
    pub description: String,
}

/// What a verified provider notification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notified {
    /// The payment succeeded now (or had already; `None` position then) and was delivered.
    Recorded(Option<u64>),
    /// The notification reports no payment (another trade state or event).
    NotPaid,
    /// No payment of ours has that `out_trade_no`, or it uses another method.
    UnknownTrade(String),
    /// The amount paid is not the payment's: nothing recorded.
    AmountMismatch {
        /// The payment's amount, CNY fen.
        expected: i64,
        /// What the provider reported, CNY fen.
        paid: i64,
    },
}

/// Why staff could not confirm a bank transfer.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    /// No such payment (or not a 24-hex id).
    #[error("no such payment")]
    NotFound,
    /// It is not a bank transfer.
    #[error("payment {0} is not a bank transfer")]
    NotBankTransfer(ObjectId),
    /// The plans use case failed.
    #[error(transparent)]
    Plans(#[from] PlansError),
}

fn unavailable(what: impl std::fmt::Display) -> PlansError {
    PlansError::Engine(EngineError::Store(StoreError::Unavailable(
        what.to_string(),
    )))
}

fn payment_stream(id: &ObjectId) -> Result<crate::StreamId, EngineError> {
    CommandRunner::stream::<PlanPayment>(id)
}

fn purpose_id(purpose: &PaymentPurpose) -> &ObjectId {
    match purpose {
        PaymentPurpose::Order { order_id } => order_id,
        PaymentPurpose::Recharge { recharge_id } => recharge_id,
    }
}

fn deadline(kind: &str, due_at: DateTime<Utc>, payment_id: &ObjectId) -> NewDeadline {
    NewDeadline {
        deadline_id: Uuid::now_v7(),
        kind: kind.to_owned(),
        due_at,
        payload: json!({ "paymentId": payment_id }),
    }
}

/// A domain refusal of a payment step (a bug or a race: callers check first).
fn refused(e: PlanPaymentError) -> PlansError {
    PlansError::Field(FieldError::new("payment", e.to_string()))
}

impl PlansService {
    /// The same service paying through `ports`.
    pub fn with_payment_ports(mut self, ports: PaymentPorts) -> Self {
        self.payments = ports;
        self
    }

    /// The payment settings and providers.
    pub fn payment_ports(&self) -> &PaymentPorts {
        &self.payments
    }

    /// A payment as its events say (`status()` is [`PaymentStatus::None`] when unknown).
    ///
    /// Errors: engine failures.
    pub async fn payment(&self, payment_id: &ObjectId) -> Result<PlanPayment, PlansError> {
        Ok(self
            .runner
            .load::<PlanPayment>(&payment_stream(payment_id)?)
            .await?
            .0)
    }

    /// Open the payment `request` (`amount_fen` CNY fen for `purpose` with `method`, not
    /// `balance`, described to the payer as `description`) for the company, started by `user_id`. Opening the same purpose again while a payment
    /// for it is open with the same method and amount returns that payment (another amount
    /// supersedes it). When it succeeds (provider notification or staff confirmation) it is
    /// delivered once to [`PlansService::settle_order_payment`] or
    /// [`PlansService::credit_wallet`]. Unpaid, it closes after [`PaymentPorts::ttl`].
    ///
    /// Errors: [`PlansError::Field`] (`payment_method`: `balance`, or a provider this server has
    /// not configured; `amount`: not positive); provider failures and engine failures as
    /// [`PlansError::Engine`] (503).
    pub async fn start_external_payment(
        &self,
        company_id: &ObjectId,
        user_id: &ObjectId,
        request: PaymentRequest,
        meta: &EventMetadata,
    ) -> Result<ExternalPayment, PlansError> {
        let PaymentRequest {
            purpose,
            amount_fen,
            method,
            description,
        } = request;
        let description = description.as_str();
        match method {
            PaymentMethod::Balance => {
                return Err(FieldError::new(
                    "payment_method",
                    "`balance` is not an external payment method",
                )
                .into());
            }
            PaymentMethod::Wxpay if self.payments.wechat_pay.is_none() => {
                return Err(FieldError::new(
                    "payment_method",
                    "WeChat Pay is not configured on this server",
                )
                .into());
            }
            PaymentMethod::Alipay if self.payments.alipay.is_none() => {
                return Err(FieldError::new(
                    "payment_method",
                    "Alipay is not configured on this server",
                )
                .into());
            }
            _ => {}
        }
        if amount_fen <= 0 {
            return Err(FieldError::new("amount", "must be positive").into());
        }
        let desk_stream = CommandRunner::stream::<PaymentDesk>(purpose_id(&purpose))?;
        let now = self.now();
        // An open payment of this method: reuse it when it still fits, else supersede it.
        let (desk, _) = self.runner.load::<PaymentDesk>(&desk_stream).await?;
        let mut stale = None;
        if let Some(open) = desk.open_payment(method) {
            let payment = self.payment(open).await?;
            if let Some(terms) = payment.terms()
                && payment.status() == PaymentStatus::Open
                && terms.amount_fen == amount_fen
                && &terms.company_id == company_id
                && now < terms.expires_at
            {
                return Ok(ExternalPayment::of(terms, None));
            }
            stale = Some(open.clone());
        }
        let payment_id = new_object_id(now);
        let out_trade_no = payment_id.to_string();
        let expires_at = now + self.payments.ttl;
        let code_url = self
            .open_with_provider(method, &out_trade_no, description, amount_fen, expires_at)
            .await?;
        let terms = PaymentTerms {
            payment_id: payment_id.clone(),
            company_id: company_id.clone(),
            user_id: user_id.clone(),
            purpose: purpose.clone(),
            method,
            amount_fen,
            out_trade_no,
            code_url,
            expires_at,
        };
        let mut atomic = self.runner.atomic(meta);
        let desk = atomic.stream::<PaymentDesk>(&desk_stream);
        let payment = atomic.stream::<PlanPayment>(&payment_stream(&payment_id)?);
        let old = match &stale {
            Some(id) => Some(atomic.stream::<PlanPayment>(&payment_stream(id)?)),
            None => None,
        };
        let committed = atomic
            .run(|d| {
                let holder = d.state(desk)?.open_payment(method).cloned();
                if let Some(holder) = holder {
                    if Some(&holder) != stale.as_ref() {
                        // Another request opened one meanwhile: answer with it.
                        return Ok::<_, PlansError>(Some(holder));
                    }
                    if let Some(old) = old {
                        d.decide(
                            old,
                            &PlanPaymentCommand::Close {
                                reason: CloseReason::Superseded,
                                now,
                            },
                        )
                        .map_err(|e| e.map_rejected(refused))?;
                    }
                    d.decide(
                        desk,
                        &PaymentDeskCommand::Release {
                            payment_id: holder.clone(),
                        },
                    )
                    .map_err(|e| e.map_rejected(|e: PaymentDeskError| refused_desk(e)))?;
                }
                d.decide(
                    desk,
                    &PaymentDeskCommand::Take {
                        purpose: purpose.clone(),
                        payment_id: payment_id.clone(),
                        method,
                    },
                )
                .map_err(|e| e.map_rejected(refused_desk))?;
                d.decide(
                    payment,
                    &PlanPaymentCommand::Open {
                        terms: terms.clone(),
                        now,
                    },
                )
                .map_err(|e| e.map_rejected(refused))?;
                d.schedule(
                    payment,
                    vec![deadline(PLANS_PAYMENT_EXPIRY, expires_at, &payment_id)],
                )?;
                Ok(None)
            })
            .await?;
        if let Some(other) = committed.value {
            let p = self.payment(&other).await?;
            return p
                .terms()
                .map(|t| ExternalPayment::of(t, None))
                .ok_or_else(|| unavailable("the open payment vanished"));
        }
        Ok(ExternalPayment::of(&terms, committed.position()))
    }

    /// Ask the provider for the QR code (nothing for bank transfers).
    async fn open_with_provider(
        &self,
        method: PaymentMethod,
        out_trade_no: &str,
        description: &str,
        amount_fen: i64,
        expires_at: DateTime<Utc>,
    ) -> Result<Option<String>, PlansError> {
        let description: String = description.chars().take(127).collect();
        match method {
            PaymentMethod::Wxpay => {
                let pay = self
                    .payments
                    .wechat_pay
                    .as_ref()
                    .ok_or_else(|| unavailable("WeChat Pay is not configured"))?;
                let code_url = pay
                    .create_native_order(&NativeOrder {
                        out_trade_no: out_trade_no.to_owned(),
                        description,
                        amount_fen,
                        time_expire: Some(expires_at),
                        notify_url: self.payments.wechatpay_notify_url.clone(),
                    })
                    .await
                    .map_err(|e| unavailable(format!("WeChat Pay: {e}")))?;
                Ok(Some(code_url))
            }
            PaymentMethod::Alipay => {
                let alipay = self
                    .payments
                    .alipay
                    .as_ref()
                    .ok_or_else(|| unavailable("Alipay is not configured"))?;
                let qr = alipay
                    .precreate(&AlipayPrecreate {
                        out_trade_no: out_trade_no.to_owned(),
                        subject: description,
                        amount_fen,
                        time_expire: Some(expires_at),
                        notify_url: self.payments.alipay_notify_url.clone(),
                    })
                    .await
                    .map_err(|e: AlipayError| unavailable(format!("Alipay: {e}")))?;
                Ok(Some(qr.qr_code))
            }
            PaymentMethod::Banktrans | PaymentMethod::Balance => Ok(None),
        }
    }

    /// Record a verified WeChat Pay notification: a `SUCCESS` transaction of one of our `wxpay`
    /// payments (its `out_trade_no`) with the payment's amount succeeds it once and delivers it.
    ///
    /// Errors: engine failures (WeChat Pay retries).
    pub async fn wechatpay_notified(
        &self,
        notification: &WechatPayNotification,
    ) -> Result<Notified, PlansError> {
        let t = &notification.transaction;
        let (TradeState::Success, Some(txn)) = (t.trade_state, t.transaction_id.as_deref()) else {
            return Ok(Notified::NotPaid);
        };
        let Some(amount) = t.amount_fen else {
            return Ok(Notified::AmountMismatch {
                expected: 0,
                paid: 0,
            });
        };
        self.provider_paid(
            PaymentMethod::Wxpay,
            &t.out_trade_no,
            txn,
            amount,
            SuccessSource::Notification {
                notification_id: notification.id.clone(),
            },
        )
        .await
    }

    /// Record a verified Alipay notification: `TRADE_SUCCESS` or `TRADE_FINISHED` of one of our
    /// `alipay` payments with its amount succeeds it once and delivers it.
    ///
    /// Errors: engine failures (Alipay retries).
    pub async fn alipay_notified(
        &self,
        notification: &AlipayNotification,
    ) -> Result<Notified, PlansError> {
        if !notification.is_paid() {
            return Ok(Notified::NotPaid);
        }
        self.provider_paid(
            PaymentMethod::Alipay,
            &notification.out_trade_no,
            &notification.trade_no,
            notification.amount_fen,
            SuccessSource::Notification {
                notification_id: notification.notify_id.clone(),
            },
        )
        .await
    }

    async fn provider_paid(
        &self,
        method: PaymentMethod,
        out_trade_no: &str,
        transaction_id: &str,
        amount_fen: i64,
        source: SuccessSource,
    ) -> Result<Notified, PlansError> {
        let unknown = || Ok(Notified::UnknownTrade(out_trade_no.to_owned()));
        let Ok(payment_id) = ObjectId::parse(out_trade_no) else {
            return unknown();
        };
        let payment = self.payment(&payment_id).await?;
        match payment.terms() {
            Some(t) if t.method == method && t.out_trade_no == out_trade_no => {}
            _ => return unknown(),
        }
        let mut meta = EventMetadata::default();
        meta.extra.insert(
            "providerTransactionId".into(),
            serde_json::Value::String(transaction_id.to_owned()),
        );
        match self
            .succeed(&payment_id, transaction_id, amount_fen, source, &meta)
            .await
        {
            Ok(position) => Ok(Notified::Recorded(position)),
            Err(SucceedError::Amount { expected, paid }) => {
                Ok(Notified::AmountMismatch { expected, paid })
            }
            Err(SucceedError::NotFound) => unknown(),
            Err(SucceedError::Plans(e)) => Err(e),
        }
    }

    /// Staff confirm that the bank transfer of payment `payment_id` arrived: it succeeds (once; a
    /// second confirmation changes nothing) and is delivered. `admin_id` is the identity user id.
    /// Returns the payment after and the position reached.
    ///
    /// Errors: [`ConfirmError::NotFound`], [`ConfirmError::NotBankTransfer`], engine failures.
    pub async fn confirm_bank_transfer(
        &self,
        payment_id: &str,
        admin_id: &str,
        meta: &EventMetadata,
    ) -> Result<(PlanPayment, Option<u64>), ConfirmError> {
        let id = ObjectId::parse(payment_id).map_err(|_| ConfirmError::NotFound)?;
        let payment = self.payment(&id).await?;
        let terms = payment.terms().ok_or(ConfirmError::NotFound)?;
        if terms.method != PaymentMethod::Banktrans {
            return Err(ConfirmError::NotBankTransfer(id));
        }
        let position = match self
            .succeed(
                &id,
                &format!("banktrans-{id}"),
                terms.amount_fen,
                SuccessSource::Confirmation {
                    admin_id: admin_id.to_owned(),
                },
                meta,
            )
            .await
        {
            Ok(p) => p,
            Err(SucceedError::Plans(e)) => return Err(e.into()),
            Err(SucceedError::NotFound | SucceedError::Amount { .. }) => {
                return Err(ConfirmError::NotFound);
            }
        };
        Ok((self.payment(&id).await?, position))
    }

    /// Record the success (once) with its delivery deadline and the desk slot's release in one
    /// commit, then try the delivery at once (the deadline retries it if this fails).
    async fn succeed(
        &self,
        payment_id: &ObjectId,
        transaction_id: &str,
        amount_fen: i64,
        source: SuccessSource,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, SucceedError> {
        let now = self.now();
        let current = self.payment(payment_id).await?;
        let terms = current.terms().ok_or(SucceedError::NotFound)?.clone();
        let desk_stream = CommandRunner::stream::<PaymentDesk>(purpose_id(&terms.purpose))
            .map_err(PlansError::from)?;
        let mut atomic = self.runner.atomic(meta);
        let payment =
            atomic.stream::<PlanPayment>(&payment_stream(payment_id).map_err(PlansError::from)?);
        let desk = atomic.stream::<PaymentDesk>(&desk_stream);
        let command = PlanPaymentCommand::Succeed {
            transaction_id: transaction_id.to_owned(),
            amount_fen,
            source,
            now,
        };
        let committed = atomic
            .run(|d| {
                let events = d.decide(payment, &command).map_err(|e| match e {
                    crate::command::CommandError::Rejected(PlanPaymentError::AmountMismatch {
                        expected,
                        paid,
                    }) => SucceedError::Amount { expected, paid },
                    crate::command::CommandError::Rejected(PlanPaymentError::NotFound) => {
                        SucceedError::NotFound
                    }
                    other => SucceedError::Plans(other.map_rejected(refused)),
                })?;
                if !events.is_empty() {
                    d.decide(
                        desk,
                        &PaymentDeskCommand::Release {
                            payment_id: payment_id.clone(),
                        },
                    )
                    .map_err(|e| SucceedError::Plans(e.map_rejected(refused_desk)))?;
                    d.schedule(
                        payment,
                        vec![deadline(
                            PLANS_PAYMENT_DELIVERY,
                            now + DELIVERY_FALLBACK,
                            payment_id,
                        )],
                    )
                    .map_err(|e| SucceedError::Plans(e.into()))?;
                }
                Ok::<_, SucceedError>(())
            })
            .await?;
        let mut position = committed.position();
        match self.deliver_payment(payment_id).await {
            Ok(p) => position = position.max(p),
            Err(e) => {
                tracing::warn!(payment_id = %payment_id, error = %e, "plans: payment delivery failed; the delivery deadline retries it");
            }
        }
        Ok(position)
    }

    /// Deliver a succeeded payment to its purpose, once: an order through
    /// [`PlansService::settle_order_payment`]; a recharge through [`PlansService::credit_wallet`]
    /// (paid credit = the amount, granted credit = the recharge's tier extra; a recharge that
    /// cannot be read grants nothing but the paid amount) and the recharge becoming paid; then
    /// `PlansPaymentDelivered`. Nothing happens for a payment not succeeded or delivered already.
    /// Returns the highest position reached.
    ///
    /// Errors: engine failures (the [`PLANS_PAYMENT_DELIVERY`] deadline retries).
    pub async fn deliver_payment(&self, payment_id: &ObjectId) -> Result<Option<u64>, PlansError> {
        let payment = self.payment(payment_id).await?;
        let Some(terms) = payment.terms() else {
            return Ok(None);
        };
        if payment.status() != PaymentStatus::Succeeded || payment.delivered() {
            return Ok(None);
        }
        let mut meta = EventMetadata::default();
        meta.extra.insert(
            "paymentId".into(),
            serde_json::Value::String(payment_id.to_string()),
        );
        let position = match &terms.purpose {
            PaymentPurpose::Order { order_id } => {
                self.settle_order_payment(
                    &terms.company_id,
                    order_id,
                    payment_id,
                    terms.amount_fen,
                    terms.method,
                    &meta,
                )
                .await?
            }
            PaymentPurpose::Recharge { recharge_id } => {
                let stream = CommandRunner::stream::<Recharge>(recharge_id)?;
                let (recharge, _) = self.runner.load::<Recharge>(&stream).await?;
                let granted = recharge.terms().map_or(0, |t| t.extra_amount_fen);
                let mut position = self
                    .credit_wallet(
                        &terms.company_id,
                        recharge_id,
                        terms.amount_fen,
                        granted,
                        &meta,
                    )
                    .await?;
                if recharge.terms().is_some() {
                    let decided = self
                        .runner
                        .run::<Recharge>(
                            &stream,
                            &RechargeCommand::MarkPaid {
                                payment_id: payment_id.clone(),
                                now: self.now(),
                            },
                            &meta,
                        )
                        .await
                        .map_err(|e| {
                            e.map_rejected(|r| {
                                PlansError::Field(FieldError::new("recharge", r.to_string()))
                            })
                        })?;
                    position = position.max(decided.position());
                } else {
                    tracing::error!(payment_id = %payment_id, recharge_id = %recharge_id, "plans: a paid recharge payment has no recharge; credited the paid amount only");
                }
                position
            }
        };
        let decided = self
            .runner
            .run::<PlanPayment>(
                &payment_stream(payment_id)?,
                &PlanPaymentCommand::MarkDelivered { now: self.now() },
                &meta,
            )
            .await
            .map_err(|e| e.map_rejected(refused))?;
        Ok(position.max(decided.position()))
    }

    /// Close an unpaid payment at its end (nothing before `expires_at`, or when paid), release
    /// its desk slot, and expire the recharge it pays for. Returns the position reached.
    ///
    /// Errors: engine failures.
    pub async fn expire_payment(&self, payment_id: &ObjectId) -> Result<Option<u64>, PlansError> {
        let current = self.payment(payment_id).await?;
        let Some(terms) = current.terms().cloned() else {
            return Ok(None);
        };
        let now = self.now().max(terms.expires_at);
        let meta = EventMetadata::default();
        let mut atomic = self.runner.atomic(&meta);
        let payment = atomic.stream::<PlanPayment>(&payment_stream(payment_id)?);
        let desk = atomic.stream::<PaymentDesk>(&CommandRunner::stream::<PaymentDesk>(
            purpose_id(&terms.purpose),
        )?);
        let recharge = match &terms.purpose {
            PaymentPurpose::Recharge { recharge_id } => {
                Some(atomic.stream::<Recharge>(&CommandRunner::stream::<Recharge>(recharge_id)?))
            }
            PaymentPurpose::Order { .. } => None,
        };
        let committed = atomic
            .run(|d| {
                let closed = d
                    .decide(
                        payment,
                        &PlanPaymentCommand::Close {
                            reason: CloseReason::Expired,
                            now,
                        },
                    )
                    .map_err(|e| e.map_rejected(refused))?;
                if closed.is_empty() {
                    return Ok::<_, PlansError>(());
                }
                d.decide(
                    desk,
                    &PaymentDeskCommand::Release {
                        payment_id: payment_id.clone(),
                    },
                )
                .map_err(|e| e.map_rejected(refused_desk))?;
                if let Some(recharge) = recharge
                    && d.state(recharge)?.terms().is_some()
                {
                    d.decide(recharge, &RechargeCommand::Expire { now })
                        .map_err(|e| {
                            e.map_rejected(|r| {
                                PlansError::Field(FieldError::new("recharge", r.to_string()))
                            })
                        })?;
                }
                Ok(())
            })
            .await?;
        Ok(committed.position())
    }
}

fn refused_desk(e: PaymentDeskError) -> PlansError {
    PlansError::Field(FieldError::new("payment_method", e.to_string()))
}

/// Why recording a success failed.
#[derive(Debug)]
enum SucceedError {
    NotFound,
    Amount { expected: i64, paid: i64 },
    Plans(PlansError),
}

impl From<PlansError> for SucceedError {
    fn from(e: PlansError) -> Self {
        SucceedError::Plans(e)
    }
}

impl From<EngineError> for SucceedError {
    fn from(e: EngineError) -> Self {
        SucceedError::Plans(e.into())
    }
}

/// Fires [`PLANS_PAYMENT_EXPIRY`] and [`PLANS_PAYMENT_DELIVERY`] through the service.
pub struct PaymentDeadlines(pub Arc<PlansService>);

#[async_trait]
impl DeadlineHandler for PaymentDeadlines {
    async fn fire(&self, deadline: &Deadline) -> Result<(), HandlerError> {
        let raw = deadline.payload["paymentId"].as_str().unwrap_or_default();
        let payment_id = ObjectId::parse(raw)
            .map_err(|_| HandlerError::from("deadline payload has no valid `paymentId`"))?;
        match deadline.kind.as_str() {
            PLANS_PAYMENT_EXPIRY => {
                self.0.expire_payment(&payment_id).await?;
            }
            PLANS_PAYMENT_DELIVERY => {
                self.0.deliver_payment(&payment_id).await?;
                // Delivered now or before: anything else is an engine failure, retried.
                let p = self.0.payment(&payment_id).await?;
                if p.status() == PaymentStatus::Succeeded && !p.delivered() {
                    return Err("the payment is not delivered yet".into());
                }
            }
            other => return Err(format!("not a plans payment deadline: {other}").into()),
        }
        Ok(())
    }
}

/// The payment deadline handlers, by kind, for the server's scheduler.
pub fn payment_deadline_handlers(
    service: &Arc<PlansService>,
) -> Vec<(String, Arc<dyn DeadlineHandler>)> {
    let handler: Arc<dyn DeadlineHandler> = Arc::new(PaymentDeadlines(service.clone()));
    [PLANS_PAYMENT_EXPIRY, PLANS_PAYMENT_DELIVERY]
        .into_iter()
        .map(|kind| (kind.to_owned(), handler.clone()))
        .collect()
}
