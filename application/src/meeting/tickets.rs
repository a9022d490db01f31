//! Tickets (seed 000 §8): issued when an order is paid ([`MeetingTicketIssuing`], one ticket per
//! unit ordered), and their attendee named once, by the buyer. One seat per phone per meeting is
//! guarded by an attendee claim stream.
//!
//! Ticket ids are random (UUIDv4, from the operating system's generator), drawn here and recorded
//! on the order (`MeetingTicketsAllocated`) before any ticket is issued, so issuing again, after a
//! crash or a repeated delivery, lands on the same streams. Orders whose tickets were issued
//! before ids became random keep their UUIDv5 ids ([`MeetingTicketId::legacy_for_order`]).

use super::{MeetingService, MeetingServiceError, Missing, is_admin};
use crate::command::CommandRunner;
use crate::event_store::{EventMetadata, RecordedEvent, StreamId};
use crate::process::{HandlerError, ProcessManager};
use async_trait::async_trait;
use std::sync::Arc;
use tessera_domain::identity::Role;
use tessera_domain::meeting::order::{
    AllocatedTicket, MeetingOrder, OrderCommand, OrderStatus, PlacedOrder,
};
use tessera_domain::meeting::ticket::{
    IssuedTicket, MeetingTicket, Participant, TicketCommand, TicketError,
};
use tessera_domain::meeting::{MeetingOrderId, MeetingTicketId};
use tessera_domain::shared::claim::{
    ClaimCommand, ClaimError, ClaimKind, IdentifierClaim, claim_stream_id,
};
use tessera_domain::{Decider, UserId};
use uuid::Uuid;

impl MeetingService {
    /// Issue the tickets of a paid order to its buyer: `ticketAmount` per line, with the ids the
    /// order allocated (drawn now if it has none yet). Nothing for an order that is not 已支付.
    ///
    /// Errors: `NotFound(Order)`, `Engine`.
    pub async fn issue_tickets(
        &self,
        order_id: MeetingOrderId,
        meta: &EventMetadata,
    ) -> Result<(), MeetingServiceError> {
        let order = self.order(order_id).await?;
        let placed = order
            .placed()
            .ok_or(MeetingServiceError::NotFound(Missing::Order))?;
        if order.status() != Some(OrderStatus::Paid) {
            return Ok(());
        }
        let tickets = match order.tickets() {
            Some(t) => t.to_vec(),
            None => self.allocate_tickets(order_id, placed, meta).await?,
        };
        let now = self.now();
        for t in tickets {
            let command = TicketCommand::Issue {
                ticket: IssuedTicket {
                    ticket_id: t.ticket_id,
                    order_id,
                    meeting_id: placed.meeting_id,
                    ticket_grade_id: t.ticket_grade_id,
                    owner_id: placed.user_id,
                },
                now,
            };
            let stream = CommandRunner::stream::<MeetingTicket>(t.ticket_id)?;
            self.runner
                .run::<MeetingTicket>(&stream, &command, meta)
                .await
                .map_err(|e| e.map_rejected(MeetingServiceError::from))?;
        }
        Ok(())
    }

    /// Record the ids of a paid order's tickets on the order and return them (those recorded
    /// first when two issuers race). New ids are random; an order whose first ticket already exists
    /// under its UUIDv5 id was fulfilled before ids became random and keeps those ids.
    async fn allocate_tickets(
        &self,
        order_id: MeetingOrderId,
        placed: &PlacedOrder,
        meta: &EventMetadata,
    ) -> Result<Vec<AllocatedTicket>, MeetingServiceError> {
        let legacy = match placed.items.first() {
            Some(first) => {
                let id = MeetingTicketId::legacy_for_order(order_id, first.ticket_grade_id, 0);
                self.ticket(id).await?.issued().is_some()
            }
            None => false,
        };
        let mut tickets = Vec::new();
        for item in &placed.items {
            for n in 0..item.ticket_amount {
                let ticket_id = if legacy {
                    MeetingTicketId::legacy_for_order(order_id, item.ticket_grade_id, n)
                } else {
                    MeetingTicketId::from_uuid(Uuid::new_v4())
                };
                tickets.push(AllocatedTicket {
                    ticket_id,
                    ticket_grade_id: item.ticket_grade_id,
                });
            }
        }
        let command = OrderCommand::AllocateTickets {
            tickets,
            now: self.now(),
        };
        let stream = CommandRunner::stream::<MeetingOrder>(order_id)?;
        let decided = self
            .runner
            .run::<MeetingOrder>(&stream, &command, meta)
            .await
            .map_err(|e| e.map_rejected(MeetingServiceError::from))?;
        Ok(decided
            .state
            .tickets()
            .map(<[_]>::to_vec)
            .unwrap_or_default())
    }

    /// `PATCH /tickets/:id` with `participant` (§8.2), by `actor`: name the ticket's attendee,
    /// once. Only the buyer may (or an admin, by `roles`): anyone else is refused before anything
    /// is written. The attendee's seat in the meeting is claimed first (one per phone per meeting);
    /// if the ticket turns out to be taken, that claim is given back. Naming the same attendee
    /// again changes nothing.
    ///
    /// Errors: `NotFound(Ticket)`, `Ticket(NotBuyer)` when `actor` is not the buyer,
    /// `Ticket(AlreadyTaken)` when another attendee holds it, `OneForOne` when this attendee holds
    /// another ticket of the meeting, `Engine`.
    pub async fn claim_ticket(
        &self,
        actor: UserId,
        roles: &[Role],
        ticket_id: MeetingTicketId,
        participant: Participant,
        meta: &EventMetadata,
    ) -> Result<(MeetingTicket, Option<u64>), MeetingServiceError> {
        let ticket_stream = CommandRunner::stream::<MeetingTicket>(ticket_id)?;
        let (ticket, _) = self.runner.load::<MeetingTicket>(&ticket_stream).await?;
        let issued = ticket
            .issued()
            .cloned()
            .ok_or(MeetingServiceError::NotFound(Missing::Ticket))?;
        let admin = is_admin(roles);
        if issued.owner_id != actor && !admin {
            return Err(MeetingServiceError::Ticket(TicketError::NotBuyer));
        }
        let seat = format!("{}:{}", issued.meeting_id, participant.phone);
        let claim_stream = StreamId::parse(claim_stream_id(ClaimKind::MeetingAttendee, &seat))
            .map_err(crate::command::EngineError::from)?;
        let now = self.now();
        // The attendee's seat at the meeting and the ticket's attendee commit together or not at
        // all (docs/decisions/0009-multi-stream-append.md).
        let mut atomic = self.runner.atomic(meta);
        let claiming = atomic.stream::<IdentifierClaim>(&claim_stream);
        let assigning = atomic.stream::<MeetingTicket>(&ticket_stream);
        let committed = atomic
            .run(|d| {
                let ticket = d.state(assigning)?;
                match ticket.participant() {
                    Some(p) if *p == participant => return Ok(ticket.clone()),
                    Some(_) => return Err(MeetingServiceError::Ticket(TicketError::AlreadyTaken)),
                    None => {}
                }
                let claim = ClaimCommand::Claim {
                    kind: ClaimKind::MeetingAttendee,
                    value: seat.clone(),
                    owner: ticket_id.as_uuid(),
                    now,
                };
                d.decide(claiming, &claim).map_err(|e| {
                    e.map_rejected(|ClaimError::Taken { .. }| MeetingServiceError::OneForOne)
                })?;
                let assign = TicketCommand::AssignParticipant {
                    participant: participant.clone(),
                    by: actor,
                    admin,
                    now,
                };
                d.decide(assigning, &assign)
                    .map_err(|e| e.map_rejected(MeetingServiceError::from))?;
                Ok(d.state(assigning)?.clone())
            })
            .await?;
        let position = committed.position();
        Ok((committed.value, position))
    }
}

/// The id in an aggregate's stream id `{category}-{uuid}`.
fn id_from_stream(stream: &StreamId) -> Option<Uuid> {
    stream
        .as_str()
        .split_once('-')
        .and_then(|(_, id)| id.parse::<Uuid>().ok())
}

/// A `MeetingOrderPaid` whose stream id holds no order id.
#[derive(Debug, thiserror::Error)]
#[error("not a meeting order stream: {0}")]
pub struct NotAnOrderStream(StreamId);

/// The ticket-issuing process manager: on `MeetingOrderPaid`, issue the order's tickets
/// ([`MeetingService::issue_tickets`]), with the payment event as their cause.
pub struct MeetingTicketIssuing(pub Arc<MeetingService>);

#[async_trait]
impl ProcessManager for MeetingTicketIssuing {
    fn name(&self) -> &'static str {
        "meeting_ticket_issuing"
    }

    fn categories(&self) -> &'static [&'static str] {
        &[MeetingOrder::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &["MeetingOrderPaid"]
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        if event.stream_id.category() != MeetingOrder::CATEGORY {
            return Ok(());
        }
        let id = id_from_stream(&event.stream_id)
            .ok_or_else(|| NotAnOrderStream(event.stream_id.clone()))?;
        let mut meta = EventMetadata {
            causation_id: Some(event.event_id),
            correlation_id: event.metadata.correlation_id,
            request_id: event.metadata.request_id.clone(),
            ..EventMetadata::default()
        };
        meta.extra
            .insert("processManager".into(), serde_json::json!(self.name()));
        Ok(self
            .0
            .issue_tickets(MeetingOrderId::from_uuid(id), &meta)
            .await?)
    }
}
