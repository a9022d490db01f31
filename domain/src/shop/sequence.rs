//! The shop's integer ids (seed 002 shows `user_id: 1`, `product_id: 1`, …): one counter per kind
//! of thing numbered, in the stream `shopSequence-{kind}`. A number is taken by
//! [`SequenceCommand::Take`] in the same atomic commit (`CommandRunner::atomic`) as the event that
//! creates the thing it numbers, so numbers are dense, never reused, and come back identical when
//! read models are rebuilt from the log (docs/decisions/0018-shop-integer-ids.md).
//!
//! The caller reads the counter, proposes `next()` and commits; if another writer took that number
//! meanwhile, the decision is refused with [`SequenceError::Taken`] and the caller retries with a
//! fresh read. That is why the proposed number is part of the command: the stream of the numbered
//! thing (`shopProduct-7`) is named before the commit.

use crate::{Decider, DomainEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a counter numbers; its [`SequenceKind::as_str`] is the stream id (`shopSequence-product`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SequenceKind {
    /// `user_id` of a shop user.
    User,
    /// `product_id`.
    Product,
    /// `category_id`.
    Category,
    /// `card_id` of a membership card (later part of the shop).
    Card,
    /// `transaction_id` of a membership card transaction (later part of the shop).
    Transaction,
    /// `order_item_id` of an order line (later part of the shop).
    OrderItem,
}

impl SequenceKind {
    /// The stream id suffix and stored name: `user`, `product`, `category`, `card`,
    /// `transaction`, `orderItem`.
    pub fn as_str(self) -> &'static str {
        match self {
            SequenceKind::User => "user",
            SequenceKind::Product => "product",
            SequenceKind::Category => "category",
            SequenceKind::Card => "card",
            SequenceKind::Transaction => "transaction",
            SequenceKind::OrderItem => "orderItem",
        }
    }
}

/// One counter: the last number taken (0 before the first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShopSequence {
    last: u64,
}

impl ShopSequence {
    /// The last number taken; 0 when none was.
    pub fn last(&self) -> u64 {
        self.last
    }

    /// The number the next [`SequenceCommand::Take`] must propose (numbers start at 1).
    pub fn next(&self) -> u64 {
        self.last + 1
    }
}

/// Commands for [`ShopSequence`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceCommand {
    /// Take `number`, which must be [`ShopSequence::next`].
    Take {
        /// What is numbered (recorded in the event, so the log reads on its own).
        kind: SequenceKind,
        /// The proposed number.
        number: u64,
        /// The stream of the thing numbered (`shopProduct-7`, `shopUser-{uuid}`).
        assigned_to: String,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`ShopSequence`] (docs/event-catalog.md, "Shop").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum SequenceEvent {
    /// A number was taken.
    #[serde(rename = "ShopNumberTaken")]
    NumberTaken {
        /// What it numbers.
        kind: SequenceKind,
        /// The number, one above the previous one of this kind.
        number: u64,
        /// The stream of the thing it numbers.
        assigned_to: String,
        /// When (UTC).
        taken_at: DateTime<Utc>,
    },
}

impl DomainEvent for SequenceEvent {}

/// Why a number was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequenceError {
    /// Another writer took numbers since the caller read the counter; `next` is free now.
    #[error("number {proposed} is taken; the next free one is {next}")]
    Taken {
        /// The number proposed.
        proposed: u64,
        /// [`ShopSequence::next`] now.
        next: u64,
    },
}

impl Decider for ShopSequence {
    const CATEGORY: &'static str = "shopSequence";
    type Command = SequenceCommand;
    type Event = SequenceEvent;
    type Error = SequenceError;

    fn decide(&self, command: &SequenceCommand) -> Result<Vec<SequenceEvent>, SequenceError> {
        let SequenceCommand::Take {
            kind,
            number,
            assigned_to,
            now,
        } = command;
        if *number != self.next() {
            return Err(SequenceError::Taken {
                proposed: *number,
                next: self.next(),
            });
        }
        Ok(vec![SequenceEvent::NumberTaken {
            kind: *kind,
            number: *number,
            assigned_to: assigned_to.clone(),
            taken_at: *now,
        }])
    }

    fn evolve(mut self, event: &SequenceEvent) -> Self {
        let SequenceEvent::NumberTaken { number, .. } = event;
        self.last = self.last.max(*number);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(n: u64) -> SequenceCommand {
        SequenceCommand::Take {
            kind: SequenceKind::Product,
            number: n,
            assigned_to: format!("shopProduct-{n}"),
            now: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn numbers_start_at_one_and_follow_each_other() {
        let s = ShopSequence::default();
        assert_eq!(s.next(), 1);
        let events = s.decide(&take(1)).unwrap();
        let s = ShopSequence::replay(&events);
        assert_eq!(s.next(), 2);
        assert_eq!(
            s.decide(&take(1)),
            Err(SequenceError::Taken {
                proposed: 1,
                next: 2
            })
        );
        assert_eq!(
            s.decide(&take(3)),
            Err(SequenceError::Taken {
                proposed: 3,
                next: 2
            })
        );
    }
}
