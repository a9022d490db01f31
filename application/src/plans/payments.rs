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

impl PlansService {
    /// Open the payment `request` for the company, started by `user_id`. Opening the same purpose
    /// again while a payment for it is open with the same method returns that payment. When it
    /// succeeds (provider notification or staff confirmation) it is delivered once to
    /// [`PlansService::settle_order_payment`] or [`PlansService::credit_wallet`].
    ///
    /// Errors: [`PlansError::Field`] (`payment_method` is `balance`); provider failures; engine
    /// failures.
    pub async fn start_external_payment(
        &self,
        company_id: &ObjectId,
        user_id: &ObjectId,
        request: PaymentRequest,
        meta: &EventMetadata,
    ) -> Result<ExternalPayment, PlansError> {
        // Placeholder until the plan payments work lands: every external method is refused.
        let _ = (company_id, user_id, meta);
        Err(PlansError::Field(FieldError::new(
            "payment_method",
            format!("{} payments are not available yet", request.method.as_str()),
        )))
    }
}
