//! The OpenAPI schemas of the OpenTicket API: request bodies, response `data` objects, the
//! `{"data", "meta"}` envelopes and the error body, written to match the JSON the handlers
//! actually read and write (camelCase, as the API emits it).
//!
//! These types exist only to describe the API; no handler builds them. The response shapes mirror
//! `tessera_projections::openticket` views (which stay free of utoipa) and the `json!` bodies of
//! the command routes. `tests/tests/openapi.rs` keeps the two honest: it validates real responses
//! of a whole flow against these schemas, rejecting any property they do not declare.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{ToResponse, ToSchema};
use uuid::Uuid;

/// Declares `$name { data: $data, meta: Meta }`, the success envelope around one `data` schema.
macro_rules! envelope {
    ($($(#[$doc:meta])* $name:ident => $data:ty;)+) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Serialize, ToSchema)]
            pub struct $name {
                /// The result.
                pub data: $data,
                /// Request id and server time.
                pub meta: Meta,
            }
        )+
    };
}

/// Declares `$name { items: Vec<$item>, pagination: Pagination }`, one page of a list.
macro_rules! page {
    ($($(#[$doc:meta])* $name:ident => $item:ty;)+) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Serialize, ToSchema)]
            pub struct $name {
                /// The items of this page.
                pub items: Vec<$item>,
                /// Where this page is in the whole list.
                pub pagination: Pagination,
            }
        )+
    };
}

// ------------------------------------------------------------------------------- common parts

/// The `meta` block of every response (seed 003 §1.2).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// The request's `x-request-id` (the client's own, or a UUID the server generated).
    #[schema(example = "0b6a3f0e-5a43-4d5c-9d7e-2f1f1c7c9a10")]
    pub request_id: String,
    /// Server time of the response, RFC 3339 UTC with milliseconds.
    pub timestamp: DateTime<Utc>,
}

/// An error response (seed 003 §1.2–1.3).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorObject,
    /// Request id and server time.
    pub meta: Meta,
}

/// `{"code", "message", "details"}` of an [`ErrorBody`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorObject {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human-readable message (for people, not for parsing).
    pub message: String,
    /// Machine-readable context; `{}` when there is none.
    pub details: ErrorDetails,
}

/// Every error code the OpenTicket routes answer with, and its HTTP status.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// 400: a body, path or query field is malformed or out of range; `details` names it.
    ValidationError,
    /// 401: no, malformed, forged or expired access token; bad credentials; bad webhook signature.
    Unauthorized,
    /// 403: signed in, but the caller's roles do not allow it.
    Forbidden,
    /// 404: no such resource (also someone else's order or ticket); `details` names it.
    NotFound,
    /// 409: the request contradicts the resource's state; `details` says how.
    Conflict,
    /// 409: one or more seats cannot be locked or ordered; `details.unavailableSeats` lists them.
    SeatUnavailable,
    /// 413: the body is over the route's limit.
    PayloadTooLarge,
    /// 502: the payment provider refused or failed.
    PaymentProviderError,
    /// 503: the store failed or is contended; try again.
    ServiceUnavailable,
    /// 500: a bug; the detail is logged with the request id, never sent.
    InternalError,
}

/// `details` of an error. Which members appear depends on the code: `VALIDATION_ERROR` has
/// `field` and `reason`; `NOT_FOUND` has `resource` and `id`; `SEAT_UNAVAILABLE` has
/// `unavailableSeats`; `CONFLICT` may have `field` (a taken email), `usedAt` (a ticket already
/// used) or `saleStartTime`/`saleEndTime` (a session not on sale); the others are `{}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetails {
    /// The offending field: a JSON path such as `seatIds[2]` or `sessions[0].startTime`, a
    /// query or path parameter, or `body` for malformed JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub field: Option<String>,
    /// What is wrong with `field`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<String>,
    /// The kind of resource not found, e.g. `order`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub resource: Option<String>,
    /// The id asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub id: Option<String>,
    /// The seats that could not be locked or ordered.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub unavailable_seats: Option<Vec<UnavailableSeat>>,
    /// When the ticket was first used (a second scan).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub used_at: Option<String>,
    /// When the session's sale opens (ordering or locking outside the sale).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub sale_start_time: Option<String>,
    /// When the session's sale closes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub sale_end_time: Option<String>,
}

/// One seat that could not be locked or ordered (seed 003 §5.2).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnavailableSeat {
    /// The seat.
    #[schema(example = "A-002")]
    pub seat_id: String,
    /// Why, in words.
    #[schema(example = "Already locked by another user")]
    pub reason: String,
}

/// 500 `INTERNAL_ERROR`: a bug. The detail is logged with the request id, never sent.
#[derive(Debug, Serialize, ToResponse)]
#[response(
    description = "INTERNAL_ERROR: an unexpected failure; the detail is logged with the request id, never sent"
)]
pub struct InternalError(pub ErrorBody);

/// 503 `SERVICE_UNAVAILABLE`: the store failed or is contended.
#[derive(Debug, Serialize, ToResponse)]
#[response(description = "SERVICE_UNAVAILABLE: the store failed or is contended; try again")]
pub struct ServiceUnavailable(pub ErrorBody);

/// 413 `PAYLOAD_TOO_LARGE`: the body is over the limit (1 MiB for the whole server). A request
/// whose `Content-Length` is over it is refused before any route sees it, in plain text; a
/// streamed (chunked) body is refused by the route, in the error format.
// Never built, only described: the size of its variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Serialize, ToResponse)]
#[response(
    description = "PAYLOAD_TOO_LARGE: the body is over the 1 MiB limit (plain text when `Content-Length` says so up front, else the error format)"
)]
pub enum PayloadTooLarge {
    /// Refused by the route while reading a streamed body.
    Json(#[content("application/json")] ErrorBody),
    /// Refused up front from `Content-Length`: `length limit exceeded`.
    Text(#[content("text/plain")] String),
}

/// An amount of money: `{"amount": 4800, "currency": "TWD"}`. The amount is exact and never has
/// more fraction digits than the currency allows (TWD 0, USD 2).
#[derive(Debug, Serialize, ToSchema)]
pub struct Money {
    /// Amount in the currency's major unit, as a JSON number.
    #[schema(value_type = f64, example = 4800)]
    pub amount: f64,
    /// ISO 4217 code.
    #[schema(example = "TWD")]
    pub currency: String,
}

/// `{"page", "pageSize", "totalItems", "totalPages"}` (seed 003 §3.1).
#[derive(Debug, Serialize, ToSchema)]
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

// ------------------------------------------------------------------------------------ identity

/// A role a user can hold. An admin may do everything.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleName {
    /// Buys tickets; every user has it.
    Customer,
    /// Creates events.
    Organizer,
    /// Checks tickets at the door.
    Staff,
    /// Reads the raw event log.
    Auditor,
    /// Manages users and roles, creates venues.
    Admin,
}

/// `POST /v1/auth/register` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    /// Email address (the sign-in name).
    #[schema(example = "user@example.com")]
    pub email: String,
    /// Password.
    #[schema(example = "correct horse battery")]
    pub password: String,
    /// Name to show; optional.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// `POST /v1/auth/login` body (seed 003 §2.2).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    /// Email address.
    #[schema(example = "user@example.com")]
    pub email: String,
    /// Password.
    #[schema(example = "correct horse battery")]
    pub password: String,
}

/// `POST /v1/auth/refresh` and `POST /v1/auth/logout` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    /// A refresh token from login or an earlier refresh.
    pub refresh_token: String,
}

/// `POST /v1/admin/users/{userId}/roles` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleRequest {
    /// The role to grant.
    pub role: RoleName,
}

/// A user as OpenTicket clients see it.
#[derive(Debug, Serialize, ToSchema)]
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
    /// Roles held.
    pub roles: Vec<RoleName>,
    /// When the user registered, RFC 3339 UTC.
    pub registered_at: DateTime<Utc>,
}

/// The tokens of a sign-in (seed 003 §2.2).
#[derive(Debug, Serialize, ToSchema)]
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
    pub token_type: String,
}

/// `POST /v1/auth/logout` result.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogoutResult {
    /// Always true: the refresh token's family is revoked.
    pub revoked: bool,
}

// -------------------------------------------------------------------------------------- venues

/// A venue's status (venues cannot be closed yet).
#[derive(Debug, Serialize, ToSchema)]
pub enum VenueStatus {
    /// Open for events.
    Active,
}

/// A postal address (seed 003 §3.1).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// ISO 3166 country code.
    #[schema(example = "TW")]
    pub country: String,
    /// City.
    #[schema(example = "台北市")]
    pub city: String,
    /// Street and number (empty when none was given).
    pub street: String,
    /// Postal code (empty when none was given).
    pub postal_code: String,
}

/// One seat of a seat map.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatMapSeat {
    /// Seat id, unique in the venue.
    #[schema(example = "A-001")]
    pub seat_id: String,
    /// Row label.
    pub row: String,
    /// Seat number within its row.
    pub number: i64,
    /// Horizontal position on the drawing, as the venue's creator sent it.
    pub x: f64,
    /// Vertical position on the drawing.
    pub y: f64,
    /// Seat type, e.g. `Normal`.
    #[serde(rename = "type")]
    pub seat_type: String,
}

/// One area of a seat map, seats in seat-map order.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatMapArea {
    /// Area id.
    #[schema(example = "A")]
    pub area_id: String,
    /// Display name.
    pub name: String,
    /// Its seats.
    pub seats: Vec<SeatMapSeat>,
}

/// A venue's seat map (seed 003 §3.2).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatMap {
    /// Seat map id.
    pub seat_map_id: Uuid,
    /// Revision (1: seat maps cannot be changed yet).
    pub version: i64,
    /// Areas with their seats, in the creator's order.
    pub areas: Vec<SeatMapArea>,
}

/// An item of `GET /v1/venues` (seed 003 §3.1).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VenueSummary {
    /// Venue id.
    pub venue_id: Uuid,
    /// Name.
    pub name: String,
    /// Address.
    pub address: Address,
    /// Capacity as declared by its creator.
    pub capacity: i64,
    /// Status.
    pub status: VenueStatus,
}

/// A venue with its whole seat map (seed 003 §3.2).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VenueDetail {
    /// Venue id.
    pub venue_id: Uuid,
    /// Name.
    pub name: String,
    /// Address.
    pub address: Address,
    /// Capacity as declared by its creator.
    pub capacity: i64,
    /// Status.
    pub status: VenueStatus,
    /// Seats in the seat map.
    pub seat_count: i64,
    /// The seat map.
    pub seat_map: SeatMap,
}

/// The address of a new venue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewAddress {
    /// ISO 3166 country code.
    #[schema(example = "TW")]
    pub country: String,
    /// City.
    #[schema(example = "台北市")]
    pub city: String,
    /// Street and number.
    #[serde(default)]
    #[schema(example = "南京東路四段2號")]
    pub street: String,
    /// Postal code.
    #[serde(default)]
    #[schema(example = "105")]
    pub postal_code: String,
}

/// A seat of a new venue's seat map.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewSeat {
    /// Seat id, unique in the venue (letters, digits and `-`).
    #[schema(example = "A-001")]
    pub seat_id: String,
    /// Row label.
    #[schema(example = "1")]
    pub row: String,
    /// Seat number within its row.
    #[schema(example = 1)]
    pub number: u32,
    /// Horizontal position on the drawing.
    #[schema(example = 100)]
    pub x: f64,
    /// Vertical position on the drawing.
    #[schema(example = 200)]
    pub y: f64,
    /// Seat type; `Normal` when omitted.
    #[serde(rename = "type", default)]
    #[schema(example = "Normal")]
    pub seat_type: String,
}

/// An area of a new venue's seat map.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewArea {
    /// Area id, unique in the venue.
    #[schema(example = "A")]
    pub area_id: String,
    /// Display name.
    #[schema(example = "A 區")]
    pub name: String,
    /// Its seats.
    pub seats: Vec<NewSeat>,
}

/// The seat map of a new venue.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewSeatMap {
    /// Areas with their seats.
    pub areas: Vec<NewArea>,
}

/// `POST /v1/venues` body (seed 003 §3.3). At most 100,000 seats.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateVenueRequest {
    /// Name.
    #[schema(example = "台北小巨蛋")]
    pub name: String,
    /// Address.
    pub address: NewAddress,
    /// Capacity (people).
    #[schema(example = 15000)]
    pub capacity: u32,
    /// The seat map.
    pub seat_map: NewSeatMap,
}

// -------------------------------------------------------------------------------------- events

/// An event's status, derived from its sessions: `OnSale` while any session is on sale, else
/// `Published` while any session has not ended, else `Ended`.
#[derive(Debug, Serialize, ToSchema)]
pub enum EventStatus {
    /// No session on sale, at least one not ended.
    Published,
    /// At least one session on sale.
    OnSale,
    /// Every session ended.
    Ended,
}

/// A session's status, derived from its times when asked.
#[derive(Debug, Serialize, ToSchema)]
pub enum SessionStatus {
    /// Before `saleStartTime`.
    Scheduled,
    /// From `saleStartTime` until `saleEndTime`.
    OnSale,
    /// From `saleEndTime` until `endTime`.
    SaleEnded,
    /// From `endTime` on.
    Ended,
}

/// `{"min", "max"}` over an event's price categories.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceRange {
    /// Cheapest category.
    pub min: Money,
    /// Dearest category.
    pub max: Money,
}

/// A session inside an [`EventSummary`].
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventSessionSummary {
    /// Session id.
    pub session_id: Uuid,
    /// Start, as the organizer wrote it (offset kept).
    #[schema(format = DateTime, example = "2025-03-15T19:00:00+08:00")]
    pub start_time: String,
    /// Derived status.
    pub status: SessionStatus,
    /// Seats free to lock now.
    pub available_seats: i64,
}

/// An item of `GET /v1/events` (seed 003 §4.1).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventSummary {
    /// Event id.
    pub event_id: Uuid,
    /// Name.
    pub name: String,
    /// Description (null when none).
    #[schema(required = true)]
    pub description: Option<String>,
    /// Venue id.
    pub venue_id: Uuid,
    /// Venue name.
    pub venue_name: String,
    /// Derived status.
    pub status: EventStatus,
    /// Sessions, in the organizer's order.
    pub sessions: Vec<EventSessionSummary>,
    /// Cheapest and dearest price (null without price categories).
    #[schema(required = true)]
    pub price_range: Option<PriceRange>,
}

/// `{"venueId", "name"}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VenueRef {
    /// Venue id.
    pub venue_id: Uuid,
    /// Venue name.
    pub name: String,
}

/// A session of an [`EventDetail`]; times are the organizer's, offset kept.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// Session id.
    pub session_id: Uuid,
    /// Start.
    #[schema(format = DateTime, example = "2025-03-15T19:00:00+08:00")]
    pub start_time: String,
    /// End.
    #[schema(format = DateTime, example = "2025-03-15T22:00:00+08:00")]
    pub end_time: String,
    /// Sales open.
    #[schema(format = DateTime, example = "2025-02-01T12:00:00+08:00")]
    pub sale_start_time: String,
    /// Sales close.
    #[schema(format = DateTime, example = "2025-03-15T18:00:00+08:00")]
    pub sale_end_time: String,
    /// Derived status.
    pub status: SessionStatus,
    /// Seats free to lock now.
    pub available_seats: i64,
}

/// A price category (seed 003 §4.2).
#[derive(Debug, Serialize, ToSchema)]
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

/// An event with its sessions and price categories (seed 003 §4.2).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventDetail {
    /// Event id.
    pub event_id: Uuid,
    /// The organizer who created it.
    pub organizer_id: Uuid,
    /// Name.
    pub name: String,
    /// Description (null when none).
    #[schema(required = true)]
    pub description: Option<String>,
    /// Derived status.
    pub status: EventStatus,
    /// The venue.
    pub venue: VenueRef,
    /// Sessions, in the organizer's order.
    pub sessions: Vec<SessionView>,
    /// Price categories, in the organizer's order.
    pub price_categories: Vec<PriceCategory>,
}

/// A session of a new event: RFC 3339 times with an offset, kept as written.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewSession {
    /// Start.
    #[schema(format = DateTime, example = "2025-03-15T19:00:00+08:00")]
    pub start_time: String,
    /// End.
    #[schema(format = DateTime, example = "2025-03-15T22:00:00+08:00")]
    pub end_time: String,
    /// Sales open.
    #[schema(format = DateTime, example = "2025-02-01T12:00:00+08:00")]
    pub sale_start_time: String,
    /// Sales close.
    #[schema(format = DateTime, example = "2025-03-15T18:00:00+08:00")]
    pub sale_end_time: String,
}

/// An amount in a request: a JSON number, or a decimal string for exactness.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AmountInput {
    /// A number, e.g. `6800` or `12.5`.
    Number(f64),
    /// A decimal string, e.g. `"12.50"`.
    Decimal(String),
}

/// Money in a request; at most as many fraction digits as the currency allows.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MoneyInput {
    /// Amount in the major unit.
    #[schema(example = 6800)]
    pub amount: AmountInput,
    /// ISO 4217 code.
    #[schema(example = "TWD")]
    pub currency: String,
}

/// A price category of a new event.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewPriceCategory {
    /// Category id.
    #[schema(example = "VIP")]
    pub category_id: String,
    /// Display name.
    #[schema(example = "VIP 區")]
    pub name: String,
    /// Areas of the venue's seat map it prices.
    pub area_ids: Vec<String>,
    /// Price of one seat.
    pub price: MoneyInput,
}

/// `POST /v1/events` body (seed 003 §4.3).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateEventRequest {
    /// Name.
    #[schema(example = "五月天演唱會")]
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// The venue.
    pub venue_id: Uuid,
    /// Sessions.
    pub sessions: Vec<NewSession>,
    /// Price categories.
    pub price_categories: Vec<NewPriceCategory>,
}

// --------------------------------------------------------------------------------------- seats

/// A seat's status in a session. A seat held for an unpaid order shows as `Locked`; a lock whose
/// time has passed shows as `Available` at once.
#[derive(Debug, Serialize, ToSchema)]
pub enum SeatStatus {
    /// Free to lock.
    Available,
    /// Locked by a buyer, or held for an unpaid order.
    Locked,
    /// Sold.
    Sold,
}

/// A seat of a [`SessionSeatArea`].
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionSeat {
    /// Seat id.
    pub seat_id: String,
    /// Status now.
    pub status: SeatStatus,
    /// Price; only for `Available` seats in a priced area (omitted otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub price: Option<Money>,
}

/// An area of [`SessionSeats`].
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionSeatArea {
    /// Area id.
    pub area_id: String,
    /// Its seats.
    pub seats: Vec<SessionSeat>,
}

/// Seat counts; `available + locked + sold == total`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeatSummary {
    /// All seats of the session.
    pub total: u64,
    /// Free to lock.
    pub available: u64,
    /// Locked or held for an unpaid order.
    pub locked: u64,
    /// Sold.
    pub sold: u64,
}

/// Every seat of a session by area, and the counts (seed 003 §5.1).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionSeats {
    /// Session id.
    pub session_id: Uuid,
    /// Areas with their seats.
    pub areas: Vec<SessionSeatArea>,
    /// Counts.
    pub summary: SeatSummary,
}

/// One seat of a session (seed 003 §5.4).
#[derive(Debug, Serialize, ToSchema)]
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
    #[schema(required = true)]
    pub price: Option<Money>,
    /// Seat type.
    #[serde(rename = "type")]
    pub seat_type: String,
}

/// `POST`/`DELETE /v1/sessions/{sessionId}/seats/lock` body: at most 10 seats.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatIdsRequest {
    /// Seat ids of the session.
    #[schema(example = json!(["A-001", "A-002"]))]
    pub seat_ids: Vec<String>,
}

/// A seat of a [`SeatLock`].
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LockedSeat {
    /// Seat id.
    pub seat_id: String,
    /// Always `Locked`.
    pub status: SeatStatus,
}

/// A lock on seats (seed 003 §5.2).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatLock {
    /// Lock id.
    pub lock_id: Uuid,
    /// Session id.
    pub session_id: Uuid,
    /// The locked seats.
    pub seats: Vec<LockedSeat>,
    /// When the lock lapses, RFC 3339 UTC.
    pub expires_at: DateTime<Utc>,
    /// Lock lifetime in seconds.
    #[schema(example = 120)]
    pub ttl_seconds: u64,
}

/// Seats released (seed 003 §5.3).
#[derive(Debug, Serialize, ToSchema)]
pub struct SeatRelease {
    /// Seat ids whose lock by the caller was released.
    pub released: Vec<String>,
}

// -------------------------------------------------------------------------------------- orders

/// An order's status.
#[derive(Debug, Serialize, ToSchema)]
pub enum OrderStatus {
    /// Placed, not paid yet.
    Created,
    /// Paid; tickets not issued yet.
    Paid,
    /// Paid, seats sold and tickets issued.
    Completed,
    /// Cancelled before paying.
    Cancelled,
    /// Not paid in time.
    Expired,
}

/// An order's payment status.
#[derive(Debug, Serialize, ToSchema)]
pub enum PaymentStatus {
    /// Waiting for the provider.
    Pending,
    /// Paid.
    Succeeded,
    /// The last attempt failed (the payer may try again until the order expires).
    Failed,
    /// Paid after the order was cancelled or expired: an operator must refund it.
    RefundRequired,
}

/// `POST /v1/orders` body (seed 003 §6.1).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlaceOrderRequest {
    /// The session.
    pub session_id: Uuid,
    /// Seats of the session; they must be locked by the caller.
    #[schema(example = json!(["A-001", "A-002"]))]
    pub seat_ids: Vec<String>,
    /// A configured payment provider, case-insensitive: `Mock`, and `Stripe` when configured.
    #[schema(example = "Mock")]
    pub payment_provider: String,
}

/// An item of an [`OrderDetail`].
#[derive(Debug, Serialize, ToSchema)]
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

/// The payment of an [`OrderDetail`].
#[derive(Debug, Serialize, ToSchema)]
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
    /// Status.
    pub status: PaymentStatus,
    /// When the money arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub paid_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub failure_reason: Option<String>,
}

/// An order (seed 003 §6.1–6.2).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderDetail {
    /// Order id.
    pub order_id: Uuid,
    /// The buyer.
    pub user_id: Uuid,
    /// The event.
    pub event_id: Uuid,
    /// The session.
    pub session_id: Uuid,
    /// Status.
    pub status: OrderStatus,
    /// One item per seat.
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
    #[schema(nullable = false)]
    pub completed_at: Option<DateTime<Utc>>,
    /// When it was cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub cancelled_at: Option<DateTime<Utc>>,
    /// When it expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub expired_at: Option<DateTime<Utc>>,
}

/// `{"eventId", "name"}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventRef {
    /// Event id.
    pub event_id: Uuid,
    /// Event name.
    pub name: String,
}

/// `{"sessionId", "startTime"}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionRef {
    /// Session id.
    pub session_id: Uuid,
    /// Start, as the organizer wrote it.
    #[schema(format = DateTime)]
    pub start_time: String,
}

/// An item of `GET /v1/orders` (seed 003 §6.4).
#[derive(Debug, Serialize, ToSchema)]
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

/// A cancelled order (seed 003 §6.3).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelledOrder {
    /// Order id.
    pub order_id: Uuid,
    /// Always `Cancelled`.
    pub status: OrderStatus,
    /// When it was cancelled, RFC 3339 UTC.
    #[schema(required = true, format = DateTime)]
    pub cancelled_at: Option<String>,
}

// ------------------------------------------------------------------------------------- tickets

/// A ticket's status.
#[derive(Debug, Serialize, ToSchema)]
pub enum TicketStatus {
    /// Valid for entry.
    Issued,
    /// Scanned at the entrance.
    Used,
}

/// `{"sessionId", "startTime", "venue"}` of a [`TicketSummary`].
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketSessionSummary {
    /// Session id.
    pub session_id: Uuid,
    /// Start, as the organizer wrote it.
    #[schema(format = DateTime)]
    pub start_time: String,
    /// Venue name.
    pub venue: String,
}

/// `{"seatId", "area", "row", "number"}`.
#[derive(Debug, Serialize, ToSchema)]
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

/// An item of `GET /v1/tickets` (seed 003 §7.1).
#[derive(Debug, Serialize, ToSchema)]
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
    /// The ticket's QR code as a PNG data URI (`data:image/png;base64,…`), as §7.1 shows.
    pub qr_code: String,
}

/// `{"eventId", "name", "description"}` of a [`TicketDetail`].
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketEvent {
    /// Event id.
    pub event_id: Uuid,
    /// Name.
    pub name: String,
    /// Description (null when none).
    #[schema(required = true)]
    pub description: Option<String>,
}

/// `{"sessionId", "startTime", "endTime"}` of a [`TicketDetail`].
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketSession {
    /// Session id.
    pub session_id: Uuid,
    /// Start, as the organizer wrote it.
    #[schema(format = DateTime)]
    pub start_time: String,
    /// End, as the organizer wrote it.
    #[schema(format = DateTime)]
    pub end_time: String,
}

/// `{"venueId", "name", "address"}` of a [`TicketDetail`].
#[derive(Debug, Serialize, ToSchema)]
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
#[derive(Debug, Serialize, ToSchema)]
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

/// A ticket (seed 003 §7.2).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketDetail {
    /// Ticket id.
    pub ticket_id: Uuid,
    /// The order it was bought with.
    pub order_id: Uuid,
    /// Its owner.
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
    #[schema(nullable = false)]
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

/// `POST /v1/tickets/{ticketId}/verify` body (seed 003 §7.3).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyRequest {
    /// The scanned code (`qrCode` of `GET /v1/tickets/{ticketId}`).
    #[schema(example = "OPENTICKET-0190c9a4e0b87d21a1f3c2b4d5e6f708.s1gnatur3")]
    pub qr_code: String,
}

/// The result of a valid first scan (seed 003 §7.3).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketVerification {
    /// Always true (an invalid or repeated scan is an error response).
    pub valid: bool,
    /// Ticket id.
    pub ticket_id: Uuid,
    /// `Used`.
    pub status: TicketStatus,
    /// The seat.
    pub seat: TicketSeatSummary,
    /// When it was scanned.
    #[schema(required = true)]
    pub used_at: Option<DateTime<Utc>>,
}

// ------------------------------------------------------------------------------------ payments

/// The Mock provider's webhook (Tessera's own format): `payment.succeeded` or `payment.failed`;
/// other types are acknowledged and ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MockWebhookEvent {
    /// Event id; deliveries are deduplicated on it.
    #[schema(example = "evt_1")]
    pub id: String,
    /// `payment.succeeded` or `payment.failed`.
    #[serde(rename = "type")]
    #[schema(example = "payment.succeeded")]
    pub event_type: String,
    /// The payment.
    pub data: MockWebhookData,
}

/// `data` of a [`MockWebhookEvent`].
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MockWebhookData {
    /// The order.
    pub order_id: Uuid,
    /// The payment.
    pub payment_id: Uuid,
    /// Why the payment failed (`payment.failed`).
    #[serde(default)]
    #[schema(nullable = false)]
    pub reason: Option<String>,
}

/// A Stripe Checkout event (seed 003 §10.1): `checkout.session.completed`,
/// `checkout.session.async_payment_succeeded`, `checkout.session.async_payment_failed` or
/// `checkout.session.expired`; other types are acknowledged and ignored. Stripe sends more members
/// than these; they are ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StripeWebhookEvent {
    /// Event id, `evt_…`; deliveries are deduplicated on it.
    #[schema(example = "evt_1NG8Du2eZvKYlo2CUI79vXWy")]
    pub id: String,
    /// Event type.
    #[serde(rename = "type")]
    #[schema(example = "checkout.session.completed")]
    pub event_type: String,
    /// The Checkout Session.
    pub data: StripeEventData,
}

/// `data` of a [`StripeWebhookEvent`].
#[derive(Debug, Deserialize, ToSchema)]
pub struct StripeEventData {
    /// The Checkout Session.
    pub object: StripeCheckoutSession,
}

/// The Checkout Session of a [`StripeWebhookEvent`].
#[derive(Debug, Deserialize, ToSchema)]
pub struct StripeCheckoutSession {
    /// Session id, `cs_…`.
    #[schema(example = "cs_test_a1b2c3")]
    pub id: String,
    /// `paid`, `unpaid` or `no_payment_required`.
    #[serde(default)]
    #[schema(nullable = false, example = "paid")]
    pub payment_status: Option<String>,
    /// Tessera's ids, set when the session was created.
    pub metadata: StripeMetadata,
}

/// `metadata` of a [`StripeCheckoutSession`].
#[derive(Debug, Deserialize, ToSchema)]
pub struct StripeMetadata {
    /// The order.
    pub order_id: Uuid,
    /// The payment.
    #[serde(default)]
    #[schema(nullable = false)]
    pub payment_id: Option<Uuid>,
}

/// A payment provider's notice: the Mock format or Stripe's.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum WebhookEvent {
    /// `POST /v1/webhooks/payment/mock`.
    Mock(MockWebhookEvent),
    /// `POST /v1/webhooks/payment/stripe`.
    Stripe(StripeWebhookEvent),
}

/// A webhook delivery accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAck {
    /// Always true.
    pub received: bool,
    /// True when the event type changes nothing (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub ignored: Option<bool>,
}

/// What a Mock payment page button did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MockPaymentAction {
    /// The payment succeeded.
    Confirm,
    /// The payment was declined.
    Decline,
}

/// The outcome recorded by the Mock payment page.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MockPaymentResult {
    /// The payment.
    pub payment_id: Uuid,
    /// Its order.
    pub order_id: Uuid,
    /// What was recorded.
    pub result: MockPaymentAction,
}

// ----------------------------------------------------------------------------------- envelopes

page! {
    /// One page of venues.
    VenuePage => VenueSummary;
    /// One page of events.
    EventPage => EventSummary;
    /// One page of the caller's orders, newest first.
    OrderPage => OrderSummary;
    /// One page of the caller's tickets.
    TicketPage => TicketSummary;
}

envelope! {
    /// `{"data": User, "meta"}`.
    UserResponse => User;
    /// `{"data": Tokens, "meta"}`.
    TokensResponse => Tokens;
    /// `{"data": {"revoked": true}, "meta"}`.
    LogoutResponse => LogoutResult;
    /// `{"data": VenuePage, "meta"}`.
    VenuePageResponse => VenuePage;
    /// `{"data": VenueDetail, "meta"}`.
    VenueResponse => VenueDetail;
    /// `{"data": EventPage, "meta"}`.
    EventPageResponse => EventPage;
    /// `{"data": EventDetail, "meta"}`.
    EventResponse => EventDetail;
    /// `{"data": SessionSeats, "meta"}`.
    SessionSeatsResponse => SessionSeats;
    /// `{"data": SeatDetail, "meta"}`.
    SeatResponse => SeatDetail;
    /// `{"data": SeatLock, "meta"}`.
    SeatLockResponse => SeatLock;
    /// `{"data": SeatRelease, "meta"}`.
    SeatReleaseResponse => SeatRelease;
    /// `{"data": OrderDetail, "meta"}`.
    OrderResponse => OrderDetail;
    /// `{"data": OrderPage, "meta"}`.
    OrderPageResponse => OrderPage;
    /// `{"data": CancelledOrder, "meta"}`.
    CancelledOrderResponse => CancelledOrder;
    /// `{"data": TicketPage, "meta"}`.
    TicketPageResponse => TicketPage;
    /// `{"data": TicketDetail, "meta"}`.
    TicketResponse => TicketDetail;
    /// `{"data": TicketVerification, "meta"}`.
    TicketVerificationResponse => TicketVerification;
    /// `{"data": WebhookAck, "meta"}`.
    WebhookAckResponse => WebhookAck;
    /// `{"data": MockPaymentResult, "meta"}`.
    MockPaymentResponse => MockPaymentResult;
}
