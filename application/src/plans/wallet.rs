//! The company wallet (seed 004 "recharge"/"charge"; docs/plans.md, "Wallet and charges";
//! decision 0027): credits from recharges and staff grants, read by `GET /plan/wallet`. Spends
//! happen in [`super::orders`] (balance payments), in the same commit as the order they pay.

use super::orders::wallet_stream;
use super::{Missing, PlansError, PlansService, new_object_id};
use crate::event_store::EventMetadata;
use tessera_domain::plans::ObjectId;
use tessera_domain::plans::company::Company;
use tessera_domain::plans::wallet::{CreditKind, Wallet, WalletCommand};
use tessera_domain::shared::FieldError;

/// Longest reason of a staff grant, in characters.
pub const MAX_GRANT_REASON: usize = 500;

impl PlansService {
    /// The company's wallet as its events say (paid and granted credit, fen).
    ///
    /// Errors: engine failures.
    pub async fn wallet(&self, company_id: &ObjectId) -> Result<Wallet, PlansError> {
        Ok(self
            .runner
            .load::<Wallet>(&wallet_stream(company_id)?)
            .await?
            .0)
    }

    /// Credit the company wallet with `paid_fen` paid credit and `granted_fen` granted credit (a
    /// discount tier's `extra_amount`), both CNY fen, for `reference` (the recharge id).
    /// Idempotent by `reference`. Returns the position reached (`None` when nothing changed).
    ///
    /// Errors: [`PlansError::Field`] for negative amounts (`amount`), or both zero; engine
    /// failures.
    pub async fn credit_wallet(
        &self,
        company_id: &ObjectId,
        reference: &ObjectId,
        paid_fen: i64,
        granted_fen: i64,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, PlansError> {
        let now = self.now();
        let command = WalletCommand::Credit {
            company_id: company_id.clone(),
            entry_id: new_object_id(now),
            reference: reference.to_string(),
            kind: CreditKind::Recharge,
            paid_fen,
            granted_fen,
            reason: None,
            now,
        };
        let decided = self
            .runner
            .run::<Wallet>(&wallet_stream(company_id)?, &command, meta)
            .await
            .map_err(|e| e.map_rejected(PlansError::from))?;
        Ok(decided.position())
    }

    /// Grant `amount_fen` CNY fen of credit to the company `company_id` (its 24-hex text) for
    /// `reason` (staff, `POST /admin/plans/companies/:companyId/wallet/grant`; the caller checks
    /// the admin role). Returns the ledger entry id and the position reached.
    ///
    /// Errors: [`PlansError::NotFound`] (`Company`), [`PlansError::Field`] (`amount` not
    /// positive, `reason` empty or over [`MAX_GRANT_REASON`] characters), engine failures.
    pub async fn grant_credit(
        &self,
        company_id: &str,
        amount_fen: i64,
        reason: &str,
        meta: &EventMetadata,
    ) -> Result<(ObjectId, Option<u64>), PlansError> {
        let company_id =
            ObjectId::parse(company_id).map_err(|_| PlansError::NotFound(Missing::Company))?;
        if amount_fen <= 0 {
            return Err(FieldError::new("amount", "must be more than 0").into());
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_GRANT_REASON {
            return Err(FieldError::new(
                "reason",
                format!("must be 1 to {MAX_GRANT_REASON} characters"),
            )
            .into());
        }
        let (company, _) = self
            .runner
            .load::<Company>(&super::companies::company_stream(&company_id)?)
            .await?;
        if !company.exists() {
            return Err(PlansError::NotFound(Missing::Company));
        }
        let now = self.now();
        let entry_id = new_object_id(now);
        let command = WalletCommand::Credit {
            company_id: company_id.clone(),
            entry_id: entry_id.clone(),
            reference: entry_id.to_string(),
            kind: CreditKind::Grant,
            paid_fen: 0,
            granted_fen: amount_fen,
            reason: Some(reason.to_owned()),
            now,
        };
        let decided = self
            .runner
            .run::<Wallet>(&wallet_stream(&company_id)?, &command, meta)
            .await
            .map_err(|e| e.map_rejected(PlansError::from))?;
        Ok((entry_id, decided.position()))
    }
}
