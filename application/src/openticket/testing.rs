//! Fixtures for this module's given/when/then service tests: a fixed clock, a payment gateway that
//! always opens a checkout, and a [`World`] whose history holds one venue (area `A`, seats
//! `A-001`…`A-004`), one event priced 2,800 TWD a seat, and its session on sale at [`now`].

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{OpenTicketService, OpenTicketSettings};
use crate::clock::Clock;
use crate::command::CommandRunner;
use crate::event_store::{EventMetadata, StreamId};
use crate::in_memory::InMemoryEventStore;
use crate::payments::{Checkout, CheckoutRequest, PaymentError, PaymentGateway};
use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tessera_domain::openticket::event::{Event, EventEvent, PriceCategory, SessionSpec};
use tessera_domain::openticket::seat_session::{SeatSession, SeatSessionEvent};
use tessera_domain::openticket::venue::{Address, Area, Seat, Venue, VenueEvent};
use tessera_domain::openticket::{
    AreaId, CategoryId, EventId, SeatId, SeatMapId, SessionId, VenueId,
};
use tessera_domain::shared::Money;
use tessera_domain::{Decider, UserId};
use uuid::Uuid;

/// The fixtures' present: 2025-03-01 12:00 UTC, inside the session's sale window.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
}

/// A clock that reads what it was last set to.
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    /// Move the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// A `Mock` gateway that opens every checkout it is asked for.
pub struct AlwaysOpens;

#[async_trait]
impl PaymentGateway for AlwaysOpens {
    fn provider(&self) -> &'static str {
        "Mock"
    }

    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<Checkout, PaymentError> {
        Ok(Checkout {
            provider_reference: request.payment_id.to_string(),
            payment_url: format!("https://pay.example/{}", request.payment_id),
        })
    }
}

/// User number `n`.
pub fn user(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(n))
}

/// `code` as a [`SeatId`]; panics if it is not a seat code.
pub fn seat(code: &str) -> SeatId {
    SeatId::parse(code).unwrap()
}

/// Seat codes as a client sends them.
pub fn raw(codes: &[&str]) -> Vec<String> {
    codes.iter().map(|c| (*c).to_owned()).collect()
}

/// An amount of TWD.
pub fn twd(amount: u32) -> Money {
    serde_json::from_value(serde_json::json!({ "amount": amount.to_string(), "currency": "TWD" }))
        .unwrap()
}

/// The stream of aggregate `D` with id `id`.
pub fn stream<D: Decider>(id: impl std::fmt::Display) -> StreamId {
    CommandRunner::stream::<D>(id).unwrap()
}

/// A store with the venue, event and open session, and a service over it.
pub struct World {
    /// The store the service writes to.
    pub store: Arc<InMemoryEventStore>,
    /// The service's clock, at [`now`] until advanced.
    pub clock: Arc<FixedClock>,
    /// The service under test (default settings, the `Mock` gateway).
    pub service: Arc<OpenTicketService>,
    /// The venue: 台北小巨蛋, area `A` with seats `A-001`…`A-004`.
    pub venue_id: VenueId,
    /// The event: one `VIP` category pricing area `A` at 2,800 TWD a seat.
    pub event_id: EventId,
    /// Its one session, on sale from 28 days before [`now`] to 14 days after.
    pub session_id: SessionId,
}

impl World {
    /// Given: the venue, the event and its session opened.
    pub fn new() -> Self {
        let store = Arc::new(InMemoryEventStore::new());
        let clock = Arc::new(FixedClock(Mutex::new(now())));
        let mut gateways: HashMap<String, Arc<dyn PaymentGateway>> = HashMap::new();
        gateways.insert("Mock".into(), Arc::new(AlwaysOpens));
        let service = Arc::new(OpenTicketService::new(
            CommandRunner::new(store.clone()),
            clock.clone(),
            gateways,
            OpenTicketSettings::default(),
        ));
        let venue_id = VenueId::from_uuid(Uuid::from_u128(0x100));
        let event_id = EventId::from_uuid(Uuid::from_u128(0x200));
        let session_id = SessionId::from_uuid(Uuid::from_u128(0x300));
        let organizer = user(0x900);
        let area = AreaId::parse("A").unwrap();
        let seats = (1..=4)
            .map(|n| Seat {
                seat_id: seat(&format!("A-00{n}")),
                row: "1".into(),
                number: n,
                x: n.into(),
                y: 1.into(),
                seat_type: "Normal".into(),
            })
            .collect();
        store
            .given::<Venue>(
                &stream::<Venue>(venue_id),
                &[VenueEvent::VenueCreated {
                    venue_id,
                    seat_map_id: SeatMapId::from_uuid(Uuid::from_u128(0x101)),
                    name: "台北小巨蛋".into(),
                    address: Address {
                        country: "TW".into(),
                        city: "台北市".into(),
                        street: "南京東路四段2號".into(),
                        postal_code: "105".into(),
                    },
                    capacity: 4,
                    areas: std::sync::Arc::new(vec![Area {
                        area_id: area.clone(),
                        name: "A 區".into(),
                        seats,
                    }]),
                    created_by: user(0x901),
                    created_at: now() - Duration::days(60),
                }],
            )
            .unwrap();
        let offset = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
        let sale_start = now() - Duration::days(28);
        let sale_end = now() + Duration::days(14);
        store
            .given::<Event>(
                &stream::<Event>(event_id),
                &[EventEvent::EventCreated {
                    event_id,
                    organizer_id: organizer,
                    name: "五月天演唱會".into(),
                    description: None,
                    venue_id,
                    venue_name: "台北小巨蛋".into(),
                    sessions: vec![SessionSpec {
                        session_id,
                        start_time: (sale_end + Duration::hours(2)).with_timezone(&offset),
                        end_time: (sale_end + Duration::hours(5)).with_timezone(&offset),
                        sale_start_time: sale_start.with_timezone(&offset),
                        sale_end_time: sale_end.with_timezone(&offset),
                    }],
                    price_categories: vec![PriceCategory {
                        category_id: CategoryId::parse("VIP").unwrap(),
                        name: "VIP".into(),
                        area_ids: vec![area],
                        price: twd(2800),
                    }],
                    created_at: now() - Duration::days(30),
                }],
            )
            .unwrap();
        store
            .given::<SeatSession>(
                &stream::<SeatSession>(session_id),
                &[SeatSessionEvent::SessionOpened {
                    session_id,
                    event_id,
                    venue_id,
                    sale_start_time: sale_start,
                    sale_end_time: sale_end,
                    opened_at: now() - Duration::days(30),
                }],
            )
            .unwrap();
        Self {
            store,
            clock,
            service,
            venue_id,
            event_id,
            session_id,
        }
    }

    /// The session's seat stream.
    pub fn seats_stream(&self) -> StreamId {
        stream::<SeatSession>(self.session_id)
    }

    /// Events appended to the seat stream after the session was opened.
    pub fn seat_events(&self) -> Vec<SeatSessionEvent> {
        self.store
            .events::<SeatSession>(&self.seats_stream())
            .into_iter()
            .skip(1)
            .collect()
    }
}

/// Metadata of a test request.
pub fn meta() -> EventMetadata {
    EventMetadata::default()
}
