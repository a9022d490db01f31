//! Wallet recharges (seed 004 `POST /plan/recharge`, `GET /plan/recharge/info`): an owner asks
//! for an amount within the offer's limits, paid through an external payment
//! ([`PlansService::start_external_payment`]); the best discount tier's `extra_amount` is recorded
//! as granted credit and credited with the paid amount when the payment is delivered
//! ([`super::payments`]). Unpaid recharges expire with their payment.

use super::{Membership, PlansError, PlansService, new_object_id};
use crate::command::CommandRunner;
use crate::event_store::EventMetadata;
use crate::plans::payments::ExternalPayment;
use std::sync::{Arc, OnceLock};
use tessera_domain::plans::ObjectId;
use tessera_domain::plans::payment::{PaymentMethod, PaymentPurpose};
use tessera_domain::plans::recharge::{
    Recharge, RechargeCommand, RechargeOffer, RechargeTerms, yuan_to_fen,
};
use tessera_domain::shared::FieldError;

/// The built-in offer, parsed once.
fn builtin_offer() -> Result<Arc<RechargeOffer>, FieldError> {
    static BUILTIN: OnceLock<Result<Arc<RechargeOffer>, FieldError>> = OnceLock::new();
    BUILTIN
        .get_or_init(|| RechargeOffer::builtin().map(Arc::new))
        .clone()
}

/// A recharge just asked for, with its payment.
#[derive(Debug, Clone)]
pub struct NewRecharge {
    /// The recharge's terms.
    pub terms: RechargeTerms,
    /// Its external payment (`paymentId`, `code_url`).
    pub payment: ExternalPayment,
    /// The position reached.
    pub position: Option<u64>,
}

impl PlansService {
    /// The recharge offer served by `GET /plan/recharge/info` (configured, else built in).
    ///
    /// Errors: [`PlansError::Field`] only if the built-in offer were broken.
    pub fn recharge_offer(&self) -> Result<Arc<RechargeOffer>, PlansError> {
        match &self.payments.recharge_offer {
            Some(offer) => Ok(offer.clone()),
            None => Ok(builtin_offer()?),
        }
    }

    /// A recharge as its events say.
    ///
    /// Errors: engine failures.
    pub async fn recharge(&self, recharge_id: &ObjectId) -> Result<Recharge, PlansError> {
        Ok(self
            .runner
            .load::<Recharge>(&CommandRunner::stream::<Recharge>(recharge_id)?)
            .await?
            .0)
    }

    /// `POST /plan/recharge`: as an owner, recharge `amount` CNY yuan (decimal text as sent, at
    /// most two decimals, within the offer's limits) paid with `method` (`alipay`, `wxpay` or `banktrans`). The best
    /// tier (largest `amount` not above the recharge) grants its `extra_amount`. The payment is
    /// opened first, then the recharge is stored naming it.
    ///
    /// Errors: [`PlansError::NotOwner`]; [`PlansError::Field`] on `amount` or `payment_method`
    /// (unknown, `balance`, or a provider not configured); provider and engine failures (503).
    pub async fn create_recharge(
        &self,
        caller: &Membership,
        amount: &str,
        method: &str,
        meta: &EventMetadata,
    ) -> Result<NewRecharge, PlansError> {
        Self::require_owner(caller)?;
        let offer = self.recharge_offer()?;
        let amount_fen = offer.checked_amount_text(amount)?;
        let method = match PaymentMethod::parse(method) {
            Some(PaymentMethod::Balance) => {
                return Err(FieldError::new(
                    "payment_method",
                    "a recharge cannot be paid from the balance; use alipay, wxpay or banktrans",
                )
                .into());
            }
            Some(m) => m,
            None => {
                return Err(FieldError::new(
                    "payment_method",
                    "must be one of alipay, wxpay, banktrans",
                )
                .into());
            }
        };
        let tier = offer.best_tier(amount_fen);
        let extra_amount_fen = tier.and_then(|t| yuan_to_fen(t.extra_amount)).unwrap_or(0);
        let now = self.now();
        let recharge_id = new_object_id(now);
        let payment = self
            .start_external_payment(
                &caller.company_id,
                &caller.user_id,
                crate::plans::payments::PaymentRequest {
                    purpose: PaymentPurpose::Recharge {
                        recharge_id: recharge_id.clone(),
                    },
                    amount_fen,
                    method,
                    description: format!(
                        "钱包充值 {}",
                        tessera_domain::plans::recharge::fen_to_yuan(amount_fen)
                    ),
                },
                meta,
            )
            .await?;
        let terms = RechargeTerms {
            recharge_id: recharge_id.clone(),
            company_id: caller.company_id.clone(),
            user_id: caller.user_id.clone(),
            amount_fen,
            extra_amount_fen,
            discount_id: tier.map(|t| t.id.clone()),
            offer_version: offer.version.clone(),
            method,
            payment_id: payment.payment_id.clone(),
        };
        let decided = self
            .runner
            .run::<Recharge>(
                &CommandRunner::stream::<Recharge>(&recharge_id)?,
                &RechargeCommand::Create {
                    terms: terms.clone(),
                    now,
                },
                meta,
            )
            .await
            .map_err(|e| {
                e.map_rejected(|r| PlansError::Field(FieldError::new("recharge", r.to_string())))
            })?;
        let position = decided.position().max(payment.position);
        Ok(NewRecharge {
            terms,
            payment,
            position,
        })
    }
}
