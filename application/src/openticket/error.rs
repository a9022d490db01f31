//! [`OpenTicketError`]: why an OpenTicket use case failed, as typed data — which resource was
//! missing, which seat of the request is at fault, which domain rule refused, which engine or
//! payment provider failure. No client wording and no JSON field paths: `api/src/openticket` words
//! every case in seed 003's error format (§1.3).

use crate::command::EngineError;
use crate::event_store::StreamId;
use crate::payments::PaymentError;
use chrono::{DateTime, Utc};
use std::fmt;
use tessera_domain::openticket::event::EventError;
use tessera_domain::openticket::order::OrderError;
use tessera_domain::openticket::seat_session::{SeatSessionError, UnavailableSeat};
use tessera_domain::openticket::ticket::TicketError;
use tessera_domain::openticket::venue::VenueError;
use tessera_domain::openticket::{EventId, OrderId, SeatId, SessionId, TicketId, VenueId};
use tessera_domain::shared::{FieldError, MoneyError};
use uuid::Uuid;

/// A resource that does not exist (or, for an order, is another user's), by kind and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `venue-{id}` has no events.
    Venue(VenueId),
    /// `event-{id}` has no events.
    Event(EventId),
    /// `seatSession-{id}` was never opened.
    Session(SessionId),
    /// `order-{id}` was never placed, or the caller may not see it.
    Order(OrderId),
    /// `ticket-{id}` was never issued.
    Ticket(TicketId),
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Venue(id) => write!(f, "venue {id}"),
            Resource::Event(id) => write!(f, "event {id}"),
            Resource::Session(id) => write!(f, "session {id}"),
            Resource::Order(id) => write!(f, "order {id}"),
            Resource::Ticket(id) => write!(f, "ticket {id}"),
        }
    }
}

/// What is wrong with the seat-id list of a lock, release or order request (seed 003 §5.2, §5.3,
/// §6.1 `seatIds`). `index` is the seat's place in the list as the client sent it, from 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeatRequestError {
    /// The list is empty.
    #[error("no seats were asked for")]
    NoSeats,
    /// The list is longer than `max` (`OpenTicketSettings::max_seats_per_lock`).
    #[error("more than {max} seats were asked for")]
    TooMany {
        /// `OpenTicketSettings::max_seats_per_lock` (`TESSERA_MAX_SEATS_PER_LOCK`, 10 by default).
        max: usize,
    },
    /// The seat at `index` repeats an earlier one.
    #[error("seat {seat} at {index} is listed twice")]
    Repeated {
        /// Place of the repeat.
        index: usize,
        /// The seat id as sent.
        seat: String,
    },
    /// The seat id at `index` is not a seat code.
    #[error("seat id at {index} is malformed: {reason}")]
    Malformed {
        /// Place in the list.
        index: usize,
        /// The domain's reason (`SeatId::parse`).
        reason: String,
    },
    /// The session's venue has no seat with this id.
    #[error("the venue has no seat {seat} (at {index})")]
    UnknownSeat {
        /// Place in the list.
        index: usize,
        /// The seat id as sent.
        seat: String,
    },
    /// No price category of the event covers the seat's area.
    #[error("seat {seat} (at {index}) is not for sale in this event")]
    NotForSale {
        /// Place in the list.
        index: usize,
        /// The seat, as the venue's seat map names it.
        seat: SeatId,
    },
}

/// Why an OpenTicket command, process-manager step or deadline failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenTicketError {
    /// No such venue, event, session, order or ticket.
    #[error("{0} not found")]
    NotFound(Resource),
    /// The venue an event names does not exist (an input error, unlike [`Self::NotFound`]).
    #[error("no venue {0}")]
    UnknownVenue(VenueId),
    /// The request's seat ids are invalid.
    #[error("invalid seat request")]
    SeatRequest(#[from] SeatRequestError),
    /// An input the domain checked is invalid (a venue's seat map, an event's sessions or
    /// prices); the field error names the field as the client sent it.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// No payment gateway is configured under `provider`.
    #[error("no payment provider {provider}")]
    UnknownProvider {
        /// The name asked for.
        provider: String,
        /// The names there are, sorted.
        offered: Vec<String>,
    },
    /// Some seats cannot be locked or ordered; nothing changed.
    #[error("{} seat(s) unavailable", .0.len())]
    SeatsUnavailable(Vec<UnavailableSeat>),
    /// The session is not on sale now.
    #[error("the session is not on sale (sales run from {sale_start_time} to {sale_end_time})")]
    SaleNotOpen {
        /// Sales open (UTC).
        sale_start_time: DateTime<Utc>,
        /// Sales close (UTC).
        sale_end_time: DateTime<Utc>,
    },
    /// The seat session refused the command for another reason (e.g. the order holds no seats).
    #[error("the seat session refused the command")]
    SeatSession(#[source] SeatSessionError),
    /// The venue refused to be created (it exists already).
    #[error("the venue refused the command")]
    Venue(#[source] VenueError),
    /// The event refused to be created (it exists already).
    #[error("the event refused the command")]
    Event(#[source] EventError),
    /// The order refused the command: its state does not allow it, or a payment notice names
    /// another payment ([`OrderError::UnknownPayment`]).
    #[error("the order refused the command")]
    Order(#[source] OrderError),
    /// The ticket refused the command: used before ([`TicketError::AlreadyUsed`]) or the code
    /// names another ticket ([`TicketError::WrongTicket`]).
    #[error("the ticket refused the command")]
    Ticket(#[source] TicketError),
    /// An order's total could not be summed or expressed in minor units.
    #[error("the order total cannot be computed")]
    Money(#[source] MoneyError),
    /// The payment provider refused or failed to open a checkout.
    #[error("the payment provider failed")]
    Payment(#[from] PaymentError),
    /// The order-expiry deadline fired before the order's expiry by this clock; the scheduler
    /// retries it.
    #[error("order {0} is not due to expire yet")]
    OrderNotDue(OrderId),
    /// The event store failed, stayed contended, or holds an event that does not decode.
    #[error("the event store failed")]
    Engine(#[from] EngineError),
    /// A stored deadline of this context lacks an id in its payload.
    #[error("deadline {deadline_id} has no {key} in its payload")]
    DeadlinePayload {
        /// The stored deadline's id.
        deadline_id: Uuid,
        /// The missing key, e.g. `orderId`.
        key: &'static str,
    },
    /// The fulfilment process manager was handed a payment event outside an order stream.
    #[error("{0} is not an order stream")]
    NotAnOrderStream(StreamId),
    /// An aggregate lacked what the step before had just established (a bug).
    #[error("inconsistent state: {0}")]
    Inconsistent(&'static str),
}

/// A seat session's refusal as this context reports it.
pub(super) fn seat_refusal(session_id: SessionId, e: SeatSessionError) -> OpenTicketError {
    match e {
        SeatSessionError::NotOpened => OpenTicketError::NotFound(Resource::Session(session_id)),
        SeatSessionError::SaleNotOpen {
            sale_start_time,
            sale_end_time,
        } => OpenTicketError::SaleNotOpen {
            sale_start_time,
            sale_end_time,
        },
        SeatSessionError::NoSeats => SeatRequestError::NoSeats.into(),
        SeatSessionError::TooManySeats { max } => SeatRequestError::TooMany { max }.into(),
        SeatSessionError::DuplicateSeat { index, seat_id } => SeatRequestError::Repeated {
            index,
            seat: seat_id.to_string(),
        }
        .into(),
        SeatSessionError::NotForSale { index, seat_id } => SeatRequestError::NotForSale {
            index,
            seat: seat_id,
        }
        .into(),
        SeatSessionError::Unavailable(seats) | SeatSessionError::NotLockedByCaller(seats) => {
            OpenTicketError::SeatsUnavailable(seats)
        }
        other => OpenTicketError::SeatSession(other),
    }
}

/// An order's refusal as this context reports it.
pub(super) fn order_refusal(order_id: OrderId, e: OrderError) -> OpenTicketError {
    match e {
        OrderError::NotFound => OpenTicketError::NotFound(Resource::Order(order_id)),
        other => OpenTicketError::Order(other),
    }
}

/// A ticket's refusal as this context reports it.
pub(super) fn ticket_refusal(ticket_id: TicketId, e: TicketError) -> OpenTicketError {
    match e {
        TicketError::NotFound => OpenTicketError::NotFound(Resource::Ticket(ticket_id)),
        other => OpenTicketError::Ticket(other),
    }
}
