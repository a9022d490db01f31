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
//! - `POST /v1/tickets/{ticketId}/verify` (staff, §7.3) → 200 `{valid, ticketId, status, seat, usedAt}`

use super::common::{OtCaller, parse_id};
use super::envelope::{OtJson, ok};
use super::error::{OtError, UnavailableSeat};
use crate::http::RequestId;
use crate::http::read_your_writes;
use crate::openapi::schemas as s;
use crate::openapi::tags;
use crate::startup::AppState;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, SecondsFormat};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};
use std::str::FromStr;
use tessera_application::EngineError;
use tessera_application::openticket::{
    EventInput, NewSession, OpenTicketError, Resource, SeatRequestError, VenueInput,
};
use tessera_domain::identity::Role;
use tessera_domain::openticket::event::PriceCategory;
use tessera_domain::openticket::order::{OrderError, PaymentOutcome as OrderPayment};
use tessera_domain::openticket::ticket::TicketError;
use tessera_domain::openticket::venue::{Address, Area, Seat};
use tessera_domain::openticket::{
    AreaId, CategoryId, Currency, Money, OrderId, PaymentId, SeatId, SessionId, TicketId, VenueId,
};
use tessera_infrastructure::payments::{PaymentNotice, PaymentOutcome};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest `POST /v1/venues` body: a 100,000-seat map is about 10 MiB of JSON.
const VENUE_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Routes of this module, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    let (schemas, paths, create_venue) = routes!(create_venue);
    let create_venue = create_venue.layer(DefaultBodyLimit::max(VENUE_BODY_LIMIT));
    OpenApiRouter::default()
        .routes((schemas, paths, create_venue))
        .routes(routes!(create_event))
        .routes(routes!(lock_seats, release_seats))
        .routes(routes!(place_order))
        .routes(routes!(cancel_order))
        .routes(routes!(verify_ticket))
}

impl From<OpenTicketError> for OtError {
    fn from(e: OpenTicketError) -> Self {
        use OpenTicketError as E;
        match e {
            E::NotFound(resource) => {
                let (kind, id) = missing(resource);
                OtError::not_found(kind, id)
            }
            E::UnknownVenue(_) => OtError::validation("venueId", "no venue has this id"),
            E::SeatRequest(e) => seat_request(e),
            E::Invalid(f) => OtError::validation(f.field, f.reason),
            E::UnknownProvider { offered, .. } => OtError::validation(
                "paymentProvider",
                format!("must be one of {}", offered.join(", ")),
            ),
            E::SeatsUnavailable(seats) => OtError::SeatUnavailable(
                seats
                    .into_iter()
                    .map(|s| UnavailableSeat {
                        seat_id: s.seat_id.to_string(),
                        reason: s.reason.message().to_owned(),
                    })
                    .collect(),
            ),
            E::SaleNotOpen {
                sale_start_time,
                sale_end_time,
            } => OtError::Conflict {
                message: "The session is not on sale".into(),
                details: json!({ "saleStartTime": sale_start_time, "saleEndTime": sale_end_time }),
            },
            E::Order(OrderError::UnknownPayment) => {
                OtError::validation("paymentId", "does not belong to this order")
            }
            E::Ticket(TicketError::AlreadyUsed { used_at }) => OtError::Conflict {
                message: "The ticket was already used".into(),
                details: json!({ "usedAt": used_at.to_rfc3339_opts(SecondsFormat::Secs, true) }),
            },
            E::Ticket(TicketError::WrongTicket) => {
                OtError::validation("qrCode", "the code belongs to another ticket")
            }
            E::SeatSession(e) => conflict(e.to_string()),
            E::Venue(e) => conflict(e.to_string()),
            E::Event(e) => conflict(e.to_string()),
            E::Order(e) => conflict(e.to_string()),
            E::Ticket(e) => conflict(e.to_string()),
            E::Money(e) => conflict(e.to_string()),
            E::OrderNotDue(_) => conflict("the order is not due to expire yet".into()),
            E::Payment(p) => OtError::PaymentProvider(p.to_string()),
            E::Engine(e @ (EngineError::Decode(_) | EngineError::StreamId(_))) => {
                OtError::Internal(e.to_string())
            }
            E::Engine(e) => OtError::Unavailable(e.to_string()),
            e @ (E::DeadlinePayload { .. } | E::NotAnOrderStream(_) | E::Inconsistent(_)) => {
                OtError::Internal(e.to_string())
            }
        }
    }
}

/// 404 `details`: the resource's name in seed 003 and its id.
fn missing(resource: Resource) -> (&'static str, String) {
    match resource {
        Resource::Venue(id) => ("venue", id.to_string()),
        Resource::Event(id) => ("event", id.to_string()),
        Resource::Session(id) => ("session", id.to_string()),
        Resource::Order(id) => ("order", id.to_string()),
        Resource::Ticket(id) => ("ticket", id.to_string()),
    }
}

/// A bad `seatIds` list (§5.2, §5.3, §6.1), naming the list or the seat's place in it.
fn seat_request(e: SeatRequestError) -> OtError {
    let at = |index: usize| format!("seatIds[{index}]");
    match e {
        SeatRequestError::NoSeats => {
            OtError::validation("seatIds", "at least one seat is required")
        }
        SeatRequestError::TooMany { max } => {
            OtError::validation("seatIds", format!("at most {max} seats per request"))
        }
        SeatRequestError::Repeated { index, seat } => {
            OtError::validation(at(index), format!("seat {seat} is listed twice"))
        }
        SeatRequestError::Malformed { index, reason } => OtError::validation(at(index), reason),
        SeatRequestError::UnknownSeat { index, seat } => {
            OtError::validation(at(index), format!("the venue has no seat {seat}"))
        }
        SeatRequestError::NotForSale { index, seat } => OtError::validation(
            at(index),
            format!("seat {seat} is not for sale in this event"),
        ),
    }
}

/// 409 `CONFLICT` with `message` and empty `details`.
fn conflict(message: String) -> OtError {
    OtError::Conflict {
        message,
        details: json!({}),
    }
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
    read_your_writes(state, position).await;
    Ok(())
}

// ------------------------------------------------------------------------------------ venues

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddressBody {
    country: String,
    city: String,
    #[serde(default)]
    street: String,
    #[serde(default)]
    postal_code: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SeatBody {
    seat_id: String,
    row: String,
    number: u32,
    x: serde_json::Number,
    y: serde_json::Number,
    #[serde(rename = "type", default = "normal")]
    seat_type: String,
}

fn normal() -> String {
    "Normal".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AreaBody {
    area_id: String,
    name: String,
    seats: Vec<SeatBody>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SeatMapBody {
    areas: Vec<AreaBody>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateVenueBody {
    name: String,
    address: AddressBody,
    capacity: u32,
    seat_map: SeatMapBody,
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
    request_body = s::CreateVenueRequest,
    responses(
        (status = 201, description = "The venue, as `GET /v1/venues/{venueId}` shows it", body = s::VenueResponse),
        (status = 400, description = "VALIDATION_ERROR naming the field (e.g. `seatMap.areas[0].seats[3].seatId`)", body = s::ErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, malformed, forged or expired access token", body = s::ErrorBody),
        (status = 403, description = "FORBIDDEN: the caller is not an admin", body = s::ErrorBody),
        (status = 413, response = s::PayloadTooLarge),
        (status = 500, response = s::InternalError),
        (status = 503, response = s::ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
async fn create_venue(
    State(state): State<AppState>,
    request_id: RequestId,
    caller: OtCaller,
    OtJson(body): OtJson<CreateVenueBody>,
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
    read_your_writes(&state, position).await;
    let view = state
        .services
        .openticket_queries
        .venue(venue.venue_id.as_uuid())
        .await?
        .ok_or_else(|| OtError::Unavailable("the venue is not readable yet".into()))?;
    Ok(ok(StatusCode::CREATED, view))
}

// ------------------------------------------------------------------------------------ events

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionBody {
    start_time: String,
    end_time: String,
    sale_start_time: String,
    sale_end_time: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MoneyBody {
    amount: Value,
    currency: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CategoryBody {
    category_id: String,
    name: String,
    area_ids: Vec<String>,
    price: MoneyBody,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateEventBody {
    name: String,
    #[serde(default)]
    description: Option<String>,
    venue_id: String,
    sessions: Vec<SessionBody>,
    price_categories: Vec<CategoryBody>,
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
fn money(at: &str, m: &MoneyBody) -> Result<Money, OtError> {
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
    request_body = s::CreateEventRequest,
    responses(
        (status = 201, description = "The event, as `GET /v1/events/{eventId}` shows it", body = s::EventResponse),
        (status = 400, description = "VALIDATION_ERROR naming the field (e.g. `sessions[0].startTime`, `priceCategories[1].price.amount`, or `venueId` for an unknown venue)", body = s::ErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, malformed, forged or expired access token", body = s::ErrorBody),
        (status = 403, description = "FORBIDDEN: the caller is not an organizer", body = s::ErrorBody),
        (status = 413, response = s::PayloadTooLarge),
        (status = 500, response = s::InternalError),
        (status = 503, response = s::ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
async fn create_event(
    State(state): State<AppState>,
    request_id: RequestId,
    caller: OtCaller,
    OtJson(body): OtJson<CreateEventBody>,
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
    read_your_writes(&state, created.position).await;
    let view = state
        .services
        .openticket_queries
        .event(created.event.event_id.as_uuid(), chrono::Utc::now())
        .await?
        .ok_or_else(|| OtError::Unavailable("the event is not readable yet".into()))?;
    Ok(ok(StatusCode::CREATED, view))
}

// ------------------------------------------------------------------------------------- seats

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SeatIdsBody {
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
    request_body = s::SeatIdsRequest,
    responses(
        (status = 200, description = "Locked", body = s::SeatLockResponse),
        (status = 400, description = "VALIDATION_ERROR: bad `sessionId`, no seats, too many, unknown or repeated seat ids", body = s::ErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, malformed, forged or expired access token", body = s::ErrorBody),
        (status = 404, description = "NOT_FOUND: no such session", body = s::ErrorBody),
        (status = 409, description = "SEAT_UNAVAILABLE with `details.unavailableSeats`, or CONFLICT: the session is not on sale", body = s::ErrorBody),
        (status = 413, response = s::PayloadTooLarge),
        (status = 500, response = s::InternalError),
        (status = 503, response = s::ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id, session_id = %session_id))]
async fn lock_seats(
    State(state): State<AppState>,
    request_id: RequestId,
    caller: OtCaller,
    Path(session_id): Path<String>,
    OtJson(body): OtJson<SeatIdsBody>,
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
    read_your_writes(&state, lock.position).await;
    let seats: Vec<Value> = lock
        .seat_ids
        .iter()
        .map(|s| json!({ "seatId": s, "status": "Locked" }))
        .collect();
    Ok(ok(
        StatusCode::OK,
        json!({
            "lockId": lock.lock_id,
            "sessionId": session,
            "seats": seats,
            "expiresAt": lock.expires_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            "ttlSeconds": lock.ttl_seconds,
        }),
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
    request_body = s::SeatIdsRequest,
    responses(
        (status = 200, description = "Released", body = s::SeatReleaseResponse),
        (status = 400, description = "VALIDATION_ERROR: bad `sessionId` or seat ids", body = s::ErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, malformed, forged or expired access token", body = s::ErrorBody),
        (status = 404, description = "NOT_FOUND: no such session", body = s::ErrorBody),
        (status = 409, description = "CONFLICT: the seats cannot be released in their state", body = s::ErrorBody),
        (status = 413, response = s::PayloadTooLarge),
        (status = 500, response = s::InternalError),
        (status = 503, response = s::ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id, session_id = %session_id))]
async fn release_seats(
    State(state): State<AppState>,
    request_id: RequestId,
    caller: OtCaller,
    Path(session_id): Path<String>,
    OtJson(body): OtJson<SeatIdsBody>,
) -> Result<Response, OtError> {
    let session: SessionId = parse_id("sessionId", &session_id)?;
    let (released, position) = state
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
    read_your_writes(&state, position).await;
    Ok(ok(StatusCode::OK, json!({ "released": released })))
}

// ------------------------------------------------------------------------------------ orders

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlaceOrderBody {
    session_id: String,
    seat_ids: Vec<String>,
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
    request_body = s::PlaceOrderRequest,
    responses(
        (status = 201, description = "The order with its payment", body = s::OrderResponse),
        (status = 400, description = "VALIDATION_ERROR naming the field (`sessionId`, `seatIds`, `paymentProvider`)", body = s::ErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, malformed, forged or expired access token", body = s::ErrorBody),
        (status = 404, description = "NOT_FOUND: no such session", body = s::ErrorBody),
        (status = 409, description = "SEAT_UNAVAILABLE: seats not locked by the caller; or CONFLICT: the session is not on sale", body = s::ErrorBody),
        (status = 413, response = s::PayloadTooLarge),
        (status = 502, description = "PAYMENT_PROVIDER_ERROR: the provider could not start the payment", body = s::ErrorBody),
        (status = 500, response = s::InternalError),
        (status = 503, response = s::ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
async fn place_order(
    State(state): State<AppState>,
    request_id: RequestId,
    caller: OtCaller,
    OtJson(body): OtJson<PlaceOrderBody>,
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
    read_your_writes(&state, position).await;
    let order_id = order
        .data
        .as_ref()
        .map(|d| d.order_id.as_uuid())
        .ok_or_else(|| OtError::Internal("order without data".into()))?;
    let view = state
        .services
        .openticket_queries
        .order(order_id)
        .await?
        .ok_or_else(|| OtError::Unavailable("the order is not readable yet".into()))?;
    Ok(ok(StatusCode::CREATED, view))
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
        (status = 200, description = "Cancelled", body = s::CancelledOrderResponse),
        (status = 400, description = "VALIDATION_ERROR: `orderId` is not a UUID", body = s::ErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, malformed, forged or expired access token", body = s::ErrorBody),
        (status = 404, description = "NOT_FOUND: no such order, or another user's", body = s::ErrorBody),
        (status = 409, description = "CONFLICT: the order is paid, completed or expired", body = s::ErrorBody),
        (status = 500, response = s::InternalError),
        (status = 503, response = s::ServiceUnavailable),
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
        json!({
            "orderId": id,
            "status": "Cancelled",
            "cancelledAt": order.cancelled_at.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
        }),
    ))
}

// ----------------------------------------------------------------------------------- tickets

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerifyBody {
    qr_code: String,
}

/// Check a ticket at the entrance (seed 003 §7.3; staff only). The first valid scan uses it.
#[utoipa::path(
    post,
    path = "/v1/tickets/{ticketId}/verify",
    operation_id = "verifyTicket",
    tag = tags::TICKETS,
    summary = "Verify a ticket at the gate",
    description = "Staff (and admins) only. The first valid scan marks the ticket `Used`; a second is 409 with the first `usedAt`; a forged code or another ticket's is 400 on `qrCode`.",
    security(("bearerAuth" = [])),
    params(("ticketId" = Uuid, Path, description = "The ticket")),
    request_body = s::VerifyRequest,
    responses(
        (status = 200, description = "Valid: the ticket is now used", body = s::TicketVerificationResponse),
        (status = 400, description = "VALIDATION_ERROR: bad `ticketId`, or `qrCode` forged or of another ticket", body = s::ErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, malformed, forged or expired access token", body = s::ErrorBody),
        (status = 403, description = "FORBIDDEN: the caller is not staff", body = s::ErrorBody),
        (status = 404, description = "NOT_FOUND: no such ticket", body = s::ErrorBody),
        (status = 409, description = "CONFLICT: already used (`details.usedAt`)", body = s::ErrorBody),
        (status = 413, response = s::PayloadTooLarge),
        (status = 500, response = s::InternalError),
        (status = 503, response = s::ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id, ticket_id = %ticket_id))]
async fn verify_ticket(
    State(state): State<AppState>,
    request_id: RequestId,
    caller: OtCaller,
    Path(ticket_id): Path<String>,
    OtJson(body): OtJson<VerifyBody>,
) -> Result<Response, OtError> {
    caller.require(Role::Staff)?;
    let id: TicketId = parse_id("ticketId", &ticket_id)?;
    let code_id = state
        .services
        .ticket_codes
        .verify(body.qr_code.trim())
        .map_err(|e| OtError::validation("qrCode", e.to_string()))?;
    let (_, position) = state
        .services
        .openticket
        .use_ticket(
            caller.user_id,
            id,
            TicketId::from_uuid(code_id),
            &request_id.metadata(Some(caller.user_id.to_string())),
        )
        .await?;
    read_your_writes(&state, position).await;
    let ticket = state
        .services
        .openticket_queries
        .ticket(id.as_uuid())
        .await?
        .ok_or_else(|| OtError::not_found("ticket", &ticket_id))?;
    let seat = serde_json::to_value(&ticket.seat).unwrap_or(Value::Null);
    Ok(ok(
        StatusCode::OK,
        json!({
            "valid": true,
            "ticketId": id,
            "status": ticket.status,
            "seat": {
                "seatId": seat["seatId"],
                "area": seat["areaName"],
                "row": seat["row"],
                "number": seat["number"],
            },
            "usedAt": ticket.used_at,
        }),
    ))
}
