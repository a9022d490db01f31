//! Tickets at the gate (seed 003 §7.3): the first valid scan uses a ticket; a second is refused
//! with the first scan's time, and a code naming another ticket is refused.

use super::OpenTicketService;
use super::error::{OpenTicketError, ticket_refusal};
use crate::command::CommandRunner;
use crate::event_store::EventMetadata;
use tessera_domain::UserId;
use tessera_domain::openticket::ticket::{Ticket, TicketCommand};
use tessera_domain::openticket::{SessionId, TicketId};

impl OpenTicketService {
    /// `POST /tickets/{id}/verify` (§7.3): use `ticket_id`, presented with a code whose signature
    /// the caller checked and which names `code_ticket_id`. Returns the ticket and the position of
    /// the append. `gate_session` is the session the gate admits to, when the scanner names one.
    /// Refusals are [`OpenTicketError::Ticket`] (`AlreadyUsed`, `WrongTicket`, `WrongSession`) or
    /// [`Resource::Ticket`](super::Resource::Ticket) not found.
    pub async fn use_ticket(
        &self,
        staff: UserId,
        ticket_id: TicketId,
        code_ticket_id: TicketId,
        gate_session: Option<SessionId>,
        meta: &EventMetadata,
    ) -> Result<(Ticket, Option<u64>), OpenTicketError> {
        let command = TicketCommand::Use {
            code_ticket_id,
            staff_id: staff,
            now: self.clock.now(),
            gate_session,
        };
        let decided = self
            .runner
            .run::<Ticket>(&CommandRunner::stream::<Ticket>(ticket_id)?, &command, meta)
            .await
            .map_err(|e| e.map_rejected(|e| ticket_refusal(ticket_id, e)))?;
        let position = decided.position();
        Ok((decided.state, position))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::openticket::testing::{World, meta, now, seat, stream, twd, user};
    use crate::openticket::{OpenTicketError, Resource};
    use chrono::Duration;
    use tessera_domain::openticket::ticket::{TicketError, TicketEvent};
    use tessera_domain::openticket::{AreaId, OrderId};
    use uuid::Uuid;

    /// Given: a ticket issued for seat A-001; returns its id.
    fn issued(world: &World) -> TicketId {
        let order_id = OrderId::from_uuid(Uuid::from_u128(0x500));
        let ticket_id = TicketId::for_seat(order_id, &seat("A-001"));
        world
            .store
            .given::<Ticket>(
                &stream::<Ticket>(ticket_id),
                &[TicketEvent::TicketIssued {
                    ticket_id,
                    order_id,
                    user_id: user(1),
                    event_id: world.event_id,
                    session_id: world.session_id,
                    seat_id: seat("A-001"),
                    area_id: AreaId::parse("A").unwrap(),
                    price: twd(2800),
                    issued_at: now(),
                }],
            )
            .unwrap();
        ticket_id
    }

    #[tokio::test]
    async fn given_a_used_ticket_when_it_is_scanned_again_then_it_is_refused_with_the_first_scan() {
        let world = World::new();
        let ticket_id = issued(&world);
        let staff = user(7);
        let (ticket, _) = world
            .service
            .use_ticket(staff, ticket_id, ticket_id, None, &meta())
            .await
            .unwrap();
        assert_eq!(ticket.used_at, Some(now()));

        world.clock.advance(Duration::minutes(5));
        let again = world
            .service
            .use_ticket(staff, ticket_id, ticket_id, None, &meta())
            .await;

        assert!(matches!(
            again,
            Err(OpenTicketError::Ticket(TicketError::AlreadyUsed { used_at })) if used_at == now()
        ));
        let used = world
            .store
            .events::<Ticket>(&stream::<Ticket>(ticket_id))
            .into_iter()
            .filter(|e| matches!(e, TicketEvent::TicketUsed { .. }))
            .count();
        assert_eq!(used, 1);
    }

    #[tokio::test]
    async fn a_code_of_another_ticket_or_an_unknown_ticket_is_refused() {
        let world = World::new();
        let ticket_id = issued(&world);
        let other = TicketId::from_uuid(Uuid::from_u128(0x600));

        let wrong = world
            .service
            .use_ticket(user(7), ticket_id, other, None, &meta())
            .await;
        assert!(matches!(
            wrong,
            Err(OpenTicketError::Ticket(TicketError::WrongTicket))
        ));
        let unknown = world
            .service
            .use_ticket(user(7), other, other, None, &meta())
            .await;
        assert!(matches!(
            unknown,
            Err(OpenTicketError::NotFound(Resource::Ticket(id))) if id == other
        ));
    }
}
