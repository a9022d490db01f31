//! Membership cards and member transactions (seed 002 "会员卡 API"; docs/shop.md, "Membership
//! cards"; docs/decisions/0022-membership-card-balance.md).
//!
//! - Issuing is one atomic commit over `shopSequence-card` (the new `card_id`), the new card's
//!   stream `shopMembershipCard-{cardId}`, the holder guard `shopCardHolder-{userId}` (one open
//!   card per user) and the shop user's stream (read: the user must have joined the shop).
//! - Every transaction is one atomic commit over `shopSequence-transaction` (its
//!   `transaction_id`, read from the counter as loaded in the same commit) and the card's stream.
//!   The card decides against its balance at the version loaded, so concurrent spends cannot
//!   overdraw it.
//! - The order part pays an order from the card with [`CardHandles::register`] and
//!   [`pay_from_card`] inside its own atomic commit, so the debit and the order becoming paid are
//!   written together or not at all; [`ShopService::open_card_of`] finds the user's card.

use super::numbers::{next_number, sequence_stream, take};
use super::{Missing, ShopError, ShopService};
use crate::StreamId;
use crate::command::{AtomicCommand, CommandRunner, Decisions, Handle};
use crate::event_store::EventMetadata;
use chrono::{DateTime, Utc};
use tessera_domain::UserId;
use tessera_domain::shared::{FieldError, Money};
use tessera_domain::shop::card::{
    CardCommand, CardHolder, HolderCommand, HolderError, MembershipCard, TransactionInput,
    TransactionKind,
};
use tessera_domain::shop::customer::ShopCustomer;
use tessera_domain::shop::sequence::{SequenceKind, ShopSequence};

/// The reason recorded for a balance `PUT` that names none.
pub const DEFAULT_ADJUSTMENT_REASON: &str = "管理员修改余额";

/// What `PUT /api/membership/cards/:id` changes: each field only when given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardChange {
    /// The balance wanted: recorded as an adjustment of the difference, never overwritten.
    pub balance: Option<Money>,
    /// Why the balance changes (default [`DEFAULT_ADJUSTMENT_REASON`]).
    pub reason: Option<String>,
    /// 0 freezes, 1 unfreezes.
    pub status: Option<u8>,
}

/// A transaction `POST /api/membership/transactions` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardTransaction {
    /// The card.
    pub card_id: u64,
    /// What it does (the seed's `type`).
    pub kind: TransactionKind,
    /// How much, more than 0.00.
    pub amount: Money,
    /// What it was for (required for adjustments).
    pub description: Option<String>,
}

/// The stream of card `card_id`: `shopMembershipCard-{cardId}`.
pub fn card_stream(card_id: u64) -> Result<StreamId, ShopError> {
    Ok(CommandRunner::stream::<MembershipCard>(card_id)?)
}

/// The holder guard of shop user `user_id`: `shopCardHolder-{userId}`.
pub fn holder_stream(user_id: u64) -> Result<StreamId, ShopError> {
    Ok(CommandRunner::stream::<CardHolder>(user_id)?)
}

fn card_error(e: tessera_domain::shop::card::CardError) -> ShopError {
    use tessera_domain::shop::card::CardError;
    match e {
        CardError::Field(f) => ShopError::Field(f),
        CardError::NotFound => ShopError::NotFound(Missing::Card),
        // Numbers come from the sequence in the same commit: a reused one is a lost race.
        CardError::AlreadyIssued => ShopError::NumberTaken,
        CardError::Frozen => ShopError::CardFrozen,
        CardError::InsufficientBalance { balance, amount } => {
            ShopError::InsufficientBalance { balance, amount }
        }
        CardError::BalanceNotZero(balance) => ShopError::BalanceNotZero(balance),
    }
}

/// The streams a card transaction takes part in, named in an [`AtomicCommand`].
#[derive(Debug, Clone)]
pub struct CardHandles {
    /// `shopSequence-transaction`.
    pub sequence: Handle<ShopSequence>,
    /// The card.
    pub card: Handle<MembershipCard>,
    /// The card's stream (what the transaction number is assigned to).
    pub card_stream: StreamId,
}

impl CardHandles {
    /// Name card `card_id` and the transaction counter in `atomic`.
    ///
    /// Errors: only for an id that makes no stream name (a bug).
    pub fn register(atomic: &mut AtomicCommand, card_id: u64) -> Result<Self, ShopError> {
        let card_stream = card_stream(card_id)?;
        Ok(Self {
            sequence: atomic.stream::<ShopSequence>(&sequence_stream(SequenceKind::Transaction)?),
            card: atomic.stream::<MembershipCard>(&card_stream),
            card_stream,
        })
    }
}

/// Inside an atomic decision: decide `make(transaction_id)` on the card with the next
/// `transaction_id`, and take that number when the card records something. Returns the number
/// taken, or `None` when the card recorded nothing (a balance `PUT` equal to the balance).
///
/// Errors: the card's refusal as a [`ShopError`]; engine failures.
pub fn card_transaction(
    d: &mut Decisions,
    h: &CardHandles,
    now: DateTime<Utc>,
    make: impl FnOnce(u64) -> CardCommand,
) -> Result<Option<u64>, ShopError> {
    let number = d.state(h.sequence)?.next();
    let events = d
        .decide(h.card, &make(number))
        .map_err(|e| e.map_rejected(card_error))?;
    if events.is_empty() {
        return Ok(None);
    }
    take(
        d,
        h.sequence,
        SequenceKind::Transaction,
        number,
        &h.card_stream,
        now,
    )?;
    Ok(Some(number))
}

/// Inside the order part's atomic decision: pay `amount` for `order_id` from the card named by
/// `h` (a spend naming the order). Returns the `transaction_id`.
///
/// Errors: [`ShopError::NotFound`] (`Missing::Card`: no open card), [`ShopError::CardFrozen`],
/// [`ShopError::InsufficientBalance`], [`ShopError::Field`] (`amount` not more than 0.00);
/// nothing is written then.
pub fn pay_from_card(
    d: &mut Decisions,
    h: &CardHandles,
    amount: Money,
    order_id: &str,
    description: Option<String>,
    by: UserId,
    now: DateTime<Utc>,
) -> Result<u64, ShopError> {
    card_transaction(d, h, now, |transaction_id| CardCommand::Spend {
        transaction_id,
        amount,
        order_id: order_id.to_owned(),
        description,
        by,
        now,
    })?
    .ok_or(ShopError::NotFound(Missing::Card))
}

impl ShopService {
    /// Issue a card to shop user `user_id` (identity `account_id`) as admin `by`; returns its
    /// `card_id` and the position reached.
    ///
    /// Errors: [`ShopError::Field`] on `user_id` when the user never joined the shop,
    /// [`ShopError::AlreadyHoldsCard`] while they hold an open card, engine failures.
    pub async fn issue_card(
        &self,
        by: UserId,
        user_id: u64,
        account_id: UserId,
        meta: &EventMetadata,
    ) -> Result<(u64, Option<u64>), ShopError> {
        let meta = super::catalog::with_actor(meta, by);
        let sequence_stream = sequence_stream(SequenceKind::Card)?;
        let holder_stream = holder_stream(user_id)?;
        let customer_stream = CommandRunner::stream::<ShopCustomer>(account_id)?;
        next_number(&self.runner, SequenceKind::Card, |number| {
            let now = self.now();
            let mut atomic = self.runner.atomic(&meta);
            let sequence = atomic.stream::<ShopSequence>(&sequence_stream);
            let holder = atomic.stream::<CardHolder>(&holder_stream);
            let customer = atomic.stream::<ShopCustomer>(&customer_stream);
            let stream = card_stream(number);
            async move {
                let stream = stream?;
                let card = atomic.stream::<MembershipCard>(&stream);
                let committed = atomic
                    .run(|d| {
                        if d.state(customer)?.user_id() != Some(user_id) {
                            return Err(ShopError::Field(FieldError::new(
                                "user_id",
                                format!("user {user_id} does not exist"),
                            )));
                        }
                        d.decide(
                            holder,
                            &HolderCommand::Hold {
                                user_id,
                                card_id: number,
                                now,
                            },
                        )
                        .map_err(|e| {
                            e.map_rejected(|HolderError::AlreadyHolds(c)| {
                                ShopError::AlreadyHoldsCard(c)
                            })
                        })?;
                        take(d, sequence, SequenceKind::Card, number, &stream, now)?;
                        d.decide(
                            card,
                            &CardCommand::Issue {
                                card_id: number,
                                user_id,
                                by,
                                now,
                            },
                        )
                        .map_err(|e| e.map_rejected(card_error))?;
                        Ok::<_, ShopError>(())
                    })
                    .await?;
                Ok((number, committed.position()))
            }
        })
        .await
    }

    /// Record `t` on its card as admin `by`; returns the `transaction_id` and the position reached.
    ///
    /// Errors: [`ShopError::NotFound`] (`Missing::Card`), [`ShopError::Field`] (`amount`,
    /// `description`), [`ShopError::CardFrozen`] (top-up or spend on a frozen card),
    /// [`ShopError::InsufficientBalance`], engine failures.
    pub async fn record_card_transaction(
        &self,
        by: UserId,
        t: CardTransaction,
        meta: &EventMetadata,
    ) -> Result<(u64, Option<u64>), ShopError> {
        let now = self.now();
        let mut atomic = self.runner.atomic(&super::catalog::with_actor(meta, by));
        let h = CardHandles::register(&mut atomic, t.card_id)?;
        let committed = atomic
            .run(|d| {
                card_transaction(d, &h, now, |transaction_id| {
                    CardCommand::Transact(TransactionInput {
                        kind: t.kind,
                        transaction_id,
                        amount: t.amount,
                        description: t.description.clone(),
                        order_id: None,
                        by,
                        now,
                    })
                })?
                .ok_or(ShopError::NotFound(Missing::Card))
            })
            .await?;
        Ok((committed.value, committed.position()))
    }

    /// Apply `change` to card `card_id` as admin `by` in one atomic commit: the balance as an
    /// adjustment transaction of the difference (with the reason), then the status. Returns the
    /// position reached (`None`: nothing changed).
    ///
    /// Errors: [`ShopError::NotFound`] (`Missing::Card`), [`ShopError::Field`] (`balance`,
    /// `reason`, `status`), engine failures.
    pub async fn update_card(
        &self,
        by: UserId,
        card_id: u64,
        change: CardChange,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, ShopError> {
        let now = self.now();
        let mut atomic = self.runner.atomic(&super::catalog::with_actor(meta, by));
        let h = CardHandles::register(&mut atomic, card_id)?;
        let reason = change
            .reason
            .clone()
            .unwrap_or_else(|| DEFAULT_ADJUSTMENT_REASON.to_owned());
        let committed = atomic
            .run(|d| {
                if !d.state(h.card)?.is_open() {
                    return Err(ShopError::NotFound(Missing::Card));
                }
                if let Some(target) = change.balance {
                    card_transaction(d, &h, now, |transaction_id| CardCommand::SetBalance {
                        target,
                        transaction_id,
                        reason: reason.clone(),
                        by,
                        now,
                    })?;
                }
                let status = match change.status {
                    None => None,
                    Some(0) => Some(CardCommand::Freeze { by, now }),
                    Some(1) => Some(CardCommand::Unfreeze { by, now }),
                    Some(_) => {
                        return Err(FieldError::new("status", "must be 0 or 1").into());
                    }
                };
                if let Some(command) = status {
                    d.decide(h.card, &command)
                        .map_err(|e| e.map_rejected(card_error))?;
                }
                Ok(())
            })
            .await?;
        Ok(committed.position())
    }

    /// Close card `card_id` as admin `by` (only with a balance of 0.00) and release its holder,
    /// so the user may get a new card. Returns the position reached.
    ///
    /// Errors: [`ShopError::NotFound`] (`Missing::Card`, also when already closed),
    /// [`ShopError::BalanceNotZero`], engine failures.
    pub async fn close_card(
        &self,
        by: UserId,
        card_id: u64,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, ShopError> {
        let stream = card_stream(card_id)?;
        let (card, _) = self.runner.load::<MembershipCard>(&stream).await?;
        if !card.is_open() {
            return Err(ShopError::NotFound(Missing::Card));
        }
        let user_id = card.user_id();
        let now = self.now();
        let mut atomic = self.runner.atomic(&super::catalog::with_actor(meta, by));
        let card = atomic.stream::<MembershipCard>(&stream);
        let holder = atomic.stream::<CardHolder>(&holder_stream(user_id)?);
        let committed = atomic
            .run(|d| {
                d.decide(card, &CardCommand::Close { by, now })
                    .map_err(|e| e.map_rejected(card_error))?;
                d.decide(
                    holder,
                    &HolderCommand::Release {
                        user_id,
                        card_id,
                        now,
                    },
                )
                .map_err(|e| {
                    e.map_rejected(|HolderError::AlreadyHolds(c)| ShopError::AlreadyHoldsCard(c))
                })?;
                Ok::<_, ShopError>(())
            })
            .await?;
        Ok(committed.position())
    }

    /// The open card of shop user `user_id`, from the event store (`shopCardHolder-{userId}`),
    /// for the order part to pay from; `None` when they hold none.
    ///
    /// Errors: engine failures.
    pub async fn open_card_of(&self, user_id: u64) -> Result<Option<u64>, ShopError> {
        let (holder, _) = self
            .runner
            .load::<CardHolder>(&holder_stream(user_id)?)
            .await?;
        Ok(holder.card_id())
    }
}
