//! Every seat of one event session (seed 003 §5), in one stream
//! `openticketSeatSession-{sessionId}`: a seat is Available (absent from the map), Locked by one
//! user until a time, Held for an order, or Sold. Deciding every lock, hold, sale and release
//! against this one history with an expected version is what keeps a seat from being locked or sold
//! twice. A lock whose time has passed counts as Available in every decision, before its expiry
//! deadline fires (DESIGN.md §2).

use super::{EventId, LockId, OrderId, SeatId, SessionId, VenueId};
use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// What holds a seat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// Locked by a user until `expires_at` (exclusive).
    Locked {
        /// The lock request that took the seat; its expiry deadline frees what is still under it.
        lock_id: LockId,
        /// The user holding the lock; only they can release it or order the seat.
        user_id: UserId,
        /// When the lock lapses (UTC); from then the seat counts as Available.
        expires_at: DateTime<Utc>,
    },
    /// Held for an unpaid order.
    HeldForOrder {
        /// The unpaid order the seat is held for.
        order_id: OrderId,
        /// The order's buyer, who had the seats locked.
        user_id: UserId,
    },
    /// Sold to a paid order; final.
    Sold {
        /// The paid order that bought the seat.
        order_id: OrderId,
        /// The order's buyer, who holds its ticket.
        user_id: UserId,
    },
}

/// A seat's status as clients see it (§5.1): held-for-order seats show as Locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SeatStatus {
    /// Free to lock: no hold on it, or only a lapsed lock.
    Available,
    /// Locked or held for an order.
    Locked,
    /// Sold to a paid order.
    Sold,
}

/// Why one seat cannot be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnavailableReason {
    /// Another user holds a live lock on it.
    LockedByAnotherUser,
    /// The caller already holds a live lock on it.
    AlreadyLockedByYou,
    /// It is held for an unpaid order.
    HeldForOrder,
    /// It is sold.
    Sold,
    /// Not locked at all (ordering needs a lock).
    NotLocked,
    /// The caller's lock has expired.
    LockExpired,
}

impl UnavailableReason {
    /// The reason in words (§5.2 `reason`).
    pub fn message(self) -> &'static str {
        match self {
            UnavailableReason::LockedByAnotherUser => "Already locked by another user",
            UnavailableReason::AlreadyLockedByYou => "Already locked by you",
            UnavailableReason::HeldForOrder => "Reserved for an order",
            UnavailableReason::Sold => "Already sold",
            UnavailableReason::NotLocked => "Not locked by you",
            UnavailableReason::LockExpired => "Your lock has expired",
        }
    }
}

/// One seat that could not be taken, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnavailableSeat {
    /// The seat refused, as the request named it.
    pub seat_id: SeatId,
    /// Why it was refused; [`UnavailableReason::message`] words it for clients.
    pub reason: UnavailableReason,
}

/// Why seats were released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReleaseReason {
    /// The holder released them (§5.3).
    UserReleased,
    /// The lock's time passed.
    LockExpired,
    /// The order was cancelled.
    OrderCancelled,
    /// The order expired unpaid.
    OrderExpired,
}

/// Commands of a seat session.
#[derive(Debug, Clone)]
pub enum SeatSessionCommand {
    /// Open the session for its event (first event of the stream).
    Open {
        /// The session's id, also in the stream id `openticketSeatSession-{sessionId}`.
        session_id: SessionId,
        /// The event the session belongs to.
        event_id: EventId,
        /// The venue whose seat map the seats come from.
        venue_id: VenueId,
        /// Sales open (UTC).
        sale_start_time: DateTime<Utc>,
        /// Sales close (UTC).
        sale_end_time: DateTime<Utc>,
        /// Current time (UTC), recorded as `openedAt`.
        now: DateTime<Utc>,
    },
    /// Lock all of `seat_ids` for `user_id`, or none (§5.2). Seat existence is checked against the
    /// venue by the caller.
    Lock {
        /// New lock id.
        lock_id: LockId,
        /// The signed-in user locking the seats.
        user_id: UserId,
        /// Seats, no duplicates, 1..=max_seats.
        seat_ids: Vec<SeatId>,
        /// Most seats in one request.
        max_seats: usize,
        /// Current time (UTC); locks are refused outside the sale window.
        now: DateTime<Utc>,
        /// When the lock lapses (UTC): now + `TESSERA_SEAT_LOCK_TTL_SECS` (120 s by default).
        expires_at: DateTime<Utc>,
        /// Those of `seat_ids` in areas no price category of the event covers (the caller reads
        /// the event): they are not for sale, so the lock is refused.
        not_for_sale: Vec<SeatId>,
    },
    /// Release the caller's live locks among `seat_ids` (§5.3); others are ignored.
    Release {
        /// The user releasing; only their own live locks are released.
        user_id: UserId,
        /// Seats to release; those not under the caller's live lock are ignored.
        seat_ids: Vec<SeatId>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// The lock-expiry deadline: free the seats still under `lock_id` whose time has passed.
    ExpireLock {
        /// The lock whose deadline fired.
        lock_id: LockId,
        /// Current time (UTC); seats whose lock has not lapsed yet stay locked.
        now: DateTime<Utc>,
    },
    /// Hold `seat_ids` for an order: each must be under the caller's live lock.
    HoldForOrder {
        /// The new order the seats are held for.
        order_id: OrderId,
        /// Its buyer.
        user_id: UserId,
        /// Seats to hold, each under the buyer's live lock, no repeats.
        seat_ids: Vec<SeatId>,
        /// Current time (UTC).
        now: DateTime<Utc>,
        /// The order's expiry.
        until: DateTime<Utc>,
    },
    /// Sell the seats held for a paid order.
    Sell {
        /// The paid order whose held seats are sold.
        order_id: OrderId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Free the seats held for a cancelled or expired order.
    ReleaseOrder {
        /// The cancelled or expired order whose held seats go back on sale.
        order_id: OrderId,
        /// `OrderCancelled` or `OrderExpired`.
        reason: ReleaseReason,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of `openticketSeatSession-{sessionId}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum SeatSessionEvent {
    /// The session accepts locks within its sale window.
    #[serde(rename = "OpenTicketSessionOpened")]
    SessionOpened {
        /// The session's id, also in the stream id.
        session_id: SessionId,
        /// The event the session belongs to.
        event_id: EventId,
        /// The venue whose seat map the seats come from.
        venue_id: VenueId,
        /// Sales open (UTC).
        sale_start_time: DateTime<Utc>,
        /// Sales close (UTC).
        sale_end_time: DateTime<Utc>,
        /// When it was opened (UTC), right after the event was created.
        opened_at: DateTime<Utc>,
    },
    /// Seats locked for a user until `expiresAt`.
    #[serde(rename = "OpenTicketSeatsLocked")]
    SeatsLocked {
        /// The lock request; its expiry deadline frees what is still under it.
        lock_id: LockId,
        /// The user holding the lock.
        user_id: UserId,
        /// The seats locked, as requested, at most `TESSERA_MAX_SEATS_PER_LOCK`.
        seat_ids: Vec<SeatId>,
        /// When they were locked (UTC).
        locked_at: DateTime<Utc>,
        /// When the lock lapses (UTC); from then the seats count as Available.
        expires_at: DateTime<Utc>,
    },
    /// Seats became available again.
    #[serde(rename = "OpenTicketSeatsReleased")]
    SeatsReleased {
        /// The seats now Available again (those of the lock or the order).
        seat_ids: Vec<SeatId>,
        /// Who held them: the lock's user or the order's buyer.
        user_id: UserId,
        /// The lock released, if a lock.
        lock_id: Option<LockId>,
        /// The order released, if an order.
        order_id: Option<OrderId>,
        /// Why they were freed.
        reason: ReleaseReason,
        /// When they were freed (UTC).
        released_at: DateTime<Utc>,
    },
    /// Seats held for an unpaid order.
    #[serde(rename = "OpenTicketSeatsHeldForOrder")]
    SeatsHeldForOrder {
        /// The unpaid order the seats are held for.
        order_id: OrderId,
        /// The buyer, who had the seats locked.
        user_id: UserId,
        /// The seats held, each taken from the buyer's live lock.
        seat_ids: Vec<SeatId>,
        /// When they were held (UTC).
        held_at: DateTime<Utc>,
        /// The order's unpaid expiry (UTC); the seats stay held until it is paid or released.
        held_until: DateTime<Utc>,
    },
    /// Seats sold to a paid order.
    #[serde(rename = "OpenTicketSeatsSold")]
    SeatsSold {
        /// The paid order the seats are sold to.
        order_id: OrderId,
        /// The order's buyer, who had the seats locked.
        user_id: UserId,
        /// The seats sold: all those held for the order.
        seat_ids: Vec<SeatId>,
        /// When they were sold (UTC).
        sold_at: DateTime<Utc>,
    },
}

impl DomainEvent for SeatSessionEvent {}

/// Why a seat-session command was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SeatSessionError {
    /// The session was never opened.
    #[error("the session does not exist")]
    NotOpened,
    /// Opened already.
    #[error("the session is already open")]
    AlreadyOpened,
    /// Outside the sale window.
    #[error("the session is not on sale (sales run from {sale_start_time} to {sale_end_time})")]
    SaleNotOpen {
        /// Sales open.
        sale_start_time: DateTime<Utc>,
        /// Sales close.
        sale_end_time: DateTime<Utc>,
    },
    /// No seats asked for.
    #[error("no seats")]
    NoSeats,
    /// Too many seats in one request.
    #[error("at most {max} seats per request")]
    TooManySeats {
        /// The most seats one request may name (`TESSERA_MAX_SEATS_PER_LOCK`).
        max: usize,
    },
    /// A seat is listed twice (index in the request).
    #[error("seat {seat_id} is listed twice")]
    DuplicateSeat {
        /// Index of the repeat.
        index: usize,
        /// The seat listed twice.
        seat_id: SeatId,
    },
    /// Some seats cannot be locked (nothing was locked).
    #[error("some seats are unavailable")]
    Unavailable(Vec<UnavailableSeat>),
    /// Some seats are not under the caller's live lock (nothing was held).
    #[error("some seats are not locked by the caller")]
    NotLockedByCaller(Vec<UnavailableSeat>),
    /// The order holds and bought no seats here.
    #[error("the order holds no seats in this session")]
    NotHeldForOrder,
    /// A seat lies in an area no price category of the event covers: it is not for sale and
    /// cannot be locked (nothing was locked). `index` is its place in the request.
    #[error("seat {seat_id} is not for sale in this event")]
    NotForSale {
        /// Index of the seat in the request.
        index: usize,
        /// The seat.
        seat_id: SeatId,
    },
}

/// What [`SeatSessionEvent::SessionOpened`] established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenedSession {
    /// The session's id, also in the stream id.
    pub session_id: SessionId,
    /// The event the session belongs to.
    pub event_id: EventId,
    /// The venue whose seat map the seats come from.
    pub venue_id: VenueId,
    /// Sales open (UTC).
    pub sale_start_time: DateTime<Utc>,
    /// Sales close (UTC).
    pub sale_end_time: DateTime<Utc>,
}

/// Every seat of one session (stream `openticketSeatSession-{sessionId}`); the default is unopened.
///
/// Representation (docs/decisions/0032-hot-stream-batching.md): only seats that are held are
/// stored — an Available seat is absent — so a fresh 15,000-seat session is two empty maps and a
/// sold-out one about 15,000 entries of `SeatId` + [`Hold`] (~100 bytes each). `seats` answers
/// "who holds this seat" in O(1) for locks, holds and releases; the private index answers "which
/// seats does this lock / order hold" in O(its seats) for lock expiry, sale and order release,
/// which used to scan every held seat. The command runner keeps one copy per hot session and folds
/// events into it in place, so neither map is copied per command.
#[derive(Debug, Clone, Default)]
pub struct SeatSession {
    /// Set once opened.
    pub opened: Option<OpenedSession>,
    /// Seats that are not Available (or whose lock may have expired).
    pub seats: HashMap<SeatId, Hold>,
    /// The seats under each lock and each order (kept by `evolve` with `seats`).
    holders: HashMap<Holder, HashSet<SeatId>>,
}

/// What a [`Hold`] belongs to, for [`SeatSession`]'s index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Holder {
    Lock(LockId),
    Order(OrderId),
}

impl Hold {
    fn holder(&self) -> Holder {
        match self {
            Hold::Locked { lock_id, .. } => Holder::Lock(*lock_id),
            Hold::HeldForOrder { order_id, .. } | Hold::Sold { order_id, .. } => {
                Holder::Order(*order_id)
            }
        }
    }
}

impl SeatSession {
    /// A seat's status at `now`.
    pub fn seat_status(&self, seat: &SeatId, now: DateTime<Utc>) -> SeatStatus {
        match self.seats.get(seat) {
            Some(Hold::Locked { expires_at, .. }) if *expires_at > now => SeatStatus::Locked,
            Some(Hold::HeldForOrder { .. }) => SeatStatus::Locked,
            Some(Hold::Sold { .. }) => SeatStatus::Sold,
            _ => SeatStatus::Available,
        }
    }

    /// The event this session belongs to.
    pub fn event_id(&self) -> Option<EventId> {
        self.opened.map(|o| o.event_id)
    }

    /// The venue whose seat map the seats come from, once opened.
    pub fn venue_id(&self) -> Option<VenueId> {
        self.opened.map(|o| o.venue_id)
    }

    fn check_list(seat_ids: &[SeatId], max: usize) -> Result<(), SeatSessionError> {
        if seat_ids.is_empty() {
            return Err(SeatSessionError::NoSeats);
        }
        if seat_ids.len() > max {
            return Err(SeatSessionError::TooManySeats { max });
        }
        let mut seen = HashSet::new();
        for (index, s) in seat_ids.iter().enumerate() {
            if !seen.insert(s) {
                return Err(SeatSessionError::DuplicateSeat {
                    index,
                    seat_id: s.clone(),
                });
            }
        }
        Ok(())
    }

    /// The seats `holder` holds (empty when none), each with its hold.
    fn held_by(&self, holder: Holder) -> impl Iterator<Item = (&SeatId, &Hold)> {
        self.holders
            .get(&holder)
            .into_iter()
            .flatten()
            .filter_map(|s| self.seats.get_key_value(s))
    }

    /// Set (or with `None`, clear) a seat's hold, keeping the index.
    fn set_hold(&mut self, seat: &SeatId, hold: Option<Hold>) {
        let before = match &hold {
            Some(h) => self.seats.insert(seat.clone(), h.clone()),
            None => self.seats.remove(seat),
        };
        let (old, new) = (before.map(|h| h.holder()), hold.map(|h| h.holder()));
        if old == new {
            return;
        }
        if let Some(old) = old
            && let Some(set) = self.holders.get_mut(&old)
        {
            set.remove(seat);
            if set.is_empty() {
                self.holders.remove(&old);
            }
        }
        if let Some(new) = new {
            self.holders.entry(new).or_default().insert(seat.clone());
        }
    }

    fn seats_of_order(&self, order: OrderId, sold: bool) -> Vec<SeatId> {
        let mut v: Vec<SeatId> = self
            .held_by(Holder::Order(order))
            .filter(|(_, h)| match h {
                Hold::HeldForOrder { order_id, .. } => !sold && *order_id == order,
                Hold::Sold { order_id, .. } => sold && *order_id == order,
                Hold::Locked { .. } => false,
            })
            .map(|(s, _)| s.clone())
            .collect();
        v.sort();
        v
    }

    fn buyer_of(&self, order: OrderId) -> Option<UserId> {
        self.held_by(Holder::Order(order))
            .find_map(|(_, h)| match h {
                Hold::HeldForOrder { order_id, user_id } | Hold::Sold { order_id, user_id }
                    if *order_id == order =>
                {
                    Some(*user_id)
                }
                _ => None,
            })
    }
}

impl Decider for SeatSession {
    const CATEGORY: &'static str = "openticketSeatSession";
    type Command = SeatSessionCommand;
    type Event = SeatSessionEvent;
    type Error = SeatSessionError;

    fn decide(
        &self,
        command: &SeatSessionCommand,
    ) -> Result<Vec<SeatSessionEvent>, SeatSessionError> {
        use SeatSessionCommand as C;
        if let C::Open {
            session_id,
            event_id,
            venue_id,
            sale_start_time,
            sale_end_time,
            now,
        } = command
        {
            if self.opened.is_some() {
                return Err(SeatSessionError::AlreadyOpened);
            }
            return Ok(vec![SeatSessionEvent::SessionOpened {
                session_id: *session_id,
                event_id: *event_id,
                venue_id: *venue_id,
                sale_start_time: *sale_start_time,
                sale_end_time: *sale_end_time,
                opened_at: *now,
            }]);
        }
        let Some(OpenedSession {
            sale_start_time: sale_start,
            sale_end_time: sale_end,
            ..
        }) = self.opened
        else {
            return Err(SeatSessionError::NotOpened);
        };
        match command {
            C::Open { .. } => Err(SeatSessionError::AlreadyOpened),
            C::Lock {
                lock_id,
                user_id,
                seat_ids,
                max_seats,
                now,
                expires_at,
                not_for_sale,
            } => {
                if *now < sale_start || *now >= sale_end {
                    return Err(SeatSessionError::SaleNotOpen {
                        sale_start_time: sale_start,
                        sale_end_time: sale_end,
                    });
                }
                Self::check_list(seat_ids, *max_seats)?;
                if let Some((index, seat_id)) = seat_ids
                    .iter()
                    .enumerate()
                    .find(|(_, s)| not_for_sale.contains(s))
                {
                    return Err(SeatSessionError::NotForSale {
                        index,
                        seat_id: seat_id.clone(),
                    });
                }
                let unavailable: Vec<UnavailableSeat> = seat_ids
                    .iter()
                    .filter_map(|s| {
                        let reason = match self.seats.get(s)? {
                            Hold::Locked {
                                user_id: holder,
                                expires_at,
                                ..
                            } if *expires_at > *now => {
                                if holder == user_id {
                                    UnavailableReason::AlreadyLockedByYou
                                } else {
                                    UnavailableReason::LockedByAnotherUser
                                }
                            }
                            Hold::Locked { .. } => return None,
                            Hold::HeldForOrder { .. } => UnavailableReason::HeldForOrder,
                            Hold::Sold { .. } => UnavailableReason::Sold,
                        };
                        Some(UnavailableSeat {
                            seat_id: s.clone(),
                            reason,
                        })
                    })
                    .collect();
                if !unavailable.is_empty() {
                    return Err(SeatSessionError::Unavailable(unavailable));
                }
                Ok(vec![SeatSessionEvent::SeatsLocked {
                    lock_id: *lock_id,
                    user_id: *user_id,
                    seat_ids: seat_ids.clone(),
                    locked_at: *now,
                    expires_at: *expires_at,
                }])
            }
            C::Release {
                user_id,
                seat_ids,
                now,
            } => {
                // Group the caller's live locks by lock id, keeping the request's order.
                let mut released: Vec<(LockId, Vec<SeatId>)> = Vec::new();
                for s in seat_ids {
                    if let Some(Hold::Locked {
                        lock_id,
                        user_id: holder,
                        expires_at,
                    }) = self.seats.get(s)
                        && holder == user_id
                        && *expires_at > *now
                    {
                        match released.iter_mut().find(|(l, _)| l == lock_id) {
                            Some((_, v)) if !v.contains(s) => v.push(s.clone()),
                            Some(_) => {}
                            None => released.push((*lock_id, vec![s.clone()])),
                        }
                    }
                }
                Ok(released
                    .into_iter()
                    .map(|(lock_id, seat_ids)| SeatSessionEvent::SeatsReleased {
                        seat_ids,
                        user_id: *user_id,
                        lock_id: Some(lock_id),
                        order_id: None,
                        reason: ReleaseReason::UserReleased,
                        released_at: *now,
                    })
                    .collect())
            }
            C::ExpireLock { lock_id, now } => {
                let mut seats: Vec<SeatId> = Vec::new();
                let mut holder = None;
                for (s, h) in self.held_by(Holder::Lock(*lock_id)) {
                    if let Hold::Locked {
                        lock_id: l,
                        user_id,
                        expires_at,
                    } = h
                        && l == lock_id
                        && *expires_at <= *now
                    {
                        seats.push(s.clone());
                        holder = Some(*user_id);
                    }
                }
                seats.sort();
                Ok(match holder {
                    Some(user_id) => vec![SeatSessionEvent::SeatsReleased {
                        seat_ids: seats,
                        user_id,
                        lock_id: Some(*lock_id),
                        order_id: None,
                        reason: ReleaseReason::LockExpired,
                        released_at: *now,
                    }],
                    None => Vec::new(),
                })
            }
            C::HoldForOrder {
                order_id,
                user_id,
                seat_ids,
                now,
                until,
            } => {
                Self::check_list(seat_ids, usize::MAX)?;
                if seat_ids.iter().all(|s| {
                    matches!(self.seats.get(s), Some(Hold::HeldForOrder { order_id: o, .. }) if o == order_id)
                }) {
                    return Ok(Vec::new());
                }
                let refused: Vec<UnavailableSeat> = seat_ids
                    .iter()
                    .filter_map(|s| {
                        let reason = match self.seats.get(s) {
                            Some(Hold::Locked {
                                user_id: holder,
                                expires_at,
                                ..
                            }) => {
                                if holder != user_id && *expires_at > *now {
                                    UnavailableReason::LockedByAnotherUser
                                } else if *expires_at <= *now {
                                    if holder == user_id {
                                        UnavailableReason::LockExpired
                                    } else {
                                        UnavailableReason::NotLocked
                                    }
                                } else {
                                    return None;
                                }
                            }
                            None => UnavailableReason::NotLocked,
                            Some(Hold::HeldForOrder { .. }) => UnavailableReason::HeldForOrder,
                            Some(Hold::Sold { .. }) => UnavailableReason::Sold,
                        };
                        Some(UnavailableSeat {
                            seat_id: s.clone(),
                            reason,
                        })
                    })
                    .collect();
                if !refused.is_empty() {
                    return Err(SeatSessionError::NotLockedByCaller(refused));
                }
                Ok(vec![SeatSessionEvent::SeatsHeldForOrder {
                    order_id: *order_id,
                    user_id: *user_id,
                    seat_ids: seat_ids.clone(),
                    held_at: *now,
                    held_until: *until,
                }])
            }
            C::Sell { order_id, now } => {
                let held = self.seats_of_order(*order_id, false);
                if held.is_empty() {
                    return if self.seats_of_order(*order_id, true).is_empty() {
                        Err(SeatSessionError::NotHeldForOrder)
                    } else {
                        Ok(Vec::new())
                    };
                }
                let user_id = self
                    .buyer_of(*order_id)
                    .unwrap_or(UserId::from_uuid(uuid::Uuid::nil()));
                Ok(vec![SeatSessionEvent::SeatsSold {
                    order_id: *order_id,
                    user_id,
                    seat_ids: held,
                    sold_at: *now,
                }])
            }
            C::ReleaseOrder {
                order_id,
                reason,
                now,
            } => {
                let held = self.seats_of_order(*order_id, false);
                if held.is_empty() {
                    return Ok(Vec::new());
                }
                let user_id = self
                    .buyer_of(*order_id)
                    .unwrap_or(UserId::from_uuid(uuid::Uuid::nil()));
                Ok(vec![SeatSessionEvent::SeatsReleased {
                    seat_ids: held,
                    user_id,
                    lock_id: None,
                    order_id: Some(*order_id),
                    reason: *reason,
                    released_at: *now,
                }])
            }
        }
    }

    fn evolve(mut self, event: &SeatSessionEvent) -> Self {
        match event {
            SeatSessionEvent::SessionOpened {
                session_id,
                event_id,
                venue_id,
                sale_start_time,
                sale_end_time,
                ..
            } => {
                self.opened = Some(OpenedSession {
                    session_id: *session_id,
                    event_id: *event_id,
                    venue_id: *venue_id,
                    sale_start_time: *sale_start_time,
                    sale_end_time: *sale_end_time,
                });
            }
            SeatSessionEvent::SeatsLocked {
                lock_id,
                user_id,
                seat_ids,
                expires_at,
                ..
            } => {
                for s in seat_ids {
                    self.set_hold(
                        s,
                        Some(Hold::Locked {
                            lock_id: *lock_id,
                            user_id: *user_id,
                            expires_at: *expires_at,
                        }),
                    );
                }
            }
            SeatSessionEvent::SeatsReleased { seat_ids, .. } => {
                for s in seat_ids {
                    self.set_hold(s, None);
                }
            }
            SeatSessionEvent::SeatsHeldForOrder {
                order_id,
                user_id,
                seat_ids,
                ..
            } => {
                for s in seat_ids {
                    self.set_hold(
                        s,
                        Some(Hold::HeldForOrder {
                            order_id: *order_id,
                            user_id: *user_id,
                        }),
                    );
                }
            }
            SeatSessionEvent::SeatsSold {
                order_id,
                user_id,
                seat_ids,
                ..
            } => {
                for s in seat_ids {
                    self.set_hold(
                        s,
                        Some(Hold::Sold {
                            order_id: *order_id,
                            user_id: *user_id,
                        }),
                    );
                }
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;
    use chrono::Duration;

    fn id<T: From<uuid::Uuid>>(n: u128) -> T {
        T::from(uuid::Uuid::from_u128(n))
    }
    fn seat(s: &str) -> SeatId {
        SeatId::parse(s).unwrap()
    }
    fn t0() -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::days(100)
    }
    fn opened() -> SeatSessionEvent {
        SeatSessionEvent::SessionOpened {
            session_id: id(1),
            event_id: id(2),
            venue_id: id(3),
            sale_start_time: t0() - Duration::days(1),
            sale_end_time: t0() + Duration::days(1),
            opened_at: t0() - Duration::days(2),
        }
    }
    fn locked(user: u128, lock: u128, seats: &[&str], until: DateTime<Utc>) -> SeatSessionEvent {
        SeatSessionEvent::SeatsLocked {
            lock_id: id(lock),
            user_id: id(user),
            seat_ids: seats.iter().map(|s| seat(s)).collect(),
            locked_at: t0() - Duration::seconds(60),
            expires_at: until,
        }
    }
    fn lock(user: u128, seats: &[&str], now: DateTime<Utc>) -> SeatSessionCommand {
        SeatSessionCommand::Lock {
            lock_id: id(99),
            user_id: id(user),
            seat_ids: seats.iter().map(|s| seat(s)).collect(),
            max_seats: 4,
            now,
            expires_at: now + Duration::seconds(120),
            not_for_sale: Vec::new(),
        }
    }

    #[test]
    fn seats_not_for_sale_cannot_be_locked() {
        let mut command = lock(8, &["A-001", "Z-001"], t0());
        if let SeatSessionCommand::Lock { not_for_sale, .. } = &mut command {
            not_for_sale.push(seat("Z-001"));
        }
        given::<SeatSession>([opened()])
            .when(command)
            .then_err(SeatSessionError::NotForSale {
                index: 1,
                seat_id: seat("Z-001"),
            });
    }

    #[test]
    fn locking_is_all_or_none() {
        given::<SeatSession>([
            opened(),
            locked(7, 1, &["A-002"], t0() + Duration::seconds(60)),
        ])
        .when(lock(8, &["A-001", "A-002"], t0()))
        .then_err(SeatSessionError::Unavailable(vec![UnavailableSeat {
            seat_id: seat("A-002"),
            reason: UnavailableReason::LockedByAnotherUser,
        }]));
    }

    #[test]
    fn an_expired_lock_is_free_before_its_deadline_fires() {
        given::<SeatSession>([opened(), locked(7, 1, &["A-002"], t0())])
            .when(lock(8, &["A-002"], t0()))
            .then([SeatSessionEvent::SeatsLocked {
                lock_id: id(99),
                user_id: id(8),
                seat_ids: vec![seat("A-002")],
                locked_at: t0(),
                expires_at: t0() + Duration::seconds(120),
            }]);
    }

    #[test]
    fn requests_are_checked() {
        given::<SeatSession>([])
            .when(lock(8, &["A-1"], t0()))
            .then_err(SeatSessionError::NotOpened);
        given::<SeatSession>([opened()])
            .when(lock(8, &["A-1"], t0() + Duration::days(2)))
            .then_err(SeatSessionError::SaleNotOpen {
                sale_start_time: t0() - Duration::days(1),
                sale_end_time: t0() + Duration::days(1),
            });
        given::<SeatSession>([opened()])
            .when(lock(8, &["A-1", "A-2", "A-3", "A-4", "A-5"], t0()))
            .then_err(SeatSessionError::TooManySeats { max: 4 });
        given::<SeatSession>([opened()])
            .when(lock(8, &["A-1", "A-1"], t0()))
            .then_err(SeatSessionError::DuplicateSeat {
                index: 1,
                seat_id: seat("A-1"),
            });
    }

    #[test]
    fn only_the_holder_releases_and_expiry_is_idempotent() {
        let live = t0() + Duration::seconds(60);
        given::<SeatSession>([opened(), locked(7, 1, &["A-1", "A-2"], live)])
            .when(SeatSessionCommand::Release {
                user_id: id(8),
                seat_ids: vec![seat("A-1")],
                now: t0(),
            })
            .then([]);
        given::<SeatSession>([opened(), locked(7, 1, &["A-1"], live)])
            .when(SeatSessionCommand::ExpireLock {
                lock_id: id(1),
                now: t0(),
            })
            .then([]);
        given::<SeatSession>([opened(), locked(7, 1, &["A-1"], live)])
            .when(SeatSessionCommand::ExpireLock {
                lock_id: id(1),
                now: live,
            })
            .then([SeatSessionEvent::SeatsReleased {
                seat_ids: vec![seat("A-1")],
                user_id: id(7),
                lock_id: Some(id(1)),
                order_id: None,
                reason: ReleaseReason::LockExpired,
                released_at: live,
            }]);
    }

    #[test]
    fn orders_need_live_locks_and_sell_once() {
        let live = t0() + Duration::seconds(60);
        let hold = |user: u128, now| SeatSessionCommand::HoldForOrder {
            order_id: id(50),
            user_id: id(user),
            seat_ids: vec![seat("A-1")],
            now,
            until: now + Duration::minutes(10),
        };
        given::<SeatSession>([opened(), locked(7, 1, &["A-1"], live)])
            .when(hold(7, live))
            .then_err(SeatSessionError::NotLockedByCaller(vec![UnavailableSeat {
                seat_id: seat("A-1"),
                reason: UnavailableReason::LockExpired,
            }]));
        given::<SeatSession>([opened(), locked(7, 1, &["A-1"], live)])
            .when(hold(8, t0()))
            .then_err(SeatSessionError::NotLockedByCaller(vec![UnavailableSeat {
                seat_id: seat("A-1"),
                reason: UnavailableReason::LockedByAnotherUser,
            }]));
        let held = SeatSessionEvent::SeatsHeldForOrder {
            order_id: id(50),
            user_id: id(7),
            seat_ids: vec![seat("A-1")],
            held_at: t0(),
            held_until: t0() + Duration::minutes(10),
        };
        given::<SeatSession>([opened(), locked(7, 1, &["A-1"], live)])
            .when(hold(7, t0()))
            .then([held.clone()]);
        let sold = SeatSessionEvent::SeatsSold {
            order_id: id(50),
            user_id: id(7),
            seat_ids: vec![seat("A-1")],
            sold_at: t0(),
        };
        given::<SeatSession>([opened(), locked(7, 1, &["A-1"], live), held.clone()])
            .when(SeatSessionCommand::Sell {
                order_id: id(50),
                now: t0(),
            })
            .then([sold.clone()]);
        given::<SeatSession>([
            opened(),
            locked(7, 1, &["A-1"], live),
            held.clone(),
            sold.clone(),
        ])
        .when(SeatSessionCommand::Sell {
            order_id: id(50),
            now: t0(),
        })
        .then([]);
        // A sold seat is never released by its order's expiry, nor locked again.
        given::<SeatSession>([opened(), locked(7, 1, &["A-1"], live), held, sold])
            .when(lock(
                8,
                &["A-1"],
                t0() + Duration::days(1) - Duration::seconds(1),
            ))
            .then_err(SeatSessionError::Unavailable(vec![UnavailableSeat {
                seat_id: seat("A-1"),
                reason: UnavailableReason::Sold,
            }]));
    }
}
