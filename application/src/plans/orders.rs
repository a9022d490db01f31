//! Plan orders (seed 004 "order"). Contract placeholder: the orders work replaces the body of
//! [`PlansService::settle_order_payment`], which the external payments call.

use super::{PlansError, PlansService};
use crate::event_store::EventMetadata;
use tessera_domain::plans::ObjectId;
use tessera_domain::plans::payment::PaymentMethod;

impl PlansService {
    /// Deliver a succeeded external payment (`alipay`, `wxpay`, `banktrans`) of `amount_fen` CNY
    /// fen to order `order_id`: the order becomes paid and takes effect. Idempotent by
    /// `payment_id` (a repeated delivery changes nothing); when the order can no longer be paid
    /// (paid by another payment, expired, cancelled) the amount is credited to the company
    /// wallet as paid credit instead, so no payment is lost. Returns the position reached
    /// (`None` when nothing changed).
    ///
    /// Errors: engine failures (the caller retries the delivery).
    pub async fn settle_order_payment(
        &self,
        company_id: &ObjectId,
        order_id: &ObjectId,
        payment_id: &ObjectId,
        amount_fen: i64,
        method: PaymentMethod,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, PlansError> {
        // Placeholder until the plan orders work lands: nothing is delivered yet.
        let _ = (company_id, order_id, payment_id, amount_fen, method, meta);
        Ok(None)
    }
}
