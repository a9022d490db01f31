//! What the OpenTicket queries return: the `data` objects of seed 003 §3–§7, field for field
//! (camelCase), ready for the HTTP layer to wrap in `{"data", "meta"}`. Money is
//! `{"amount": <JSON number>, "currency": "TWD"}`; instants are RFC 3339 UTC strings; session times
//! are the strings the organizer sent, offset included.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

// ------------------------------------------------------------------------------------- money

/// An amount of money as the API shows it: `{"amount": 4800, "currency": "TWD"}`.
///
/// `amount` is exact; it is written as a JSON number (an integer when it has no fraction, else the
/// shortest decimal that reads back as the same value, e.g. `12.5`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Money {
    /// The amount in the currency's major unit (`4800` TWD, `12.50` USD).
    #[serde(serialize_with = "amount_as_number")]
    pub amount: Decimal,
    /// ISO 4217 code, upper case.
    pub currency: String,
}

impl Money {
    /// Money from an amount and a currency code.
    pub fn new(amount: Decimal, currency: impl Into<String>) -> Self {
        Self {
            amount,
            currency: currency.into(),
        }
    }
}

fn amount_as_number<S: Serializer>(amount: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    if amount.fract().is_zero()
        && let Some(whole) = amount.to_i64()
    {
        return s.serialize_i64(whole);
    }
    match amount.to_f64() {
        Some(f) => s.serialize_f64(f),
        None => Err(serde::ser::Error::custom(format!(
            "amount {amount} has no JSON number"
        ))),
    }
}

// ------------------------------------------------------------------------------------- pages

/// Which page of a list to return: `page` from 1, `page_size` from 1 to 100 (seed 003 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Page number, from 1.
    pub page: u32,
    /// Items per page, 1–100.
    pub page_size: u32,
}

impl PageRequest {
    /// Largest page size.
    pub const MAX_PAGE_SIZE: u32 = 100;

    /// A page request, clamped into range (page at least 1, page size 1–100).
    pub fn new(page: u32, page_size: u32) -> Self {
        Self {
            page: page.max(1),
            page_size: page_size.clamp(1, Self::MAX_PAGE_SIZE),
        }
    }

    pub(crate) fn limit(&self) -> i64 {
        i64::from(self.page_size.clamp(1, Self::MAX_PAGE_SIZE))
    }

    pub(crate) fn offset(&self) -> i64 {
        i64::from(self.page.max(1) - 1) * self.limit()
    }
}

impl Default for PageRequest {
    /// Page 1 of 20, the document's defaults.
    fn default() -> Self {
        Self::new(1, 20)
    }
}

/// One page of a list: `{"items": [...], "pagination": {...}}` (seed 003 §3.1).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Where this page is in the whole list.
    pub pagination: Pagination,
}

/// `{"page", "pageSize", "totalItems", "totalPages"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    /// Page number, from 1.
    pub page: u32,
    /// Items per page.
    pub page_size: u32,
    /// Items in the whole list (all pages).
    pub total_items: u64,
    /// Pages in the whole list (0 when it is empty).
    pub total_pages: u64,
}

impl<T> Page<T> {
    pub(crate) fn new(items: Vec<T>, request: PageRequest, total_items: i64) -> Self {
        let total_items = u64::try_from(total_items).unwrap_or(0);
        let size = u64::from(request.page_size.max(1));
        Self {
            items,
            pagination: Pagination {
                page: request.page,
                page_size: request.page_size,
                total_items,
                total_pages: total_items.div_ceil(size),
            },
        }
    }
}

// ------------------------------------------------------------------------------------ statuses

/// Why a status name could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} status {value:?}")]
pub struct UnknownStatus {
    /// Which status (`event`, `order`, …).
    pub kind: &'static str,
    /// The text given.
    pub value: String,
}

macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal, { $($(#[$vdoc:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// The name as stored and shown.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => stringify!($variant)),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownStatus;

            /// Parse the exact name (as in the document, e.g. `OnSale`).
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $(stringify!($variant) => Ok($name::$variant),)+
                    _ => Err(UnknownStatus { kind: $kind, value: s.to_owned() }),
                }
            }
        }
    };
}

status_enum!(
    /// A venue's status (venues cannot be closed yet, so always `Active`).
    VenueStatus, "venue", {
        /// Open for events.
        Active,
    }
);

status_enum!(
    /// A session's status, derived from its times at the moment of the query (never stored).
    SessionStatus, "session", {
        /// Before `saleStartTime`.
        Scheduled,
        /// From `saleStartTime` until `saleEndTime` (exclusive).
        OnSale,
        /// From `saleEndTime` until `endTime`.
        SaleEnded,
        /// From `endTime` on.
        Ended,
    }
);

status_enum!(
    /// An event's status, derived from its sessions: `OnSale` while any session is on sale, else
    /// `Published` while any session has not ended, else `Ended`.
    EventStatus, "event", {
        /// No session on sale, at least one not ended.
        Published,
        /// At least one session on sale.
        OnSale,
        /// Every session ended.
        Ended,
    }
);

status_enum!(
    /// A seat's status in a session as clients see it. A seat held for an order shows as `Locked`;
    /// a lock whose expiry has passed shows as `Available` at once.
    SeatStatus, "seat", {
        /// Free to lock.
        Available,
        /// Locked by a buyer, or held for an unpaid order.
        Locked,
        /// Sold.
        Sold,
    }
);

status_enum!(
    /// An order's status.
    OrderStatus, "order", {
        /// Placed, not paid yet.
        Created,
        /// Paid; tickets not issued yet.
        Paid,
        /// Paid, seats sold and tickets issued.
        Completed,
        /// Cancelled by the buyer before paying.
        Cancelled,
        /// Not paid in time.
        Expired,
    }
);

status_enum!(
    /// An order's payment status.
    PaymentStatus, "payment", {
        /// Waiting for the provider.
        Pending,
        /// Paid.
        Succeeded,
        /// The last attempt failed (the payer may try again until the order expires).
        Failed,
        /// Paid after the order was cancelled or expired: an operator must refund it.
        RefundRequired,
    }
);

status_enum!(
    /// A ticket's status.
    TicketStatus, "ticket", {
        /// Valid for entry.
        Issued,
        /// Scanned at the entrance.
        Used,
    }
);

impl SessionStatus {
    /// The status of a session with these UTC instants at `now`.
    pub fn at(
        now: DateTime<Utc>,
        sale_start: DateTime<Utc>,
        sale_end: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Self {
        if now < sale_start {
            SessionStatus::Scheduled
        } else if now < sale_end {
            SessionStatus::OnSale
        } else if now < end {
            SessionStatus::SaleEnded
        } else {
            SessionStatus::Ended
        }
    }
}

impl EventStatus {
    /// The status of an event whose sessions have these statuses.
    pub fn from_sessions(sessions: impl IntoIterator<Item = SessionStatus>) -> Self {
        let mut any_open = false;
        for s in sessions {
            match s {
                SessionStatus::OnSale => return EventStatus::OnSale,
                SessionStatus::Scheduled | SessionStatus::SaleEnded => any_open = true,
                SessionStatus::Ended => {}
            }
        }
        if any_open {
            EventStatus::Published
        } else {
            EventStatus::Ended
        }
    }
}

// -------------------------------------------------------------------------------------- venues

/// A postal address (seed 003 §3.1 `address`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// ISO 3166 country code, e.g. `TW`.
    pub country: String,
    /// City.
    pub city: String,
    /// Street and number.
    pub street: String,
    /// Postal code.
    pub postal_code: String,
}

/// One area of a seat map, with its seats in seat-map order (seed 003 §3.2 `seatMap.areas`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatMapArea {
    /// Area id from the seat map, e.g. `A`.
    pub area_id: String,
    /// Display name, e.g. `A 區`.
    pub name: String,
    /// Its seats.
    pub seats: Vec<SeatMapSeat>,
}

/// One seat of a seat map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatMapSeat {
    /// Seat id, unique in the venue, e.g. `A-001`.
    pub seat_id: String,
    /// Row label, e.g. `1`.
    pub row: String,
    /// Seat number within its row.
    pub number: i64,
    /// Horizontal position on the drawing (as the venue's creator sent it).
    pub x: serde_json::Number,
    /// Vertical position on the drawing.
    pub y: serde_json::Number,
    /// Seat type, e.g. `Normal`.
    #[serde(rename = "type")]
    pub seat_type: String,
}

/// An item of `GET /venues` (seed 003 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VenueSummary {
    /// Venue id.
    pub venue_id: Uuid,
    /// Name.
    pub name: String,
    /// Address.
    pub address: Address,
    /// Capacity (people) as declared by its creator.
    pub capacity: i64,
    /// Status.
    pub status: VenueStatus,
}

/// `GET /venues/{venueId}` (seed 003 §3.2): the venue and its whole seat map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VenueDetail {
    /// Venue id.
    pub venue_id: Uuid,
    /// Name.
    pub name: String,
    /// Address.
    pub address: Address,
    /// Capacity (people) as declared by its creator.
    pub capacity: i64,
    /// Status.
    pub status: VenueStatus,
    /// Seats in the seat map.
    pub seat_count: i64,
    /// The seat map.
    pub seat_map: SeatMap,
}

/// A venue's seat map (seed 003 §3.2 `seatMap`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatMap {
    /// Seat map id.
    pub seat_map_id: Uuid,
    /// Revision of the seat map (1: seat maps cannot be changed yet).
    pub version: i64,
    /// Areas with their seats, in the order the venue's creator gave them.
    pub areas: Vec<SeatMapArea>,
}

// -------------------------------------------------------------------------------------- events

/// Filters of `GET /events` (seed 003 §4.1). All are optional and combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only events at this venue.
    pub venue_id: Option<Uuid>,
    /// Only events with this derived status at the query's `now`.
    pub status: Option<EventStatus>,
    /// Only events with a session starting at or after this instant (`startDate`; the HTTP layer
    /// turns a date into the instant its day begins).
    pub starts_from: Option<DateTime<Utc>>,
    /// Only events with a session starting before this instant (`endDate`: the start of the day
    /// after it). With both bounds, one session must fall in between.
    pub starts_before: Option<DateTime<Utc>>,
}

/// `{"min": Money, "max": Money}` over an event's price categories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceRange {
    /// Cheapest category.
    pub min: Money,
    /// Dearest category.
    pub max: Money,
}

/// An item of `GET /events` (seed 003 §4.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSummary {
    /// Event id.
    pub event_id: Uuid,
    /// Name.
    pub name: String,
    /// Description (null when the organizer gave none).
    pub description: Option<String>,
    /// Venue id.
    pub venue_id: Uuid,
    /// Venue name (as it was when the event was created).
    pub venue_name: String,
    /// Derived status at the query's `now`.
    pub status: EventStatus,
    /// Sessions, in the order the organizer gave them.
    pub sessions: Vec<EventSessionSummary>,
    /// Cheapest and dearest price category (null without categories).
    pub price_range: Option<PriceRange>,
}

/// A session inside an [`EventSummary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSessionSummary {
    /// Session id.
    pub session_id: Uuid,
    /// Start, as the organizer wrote it (`2025-03-15T19:00:00+08:00`).
    pub start_time: String,
    /// Derived status.
    pub status: SessionStatus,
    /// Seats free to lock now (expired locks count as free); 0 before the session is opened.
    pub available_seats: i64,
}

/// `GET /events/{eventId}` (seed 003 §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDetail {
    /// Event id.
    pub event_id: Uuid,
    /// The organizer who created it.
    pub organizer_id: Uuid,
    /// Name.
    pub name: String,
    /// Description (null when none).
    pub description: Option<String>,
    /// Derived status (not in the document's example; §4.1 shows it).
    pub status: EventStatus,
    /// `{venueId, name}`.
    pub venue: VenueRef,
    /// Sessions, in the order the organizer gave them.
    pub sessions: Vec<SessionView>,
    /// Price categories, in the order the organizer gave them.
    pub price_categories: Vec<PriceCategory>,
}

/// `{"venueId", "name"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VenueRef {
    /// Venue id.
    pub venue_id: Uuid,
    /// Venue name.
    pub name: String,
}

/// A session of an [`EventDetail`]. Times are the organizer's strings, offset kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// Session id.
    pub session_id: Uuid,
    /// Start.
    pub start_time: String,
    /// End.
    pub end_time: String,
    /// Sales open.
    pub sale_start_time: String,
    /// Sales close.
    pub sale_end_time: String,
    /// Derived status.
    pub status: SessionStatus,
    /// Seats free to lock now (not in the document's §4.2 example; §4.1 shows it).
    pub available_seats: i64,
}

/// A price category (seed 003 §4.2 `priceCategories`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceCategory {
    /// Category id, e.g. `VIP`.
    pub category_id: String,
    /// Display name.
    pub name: String,
    /// Areas of the seat map priced by it.
    pub area_ids: Vec<String>,
    /// Price of one seat.
    pub price: Money,
}

// ------------------------------------------------------------------------------------ sessions

/// `GET /sessions/{sessionId}/seats` (seed 003 §5.1): every seat, grouped by area in seat-map
/// order, and the counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionSeats {
    /// Session id.
    pub session_id: Uuid,
    /// Areas with their seats (empty until the session is opened).
    pub areas: Vec<SessionSeatArea>,
    /// Counts; `available + locked + sold == total`.
    pub summary: SeatSummary,
}

/// An area of [`SessionSeats`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionSeatArea {
    /// Area id.
    pub area_id: String,
    /// Its seats.
    pub seats: Vec<SessionSeat>,
}

/// A seat of a [`SessionSeatArea`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionSeat {
    /// Seat id.
    pub seat_id: String,
    /// Status now.
    pub status: SeatStatus,
    /// Price, only for `Available` seats in a priced area (omitted otherwise, as in the document).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Money>,
}

/// `{"total", "available", "locked", "sold"}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SeatSummary {
    /// All seats of the session.
    pub total: u64,
    /// Free to lock.
    pub available: u64,
    /// Locked (unexpired) or held for an unpaid order.
    pub locked: u64,
    /// Sold.
    pub sold: u64,
}

/// `GET /sessions/{sessionId}/seats/{seatId}` (seed 003 §5.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatDetail {
    /// Seat id.
    pub seat_id: String,
    /// Session id.
    pub session_id: Uuid,
    /// Status now.
    pub status: SeatStatus,
    /// Area id.
    pub area_id: String,
    /// Row label.
    pub row: String,
    /// Seat number.
    pub number: i64,
    /// Price of the seat's category, whatever its status (null in an unpriced area).
    pub price: Option<Money>,
    /// Seat type.
    #[serde(rename = "type")]
    pub seat_type: String,
}

// -------------------------------------------------------------------------------------- orders

/// `{"eventId", "name"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRef {
    /// Event id.
    pub event_id: Uuid,
    /// Event name.
    pub name: String,
}

/// `{"sessionId", "startTime"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRef {
    /// Session id.
    pub session_id: Uuid,
    /// Start, as the organizer wrote it.
    pub start_time: String,
}

/// An item of `GET /orders` (seed 003 §6.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderSummary {
    /// Order id.
    pub order_id: Uuid,
    /// The event.
    pub event: EventRef,
    /// The session.
    pub session: SessionRef,
    /// Seats in the order.
    pub seat_count: i64,
    /// Total price.
    pub total_amount: Money,
    /// Status.
    pub status: OrderStatus,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
}

/// `GET /orders/{orderId}` (seed 003 §6.2; also the shapes of §6.1 and §6.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderDetail {
    /// Order id.
    pub order_id: Uuid,
    /// The buyer (for the HTTP layer's ownership check).
    pub user_id: Uuid,
    /// The event.
    pub event_id: Uuid,
    /// The session.
    pub session_id: Uuid,
    /// Status.
    pub status: OrderStatus,
    /// One item per seat, in the order they were placed.
    pub items: Vec<OrderItem>,
    /// Total price.
    pub total_amount: Money,
    /// The payment.
    pub payment: PaymentView,
    /// True when a payment arrived after the order was cancelled or expired.
    pub refund_required: bool,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
    /// When it expires unless paid.
    pub expires_at: DateTime<Utc>,
    /// When it was completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    /// When it was cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<DateTime<Utc>>,
    /// When it expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired_at: Option<DateTime<Utc>>,
}

/// An item of an [`OrderDetail`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    /// Seat id.
    pub seat_id: String,
    /// Area of the seat.
    pub area_id: String,
    /// Price category applied.
    pub category_id: String,
    /// Price of the seat.
    pub price: Money,
    /// Its ticket, once the order is completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<Uuid>,
}

/// The payment of an [`OrderDetail`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    /// Payment id.
    pub payment_id: Uuid,
    /// Provider, e.g. `Mock` or `Stripe`.
    pub provider: String,
    /// Where the payer pays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_url: Option<String>,
    /// Status.
    pub status: PaymentStatus,
    /// When the money arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
}

// ------------------------------------------------------------------------------------- tickets

/// An item of `GET /tickets` (seed 003 §7.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketSummary {
    /// Ticket id.
    pub ticket_id: Uuid,
    /// The event.
    pub event: EventRef,
    /// The session and its venue's name.
    pub session: TicketSessionSummary,
    /// The seat.
    pub seat: TicketSeatSummary,
    /// Status.
    pub status: TicketStatus,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// QR code image; the read model leaves it empty (omitted) and the HTTP layer, which holds
    /// the signing key, fills it in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_code: Option<String>,
}

/// `{"sessionId", "startTime", "venue"}` of a [`TicketSummary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketSessionSummary {
    /// Session id.
    pub session_id: Uuid,
    /// Start, as the organizer wrote it.
    pub start_time: String,
    /// Venue name.
    pub venue: String,
}

/// `{"seatId", "area", "row", "number"}` of a [`TicketSummary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketSeatSummary {
    /// Seat id.
    pub seat_id: String,
    /// Area name.
    pub area: String,
    /// Row label.
    pub row: String,
    /// Seat number.
    pub number: i64,
}

/// `GET /tickets/{ticketId}` (seed 003 §7.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketDetail {
    /// Ticket id.
    pub ticket_id: Uuid,
    /// The order it was bought with.
    pub order_id: Uuid,
    /// Its owner (for the HTTP layer's ownership check).
    pub user_id: Uuid,
    /// The event.
    pub event: TicketEvent,
    /// The session.
    pub session: TicketSession,
    /// The venue.
    pub venue: TicketVenue,
    /// The seat.
    pub seat: TicketSeat,
    /// Price paid.
    pub price: Money,
    /// Status.
    pub status: TicketStatus,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it was scanned at the entrance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used_at: Option<DateTime<Utc>>,
    /// The staff member who scanned it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_by: Option<String>,
    /// Signed code; left empty (omitted) by the read model, filled in by the HTTP layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_code: Option<String>,
    /// PNG data URI of the code; filled in by the HTTP layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_code_image: Option<String>,
}

/// `{"eventId", "name", "description"}` of a [`TicketDetail`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketEvent {
    /// Event id.
    pub event_id: Uuid,
    /// Name.
    pub name: String,
    /// Description (null when none).
    pub description: Option<String>,
}

/// `{"sessionId", "startTime", "endTime"}` of a [`TicketDetail`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketSession {
    /// Session id.
    pub session_id: Uuid,
    /// Start, as the organizer wrote it.
    pub start_time: String,
    /// End, as the organizer wrote it.
    pub end_time: String,
}

/// `{"venueId", "name", "address"}` of a [`TicketDetail`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketVenue {
    /// Venue id.
    pub venue_id: Uuid,
    /// Name.
    pub name: String,
    /// Address.
    pub address: Address,
}

/// `{"seatId", "areaId", "areaName", "row", "number"}` of a [`TicketDetail`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketSeat {
    /// Seat id.
    pub seat_id: String,
    /// Area id.
    pub area_id: String,
    /// Area name.
    pub area_name: String,
    /// Row label.
    pub row: String,
    /// Seat number.
    pub number: i64,
}
