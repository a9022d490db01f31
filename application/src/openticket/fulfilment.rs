//! Fulfilment, the process manager after a payment: order paid → its seats sold → one ticket per
//! seat issued → order completed. Every step is idempotent (a ticket's id derives from the order and
//! the seat, and each `decide` returns no events for work already done), so running it twice or
//! concurrently is harmless — the process-manager runner delivers at least once.

use super::OpenTicketService;
use super::error::{OpenTicketError, order_refusal, seat_refusal, ticket_refusal};
use super::orders::placed;
use crate::command::CommandRunner;
use crate::event_store::{EventMetadata, RecordedEvent};
use crate::process::{HandlerError, ProcessManager};
use async_trait::async_trait;
use std::sync::Arc;
use tessera_domain::Decider;
use tessera_domain::openticket::order::{Order, OrderCommand, OrderStatus};
use tessera_domain::openticket::seat_session::{SeatSession, SeatSessionCommand};
use tessera_domain::openticket::ticket::{Ticket, TicketCommand};
use tessera_domain::openticket::{OrderId, TicketId};
use uuid::Uuid;

impl OpenTicketService {
    /// Fulfil a paid order: sell its seats, issue one ticket per seat, complete the order. Does
    /// nothing for an order that is not `Paid` (not yet, or completed already).
    pub async fn fulfil_order(
        &self,
        order_id: OrderId,
        meta: &EventMetadata,
    ) -> Result<(), OpenTicketError> {
        let order = self.order(order_id).await?;
        let data = placed(&order, order_id)?;
        if order.status != Some(OrderStatus::Paid) {
            return Ok(());
        }
        let now = self.clock.now();
        self.runner
            .apply::<SeatSession>(
                &CommandRunner::stream::<SeatSession>(data.session_id)?,
                &SeatSessionCommand::Sell { order_id, now },
                meta,
                Vec::new(),
            )
            .await
            .map_err(|e| e.map_rejected(|e| seat_refusal(data.session_id, e)))?;
        let mut tickets = Vec::with_capacity(data.items.len());
        for item in &data.items {
            let ticket_id = TicketId::for_seat(order_id, &item.seat_id);
            let issue = TicketCommand::Issue {
                ticket_id,
                order_id,
                user_id: data.user_id,
                event_id: data.event_id,
                session_id: data.session_id,
                seat_id: item.seat_id.clone(),
                area_id: item.area_id.clone(),
                price: item.price,
                now,
            };
            self.runner
                .run::<Ticket>(&CommandRunner::stream::<Ticket>(ticket_id)?, &issue, meta)
                .await
                .map_err(|e| e.map_rejected(|e| ticket_refusal(ticket_id, e)))?;
            tickets.push((item.seat_id.clone(), ticket_id));
        }
        self.runner
            .run::<Order>(
                &CommandRunner::stream::<Order>(order_id)?,
                &OrderCommand::Complete { tickets, now },
                meta,
            )
            .await
            .map_err(|e| e.map_rejected(|e| order_refusal(order_id, e)))?;
        Ok(())
    }
}

/// The fulfilment process manager: on an order's `PaymentSucceeded`, run
/// [`OpenTicketService::fulfil_order`] with metadata caused by that event.
pub struct Fulfilment(pub Arc<OpenTicketService>);

#[async_trait]
impl ProcessManager for Fulfilment {
    fn name(&self) -> &'static str {
        "openticket_fulfilment"
    }

    fn categories(&self) -> &'static [&'static str] {
        &[Order::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &["OpenTicketPaymentSucceeded"]
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        if event.stream_id.category() != Order::CATEGORY {
            return Ok(());
        }
        let id = event
            .stream_id
            .as_str()
            .split_once('-')
            .and_then(|(_, id)| id.parse::<Uuid>().ok())
            .ok_or_else(|| OpenTicketError::NotAnOrderStream(event.stream_id.clone()))?;
        let mut meta = EventMetadata {
            causation_id: Some(event.event_id),
            correlation_id: event.metadata.correlation_id,
            request_id: event.metadata.request_id.clone(),
            ..EventMetadata::default()
        };
        meta.extra
            .insert("processManager".into(), serde_json::json!(self.name()));
        Ok(self.0.fulfil_order(OrderId::from_uuid(id), &meta).await?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::openticket::testing::{World, now, seat, stream, twd, user};
    use chrono::Duration;
    use tessera_domain::openticket::order::{OrderEvent, OrderItem, PaymentInfo};
    use tessera_domain::openticket::seat_session::SeatSessionEvent;
    use tessera_domain::openticket::ticket::TicketEvent;
    use tessera_domain::openticket::{AreaId, CategoryId, PaymentId};

    const SEATS: [&str; 2] = ["A-001", "A-002"];

    /// Given: Ada's order for, its seats held for it, and (when `paid`) its
    /// payment succeeded. Returns the order id and the order's last recorded event.
    fn ordered(world: &World, paid: bool) -> (OrderId, RecordedEvent) {
        let order_id = OrderId::from_uuid(Uuid::from_u128(0x500));
        let payment_id = PaymentId::from_uuid(Uuid::from_u128(0x501));
        let ada = user(1);
        let seat_ids: Vec<_> = SEATS.iter().map(|s| seat(s)).collect();
        world
            .store
            .given::<SeatSession>(
                &world.seats_stream(),
                &[SeatSessionEvent::SeatsHeldForOrder {
                    order_id,
                    user_id: ada,
                    seat_ids: seat_ids.clone(),
                    held_at: now(),
                    held_until: now() + Duration::minutes(10),
                }],
            )
            .unwrap();
        let mut history = vec![OrderEvent::OrderPlaced {
            order_id,
            user_id: ada,
            event_id: world.event_id,
            session_id: world.session_id,
            items: seat_ids
                .iter()
                .map(|s| OrderItem {
                    seat_id: s.clone(),
                    area_id: AreaId::parse("A").unwrap(),
                    category_id: CategoryId::parse("VIP").unwrap(),
                    price: twd(2800),
                })
                .collect(),
            total_amount: twd(5600),
            payment: PaymentInfo {
                payment_id,
                provider: "Mock".into(),
                provider_reference: payment_id.to_string(),
                payment_url: "https://pay.example/".into(),
            },
            placed_at: now(),
            expires_at: now() + Duration::minutes(10),
        }];
        if paid {
            history.push(OrderEvent::PaymentSucceeded {
                payment_id,
                provider_event_id: "evt_1".into(),
                paid_at: now(),
            });
        }
        let order_stream = stream::<Order>(order_id);
        world.store.given::<Order>(&order_stream, &history).unwrap();
        let last = world
            .store
            .all_events()
            .into_iter()
            .rfind(|e| e.stream_id == order_stream)
            .unwrap();
        (order_id, last)
    }

    #[tokio::test]
    async fn given_a_paid_order_when_the_payment_event_arrives_then_seats_are_sold_and_one_ticket_per_seat_is_issued()
     {
        let world = World::new();
        let (order_id, payment) = ordered(&world, true);
        let fulfilment = Fulfilment(world.service.clone());

        fulfilment.handle(&payment).await.unwrap();

        assert!(matches!(
            world.seat_events().last(),
            Some(SeatSessionEvent::SeatsSold { order_id: o, seat_ids, .. })
                if *o == order_id && *seat_ids == vec![seat(SEATS[0]), seat(SEATS[1])]
        ));
        for code in SEATS {
            let ticket_id = TicketId::for_seat(order_id, &seat(code));
            let events = world.store.events::<Ticket>(&stream::<Ticket>(ticket_id));
            assert!(
                matches!(
                    events.as_slice(),
                    [TicketEvent::TicketIssued { seat_id, order_id: o, .. }]
                        if *seat_id == seat(code) && *o == order_id
                ),
                "{code}: {events:?}"
            );
        }
        assert!(matches!(
            world.store.events::<Order>(&stream::<Order>(order_id)).last(),
            Some(OrderEvent::OrderCompleted { ticket_ids, .. }) if ticket_ids.len() == 2
        ));

        // Delivered again (at least once): nothing more is appended.
        let before = world.store.all_events().len();
        fulfilment.handle(&payment).await.unwrap();
        assert_eq!(world.store.all_events().len(), before);
    }

    #[tokio::test]
    async fn an_unpaid_order_is_not_fulfilled() {
        let world = World::new();
        let (order_id, _) = ordered(&world, false);
        let before = world.store.all_events().len();

        world
            .service
            .fulfil_order(order_id, &EventMetadata::default())
            .await
            .unwrap();

        assert_eq!(world.store.all_events().len(), before);
    }
}
