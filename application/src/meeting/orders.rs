//! Orders (seed 000 §5): place an order (its stock reserved with the expiry deadline and the order
//! written in one atomic commit), cancel an unpaid one (order and stock in one commit), and expire
//! it when its deadline fires ([`MeetingOrderExpiry`]). Cancelling and expiring return the stock.

use super::{MEETING_ORDER_EXPIRY, MeetingService, MeetingServiceError, Missing, is_admin};
use crate::command::CommandRunner;
use crate::deadlines::{Deadline, DeadlineHandler, NewDeadline};
use crate::event_store::EventMetadata;
use crate::process::HandlerError;
use async_trait::async_trait;
use std::sync::Arc;
use tessera_domain::UserId;
use tessera_domain::identity::Role;
use tessera_domain::meeting::order::{
    MeetingOrder, OrderCommand, OrderItem, OrderStatus, PlacedOrder,
};
use tessera_domain::meeting::{
    Meeting, MeetingCommand, MeetingId, MeetingOrderId, PricedLine, TicketGradeId,
};
use tessera_domain::shared::{Currency, Money};
use uuid::Uuid;

/// One order line as the buyer sends it (already parsed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderLineInput {
    /// The grade ordered (one of the meeting's).
    pub ticket_grade_id: TicketGradeId,
    /// The unit price the buyer saw (CNY); it must be the grade's current price.
    pub ticket_price: Money,
    /// How many tickets (1–[`super::MAX_TICKETS_PER_LINE`], checked by the caller).
    pub ticket_amount: u32,
}

/// An order as the buyer places it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// The meeting whose grades the lines name.
    pub meeting_id: MeetingId,
    /// `wechatpay` or `mock` ([`super::MeetingService::payment_methods`]).
    pub payment_method_id: String,
    /// The lines (1–[`super::MAX_ORDER_LINES`], checked by the caller).
    pub lines: Vec<OrderLineInput>,
    /// The buyer's WeChat openid, when registered through WeChat (WeChat Pay needs it).
    pub payer_openid: Option<String>,
}

impl MeetingService {
    /// `POST /orders` (§5): reserve every line's stock (with the expiry deadline) and write the
    /// order in one atomic commit, then for WeChat Pay open a JSAPI order whose parameters the order
    /// then carries.
    ///
    /// Errors: `UnsupportedPaymentMethod`, `WechatUserRequired`, `NotFound(Meeting)`,
    /// `Meeting(NotOnSale | EmptyOrder | UnknownGrade { index } | PriceMismatch { index, .. } |
    /// NoStock { remaining })`, `Engine`. A failing WeChat Pay is logged, not returned: the order
    /// stays 待支付 and `POST /transactions` opens the payment again.
    pub async fn place_order(
        &self,
        buyer: UserId,
        order: NewOrder,
        meta: &EventMetadata,
    ) -> Result<(MeetingOrderId, Option<u64>), MeetingServiceError> {
        let method = order.payment_method_id.as_str();
        if !self.payment_methods().iter().any(|m| m.id() == method) {
            return Err(MeetingServiceError::UnsupportedPaymentMethod(
                order.payment_method_id,
            ));
        }
        if method == super::WECHAT_PAY && order.payer_openid.is_none() {
            return Err(MeetingServiceError::WechatUserRequired);
        }
        let meeting_stream = CommandRunner::stream::<Meeting>(order.meeting_id)?;
        let (meeting, _) = self.runner.load::<Meeting>(&meeting_stream).await?;
        if !meeting.exists() {
            return Err(MeetingServiceError::NotFound(Missing::Meeting));
        }
        // Random, not time-ordered: the id is what the buyer acts on.
        let order_id = MeetingOrderId::from_uuid(Uuid::new_v4());
        let now = self.now();
        let expires_at = now + self.settings.order_ttl;
        let reserve = MeetingCommand::ReserveStock {
            order_id,
            lines: order
                .lines
                .iter()
                .map(|l| PricedLine {
                    ticket_grade_id: l.ticket_grade_id,
                    ticket_price: l.ticket_price,
                    amount: l.ticket_amount,
                })
                .collect(),
            now,
        };
        let deadline = NewDeadline {
            deadline_id: Uuid::now_v7(),
            kind: MEETING_ORDER_EXPIRY.into(),
            due_at: expires_at,
            payload: serde_json::json!({ "orderId": order_id, "meetingId": order.meeting_id }),
        };
        let order_stream = CommandRunner::stream::<MeetingOrder>(order_id)?;
        // The reservation, its expiry deadline and the order commit together or not at all
        // (docs/decisions/0009-multi-stream-append.md).
        let mut atomic = self.runner.atomic(meta);
        let stock = atomic.stream::<Meeting>(&meeting_stream);
        let placing = atomic.stream::<MeetingOrder>(&order_stream);
        let committed = atomic
            .run(|d| {
                d.decide(stock, &reserve)
                    .map_err(|e| e.map_rejected(MeetingServiceError::from))?;
                d.schedule(stock, vec![deadline.clone()])?;
                let reserved = d.state(stock)?;
                let mut items = Vec::with_capacity(order.lines.len());
                let mut total = Money::zero(Currency::CNY);
                for l in &order.lines {
                    let name = reserved
                        .grade(l.ticket_grade_id)
                        .map(|g| g.name.clone())
                        .unwrap_or_default();
                    total = l
                        .ticket_price
                        .checked_mul(l.ticket_amount)
                        .and_then(|line| total.checked_add(&line))
                        .map_err(MeetingServiceError::Amount)?;
                    items.push(OrderItem {
                        ticket_grade_id: l.ticket_grade_id,
                        ticket_grade_name: name,
                        ticket_price: l.ticket_price,
                        ticket_amount: l.ticket_amount,
                    });
                }
                let title = reserved.info().map(|i| i.title.clone()).unwrap_or_default();
                let place = OrderCommand::Place {
                    order: PlacedOrder {
                        user_id: buyer,
                        meeting_id: order.meeting_id,
                        items,
                        payment_method_id: order.payment_method_id.clone(),
                        total,
                        expires_at,
                        placed_at: now,
                    },
                };
                d.decide(placing, &place)
                    .map_err(|e| e.map_rejected(MeetingServiceError::from))?;
                Ok::<_, MeetingServiceError>((d.state(placing)?.clone(), title))
            })
            .await?;
        let mut position = committed.position();
        let (placed, title) = committed.value;
        match self
            .request_payment(
                order_id,
                &placed,
                &title,
                order.payer_openid.as_deref(),
                meta,
            )
            .await
        {
            Ok(p) => position = p.or(position),
            Err(e) => {
                tracing::warn!(%order_id, error = %e, "could not open the payment; the order stays unpaid")
            }
        }
        Ok((order_id, position))
    }

    /// Run `command` on an order; the append's position, if it wrote.
    pub(super) async fn order_command(
        &self,
        order_id: MeetingOrderId,
        command: &OrderCommand,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, MeetingServiceError> {
        let stream = CommandRunner::stream::<MeetingOrder>(order_id)?;
        let decided = self
            .runner
            .run::<MeetingOrder>(&stream, command, meta)
            .await
            .map_err(|e| e.map_rejected(MeetingServiceError::from))?;
        Ok(decided.position())
    }

    /// `actor`'s order, or `NotFound(Order)` (also for another user's order, unless `roles` hold
    /// admin).
    pub async fn owned_order(
        &self,
        actor: UserId,
        roles: &[Role],
        order_id: MeetingOrderId,
    ) -> Result<MeetingOrder, MeetingServiceError> {
        let order = self.order(order_id).await?;
        match order.placed() {
            Some(p) if p.user_id == actor || is_admin(roles) => Ok(order),
            _ => Err(MeetingServiceError::NotFound(Missing::Order)),
        }
    }

    /// `PATCH /orders/:id` with `status: '已取消'`: cancel an unpaid order and return its stock, in
    /// one atomic commit.
    ///
    /// Errors: `NotFound(Order)`, `Order(NotPending(status))` when it is not 待支付, `Engine`.
    pub async fn cancel_order(
        &self,
        actor: UserId,
        roles: &[Role],
        order_id: MeetingOrderId,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, MeetingServiceError> {
        let order = self.owned_order(actor, roles, order_id).await?;
        let meeting_id = order
            .placed()
            .map(|p| p.meeting_id)
            .ok_or(MeetingServiceError::NotFound(Missing::Order))?;
        let now = self.now();
        let release = MeetingCommand::ReleaseStock {
            order_id,
            reason: "cancelled".into(),
            now,
        };
        // The cancellation and the returned stock commit together or not at all.
        let mut atomic = self.runner.atomic(meta);
        let cancelling =
            atomic.stream::<MeetingOrder>(&CommandRunner::stream::<MeetingOrder>(order_id)?);
        let stock = atomic.stream::<Meeting>(&CommandRunner::stream::<Meeting>(meeting_id)?);
        let committed = atomic
            .run(|d| {
                d.decide(cancelling, &OrderCommand::Cancel { now })
                    .map_err(|e| e.map_rejected(MeetingServiceError::from))?;
                d.decide(stock, &release)
                    .map_err(|e| e.map_rejected(MeetingServiceError::from))?;
                Ok::<_, MeetingServiceError>(())
            })
            .await?;
        Ok(committed.position())
    }

    /// The order-expiry deadline: return the stock of an order that is still unpaid at its
    /// `expiresAt` (also when the order was never written) and mark the order expired, in one
    /// atomic commit, so an order that reads 已过期 never still holds stock and a payment racing
    /// with the expiry finds either both changes or neither (see
    /// [`MeetingService::record_payment`]).
    pub async fn expire_order(
        &self,
        order_id: MeetingOrderId,
        meeting_id: MeetingId,
    ) -> Result<(), MeetingServiceError> {
        let meta = deadline_meta();
        let now = self.now();
        let release = MeetingCommand::ReleaseStock {
            order_id,
            reason: "expired".into(),
            now,
        };
        let mut atomic = self.runner.atomic(&meta);
        let expiring =
            atomic.stream::<MeetingOrder>(&CommandRunner::stream::<MeetingOrder>(order_id)?);
        let stock = atomic.stream::<Meeting>(&CommandRunner::stream::<Meeting>(meeting_id)?);
        atomic
            .run(|d| {
                let order = d.state(expiring)?;
                let pending = order.status() == Some(OrderStatus::PendingPayment);
                let due = match (order.status(), order.placed()) {
                    (Some(OrderStatus::PendingPayment), Some(p)) => now >= p.expires_at,
                    (None, _) => true,
                    // Paid, cancelled (stock already returned) or already expired.
                    _ => matches!(order.status(), Some(OrderStatus::Expired)),
                };
                if !due {
                    return Ok(());
                }
                d.decide(stock, &release)
                    .map_err(|e| e.map_rejected(MeetingServiceError::from))?;
                if pending {
                    d.decide(expiring, &OrderCommand::Expire { now })
                        .map_err(|e| e.map_rejected(MeetingServiceError::from))?;
                }
                Ok::<_, MeetingServiceError>(())
            })
            .await?;
        Ok(())
    }
}

/// Metadata of what a deadline does: `{"trigger": "deadline"}`.
fn deadline_meta() -> EventMetadata {
    let mut meta = EventMetadata::default();
    meta.extra
        .insert("trigger".into(), serde_json::json!("deadline"));
    meta
}

/// Why a [`MEETING_ORDER_EXPIRY`] deadline's payload was unusable.
#[derive(Debug, thiserror::Error)]
#[error("meeting order-expiry deadline payload has no {0} UUID")]
pub struct ExpiryPayloadError(&'static str);

/// Fires [`MEETING_ORDER_EXPIRY`] deadlines through [`MeetingService::expire_order`].
pub struct MeetingOrderExpiry(pub Arc<MeetingService>);

#[async_trait]
impl DeadlineHandler for MeetingOrderExpiry {
    async fn fire(&self, deadline: &Deadline) -> Result<(), HandlerError> {
        let get = |key: &'static str| {
            deadline.payload[key]
                .as_str()
                .and_then(|s| s.parse::<Uuid>().ok())
                .ok_or(ExpiryPayloadError(key))
        };
        let order = MeetingOrderId::from_uuid(get("orderId")?);
        let meeting = MeetingId::from_uuid(get("meetingId")?);
        Ok(self.0.expire_order(order, meeting).await?)
    }
}
