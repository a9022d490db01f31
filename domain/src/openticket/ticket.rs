//! Ticket (seed 003 §7): one per sold seat, issued by the fulfilment process manager, used once at
//! the gate.

use super::{AreaId, EventId, Money, OrderId, SeatId, SessionId, TicketId};
use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Commands of a ticket.
#[derive(Debug, Clone)]
pub enum TicketCommand {
    /// Issue it (a second issue is a no-op).
    Issue {
        /// [`TicketId::for_seat`] of the order and seat; also the stream id.
        ticket_id: TicketId,
        /// The paid order that bought the seat.
        order_id: OrderId,
        /// The order's buyer, who holds the ticket (§7.1 lists it for them).
        user_id: UserId,
        /// The event the session belongs to.
        event_id: EventId,
        /// The session the ticket admits to.
        session_id: SessionId,
        /// The seat sold, as the venue's seat map names it.
        seat_id: SeatId,
        /// The seat's area in the seat map.
        area_id: AreaId,
        /// The seat's price in the order, in the order's currency.
        price: Money,
        /// Current time (UTC), recorded as `issuedAt`.
        now: DateTime<Utc>,
    },
    /// Scan at the gate with the code's ticket id (already signature-checked).
    Use {
        /// The ticket the presented code names.
        code_ticket_id: TicketId,
        /// The staff member scanning it (role `staff`).
        staff_id: UserId,
        /// Current time (UTC), recorded as `usedAt`.
        now: DateTime<Utc>,
        /// The session the gate admits to, when the scanner says: a ticket for another session
        /// is refused ([`TicketError::WrongSession`]) and stays unused.
        gate_session: Option<SessionId>,
    },
}

/// Events of `openticketTicket-{ticketId}`.
// fields: docs/event-catalog.md, "OpenTicket (seed 003)", and the `TicketCommand` fields they copy.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum TicketEvent {
    /// Issued for one sold seat of a paid order.
    #[serde(rename = "OpenTicketTicketIssued")]
    TicketIssued {
        ticket_id: TicketId,
        order_id: OrderId,
        user_id: UserId,
        event_id: EventId,
        session_id: SessionId,
        seat_id: SeatId,
        area_id: AreaId,
        price: Money,
        issued_at: DateTime<Utc>,
    },
    /// Used at the gate.
    #[serde(rename = "OpenTicketTicketUsed")]
    TicketUsed {
        /// The staff member who scanned it.
        verified_by: UserId,
        used_at: DateTime<Utc>,
    },
}

impl DomainEvent for TicketEvent {}

/// Why a ticket command was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TicketError {
    /// No such ticket.
    #[error("the ticket does not exist")]
    NotFound,
    /// The code belongs to another ticket.
    #[error("the code belongs to another ticket")]
    WrongTicket,
    /// Scanned at the gate of another session than its own.
    #[error("the ticket admits to session {ticket_session}, not this one")]
    WrongSession {
        /// The session the ticket admits to.
        ticket_session: SessionId,
    },
    /// Used before.
    #[error("the ticket was already used at {used_at}")]
    AlreadyUsed {
        /// When the first scan was recorded (UTC).
        used_at: DateTime<Utc>,
    },
}

/// A ticket (stream `openticketTicket-{ticketId}`); the default is one not issued yet.
#[derive(Debug, Clone, Default)]
pub struct Ticket {
    /// Id once issued.
    pub ticket_id: Option<TicketId>,
    /// The buyer, who holds it, once issued.
    pub user_id: Option<UserId>,
    /// The seat it admits to, once issued.
    pub seat_id: Option<SeatId>,
    /// When it was first scanned (UTC); a second scan is refused.
    pub used_at: Option<DateTime<Utc>>,
    /// The session it admits to, once issued.
    pub session_id: Option<SessionId>,
}

impl Decider for Ticket {
    const CATEGORY: &'static str = "openticketTicket";
    type Command = TicketCommand;
    type Event = TicketEvent;
    type Error = TicketError;

    fn decide(&self, command: &TicketCommand) -> Result<Vec<TicketEvent>, TicketError> {
        match command {
            TicketCommand::Issue {
                ticket_id,
                order_id,
                user_id,
                event_id,
                session_id,
                seat_id,
                area_id,
                price,
                now,
            } => {
                if self.ticket_id.is_some() {
                    return Ok(Vec::new());
                }
                Ok(vec![TicketEvent::TicketIssued {
                    ticket_id: *ticket_id,
                    order_id: *order_id,
                    user_id: *user_id,
                    event_id: *event_id,
                    session_id: *session_id,
                    seat_id: seat_id.clone(),
                    area_id: area_id.clone(),
                    price: *price,
                    issued_at: *now,
                }])
            }
            TicketCommand::Use {
                code_ticket_id,
                staff_id,
                now,
                gate_session,
            } => {
                let id = self.ticket_id.ok_or(TicketError::NotFound)?;
                if id != *code_ticket_id {
                    return Err(TicketError::WrongTicket);
                }
                if let (Some(gate), Some(own)) = (gate_session, self.session_id)
                    && *gate != own
                {
                    return Err(TicketError::WrongSession {
                        ticket_session: own,
                    });
                }
                if let Some(used_at) = self.used_at {
                    return Err(TicketError::AlreadyUsed { used_at });
                }
                Ok(vec![TicketEvent::TicketUsed {
                    verified_by: *staff_id,
                    used_at: *now,
                }])
            }
        }
    }

    fn evolve(mut self, event: &TicketEvent) -> Self {
        match event {
            TicketEvent::TicketIssued {
                ticket_id,
                user_id,
                seat_id,
                session_id,
                ..
            } => {
                self.ticket_id = Some(*ticket_id);
                self.session_id = Some(*session_id);
                self.user_id = Some(*user_id);
                self.seat_id = Some(seat_id.clone());
            }
            TicketEvent::TicketUsed { used_at, .. } => self.used_at = Some(*used_at),
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openticket::Currency;
    use crate::testing::given;

    fn id<T: From<uuid::Uuid>>(n: u128) -> T {
        T::from(uuid::Uuid::from_u128(n))
    }
    fn issued() -> TicketEvent {
        TicketEvent::TicketIssued {
            ticket_id: id(1),
            order_id: id(2),
            user_id: id(3),
            event_id: id(4),
            session_id: id(5),
            seat_id: SeatId::parse("A-001").unwrap(),
            area_id: AreaId::parse("A").unwrap(),
            price: Money::zero(Currency::parse("TWD").unwrap()),
            issued_at: DateTime::UNIX_EPOCH,
        }
    }
    fn scan(code: u128) -> TicketCommand {
        TicketCommand::Use {
            code_ticket_id: id(code),
            staff_id: id(9),
            now: DateTime::UNIX_EPOCH,
            gate_session: None,
        }
    }

    #[test]
    fn a_scan_at_another_sessions_gate_is_refused_and_leaves_the_ticket_unused() {
        let at = |session: u128| TicketCommand::Use {
            code_ticket_id: id(1),
            staff_id: id(9),
            now: DateTime::UNIX_EPOCH,
            gate_session: Some(id(session)),
        };
        given::<Ticket>([issued()])
            .when(at(6))
            .then_err(TicketError::WrongSession {
                ticket_session: id(5),
            });
        given::<Ticket>([issued()])
            .when(at(5))
            .then([TicketEvent::TicketUsed {
                verified_by: id(9),
                used_at: DateTime::UNIX_EPOCH,
            }]);
    }

    #[test]
    fn used_once_with_its_own_code() {
        given::<Ticket>([issued()])
            .when(scan(2))
            .then_err(TicketError::WrongTicket);
        given::<Ticket>([])
            .when(scan(1))
            .then_err(TicketError::NotFound);
        given::<Ticket>([issued()])
            .when(scan(1))
            .then([TicketEvent::TicketUsed {
                verified_by: id(9),
                used_at: DateTime::UNIX_EPOCH,
            }]);
        let used = TicketEvent::TicketUsed {
            verified_by: id(9),
            used_at: DateTime::UNIX_EPOCH,
        };
        given::<Ticket>([issued(), used])
            .when(scan(1))
            .then_err(TicketError::AlreadyUsed {
                used_at: DateTime::UNIX_EPOCH,
            });
    }
}
