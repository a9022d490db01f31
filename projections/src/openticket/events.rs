//! The `data` of the OpenTicket events these projectors read, exactly as docs/event-catalog.md
//! lists them (camelCase fields). Our own structs, so that the read side depends on the stored
//! contract rather than on the domain's types. Unknown fields are ignored: a later event version
//! that adds fields does not break projection.

use super::views::{Address, SeatMapArea};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use uuid::Uuid;

/// `{"amount": "4800", "currency": "TWD"}`: a decimal string (a JSON number is accepted too).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MoneyData {
    pub amount: Decimal,
    pub currency: String,
}

/// `OpenTicketVenueCreated` on `openticketVenue-{venueId}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VenueCreated {
    pub venue_id: Uuid,
    pub seat_map_id: Uuid,
    pub name: String,
    pub address: Address,
    pub capacity: i64,
    pub areas: Vec<SeatMapArea>,
    #[serde(default)]
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// `OpenTicketEventCreated` on `openticketEvent-{eventId}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventCreated {
    pub event_id: Uuid,
    pub organizer_id: Uuid,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub venue_id: Uuid,
    pub venue_name: String,
    pub sessions: Vec<SessionData>,
    pub price_categories: Vec<PriceCategoryData>,
    pub created_at: DateTime<Utc>,
}

/// A session inside `OpenTicketEventCreated`. Times stay strings: they are shown exactly as the
/// organizer wrote them (offset kept), and parsed separately for the UTC instant.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionData {
    pub session_id: Uuid,
    pub start_time: String,
    pub end_time: String,
    pub sale_start_time: String,
    pub sale_end_time: String,
}

/// A price category inside `OpenTicketEventCreated`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PriceCategoryData {
    pub category_id: String,
    pub name: String,
    pub area_ids: Vec<String>,
    pub price: MoneyData,
}

/// `OpenTicketSessionOpened`, first event of `openticketSeatSession-{sessionId}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionOpened {
    pub session_id: Uuid,
    pub event_id: Uuid,
    pub venue_id: Uuid,
    pub opened_at: DateTime<Utc>,
}

/// `OpenTicketSeatsLocked`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SeatsLocked {
    pub lock_id: Uuid,
    pub user_id: Uuid,
    pub seat_ids: Vec<String>,
    pub locked_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// `OpenTicketSeatsReleased` (`reason` is informational here: every release frees the seats).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SeatsReleased {
    pub seat_ids: Vec<String>,
    pub released_at: DateTime<Utc>,
}

/// `OpenTicketSeatsHeldForOrder`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SeatsHeldForOrder {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub seat_ids: Vec<String>,
    pub held_at: DateTime<Utc>,
    pub held_until: DateTime<Utc>,
}

/// `OpenTicketSeatsSold`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SeatsSold {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub seat_ids: Vec<String>,
    pub sold_at: DateTime<Utc>,
}

/// `OpenTicketOrderPlaced` on `openticketOrder-{orderId}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderPlaced {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub session_id: Uuid,
    pub items: Vec<OrderItemData>,
    pub total_amount: MoneyData,
    pub payment: PaymentData,
    pub placed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// An item of `OpenTicketOrderPlaced`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderItemData {
    pub seat_id: String,
    pub area_id: String,
    pub category_id: String,
    pub price: MoneyData,
}

/// The payment of `OpenTicketOrderPlaced`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PaymentData {
    pub payment_id: Uuid,
    pub provider: String,
    #[serde(default)]
    pub provider_reference: Option<String>,
    #[serde(default)]
    pub payment_url: Option<String>,
}

/// `OpenTicketPaymentSucceeded`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PaymentSucceeded {
    pub paid_at: DateTime<Utc>,
}

/// `OpenTicketPaymentFailed`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PaymentFailed {
    #[serde(default)]
    pub reason: Option<String>,
    pub failed_at: DateTime<Utc>,
}

/// `OpenTicketLatePaymentReceived`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LatePaymentReceived {
    pub paid_at: DateTime<Utc>,
}

/// `OpenTicketOrderCompleted`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderCompleted {
    pub ticket_ids: Vec<SeatTicket>,
    pub completed_at: DateTime<Utc>,
}

/// `{seatId, ticketId}` of `OpenTicketOrderCompleted`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SeatTicket {
    pub seat_id: String,
    pub ticket_id: Uuid,
}

/// `OpenTicketOrderCancelled`. `cancelledBy` is kept as text: a user id, or whatever the domain
/// writes for a system cancellation.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderCancelled {
    #[serde(default)]
    pub cancelled_by: Option<serde_json::Value>,
    pub cancelled_at: DateTime<Utc>,
}

/// `OpenTicketOrderExpired`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderExpired {
    pub expired_at: DateTime<Utc>,
}

/// `OpenTicketTicketIssued` on `openticketTicket-{ticketId}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TicketIssued {
    pub ticket_id: Uuid,
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub session_id: Uuid,
    pub seat_id: String,
    pub area_id: String,
    pub price: MoneyData,
    pub issued_at: DateTime<Utc>,
}

/// `OpenTicketTicketUsed`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TicketUsed {
    #[serde(default)]
    pub verified_by: Option<serde_json::Value>,
    pub used_at: DateTime<Utc>,
}

/// A JSON value kept as text: strings as themselves, anything else (an object, a number) as JSON.
pub(crate) fn value_text(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}
