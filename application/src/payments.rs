//! Payment ports: starting a provider's checkout for an order, and signing the codes printed on
//! tickets. Adapters live in the infrastructure crate (Mock, Stripe; HMAC ticket codes).

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

/// Why a ticket code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketCodeError {
    /// Not of the form Tessera issues.
    #[error("the code is malformed")]
    Malformed,
    /// The signature does not match (forged or altered).
    #[error("the code's signature is invalid")]
    BadSignature,
}

/// Signs and verifies the codes printed as QR codes on tickets (OpenTicket seed 003 §7.2 `qrCode`).
pub trait TicketCodes: Send + Sync {
    /// The code for a ticket, e.g. `OPENTICKET-<ticket id>.<signature>`.
    fn sign(&self, ticket_id: Uuid) -> String;
    /// The ticket id a genuine code names.
    fn verify(&self, code: &str) -> Result<Uuid, TicketCodeError>;
}
