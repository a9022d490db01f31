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
    /// Seat.
    pub seat_id: SeatId,
    /// Its area.
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
    /// The attempt failed.
    Failed {
        /// Why.
        reason: String,
    },
}

/// Commands of an order.
#[derive(Debug, Clone)]
pub enum OrderCommand {
    /// Place a new order.
    Place {
        /// Id.
        order_id: OrderId,
        /// Buyer.
        user_id: UserId,
        /// Event.
        event_id: EventId,
        /// Session.
        session_id: SessionId,
        /// Seats with prices.
        items: Vec<OrderItem>,
        /// Payment attempt.
        payment: PaymentInfo,
        /// Now.
        now: DateTime<Utc>,
        /// Unpaid expiry.
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
        /// Now.
        now: DateTime<Utc>,
    },
    /// Tickets issued: complete a paid order.
    Complete {
        /// Ticket per seat.
        tickets: Vec<(SeatId, TicketId)>,
        /// Now.
        now: DateTime<Utc>,
    },
    /// Cancel an unpaid order.
    Cancel {
        /// Who.
        by: UserId,
        /// Now.
        now: DateTime<Utc>,
    },
    /// The expiry deadline.
    Expire {
        /// Now.
        now: DateTime<Utc>,
    },
}

/// A seat's ticket in `OrderCompleted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatTicket {
    /// Seat.
    pub seat_id: SeatId,
    /// Its ticket.
    pub ticket_id: TicketId,
}

/// Events of `openticketOrder-{orderId}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum OrderEvent {
    /// Placed.
    #[serde(rename = "OpenTicketOrderPlaced")]
    OrderPlaced {
        /// Id.
        order_id: OrderId,
        /// Buyer.
        user_id: UserId,
        /// Event.
        event_id: EventId,
        /// Session.
        session_id: SessionId,
        /// Items.
        items: Vec<OrderItem>,
        /// Sum of the items.
        total_amount: Money,
        /// Payment attempt.
        payment: PaymentInfo,
        /// When.
        placed_at: DateTime<Utc>,
        /// Unpaid expiry.
        expires_at: DateTime<Utc>,
    },
    /// Paid.
    #[serde(rename = "OpenTicketPaymentSucceeded")]
    PaymentSucceeded {
        /// Attempt.
        payment_id: PaymentId,
        /// Provider event id.
        provider_event_id: String,
        /// When.
        paid_at: DateTime<Utc>,
    },
    /// An attempt failed (the order stays open).
    #[serde(rename = "OpenTicketPaymentFailed")]
    PaymentFailed {
        /// Attempt.
        payment_id: PaymentId,
        /// Provider event id.
        provider_event_id: String,
        /// Why.
        reason: String,
        /// When.
        failed_at: DateTime<Utc>,
    },
    /// Paid after cancellation or expiry: refund needed.
    #[serde(rename = "OpenTicketLatePaymentReceived")]
    LatePaymentReceived {
        /// Attempt.
        payment_id: PaymentId,
        /// Provider event id.
        provider_event_id: String,
        /// When.
        paid_at: DateTime<Utc>,
        /// Always true.
        refund_required: bool,
    },
    /// Tickets issued.
    #[serde(rename = "OpenTicketOrderCompleted")]
    OrderCompleted {
        /// Ticket per seat.
        ticket_ids: Vec<SeatTicket>,
        /// When.
        completed_at: DateTime<Utc>,
    },
    /// Cancelled.
    #[serde(rename = "OpenTicketOrderCancelled")]
    OrderCancelled {
        /// Who.
        cancelled_by: UserId,
        /// When.
        cancelled_at: DateTime<Utc>,
    },
    /// Expired unpaid.
    #[serde(rename = "OpenTicketOrderExpired")]
    OrderExpired {
        /// When.
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
    /// Id.
    pub order_id: OrderId,
    /// Buyer.
    pub user_id: UserId,
    /// Event.
    pub event_id: EventId,
    /// Session.
    pub session_id: SessionId,
    /// Items.
    pub items: Vec<OrderItem>,
    /// Total.
    pub total_amount: Money,
    /// Payment attempt.
    pub payment: PaymentInfo,
    /// Placed at.
    pub placed_at: DateTime<Utc>,
    /// Unpaid expiry.
    pub expires_at: DateTime<Utc>,
}

/// The order aggregate.
#[derive(Debug, Clone, Default)]
pub struct Order {
    /// Set once placed.
    pub data: Option<OrderData>,
    /// Status (meaningful once placed).
    pub status: Option<OrderStatus>,
    /// Provider event ids seen.
    pub seen: HashSet<String>,
    /// When paid.
    pub paid_at: Option<DateTime<Utc>>,
    /// When cancelled.
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
