//! Projector `shop_cards`: `shop_membership_cards` and `shop_member_transactions`
//! (docs/read-models.md, "Shop membership cards"), from the `shopMembershipCard` streams.

use super::{bad_event, int, parse};
use crate::db::ProjectionTx;
use crate::execute;
use crate::projector::{ProjectionError, Projector};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tessera_application::RecordedEvent;
use tessera_domain::Decider;
use tessera_domain::shared::Money;
use tessera_domain::shop::card::{MembershipCard, TransactionKind};

/// Writes one row per card (balance, status, closed) and one per member transaction. Closed
/// cards stay, flagged `closed`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CardsProjector;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Issued {
    card_id: u64,
    user_id: u64,
    card_number: String,
    issued_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recorded {
    card_id: u64,
    transaction_id: u64,
    kind: TransactionKind,
    amount: Money,
    balance_after: Money,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    order_id: Option<String>,
    recorded_by: String,
    recorded_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Changed {
    card_id: u64,
    #[serde(alias = "frozenAt", alias = "unfrozenAt", alias = "closedAt")]
    at: DateTime<Utc>,
}

fn fen(event: &RecordedEvent, money: &Money) -> Result<i64, ProjectionError> {
    money.to_minor().map_err(|e| bad_event(event, e))
}

#[async_trait]
impl Projector for CardsProjector {
    fn name(&self) -> &'static str {
        "shop_cards"
    }

    fn version(&self) -> u32 {
        1
    }

    fn categories(&self) -> &'static [&'static str] {
        &[MembershipCard::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &[
            "ShopMembershipCardIssued",
            "ShopMemberTransactionRecorded",
            "ShopMembershipCardFrozen",
            "ShopMembershipCardUnfrozen",
            "ShopMembershipCardClosed",
        ]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(&mut *tx, sqlx::query("DELETE FROM shop_membership_cards"))?;
        execute!(
            &mut *tx,
            sqlx::query("DELETE FROM shop_member_transactions")
        )?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        match event.event_type.as_str() {
            "ShopMembershipCardIssued" => {
                let d: Issued = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "INSERT INTO shop_membership_cards (card_id, user_id, card_number, \
                         balance_fen, status, created_at, updated_at) \
                         VALUES ($1, $2, $3, 0, 1, $4, $4) ON CONFLICT (card_id) DO NOTHING",
                    )
                    .bind(int(event, d.card_id)?)
                    .bind(int(event, d.user_id)?)
                    .bind(&d.card_number)
                    .bind(d.issued_at)
                )?;
            }
            "ShopMemberTransactionRecorded" => {
                let d: Recorded = parse(event)?;
                let amount = fen(event, &d.amount)?;
                let change = if d.kind.is_credit() { amount } else { -amount };
                let balance = fen(event, &d.balance_after)?;
                let card_id = int(event, d.card_id)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE shop_membership_cards SET balance_fen = $1, updated_at = $2 \
                         WHERE card_id = $3",
                    )
                    .bind(balance)
                    .bind(d.recorded_at)
                    .bind(card_id)
                )?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "INSERT INTO shop_member_transactions (transaction_id, card_id, user_id, \
                         type_code, amount_fen, change_fen, balance_after_fen, description, \
                         order_id, recorded_by, created_at) \
                         SELECT $1, $2, c.user_id, $3, $4, $5, $6, $7, $8, $9, $10 \
                         FROM shop_membership_cards c WHERE c.card_id = $2 \
                         ON CONFLICT (transaction_id) DO NOTHING",
                    )
                    .bind(int(event, d.transaction_id)?)
                    .bind(card_id)
                    .bind(i32::from(d.kind.code()))
                    .bind(amount)
                    .bind(change)
                    .bind(balance)
                    .bind(&d.description)
                    .bind(&d.order_id)
                    .bind(&d.recorded_by)
                    .bind(d.recorded_at)
                )?;
            }
            t @ ("ShopMembershipCardFrozen"
            | "ShopMembershipCardUnfrozen"
            | "ShopMembershipCardClosed") => {
                let d: Changed = parse(event)?;
                let sql = match t {
                    "ShopMembershipCardFrozen" => {
                        "UPDATE shop_membership_cards SET status = 0, updated_at = $1 \
                         WHERE card_id = $2"
                    }
                    "ShopMembershipCardUnfrozen" => {
                        "UPDATE shop_membership_cards SET status = 1, updated_at = $1 \
                         WHERE card_id = $2"
                    }
                    _ => {
                        "UPDATE shop_membership_cards SET closed = TRUE, updated_at = $1 \
                         WHERE card_id = $2"
                    }
                };
                execute!(
                    &mut *tx,
                    sqlx::query(sql).bind(d.at).bind(int(event, d.card_id)?)
                )?;
            }
            _ => {}
        }
        Ok(())
    }
}
