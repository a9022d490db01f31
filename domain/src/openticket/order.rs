//! Order (seed 003 §6): placed from seats the buyer holds locked, paid through a provider, then
//! completed when its tickets are issued; or cancelled / expired while unpaid. Payment notices are
//! deduplicated on the provider's event id and payment states only move forward; a payment after
//! cancellation or expiry is recorded as needing a refund (its seats may have been resold).

use super::{AreaId, CategoryId, EventId, Money, OrderId, PaymentId, SeatId, SessionId, TicketId};
use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Order status (§6.2 `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderStatus {
    /// Placed, unpaid.
    Created,
    /// Paid, tickets not issued yet.
    Paid,
    /// Paid and ticketed.
    Completed,
    /// Cancelled unpaid.
    Cancelled,
    /// Not paid in time.
    Expired,
}

/// One seat of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    /// The seat bought, as the venue's seat map names it (e.g. `A-001`).
    pub seat_id: SeatId,
    /// The seat's area in the seat map, e.g. `A`.
    pub area_id: AreaId,
    /// The category that priced it.
    pub category_id: CategoryId,
    /// Its price when ordered.
    pub price: Money,
}

/// The payment attempt of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentInfo {
    /// Tessera's id of the attempt.
    pub payment_id: PaymentId,
    /// `Mock` or `Stripe`.
    pub provider: String,
    /// The provider's id (Stripe `cs_…`).
    pub provider_reference: String,
    /// Where the payer pays.
    pub payment_url: String,
}

/// What a provider reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Money collected.
    Succeeded,
    /// The provider declined or gave up; the order stays `Created`, so the payer may try again.
    Failed {
        /// The provider's reason as reported, e.g. `the checkout session expired`.
        reason: String,
    },
}

/// Commands of an order.
#[derive(Debug, Clone)]
pub enum OrderCommand {
    /// Place a new order.
    Place {
        /// The new order's id (made by the caller), also in its stream id.
        order_id: OrderId,
        /// The buyer: the signed-in user whose locked seats are ordered.
        user_id: UserId,
        /// The event the session belongs to.
        event_id: EventId,
        /// The session whose seats are ordered.
        session_id: SessionId,
        /// Seats with prices.
        items: Vec<OrderItem>,
        /// Payment attempt.
        payment: PaymentInfo,
        /// Current time (UTC), recorded as `placedAt`.
        now: DateTime<Utc>,
        /// When it expires unpaid (UTC): placed + `TESSERA_ORDER_TTL_SECS` (10 minutes by default).
        expires_at: DateTime<Utc>,
    },
    /// Apply a provider's payment notice.
    RecordPayment {
        /// The attempt it is about.
        payment_id: PaymentId,
        /// The provider's event id (dedupe key).
        provider_event_id: String,
        /// What happened.
        outcome: PaymentOutcome,
        /// Current time (UTC), recorded as `paidAt` or `failedAt`.
        now: DateTime<Utc>,
    },
    /// Tickets issued: complete a paid order.
    Complete {
        /// Ticket per seat.
        tickets: Vec<(SeatId, TicketId)>,
        /// Current time (UTC), recorded as `completedAt`.
        now: DateTime<Utc>,
    },
    /// Cancel an unpaid order.
    Cancel {
        /// The buyer or an admin cancelling it.
        by: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// The expiry deadline fired: expire the order if it is still unpaid at `now`, else nothing.
    Expire {
        /// Current time (UTC); before `expiresAt` nothing happens.
        now: DateTime<Utc>,
    },
}

/// A seat's ticket in `OrderCompleted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatTicket {
    /// The seat, as in the order's items.
    pub seat_id: SeatId,
    /// Its ticket: [`TicketId::for_seat`] of the order and the seat.
    pub ticket_id: TicketId,
}

/// Events of `openticketOrder-{orderId}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum OrderEvent {
    /// The order was placed from seats its buyer held locked; status `Created`.
    #[serde(rename = "OpenTicketOrderPlaced")]
    OrderPlaced {
        /// The order's id, also in the stream id.
        order_id: OrderId,
        /// The buyer, who held the seats locked.
        user_id: UserId,
        /// The event the session belongs to.
        event_id: EventId,
        /// The session whose seats are ordered.
        session_id: SessionId,
        /// One per seat, at least one, all in one currency.
        items: Vec<OrderItem>,
        /// Sum of the items.
        total_amount: Money,
        /// The payment opened with the provider (one per order).
        payment: PaymentInfo,
        /// When it was placed (UTC).
        placed_at: DateTime<Utc>,
        /// When it expires unpaid (UTC).
        expires_at: DateTime<Utc>,
    },
    /// The provider reported the payment; status `Paid`, tickets follow.
    #[serde(rename = "OpenTicketPaymentSucceeded")]
    PaymentSucceeded {
        /// The order's payment attempt ([`PaymentInfo::payment_id`]).
        payment_id: PaymentId,
        /// The provider's event id (`evt_…`); a second notice with it changes nothing.
        provider_event_id: String,
        /// When the notice was recorded (UTC), not the provider's own time.
        paid_at: DateTime<Utc>,
    },
    /// An attempt failed (the order stays open).
    #[serde(rename = "OpenTicketPaymentFailed")]
    PaymentFailed {
        /// The order's payment attempt.
        payment_id: PaymentId,
        /// The provider's event id; a second notice with it changes nothing.
        provider_event_id: String,
        /// The provider's reason as reported, e.g. `the payment was declined`.
        reason: String,
        /// When the notice was recorded (UTC).
        failed_at: DateTime<Utc>,
    },
    /// Paid after cancellation or expiry: refund needed.
    #[serde(rename = "OpenTicketLatePaymentReceived")]
    LatePaymentReceived {
        /// The order's payment attempt.
        payment_id: PaymentId,
        /// The provider's event id; a second notice with it changes nothing.
        provider_event_id: String,
        /// When the notice was recorded (UTC).
        paid_at: DateTime<Utc>,
        /// Always true.
        refund_required: bool,
    },
    /// Tickets issued.
    #[serde(rename = "OpenTicketOrderCompleted")]
    OrderCompleted {
        /// Ticket per seat.
        ticket_ids: Vec<SeatTicket>,
        /// When the tickets were issued (UTC).
        completed_at: DateTime<Utc>,
    },
    /// Cancelled unpaid by its buyer or an admin; status `Cancelled`, the seats go back on sale.
    #[serde(rename = "OpenTicketOrderCancelled")]
    OrderCancelled {
        /// The buyer or an admin who cancelled it.
        cancelled_by: UserId,
        /// When it was cancelled (UTC).
        cancelled_at: DateTime<Utc>,
    },
    /// Expired unpaid.
    #[serde(rename = "OpenTicketOrderExpired")]
    OrderExpired {
        /// When the expiry deadline found it unpaid (UTC).
        expired_at: DateTime<Utc>,
    },
}

impl DomainEvent for OrderEvent {}

/// Why an order command was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OrderError {
    /// No such order.
    #[error("the order does not exist")]
    NotFound,
    /// Exists already.
    #[error("the order exists already")]
    AlreadyExists,
    /// No seats.
    #[error("an order needs at least one seat")]
    NoItems,
    /// Items in several currencies.
    #[error("all items must be in one currency")]
    MixedCurrencies,
    /// The notice names another payment attempt.
    #[error("the payment does not belong to this order")]
    UnknownPayment,
    /// Not allowed in this state.
    #[error("the order is {0:?}")]
    InvalidState(OrderStatus),
}

/// The placed order's facts.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderData {
    /// The order's id (stream `openticketOrder-{orderId}`).
    pub order_id: OrderId,
    /// The buyer; only they or an admin may see or cancel it.
    pub user_id: UserId,
    /// The event the session belongs to.
    pub event_id: EventId,
    /// The session whose seats are ordered.
    pub session_id: SessionId,
    /// One per seat, at least one, all in one currency.
    pub items: Vec<OrderItem>,
    /// Sum of the items' prices, in their currency.
    pub total_amount: Money,
    /// The payment opened with the provider (one per order).
    pub payment: PaymentInfo,
    /// When it was placed (UTC).
    pub placed_at: DateTime<Utc>,
    /// When it expires unpaid (UTC).
    pub expires_at: DateTime<Utc>,
}

/// An order (stream `openticketOrder-{orderId}`); the default is one not placed yet.
#[derive(Debug, Clone, Default)]
pub struct Order {
    /// Set once placed.
    pub data: Option<OrderData>,
    /// Status (meaningful once placed).
    pub status: Option<OrderStatus>,
    /// Provider event ids seen.
    pub seen: HashSet<String>,
    /// When paid (UTC), on time or late.
    pub paid_at: Option<DateTime<Utc>>,
    /// When cancelled (UTC).
    pub cancelled_at: Option<DateTime<Utc>>,
    /// A late payment needs a refund.
    pub refund_required: bool,
}

impl Decider for Order {
    const CATEGORY: &'static str = "openticketOrder";
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = OrderError;

    fn decide(&self, command: &OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
        if let OrderCommand::Place {
            order_id,
            user_id,
            event_id,
            session_id,
            items,
            payment,
            now,
            expires_at,
        } = command
        {
            if self.data.is_some() {
                return Err(OrderError::AlreadyExists);
            }
            let first = items.first().ok_or(OrderError::NoItems)?;
            let mut total = Money::zero(first.price.currency());
            for item in items {
                total = total
                    .checked_add(&item.price)
                    .map_err(|_| OrderError::MixedCurrencies)?;
            }
            return Ok(vec![OrderEvent::OrderPlaced {
                order_id: *order_id,
                user_id: *user_id,
                event_id: *event_id,
                session_id: *session_id,
                items: items.clone(),
                total_amount: total,
                payment: payment.clone(),
                placed_at: *now,
                expires_at: *expires_at,
            }]);
        }
        let (Some(data), Some(status)) = (&self.data, self.status) else {
            return Err(OrderError::NotFound);
        };
        match command {
            OrderCommand::Place { .. } => Err(OrderError::AlreadyExists),
            OrderCommand::RecordPayment {
                payment_id,
                provider_event_id,
                outcome,
                now,
            } => {
                if *payment_id != data.payment.payment_id {
                    return Err(OrderError::UnknownPayment);
                }
                if self.seen.contains(provider_event_id) {
                    return Ok(Vec::new());
                }
                let provider_event_id = provider_event_id.clone();
                Ok(match (status, outcome) {
                    (OrderStatus::Created, PaymentOutcome::Succeeded) => {
                        vec![OrderEvent::PaymentSucceeded {
                            payment_id: *payment_id,
                            provider_event_id,
                            paid_at: *now,
                        }]
                    }
                    (OrderStatus::Created, PaymentOutcome::Failed { reason }) => {
                        vec![OrderEvent::PaymentFailed {
                            payment_id: *payment_id,
                            provider_event_id,
                            reason: reason.clone(),
                            failed_at: *now,
                        }]
                    }
                    (OrderStatus::Cancelled | OrderStatus::Expired, PaymentOutcome::Succeeded)
                        if !self.refund_required =>
                    {
                        vec![OrderEvent::LatePaymentReceived {
                            payment_id: *payment_id,
                            provider_event_id,
                            paid_at: *now,
                            refund_required: true,
                        }]
                    }
                    _ => Vec::new(),
                })
            }
            OrderCommand::Complete { tickets, now } => match status {
                OrderStatus::Paid => Ok(vec![OrderEvent::OrderCompleted {
                    ticket_ids: tickets
                        .iter()
                        .map(|(seat_id, ticket_id)| SeatTicket {
                            seat_id: seat_id.clone(),
                            ticket_id: *ticket_id,
                        })
                        .collect(),
                    completed_at: *now,
                }]),
                OrderStatus::Completed => Ok(Vec::new()),
                other => Err(OrderError::InvalidState(other)),
            },
            OrderCommand::Cancel { by, now } => match status {
                OrderStatus::Created => Ok(vec![OrderEvent::OrderCancelled {
                    cancelled_by: *by,
                    cancelled_at: *now,
                }]),
                OrderStatus::Cancelled => Ok(Vec::new()),
                other => Err(OrderError::InvalidState(other)),
            },
            OrderCommand::Expire { now } => {
                if status == OrderStatus::Created && *now >= data.expires_at {
                    Ok(vec![OrderEvent::OrderExpired { expired_at: *now }])
                } else {
                    Ok(Vec::new())
                }
            }
        }
    }

    fn evolve(mut self, event: &OrderEvent) -> Self {
        match event {
            OrderEvent::OrderPlaced {
                order_id,
                user_id,
                event_id,
                session_id,
                items,
                total_amount,
                payment,
                placed_at,
                expires_at,
            } => {
                self.data = Some(OrderData {
                    order_id: *order_id,
                    user_id: *user_id,
                    event_id: *event_id,
                    session_id: *session_id,
                    items: items.clone(),
                    total_amount: *total_amount,
                    payment: payment.clone(),
                    placed_at: *placed_at,
                    expires_at: *expires_at,
                });
                self.status = Some(OrderStatus::Created);
            }
            OrderEvent::PaymentSucceeded {
                provider_event_id,
                paid_at,
                ..
            } => {
                self.seen.insert(provider_event_id.clone());
                self.status = Some(OrderStatus::Paid);
                self.paid_at = Some(*paid_at);
            }
            OrderEvent::PaymentFailed {
                provider_event_id, ..
            } => {
                self.seen.insert(provider_event_id.clone());
            }
            OrderEvent::LatePaymentReceived {
                provider_event_id,
                paid_at,
                ..
            } => {
                self.seen.insert(provider_event_id.clone());
                self.refund_required = true;
                self.paid_at = Some(*paid_at);
            }
            OrderEvent::OrderCompleted { .. } => self.status = Some(OrderStatus::Completed),
            OrderEvent::OrderCancelled { cancelled_at, .. } => {
                self.status = Some(OrderStatus::Cancelled);
                self.cancelled_at = Some(*cancelled_at);
            }
            OrderEvent::OrderExpired { .. } => self.status = Some(OrderStatus::Expired),
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openticket::Currency;
    use crate::testing::given;
    use rust_decimal::Decimal;

    fn id<T: From<uuid::Uuid>>(n: u128) -> T {
        T::from(uuid::Uuid::from_u128(n))
    }
    fn placed() -> OrderEvent {
        let price = Money::new(Decimal::from(4800), Currency::parse("TWD").unwrap()).unwrap();
        OrderEvent::OrderPlaced {
            order_id: id(1),
            user_id: id(2),
            event_id: id(3),
            session_id: id(4),
            items: vec![OrderItem {
                seat_id: SeatId::parse("A-001").unwrap(),
                area_id: AreaId::parse("A").unwrap(),
                category_id: CategoryId::parse("A").unwrap(),
                price,
            }],
            total_amount: price,
            payment: PaymentInfo {
                payment_id: id(5),
                provider: "Mock".into(),
                provider_reference: "x".into(),
                payment_url: "http://x".into(),
            },
            placed_at: DateTime::UNIX_EPOCH,
            expires_at: DateTime::UNIX_EPOCH + chrono::Duration::minutes(10),
        }
    }
    fn pay(evt: &str) -> OrderCommand {
        OrderCommand::RecordPayment {
            payment_id: id(5),
            provider_event_id: evt.into(),
            outcome: PaymentOutcome::Succeeded,
            now: DateTime::UNIX_EPOCH,
        }
    }
    fn succeeded(evt: &str) -> OrderEvent {
        OrderEvent::PaymentSucceeded {
            payment_id: id(5),
            provider_event_id: evt.into(),
            paid_at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn payments_are_deduplicated_and_move_forward() {
        given::<Order>([placed()])
            .when(pay("evt_1"))
            .then([succeeded("evt_1")]);
        given::<Order>([placed(), succeeded("evt_1")])
            .when(pay("evt_1"))
            .then([]);
        given::<Order>([placed(), succeeded("evt_1")])
            .when(pay("evt_2"))
            .then([]);
        given::<Order>([placed(), succeeded("evt_1")])
            .when(OrderCommand::RecordPayment {
                payment_id: id(5),
                provider_event_id: "evt_3".into(),
                outcome: PaymentOutcome::Failed {
                    reason: "late".into(),
                },
                now: DateTime::UNIX_EPOCH,
            })
            .then([]);
        given::<Order>([placed()])
            .when(OrderCommand::RecordPayment {
                payment_id: id(6),
                provider_event_id: "evt_1".into(),
                outcome: PaymentOutcome::Succeeded,
                now: DateTime::UNIX_EPOCH,
            })
            .then_err(OrderError::UnknownPayment);
        given::<Order>([])
            .when(pay("evt_1"))
            .then_err(OrderError::NotFound);
    }

    #[test]
    fn late_payment_needs_a_refund() {
        let expired = OrderEvent::OrderExpired {
            expired_at: DateTime::UNIX_EPOCH,
        };
        given::<Order>([placed(), expired.clone()])
            .when(pay("evt_9"))
            .then([OrderEvent::LatePaymentReceived {
                payment_id: id(5),
                provider_event_id: "evt_9".into(),
                paid_at: DateTime::UNIX_EPOCH,
                refund_required: true,
            }]);
        given::<Order>([placed(), expired])
            .when(OrderCommand::Complete {
                tickets: vec![],
                now: DateTime::UNIX_EPOCH,
            })
            .then_err(OrderError::InvalidState(OrderStatus::Expired));
    }

    #[test]
    fn only_unpaid_orders_cancel_or_expire() {
        let cancel = || OrderCommand::Cancel {
            by: id(2),
            now: DateTime::UNIX_EPOCH,
        };
        given::<Order>([placed(), succeeded("e")])
            .when(cancel())
            .then_err(OrderError::InvalidState(OrderStatus::Paid));
        given::<Order>([placed()])
            .when(OrderCommand::Expire {
                now: DateTime::UNIX_EPOCH,
            })
            .then([]);
        given::<Order>([placed(), succeeded("e")])
            .when(OrderCommand::Expire {
                now: DateTime::UNIX_EPOCH + chrono::Duration::hours(1),
            })
            .then([]);
        let (t, data) = placed().to_stored().unwrap();
        assert_eq!(t, "OpenTicketOrderPlaced");
        assert_eq!(
            data["totalAmount"],
            serde_json::json!({"amount": "4800", "currency": "TWD"})
        );
        assert_eq!(data["payment"]["paymentUrl"], "http://x");
    }
}
