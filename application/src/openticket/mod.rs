//! OpenTicket command handlers (seed 003): venues, events, seat locks, orders, payments, tickets,
//! the fulfilment process manager (order paid → seats sold → tickets issued → order completed) and
//! the two deadlines (seat-lock expiry, unpaid-order expiry).
//!
//! Every write goes through [`crate::command::execute`] (load → decide → append with the expected
//! version). Commands spanning aggregates are ordered so that a crash between two appends leaves
//! nothing a retry or a deadline cannot finish: an order's seats are held (with the order's expiry
//! deadline in the same append) before the order is written, so seats held for an order that was
//! never written are released when that deadline fires.

pub mod ports;

use crate::clock::Clock;
use crate::command::{CommandError, Decided, load, position};
use crate::deadlines::{Deadline, DeadlineHandler, NewDeadline};
use crate::event_store::{EventMetadata, EventStore, RecordedEvent, StreamId};
use crate::payments::{CheckoutRequest, PaymentError, PaymentGateway};
use crate::process::ProcessManager;
use async_trait::async_trait;
use chrono::{DateTime, Duration, FixedOffset, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use tessera_domain::openticket::event::{
    CreateEvent, Event, EventData, PriceCategory, SessionSpec,
};
use tessera_domain::openticket::order::{
    Order, OrderCommand, OrderError, OrderItem, OrderStatus, PaymentInfo, PaymentOutcome,
};
use tessera_domain::openticket::seat_session::{
    ReleaseReason, SeatSession, SeatSessionCommand, SeatSessionError, UnavailableSeat,
};
use tessera_domain::openticket::ticket::{Ticket, TicketCommand, TicketError};
use tessera_domain::openticket::venue::{Address, Area, CreateVenue, Venue, VenueData, VenueError};
use tessera_domain::openticket::{
    AreaId, EventId, FieldError, LockId, OrderId, PaymentId, SeatId, SeatMapId, SessionId,
    TicketId, VenueId,
};
use tessera_domain::{Decider, UserId};
use uuid::Uuid;

/// Deadline kind: a seat lock's TTL passed. Payload `{"sessionId", "lockId"}`.
pub const LOCK_EXPIRY: &str = "openticket.lock-expiry";
/// Deadline kind: an unpaid order's time passed. Payload `{"orderId", "sessionId"}`.
pub const ORDER_EXPIRY: &str = "openticket.order-expiry";

/// Tunables (docs/openticket.md).
#[derive(Debug, Clone, Copy)]
pub struct TicketingSettings {
    /// How long a seat lock holds (seed 003 §5.2 `ttlSeconds`, default 120 s).
    pub lock_ttl: Duration,
    /// How long an unpaid order lives (default 10 minutes).
    pub order_ttl: Duration,
    /// Most seats one lock request may ask for (default 10).
    pub max_seats_per_lock: usize,
}

impl Default for TicketingSettings {
    fn default() -> Self {
        Self {
            lock_ttl: Duration::seconds(120),
            order_ttl: Duration::minutes(10),
            max_seats_per_lock: 10,
        }
    }
}

/// Why an OpenTicket command failed. The HTTP layer maps each to the seed's error codes.
#[derive(Debug, thiserror::Error)]
pub enum TicketingError {
    /// 404: no such resource.
    #[error("{resource} {id} not found")]
    NotFound {
        /// Kind.
        resource: &'static str,
        /// Id asked for.
        id: String,
    },
    /// 400: an input is invalid (the field is named as the client sent it).
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// 409 `SEAT_UNAVAILABLE`: these seats cannot be taken (nothing changed).
    #[error("seats unavailable")]
    SeatsUnavailable(Vec<UnavailableSeat>),
    /// 409: the session is not on sale now.
    #[error("the session is not on sale (sales run from {sale_start_time} to {sale_end_time})")]
    SaleNotOpen {
        /// Sales open (UTC).
        sale_start_time: DateTime<Utc>,
        /// Sales close (UTC).
        sale_end_time: DateTime<Utc>,
    },
    /// 409: the request contradicts the resource's state.
    #[error("{0}")]
    Conflict(String),
    /// 409: the ticket was used before.
    #[error("the ticket was already used at {used_at}")]
    AlreadyUsed {
        /// First scan (UTC).
        used_at: DateTime<Utc>,
    },
    /// 400: the code belongs to another ticket.
    #[error("the code belongs to another ticket")]
    WrongTicket,
    /// 502: the payment provider failed.
    #[error(transparent)]
    Payment(#[from] PaymentError),
    /// 503: the store failed or stayed contended.
    #[error("store: {0}")]
    Unavailable(String),
    /// 500: stored data could not be decoded.
    #[error("stored event: {0}")]
    Corrupt(String),
}

fn from_command<E: std::error::Error + 'static>(
    e: CommandError<E>,
    rejected: impl FnOnce(E) -> TicketingError,
) -> TicketingError {
    match e {
        CommandError::Rejected(e) => rejected(e),
        CommandError::Contended { .. } | CommandError::Store(_) => {
            TicketingError::Unavailable(e.to_string())
        }
        CommandError::Decode(d) => TicketingError::Corrupt(d.to_string()),
    }
}

fn seat_error(e: SeatSessionError) -> TicketingError {
    match e {
        SeatSessionError::NotOpened => TicketingError::NotFound {
            resource: "session",
            id: String::new(),
        },
        SeatSessionError::SaleNotOpen {
            sale_start_time,
            sale_end_time,
        } => TicketingError::SaleNotOpen {
            sale_start_time,
            sale_end_time,
        },
        SeatSessionError::NoSeats => {
            FieldError::new("seatIds", "at least one seat is required").into()
        }
        SeatSessionError::TooManySeats { max } => {
            FieldError::new("seatIds", format!("at most {max} seats per request")).into()
        }
        SeatSessionError::DuplicateSeat { index, seat_id } => FieldError::new(
            format!("seatIds[{index}]"),
            format!("seat {seat_id} is listed twice"),
        )
        .into(),
        SeatSessionError::Unavailable(seats) | SeatSessionError::NotLockedByCaller(seats) => {
            TicketingError::SeatsUnavailable(seats)
        }
        other => TicketingError::Conflict(other.to_string()),
    }
}

fn order_error(e: OrderError) -> TicketingError {
    match e {
        OrderError::NotFound => TicketingError::NotFound {
            resource: "order",
            id: String::new(),
        },
        OrderError::InvalidState(status) => {
            TicketingError::Conflict(format!("the order is {status:?}"))
        }
        other => TicketingError::Conflict(other.to_string()),
    }
}

fn stream<D: Decider>(id: impl std::fmt::Display) -> Result<StreamId, TicketingError> {
    StreamId::parse(format!("{}-{id}", D::CATEGORY))
        .map_err(|e| TicketingError::Corrupt(e.to_string()))
}

/// A session as an organizer sends it (times with their offset).
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Start.
    pub start_time: DateTime<FixedOffset>,
    /// End.
    pub end_time: DateTime<FixedOffset>,
    /// Sales open.
    pub sale_start_time: DateTime<FixedOffset>,
    /// Sales close.
    pub sale_end_time: DateTime<FixedOffset>,
}

/// A venue as an admin sends it (seed 003 §3.3).
#[derive(Debug, Clone)]
pub struct VenueInput {
    /// Name.
    pub name: String,
    /// Address.
    pub address: Address,
    /// Capacity (at least the number of seats).
    pub capacity: u32,
    /// Seat map.
    pub areas: Vec<Area>,
}

/// An event as an organizer sends it (seed 003 §4.3).
#[derive(Debug, Clone)]
pub struct EventInput {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// The venue.
    pub venue_id: VenueId,
    /// Sessions.
    pub sessions: Vec<NewSession>,
    /// Price categories.
    pub price_categories: Vec<PriceCategory>,
}

/// A created event with its sessions.
#[derive(Debug, Clone)]
pub struct CreatedEvent {
    /// The event.
    pub event: Arc<EventData>,
    /// Where the last append landed.
    pub position: Option<u64>,
}

/// Result of a lock request (seed 003 §5.2).
#[derive(Debug, Clone)]
pub struct LockResult {
    /// New lock id.
    pub lock_id: LockId,
    /// Seats locked, in request order.
    pub seat_ids: Vec<SeatId>,
    /// Lock end (UTC).
    pub expires_at: DateTime<Utc>,
    /// TTL in seconds.
    pub ttl_seconds: i64,
    /// Where the append landed.
    pub position: Option<u64>,
}

/// OpenTicket's command side.
pub struct TicketingService {
    store: Arc<dyn EventStore>,
    clock: Arc<dyn Clock>,
    gateways: HashMap<String, Arc<dyn PaymentGateway>>,
    settings: TicketingSettings,
    venues: RwLock<HashMap<VenueId, Arc<VenueData>>>,
}

impl TicketingService {
    /// A service over `store`, with payment `gateways` keyed by provider name (`Mock`, `Stripe`).
    pub fn new(
        store: Arc<dyn EventStore>,
        clock: Arc<dyn Clock>,
        gateways: HashMap<String, Arc<dyn PaymentGateway>>,
        settings: TicketingSettings,
    ) -> Self {
        Self {
            store,
            clock,
            gateways,
            settings,
            venues: RwLock::new(HashMap::new()),
        }
    }

    /// The settings.
    pub fn settings(&self) -> TicketingSettings {
        self.settings
    }

    /// Provider names clients may send as `paymentProvider`.
    pub fn providers(&self) -> Vec<String> {
        let mut p: Vec<String> = self.gateways.keys().cloned().collect();
        p.sort();
        p
    }

    async fn run<D: Decider>(
        &self,
        stream_id: &StreamId,
        command: &D::Command,
        meta: &EventMetadata,
        deadlines: Vec<NewDeadline>,
    ) -> Result<Decided<D>, CommandError<D::Error>>
    where
        D::Command: Sync,
    {
        crate::command::execute_scheduling(self.store.as_ref(), stream_id, command, meta, deadlines)
            .await
    }

    async fn state<D: Decider>(&self, stream_id: &StreamId) -> Result<(D, u64), TicketingError> {
        load::<D>(self.store.as_ref(), stream_id)
            .await
            .map_err(|e| from_command(e, |_| TicketingError::Conflict("unexpected".into())))
    }

    /// A venue (cached: venues never change once created).
    pub async fn venue(&self, venue_id: VenueId) -> Result<Arc<VenueData>, TicketingError> {
        if let Some(v) = self
            .venues
            .read()
            .ok()
            .and_then(|m| m.get(&venue_id).cloned())
        {
            return Ok(v);
        }
        let (venue, _) = self.state::<Venue>(&stream::<Venue>(venue_id)?).await?;
        let data = venue.0.ok_or_else(|| TicketingError::NotFound {
            resource: "venue",
            id: venue_id.to_string(),
        })?;
        if let Ok(mut m) = self.venues.write() {
            m.insert(venue_id, data.clone());
        }
        Ok(data)
    }

    /// An event.
    pub async fn event(&self, event_id: EventId) -> Result<Arc<EventData>, TicketingError> {
        let (event, _) = self.state::<Event>(&stream::<Event>(event_id)?).await?;
        event.0.ok_or_else(|| TicketingError::NotFound {
            resource: "event",
            id: event_id.to_string(),
        })
    }

    /// `POST /venues` (§3.3). Returns the venue and the position of its append.
    pub async fn create_venue(
        &self,
        input: VenueInput,
        created_by: UserId,
        meta: &EventMetadata,
    ) -> Result<(Arc<VenueData>, Option<u64>), TicketingError> {
        let VenueInput {
            name,
            address,
            capacity,
            areas,
        } = input;
        let venue_id = VenueId::from_uuid(Uuid::now_v7());
        let command = CreateVenue {
            venue_id,
            seat_map_id: SeatMapId::from_uuid(Uuid::now_v7()),
            name,
            address,
            capacity,
            areas,
            created_by,
            now: self.clock.now(),
        };
        let decided = self
            .run::<Venue>(&stream::<Venue>(venue_id)?, &command, meta, Vec::new())
            .await
            .map_err(|e| {
                from_command(e, |e| match e {
                    VenueError::Invalid(f) => f.into(),
                    other => TicketingError::Conflict(other.to_string()),
                })
            })?;
        let data = decided
            .state
            .0
            .clone()
            .ok_or_else(|| TicketingError::Corrupt("venue not created".into()))?;
        Ok((data, position(&decided)))
    }

    /// `POST /events` (§4.3): the event, then each session's seat stream.
    pub async fn create_event(
        &self,
        organizer: UserId,
        input: EventInput,
        meta: &EventMetadata,
    ) -> Result<CreatedEvent, TicketingError> {
        let EventInput {
            name,
            description,
            venue_id,
            sessions,
            price_categories,
        } = input;
        let venue = self.venue(venue_id).await.map_err(|e| match e {
            TicketingError::NotFound { .. } => {
                FieldError::new("venueId", "no venue has this id").into()
            }
            e => e,
        })?;
        let event_id = EventId::from_uuid(Uuid::now_v7());
        let sessions: Vec<SessionSpec> = sessions
            .into_iter()
            .map(|s| SessionSpec {
                session_id: SessionId::from_uuid(Uuid::now_v7()),
                start_time: s.start_time,
                end_time: s.end_time,
                sale_start_time: s.sale_start_time,
                sale_end_time: s.sale_end_time,
            })
            .collect();
        let now = self.clock.now();
        let command = CreateEvent {
            event_id,
            organizer_id: organizer,
            name,
            description,
            venue_id,
            venue_name: venue.name.clone(),
            venue_area_ids: venue.area_ids(),
            sessions: sessions.clone(),
            price_categories,
            now,
        };
        let decided = self
            .run::<Event>(&stream::<Event>(event_id)?, &command, meta, Vec::new())
            .await
            .map_err(|e| {
                from_command(e, |e| match e {
                    tessera_domain::openticket::event::EventError::Invalid(f) => f.into(),
                    other => TicketingError::Conflict(other.to_string()),
                })
            })?;
        let mut last = position(&decided);
        // Open each session's seat stream. A crash before this finishes leaves sessions whose
        // lock requests answer 404 until the event is created again; the event itself stays.
        for s in &sessions {
            let open = SeatSessionCommand::Open {
                session_id: s.session_id,
                event_id,
                venue_id,
                sale_start_time: s.sale_start_time.with_timezone(&Utc),
                sale_end_time: s.sale_end_time.with_timezone(&Utc),
                now,
            };
            let d = self
                .run::<SeatSession>(
                    &stream::<SeatSession>(s.session_id)?,
                    &open,
                    meta,
                    Vec::new(),
                )
                .await
                .map_err(|e| from_command(e, seat_error))?;
            last = position(&d).or(last);
        }
        let event = decided
            .state
            .0
            .clone()
            .ok_or_else(|| TicketingError::Corrupt("event not created".into()))?;
        Ok(CreatedEvent {
            event,
            position: last,
        })
    }

    async fn open_session(&self, session_id: SessionId) -> Result<SeatSession, TicketingError> {
        let (session, _) = self
            .state::<SeatSession>(&stream::<SeatSession>(session_id)?)
            .await?;
        if session.opened.is_none() {
            return Err(TicketingError::NotFound {
                resource: "session",
                id: session_id.to_string(),
            });
        }
        Ok(session)
    }

    /// Parse seat ids against the session's venue: a malformed or unknown seat is a field error
    /// naming `seatIds[i]`.
    async fn venue_seats(
        &self,
        session: &SeatSession,
        raw: &[String],
    ) -> Result<(Arc<VenueData>, Vec<SeatId>), TicketingError> {
        let venue_id = session
            .venue_id()
            .ok_or_else(|| TicketingError::Corrupt("session without venue".into()))?;
        let venue = self.venue(venue_id).await?;
        let mut seats = Vec::with_capacity(raw.len());
        for (i, s) in raw.iter().enumerate() {
            let seat = SeatId::parse(s).map_err(|r| FieldError::new(format!("seatIds[{i}]"), r))?;
            if venue.seat(&seat).is_none() {
                return Err(FieldError::new(
                    format!("seatIds[{i}]"),
                    format!("the venue has no seat {s}"),
                )
                .into());
            }
            seats.push(seat);
        }
        Ok((venue, seats))
    }

    fn check_count(&self, raw: &[String]) -> Result<(), TicketingError> {
        if raw.is_empty() {
            return Err(FieldError::new("seatIds", "at least one seat is required").into());
        }
        let max = self.settings.max_seats_per_lock;
        if raw.len() > max {
            return Err(
                FieldError::new("seatIds", format!("at most {max} seats per request")).into(),
            );
        }
        let mut seen = HashSet::new();
        for (i, s) in raw.iter().enumerate() {
            if !seen.insert(s) {
                return Err(FieldError::new(
                    format!("seatIds[{i}]"),
                    format!("seat {s} is listed twice"),
                )
                .into());
            }
        }
        Ok(())
    }

    /// `POST /sessions/{id}/seats/lock` (§5.2): all seats or none, with a durable expiry deadline.
    pub async fn lock_seats(
        &self,
        user: UserId,
        session_id: SessionId,
        raw_seats: &[String],
        meta: &EventMetadata,
    ) -> Result<LockResult, TicketingError> {
        self.check_count(raw_seats)?;
        let session = self.open_session(session_id).await?;
        let (_, seat_ids) = self.venue_seats(&session, raw_seats).await?;
        let now = self.clock.now();
        let expires_at = now + self.settings.lock_ttl;
        let lock_id = LockId::from_uuid(Uuid::now_v7());
        let command = SeatSessionCommand::Lock {
            lock_id,
            user_id: user,
            seat_ids: seat_ids.clone(),
            max_seats: self.settings.max_seats_per_lock,
            now,
            expires_at,
        };
        let deadline = NewDeadline {
            deadline_id: Uuid::now_v7(),
            kind: LOCK_EXPIRY.into(),
            due_at: expires_at,
            payload: serde_json::json!({ "sessionId": session_id, "lockId": lock_id }),
        };
        let decided = self
            .run::<SeatSession>(
                &stream::<SeatSession>(session_id)?,
                &command,
                meta,
                vec![deadline],
            )
            .await
            .map_err(|e| from_command(e, seat_error))?;
        Ok(LockResult {
            lock_id,
            seat_ids,
            expires_at,
            ttl_seconds: self.settings.lock_ttl.num_seconds(),
            position: position(&decided),
        })
    }

    /// `DELETE /sessions/{id}/seats/lock` (§5.3): the seats released (only the caller's live
    /// locks; others are ignored).
    pub async fn release_seats(
        &self,
        user: UserId,
        session_id: SessionId,
        raw_seats: &[String],
        meta: &EventMetadata,
    ) -> Result<(Vec<SeatId>, Option<u64>), TicketingError> {
        self.check_count(raw_seats)?;
        let session = self.open_session(session_id).await?;
        let (_, seat_ids) = self.venue_seats(&session, raw_seats).await?;
        let command = SeatSessionCommand::Release {
            user_id: user,
            seat_ids,
            now: self.clock.now(),
        };
        let decided = self
            .run::<SeatSession>(
                &stream::<SeatSession>(session_id)?,
                &command,
                meta,
                Vec::new(),
            )
            .await
            .map_err(|e| from_command(e, seat_error))?;
        let released = decided
            .events
            .iter()
            .flat_map(|e| match e {
                tessera_domain::openticket::seat_session::SeatSessionEvent::SeatsReleased {
                    seat_ids,
                    ..
                } => seat_ids.clone(),
                _ => Vec::new(),
            })
            .collect();
        Ok((released, position(&decided)))
    }

    /// `POST /orders` (§6.1): price the caller's locked seats, open a checkout with the provider,
    /// hold the seats (with the order's expiry deadline), then write the order.
    pub async fn place_order(
        &self,
        user: UserId,
        session_id: SessionId,
        raw_seats: &[String],
        provider: &str,
        meta: &EventMetadata,
    ) -> Result<(Order, Option<u64>), TicketingError> {
        let gateway = self.gateways.get(provider).cloned().ok_or_else(|| {
            FieldError::new(
                "paymentProvider",
                format!("must be one of {}", self.providers().join(", ")),
            )
        })?;
        self.check_count(raw_seats)?;
        let session = self.open_session(session_id).await?;
        let (venue, seat_ids) = self.venue_seats(&session, raw_seats).await?;
        let event_id = session
            .event_id()
            .ok_or_else(|| TicketingError::Corrupt("session without event".into()))?;
        let event = self.event(event_id).await?;
        let mut items = Vec::with_capacity(seat_ids.len());
        for (i, seat) in seat_ids.iter().enumerate() {
            let (area, _) = venue
                .seat(seat)
                .ok_or_else(|| FieldError::new(format!("seatIds[{i}]"), "unknown seat"))?;
            let category = event.category_for_area(&area.area_id).ok_or_else(|| {
                FieldError::new(
                    format!("seatIds[{i}]"),
                    format!("seat {seat} is not for sale in this event"),
                )
            })?;
            items.push(OrderItem {
                seat_id: seat.clone(),
                area_id: area.area_id.clone(),
                category_id: category.category_id.clone(),
                price: category.price,
            });
        }
        let now = self.clock.now();
        // Check the seats are the caller's before asking a provider for anything.
        let probe = SeatSessionCommand::HoldForOrder {
            order_id: OrderId::from_uuid(Uuid::nil()),
            user_id: user,
            seat_ids: seat_ids.clone(),
            now,
            until: now,
        };
        session.decide(&probe).map_err(seat_error)?;

        let order_id = OrderId::from_uuid(Uuid::now_v7());
        let payment_id = PaymentId::from_uuid(Uuid::now_v7());
        let mut total = tessera_domain::openticket::Money::zero(items[0].price.currency());
        for item in &items {
            total = total
                .checked_add(&item.price)
                .map_err(|e| TicketingError::Conflict(e.to_string()))?;
        }
        let checkout = gateway
            .create_checkout(&CheckoutRequest {
                order_id: order_id.as_uuid(),
                payment_id: payment_id.as_uuid(),
                amount_minor: total
                    .to_minor_units()
                    .map_err(|e| TicketingError::Conflict(e.to_string()))?,
                currency: total.currency().to_string(),
                description: format!("{} × {}", event.name, items.len()),
            })
            .await?;
        let expires_at = now + self.settings.order_ttl;
        let hold = SeatSessionCommand::HoldForOrder {
            order_id,
            user_id: user,
            seat_ids: seat_ids.clone(),
            now,
            until: expires_at,
        };
        let deadline = NewDeadline {
            deadline_id: Uuid::now_v7(),
            kind: ORDER_EXPIRY.into(),
            due_at: expires_at,
            payload: serde_json::json!({ "orderId": order_id, "sessionId": session_id }),
        };
        self.run::<SeatSession>(
            &stream::<SeatSession>(session_id)?,
            &hold,
            meta,
            vec![deadline],
        )
        .await
        .map_err(|e| from_command(e, seat_error))?;
        let place = OrderCommand::Place {
            order_id,
            user_id: user,
            event_id,
            session_id,
            items,
            payment: PaymentInfo {
                payment_id,
                provider: gateway.provider().to_owned(),
                provider_reference: checkout.provider_reference,
                payment_url: checkout.payment_url,
            },
            now,
            expires_at,
        };
        let decided = self
            .run::<Order>(&stream::<Order>(order_id)?, &place, meta, Vec::new())
            .await
            .map_err(|e| from_command(e, order_error))?;
        let pos = position(&decided);
        Ok((decided.state, pos))
    }

    /// An order (for ownership checks).
    pub async fn order(&self, order_id: OrderId) -> Result<Order, TicketingError> {
        let (order, _) = self.state::<Order>(&stream::<Order>(order_id)?).await?;
        if order.data.is_none() {
            return Err(TicketingError::NotFound {
                resource: "order",
                id: order_id.to_string(),
            });
        }
        Ok(order)
    }

    /// `DELETE /orders/{id}` (§6.3): cancel an unpaid order (the owner's, or any for an admin;
    /// someone else's is NotFound) and free its seats.
    pub async fn cancel_order(
        &self,
        user: UserId,
        is_admin: bool,
        order_id: OrderId,
        meta: &EventMetadata,
    ) -> Result<(Order, Option<u64>), TicketingError> {
        let existing = self.order(order_id).await?;
        let data = existing
            .data
            .as_ref()
            .ok_or_else(|| TicketingError::Corrupt("order".into()))?;
        if data.user_id != user && !is_admin {
            return Err(TicketingError::NotFound {
                resource: "order",
                id: order_id.to_string(),
            });
        }
        let session_id = data.session_id;
        let now = self.clock.now();
        let decided = self
            .run::<Order>(
                &stream::<Order>(order_id)?,
                &OrderCommand::Cancel { by: user, now },
                meta,
                Vec::new(),
            )
            .await
            .map_err(|e| from_command(e, order_error))?;
        let release = SeatSessionCommand::ReleaseOrder {
            order_id,
            reason: ReleaseReason::OrderCancelled,
            now,
        };
        let released = self
            .run::<SeatSession>(
                &stream::<SeatSession>(session_id)?,
                &release,
                meta,
                Vec::new(),
            )
            .await
            .map_err(|e| from_command(e, seat_error))?;
        let pos = position(&released).or(position(&decided));
        Ok((decided.state, pos))
    }

    /// Apply a provider's payment notice (webhooks, the Mock page). `payment_id` defaults to the
    /// order's own attempt when the provider does not echo it.
    pub async fn record_payment(
        &self,
        order_id: OrderId,
        payment_id: Option<PaymentId>,
        provider_event_id: &str,
        outcome: PaymentOutcome,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, TicketingError> {
        let order = self.order(order_id).await?;
        let own = order
            .data
            .as_ref()
            .map(|d| d.payment.payment_id)
            .ok_or_else(|| TicketingError::Corrupt("order".into()))?;
        let command = OrderCommand::RecordPayment {
            payment_id: payment_id.unwrap_or(own),
            provider_event_id: provider_event_id.to_owned(),
            outcome,
            now: self.clock.now(),
        };
        let decided = self
            .run::<Order>(&stream::<Order>(order_id)?, &command, meta, Vec::new())
            .await
            .map_err(|e| {
                from_command(e, |e| match e {
                    OrderError::UnknownPayment => {
                        FieldError::new("paymentId", "does not belong to this order").into()
                    }
                    e => order_error(e),
                })
            })?;
        Ok(position(&decided))
    }

    /// The fulfilment step after a payment succeeded: sell the seats, issue one ticket per seat,
    /// complete the order. Harmless to run twice or concurrently (each step is idempotent).
    pub async fn fulfil_order(
        &self,
        order_id: OrderId,
        meta: &EventMetadata,
    ) -> Result<(), TicketingError> {
        let order = self.order(order_id).await?;
        let (Some(data), Some(status)) = (order.data.as_ref(), order.status) else {
            return Ok(());
        };
        if status != OrderStatus::Paid {
            return Ok(());
        }
        let now = self.clock.now();
        self.run::<SeatSession>(
            &stream::<SeatSession>(data.session_id)?,
            &SeatSessionCommand::Sell { order_id, now },
            meta,
            Vec::new(),
        )
        .await
        .map_err(|e| from_command(e, seat_error))?;
        let mut tickets = Vec::with_capacity(data.items.len());
        for item in &data.items {
            let ticket_id = TicketId::for_seat(order_id, &item.seat_id);
            let issue = TicketCommand::Issue {
                ticket_id,
                order_id,
                user_id: data.user_id,
                event_id: data.event_id,
                session_id: data.session_id,
                seat_id: item.seat_id.clone(),
                area_id: item.area_id.clone(),
                price: item.price,
                now,
            };
            self.run::<Ticket>(&stream::<Ticket>(ticket_id)?, &issue, meta, Vec::new())
                .await
                .map_err(|e| from_command(e, |e| TicketingError::Conflict(e.to_string())))?;
            tickets.push((item.seat_id.clone(), ticket_id));
        }
        self.run::<Order>(
            &stream::<Order>(order_id)?,
            &OrderCommand::Complete { tickets, now },
            meta,
            Vec::new(),
        )
        .await
        .map_err(|e| from_command(e, order_error))?;
        Ok(())
    }

    /// The lock-expiry deadline.
    pub async fn expire_lock(
        &self,
        session_id: SessionId,
        lock_id: LockId,
    ) -> Result<(), TicketingError> {
        let command = SeatSessionCommand::ExpireLock {
            lock_id,
            now: self.clock.now(),
        };
        self.run::<SeatSession>(
            &stream::<SeatSession>(session_id)?,
            &command,
            &deadline_meta(),
            Vec::new(),
        )
        .await
        .map_err(|e| from_command(e, seat_error))?;
        Ok(())
    }

    /// The order-expiry deadline: expire the order if still unpaid, then free its seats unless it
    /// was paid. An order that was never written (crash after holding) also frees its seats.
    pub async fn expire_order(
        &self,
        order_id: OrderId,
        session_id: SessionId,
    ) -> Result<(), TicketingError> {
        let meta = deadline_meta();
        let now = self.clock.now();
        let status = match self.order(order_id).await {
            Ok(_) => {
                let d = self
                    .run::<Order>(
                        &stream::<Order>(order_id)?,
                        &OrderCommand::Expire { now },
                        &meta,
                        Vec::new(),
                    )
                    .await
                    .map_err(|e| from_command(e, order_error))?;
                d.state.status
            }
            Err(TicketingError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        match status {
            Some(OrderStatus::Paid | OrderStatus::Completed) => return Ok(()),
            // Not due yet by this clock: fail so the scheduler tries again shortly.
            Some(OrderStatus::Created) => {
                return Err(TicketingError::Conflict(
                    "the order is not due to expire yet".into(),
                ));
            }
            _ => {}
        }
        let release = SeatSessionCommand::ReleaseOrder {
            order_id,
            reason: ReleaseReason::OrderExpired,
            now,
        };
        self.run::<SeatSession>(
            &stream::<SeatSession>(session_id)?,
            &release,
            &meta,
            Vec::new(),
        )
        .await
        .map_err(|e| from_command(e, seat_error))?;
        Ok(())
    }

    /// `POST /tickets/{id}/verify` (§7.3) with the ticket id the (signature-checked) code names.
    pub async fn use_ticket(
        &self,
        staff: UserId,
        ticket_id: TicketId,
        code_ticket_id: TicketId,
        meta: &EventMetadata,
    ) -> Result<(Ticket, Option<u64>), TicketingError> {
        let command = TicketCommand::Use {
            code_ticket_id,
            staff_id: staff,
            now: self.clock.now(),
        };
        let decided = self
            .run::<Ticket>(&stream::<Ticket>(ticket_id)?, &command, meta, Vec::new())
            .await
            .map_err(|e| {
                from_command(e, |e| match e {
                    TicketError::NotFound => TicketingError::NotFound {
                        resource: "ticket",
                        id: ticket_id.to_string(),
                    },
                    TicketError::WrongTicket => TicketingError::WrongTicket,
                    TicketError::AlreadyUsed { used_at } => TicketingError::AlreadyUsed { used_at },
                })
            })?;
        let pos = position(&decided);
        Ok((decided.state, pos))
    }

    /// The area of a seat in a venue (for responses).
    pub async fn seat_area(&self, venue_id: VenueId, seat: &SeatId) -> Option<(AreaId, String)> {
        let venue = self.venue(venue_id).await.ok()?;
        venue
            .seat(seat)
            .map(|(a, _)| (a.area_id.clone(), a.name.clone()))
    }
}

fn deadline_meta() -> EventMetadata {
    let mut meta = EventMetadata::default();
    meta.extra
        .insert("trigger".into(), serde_json::json!("deadline"));
    meta
}

/// The fulfilment process manager: on `PaymentSucceeded`, run [`TicketingService::fulfil_order`].
pub struct Fulfilment(pub Arc<TicketingService>);

#[async_trait]
impl ProcessManager for Fulfilment {
    fn name(&self) -> &'static str {
        "openticket_fulfilment"
    }

    fn categories(&self) -> &'static [&'static str] {
        &[Order::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &["OpenTicketPaymentSucceeded"]
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), String> {
        if event.stream_id.category() != Order::CATEGORY {
            return Ok(());
        }
        let id = event
            .stream_id
            .as_str()
            .split_once('-')
            .and_then(|(_, id)| id.parse::<Uuid>().ok())
            .ok_or_else(|| format!("not an order stream: {}", event.stream_id))?;
        let mut meta = EventMetadata {
            causation_id: Some(event.event_id),
            correlation_id: event.metadata.correlation_id,
            request_id: event.metadata.request_id.clone(),
            ..EventMetadata::default()
        };
        meta.extra
            .insert("processManager".into(), serde_json::json!(self.name()));
        self.0
            .fulfil_order(OrderId::from_uuid(id), &meta)
            .await
            .map_err(|e| e.to_string())
    }
}

fn payload_id<T: From<Uuid>>(deadline: &Deadline, key: &str) -> Result<T, String> {
    deadline.payload[key]
        .as_str()
        .and_then(|s| s.parse::<Uuid>().ok())
        .map(T::from)
        .ok_or_else(|| format!("deadline payload has no {key}"))
}

/// Fires [`LOCK_EXPIRY`] deadlines.
pub struct LockExpiry(pub Arc<TicketingService>);

#[async_trait]
impl DeadlineHandler for LockExpiry {
    async fn fire(&self, deadline: &Deadline) -> Result<(), String> {
        let session: SessionId = payload_id(deadline, "sessionId")?;
        let lock: LockId = payload_id(deadline, "lockId")?;
        self.0
            .expire_lock(session, lock)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Fires [`ORDER_EXPIRY`] deadlines.
pub struct OrderExpiry(pub Arc<TicketingService>);

#[async_trait]
impl DeadlineHandler for OrderExpiry {
    async fn fire(&self, deadline: &Deadline) -> Result<(), String> {
        let order: OrderId = payload_id(deadline, "orderId")?;
        let session: SessionId = payload_id(deadline, "sessionId")?;
        self.0
            .expire_order(order, session)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Both deadline handlers, by kind.
pub fn deadline_handlers(
    service: &Arc<TicketingService>,
) -> Vec<(String, Arc<dyn DeadlineHandler>)> {
    vec![
        (
            LOCK_EXPIRY.to_owned(),
            Arc::new(LockExpiry(service.clone())) as Arc<dyn DeadlineHandler>,
        ),
        (
            ORDER_EXPIRY.to_owned(),
            Arc::new(OrderExpiry(service.clone())),
        ),
    ]
}
