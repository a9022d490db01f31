//! Payments (seed 003 §6.1–6.2): which providers clients may choose, and applying a provider's
//! payment notice (webhooks, the Mock payment page) to its order. A succeeded payment is then
//! fulfilled by the [`super::fulfilment`] process manager.

use super::OpenTicketService;
use super::error::{OpenTicketError, order_refusal};
use super::orders::placed;
use crate::command::CommandRunner;
use crate::event_store::EventMetadata;
use tessera_domain::openticket::order::{Order, OrderCommand, PaymentOutcome};
use tessera_domain::openticket::{OrderId, PaymentId};

impl OpenTicketService {
    /// Provider names clients may send as `paymentProvider` (e.g. `Mock`, `Stripe`), sorted.
    pub fn providers(&self) -> Vec<String> {
        let mut p: Vec<String> = self.gateways.keys().cloned().collect();
        p.sort();
        p
    }

    /// Apply a provider's payment notice; returns the position of the append (`None` for a
    /// notice seen before). `payment_id` defaults to the order's own attempt when the provider
    /// does not echo it; a notice naming another attempt is
    /// [`OrderError::UnknownPayment`](tessera_domain::openticket::order::OrderError::UnknownPayment).
    pub async fn record_payment(
        &self,
        order_id: OrderId,
        payment_id: Option<PaymentId>,
        provider_event_id: &str,
        outcome: PaymentOutcome,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, OpenTicketError> {
        let order = self.order(order_id).await?;
        let own = placed(&order, order_id)?.payment.payment_id;
        let command = OrderCommand::RecordPayment {
            payment_id: payment_id.unwrap_or(own),
            provider_event_id: provider_event_id.to_owned(),
            outcome,
            now: self.clock.now(),
        };
        let decided = self
            .runner
            .run::<Order>(&CommandRunner::stream::<Order>(order_id)?, &command, meta)
            .await
            .map_err(|e| e.map_rejected(|e| order_refusal(order_id, e)))?;
        Ok(decided.position())
    }
}
