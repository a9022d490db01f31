//! The `data` objects of the OpenTicket API (seed 003 §2–§7, §10), written once: each type is what
//! a handler serializes and, through `utoipa::ToSchema`, what the OpenAPI document declares
//! (`super::openapi`). Most are built from the plain rows of `tessera_projections::openticket`
//! (`From<…Row>`); the command routes build theirs from what the application service returns.
//!
//! JSON conventions: camelCase members; money is [`Money`] (`{"amount": <JSON number>,
//! "currency": "TWD"}`); every instant, session times included, is RFC 3339 UTC with milliseconds
//! and `Z` ([`utc_millis`], [`utc_text`]; an organizer's `+08:00` is applied, not echoed). An `Option` member either is always present (`null` when
//! empty; `required` in the schema) or is omitted when empty (never `null`), as each field says.

use super::envelope::Envelope;
use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Serialize, Serializer};
use std::borrow::Cow;
use tessera_domain::identity::Role;
use tessera_domain::shared::{Currency, Money as SharedMoney};
use tessera_projections::openticket as rows;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, RefBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

// ------------------------------------------------------------------------------------- money

/// An amount of money: `{"amount": 4800, "currency": "TWD"}`, built from the shared `Money` of
/// every context. The amount is exact, in the currency's major unit, and never has more fraction
/// digits than the currency allows (TWD 0, USD 2); it is written as a JSON number (an integer when
/// it has no fraction, else the shortest decimal that reads back as it, e.g. `12.5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Money {
    /// Amount in the currency's major unit, as a JSON number.
    #[serde(serialize_with = "amount_as_number")]
    #[schema(value_type = f64, example = 4800)]
    pub amount: Decimal,
    /// ISO 4217 code, upper case.
    #[schema(value_type = String, example = "TWD")]
    pub currency: Currency,
}

impl From<SharedMoney> for Money {
    fn from(m: SharedMoney) -> Self {
        Self {
            amount: m.amount(),
            currency: m.currency(),
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

/// An instant as OpenTicket writes every one: RFC 3339 UTC with milliseconds and `Z`
/// (`2025-03-15T11:00:00.000Z`), the precision of `meta.timestamp`
/// (docs/api-conventions.md, "Timestamps").
pub fn utc_millis<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// A stored RFC 3339 time with any offset (an organizer's `startTime` as written) as
/// [`utc_millis`] writes instants; text that does not parse is passed on unchanged.
pub fn utc_text(written: &str) -> String {
    DateTime::parse_from_rfc3339(written).map_or_else(
        |_| written.to_owned(),
        |t| {
            t.with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Millis, true)
        },
    )
}

/// [`utc_millis`], or `null`.
pub fn opt_utc_millis<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => utc_millis(t, s),
        None => s.serialize_none(),
    }
}

// ------------------------------------------------------------------------------------- pages

/// One page of a list: `{"items": [...], "pagination": {...}}` (seed 003 §3.1). In the document
/// it is `{T}Page`, whose `items` refer to `T`'s own schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Where this page is in the whole list.
    pub pagination: Pagination,
}

// Written by hand for the reasons given on `super::envelope::Envelope`.
impl<T: ToSchema> PartialSchema for Page<T> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some(format!(
                "One page of {} items (seed 003 §3.1).",
                T::name()
            )))
            .property(
                "items",
                ArrayBuilder::new()
                    .items(RefBuilder::new().ref_location_from_schema_name(T::name()))
                    .description(Some("The items of this page, in the list's order.")),
            )
            .required("items")
            .property(
                "pagination",
                RefBuilder::new()
                    .ref_location_from_schema_name(Pagination::name())
                    .description(Some("Where this page is in the whole list.")),
            )
            .required("pagination")
            .into()
    }
}

impl<T: ToSchema> ToSchema for Page<T> {
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("{}Page", T::name()))
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
        schemas.push((Pagination::name().into_owned(), Pagination::schema()));
        Pagination::schemas(schemas);
    }
}

impl<R, T: From<R>> From<rows::Paged<R>> for Page<T> {
    fn from(rows: rows::Paged<R>) -> Self {
        let pagination = Pagination::from(&rows);
        Self {
            items: rows.items.into_iter().map(T::from).collect(),
            pagination,
        }
    }
}

/// `{"page", "pageSize", "totalItems", "totalPages"}` (seed 003 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    /// Page number, from 1.
    pub page: u32,
    /// Items per page (1–100).
    pub page_size: u32,
    /// Items in the whole list.
    pub total_items: u64,
    /// Pages in the whole list (0 when it is empty).
    pub total_pages: u64,
}

impl<R> From<&rows::Paged<R>> for Pagination {
    fn from(rows: &rows::Paged<R>) -> Self {
        Self {
            page: rows.request.page,
            page_size: rows.request.page_size,
            total_items: rows.total_items,
            total_pages: rows.total_pages(),
        }
    }
}

// ------------------------------------------------------------------------------------ statuses

/// Declares the wire form of a status whose names are kept elsewhere (the read model's status
/// enums, the domain's [`Role`]): a JSON string, documented as an enum of exactly the names
/// `ALL` lists, so that the names are written once.
macro_rules! wire_enum {
    ($($description:literal $name:ident($inner:ty);)+) => {
        $(
            #[doc = $description]
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            pub struct $name(pub $inner);

            impl From<$inner> for $name {
                fn from(value: $inner) -> Self {
                    Self(value)
                }
            }

            impl PartialEq<$inner> for $name {
                fn eq(&self, other: &$inner) -> bool {
                    self.0 == *other
                }
            }

            impl Serialize for $name {
                fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    s.serialize_str(self.0.as_str())
                }
            }

            impl PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .description(Some($description))
                        .enum_values(Some(<$inner>::ALL.iter().map(|v| v.as_str())))
                        .into()
                }
            }

            impl ToSchema for $name {
                fn name() -> Cow<'static, str> {
                    Cow::Borrowed(stringify!($name))
                }
            }
        )+
    };
}

wire_enum! {
    "A role a user can hold (lower case). Admins may do everything."
    RoleName(Role);
    "A venue's status (venues cannot be closed yet, so always `Active`)."
    VenueStatus(rows::VenueStatus);
    "An event's status, derived from its sessions when asked: `OnSale` while any session is on \
     sale, else `Published` while any session has not ended, else `Ended`."
    EventStatus(rows::EventStatus);
    "A session's status, derived from its times when asked: `Scheduled` before `saleStartTime`, \
     `OnSale` until `saleEndTime`, `SaleEnded` until `endTime`, then `Ended`."
    SessionStatus(rows::SessionStatus);
    "A seat's status in a session. A seat held for an unpaid order shows as `Locked`; a lock whose \
     time has passed shows as `Available` at once."
    SeatStatus(rows::SeatStatus);
    "An order's status: `Created` (not paid yet), `Paid` (tickets not issued yet), `Completed` \
     (tickets issued), `Cancelled` (by the buyer before paying) or `Expired` (not paid in time)."
    OrderStatus(rows::OrderStatus);
    "An order's payment status: `Pending`, `Succeeded`, `Failed` (the payer may try again until \
     the order expires) or `RefundRequired` (paid after the order was cancelled or expired)."
    PaymentStatus(rows::PaymentStatus);
    "A ticket's status: `Issued` (valid for entry) or `Used` (scanned at the entrance)."
    TicketStatus(rows::TicketStatus);
}

// ------------------------------------------------------------------------------------ identity

/// A user as OpenTicket clients see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// User id.
    pub user_id: Uuid,
    /// Email address, lower-cased (null for users registered by phone or WeChat).
    #[schema(required = true)]
    pub email: Option<String>,
    /// Name to show (null when none was given).
    #[schema(required = true)]
    pub display_name: Option<String>,
    /// Roles held, `customer` always among them.
    pub roles: Vec<RoleName>,
    /// When the user registered, RFC 3339 UTC.
    #[serde(serialize_with = "utc_millis")]
    pub registered_at: DateTime<Utc>,
}

impl From<tessera_application::identity::UserView> for User {
    fn from(u: tessera_application::identity::UserView) -> Self {
        Self {
            user_id: u.user_id.as_uuid(),
            email: u.email.map(|e| e.to_string()),
            display_name: u.display_name,
            roles: u.roles.into_iter().map(RoleName).collect(),
            registered_at: u.registered_at,
        }
    }
}

/// The tokens of a sign-in (seed 003 §2.2).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tokens {
    /// Short-lived JWT for `Authorization: Bearer …`.
    pub access_token: String,
    /// Refresh token; it is spent when exchanged, and presenting a spent one revokes its family.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    #[schema(example = 3600)]
    pub expires_in: u64,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
}

impl From<tessera_application::identity::TokenPair> for Tokens {
    fn from(p: tessera_application::identity::TokenPair) -> Self {
        Self {
            access_token: p.access_token,
            refresh_token: p.refresh_token,
            expires_in: p.expires_in,
            token_type: p.token_type,
        }
    }
}

/// `POST /v1/auth/logout` result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LogoutResult {
    /// Always true: the refresh token's family is revoked.
    pub revoked: bool,
}

// -------------------------------------------------------------------------------------- venues

/// A postal address (seed 003 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// ISO 3166 country code.
    #[schema(example = "TW")]
    pub country: String,
    /// City, 1–100 characters, e.g. `台北市` (what `GET /v1/venues?city=` filters on).
    #[schema(example = "台北市")]
    pub city: String,
    /// Street and number (empty when none was given).
    pub street: String,
    /// Postal code (empty when none was given).
    pub postal_code: String,
}

impl From<rows::Address> for Address {
    fn from(a: rows::Address) -> Self {
        Self {
            country: a.country,
            city: a.city,
            street: a.street,
            postal_code: a.postal_code,
        }
    }
}

/// An item of `GET /v1/venues` (seed 003 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VenueSummary {
    /// Venue id.
    pub venue_id: Uuid,
    /// Venue name, 1–200 characters.
    pub name: String,
    /// Postal address.
    pub address: Address,
    /// Capacity (people) as declared by its creator.
    pub capacity: i64,
    /// Always `Active` (the only venue status so far).
    pub status: VenueStatus,
}

impl From<rows::VenueRow> for VenueSummary {
    fn from(v: rows::VenueRow) -> Self {
        Self {
            venue_id: v.venue_id,
            name: v.name,
            address: v.address.into(),
            capacity: v.capacity,
            status: v.status.into(),
        }
    }
}

/// A venue with its whole seat map (seed 003 §3.2; also the answer of §3.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VenueDetail {
    /// Venue id.
    pub venue_id: Uuid,
    /// Venue name, 1–200 characters.
    pub name: String,
    /// Postal address.
    pub address: Address,
    /// Capacity (people) as declared by its creator.
    pub capacity: i64,
    /// Always `Active` (the only venue status so far).
    pub status: VenueStatus,
    /// Seats in the seat map.
    pub seat_count: i64,
    /// Seat map: areas in the creator's order, each with its seats.
    pub seat_map: SeatMap,
}

impl From<rows::VenueMapRow> for VenueDetail {
    fn from(v: rows::VenueMapRow) -> Self {
        let venue = VenueSummary::from(v.venue);
        Self {
            venue_id: venue.venue_id,
            name: venue.name,
            address: venue.address,
            capacity: venue.capacity,
            status: venue.status,
            seat_count: v.seat_count,
            seat_map: SeatMap {
                seat_map_id: v.seat_map_id,
                version: v.seat_map_version,
                areas: v.areas,
            },
        }
    }
}

/// A venue's seat map (seed 003 §3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatMap {
    /// Seat map id.
    pub seat_map_id: Uuid,
    /// Revision (1: seat maps cannot be changed yet).
    pub version: i64,
    /// Areas with their seats, in the order the venue's creator gave them: the read model's
    /// stored JSON, embedded as it is (`[SeatMapArea]`).
    #[schema(value_type = Vec<SeatMapArea>)]
    pub areas: rows::SeatMapJson,
}

/// One area of a seat map, seats in seat-map order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatMapArea {
    /// Area id.
    #[schema(example = "A")]
    pub area_id: String,
    /// Display name.
    pub name: String,
    /// Its seats, in seat-map order.
    pub seats: Vec<SeatMapSeat>,
}

/// One seat of a seat map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatMapSeat {
    /// Seat id, unique in the venue.
    #[schema(example = "A-001")]
    pub seat_id: String,
    /// Row label.
    pub row: String,
    /// Seat number within its row.
    pub number: i64,
    /// Horizontal position on the drawing, exactly as the venue's creator sent it.
    #[schema(value_type = f64)]
    pub x: serde_json::Number,
    /// Vertical position on the drawing.
    #[schema(value_type = f64)]
    pub y: serde_json::Number,
    /// Seat type, e.g. `Normal`.
    #[serde(rename = "type")]
    pub seat_type: String,
}

// -------------------------------------------------------------------------------------- events

/// An item of `GET /v1/events` (seed 003 §4.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventSummary {
    /// Event id.
    pub event_id: Uuid,
    /// Event name, 1–200 characters.
    pub name: String,
    /// Description (null when the organizer gave none).
    #[schema(required = true)]
    pub description: Option<String>,
    /// Venue id.
    pub venue_id: Uuid,
    /// Venue name (as it was when the event was created).
    pub venue_name: String,
    /// Derived status now.
    pub status: EventStatus,
    /// Sessions, in the organizer's order.
    pub sessions: Vec<EventSessionSummary>,
    /// Cheapest and dearest price (null without price categories).
    #[schema(required = true)]
    pub price_range: Option<PriceRange>,
}

impl From<rows::EventRow> for EventSummary {
    fn from(e: rows::EventRow) -> Self {
        Self {
            price_range: PriceRange::of(&e),
            event_id: e.event_id,
            name: e.name,
            description: e.description,
            venue_id: e.venue_id,
            venue_name: e.venue_name,
            status: e.status.into(),
            sessions: e
                .sessions
                .into_iter()
                .map(EventSessionSummary::from)
                .collect(),
        }
    }
}

/// `{"min", "max"}` over an event's price categories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PriceRange {
    /// Price of the cheapest price category.
    pub min: Money,
    /// Price of the dearest price category.
    pub max: Money,
}

impl PriceRange {
    fn of(e: &rows::EventRow) -> Option<Self> {
        match (e.min_price, e.max_price) {
            (Some(min), Some(max)) => Some(Self {
                min: min.into(),
                max: max.into(),
            }),
            _ => None,
        }
    }
}

/// A session inside an [`EventSummary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventSessionSummary {
    /// Session id.
    pub session_id: Uuid,
    /// Start, RFC 3339 UTC with milliseconds.
    #[schema(format = DateTime, example = "2025-03-15T11:00:00.000Z")]
    pub start_time: String,
    /// Derived status now.
    pub status: SessionStatus,
    /// Seats free to lock now (expired locks count as free); 0 before the session is opened.
    pub available_seats: i64,
}

impl From<rows::SessionRow> for EventSessionSummary {
    fn from(s: rows::SessionRow) -> Self {
        Self {
            session_id: s.session_id,
            start_time: utc_text(&s.start_time),
            status: s.status.into(),
            available_seats: s.available_seats,
        }
    }
}

/// An event with its sessions and price categories (seed 003 §4.2; also the answer of §4.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventDetail {
    /// Event id.
    pub event_id: Uuid,
    /// The organizer who created it.
    pub organizer_id: Uuid,
    /// Event name, 1–200 characters.
    pub name: String,
    /// Description (null when none).
    #[schema(required = true)]
    pub description: Option<String>,
    /// Derived status now (not in the document's §4.2 example; §4.1 shows it).
    pub status: EventStatus,
    /// Venue id and its name as it was when the event was created.
    pub venue: VenueRef,
    /// Sessions, in the organizer's order.
    pub sessions: Vec<SessionView>,
    /// Price categories, in the organizer's order.
    pub price_categories: Vec<PriceCategory>,
}

impl From<rows::EventDetailRow> for EventDetail {
    fn from(d: rows::EventDetailRow) -> Self {
        let e = d.event;
        Self {
            event_id: e.event_id,
            organizer_id: e.organizer_id,
            name: e.name,
            description: e.description,
            status: e.status.into(),
            venue: VenueRef {
                venue_id: e.venue_id,
                name: e.venue_name,
            },
            sessions: e.sessions.into_iter().map(SessionView::from).collect(),
            price_categories: d
                .price_categories
                .into_iter()
                .map(PriceCategory::from)
                .collect(),
        }
    }
}

/// `{"venueId", "name"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VenueRef {
    /// Venue id.
    pub venue_id: Uuid,
    /// Venue name.
    pub name: String,
}

/// A session of an [`EventDetail`]; times in UTC with milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// Session id.
    pub session_id: Uuid,
    /// Session start, RFC 3339 UTC with milliseconds (the organizer's offset applied).
    #[schema(format = DateTime, example = "2025-03-15T11:00:00.000Z")]
    pub start_time: String,
    /// Session end (after the start), RFC 3339 UTC with milliseconds (the organizer's offset applied).
    #[schema(format = DateTime, example = "2025-03-15T14:00:00.000Z")]
    pub end_time: String,
    /// Sales open, RFC 3339 UTC with milliseconds (the organizer's offset applied).
    #[schema(format = DateTime, example = "2025-02-01T04:00:00.000Z")]
    pub sale_start_time: String,
    /// Sales close (exclusive), RFC 3339 UTC with milliseconds (the organizer's offset applied).
    #[schema(format = DateTime, example = "2025-03-15T10:00:00.000Z")]
    pub sale_end_time: String,
    /// Derived status now.
    pub status: SessionStatus,
    /// Seats free to lock now (not in the document's §4.2 example; §4.1 shows it).
    pub available_seats: i64,
}

impl From<rows::SessionRow> for SessionView {
    fn from(s: rows::SessionRow) -> Self {
        Self {
            session_id: s.session_id,
            start_time: utc_text(&s.start_time),
            end_time: utc_text(&s.end_time),
            sale_start_time: utc_text(&s.sale_start_time),
            sale_end_time: utc_text(&s.sale_end_time),
            status: s.status.into(),
            available_seats: s.available_seats,
        }
    }
}

/// A price category (seed 003 §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PriceCategory {
    /// Category id.
    #[schema(example = "VIP")]
    pub category_id: String,
    /// Display name.
    pub name: String,
    /// Areas of the seat map it prices.
    pub area_ids: Vec<String>,
    /// Price of one seat.
    pub price: Money,
}

impl From<rows::PriceCategoryRow> for PriceCategory {
    fn from(c: rows::PriceCategoryRow) -> Self {
        Self {
            category_id: c.category_id,
            name: c.name,
            area_ids: c.area_ids,
            price: c.price.into(),
        }
    }
}

// --------------------------------------------------------------------------------------- seats

/// Every seat of a session by area, and the counts (seed 003 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionSeats {
    /// Session id.
    pub session_id: Uuid,
    /// Areas with their seats, in seat-map order (empty until the session is opened).
    pub areas: Vec<SessionSeatArea>,
    /// Seat counts by client-visible status; zero until the session is opened.
    pub summary: SeatSummary,
}

impl From<rows::SessionSeatsRow> for SessionSeats {
    fn from(row: rows::SessionSeatsRow) -> Self {
        let mut summary = SeatSummary::default();
        let mut areas: Vec<SessionSeatArea> = Vec::new();
        for seat in row.seats {
            summary.total += 1;
            match seat.status {
                rows::SeatStatus::Available => summary.available += 1,
                rows::SeatStatus::Locked => summary.locked += 1,
                rows::SeatStatus::Sold => summary.sold += 1,
                rows::SeatStatus::NotForSale => summary.not_for_sale += 1,
            }
            let shown = SessionSeat {
                price: seat
                    .price
                    .filter(|_| seat.status == rows::SeatStatus::Available)
                    .map(Money::from),
                seat_id: seat.seat_id,
                status: seat.status.into(),
            };
            // The seats of an area are contiguous in seat-map order.
            match areas.last_mut() {
                Some(area) if area.area_id == seat.area_id => area.seats.push(shown),
                _ => areas.push(SessionSeatArea {
                    area_id: seat.area_id,
                    seats: vec![shown],
                }),
            }
        }
        Self {
            session_id: row.session_id,
            areas,
            summary,
        }
    }
}

/// An area of [`SessionSeats`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionSeatArea {
    /// Area id.
    pub area_id: String,
    /// Its seats, in seat-map order.
    pub seats: Vec<SessionSeat>,
}

/// A seat of a [`SessionSeatArea`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionSeat {
    /// Seat id.
    pub seat_id: String,
    /// Status at the request's time: an expired lock shows `Available`, a seat held for an order
    /// `Locked`, a seat in an area the event does not price `NotForSale`.
    pub status: SeatStatus,
    /// Price; only for `Available` seats in a priced area (omitted otherwise, as in the document).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub price: Option<Money>,
}

/// Seat counts; `available + locked + sold + notForSale == total`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatSummary {
    /// All seats of the session.
    pub total: u64,
    /// Free to lock.
    pub available: u64,
    /// Locked (unexpired) or held for an unpaid order.
    pub locked: u64,
    /// Sold to a paid order.
    pub sold: u64,
    /// In areas no price category of the event covers: never on sale.
    pub not_for_sale: u64,
}

/// One seat of a session (seed 003 §5.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatDetail {
    /// Seat id.
    pub seat_id: String,
    /// Session id.
    pub session_id: Uuid,
    /// Status at the request's time: an expired lock shows `Available`, a seat held for an order
    /// `Locked`, a seat in an area the event does not price `NotForSale`.
    pub status: SeatStatus,
    /// Area id.
    pub area_id: String,
    /// Row label.
    pub row: String,
    /// Seat number.
    pub number: i64,
    /// Price of the seat's category, whatever its status (null in an unpriced area).
    #[schema(required = true)]
    pub price: Option<Money>,
    /// Seat type.
    #[serde(rename = "type")]
    pub seat_type: String,
}

impl From<rows::SeatRow> for SeatDetail {
    fn from(s: rows::SeatRow) -> Self {
        Self {
            seat_id: s.seat_id,
            session_id: s.session_id,
            status: s.status.into(),
            area_id: s.area_id,
            row: s.row_label,
            number: s.seat_number,
            price: s.price.map(Money::from),
            seat_type: s.seat_type,
        }
    }
}

/// A lock on seats (seed 003 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatLock {
    /// Lock id.
    pub lock_id: Uuid,
    /// Session id.
    pub session_id: Uuid,
    /// The locked seats, in request order.
    pub seats: Vec<LockedSeat>,
    /// When the lock lapses, RFC 3339 UTC.
    #[serde(serialize_with = "utc_millis")]
    pub expires_at: DateTime<Utc>,
    /// Lock lifetime in seconds.
    #[schema(example = 120)]
    pub ttl_seconds: u64,
}

/// A seat of a [`SeatLock`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LockedSeat {
    /// Seat id.
    pub seat_id: String,
    /// Always `Locked`.
    pub status: SeatStatus,
}

/// Seats released (seed 003 §5.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SeatRelease {
    /// Seat ids whose lock by the caller was released.
    pub released: Vec<String>,
}

// -------------------------------------------------------------------------------------- orders

/// An item of `GET /v1/orders` (seed 003 §6.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderSummary {
    /// Order id.
    pub order_id: Uuid,
    /// Event id and name.
    pub event: EventRef,
    /// Session id and start time (UTC, milliseconds).
    pub session: SessionRef,
    /// Seats in the order.
    pub seat_count: i64,
    /// Sum of the seats' prices, in the event's single currency.
    pub total_amount: Money,
    /// `Created` → `Paid` → `Completed`, or `Created` → `Cancelled`/`Expired`.
    pub status: OrderStatus,
    /// When it was placed.
    #[serde(serialize_with = "utc_millis")]
    pub created_at: DateTime<Utc>,
}

impl From<rows::OrderListRow> for OrderSummary {
    fn from(o: rows::OrderListRow) -> Self {
        Self {
            order_id: o.order_id,
            event: EventRef {
                event_id: o.event_id,
                name: o.event_name,
            },
            session: SessionRef {
                session_id: o.session_id,
                start_time: utc_text(&o.start_time),
            },
            seat_count: o.seat_count,
            total_amount: o.total_amount.into(),
            status: o.status.into(),
            created_at: o.created_at,
        }
    }
}

/// `{"eventId", "name"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventRef {
    /// Event id.
    pub event_id: Uuid,
    /// Event name.
    pub name: String,
}

/// `{"sessionId", "startTime"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionRef {
    /// Session id.
    pub session_id: Uuid,
    /// Start, RFC 3339 UTC with milliseconds.
    #[schema(format = DateTime)]
    pub start_time: String,
}

/// An order (seed 003 §6.2; also the answer of §6.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderDetail {
    /// Order id.
    pub order_id: Uuid,
    /// User id of the buyer.
    pub user_id: Uuid,
    /// Event id.
    pub event_id: Uuid,
    /// Session id.
    pub session_id: Uuid,
    /// `Created` → `Paid` → `Completed`, or `Created` → `Cancelled`/`Expired`.
    pub status: OrderStatus,
    /// One item per seat, in the order they were placed.
    pub items: Vec<OrderItem>,
    /// Sum of the seats' prices, in the event's single currency.
    pub total_amount: Money,
    /// Payment id, provider, where to pay, and its status.
    pub payment: PaymentView,
    /// True when a payment arrived after the order was cancelled or expired.
    pub refund_required: bool,
    /// When it was placed.
    #[serde(serialize_with = "utc_millis")]
    pub created_at: DateTime<Utc>,
    /// When it expires unless paid.
    #[serde(serialize_with = "utc_millis")]
    pub expires_at: DateTime<Utc>,
    /// When it was completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    #[serde(serialize_with = "opt_utc_millis")]
    pub completed_at: Option<DateTime<Utc>>,
    /// When it was cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    #[serde(serialize_with = "opt_utc_millis")]
    pub cancelled_at: Option<DateTime<Utc>>,
    /// When it expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    #[serde(serialize_with = "opt_utc_millis")]
    pub expired_at: Option<DateTime<Utc>>,
}

impl From<rows::OrderRow> for OrderDetail {
    fn from(o: rows::OrderRow) -> Self {
        Self {
            order_id: o.order_id,
            user_id: o.user_id,
            event_id: o.event_id,
            session_id: o.session_id,
            status: o.status.into(),
            items: o.items.into_iter().map(OrderItem::from).collect(),
            total_amount: o.total_amount.into(),
            payment: PaymentView {
                payment_id: o.payment_id,
                provider: o.payment_provider,
                payment_url: o.payment_url,
                status: o.payment_status.into(),
                paid_at: o.paid_at,
                failure_reason: o.payment_failure_reason,
            },
            refund_required: o.refund_required,
            created_at: o.created_at,
            expires_at: o.expires_at,
            completed_at: o.completed_at,
            cancelled_at: o.cancelled_at,
            expired_at: o.expired_at,
        }
    }
}

/// An item of an [`OrderDetail`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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
    #[schema(nullable = false)]
    pub ticket_id: Option<Uuid>,
}

impl From<rows::OrderItemRow> for OrderItem {
    fn from(i: rows::OrderItemRow) -> Self {
        Self {
            seat_id: i.seat_id,
            area_id: i.area_id,
            category_id: i.category_id,
            price: i.price.into(),
            ticket_id: i.ticket_id,
        }
    }
}

/// The payment of an [`OrderDetail`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    /// Payment id.
    pub payment_id: Uuid,
    /// Provider, e.g. `Mock` or `Stripe`.
    pub provider: String,
    /// Where the payer pays (the Mock page or a Stripe Checkout page).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub payment_url: Option<String>,
    /// `Pending`, `Succeeded`, `Failed` (the payer may retry until the order expires) or
    /// `RefundRequired`.
    pub status: PaymentStatus,
    /// When the money arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    #[serde(serialize_with = "opt_utc_millis")]
    pub paid_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub failure_reason: Option<String>,
}

/// A cancelled order (seed 003 §6.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelledOrder {
    /// Order id.
    pub order_id: Uuid,
    /// Always `Cancelled`.
    pub status: OrderStatus,
    /// When it was cancelled, RFC 3339 UTC.
    #[serde(serialize_with = "opt_utc_millis")]
    #[schema(required = true, format = DateTime)]
    pub cancelled_at: Option<DateTime<Utc>>,
}

// ------------------------------------------------------------------------------------- tickets

/// An item of `GET /v1/tickets` (seed 003 §7.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketSummary {
    /// Ticket id.
    pub ticket_id: Uuid,
    /// Event id and name.
    pub event: EventRef,
    /// The session and its venue's name.
    pub session: TicketSessionSummary,
    /// Seat id, area name, row and number.
    pub seat: TicketSeatSummary,
    /// `Issued` (valid for entry) or `Used` (scanned at the entrance).
    pub status: TicketStatus,
    /// When it was issued.
    #[serde(serialize_with = "utc_millis")]
    pub issued_at: DateTime<Utc>,
    /// The ticket's QR code as a PNG data URI (`data:image/png;base64,…`), as §7.1 shows.
    pub qr_code: String,
}

impl TicketSummary {
    /// The ticket of `t` with `qr_code`, the PNG data URI of its signed code.
    pub fn new(t: rows::TicketRow, qr_code: String) -> Self {
        let seat = TicketSeatSummary::from(&t);
        Self {
            ticket_id: t.ticket_id,
            event: EventRef {
                event_id: t.event_id,
                name: t.event_name,
            },
            session: TicketSessionSummary {
                session_id: t.session_id,
                start_time: utc_text(&t.start_time),
                venue: t.venue_name,
            },
            seat,
            status: t.status.into(),
            issued_at: t.issued_at,
            qr_code,
        }
    }
}

/// `{"sessionId", "startTime", "venue"}` of a [`TicketSummary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketSessionSummary {
    /// Session id.
    pub session_id: Uuid,
    /// Start, RFC 3339 UTC with milliseconds.
    #[schema(format = DateTime)]
    pub start_time: String,
    /// Venue name.
    pub venue: String,
}

/// `{"seatId", "area", "row", "number"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<&rows::TicketRow> for TicketSeatSummary {
    fn from(t: &rows::TicketRow) -> Self {
        Self {
            seat_id: t.seat_id.clone(),
            area: t.area_name.clone(),
            row: t.row_label.clone(),
            number: t.seat_number,
        }
    }
}

/// A ticket with its code (seed 003 §7.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketDetail {
    /// Ticket id.
    pub ticket_id: Uuid,
    /// The order it was bought with.
    pub order_id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// Event id, name and description.
    pub event: TicketEvent,
    /// Session id, start and end times (UTC, milliseconds).
    pub session: TicketSession,
    /// Venue id, name and address.
    pub venue: TicketVenue,
    /// Seat id, area id and name, row and number.
    pub seat: TicketSeat,
    /// Price paid for the seat, in the event's currency.
    pub price: Money,
    /// `Issued` (valid for entry) or `Used` (scanned at the entrance).
    pub status: TicketStatus,
    /// When it was issued.
    #[serde(serialize_with = "utc_millis")]
    pub issued_at: DateTime<Utc>,
    /// When it was scanned at the entrance.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    #[serde(serialize_with = "opt_utc_millis")]
    pub used_at: Option<DateTime<Utc>>,
    /// The staff member who scanned it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub verified_by: Option<String>,
    /// The signed code to scan: `OPENTICKET-{ticket id, 32 hex digits}.{signature}`.
    pub qr_code: String,
    /// The code as a PNG data URI.
    pub qr_code_image: String,
}

impl TicketDetail {
    /// The ticket of `t` with its signed `qr_code` and that code's PNG data URI.
    pub fn new(t: rows::TicketRow, qr_code: String, qr_code_image: String) -> Self {
        Self {
            ticket_id: t.ticket_id,
            order_id: t.order_id,
            user_id: t.user_id,
            event: TicketEvent {
                event_id: t.event_id,
                name: t.event_name,
                description: t.event_description,
            },
            session: TicketSession {
                session_id: t.session_id,
                start_time: utc_text(&t.start_time),
                end_time: utc_text(&t.end_time),
            },
            venue: TicketVenue {
                venue_id: t.venue_id,
                name: t.venue_name,
                address: t.address.into(),
            },
            seat: TicketSeat {
                seat_id: t.seat_id,
                area_id: t.area_id,
                area_name: t.area_name,
                row: t.row_label,
                number: t.seat_number,
            },
            price: t.price.into(),
            status: t.status.into(),
            issued_at: t.issued_at,
            used_at: t.used_at,
            verified_by: t.verified_by,
            qr_code,
            qr_code_image,
        }
    }
}

/// `{"eventId", "name", "description"}` of a [`TicketDetail`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketEvent {
    /// Event id.
    pub event_id: Uuid,
    /// Event name.
    pub name: String,
    /// Description (null when none).
    #[schema(required = true)]
    pub description: Option<String>,
}

/// `{"sessionId", "startTime", "endTime"}` of a [`TicketDetail`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketSession {
    /// Session id.
    pub session_id: Uuid,
    /// Start, RFC 3339 UTC with milliseconds.
    #[schema(format = DateTime)]
    pub start_time: String,
    /// End, RFC 3339 UTC with milliseconds.
    #[schema(format = DateTime)]
    pub end_time: String,
}

/// `{"venueId", "name", "address"}` of a [`TicketDetail`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketVenue {
    /// Venue id.
    pub venue_id: Uuid,
    /// Venue name.
    pub name: String,
    /// Venue postal address.
    pub address: Address,
}

/// `{"seatId", "areaId", "areaName", "row", "number"}` of a [`TicketDetail`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

/// The result of a scan at the gate (seed 003 §7.3): `valid: true` for a first scan with the
/// ticket's own, genuine code at its session's gate (the ticket is now `Used`); otherwise
/// `valid: false` with a `reason`, and the ticket is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketVerification {
    /// Whether to let the holder in.
    pub valid: bool,
    /// Why not (absent when `valid` is true).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<ScanRefusal>,
    /// Ticket id.
    pub ticket_id: Uuid,
    /// `Used` after a valid scan; the ticket's unchanged status otherwise.
    pub status: TicketStatus,
    /// Seat id, area name, row and number.
    pub seat: TicketSeatSummary,
    /// When it was (first) scanned; null for a ticket never used.
    #[schema(required = true)]
    #[serde(serialize_with = "opt_utc_millis")]
    pub used_at: Option<DateTime<Utc>>,
}

/// Why a scan is not valid (`reason` of a [`TicketVerification`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScanRefusal {
    /// Used before; `usedAt` is the first scan.
    AlreadyUsed,
    /// The code is not one Tessera signed (altered, made up, or not an OpenTicket code).
    Forged,
    /// A genuine code of another ticket than the one in the path.
    WrongTicket,
    /// The ticket admits to another session than the gate's `sessionId`.
    WrongSession,
}

impl TicketVerification {
    /// A valid scan: the ticket as it is now (used).
    pub fn valid(t: rows::TicketRow) -> Self {
        Self {
            valid: true,
            reason: None,
            ticket_id: t.ticket_id,
            status: t.status.into(),
            seat: TicketSeatSummary::from(&t),
            used_at: t.used_at,
        }
    }

    /// A refused scan of `t`, first used at `used_at` when it was.
    pub fn refused(
        t: rows::TicketRow,
        reason: ScanRefusal,
        used_at: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            valid: false,
            reason: Some(reason),
            ticket_id: t.ticket_id,
            status: t.status.into(),
            seat: TicketSeatSummary::from(&t),
            used_at: used_at.or(t.used_at),
        }
    }
}

/// The caller's tickets (seed 003 §7.1): `{"items": [...]}` with every ticket, as the document
/// shows; `pagination` only when the client asked for a page with `page` or `pageSize`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TicketList {
    /// The tickets, newest first: all of them, or the page asked for.
    pub items: Vec<TicketSummary>,
    /// Where the page is in the whole list; present only when `page` or `pageSize` was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub pagination: Option<Pagination>,
}

// ------------------------------------------------------------------------------------ payments

/// A webhook delivery accepted (seed 003 §10.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WebhookAck {
    /// Always true.
    pub received: bool,
    /// True when the event type changes nothing (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub ignored: Option<bool>,
}

/// What a Mock payment page button did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MockPaymentAction {
    /// Pay: records the payment as succeeded, as a `payment.succeeded` webhook would.
    Confirm,
    /// The payment was declined.
    Decline,
}

/// The outcome recorded by the Mock payment page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MockPaymentResult {
    /// Payment id from the Mock page's URL.
    pub payment_id: Uuid,
    /// Its order.
    pub order_id: Uuid,
    /// What was recorded.
    pub result: MockPaymentAction,
}

// ---------------------------------------------------------------------------------- envelopes

/// The 2xx bodies the operations declare: `{"data": …, "meta": …}` around each response type,
/// named `{data}Response` as in the document. Aliases of what [`ok`](super::envelope::ok) sends,
/// because an operation can name a generic type's own schema only through a plain path.
pub type UserResponse = Envelope<User>;
/// `{"data": Tokens, "meta"}`.
pub type TokensResponse = Envelope<Tokens>;
/// `{"data": LogoutResult, "meta"}`.
pub type LogoutResultResponse = Envelope<LogoutResult>;
/// `{"data": VenueSummaryPage, "meta"}`.
pub type VenueSummaryPageResponse = Envelope<Page<VenueSummary>>;
/// `{"data": VenueDetail, "meta"}`.
pub type VenueDetailResponse = Envelope<VenueDetail>;
/// `{"data": EventSummaryPage, "meta"}`.
pub type EventSummaryPageResponse = Envelope<Page<EventSummary>>;
/// `{"data": EventDetail, "meta"}`.
pub type EventDetailResponse = Envelope<EventDetail>;
/// `{"data": SessionSeats, "meta"}`.
pub type SessionSeatsResponse = Envelope<SessionSeats>;
/// `{"data": SeatDetail, "meta"}`.
pub type SeatDetailResponse = Envelope<SeatDetail>;
/// `{"data": SeatLock, "meta"}`.
pub type SeatLockResponse = Envelope<SeatLock>;
/// `{"data": SeatRelease, "meta"}`.
pub type SeatReleaseResponse = Envelope<SeatRelease>;
/// `{"data": OrderDetail, "meta"}`.
pub type OrderDetailResponse = Envelope<OrderDetail>;
/// `{"data": OrderSummaryPage, "meta"}`.
pub type OrderSummaryPageResponse = Envelope<Page<OrderSummary>>;
/// `{"data": CancelledOrder, "meta"}`.
pub type CancelledOrderResponse = Envelope<CancelledOrder>;
/// `{"data": TicketList, "meta"}`.
pub type TicketListResponse = Envelope<TicketList>;
/// `{"data": TicketDetail, "meta"}`.
pub type TicketDetailResponse = Envelope<TicketDetail>;
/// `{"data": TicketVerification, "meta"}`.
pub type TicketVerificationResponse = Envelope<TicketVerification>;
/// `{"data": WebhookAck, "meta"}`.
pub type WebhookAckResponse = Envelope<WebhookAck>;
/// `{"data": MockPaymentResult, "meta"}`.
pub type MockPaymentResultResponse = Envelope<MockPaymentResult>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn money(amount: Decimal, currency: &str) -> Money {
        SharedMoney::new(amount, Currency::parse(currency).unwrap())
            .unwrap()
            .into()
    }

    #[test]
    fn money_is_a_json_number() {
        assert_eq!(
            serde_json::to_value(money(Decimal::from(4800), "TWD")).unwrap(),
            json!({"amount": 4800, "currency": "TWD"})
        );
        assert_eq!(
            serde_json::to_string(&money(Decimal::new(1250, 2), "USD")).unwrap(),
            r#"{"amount":12.5,"currency":"USD"}"#
        );
    }

    #[test]
    fn statuses_are_their_names_and_the_schema_lists_every_one() {
        assert_eq!(
            serde_json::to_value(EventStatus(rows::EventStatus::OnSale)).unwrap(),
            json!("OnSale")
        );
        assert_eq!(
            serde_json::to_value(RoleName(Role::Organizer)).unwrap(),
            json!("organizer")
        );
        let schema = serde_json::to_value(OrderStatus::schema()).unwrap();
        assert_eq!(
            schema["enum"],
            json!(["Created", "Paid", "Completed", "Cancelled", "Expired"])
        );
    }

    #[test]
    fn envelopes_are_named_as_their_aliases_and_refer_to_their_data() {
        let names = [
            UserResponse::name(),
            LogoutResultResponse::name(),
            VenueSummaryPageResponse::name(),
            VenueDetailResponse::name(),
            OrderSummaryPageResponse::name(),
            MockPaymentResultResponse::name(),
        ];
        assert_eq!(
            names,
            [
                "UserResponse",
                "LogoutResultResponse",
                "VenueSummaryPageResponse",
                "VenueDetailResponse",
                "OrderSummaryPageResponse",
                "MockPaymentResultResponse",
            ]
        );
        let schema = serde_json::to_value(VenueSummaryPageResponse::schema()).unwrap();
        assert_eq!(
            schema["properties"]["data"]["$ref"],
            "#/components/schemas/VenueSummaryPage"
        );
        let page = serde_json::to_value(Page::<VenueSummary>::schema()).unwrap();
        assert_eq!(
            page["properties"]["items"]["items"]["$ref"],
            "#/components/schemas/VenueSummary"
        );
        let mut collected = Vec::new();
        VenueSummaryPageResponse::schemas(&mut collected);
        let collected: Vec<&str> = collected.iter().map(|(n, _)| n.as_str()).collect();
        for name in ["VenueSummaryPage", "VenueSummary", "Pagination", "Meta"] {
            assert!(collected.contains(&name), "{name} not collected");
        }
    }

    #[test]
    fn pagination_counts_pages() {
        let rows = rows::Paged {
            items: vec![(); 1],
            request: rows::PageRequest::new(3, 20),
            total_items: 41,
        };
        let page: Page<()> = rows.into();
        assert_eq!(
            serde_json::to_value(page.pagination).unwrap(),
            json!({"page": 3, "pageSize": 20, "totalItems": 41, "totalPages": 3})
        );
    }
}
