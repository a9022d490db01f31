//! Courtesy's integer ids (seed 001 shows `"user_id": 1`): one counter per kind in
//! `courtesySequence-{kind}`. A number is taken by [`SequenceCommand::Take`] in the same atomic
//! commit as the event that creates the thing it numbers, so numbers are dense, never reused, and
//! identical after a rebuild (the reasoning of docs/decisions/0018-shop-integer-ids.md, applied
//! to this context's own counter).

use crate::{Decider, DomainEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a counter numbers; [`SequenceKind::as_str`] is the stream id (`courtesySequence-user`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SequenceKind {
    /// `user_id` of a Courtesy account.
    User,
}

impl SequenceKind {
    /// The stream id suffix and stored name: `user`.
    pub fn as_str(self) -> &'static str {
        match self {
            SequenceKind::User => "user",
        }
    }
}

/// One counter: the last number taken (0 before the first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CourtesySequence {
    last: u64,
}

impl CourtesySequence {
    /// The number the next [`SequenceCommand::Take`] must propose (numbers start at 1).
    pub fn next(&self) -> u64 {
        self.last + 1
    }
}

/// Commands for [`CourtesySequence`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceCommand {
    /// Take `number`, which must be [`CourtesySequence::next`].
    Take {
        /// What is numbered.
        kind: SequenceKind,
        /// The proposed number.
        number: u64,
        /// The stream of the thing numbered (`courtesyAccount-{uuid}`).
        assigned_to: String,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`CourtesySequence`] (docs/event-catalog.md, "Courtesy").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum SequenceEvent {
    /// A number was taken.
    #[serde(rename = "CourtesyNumberTaken")]
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
    /// Another writer took numbers since the caller read the counter.
    #[error("number {proposed} is taken; the next free one is {next}")]
    Taken {
        /// The number proposed.
        proposed: u64,
        /// [`CourtesySequence::next`] now.
        next: u64,
    },
}

impl Decider for CourtesySequence {
    const CATEGORY: &'static str = "courtesySequence";
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

    #[test]
    fn numbers_are_dense_and_a_stale_proposal_is_refused() {
        let take = |number| SequenceCommand::Take {
            kind: SequenceKind::User,
            number,
            assigned_to: "courtesyAccount-x".into(),
            now: DateTime::UNIX_EPOCH,
        };
        let s = CourtesySequence::replay(&CourtesySequence::default().decide(&take(1)).unwrap());
        assert_eq!(s.next(), 2);
        assert_eq!(
            s.decide(&take(1)),
            Err(SequenceError::Taken {
                proposed: 1,
                next: 2
            })
        );
    }
}
