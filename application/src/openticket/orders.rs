//! Orders (seed 003 §6.1, §6.3): place an order for seats the buyer holds locked (open a checkout
//! with the payment provider, then hold the seats with the order's expiry deadline and write the
//! order in one atomic commit), cancel an unpaid order (order and seats in one commit), and the
//! order-expiry deadline handler (likewise).

use super::OpenTicketService;
use super::deadlines::{deadline_meta, payload_id};
use super::error::{OpenTicketError, Resource, SeatRequestError, order_refusal, seat_refusal};
use crate::command::CommandRunner;
use crate::deadlines::{Deadline, DeadlineHandler, NewDeadline};
use crate::event_store::EventMetadata;
use crate::payments::CheckoutRequest;
use crate::process::HandlerError;
use async_trait::async_trait;
use std::sync::Arc;
use tessera_domain::UserId;
use tessera_domain::openticket::order::{
    Order, OrderCommand, OrderData, OrderItem, OrderStatus, PaymentInfo,
};
use tessera_domain::openticket::seat_session::{ReleaseReason, SeatSession, SeatSessionCommand};
use tessera_domain::openticket::{OrderId, PaymentId, SessionId};
use tessera_domain::shared::Money;
use uuid::Uuid;

/// Deadline kind: an unpaid order's time passed. Payload `{"orderId", "sessionId"}` (UUID
/// strings).
pub const ORDER_EXPIRY: &str = "openticket.order-expiry";

/// The placed order's facts; [`Resource::Order`] when it was never placed.
pub(super) fn placed(order: &Order, order_id: OrderId) -> Result<&OrderData, OpenTicketError> {
    order
        .data
        .as_ref()
        .ok_or(OpenTicketError::NotFound(Resource::Order(order_id)))
}

impl OpenTicketService {
    /// An order (for ownership checks); [`Resource::Order`] when it was never placed.
    pub async fn order(&self, order_id: OrderId) -> Result<Order, OpenTicketError> {
        let stream = CommandRunner::stream::<Order>(order_id)?;
        let (order, _) = self.runner.load::<Order>(&stream).await?;
        placed(&order, order_id)?;
        Ok(order)
    }

    /// `POST /orders` (§6.1): price the caller's locked seats, open a checkout with the provider,
    /// then hold the seats (with the order's expiry deadline, [`ORDER_EXPIRY`]) and write the
    /// order in one atomic commit. Returns the order and the position the commit reached. `provider` is a key of the gateways
    /// (see [`OpenTicketService::providers`]).
    pub async fn place_order(
        &self,
        user: UserId,
        session_id: SessionId,
        raw_seats: &[String],
        provider: &str,
        meta: &EventMetadata,
    ) -> Result<(Order, Option<u64>), OpenTicketError> {
        let gateway = self.gateways.get(provider).cloned().ok_or_else(|| {
            OpenTicketError::UnknownProvider {
                provider: provider.to_owned(),
                offered: self.providers(),
            }
        })?;
        self.check_count(raw_seats)?;
        let opened = self.open_session(session_id).await?;
        let (venue, seat_ids) = self.venue_seats(&opened, raw_seats).await?;
        let event_id = opened.event_id;
        let event = self.event(event_id).await?;
        let mut items = Vec::with_capacity(seat_ids.len());
        for (index, seat) in seat_ids.iter().enumerate() {
            let (area, _) = venue
                .seat(seat)
                .ok_or_else(|| SeatRequestError::UnknownSeat {
                    index,
                    seat: seat.to_string(),
                })?;
            let category = event.category_for_area(&area.area_id).ok_or_else(|| {
                SeatRequestError::NotForSale {
                    index,
                    seat: seat.clone(),
                }
            })?;
            items.push(OrderItem {
                seat_id: seat.clone(),
                area_id: area.area_id.clone(),
                category_id: category.category_id.clone(),
                price: category.price,
            });
        }
        let now = self.clock.now();
        // Check the seats are the caller's before asking a provider for anything.
        let probe = SeatSessionCommand::HoldForOrder {
            order_id: OrderId::from_uuid(Uuid::nil()),
            user_id: user,
            seat_ids: seat_ids.clone(),
            now,
            until: now,
        };
        self.runner
            .check::<SeatSession>(&CommandRunner::stream::<SeatSession>(session_id)?, &probe)
            .await
            .map_err(|e| e.map_rejected(|e| seat_refusal(session_id, e)))?;

        let order_id = OrderId::from_uuid(Uuid::new_v4());
        let payment_id = PaymentId::from_uuid(Uuid::new_v4());
        let mut total = Money::zero(items[0].price.currency());
        for item in &items {
            total = total
                .checked_add(&item.price)
                .map_err(OpenTicketError::Money)?;
        }
        let checkout = gateway
            .create_checkout(&CheckoutRequest {
                order_id: order_id.as_uuid(),
                payment_id: payment_id.as_uuid(),
                amount_minor: total.to_minor_units().map_err(OpenTicketError::Money)?,
                currency: total.currency().to_string(),
                description: format!("{} × {}", event.name, items.len()),
            })
            .await?;
        let expires_at = now + self.settings.order_ttl;
        let hold = SeatSessionCommand::HoldForOrder {
            order_id,
            user_id: user,
            seat_ids: seat_ids.clone(),
            now,
            until: expires_at,
        };
        let deadline = NewDeadline {
            deadline_id: Uuid::now_v7(),
            kind: ORDER_EXPIRY.into(),
            due_at: expires_at,
            payload: serde_json::json!({ "orderId": order_id, "sessionId": session_id }),
        };
        let place = OrderCommand::Place {
            order_id,
            user_id: user,
            event_id,
            session_id,
            items,
            payment: PaymentInfo {
                payment_id,
                provider: gateway.provider().to_owned(),
                provider_reference: checkout.provider_reference,
                payment_url: checkout.payment_url,
            },
            now,
            expires_at,
        };
        // The hold, its expiry deadline and the order commit together or not at all.
        let mut atomic = self.runner.atomic(meta);
        let seats =
            atomic.stream::<SeatSession>(&CommandRunner::stream::<SeatSession>(session_id)?);
        let order = atomic.stream::<Order>(&CommandRunner::stream::<Order>(order_id)?);
        let committed = atomic
            .run(|d| {
                d.decide(seats, &hold)
                    .map_err(|e| e.map_rejected(|e| seat_refusal(session_id, e)))?;
                d.schedule(seats, vec![deadline.clone()])?;
                d.decide(order, &place)
                    .map_err(|e| e.map_rejected(|e| order_refusal(order_id, e)))?;
                Ok::<_, OpenTicketError>(d.state(order)?.clone())
            })
            .await?;
        let position = committed.position();
        Ok((committed.value, position))
    }

    /// `DELETE /orders/{id}` (§6.3): cancel an unpaid order (the owner's, or any for an admin;
    /// someone else's is [`Resource::Order`] not found) and free its seats, in one atomic commit.
    /// Returns the order and the position the commit reached.
    pub async fn cancel_order(
        &self,
        user: UserId,
        is_admin: bool,
        order_id: OrderId,
        meta: &EventMetadata,
    ) -> Result<(Order, Option<u64>), OpenTicketError> {
        let existing = self.order(order_id).await?;
        let data = placed(&existing, order_id)?;
        if data.user_id != user && !is_admin {
            return Err(OpenTicketError::NotFound(Resource::Order(order_id)));
        }
        let session_id = data.session_id;
        let now = self.clock.now();
        let release = SeatSessionCommand::ReleaseOrder {
            order_id,
            reason: ReleaseReason::OrderCancelled,
            now,
        };
        // The cancellation and the freed seats commit together or not at all.
        let mut atomic = self.runner.atomic(meta);
        let order = atomic.stream::<Order>(&CommandRunner::stream::<Order>(order_id)?);
        let seats =
            atomic.stream::<SeatSession>(&CommandRunner::stream::<SeatSession>(session_id)?);
        let committed = atomic
            .run(|d| {
                d.decide(order, &OrderCommand::Cancel { by: user, now })
                    .map_err(|e| e.map_rejected(|e| order_refusal(order_id, e)))?;
                d.decide(seats, &release)
                    .map_err(|e| e.map_rejected(|e| seat_refusal(session_id, e)))?;
                Ok::<_, OpenTicketError>(d.state(order)?.clone())
            })
            .await?;
        let position = committed.position();
        Ok((committed.value, position))
    }

    /// The order-expiry deadline: expire the order if still unpaid and free its seats (one atomic
    /// commit); nothing for a paid order. An order that was never written (a hold left by a crash
    /// in a version without atomic commits) also frees its seats. Before
    /// the order's expiry by this clock it is [`OpenTicketError::OrderNotDue`], so the scheduler
    /// tries again.
    pub async fn expire_order(
        &self,
        order_id: OrderId,
        session_id: SessionId,
    ) -> Result<(), OpenTicketError> {
        let meta = deadline_meta();
        let now = self.clock.now();
        let release = SeatSessionCommand::ReleaseOrder {
            order_id,
            reason: ReleaseReason::OrderExpired,
            now,
        };
        // The expiry and the freed seats commit together or not at all.
        let mut atomic = self.runner.atomic(&meta);
        let order = atomic.stream::<Order>(&CommandRunner::stream::<Order>(order_id)?);
        let seats =
            atomic.stream::<SeatSession>(&CommandRunner::stream::<SeatSession>(session_id)?);
        atomic
            .run(|d| {
                if d.state(order)?.data.is_some() {
                    d.decide(order, &OrderCommand::Expire { now })
                        .map_err(|e| e.map_rejected(|e| order_refusal(order_id, e)))?;
                }
                match d.state(order)?.status {
                    Some(OrderStatus::Paid | OrderStatus::Completed) => return Ok(()),
                    Some(OrderStatus::Created) => {
                        return Err(OpenTicketError::OrderNotDue(order_id));
                    }
                    // Expired or cancelled, or never written (a hold left by a crash before the
                    // atomic commit existed): free the seats.
                    _ => {}
                }
                d.decide(seats, &release)
                    .map_err(|e| e.map_rejected(|e| seat_refusal(session_id, e)))?;
                Ok(())
            })
            .await?;
        Ok(())
    }
}

/// Fires [`ORDER_EXPIRY`] deadlines through [`OpenTicketService::expire_order`].
pub struct OrderExpiry(pub Arc<OpenTicketService>);

#[async_trait]
impl DeadlineHandler for OrderExpiry {
    async fn fire(&self, deadline: &Deadline) -> Result<(), HandlerError> {
        let order: OrderId = payload_id(deadline, "orderId")?;
        let session: SessionId = payload_id(deadline, "sessionId")?;
        Ok(self.0.expire_order(order, session).await?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::deadlines::DeadlineStore;
    use crate::openticket::testing::{World, meta, now, raw, seat, twd, user};
    use chrono::Duration;
    use tessera_domain::openticket::LockId;
    use tessera_domain::openticket::order::OrderEvent;
    use tessera_domain::openticket::seat_session::SeatSessionEvent;

    /// Given: `who` holds a live lock on `seats` (stored as history, so no lock deadline exists).
    fn locked(world: &World, who: UserId, seats: &[&str]) {
        world
            .store
            .given::<SeatSession>(
                &world.seats_stream(),
                &[SeatSessionEvent::SeatsLocked {
                    lock_id: LockId::from_uuid(Uuid::from_u128(0x400)),
                    user_id: who,
                    seat_ids: seats.iter().map(|s| seat(s)).collect(),
                    locked_at: now(),
                    expires_at: now() + Duration::seconds(120),
                }],
            )
            .unwrap();
    }

    #[tokio::test]
    async fn given_locked_seats_when_the_holder_orders_them_then_they_are_held_and_the_order_expiry_is_stored()
     {
        let world = World::new();
        let ada = user(1);
        locked(&world, ada, &["A-001", "A-002"]);
        assert_eq!(world.store.pending_count().await.unwrap(), 0);

        let (order, position) = world
            .service
            .place_order(
                ada,
                world.session_id,
                &raw(&["A-001", "A-002"]),
                "Mock",
                &meta(),
            )
            .await
            .unwrap();

        let data = order.data.as_ref().unwrap();
        assert_eq!(order.status, Some(OrderStatus::Created));
        assert_eq!(data.total_amount, twd(5600));
        assert_eq!(data.expires_at, now() + Duration::minutes(10));
        assert!(position.is_some());
        assert!(matches!(
            world.seat_events().last(),
            Some(SeatSessionEvent::SeatsHeldForOrder { order_id, seat_ids, .. })
                if *order_id == data.order_id && *seat_ids == vec![seat("A-001"), seat("A-002")]
        ));
        // The order's expiry deadline was stored with the hold, due at the order's expiry.
        assert_eq!(world.store.pending_count().await.unwrap(), 1);
        let early = world
            .store
            .due_deadlines(data.expires_at - Duration::seconds(1), 10)
            .await
            .unwrap();
        assert!(early.is_empty());
        let due = world
            .store
            .due_deadlines(data.expires_at, 10)
            .await
            .unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].kind, ORDER_EXPIRY);
        assert_eq!(
            due[0].payload["orderId"],
            serde_json::json!(data.order_id.to_string())
        );
    }

    #[tokio::test]
    async fn given_another_users_lock_when_someone_orders_the_seats_then_nothing_is_held() {
        let world = World::new();
        locked(&world, user(1), &["A-001"]);

        let refused = world
            .service
            .place_order(user(2), world.session_id, &raw(&["A-001"]), "Mock", &meta())
            .await;

        assert!(matches!(
            refused,
            Err(OpenTicketError::SeatsUnavailable(ref seats)) if seats[0].seat_id == seat("A-001")
        ));
        assert_eq!(world.store.pending_count().await.unwrap(), 0);
        assert_eq!(world.seat_events().len(), 1);
    }

    #[tokio::test]
    async fn given_a_placed_order_when_its_expiry_fires_then_it_expires_and_its_seats_are_free() {
        let world = World::new();
        let ada = user(1);
        locked(&world, ada, &["A-001"]);
        let (order, _) = world
            .service
            .place_order(ada, world.session_id, &raw(&["A-001"]), "Mock", &meta())
            .await
            .unwrap();
        let order_id = order.data.as_ref().unwrap().order_id;
        let deadline = world
            .store
            .due_deadlines(now() + Duration::minutes(10), 10)
            .await
            .unwrap()
            .remove(0);

        // Fired early (another clock ran ahead): refused, so the scheduler tries again.
        let early = world.service.expire_order(order_id, world.session_id).await;
        assert!(matches!(early, Err(OpenTicketError::OrderNotDue(id)) if id == order_id));

        world.clock.advance(Duration::minutes(10));
        OrderExpiry(world.service.clone())
            .fire(&deadline)
            .await
            .unwrap();

        let order_events = world
            .store
            .events::<Order>(&CommandRunner::stream::<Order>(order_id).unwrap());
        assert!(matches!(
            order_events.last(),
            Some(OrderEvent::OrderExpired { .. })
        ));
        assert!(matches!(
            world.seat_events().last(),
            Some(SeatSessionEvent::SeatsReleased { reason: ReleaseReason::OrderExpired, seat_ids, .. })
                if *seat_ids == vec![seat("A-001")]
        ));
    }
}
