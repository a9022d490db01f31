//! [`Wallet`] (`plansWallet-{companyId}`), one per company: the company's balance for `balance`
//! payments (seed 004 `PaimentMethod` `balance`, "recharge", "charge"), in whole CNY fen.
//!
//! Rules (docs/decisions/0027-plans-orders-and-wallet.md):
//! - Two kinds of credit are kept apart: **paid** credit (money the company paid in: recharges,
//!   external payments of orders that could no longer be paid) and **granted** credit (discount
//!   tiers' `extra_amount`, staff grants).
//! - A spend takes **granted credit first**, then paid credit (granted credit is never refunded,
//!   so it is used before the company's own money).
//! - The wallet never goes negative: a spend larger than the balance is refused whole.
//! - Credits are idempotent by `reference` (a recharge id, a payment id, a grant id), spends by
//!   the order they pay: the same reference or order twice changes nothing.

use super::ObjectId;
use crate::{Decider, DomainEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Where a credit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CreditKind {
    /// A wallet recharge (`POST /plan/recharge`) that succeeded.
    Recharge,
    /// Staff granted credit (`POST /admin/plans/companies/:companyId/wallet/grant`).
    Grant,
    /// An external payment of an order that could no longer be paid (paid, expired, cancelled).
    Refund,
}

impl CreditKind {
    /// `recharge`, `grant` or `refund`.
    pub fn as_str(self) -> &'static str {
        match self {
            CreditKind::Recharge => "recharge",
            CreditKind::Grant => "grant",
            CreditKind::Refund => "refund",
        }
    }
}

/// The state of one company's wallet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wallet {
    paid_fen: i64,
    granted_fen: i64,
    references: BTreeSet<String>,
    orders: BTreeSet<ObjectId>,
}

impl Wallet {
    /// Paid credit, fen.
    pub fn paid_fen(&self) -> i64 {
        self.paid_fen
    }

    /// Granted credit, fen.
    pub fn granted_fen(&self) -> i64 {
        self.granted_fen
    }

    /// Paid plus granted credit, fen.
    pub fn balance_fen(&self) -> i64 {
        self.paid_fen + self.granted_fen
    }

    /// Whether a credit with `reference` was recorded.
    pub fn has_reference(&self, reference: &str) -> bool {
        self.references.contains(reference)
    }

    /// Whether `order_id` was paid from this wallet.
    pub fn has_paid(&self, order_id: &ObjectId) -> bool {
        self.orders.contains(order_id)
    }
}

/// Commands for [`Wallet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletCommand {
    /// Add `paid_fen` paid and `granted_fen` granted credit for `reference` (once).
    Credit {
        /// The company (also the stream id).
        company_id: ObjectId,
        /// A fresh id for the ledger entry.
        entry_id: ObjectId,
        /// What the credit is for (recharge, payment or grant id); a second credit with it
        /// changes nothing.
        reference: String,
        /// Where it came from.
        kind: CreditKind,
        /// Paid credit, fen, ≥ 0.
        paid_fen: i64,
        /// Granted credit, fen, ≥ 0.
        granted_fen: i64,
        /// Why (staff grants), shown in the ledger.
        reason: Option<String>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Pay `amount_fen` for order `order_id`: granted credit first, then paid credit.
    Spend {
        /// The company (also the stream id).
        company_id: ObjectId,
        /// A fresh id for the ledger entry.
        entry_id: ObjectId,
        /// The order paid; a second spend for it changes nothing.
        order_id: ObjectId,
        /// Fen, ≥ 0.
        amount_fen: i64,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`Wallet`] (docs/event-catalog.md, "Team plans: orders and wallet").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum WalletEvent {
    /// Credit was added.
    #[serde(rename = "PlansWalletCredited")]
    Credited {
        /// The company.
        company_id: ObjectId,
        /// The ledger entry (`_id` in `GET /plan/charge`).
        entry_id: ObjectId,
        /// What it is for.
        reference: String,
        /// `recharge`, `grant` or `refund`.
        kind: CreditKind,
        /// Paid credit added, fen.
        paid_amount: i64,
        /// Granted credit added, fen.
        granted_amount: i64,
        /// Why (staff grants).
        reason: Option<String>,
        /// Paid credit after, fen.
        paid_after: i64,
        /// Granted credit after, fen.
        granted_after: i64,
        /// When (UTC).
        credited_at: DateTime<Utc>,
    },
    /// An order was paid from the wallet.
    #[serde(rename = "PlansWalletDebited")]
    Debited {
        /// The company.
        company_id: ObjectId,
        /// The ledger entry.
        entry_id: ObjectId,
        /// The order paid.
        order_id: ObjectId,
        /// Fen taken in all.
        amount: i64,
        /// Of which granted credit, fen.
        from_granted: i64,
        /// Of which paid credit, fen.
        from_paid: i64,
        /// Paid credit after, fen.
        paid_after: i64,
        /// Granted credit after, fen.
        granted_after: i64,
        /// When (UTC).
        debited_at: DateTime<Utc>,
    },
}

impl DomainEvent for WalletEvent {}

/// Why a [`WalletCommand`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    /// A negative amount, or a credit of nothing.
    #[error("invalid amount: {0}")]
    InvalidAmount(&'static str),
    /// The balance does not cover the spend (nothing is taken).
    #[error("the wallet holds {balance} fen, {needed} fen are needed")]
    Insufficient {
        /// Paid plus granted credit, fen.
        balance: i64,
        /// What the spend needs, fen.
        needed: i64,
    },
}

impl Decider for Wallet {
    const CATEGORY: &'static str = "plansWallet";
    type Command = WalletCommand;
    type Event = WalletEvent;
    type Error = WalletError;

    fn decide(&self, command: &WalletCommand) -> Result<Vec<WalletEvent>, WalletError> {
        match command {
            WalletCommand::Credit {
                company_id,
                entry_id,
                reference,
                kind,
                paid_fen,
                granted_fen,
                reason,
                now,
            } => {
                if *paid_fen < 0 || *granted_fen < 0 {
                    return Err(WalletError::InvalidAmount("credits are not negative"));
                }
                if *paid_fen == 0 && *granted_fen == 0 {
                    return Err(WalletError::InvalidAmount("a credit adds something"));
                }
                if self.references.contains(reference) {
                    return Ok(Vec::new());
                }
                let paid_after = self
                    .paid_fen
                    .checked_add(*paid_fen)
                    .ok_or(WalletError::InvalidAmount("too large"))?;
                let granted_after = self
                    .granted_fen
                    .checked_add(*granted_fen)
                    .ok_or(WalletError::InvalidAmount("too large"))?;
                Ok(vec![WalletEvent::Credited {
                    company_id: company_id.clone(),
                    entry_id: entry_id.clone(),
                    reference: reference.clone(),
                    kind: *kind,
                    paid_amount: *paid_fen,
                    granted_amount: *granted_fen,
                    reason: reason.clone(),
                    paid_after,
                    granted_after,
                    credited_at: *now,
                }])
            }
            WalletCommand::Spend {
                company_id,
                entry_id,
                order_id,
                amount_fen,
                now,
            } => {
                if *amount_fen < 0 {
                    return Err(WalletError::InvalidAmount("spends are not negative"));
                }
                if self.orders.contains(order_id) {
                    return Ok(Vec::new());
                }
                if *amount_fen > self.balance_fen() {
                    return Err(WalletError::Insufficient {
                        balance: self.balance_fen(),
                        needed: *amount_fen,
                    });
                }
                let from_granted = (*amount_fen).min(self.granted_fen);
                let from_paid = amount_fen - from_granted;
                Ok(vec![WalletEvent::Debited {
                    company_id: company_id.clone(),
                    entry_id: entry_id.clone(),
                    order_id: order_id.clone(),
                    amount: *amount_fen,
                    from_granted,
                    from_paid,
                    paid_after: self.paid_fen - from_paid,
                    granted_after: self.granted_fen - from_granted,
                    debited_at: *now,
                }])
            }
        }
    }

    fn evolve(mut self, event: &WalletEvent) -> Self {
        match event {
            WalletEvent::Credited {
                reference,
                paid_after,
                granted_after,
                ..
            } => {
                self.references.insert(reference.clone());
                self.paid_fen = *paid_after;
                self.granted_fen = *granted_after;
            }
            WalletEvent::Debited {
                order_id,
                paid_after,
                granted_after,
                ..
            } => {
                self.orders.insert(order_id.clone());
                self.paid_fen = *paid_after;
                self.granted_fen = *granted_after;
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;
    use chrono::TimeZone;

    fn oid(n: u8) -> ObjectId {
        ObjectId::from_parts(1, [n; 8])
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 2, 0, 0).single().unwrap()
    }

    fn credit(reference: &str, paid: i64, granted: i64) -> WalletCommand {
        WalletCommand::Credit {
            company_id: oid(0),
            entry_id: oid(1),
            reference: reference.into(),
            kind: CreditKind::Recharge,
            paid_fen: paid,
            granted_fen: granted,
            reason: None,
            now: now(),
        }
    }

    fn spend(order: u8, amount: i64) -> WalletCommand {
        WalletCommand::Spend {
            company_id: oid(0),
            entry_id: oid(2),
            order_id: oid(order),
            amount_fen: amount,
            now: now(),
        }
    }

    fn funded() -> Wallet {
        let events = Wallet::default().decide(&credit("r1", 1000, 300)).unwrap();
        Wallet::replay(&events)
    }

    #[test]
    fn granted_credit_is_spent_first() {
        let w = funded();
        let events = w.decide(&spend(7, 500)).unwrap();
        assert!(matches!(
            events.as_slice(),
            [WalletEvent::Debited {
                from_granted: 300,
                from_paid: 200,
                paid_after: 800,
                granted_after: 0,
                ..
            }]
        ));
        let w = events.iter().fold(w, |w, e| w.evolve(e));
        assert_eq!(
            (w.paid_fen(), w.granted_fen(), w.balance_fen()),
            (800, 0, 800)
        );
        assert!(w.has_paid(&oid(7)));
        // The same order again: nothing.
        assert_eq!(w.decide(&spend(7, 500)).unwrap(), Vec::new());
    }

    #[test]
    fn the_wallet_never_goes_negative() {
        let w = funded();
        assert_eq!(
            w.decide(&spend(7, 1301)).unwrap_err(),
            WalletError::Insufficient {
                balance: 1300,
                needed: 1301
            }
        );
        assert!(w.decide(&spend(7, 1300)).is_ok());
        given::<Wallet>([])
            .when(spend(7, 1))
            .then_err(WalletError::Insufficient {
                balance: 0,
                needed: 1,
            });
    }

    #[test]
    fn credits_are_idempotent_by_reference_and_positive() {
        let w = funded();
        assert_eq!(w.decide(&credit("r1", 1000, 300)).unwrap(), Vec::new());
        assert!(matches!(
            w.decide(&credit("r1", -1, 0)),
            Err(WalletError::InvalidAmount(_))
        ));
        assert!(matches!(
            w.decide(&credit("r2", 0, 0)),
            Err(WalletError::InvalidAmount(_))
        ));
        assert_eq!(w.decide(&credit("r2", 5, 0)).unwrap().len(), 1);
    }
}
