//! What the OpenTicket queries return: plain rows of the `ot_` read models, with ids parsed,
//! money as the shared [`Money`] and statuses as enums (derived at the query's `now` where they
//! depend on time). They say nothing about the wire: the OpenTicket API builds seed 003's JSON
//! from them (api/src/openticket/views.rs). Instants are UTC; session times are the strings the
//! organizer sent, offset included.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use tessera_domain::shared::Money;
use uuid::Uuid;

// ------------------------------------------------------------------------------------- pages

/// Which page of a list to read: `page` from 1, `page_size` from 1 to 100 (seed 003 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Page number, from 1.
    pub page: u32,
    /// Rows per page, 1–100.
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

/// The rows of one page and the size of the whole list.
#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    /// The rows of this page, in the list's order.
    pub items: Vec<T>,
    /// The page asked for.
    pub request: PageRequest,
    /// Rows in the whole list (all pages).
    pub total_items: u64,
}

impl<T> Paged<T> {
    pub(crate) fn new(items: Vec<T>, request: PageRequest, total_items: i64) -> Self {
        Self {
            items,
            request,
            total_items: u64::try_from(total_items).unwrap_or(0),
        }
    }

    /// Pages in the whole list at this page size (0 when it is empty).
    pub fn total_pages(&self) -> u64 {
        self.total_items
            .div_ceil(u64::from(self.request.page_size.max(1)))
    }

    /// The same page with every row turned into something else.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            request: self.request,
            total_items: self.total_items,
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
    /// The unrecognised text, as read.
    pub value: String,
}

macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal, { $($(#[$vdoc:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every status, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name as stored (and as seed 003 shows it).
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
    /// a lock whose expiry has passed shows as `Available` at once; a seat in an area no price
    /// category of the event covers is `NotForSale` (it cannot be locked or ordered).
    SeatStatus, "seat", {
        /// Free to lock.
        Available,
        /// Locked by a buyer, or held for an unpaid order.
        Locked,
        /// Sold to a paid order.
        Sold,
        /// In an area the event does not price: never on sale.
        NotForSale,
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
        /// The provider reported the money arrived (`OpenTicketPaymentSucceeded`).
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

// ------------------------------------------------------------------------------ stored forms

/// A postal address, as `VenueCreated` carries it (docs/event-catalog.md; camelCase there).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// ISO 3166 country code, e.g. `TW`.
    pub country: String,
    /// City, e.g. `台北市`.
    pub city: String,
    /// Street and number (empty when none was given).
    pub street: String,
    /// Postal code (empty when none was given).
    pub postal_code: String,
}

/// One area of a seat map, with its seats in seat-map order. The serde form is the stored one:
/// `VenueCreated` carries it and `ot_venues.seat_map` keeps it verbatim (camelCase JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatMapArea {
    /// Area id from the seat map, e.g. `A`.
    pub area_id: String,
    /// Display name, e.g. `A 區`.
    pub name: String,
    /// Its seats, in seat-map order.
    pub seats: Vec<SeatMapSeat>,
}

/// One seat of a stored seat map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatMapSeat {
    /// Seat id, unique in the venue, e.g. `A-001`.
    pub seat_id: String,
    /// Row label, e.g. `1`.
    pub row: String,
    /// Seat number within its row.
    pub number: i64,
    /// Horizontal position on the drawing, exactly as the venue's creator sent it.
    pub x: serde_json::Number,
    /// Vertical position on the drawing.
    pub y: serde_json::Number,
    /// Seat type, e.g. `Normal`.
    #[serde(rename = "type")]
    pub seat_type: String,
}

// -------------------------------------------------------------------------------------- venues

/// A venue (`ot_venues`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueRow {
    /// Venue id.
    pub venue_id: Uuid,
    /// Display name.
    pub name: String,
    /// Postal address.
    pub address: Address,
    /// Capacity (people) as declared by its creator.
    pub capacity: i64,
    /// Always `Active` for now.
    pub status: VenueStatus,
}

/// A venue with its whole seat map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueMapRow {
    /// The venue's `ot_venues` row.
    pub venue: VenueRow,
    /// Seat map id.
    pub seat_map_id: Uuid,
    /// Revision of the seat map (1: seat maps cannot be changed yet).
    pub seat_map_version: i64,
    /// Seats in the seat map.
    pub seat_count: i64,
    /// Areas with their seats, in the order the venue's creator gave them, as stored.
    pub areas: SeatMapJson,
}

/// A seat map's areas as the JSON text `ot_venues.seat_map` keeps (`[SeatMapArea]`, camelCase,
/// the shape of `GET /venues/{id}`'s `seatMap.areas`), checked to be JSON but not decoded:
/// answers embed it as it is, so a 100,000-seat map is never held as 100,000 decoded seats.
/// Serializes as that JSON; equal when the texts are equal.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct SeatMapJson(Box<serde_json::value::RawValue>);

impl SeatMapJson {
    /// `text` if it is JSON (syntax only); the error names what is wrong.
    pub fn from_text(text: String) -> Result<Self, serde_json::Error> {
        serde_json::value::RawValue::from_string(text).map(Self)
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }
}

impl PartialEq for SeatMapJson {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for SeatMapJson {}

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

/// An event (`ot_events`) with its sessions, at the query's `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// Event id.
    pub event_id: Uuid,
    /// The organizer who created it.
    pub organizer_id: Uuid,
    /// Event name.
    pub name: String,
    /// Description (`None` when the organizer gave none).
    pub description: Option<String>,
    /// Venue id.
    pub venue_id: Uuid,
    /// Venue name (as it was when the event was created).
    pub venue_name: String,
    /// Derived from the sessions' statuses ([`EventStatus::from_sessions`]).
    pub status: EventStatus,
    /// Sessions, in the order the organizer gave them.
    pub sessions: Vec<SessionRow>,
    /// Price of the cheapest category (`None` without categories).
    pub min_price: Option<Money>,
    /// Price of the dearest category (`None` without categories).
    pub max_price: Option<Money>,
}

/// A session (`ot_sessions`) at the query's `now`. Times are the organizer's strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// Session id.
    pub session_id: Uuid,
    /// Start, e.g. `2025-03-15T19:00:00+08:00`.
    pub start_time: String,
    /// End, RFC 3339 with the organizer's offset.
    pub end_time: String,
    /// Sales open, RFC 3339 with the organizer's offset, as written.
    pub sale_start_time: String,
    /// Sales close (exclusive), RFC 3339 with the organizer's offset, as written.
    pub sale_end_time: String,
    /// Derived from the times ([`SessionStatus::at`]).
    pub status: SessionStatus,
    /// Seats free to lock now (expired locks count as free); 0 before the session is opened.
    pub available_seats: i64,
}

/// An event with its price categories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDetailRow {
    /// The event and its sessions.
    pub event: EventRow,
    /// Price categories, in the order the organizer gave them.
    pub price_categories: Vec<PriceCategoryRow>,
}

/// A price category (`ot_price_categories`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceCategoryRow {
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

/// Every seat of a session (`ot_session_seats`) at the query's `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSeatsRow {
    /// Session id.
    pub session_id: Uuid,
    /// Its seats in seat-map order (the seats of an area are contiguous); empty until the
    /// session is opened.
    pub seats: Vec<SessionSeatRow>,
}

/// A seat of a session at the query's `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSeatRow {
    /// Seat id.
    pub seat_id: String,
    /// Area id.
    pub area_id: String,
    /// Status now: an expired lock is `Available`, a seat held for an order `Locked`.
    pub status: SeatStatus,
    /// Price of the seat's category, whatever its status (`None` in an unpriced area).
    pub price: Option<Money>,
}

/// One seat of a session with its place in the venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatRow {
    /// Seat id.
    pub seat_id: String,
    /// Session id.
    pub session_id: Uuid,
    /// Area id.
    pub area_id: String,
    /// Row label.
    pub row_label: String,
    /// Seat number within its row.
    pub seat_number: i64,
    /// Seat type, e.g. `Normal`.
    pub seat_type: String,
    /// Status at the request's time: an expired lock shows `Available`, a seat held for an order
    /// `Locked`.
    pub status: SeatStatus,
    /// Price of the seat's category, whatever its status (`None` in an unpriced area).
    pub price: Option<Money>,
}

// -------------------------------------------------------------------------------------- orders

/// An order in a user's list, with its event's name and its session's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderListRow {
    /// Order id.
    pub order_id: Uuid,
    /// Event id.
    pub event_id: Uuid,
    /// Event name.
    pub event_name: String,
    /// Session id.
    pub session_id: Uuid,
    /// Session start, as the organizer wrote it.
    pub start_time: String,
    /// Seats in the order.
    pub seat_count: i64,
    /// Sum of the seats' prices, in the event's single currency.
    pub total_amount: Money,
    /// Status (`ot_orders.status`).
    pub status: OrderStatus,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
}

/// An order (`ot_orders`) with its payment and its items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRow {
    /// Order id.
    pub order_id: Uuid,
    /// User id of the buyer.
    pub user_id: Uuid,
    /// Event id.
    pub event_id: Uuid,
    /// Session id.
    pub session_id: Uuid,
    /// Status (`ot_orders.status`); only moves forward.
    pub status: OrderStatus,
    /// Sum of the seats' prices, in the event's single currency.
    pub total_amount: Money,
    /// Payment id.
    pub payment_id: Uuid,
    /// Payment provider, e.g. `Mock` or `Stripe`.
    pub payment_provider: String,
    /// Where the payer pays.
    pub payment_url: Option<String>,
    /// Payment status.
    pub payment_status: PaymentStatus,
    /// Why the last payment attempt failed.
    pub payment_failure_reason: Option<String>,
    /// A payment arrived after the order was cancelled or expired.
    pub refund_required: bool,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
    /// When it expires unless paid.
    pub expires_at: DateTime<Utc>,
    /// When the money arrived.
    pub paid_at: Option<DateTime<Utc>>,
    /// When it was completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// When it was cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// When it expired.
    pub expired_at: Option<DateTime<Utc>>,
    /// One item per seat, in the order they were placed.
    pub items: Vec<OrderItemRow>,
}

/// One seat of an order (`ot_order_items`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItemRow {
    /// Seat id.
    pub seat_id: String,
    /// Area of the seat.
    pub area_id: String,
    /// Price category applied.
    pub category_id: String,
    /// Price of the seat.
    pub price: Money,
    /// Its ticket, once the order is completed.
    pub ticket_id: Option<Uuid>,
}

// ------------------------------------------------------------------------------------- tickets

/// A ticket (`ot_tickets`) with its event, session, venue and seat joined in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketRow {
    /// Ticket id.
    pub ticket_id: Uuid,
    /// The order it was bought with.
    pub order_id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// Event id.
    pub event_id: Uuid,
    /// Event name.
    pub event_name: String,
    /// Event description (`None` when none).
    pub event_description: Option<String>,
    /// Session id.
    pub session_id: Uuid,
    /// Session start, as the organizer wrote it.
    pub start_time: String,
    /// Session end, as the organizer wrote it.
    pub end_time: String,
    /// Venue id.
    pub venue_id: Uuid,
    /// Venue name.
    pub venue_name: String,
    /// Venue address.
    pub address: Address,
    /// Seat id.
    pub seat_id: String,
    /// Area id.
    pub area_id: String,
    /// Area name.
    pub area_name: String,
    /// Row label.
    pub row_label: String,
    /// Seat number within its row.
    pub seat_number: i64,
    /// Price paid for the seat, in the event's currency.
    pub price: Money,
    /// `Issued` or `Used`.
    pub status: TicketStatus,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it was scanned at the entrance.
    pub used_at: Option<DateTime<Utc>>,
    /// The staff member who scanned it.
    pub verified_by: Option<String>,
}
