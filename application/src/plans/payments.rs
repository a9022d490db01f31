//! External payments of plans orders and recharges (`alipay`, `wxpay`, `banktrans`). Contract
//! placeholder: the payments work replaces the body of [`PlansService::start_external_payment`],
//! which the order and recharge routes call.

use super::{PlansError, PlansService};
use crate::event_store::EventMetadata;
use tessera_domain::plans::ObjectId;
use tessera_domain::plans::payment::{PaymentMethod, PaymentPurpose};
use tessera_domain::shared::FieldError;

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

impl PlansService {
    /// Open a payment of `amount_fen` CNY fen for `purpose` with `method` (not `balance`),
    /// described to the payer as `description`. Opening the same purpose again while a payment
    /// for it is open with the same method returns that payment. When it succeeds (provider
    /// notification or staff confirmation) it is delivered once to
    /// [`PlansService::settle_order_payment`] or [`PlansService::credit_wallet`].
    ///
    /// Errors: [`PlansError::Field`] (`payment_method` is `balance`); provider failures; engine
    /// failures.
    pub async fn start_external_payment(
        &self,
        company_id: &ObjectId,
        user_id: &ObjectId,
        purpose: PaymentPurpose,
        amount_fen: i64,
        method: PaymentMethod,
        description: &str,
        meta: &EventMetadata,
    ) -> Result<ExternalPayment, PlansError> {
        // Placeholder until the plan payments work lands: every external method is refused.
        let _ = (company_id, user_id, purpose, amount_fen, description, meta);
        Err(PlansError::Field(FieldError::new(
            "payment_method",
            format!("{} payments are not available yet", method.as_str()),
        )))
    }
}
