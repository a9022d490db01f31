//! OpenTicket command routes (seed 003): everything that appends events. Each handler parses the
//! body (400 naming the field), checks the caller's role, runs the command through
//! [`OpenTicketService`](tessera_application::openticket::OpenTicketService), waits until the read
//! models show the write (DESIGN.md §4), and answers in the document's shape (mostly the same view
//! the matching GET serves). The service's typed [`OpenTicketError`] is worded here, in seed 003's
//! error format.
//!
//! - `POST /v1/venues` (admin, §3.3) → 201 venue with seat map
//! - `POST /v1/events` (organizer, §4.3) → 201 event with sessions and price categories
//! - `POST /v1/sessions/{sessionId}/seats/lock` (§5.2) → 200 `{lockId, sessionId, seats, expiresAt,
//!   ttlSeconds}`, or 409 `SEAT_UNAVAILABLE` with `unavailableSeats`
//! - `DELETE /v1/sessions/{sessionId}/seats/lock` (§5.3) → 200 `{released}` (the caller's own only)
//! - `POST /v1/orders` (§6.1) → 201 order with `payment.paymentUrl`
//! - `DELETE /v1/orders/{orderId}` (§6.3) → 200 `{orderId, status: "Cancelled", cancelledAt}`
//! - `POST /v1/tickets/{ticketId}/verify` (staff, §7.3) → 200 `{valid, reason?, ticketId, status,
//!   seat, usedAt}`: every scan result, `valid: false` with a reason for refused ones

use super::common::{OtCaller, parse_id};
use super::envelope::{Envelope, OtJson, ok};
use super::error::{ErrorBody, OtError};
use super::openapi::{InternalError, PayloadTooLarge, ServiceUnavailable, tags};
use super::views::{
    CancelledOrder, CancelledOrderResponse, EventDetail, EventDetailResponse, LockedSeat,
    OrderDetail, OrderDetailResponse, OrderStatus, ScanRefusal, SeatLock, SeatLockResponse,
    SeatRelease, SeatReleaseResponse, SeatStatus, TicketVerification, TicketVerificationResponse,
    VenueDetail, VenueDetailResponse,
};
use crate::http::{
    RequestId, accepted, idempotent, read_after_write, read_your_effects, read_your_writes,
};
use crate::startup::AppState;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::DateTime;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::str::FromStr;
use tessera_application::openticket::{
    EventInput, NewSession, OpenTicketError, Resource, VenueInput,
};
use tessera_domain::identity::Role;
use tessera_domain::openticket::event::PriceCategory;
use tessera_domain::openticket::order::PaymentOutcome as OrderPayment;
use tessera_domain::openticket::ticket::TicketError;
use tessera_domain::openticket::venue::{Address, Area, Seat};
use tessera_domain::openticket::{
    AreaId, CategoryId, Currency, Money, OrderId, PaymentId, SeatId, SessionId, TicketId, VenueId,
};
use tessera_infrastructure::payments::{PaymentNotice, PaymentOutcome};
use tessera_projections::openticket as rows;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest `POST /v1/venues` body: a 100,000-seat map is about 10 MiB of JSON.
const VENUE_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Routes of this module, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    // The body limit goes outside the idempotency layer, which reads the body within it.
    let (schemas, paths, create_venue) = idempotent::<OtError>(routes!(create_venue));
    let create_venue = create_venue.layer(DefaultBodyLimit::max(VENUE_BODY_LIMIT));
    OpenApiRouter::default()
        .routes((schemas, paths, create_venue))
        .routes(idempotent::<OtError>(routes!(create_event)))
        .routes(idempotent::<OtError>(routes!(lock_seats, release_seats)))
        .routes(idempotent::<OtError>(routes!(place_order)))
        .routes(routes!(cancel_order))
        .routes(routes!(verify_ticket))
}

/// Record a provider's payment notice on its order (webhooks and the Mock page); 404 for an
/// unknown order.
pub async fn record_payment(
    state: &AppState,
    request_id: &RequestId,
    notice: PaymentNotice,
) -> Result<(), OtError> {
    let outcome = match notice.outcome {
        PaymentOutcome::Succeeded => OrderPayment::Succeeded,
        PaymentOutcome::Failed { reason } => OrderPayment::Failed { reason },
        PaymentOutcome::Ignored => return Ok(()),
    };
    let position = state
        .services
        .openticket
        .record_payment(
            OrderId::from_uuid(notice.order_id),
            notice.payment_id.map(PaymentId::from_uuid),
            &notice.provider_event_id,
            outcome,
            &request_id.metadata(None),
        )
        .await?;
    // The payment starts fulfilment: wait until its tickets are readable too.
    read_your_effects(state, position).await;
    Ok(())
}

/// `data` of a `202 Accepted` after a write (docs/decisions/0011-answer-after-write.md): the id of
/// what was created, the one member its route names; the whole is readable at `Location` shortly.
// Built as JSON by [`pending`]; this type declares the members for the OpenAPI document.
#[allow(dead_code)]
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Accepted {
    /// The new venue (`POST /v1/venues`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    venue_id: Option<uuid::Uuid>,
    /// The new event (`POST /v1/events`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    event_id: Option<uuid::Uuid>,
    /// The new order (`POST /v1/orders`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    order_id: Option<uuid::Uuid>,
}

/// `{"data": Accepted, "meta"}`.
type AcceptedResponse = Envelope<Accepted>;

/// The answer to a command that committed but whose result the read models do not show yet
/// (docs/decisions/0011-answer-after-write.md): `202 Accepted`, `Location: location`,
/// `Retry-After: 1`, and `data` naming what was created — never a 5xx that would make the client
/// retry and create a duplicate.
fn pending(location: &str, data: Value) -> Response {
    accepted(ok(StatusCode::ACCEPTED, data), location)
}

// ------------------------------------------------------------------------------------ venues

/// The address of a new venue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct NewAddress {
    /// ISO 3166 country code.
    #[schema(example = "TW")]
    country: String,
    /// City, 1–100 characters.
    #[schema(example = "台北市")]
    city: String,
    /// Street and number.
    #[serde(default)]
    #[schema(example = "南京東路四段2號")]
    street: String,
    /// Postal code.
    #[serde(default)]
    #[schema(example = "105")]
    postal_code: String,
}

/// A seat of a new venue's seat map.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct NewSeat {
    /// Seat id, unique in the venue (letters, digits and `-`).
    #[schema(example = "A-001")]
    seat_id: String,
    /// Row label.
    #[schema(example = "1")]
    row: String,
    /// Seat number within its row.
    #[schema(example = 1)]
    number: u32,
    /// Horizontal position on the drawing, kept exactly as sent.
    #[schema(value_type = f64, example = 100)]
    x: serde_json::Number,
    /// Vertical position on the drawing.
    #[schema(value_type = f64, example = 200)]
    y: serde_json::Number,
    /// Seat type; `Normal` when omitted.
    #[serde(rename = "type", default = "normal")]
    #[schema(example = "Normal")]
    seat_type: String,
}

fn normal() -> String {
    "Normal".to_owned()
}

/// An area of a new venue's seat map.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct NewArea {
    /// Area id, unique in the venue.
    #[schema(example = "A")]
    area_id: String,
    /// Display name.
    #[schema(example = "A 區")]
    name: String,
    /// Its seats: at least one, seat ids unique in the venue.
    seats: Vec<NewSeat>,
}

/// The seat map of a new venue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct NewSeatMap {
    /// Areas with their seats.
    areas: Vec<NewArea>,
}

/// `POST /v1/venues` body (seed 003 §3.3). At most 100,000 seats.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct CreateVenueRequest {
    /// Venue name, 1–200 characters (trimmed).
    #[schema(example = "台北小巨蛋")]
    name: String,
    /// Postal address; `street` and `postalCode` may be omitted.
    address: NewAddress,
    /// Capacity (people).
    #[schema(example = 15000)]
    capacity: u32,
    /// At least one area, each with at least one seat; 100,000 seats at most.
    seat_map: NewSeatMap,
}

fn code<T>(
    field: String,
    raw: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, OtError> {
    parse(raw).map_err(|reason| OtError::validation(field, reason))
}

/// Create a venue with its seat map (seed 003 §3.3; admins only).
#[utoipa::path(
    post,
    path = "/v1/venues",
    operation_id = "createVenue",
    tag = tags::VENUES,
    summary = "Create a venue",
    description = "Admins only. At most 100,000 seats.",
    security(("bearerAuth" = [])),
    request_body = CreateVenueRequest,
    responses(
        (status = 201, description = "The venue, as `GET /v1/venues/{venueId}` shows it", body = VenueDetailResponse),
        (status = 202, description = "Created, but the read models do not show it yet (docs/decisions/0011-answer-after-write.md): `data` is `{venueId}`; read it at `Location` shortly. Never retry the POST.", body = AcceptedResponse, headers(("Location" = String, description = "`/v1/venues/{venueId}`"), ("Retry-After" = u32, description = "Seconds to wait before reading it: 1"))),
        (status = 400, description = "VALIDATION_ERROR naming the field (e.g. `seatMap.areas[0].seats[3].seatId`)", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, malformed, forged or expired access token", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the caller is not an admin", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
async fn create_venue(
    State(state): State<AppState>,
    request_id: RequestId,
    caller: OtCaller,
    OtJson(body): OtJson<CreateVenueRequest>,
) -> Result<Response, OtError> {
    caller.require(Role::Admin)?;
    let mut areas = Vec::with_capacity(body.seat_map.areas.len());
    for (i, a) in body.seat_map.areas.into_iter().enumerate() {
        let at = format!("seatMap.areas[{i}]");
        let mut seats = Vec::with_capacity(a.seats.len());
        for (j, s) in a.seats.into_iter().enumerate() {
            seats.push(Seat {
                seat_id: code(format!("{at}.seats[{j}].seatId"), &s.seat_id, SeatId::parse)?,
                row: s.row,
                number: s.number,
                x: s.x,
                y: s.y,
                seat_type: s.seat_type,
            });
        }
        areas.push(Area {
            area_id: code(format!("{at}.areaId"), &a.area_id, AreaId::parse)?,
            name: a.name,
            seats,
        });
    }
    let address = Address {
        country: body.address.country,
        city: body.address.city,
        street: body.address.street,
        postal_code: body.address.postal_code,
    };
    let (venue, position) = state
        .services
        .openticket
        .create_venue(
            VenueInput {
                name: body.name,
                address,
                capacity: body.capacity,
                areas,
            },
            caller.user_id,
            &request_id.metadata(Some(caller.user_id.to_string())),
        )
        .await?;
    let id = venue.venue_id.as_uuid();
    // The seat map is read back from the read model; the command's copy can go now.
    drop(venue);
    let queries = &state.services.openticket_queries;
    match read_after_write(&state, position, queries.venue(id)).await {
        Some(view) => Ok(ok(StatusCode::CREATED, VenueDetail::from(view))),
        None => Ok(pending(
            &format!("/v1/venues/{id}"),
            json!({ "venueId": id }),
        )),
    }
}

// ------------------------------------------------------------------------------------ events

/// A session of a new event: RFC 3339 times with an offset, kept as written.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = NewSession)]
struct NewSessionTimes {
    /// Session start, RFC 3339 with an offset (kept as written).
    #[schema(format = DateTime, example = "2025-03-15T19:00:00+08:00")]
    start_time: String,
    /// Session end, after `startTime` and not before `saleEndTime`.
    #[schema(format = DateTime, example = "2025-03-15T22:00:00+08:00")]
    end_time: String,
    /// Sales open, RFC 3339 with an offset; before `saleEndTime`.
    #[schema(format = DateTime, example = "2025-02-01T12:00:00+08:00")]
    sale_start_time: String,
    /// Sales close (exclusive), RFC 3339 with an offset; not after `endTime`.
    #[schema(format = DateTime, example = "2025-03-15T18:00:00+08:00")]
    sale_end_time: String,
}

/// Money in a request: `{"amount": <number or decimal string>, "currency": "TWD"}`, exact, with
/// at most as many fraction digits as the currency allows; read into the shared `Money`.
#[derive(Debug, Deserialize, ToSchema)]
struct MoneyInput {
    /// Amount in the major unit.
    #[schema(schema_with = amount_input)]
    amount: Value,
    /// ISO 4217 code.
    #[schema(example = "TWD")]
    currency: String,
}

/// The schema of `MoneyInput::amount`: a JSON number, or a decimal string for exactness (any
/// other JSON is a 400 naming the field, from [`money`]).
fn amount_input() -> Schema {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .description(Some("A number, e.g. `6800` or `12.5`")),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("A decimal string, e.g. `\"12.50\"`")),
        )
        .description(Some("Amount in the currency's major unit"))
        .examples([json!(6800)])
        .build()
        .into()
}

/// A price category of a new event.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct NewPriceCategory {
    /// Category id.
    #[schema(example = "VIP")]
    category_id: String,
    /// Display name.
    #[schema(example = "VIP 區")]
    name: String,
    /// Areas of the venue's seat map it prices.
    area_ids: Vec<String>,
    /// Price of one seat.
    price: MoneyInput,
}

/// `POST /v1/events` body (seed 003 §4.3).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct CreateEventRequest {
    /// Event name, 1–200 characters (trimmed).
    #[schema(example = "五月天演唱會")]
    name: String,
    /// Description, up to 5,000 characters; optional.
    #[serde(default)]
    description: Option<String>,
    /// Id of an existing venue (an unknown one is a 400 naming `venueId`).
    #[schema(value_type = Uuid)]
    venue_id: String,
    /// 1 to 100 sessions.
    sessions: Vec<NewSessionTimes>,
    /// Price categories.
    price_categories: Vec<NewPriceCategory>,
}

fn time(field: String, raw: &str) -> Result<DateTime<chrono::FixedOffset>, OtError> {
    DateTime::parse_from_rfc3339(raw).map_err(|_| {
        OtError::validation(
            field,
            "must be an RFC 3339 time with an offset, e.g. 2025-03-15T19:00:00+08:00",
        )
    })
}

/// Seed 003 money: `{"amount": <number or decimal string>, "currency": "TWD"}`, exact, within the
/// currency's minor unit.
fn money(at: &str, m: &MoneyInput) -> Result<Money, OtError> {
    let currency = Currency::parse(&m.currency)
        .map_err(|e| OtError::validation(format!("{at}.currency"), e.to_string()))?;
    let text = match &m.amount {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => {
            return Err(OtError::validation(
                format!("{at}.amount"),
                "must be a number",
            ));
        }
    };
    let amount = Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .map_err(|_| OtError::validation(format!("{at}.amount"), "must be a decimal number"))?;
    Money::new(amount, currency)
        .map_err(|e| OtError::validation(format!("{at}.amount"), e.to_string()))
}

/// Create an event with its sessions and price categories (seed 003 §4.3; organizers only).
#[utoipa::path(
    post,
    path = "/v1/events",
    operation_id = "createEvent",
    tag = tags::EVENTS,
    summary = "Create an event",
    description = "Organizers (and admins) only. Events are published when created.",
    security(("bearerAuth" = [])),
    request_body = CreateEventRequest,
    responses(
        (status = 201, description = "The event, as `GET /v1/events/{eventId}` shows it", body = EventDetailResponse),
        (status = 202, description = "Created, but the read models do not show it yet (docs/decisions/0011-answer-after-write.md): `data` is `{eventId}`; read it at `Location` shortly. Never retry the POST.", body = AcceptedResponse, headers(("Location" = String, description = "`/v1/events/{eventId}`"), ("Retry-After" = u32, description = "Seconds to wait before reading it: 1"))),
        (status = 400, description = "VALIDATION_ERROR naming the field (e.g. `sessions[0].startTime`, `priceCategories[1].price.amount`, or `venueId` for an unknown venue)", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, malformed, forged or expired access token", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the caller is not an organizer", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
async fn create_event(
    State(state): State<AppState>,
    request_id: RequestId,
    caller: OtCaller,
    OtJson(body): OtJson<CreateEventRequest>,
) -> Result<Response, OtError> {
    caller.require(Role::Organizer)?;
    let venue_id: VenueId = parse_id("venueId", &body.venue_id)?;
    let mut sessions = Vec::with_capacity(body.sessions.len());
    for (i, s) in body.sessions.iter().enumerate() {
        let at = format!("sessions[{i}]");
        sessions.push(NewSession {
            start_time: time(format!("{at}.startTime"), &s.start_time)?,
            end_time: time(format!("{at}.endTime"), &s.end_time)?,
            sale_start_time: time(format!("{at}.saleStartTime"), &s.sale_start_time)?,
            sale_end_time: time(format!("{at}.saleEndTime"), &s.sale_end_time)?,
        });
    }
    let mut categories = Vec::with_capacity(body.price_categories.len());
    for (i, c) in body.price_categories.iter().enumerate() {
        let at = format!("priceCategories[{i}]");
        let mut area_ids = Vec::with_capacity(c.area_ids.len());
        for (j, a) in c.area_ids.iter().enumerate() {
            area_ids.push(code(format!("{at}.areaIds[{j}]"), a, AreaId::parse)?);
        }
        categories.push(PriceCategory {
            category_id: code(
                format!("{at}.categoryId"),
                &c.category_id,
                CategoryId::parse,
            )?,
            name: c.name.clone(),
            area_ids,
            price: money(&format!("{at}.price"), &c.price)?,
        });
    }
    let created = state
        .services
        .openticket
        .create_event(
            caller.user_id,
            EventInput {
                name: body.name,
                description: body.description,
                venue_id,
                sessions,
                price_categories: categories,
            },
            &request_id.metadata(Some(caller.user_id.to_string())),
        )
        .await?;
    let id = created.event.event_id.as_uuid();
    let read = state
        .services
        .openticket_queries
        .event(id, chrono::Utc::now());
    match read_after_write(&state, created.position, read).await {
        Some(view) => Ok(ok(StatusCode::CREATED, EventDetail::from(view))),
        None => Ok(pending(
            &format!("/v1/events/{id}"),
            json!({ "eventId": id }),
        )),
    }
}

// ------------------------------------------------------------------------------------- seats

/// `POST`/`DELETE /v1/sessions/{sessionId}/seats/lock` body: at most 10 seats.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SeatIdsRequest {
    /// Seat ids of the session.
    #[schema(example = json!(["A-001", "A-002"]))]
    seat_ids: Vec<String>,
}

/// Lock seats of a session for the caller (seed 003 §5.2): all or none, at most 10.
#[utoipa::path(
    post,
    path = "/v1/sessions/{sessionId}/seats/lock",
    operation_id = "lockSeats",
    tag = tags::SEATS,
    summary = "Lock seats",
    description = "All or none, at most 10 seats; the lock lapses after `ttlSeconds` (120 by default). A seat the caller already holds is unavailable (`Already locked by you`), not extended.",
    security(("bearerAuth" = [])),
    params(("sessionId" = Uuid, Path, description = "The session")),
    request_body = SeatIdsRequest,
    responses(
        (status = 200, description = "Locked", body = SeatLockResponse),
        (status = 400, description = "VALIDATION_ERROR: bad `sessionId`, no seats, too many, unknown or repeated seat ids", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, malformed, forged or expired access token", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such session", body = ErrorBody),
        (status = 409, description = "SEAT_UNAVAILABLE with `details.unavailableSeats`, or CONFLICT: the session is not on sale", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id, session_id = %session_id))]
async fn lock_seats(
    State(state): State<AppState>,
    request_id: RequestId,
    caller: OtCaller,
    Path(session_id): Path<String>,
    OtJson(body): OtJson<SeatIdsRequest>,
) -> Result<Response, OtError> {
    let session: SessionId = parse_id("sessionId", &session_id)?;
    let lock = state
        .services
        .openticket
        .lock_seats(
            caller.user_id,
            session,
            &body.seat_ids,
            &request_id.metadata(Some(caller.user_id.to_string())),
        )
        .await
        .map_err(|e| match e {
            OpenTicketError::NotFound(Resource::Session(_)) => {
                OtError::not_found("session", &session_id)
            }
            e => e.into(),
        })?;
    // Answered from the command's own result; the seat reads catch up before they answer
    // (docs/decisions/0039-seat-commands-answer-from-the-command.md).
    let seats = lock
        .seat_ids
        .into_iter()
        .map(|s| LockedSeat {
            seat_id: s.into(),
            status: SeatStatus(rows::SeatStatus::Locked),
        })
        .collect();
    Ok(ok(
        StatusCode::OK,
        SeatLock {
            lock_id: lock.lock_id.as_uuid(),
            session_id: session.as_uuid(),
            seats,
            expires_at: lock.expires_at,
            ttl_seconds: u64::try_from(lock.ttl_seconds).unwrap_or_default(),
        },
    ))
}

/// Release the caller's own locks on seats of a session (seed 003 §5.3).
#[utoipa::path(
    delete,
    path = "/v1/sessions/{sessionId}/seats/lock",
    operation_id = "releaseSeats",
    tag = tags::SEATS,
    summary = "Release seat locks",
    description = "Releases only locks the caller holds; `released` lists them.",
    security(("bearerAuth" = [])),
    params(("sessionId" = Uuid, Path, description = "The session")),
    request_body = SeatIdsRequest,
    responses(
        (status = 200, description = "Released", body = SeatReleaseResponse),
        (status = 400, description = "VALIDATION_ERROR: bad `sessionId` or seat ids", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, malformed, forged or expired access token", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such session", body = ErrorBody),
        (status = 409, description = "CONFLICT: the seats cannot be released in their state", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id, session_id = %session_id))]
async fn release_seats(
    State(state): State<AppState>,
    request_id: RequestId,
    caller: OtCaller,
    Path(session_id): Path<String>,
    OtJson(body): OtJson<SeatIdsRequest>,
) -> Result<Response, OtError> {
    let session: SessionId = parse_id("sessionId", &session_id)?;
    let (released, _position) = state
        .services
        .openticket
        .release_seats(
            caller.user_id,
            session,
            &body.seat_ids,
            &request_id.metadata(Some(caller.user_id.to_string())),
        )
        .await
        .map_err(|e| match e {
            OpenTicketError::NotFound(Resource::Session(_)) => {
                OtError::not_found("session", &session_id)
            }
            e => e.into(),
        })?;
    // As for a lock: the answer needs no read model, the seat reads catch up themselves.
    let released = released.into_iter().map(String::from).collect();
    Ok(ok(StatusCode::OK, SeatRelease { released }))
}

// ------------------------------------------------------------------------------------ orders

/// `POST /v1/orders` body (seed 003 §6.1).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct PlaceOrderRequest {
    /// Session id (an unknown one is a 404).
    #[schema(value_type = Uuid)]
    session_id: String,
    /// Seats of the session; they must be locked by the caller.
    #[schema(example = json!(["A-001", "A-002"]))]
    seat_ids: Vec<String>,
    /// A configured payment provider, case-insensitive: `Mock`, and `Stripe` when configured.
    #[schema(example = "Mock")]
    payment_provider: String,
}

/// Place an order for seats the caller has locked (seed 003 §6.1).
#[utoipa::path(
    post,
    path = "/v1/orders",
    operation_id = "placeOrder",
    tag = tags::ORDERS,
    summary = "Place an order",
    description = "The seats must be locked by the caller. The order expires unless paid within 10 minutes; pay at `payment.paymentUrl`.",
    security(("bearerAuth" = [])),
    request_body = PlaceOrderRequest,
    responses(
        (status = 201, description = "The order with its payment", body = OrderDetailResponse),
        (status = 202, description = "Created, but the read models do not show it yet (docs/decisions/0011-answer-after-write.md): `data` is `{orderId}`; read it at `Location` shortly. Never retry the POST.", body = AcceptedResponse, headers(("Location" = String, description = "`/v1/orders/{orderId}`"), ("Retry-After" = u32, description = "Seconds to wait before reading it: 1"))),
        (status = 400, description = "VALIDATION_ERROR naming the field (`sessionId`, `seatIds`, `paymentProvider`)", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, malformed, forged or expired access token", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such session", body = ErrorBody),
        (status = 409, description = "SEAT_UNAVAILABLE: seats not locked by the caller; or CONFLICT: the session is not on sale", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 502, description = "PAYMENT_PROVIDER_ERROR: the provider could not start the payment", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
async fn place_order(
    State(state): State<AppState>,
    request_id: RequestId,
    caller: OtCaller,
    OtJson(body): OtJson<PlaceOrderRequest>,
) -> Result<Response, OtError> {
    let session: SessionId = parse_id("sessionId", &body.session_id)?;
    let openticket = &state.services.openticket;
    let provider = openticket
        .providers()
        .into_iter()
        .find(|p| p.eq_ignore_ascii_case(body.payment_provider.trim()))
        .ok_or_else(|| {
            OtError::validation(
                "paymentProvider",
                format!("must be one of {}", openticket.providers().join(", ")),
            )
        })?;
    let (order, position) = openticket
        .place_order(
            caller.user_id,
            session,
            &body.seat_ids,
            &provider,
            &request_id.metadata(Some(caller.user_id.to_string())),
        )
        .await
        .map_err(|e| match e {
            OpenTicketError::NotFound(Resource::Session(_)) => {
                OtError::not_found("session", &body.session_id)
            }
            e => e.into(),
        })?;
    let Some(order_id) = order.data.as_ref().map(|d| d.order_id.as_uuid()) else {
        // A placed order always has its data; should it not, the write still stands.
        tracing::error!("a placed order without data");
        read_your_writes(&state, position).await;
        return Ok(pending("/v1/orders", json!({})));
    };
    let queries = &state.services.openticket_queries;
    match read_after_write(&state, position, queries.order(order_id)).await {
        Some(view) => Ok(ok(StatusCode::CREATED, OrderDetail::from(view))),
        None => Ok(pending(
            &format!("/v1/orders/{order_id}"),
            json!({ "orderId": order_id }),
        )),
    }
}

/// Cancel an unpaid order (seed 003 §6.3); its seats become available.
#[utoipa::path(
    delete,
    path = "/v1/orders/{orderId}",
    operation_id = "cancelOrder",
    tag = tags::ORDERS,
    summary = "Cancel an order",
    description = "Only unpaid orders; the owner's or, for an admin, any.",
    security(("bearerAuth" = [])),
    params(("orderId" = Uuid, Path, description = "The order")),
    responses(
        (status = 200, description = "Cancelled", body = CancelledOrderResponse),
        (status = 400, description = "VALIDATION_ERROR: `orderId` is not a UUID", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, malformed, forged or expired access token", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such order, or another user's", body = ErrorBody),
        (status = 409, description = "CONFLICT: the order is paid, completed or expired", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id, order_id = %order_id))]
async fn cancel_order(
    State(state): State<AppState>,
    request_id: RequestId,
    caller: OtCaller,
    Path(order_id): Path<String>,
) -> Result<Response, OtError> {
    let id: OrderId = parse_id("orderId", &order_id)?;
    let (order, position) = state
        .services
        .openticket
        .cancel_order(
            caller.user_id,
            caller.is_admin(),
            id,
            &request_id.metadata(Some(caller.user_id.to_string())),
        )
        .await
        .map_err(|e| match e {
            OpenTicketError::NotFound(_) => OtError::not_found("order", &order_id),
            e => e.into(),
        })?;
    read_your_writes(&state, position).await;
    Ok(ok(
        StatusCode::OK,
        CancelledOrder {
            order_id: id.as_uuid(),
            status: OrderStatus(rows::OrderStatus::Cancelled),
            cancelled_at: order.cancelled_at,
        },
    ))
}

// ----------------------------------------------------------------------------------- tickets

/// `POST /v1/tickets/{ticketId}/verify` body (seed 003 §7.3).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct VerifyRequest {
    /// The scanned code (`qrCode` of `GET /v1/tickets/{ticketId}`).
    #[schema(example = "OPENTICKET-0190C9A4E0B87D21A1F3C2B4D5E6F708.s1gnatur3")]
    qr_code: String,
    /// The session this gate admits to (optional): a ticket for another session is
    /// `valid: false` with `WRONG_SESSION`.
    #[serde(default)]
    session_id: Option<String>,
}

/// Check a ticket at the entrance (seed 003 §7.3; staff only). The first valid scan uses it; every
/// scan result is a 200 whose `valid` says whether to let the holder in.
#[utoipa::path(
    post,
    path = "/v1/tickets/{ticketId}/verify",
    operation_id = "verifyTicket",
    tag = tags::TICKETS,
    summary = "Verify a ticket at the gate",
    description = "Staff (and admins) only. Every scan of an existing ticket answers 200: `valid: true` when this is the first scan of the ticket's own genuine code (at the gate of its session, when `sessionId` is sent), which marks the ticket `Used`; otherwise `valid: false` with `reason` `ALREADY_USED` (with the first `usedAt`), `FORGED`, `WRONG_TICKET` or `WRONG_SESSION`, and the ticket is unchanged. A malformed request (no `qrCode`, bad `ticketId` or `sessionId`) is 400.",
    security(("bearerAuth" = [])),
    params(("ticketId" = Uuid, Path, description = "The ticket")),
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "The scan result: `valid` true (the ticket is now used) or false with `reason`", body = TicketVerificationResponse),
        (status = 400, description = "VALIDATION_ERROR: bad `ticketId` or `sessionId`, missing or empty `qrCode`", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, malformed, forged or expired access token", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the caller is not staff", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such ticket", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id, ticket_id = %ticket_id))]
async fn verify_ticket(
    State(state): State<AppState>,
    request_id: RequestId,
    caller: OtCaller,
    Path(ticket_id): Path<String>,
    OtJson(body): OtJson<VerifyRequest>,
) -> Result<Response, OtError> {
    caller.require(Role::Staff)?;
    let id: TicketId = parse_id("ticketId", &ticket_id)?;
    let gate_session: Option<SessionId> = body
        .session_id
        .as_deref()
        .map(|raw| parse_id("sessionId", raw))
        .transpose()?;
    let code = body.qr_code.trim();
    if code.is_empty() {
        return Err(OtError::validation("qrCode", "must not be empty"));
    }
    let refused = |ticket, reason, used_at| {
        ok(
            StatusCode::OK,
            TicketVerification::refused(ticket, reason, used_at),
        )
    };
    let Ok(code_id) = state.services.ticket_codes.verify(code) else {
        return Ok(refused(
            scanned(&state, id, &ticket_id).await?,
            ScanRefusal::Forged,
            None,
        ));
    };
    let used = state
        .services
        .openticket
        .use_ticket(
            caller.user_id,
            id,
            TicketId::from_uuid(code_id),
            gate_session,
            &request_id.metadata(Some(caller.user_id.to_string())),
        )
        .await;
    let (reason, used_at) = match used {
        Ok((_, position)) => {
            let queries = &state.services.openticket_queries;
            return Ok(
                match read_after_write(&state, position, queries.ticket(id.as_uuid())).await {
                    Some(ticket) => ok(StatusCode::OK, TicketVerification::valid(ticket)),
                    None => pending(
                        &format!("/v1/tickets/{ticket_id}"),
                        json!({ "valid": true, "ticketId": id.as_uuid(), "status": "Used" }),
                    ),
                },
            );
        }
        Err(OpenTicketError::Ticket(TicketError::AlreadyUsed { used_at })) => {
            (ScanRefusal::AlreadyUsed, Some(used_at))
        }
        Err(OpenTicketError::Ticket(TicketError::WrongTicket)) => (ScanRefusal::WrongTicket, None),
        Err(OpenTicketError::Ticket(TicketError::WrongSession { .. })) => {
            (ScanRefusal::WrongSession, None)
        }
        Err(OpenTicketError::NotFound(_)) => return Err(OtError::not_found("ticket", &ticket_id)),
        Err(e) => return Err(e.into()),
    };
    Ok(refused(
        scanned(&state, id, &ticket_id).await?,
        reason,
        used_at,
    ))
}

/// The row of a ticket whose scan was refused (nothing was written); 404 when there is no such
/// ticket.
async fn scanned(state: &AppState, id: TicketId, raw_id: &str) -> Result<rows::TicketRow, OtError> {
    state
        .services
        .openticket_queries
        .ticket(id.as_uuid())
        .await?
        .ok_or_else(|| OtError::not_found("ticket", raw_id))
}
