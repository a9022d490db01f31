//! A meeting ticket and its attendee (seed 000 §8): issued to the buyer when the order is paid;
//! its one allowed change is naming the participant, once (`PATCH /tickets/:id`). Only the buyer
//! (or an admin acting for them) names the participant: holding a ticket's id is not enough, so a
//! leaked or guessed id cannot be used to take a seat. A second, different participant is 410
//! 'Already Taken'; one seat per person per meeting is guarded separately
//! ([`crate::shared::claim::ClaimKind::MeetingAttendee`]).

use super::{MeetingId, MeetingOrderId, MeetingTicketId, TicketGradeId};
use crate::identity::Phone;
use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The attendee a ticket is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    /// Name (1–50 characters).
    pub name: String,
    /// Mainland phone: identifies the person for "one seat per meeting".
    pub phone: Phone,
}

/// The ticket's facts once issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedTicket {
    /// Allocated by the order (`MeetingTicketsAllocated`), so issuing twice lands on the same
    /// stream.
    pub ticket_id: MeetingTicketId,
    /// The order that bought it.
    pub order_id: MeetingOrderId,
    /// The meeting the ticket admits to.
    pub meeting_id: MeetingId,
    /// The grade bought, from the order's line.
    pub ticket_grade_id: TicketGradeId,
    /// The buyer, the one user who may name the attendee.
    pub owner_id: UserId,
}

/// A meeting ticket (stream `meetingTicket-{ticketId}`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeetingTicket {
    issued: Option<IssuedTicket>,
    participant: Option<Participant>,
}

impl MeetingTicket {
    /// The ticket's facts, once issued.
    pub fn issued(&self) -> Option<&IssuedTicket> {
        self.issued.as_ref()
    }

    /// The attendee, once claimed.
    pub fn participant(&self) -> Option<&Participant> {
        self.participant.as_ref()
    }
}

/// Commands for [`MeetingTicket`].
#[derive(Debug, Clone, PartialEq)]
pub enum TicketCommand {
    /// Issue the ticket (process manager on payment); issuing again changes nothing.
    Issue {
        /// What the ticket is; its `ticket_id` names the stream.
        ticket: IssuedTicket,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Name the attendee; naming the same attendee again changes nothing.
    AssignParticipant {
        /// The attendee; the caller has claimed their phone's one seat at this meeting.
        participant: Participant,
        /// The signed-in user naming the attendee: must be the buyer unless `admin`.
        by: UserId,
        /// Whether `by` is an admin, who may name the attendee of any ticket.
        admin: bool,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`MeetingTicket`] (docs/event-catalog.md, "Meeting tickets").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum TicketEvent {
    /// The ticket was issued to the buyer.
    MeetingTicketIssued {
        /// Also the stream's id: random (UUIDv4) from the order's `MeetingTicketsAllocated`, or
        /// [`MeetingTicketId::legacy_for_order`] for tickets issued before ids became random.
        ticket_id: MeetingTicketId,
        /// The paid order that bought it.
        order_id: MeetingOrderId,
        /// The meeting the ticket admits to.
        meeting_id: MeetingId,
        /// Which of the meeting's grades was bought.
        ticket_grade_id: TicketGradeId,
        /// The buyer (`ownerId`), who names the attendee.
        owner_id: UserId,
        /// When (UTC).
        issued_at: DateTime<Utc>,
    },
    /// The attendee was named.
    #[serde(rename = "MeetingParticipantAssigned")]
    ParticipantAssigned {
        /// The attendee, named once; another person afterwards is [`TicketError::AlreadyTaken`].
        participant: Participant,
        /// The signed-in user who named the attendee: the buyer or an admin (before the
        /// buyer-only rule, anyone who held the ticket id; those events stay as they are).
        assigned_by: UserId,
        /// When (UTC).
        assigned_at: DateTime<Utc>,
    },
}

impl DomainEvent for TicketEvent {}

/// Why a [`TicketCommand`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// No such ticket.
    #[error("the ticket does not exist")]
    NotFound,
    /// Someone else is already its attendee (seed 000: 410 'Already Taken').
    #[error("门票已被他人领取")]
    AlreadyTaken,
    /// Only the buyer (or an admin) names a ticket's attendee.
    #[error("only the buyer names the ticket's attendee")]
    NotBuyer,
}

impl Decider for MeetingTicket {
    const CATEGORY: &'static str = "meetingTicket";
    type Command = TicketCommand;
    type Event = TicketEvent;
    type Error = TicketError;

    fn decide(&self, command: &TicketCommand) -> Result<Vec<TicketEvent>, TicketError> {
        match command {
            TicketCommand::Issue { ticket, now } => Ok(if self.issued.is_some() {
                Vec::new()
            } else {
                vec![TicketEvent::MeetingTicketIssued {
                    ticket_id: ticket.ticket_id,
                    order_id: ticket.order_id,
                    meeting_id: ticket.meeting_id,
                    ticket_grade_id: ticket.ticket_grade_id,
                    owner_id: ticket.owner_id,
                    issued_at: *now,
                }]
            }),
            TicketCommand::AssignParticipant {
                participant,
                by,
                admin,
                now,
            } => {
                let Some(issued) = &self.issued else {
                    return Err(TicketError::NotFound);
                };
                if issued.owner_id != *by && !*admin {
                    return Err(TicketError::NotBuyer);
                }
                match &self.participant {
                    Some(p) if p == participant => Ok(Vec::new()),
                    Some(_) => Err(TicketError::AlreadyTaken),
                    None => Ok(vec![TicketEvent::ParticipantAssigned {
                        participant: participant.clone(),
                        assigned_by: *by,
                        assigned_at: *now,
                    }]),
                }
            }
        }
    }

    fn evolve(mut self, event: &TicketEvent) -> Self {
        match event {
            TicketEvent::MeetingTicketIssued {
                ticket_id,
                order_id,
                meeting_id,
                ticket_grade_id,
                owner_id,
                ..
            } => {
                self.issued = Some(IssuedTicket {
                    ticket_id: *ticket_id,
                    order_id: *order_id,
                    meeting_id: *meeting_id,
                    ticket_grade_id: *ticket_grade_id,
                    owner_id: *owner_id,
                });
            }
            TicketEvent::ParticipantAssigned { participant, .. } => {
                if self.participant.is_none() {
                    self.participant = Some(participant.clone());
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
    use uuid::Uuid;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap_or_default()
    }
    fn issued() -> TicketEvent {
        TicketEvent::MeetingTicketIssued {
            ticket_id: MeetingTicketId::from_uuid(Uuid::from_u128(1)),
            order_id: MeetingOrderId::from_uuid(Uuid::from_u128(2)),
            meeting_id: MeetingId::from_uuid(Uuid::from_u128(3)),
            ticket_grade_id: TicketGradeId::from_uuid(Uuid::from_u128(4)),
            owner_id: UserId::from_uuid(Uuid::from_u128(5)),
            issued_at: t(0),
        }
    }
    fn person(phone: &str) -> Participant {
        Participant {
            name: "张三".into(),
            phone: Phone::parse(phone).unwrap_or_else(|_| panic!("{phone}")),
        }
    }
    fn assign(phone: &str) -> TicketCommand {
        TicketCommand::AssignParticipant {
            participant: person(phone),
            by: UserId::from_uuid(Uuid::from_u128(5)),
            admin: false,
            now: t(1),
        }
    }

    #[test]
    fn only_the_buyer_or_an_admin_names_the_attendee() {
        let by = |user: u128, admin: bool| TicketCommand::AssignParticipant {
            participant: person("13800138000"),
            by: UserId::from_uuid(Uuid::from_u128(user)),
            admin,
            now: t(1),
        };
        given::<MeetingTicket>([issued()])
            .when(by(6, false))
            .then_err(TicketError::NotBuyer);
        given::<MeetingTicket>([issued()]).when(by(6, true)).then([
            TicketEvent::ParticipantAssigned {
                participant: person("13800138000"),
                assigned_by: UserId::from_uuid(Uuid::from_u128(6)),
                assigned_at: t(1),
            },
        ]);
    }

    #[test]
    fn the_first_attendee_wins_and_a_second_is_refused() {
        let assigned = TicketEvent::ParticipantAssigned {
            participant: person("13800138000"),
            assigned_by: UserId::from_uuid(Uuid::from_u128(5)),
            assigned_at: t(1),
        };
        given::<MeetingTicket>([issued()])
            .when(assign("13800138000"))
            .then([assigned.clone()]);
        given::<MeetingTicket>([issued(), assigned.clone()])
            .when(assign("13900139000"))
            .then_err(TicketError::AlreadyTaken);
        given::<MeetingTicket>([issued(), assigned])
            .when(assign("13800138000"))
            .then([]);
        given::<MeetingTicket>([])
            .when(assign("13800138000"))
            .then_err(TicketError::NotFound);
    }
}
