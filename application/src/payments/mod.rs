//! Payment ports shared by the documents: starting a provider's checkout for an order (Mock,
//! Stripe) and WeChat Pay API v3 ([`wechatpay`]). Adapters live in the infrastructure crate.

use async_trait::async_trait;
use uuid::Uuid;

/// What a checkout is for. Money is given in the currency's minor units (e.g. TWD has none, so
/// `4800` is TWD 4,800; USD has two, so `4800` is USD 48.00), as payment providers expect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    /// The order being paid.
    pub order_id: Uuid,
    /// Tessera's id for this payment attempt (shown to clients as `paymentId`).
    pub payment_id: Uuid,
    /// Total in minor units of `currency`.
    pub amount_minor: i64,
    /// Upper-case ISO 4217 code, e.g. `TWD`.
    pub currency: String,
    /// One line shown to the payer, e.g. `五月天演唱會 × 2`.
    pub description: String,
}

/// A checkout the provider opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// The provider's id for it (Stripe `cs_…`; the payment id for Mock).
    pub provider_reference: String,
    /// Where the payer goes to pay.
    pub payment_url: String,
}

/// Why a checkout could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// The provider refused the request (bad amount, bad currency, bad key …).
    #[error("payment provider refused the request: {0}")]
    Rejected(String),
    /// The provider could not be reached or failed.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
}

/// A payment provider that can open a checkout (OpenTicket seed 003 §6.1 `payment.paymentUrl`).
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// The provider's name as the API shows it (`Mock`, `Stripe`).
    fn provider(&self) -> &'static str;
    /// Open a checkout for an order.
    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<Checkout, PaymentError>;
}

pub mod alipay;
pub mod wechatpay;
