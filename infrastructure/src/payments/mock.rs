//! The Mock payment provider: no money moves. Tessera itself serves the payment page, where a person
//! (or a test) confirms or declines, and then delivers a signed Mock webhook (see
//! [`super::webhook::MockWebhookEvent`]). Seed 003 §6.1 shows its `paymentUrl`.

use async_trait::async_trait;
use tessera_application::payments::{Checkout, CheckoutRequest, PaymentError, PaymentGateway};

/// The [`PaymentGateway`] for provider `Mock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockGateway {
    public_base_url: String,
}

impl MockGateway {
    /// A gateway whose payment pages live under `public_base_url`, the address clients reach
    /// Tessera at (e.g. `http://localhost:8080`; a trailing `/` is ignored).
    pub fn new(public_base_url: impl Into<String>) -> Self {
        let mut base = public_base_url.into();
        while base.ends_with('/') {
            base.pop();
        }
        Self {
            public_base_url: base,
        }
    }
}

#[async_trait]
impl PaymentGateway for MockGateway {
    fn provider(&self) -> &'static str {
        "Mock"
    }

    /// Never fails: the checkout is `{public_base_url}/v1/mock-payment/{paymentId}` (payment id
    /// hyphenated, lower-case), and its provider reference is the payment id.
    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<Checkout, PaymentError> {
        Ok(Checkout {
            provider_reference: request.payment_id.to_string(),
            payment_url: format!(
                "{}/v1/mock-payment/{}",
                self.public_base_url, request.payment_id
            ),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[tokio::test]
    async fn the_checkout_points_at_tessera_own_page() {
        let payment_id = Uuid::parse_str("bb0e8400-e29b-41d4-a716-446655440000").unwrap();
        let request = CheckoutRequest {
            order_id: Uuid::new_v4(),
            payment_id,
            amount_minor: 9600,
            currency: "TWD".into(),
            description: "五月天演唱會 × 2".into(),
        };
        let gateway = MockGateway::new("http://localhost:8080/");
        assert_eq!(gateway.provider(), "Mock");
        assert_eq!(
            gateway.create_checkout(&request).await.unwrap(),
            Checkout {
                provider_reference: "bb0e8400-e29b-41d4-a716-446655440000".into(),
                payment_url:
                    "http://localhost:8080/v1/mock-payment/bb0e8400-e29b-41d4-a716-446655440000"
                        .into(),
            }
        );
    }
}
