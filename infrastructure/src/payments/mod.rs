//! Payment adapters for the application's [`PaymentGateway`](tessera_application::payments::PaymentGateway)
//! port (OpenTicket seed 003 §6.1 `payment`): the [`MockGateway`] served by Tessera itself and the
//! [`StripeGateway`] for Stripe Checkout, plus [`webhook`] signature checks and payload parsers that
//! turn provider callbacks (seed 003 §10) into provider-neutral [`PaymentNotice`]s.

pub mod mock;
pub mod stripe;
pub mod webhook;

pub use mock::MockGateway;
pub use stripe::{
    STRIPE_API_BASE, STRIPE_DEFAULT_TIMEOUT, StripeConfig, StripeConfigError, StripeGateway,
    StripeSecretKey,
};
pub use webhook::{
    MockWebhookEvent, ParseError, PaymentNotice, PaymentOutcome, STRIPE_DEFAULT_TOLERANCE,
    SignatureError, StripeEvent, sign_stripe_webhook, sign_webhook, verify_stripe_signature,
    verify_webhook_signature,
};
