//! A meeting-ticket order (seed 000 §5): its items, its payment and its status.
//!
//! Statuses are the document's Chinese strings ([`OrderStatus::as_str`]):
//!
//! | status | meaning | reached by |
//! | --- | --- | --- |
//! | 待支付 | placed, stock reserved, waiting for payment | `MeetingOrderPlaced` |
//! | 已支付 | paid, tickets issued | `MeetingOrderPaid` from 待支付 (or from 已取消/已过期 when the stock could be taken again) |
//! | 已取消 | cancelled by the buyer, stock returned | `MeetingOrderCancelled` from 待支付 only |
//! | 已过期 | unpaid past `expiresAt`, stock returned | `MeetingOrderExpired` from 待支付 only |
//! | 待退款 | a payment arrived for a cancelled/expired order whose stock is gone: the money must go back | `MeetingOrderRefundRequired` |
//!
//! Payment states only move forward: a second report of the same transaction changes nothing.
//!
//! A paid order's tickets get their ids once, in `MeetingTicketsAllocated`: random ids the
//! application draws (ticket ids are capabilities, never derived from the order id), recorded so
//! that issuing again, or replaying, lands on the same ticket streams.
//!
//! Money is CNY [`Money`]; events store it as integer fen (`ticketPrice`, `totalFen`, `amountFen`,
//! see [`super::fen`]).

use super::{MeetingId, MeetingTicketId, TicketGradeId};
use crate::shared::Money;
use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An order's status; see the module docs for the transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderStatus {
    /// 待支付: waiting for payment.
    #[serde(rename = "待支付")]
    PendingPayment,
    /// 已支付: paid.
    #[serde(rename = "已支付")]
    Paid,
    /// 已取消: cancelled.
    #[serde(rename = "已取消")]
    Cancelled,
    /// 已过期: expired unpaid.
    #[serde(rename = "已过期")]
    Expired,
    /// 待退款: paid too late, to be refunded.
    #[serde(rename = "待退款")]
    RefundPending,
}

impl OrderStatus {
    /// The status as seed 000 spells it (`待支付`, `已支付`, `已取消`, `已过期`, `待退款`), as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "待支付",
            OrderStatus::Paid => "已支付",
            OrderStatus::Cancelled => "已取消",
            OrderStatus::Expired => "已过期",
            OrderStatus::RefundPending => "待退款",
        }
    }

    /// Parse the document's string.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::PendingPayment,
            Self::Paid,
            Self::Cancelled,
            Self::Expired,
            Self::RefundPending,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    /// The meeting's grade this line buys (seed 000 `items[].ticketGradeId`).
    pub ticket_grade_id: TicketGradeId,
    /// The grade's name when ordered.
    pub ticket_grade_name: String,
    /// Unit price (CNY); stored as integer fen.
    #[serde(with = "super::fen")]
    pub ticket_price: Money,
    /// Number of tickets.
    pub ticket_amount: u32,
}

/// One ticket a paid order issues: its id and the grade it admits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllocatedTicket {
    /// The ticket's id (stream `meetingTicket-{ticketId}`): random for orders paid since ids
    /// became unguessable, [`MeetingTicketId::legacy_for_order`] for tickets issued before.
    pub ticket_id: MeetingTicketId,
    /// One of the order's lines' grades.
    pub ticket_grade_id: TicketGradeId,
}

/// The order's facts once placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedOrder {
    /// The buyer, who placed it; tickets are issued to them, and only they or an admin may read it.
    pub user_id: UserId,
    /// The meeting every line's grade belongs to.
    pub meeting_id: MeetingId,
    /// At least one line, in the order the buyer sent them; two lines may name one grade.
    pub items: Vec<OrderItem>,
    /// Payment method id (`wechatpay`, `mock`).
    pub payment_method_id: String,
    /// Total (CNY): the lines' unit prices times their ticket amounts.
    pub total: Money,
    /// When it expires unpaid (UTC).
    pub expires_at: DateTime<Utc>,
    /// When placed (UTC).
    pub placed_at: DateTime<Utc>,
}

/// A meeting-ticket order (stream `meetingOrder-{orderId}`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeetingOrder {
    placed: Option<PlacedOrder>,
    status: Option<OrderStatus>,
    transaction_id: Option<String>,
    out_trade_no: Option<String>,
    tickets: Option<Vec<AllocatedTicket>>,
}

impl MeetingOrder {
    /// The order's facts, once placed.
    pub fn placed(&self) -> Option<&PlacedOrder> {
        self.placed.as_ref()
    }

    /// Current status, once placed.
    pub fn status(&self) -> Option<OrderStatus> {
        self.status
    }

    /// The provider's transaction id, once paid (or refund-pending).
    pub fn transaction_id(&self) -> Option<&str> {
        self.transaction_id.as_deref()
    }

    /// Our trade number at the provider, once a payment was requested.
    pub fn out_trade_no(&self) -> Option<&str> {
        self.out_trade_no.as_deref()
    }

    /// The tickets the paid order issues, once allocated (`MeetingTicketsAllocated`).
    pub fn tickets(&self) -> Option<&[AllocatedTicket]> {
        self.tickets.as_deref()
    }

    fn require(&self) -> Result<(&PlacedOrder, OrderStatus), OrderError> {
        match (&self.placed, self.status) {
            (Some(p), Some(s)) => Ok((p, s)),
            _ => Err(OrderError::NotFound),
        }
    }
}

/// Commands for [`MeetingOrder`].
#[derive(Debug, Clone, PartialEq)]
pub enum OrderCommand {
    /// Place the order (its stock already reserved). Placing it again changes nothing.
    Place {
        /// The order's facts.
        order: PlacedOrder,
    },
    /// Record that a payment was opened with the provider.
    RequestPayment {
        /// `wechatpay` or `mock`.
        provider: String,
        /// Our trade number at the provider.
        out_trade_no: String,
        /// What the client needs to pay (`thirdPartyTransactionInfo`), if anything.
        info: Option<serde_json::Value>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Cancel an unpaid order (`PATCH /orders/:id` with `status: '已取消'`).
    Cancel {
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Expire an unpaid order whose `expiresAt` has passed (deadline); otherwise nothing.
    Expire {
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// A confirmed payment. `stock_sold` says whether the meeting's stock was sold to this order
    /// (always for a pending order; for a cancelled or expired one only if it could be taken
    /// again).
    RecordPayment {
        /// The provider's transaction id.
        transaction_id: String,
        /// Amount paid (CNY).
        amount: Money,
        /// Whether the stock is sold to the order.
        stock_sold: bool,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Name the tickets a paid order issues: one per ticket ordered, each line's grade as many
    /// times as its `ticketAmount`, ids drawn at random by the caller (or, for an order fulfilled
    /// before, the ids its tickets already have). Once allocated, allocating again changes
    /// nothing, whatever ids come with it.
    AllocateTickets {
        /// The tickets, in any order.
        tickets: Vec<AllocatedTicket>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`MeetingOrder`] (docs/event-catalog.md, "Meeting tickets").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum OrderEvent {
    /// The order was placed; status 待支付.
    MeetingOrderPlaced {
        /// The buyer, who placed it.
        user_id: UserId,
        /// The meeting every line's grade belongs to.
        meeting_id: MeetingId,
        /// At least one line, as the buyer sent them; two lines may name one grade.
        items: Vec<OrderItem>,
        /// `wechatpay` or `mock` (seed 000 `paymentMethodId`).
        payment_method_id: String,
        /// Total (CNY), stored as integer fen.
        #[serde(rename = "totalFen", with = "super::fen")]
        total: Money,
        /// Unpaid expiry (UTC).
        expires_at: DateTime<Utc>,
        /// When (UTC).
        placed_at: DateTime<Utc>,
    },
    /// A payment was opened with the provider.
    MeetingPaymentRequested {
        /// `wechatpay` or `mock`.
        provider: String,
        /// Our trade number at the provider.
        out_trade_no: String,
        /// The client's payment parameters, if any.
        third_party_transaction_info: Option<serde_json::Value>,
        /// When (UTC).
        requested_at: DateTime<Utc>,
    },
    /// Paid; status 已支付.
    MeetingOrderPaid {
        /// The provider's transaction id.
        transaction_id: String,
        /// Amount paid (CNY), stored as integer fen.
        #[serde(rename = "amountFen", with = "super::fen")]
        amount: Money,
        /// Whether it was paid after being cancelled or expired.
        late: bool,
        /// When (UTC).
        paid_at: DateTime<Utc>,
    },
    /// Cancelled by the buyer; status 已取消.
    MeetingOrderCancelled {
        /// When (UTC).
        cancelled_at: DateTime<Utc>,
    },
    /// Expired unpaid; status 已过期.
    MeetingOrderExpired {
        /// When (UTC).
        expired_at: DateTime<Utc>,
    },
    /// Money arrived that cannot buy anything; status 待退款.
    MeetingOrderRefundRequired {
        /// The provider's transaction id.
        transaction_id: String,
        /// Amount to give back (CNY), stored as integer fen.
        #[serde(rename = "amountFen", with = "super::fen")]
        amount: Money,
        /// For auditors: `the order was already paid`, or that a late payment found no stock.
        reason: String,
        /// When (UTC).
        recorded_at: DateTime<Utc>,
    },
    /// The paid order's tickets got their ids (issued next, by the issuing process manager).
    MeetingTicketsAllocated {
        /// One per ticket ordered.
        tickets: Vec<AllocatedTicket>,
        /// When (UTC).
        allocated_at: DateTime<Utc>,
    },
}

impl DomainEvent for OrderEvent {}

/// Why an [`OrderCommand`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// No such order.
    #[error("the order does not exist")]
    NotFound,
    /// Only 待支付 orders can be cancelled or asked to pay.
    #[error("the order is {}", .0.as_str())]
    NotPending(OrderStatus),
    /// The paid amount is not the order's total.
    #[error("paid {} CNY, the order is {} CNY", paid.amount(), total.amount())]
    AmountMismatch {
        /// Paid (CNY).
        paid: Money,
        /// Due (CNY).
        total: Money,
    },
    /// Tickets are allocated only to a paid (已支付) order; this one has the status.
    #[error("the order is {}, it issues no tickets", .0.as_str())]
    NotPaid(OrderStatus),
    /// The allocated tickets are not one per ticket ordered (per grade), or an id repeats.
    #[error("the tickets do not match the order's lines one to one")]
    TicketsMismatch,
}

impl Decider for MeetingOrder {
    const CATEGORY: &'static str = "meetingOrder";
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = OrderError;

    fn decide(&self, command: &OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
        use OrderCommand as C;
        use OrderEvent as E;
        use OrderStatus as S;
        if let C::Place { order } = command {
            if self.placed.is_some() {
                return Ok(Vec::new());
            }
            return Ok(vec![E::MeetingOrderPlaced {
                user_id: order.user_id,
                meeting_id: order.meeting_id,
                items: order.items.clone(),
                payment_method_id: order.payment_method_id.clone(),
                total: order.total,
                expires_at: order.expires_at,
                placed_at: order.placed_at,
            }]);
        }
        let (placed, status) = self.require()?;
        match command {
            C::Place { .. } => Ok(Vec::new()),
            C::RequestPayment {
                provider,
                out_trade_no,
                info,
                now,
            } => {
                if status != S::PendingPayment {
                    return Err(OrderError::NotPending(status));
                }
                Ok(vec![E::MeetingPaymentRequested {
                    provider: provider.clone(),
                    out_trade_no: out_trade_no.clone(),
                    third_party_transaction_info: info.clone(),
                    requested_at: *now,
                }])
            }
            C::Cancel { now } => match status {
                S::PendingPayment => Ok(vec![E::MeetingOrderCancelled { cancelled_at: *now }]),
                S::Cancelled => Ok(Vec::new()),
                other => Err(OrderError::NotPending(other)),
            },
            C::Expire { now } => Ok(
                if status == S::PendingPayment && *now >= placed.expires_at {
                    vec![E::MeetingOrderExpired { expired_at: *now }]
                } else {
                    Vec::new()
                },
            ),
            C::RecordPayment {
                transaction_id,
                amount,
                stock_sold,
                now,
            } => {
                if self.transaction_id.as_deref() == Some(transaction_id.as_str()) {
                    return Ok(Vec::new());
                }
                if *amount != placed.total {
                    return Err(OrderError::AmountMismatch {
                        paid: *amount,
                        total: placed.total,
                    });
                }
                let refund = |reason: &str| E::MeetingOrderRefundRequired {
                    transaction_id: transaction_id.clone(),
                    amount: *amount,
                    reason: reason.to_owned(),
                    recorded_at: *now,
                };
                Ok(vec![match status {
                    S::Paid | S::RefundPending => refund("the order was already paid"),
                    _ if !stock_sold => refund(
                        "paid after the order was cancelled or expired and its tickets were sold out",
                    ),
                    _ => E::MeetingOrderPaid {
                        transaction_id: transaction_id.clone(),
                        amount: *amount,
                        late: status != S::PendingPayment,
                        paid_at: *now,
                    },
                }])
            }
            C::AllocateTickets { tickets, now } => {
                if self.tickets.is_some() {
                    return Ok(Vec::new());
                }
                if status != S::Paid {
                    return Err(OrderError::NotPaid(status));
                }
                if !one_per_ticket_ordered(&placed.items, tickets) {
                    return Err(OrderError::TicketsMismatch);
                }
                Ok(vec![E::MeetingTicketsAllocated {
                    tickets: tickets.clone(),
                    allocated_at: *now,
                }])
            }
        }
    }

    fn evolve(mut self, event: &OrderEvent) -> Self {
        use OrderEvent as E;
        match event {
            E::MeetingOrderPlaced {
                user_id,
                meeting_id,
                items,
                payment_method_id,
                total,
                expires_at,
                placed_at,
            } => {
                self.placed = Some(PlacedOrder {
                    user_id: *user_id,
                    meeting_id: *meeting_id,
                    items: items.clone(),
                    payment_method_id: payment_method_id.clone(),
                    total: *total,
                    expires_at: *expires_at,
                    placed_at: *placed_at,
                });
                self.status = Some(OrderStatus::PendingPayment);
            }
            E::MeetingPaymentRequested { out_trade_no, .. } => {
                self.out_trade_no = Some(out_trade_no.clone());
            }
            E::MeetingOrderPaid { transaction_id, .. } => {
                self.status = Some(OrderStatus::Paid);
                self.transaction_id = Some(transaction_id.clone());
            }
            E::MeetingOrderCancelled { .. } => self.status = Some(OrderStatus::Cancelled),
            E::MeetingOrderExpired { .. } => self.status = Some(OrderStatus::Expired),
            E::MeetingOrderRefundRequired { transaction_id, .. } => {
                // A refund for a second payment of a paid order leaves it paid.
                if self.status != Some(OrderStatus::Paid) {
                    self.status = Some(OrderStatus::RefundPending);
                    self.transaction_id = Some(transaction_id.clone());
                }
            }
            E::MeetingTicketsAllocated { tickets, .. } => {
                if self.tickets.is_none() {
                    self.tickets = Some(tickets.clone());
                }
            }
        }
        self
    }
}

/// Whether `tickets` hold each line's grade exactly as many times as the lines order it, with no
/// id twice.
fn one_per_ticket_ordered(items: &[OrderItem], tickets: &[AllocatedTicket]) -> bool {
    use std::collections::{BTreeMap, BTreeSet};
    let mut wanted: BTreeMap<TicketGradeId, u64> = BTreeMap::new();
    for item in items {
        *wanted.entry(item.ticket_grade_id).or_default() += u64::from(item.ticket_amount);
    }
    let mut got: BTreeMap<TicketGradeId, u64> = BTreeMap::new();
    for t in tickets {
        *got.entry(t.ticket_grade_id).or_default() += 1;
    }
    let ids: BTreeSet<MeetingTicketId> = tickets.iter().map(|t| t.ticket_id).collect();
    wanted == got && ids.len() == tickets.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;
    use uuid::Uuid;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap_or_default()
    }
    fn fen(n: i64) -> Money {
        super::super::fen::money(n).unwrap()
    }
    fn placed() -> OrderEvent {
        OrderEvent::MeetingOrderPlaced {
            user_id: UserId::from_uuid(Uuid::from_u128(1)),
            meeting_id: MeetingId::from_uuid(Uuid::from_u128(2)),
            items: vec![OrderItem {
                ticket_grade_id: TicketGradeId::from_uuid(Uuid::from_u128(3)),
                ticket_grade_name: "普通票".into(),
                ticket_price: fen(9900),
                ticket_amount: 2,
            }],
            payment_method_id: "wechatpay".into(),
            total: fen(19800),
            expires_at: t(900),
            placed_at: t(0),
        }
    }
    fn pay(txn: &str, stock_sold: bool) -> OrderCommand {
        OrderCommand::RecordPayment {
            transaction_id: txn.into(),
            amount: fen(19800),
            stock_sold,
            now: t(10),
        }
    }
    fn paid(txn: &str, late: bool) -> OrderEvent {
        OrderEvent::MeetingOrderPaid {
            transaction_id: txn.into(),
            amount: fen(19800),
            late,
            paid_at: t(10),
        }
    }

    #[test]
    fn only_pending_orders_cancel() {
        given::<MeetingOrder>([placed()])
            .when(OrderCommand::Cancel { now: t(1) })
            .then([OrderEvent::MeetingOrderCancelled { cancelled_at: t(1) }]);
        given::<MeetingOrder>([placed(), paid("w1", false)])
            .when(OrderCommand::Cancel { now: t(1) })
            .then_err(OrderError::NotPending(OrderStatus::Paid));
        given::<MeetingOrder>([])
            .when(OrderCommand::Cancel { now: t(1) })
            .then_err(OrderError::NotFound);
    }

    #[test]
    fn expiry_waits_for_expires_at() {
        given::<MeetingOrder>([placed()])
            .when(OrderCommand::Expire { now: t(899) })
            .then([]);
        given::<MeetingOrder>([placed()])
            .when(OrderCommand::Expire { now: t(900) })
            .then([OrderEvent::MeetingOrderExpired { expired_at: t(900) }]);
    }

    #[test]
    fn payments_move_forward_once() {
        given::<MeetingOrder>([placed()])
            .when(pay("w1", true))
            .then([paid("w1", false)]);
        given::<MeetingOrder>([placed(), paid("w1", false)])
            .when(pay("w1", true))
            .then([]);
        given::<MeetingOrder>([placed()])
            .when(OrderCommand::RecordPayment {
                transaction_id: "w1".into(),
                amount: fen(1),
                stock_sold: true,
                now: t(10),
            })
            .then_err(OrderError::AmountMismatch {
                paid: fen(1),
                total: fen(19800),
            });
    }

    #[test]
    fn late_payments_sell_if_stock_remains_else_need_a_refund() {
        let expired = OrderEvent::MeetingOrderExpired { expired_at: t(900) };
        given::<MeetingOrder>([placed(), expired.clone()])
            .when(pay("w1", true))
            .then([paid("w1", true)]);
        let state = MeetingOrder::replay(&[placed(), expired.clone()]);
        let events = state.decide(&pay("w1", false)).unwrap_or_default();
        assert!(matches!(
            events.as_slice(),
            [OrderEvent::MeetingOrderRefundRequired { .. }]
        ));
        let state = events.iter().fold(state, |s, e| s.evolve(e));
        assert_eq!(state.status(), Some(OrderStatus::RefundPending));
        assert_eq!(state.decide(&pay("w1", false)), Ok(Vec::new()));
    }

    fn ticket(n: u128, grade: u128) -> AllocatedTicket {
        AllocatedTicket {
            ticket_id: MeetingTicketId::from_uuid(Uuid::from_u128(n)),
            ticket_grade_id: TicketGradeId::from_uuid(Uuid::from_u128(grade)),
        }
    }
    fn allocate(tickets: Vec<AllocatedTicket>) -> OrderCommand {
        OrderCommand::AllocateTickets {
            tickets,
            now: t(11),
        }
    }

    #[test]
    fn a_paid_order_allocates_one_ticket_id_per_ticket_once() {
        let two = vec![ticket(100, 3), ticket(101, 3)];
        let allocated = OrderEvent::MeetingTicketsAllocated {
            tickets: two.clone(),
            allocated_at: t(11),
        };
        given::<MeetingOrder>([placed(), paid("w1", false)])
            .when(allocate(two.clone()))
            .then([allocated.clone()]);
        // Again, with other ids: the first allocation stands.
        given::<MeetingOrder>([placed(), paid("w1", false), allocated.clone()])
            .when(allocate(vec![ticket(200, 3), ticket(201, 3)]))
            .then([]);
        let state = MeetingOrder::replay(&[placed(), paid("w1", false), allocated]);
        assert_eq!(state.tickets(), Some(two.as_slice()));
        given::<MeetingOrder>([placed()])
            .when(allocate(two))
            .then_err(OrderError::NotPaid(OrderStatus::PendingPayment));
    }

    #[test]
    fn allocated_tickets_match_the_lines() {
        for wrong in [
            vec![ticket(100, 3)],
            vec![ticket(100, 3), ticket(101, 3), ticket(102, 3)],
            vec![ticket(100, 3), ticket(101, 9)],
            vec![ticket(100, 3), ticket(100, 3)],
        ] {
            given::<MeetingOrder>([placed(), paid("w1", false)])
                .when(allocate(wrong))
                .then_err(OrderError::TicketsMismatch);
        }
    }

    #[test]
    fn statuses_round_trip_as_the_documents_strings() {
        for s in ["待支付", "已支付", "已取消", "已过期", "待退款"] {
            assert_eq!(OrderStatus::parse(s).map(OrderStatus::as_str), Some(s));
        }
        assert_eq!(OrderStatus::parse("paid"), None);
    }
}
