//! What the meeting-ticket queries return: plain rows of the `mt_` read models, one field per
//! column (ids parsed into UUIDs, JSON documents parsed, nothing else changed). They carry no wire
//! format: the api layer (`api/src/meeting/views.rs`) turns them into seed 000's JSON bodies.
//!
//! Money stays as stored, an integer number of **fen** (CNY minor units, 1 yuan = 100 fen) in
//! fields named `*_fen`; instants are UTC.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A row of `mt_meetings` with its rows of `mt_ticket_grades` (seed 000 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingRow {
    /// Key of `mt_meetings`.
    pub meeting_id: Uuid,
    /// The organizer who created it.
    pub organizer_id: Uuid,
    /// As the organizer wrote it.
    pub title: String,
    /// Description (may be empty).
    pub description: String,
    /// Where it takes place (may be empty).
    pub location: String,
    /// Start (UTC).
    pub start_time: DateTime<Utc>,
    /// End (UTC).
    pub end_time: DateTime<Utc>,
    /// Sales status: `draft`, `onSale` or `closed`.
    pub status: String,
    /// When it was created (UTC).
    pub created_at: DateTime<Utc>,
    /// Its ticket grades, in the order they were added.
    pub grades: Vec<TicketGradeRow>,
}

/// A row of `mt_ticket_grades`: a grade's price and its stock counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketGradeRow {
    /// Key of the grade within its meeting.
    pub ticket_grade_id: Uuid,
    /// Name (e.g. 普通票).
    pub name: String,
    /// Current price of one ticket, in fen.
    pub price_fen: i64,
    /// Total tickets of the grade.
    pub stock: i64,
    /// Tickets reserved by unpaid orders.
    pub held: i64,
    /// Tickets sold to paid orders.
    pub sold: i64,
}

/// A row of `mt_orders` with its rows of `mt_order_items` (seed 000 §5).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRow {
    /// Key of `mt_orders`.
    pub order_id: Uuid,
    /// User id of the buyer.
    pub user_id: Uuid,
    /// Id of the meeting every line is for.
    pub meeting_id: Uuid,
    /// Payment method id (`wechatpay`, `mock`).
    pub payment_method_id: String,
    /// The amount due, in fen.
    pub total_fen: i64,
    /// 待支付, 已支付, 已取消, 已过期 or 待退款.
    pub status: String,
    /// When it expires unless paid (UTC).
    pub expires_at: DateTime<Utc>,
    /// When it was placed (UTC).
    pub created_at: DateTime<Utc>,
    /// When it was paid (UTC), if it was.
    pub paid_at: Option<DateTime<Utc>>,
    /// The payment provider's transaction id: of the payment (已支付), or of the payment to refund
    /// (待退款).
    pub transaction_id: Option<String>,
    /// What the client passes to the payment provider (WeChat Pay's JSAPI parameters), exactly as
    /// the last payment request stored it; `None` before a payment was requested or when the
    /// method needs none.
    pub third_party_transaction_info: Option<serde_json::Value>,
    /// Amount to give back, in fen, when a payment must be refunded.
    pub refund_amount_fen: Option<i64>,
    /// Why the payment must be refunded.
    pub refund_reason: Option<String>,
    /// One item per order line, in the order the buyer gave them.
    pub items: Vec<OrderItemRow>,
}

/// A row of `mt_order_items`: one order line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItemRow {
    /// Ticket grade id.
    pub ticket_grade_id: Uuid,
    /// The grade's name when ordered.
    pub ticket_grade_name: String,
    /// Price of one ticket when ordered, in fen.
    pub ticket_price_fen: i64,
    /// Number of tickets.
    pub ticket_amount: i64,
    /// The meeting (the order's).
    pub meeting_id: Uuid,
}

/// A row of `mt_tickets` with its grade's current name (seed 000 §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketRow {
    /// Key of `mt_tickets`.
    pub ticket_id: Uuid,
    /// The order that bought it.
    pub order_id: Uuid,
    /// Id of the meeting it admits to.
    pub meeting_id: Uuid,
    /// Ticket grade id.
    pub ticket_grade_id: Uuid,
    /// The grade's current name (empty if the catalog projection has not seen the grade yet).
    pub ticket_grade_name: String,
    /// User id of the buyer.
    pub owner_id: Uuid,
    /// The attendee's name, once named.
    pub participant_name: Option<String>,
    /// The attendee's mainland mobile number (11 digits), once named.
    pub participant_phone: Option<String>,
    /// When it was issued (UTC).
    pub issued_at: DateTime<Utc>,
    /// When the attendee was named (UTC).
    pub claimed_at: Option<DateTime<Utc>>,
}
