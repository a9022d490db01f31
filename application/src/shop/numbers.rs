//! The shop's integer ids (docs/decisions/0018-shop-integer-ids.md): a use case that creates a
//! numbered thing calls [`next_number`] with a closure that, given the proposed number, builds one
//! atomic command over `shopSequence-{kind}`, the new thing's stream (named after the number) and
//! whatever else it changes, and calls [`take`] inside its decision. If another writer took the
//! number between the read and the commit, [`take`] refuses with [`ShopError::NumberTaken`] and
//! the closure runs again with the next free number. Orders, cards and transactions use it the
//! same way.

use super::ShopError;
use crate::command::{CommandRunner, Decisions, EngineError, Handle};
use chrono::{DateTime, Utc};
use tessera_domain::shop::sequence::{SequenceCommand, SequenceError, SequenceKind, ShopSequence};

/// How many times a number is proposed before giving up with [`EngineError::Contended`]: each
/// lost proposal means another writer committed, so this bounds waiting, not correctness.
pub const MAX_PROPOSALS: u32 = 200;

/// The stream of `kind`'s counter: `shopSequence-{kind}`.
pub fn sequence_stream(kind: SequenceKind) -> Result<crate::StreamId, EngineError> {
    CommandRunner::stream::<ShopSequence>(kind.as_str())
}

/// Run `attempt` with the next free number of `kind` until it does not answer
/// [`ShopError::NumberTaken`].
///
/// Errors: whatever `attempt` returns; [`EngineError::Contended`] after [`MAX_PROPOSALS`].
pub async fn next_number<T, F, Fut>(
    runner: &CommandRunner,
    kind: SequenceKind,
    mut attempt: F,
) -> Result<T, ShopError>
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = Result<T, ShopError>>,
{
    let stream = sequence_stream(kind)?;
    for _ in 0..MAX_PROPOSALS {
        let (sequence, _) = runner.load::<ShopSequence>(&stream).await?;
        match attempt(sequence.next()).await {
            Err(ShopError::NumberTaken) => continue,
            other => return other,
        }
    }
    Err(EngineError::Contended {
        stream,
        attempts: MAX_PROPOSALS,
    }
    .into())
}

/// Inside an atomic decision: take `number` of `kind` for the thing in `assigned_to`.
///
/// Errors: [`ShopError::NumberTaken`] when it is no longer the next number.
pub fn take(
    d: &mut Decisions,
    sequence: Handle<ShopSequence>,
    kind: SequenceKind,
    number: u64,
    assigned_to: &crate::StreamId,
    now: DateTime<Utc>,
) -> Result<(), ShopError> {
    d.decide(
        sequence,
        &SequenceCommand::Take {
            kind,
            number,
            assigned_to: assigned_to.as_str().to_owned(),
            now,
        },
    )
    .map_err(|e| e.map_rejected(|SequenceError::Taken { .. }| ShopError::NumberTaken))?;
    Ok(())
}
