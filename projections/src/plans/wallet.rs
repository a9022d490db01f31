//! Projector `plans_wallet`: `plans_wallets` (one balance row per company) and
//! `plans_wallet_ledger` (one row per credit or spend) from the `plansWallet` streams
//! (docs/read-models.md, "Team plans: orders and wallet").

use crate::db::ProjectionTx;
use crate::execute;
use crate::projector::{ProjectionError, Projector, parse};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tessera_application::RecordedEvent;
use tessera_domain::Decider;
use tessera_domain::plans::wallet::Wallet;

/// Writes `plans_wallets` and `plans_wallet_ledger` from the `plansWallet` streams.
#[derive(Debug, Clone, Copy, Default)]
pub struct WalletProjector;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Credited {
    company_id: String,
    entry_id: String,
    reference: String,
    kind: String,
    paid_amount: i64,
    granted_amount: i64,
    reason: Option<String>,
    paid_after: i64,
    granted_after: i64,
    credited_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Debited {
    company_id: String,
    entry_id: String,
    order_id: String,
    amount: i64,
    from_granted: i64,
    from_paid: i64,
    paid_after: i64,
    granted_after: i64,
    debited_at: DateTime<Utc>,
}

/// One ledger row.
struct Entry<'a> {
    entry_id: &'a str,
    company_id: &'a str,
    kind: &'a str,
    paid: i64,
    granted: i64,
    reference: Option<&'a str>,
    order_id: Option<&'a str>,
    reason: Option<&'a str>,
    paid_after: i64,
    granted_after: i64,
    at: DateTime<Utc>,
}

async fn record(tx: &mut ProjectionTx, e: Entry<'_>) -> Result<(), ProjectionError> {
    execute!(
        &mut *tx,
        sqlx::query(
            "INSERT INTO plans_wallet_ledger (entry_id, company_id, kind, amount, paid_amount, \
             granted_amount, reference, order_id, reason, paid_after, granted_after, at) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (entry_id) DO NOTHING",
        )
        .bind(e.entry_id)
        .bind(e.company_id)
        .bind(e.kind)
        .bind(e.paid + e.granted)
        .bind(e.paid)
        .bind(e.granted)
        .bind(e.reference)
        .bind(e.order_id)
        .bind(e.reason)
        .bind(e.paid_after)
        .bind(e.granted_after)
        .bind(e.at)
    )?;
    execute!(
        &mut *tx,
        sqlx::query(
            "INSERT INTO plans_wallets (company_id, paid, granted, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (company_id) DO UPDATE SET \
             paid = excluded.paid, granted = excluded.granted, updated_at = excluded.updated_at",
        )
        .bind(e.company_id)
        .bind(e.paid_after)
        .bind(e.granted_after)
        .bind(e.at)
    )?;
    Ok(())
}

#[async_trait]
impl Projector for WalletProjector {
    fn name(&self) -> &'static str {
        "plans_wallet"
    }

    fn version(&self) -> u32 {
        1
    }

    fn categories(&self) -> &'static [&'static str] {
        &[Wallet::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &["PlansWalletCredited", "PlansWalletDebited"]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(&mut *tx, sqlx::query("DELETE FROM plans_wallet_ledger"))?;
        execute!(&mut *tx, sqlx::query("DELETE FROM plans_wallets"))?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        match event.event_type.as_str() {
            "PlansWalletCredited" => {
                let d: Credited = parse(event)?;
                record(
                    tx,
                    Entry {
                        entry_id: &d.entry_id,
                        company_id: &d.company_id,
                        kind: &d.kind,
                        paid: d.paid_amount,
                        granted: d.granted_amount,
                        reference: Some(&d.reference),
                        order_id: None,
                        reason: d.reason.as_deref(),
                        paid_after: d.paid_after,
                        granted_after: d.granted_after,
                        at: d.credited_at,
                    },
                )
                .await?;
            }
            "PlansWalletDebited" => {
                let d: Debited = parse(event)?;
                debug_assert_eq!(d.amount, d.from_paid + d.from_granted);
                record(
                    tx,
                    Entry {
                        entry_id: &d.entry_id,
                        company_id: &d.company_id,
                        kind: "order",
                        paid: -d.from_paid,
                        granted: -d.from_granted,
                        reference: None,
                        order_id: Some(&d.order_id),
                        reason: None,
                        paid_after: d.paid_after,
                        granted_after: d.granted_after,
                        at: d.debited_at,
                    },
                )
                .await?;
            }
            _ => {}
        }
        Ok(())
    }
}
