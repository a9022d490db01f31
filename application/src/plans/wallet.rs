//! The company wallet (seed 004 "recharge"/"charge"). Contract placeholder: the orders work
//! replaces the body of [`PlansService::credit_wallet`], which a succeeded recharge calls.

use super::{PlansError, PlansService};
use crate::event_store::EventMetadata;
use tessera_domain::plans::ObjectId;

impl PlansService {
    /// Credit the company wallet with `paid_fen` paid credit and `granted_fen` granted credit (a
    /// discount tier's `extra_amount`), both CNY fen, for `reference` (the recharge id).
    /// Idempotent by `reference`. Returns the position reached (`None` when nothing changed).
    ///
    /// Errors: [`PlansError::Field`] for negative amounts; engine failures.
    pub async fn credit_wallet(
        &self,
        company_id: &ObjectId,
        reference: &ObjectId,
        paid_fen: i64,
        granted_fen: i64,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, PlansError> {
        // Placeholder until the plan orders work lands: nothing is credited yet.
        let _ = (company_id, reference, paid_fen, granted_fen, meta);
        Ok(None)
    }
}
