//! The `data` of the meeting-ticket events these projectors read, exactly as docs/event-catalog.md
//! lists them (camelCase fields; money in fen as integers; instants as RFC 3339 UTC strings). Our
//! own structs, so that the read side depends on the stored contract rather than on the domain's
//! types. Unknown fields are ignored: a later event version that adds fields does not break
//! projection. The aggregate's id is in the stream id, not in the data (except for tickets).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

/// `MeetingCreated`, first event of `meeting-{meetingId}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MeetingCreated {
    pub organizer_id: Uuid,
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub location: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// `MeetingTicketGradeAdded`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TicketGradeAdded {
    pub ticket_grade_id: Uuid,
    pub name: String,
    pub price_fen: i64,
    pub stock: i64,
    pub added_at: DateTime<Utc>,
}

/// `MeetingTicketGradeChanged`: the grade's values after the change.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TicketGradeChanged {
    pub ticket_grade_id: Uuid,
    pub name: String,
    pub price_fen: i64,
    pub stock: i64,
    pub changed_at: DateTime<Utc>,
}

/// `MeetingSalesOpened`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SalesOpened {
    pub opened_at: DateTime<Utc>,
}

/// `MeetingSalesClosed`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SalesClosed {
    pub closed_at: DateTime<Utc>,
}

/// `{ticketGradeId, amount}`: what one order takes of one grade.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StockLine {
    pub ticket_grade_id: Uuid,
    pub amount: i64,
}

/// `MeetingStockReserved`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StockReserved {
    pub order_id: Uuid,
    pub lines: Vec<StockLine>,
    pub reserved_at: DateTime<Utc>,
}

/// `MeetingStockReleased` (`reason`, `cancelled` or `expired`, is informational here: every release
/// returns the order's held lines).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StockReleased {
    pub order_id: Uuid,
    pub released_at: DateTime<Utc>,
}

/// `MeetingStockSold`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StockSold {
    pub order_id: Uuid,
    pub lines: Vec<StockLine>,
    #[serde(default)]
    pub retaken: bool,
    pub sold_at: DateTime<Utc>,
}

/// A line of `MeetingOrderPlaced` (`ticketPrice` in fen).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderItemData {
    pub ticket_grade_id: Uuid,
    pub ticket_grade_name: String,
    pub ticket_price: i64,
    pub ticket_amount: i64,
}

/// `MeetingOrderPlaced`, first event of `meetingOrder-{orderId}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MeetingOrderPlaced {
    pub user_id: Uuid,
    pub meeting_id: Uuid,
    pub items: Vec<OrderItemData>,
    pub payment_method_id: String,
    pub total_fen: i64,
    pub expires_at: DateTime<Utc>,
    pub placed_at: DateTime<Utc>,
}

/// `MeetingPaymentRequested`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MeetingPaymentRequested {
    pub provider: String,
    pub out_trade_no: String,
    #[serde(default)]
    pub third_party_transaction_info: Option<serde_json::Value>,
    pub requested_at: DateTime<Utc>,
}

/// `MeetingOrderPaid` (`amountFen` equals the order's total: the domain refuses any other).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MeetingOrderPaid {
    pub transaction_id: String,
    #[serde(default)]
    pub late: bool,
    pub paid_at: DateTime<Utc>,
}

/// `MeetingOrderCancelled`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MeetingOrderCancelled {
    pub cancelled_at: DateTime<Utc>,
}

/// `MeetingOrderExpired`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MeetingOrderExpired {
    pub expired_at: DateTime<Utc>,
}

/// `MeetingOrderRefundRequired`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MeetingOrderRefundRequired {
    pub transaction_id: String,
    pub amount_fen: i64,
    pub reason: String,
    pub recorded_at: DateTime<Utc>,
}

/// `MeetingTicketIssued`, first event of `meetingTicket-{ticketId}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MeetingTicketIssued {
    pub ticket_id: Uuid,
    pub order_id: Uuid,
    pub meeting_id: Uuid,
    pub ticket_grade_id: Uuid,
    pub owner_id: Uuid,
    pub issued_at: DateTime<Utc>,
}

/// `{name, phone}` of `MeetingParticipantAssigned`.
#[derive(Debug, Deserialize)]
pub(crate) struct ParticipantData {
    pub name: String,
    pub phone: String,
}

/// `MeetingParticipantAssigned`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ParticipantAssigned {
    pub participant: ParticipantData,
    pub assigned_by: Uuid,
    pub assigned_at: DateTime<Utc>,
}

/// `WechatTokenVerified` on `wechatAccount-{uuid v5 of the openid}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WechatTokenVerified {
    pub wechat_id: String,
    pub token_hash: String,
    pub verified_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// `UserRegisteredWithPhone` on `user-{userId}` (only what the WeChat tokens projector needs).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserRegisteredWithPhone {
    pub user_id: Uuid,
    pub wechat_id: String,
}
