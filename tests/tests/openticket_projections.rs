//! OpenTicket read models on SQLite and PostgreSQL: hand-written events from the catalog
//! (docs/event-catalog.md) go into the event store, the OpenTicket projectors catch up, and the
//! queries must answer as seed 003 §3–§7 shows. Also: a rebuild from position 0 and a double
//! application of every event give exactly the live rows, and a 15,000-seat venue stays cheap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::{Value, json};
use sqlx::Connection;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_api::Engine;
use tessera_api::openticket::views::{
    EventDetail, EventSummary, Money, OrderDetail, OrderSummary, Page, Pagination, SeatDetail,
    SessionSeats, TicketDetail, TicketSummary, VenueDetail, VenueSummary,
};
use tessera_application::{AppendRequest, EventStore, ExpectedVersion};
use tessera_projections::ProjectionRunner;
use tessera_projections::openticket::{
    EventFilter, EventStatus, OpenTicketQueries, OrderStatus, PageRequest, PaymentStatus,
    SeatStatus, SessionStatus, TicketRow, TicketStatus, projectors,
};
use tessera_tests::{Suite, TestDb, new_event, scalar_i64, stream};
use uuid::Uuid;

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("venues_listed_filtered_and_read_with_seat_map", venues)
        .case("events_show_derived_status_availability_prices", events)
        .case("event_detail_has_sessions_and_categories", event_detail)
        .case("session_seats_show_locks_holds_sales_at_now", session_seats)
        .case("orders_go_through_every_status", orders)
        .case("tickets_join_event_session_venue_seat", tickets)
        .case("rebuild_and_double_apply_give_the_live_rows", rebuild)
        .case("fifteen_thousand_seat_venue_is_cheap", big_venue)
        .run()
}

// ------------------------------------------------------------------------------ the world

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The moment the queries are asked (12:00 in Taipei).
const NOW: &str = "2025-02-10T04:00:00Z";

/// A seat map: `areas` of (area id, name, seat count, seat type); seats `{area}-{nnn}`, 25 a row.
/// VIP seats get fractional x positions, to check the map comes back exactly as sent.
fn areas(spec: &[(&str, &str, usize, &str)]) -> Value {
    let areas: Vec<Value> = spec
        .iter()
        .map(|(id, name, n, kind)| {
            let width = n.to_string().len().max(3);
            let seats: Vec<Value> = (1..=*n)
                .map(|i| {
                    let x = if *kind == "VIP" {
                        json!(i as f64 * 1.5)
                    } else {
                        json!(10 * ((i - 1) % 25))
                    };
                    json!({
                        "seatId": format!("{id}-{i:0width$}"),
                        "row": ((i - 1) / 25 + 1).to_string(),
                        "number": (i - 1) % 25 + 1,
                        "x": x,
                        "y": 20 * ((i - 1) / 25),
                        "type": kind,
                    })
                })
                .collect();
            json!({"areaId": id, "name": name, "seats": seats})
        })
        .collect();
    Value::Array(areas)
}

fn ticket_id(order: Uuid, seat: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("openticket:{order}:{seat}").as_bytes(),
    )
}

fn money(amount: &str) -> Value {
    json!({"amount": amount, "currency": "TWD"})
}

/// Ids of everything the scenario creates.
struct World {
    engine: Engine,
    runner: ProjectionRunner,
    q: OpenTicketQueries,
    now: DateTime<Utc>,
    venue: Uuid,
    venue2: Uuid,
    map: Value,
    seat_map_id: Uuid,
    event: Uuid,
    event2: Uuid,
    organizer: Uuid,
    s1: Uuid,
    s2: Uuid,
    s3: Uuid,
    u1: Uuid,
    u2: Uuid,
    staff: Uuid,
    o1: Uuid,
    o2: Uuid,
    o3: Uuid,
    o4: Uuid,
    o5: Uuid,
}

impl World {
    async fn open(db: &TestDb, batch_size: usize) -> (Engine, ProjectionRunner) {
        let engine = db.engine().await;
        let runner = ProjectionRunner::new(
            engine.read_models.clone(),
            engine.events.clone(),
            projectors(),
        )
        .with_batch_size(batch_size);
        runner.prepare().await.unwrap();
        (engine, runner)
    }

    async fn emit(&self, stream_name: &str, event_type: &str, data: Value) {
        append(self.engine.events.as_ref(), stream_name, event_type, data).await;
    }

    async fn catch_up(&self) {
        catch_up(&self.runner).await;
    }

    /// Two venues, two events (one on sale, one long over), seat locks in every state and five
    /// orders that end in every order status; caught up in several steps, in small batches, as a
    /// live runner would.
    async fn build(db: &TestDb) -> World {
        let (engine, runner) = World::open(db, 7).await;
        let q = OpenTicketQueries::new(engine.read_models.clone());
        let map = areas(&[
            ("VIP", "VIP 區", 100, "VIP"),
            ("A", "A 區", 700, "Normal"),
            ("B", "B 區", 700, "Normal"),
        ]);
        let w = World {
            engine,
            runner,
            q,
            now: at(NOW),
            venue: Uuid::new_v4(),
            venue2: Uuid::new_v4(),
            map,
            seat_map_id: Uuid::new_v4(),
            event: Uuid::new_v4(),
            event2: Uuid::new_v4(),
            organizer: Uuid::new_v4(),
            s1: Uuid::new_v4(),
            s2: Uuid::new_v4(),
            s3: Uuid::new_v4(),
            u1: Uuid::new_v4(),
            u2: Uuid::new_v4(),
            staff: Uuid::new_v4(),
            o1: Uuid::new_v4(),
            o2: Uuid::new_v4(),
            o3: Uuid::new_v4(),
            o4: Uuid::new_v4(),
            o5: Uuid::new_v4(),
        };
        w.catalog().await;
        w.catch_up().await;
        w.seat_activity().await;
        w.catch_up().await;
        w.orders().await;
        w.catch_up().await;
        w
    }

    async fn catalog(&self) {
        let admin = Uuid::new_v4();
        self.emit(
            &format!("openticketVenue-{}", self.venue),
            "OpenTicketVenueCreated",
            json!({
                "venueId": self.venue, "seatMapId": self.seat_map_id, "name": "台北小巨蛋",
                "address": {"country": "TW", "city": "台北市", "street": "南京東路四段2號", "postalCode": "105"},
                "capacity": 15000, "areas": self.map, "createdBy": admin,
                "createdAt": "2025-01-10T02:00:00Z",
            }),
        )
        .await;
        self.emit(
            &format!("openticketVenue-{}", self.venue2),
            "OpenTicketVenueCreated",
            json!({
                "venueId": self.venue2, "seatMapId": Uuid::new_v4(), "name": "高雄巨蛋",
                "address": {"country": "TW", "city": "高雄市", "street": "博愛二路757號", "postalCode": "813"},
                "capacity": 3, "areas": areas(&[("G", "G 區", 3, "Normal")]), "createdBy": admin,
                "createdAt": "2025-01-11T02:00:00Z",
            }),
        )
        .await;
        self.emit(
            &format!("openticketEvent-{}", self.event),
            "OpenTicketEventCreated",
            json!({
                "eventId": self.event, "organizerId": self.organizer, "name": "五月天演唱會",
                "description": "2025 巡迴演唱會", "venueId": self.venue, "venueName": "台北小巨蛋",
                "sessions": [
                    {"sessionId": self.s1, "startTime": "2025-03-15T19:00:00+08:00",
                     "endTime": "2025-03-15T22:00:00+08:00", "saleStartTime": "2025-02-01T12:00:00+08:00",
                     "saleEndTime": "2025-03-15T18:00:00+08:00"},
                    {"sessionId": self.s2, "startTime": "2025-03-16T19:00:00+08:00",
                     "endTime": "2025-03-16T22:00:00+08:00", "saleStartTime": "2025-02-20T12:00:00+08:00",
                     "saleEndTime": "2025-03-16T18:00:00+08:00"},
                ],
                "priceCategories": [
                    {"categoryId": "VIP", "name": "VIP 區", "areaIds": ["VIP"], "price": money("6800")},
                    {"categoryId": "A", "name": "A 區", "areaIds": ["A", "B"], "price": money("4800")},
                ],
                "createdAt": "2025-01-15T02:00:00Z",
            }),
        )
        .await;
        self.emit(
            &format!("openticketEvent-{}", self.event2),
            "OpenTicketEventCreated",
            json!({
                "eventId": self.event2, "organizerId": self.organizer, "name": "跨年晚會",
                "description": null, "venueId": self.venue2, "venueName": "高雄巨蛋",
                "sessions": [
                    {"sessionId": self.s3, "startTime": "2024-12-01T19:00:00+08:00",
                     "endTime": "2024-12-01T22:00:00+08:00", "saleStartTime": "2024-11-01T12:00:00+08:00",
                     "saleEndTime": "2024-12-01T18:00:00+08:00"},
                ],
                "priceCategories": [
                    {"categoryId": "G", "name": "G 區", "areaIds": ["G"], "price": money("1000")},
                ],
                "createdAt": "2024-10-15T02:00:00Z",
            }),
        )
        .await;
        for (session, event, venue, start, end) in [
            (
                self.s1,
                self.event,
                self.venue,
                "2025-02-01T04:00:00Z",
                "2025-03-15T10:00:00Z",
            ),
            (
                self.s2,
                self.event,
                self.venue,
                "2025-02-20T04:00:00Z",
                "2025-03-16T10:00:00Z",
            ),
            (
                self.s3,
                self.event2,
                self.venue2,
                "2024-11-01T04:00:00Z",
                "2024-12-01T10:00:00Z",
            ),
        ] {
            self.emit(
                &format!("openticketSeatSession-{session}"),
                "OpenTicketSessionOpened",
                json!({"sessionId": session, "eventId": event, "venueId": venue,
                       "saleStartTime": start, "saleEndTime": end, "openedAt": "2025-01-15T02:00:01Z"}),
            )
            .await;
        }
    }

    fn seats_stream(&self) -> String {
        format!("openticketSeatSession-{}", self.s1)
    }

    async fn lock(&self, user: Uuid, seats: &[&str], locked_at: &str, expires_at: &str) -> Uuid {
        let lock = Uuid::new_v4();
        self.emit(
            &self.seats_stream(),
            "OpenTicketSeatsLocked",
            json!({"lockId": lock, "userId": user, "seatIds": seats, "lockedAt": locked_at, "expiresAt": expires_at}),
        )
        .await;
        lock
    }

    async fn release(
        &self,
        user: Uuid,
        seats: &[&str],
        lock: Option<Uuid>,
        order: Option<Uuid>,
        reason: &str,
        when: &str,
    ) {
        self.emit(
            &self.seats_stream(),
            "OpenTicketSeatsReleased",
            json!({"seatIds": seats, "userId": user, "lockId": lock, "orderId": order, "reason": reason, "releasedAt": when}),
        )
        .await;
    }

    /// Locks that stay, one that expired without a release, and one
    /// released by its holder (B-001, B-002).
    async fn seat_activity(&self) {
        self.lock(
            self.u1,
            &["A-001", "A-002"],
            "2025-02-10T03:59:00Z",
            "2025-02-10T04:01:00Z",
        )
        .await;
        self.lock(
            self.u2,
            &["A-003"],
            "2025-02-10T03:51:00Z",
            "2025-02-10T03:53:00Z",
        )
        .await;
        let l3 = self
            .lock(
                self.u2,
                &["B-001", "B-002"],
                "2025-02-10T03:52:00Z",
                "2025-02-10T03:54:00Z",
            )
            .await;
        self.release(
            self.u2,
            &["B-001", "B-002"],
            Some(l3),
            None,
            "UserReleased",
            "2025-02-10T03:52:30Z",
        )
        .await;
    }

    /// Lock, hold and place an order for `seats` (priced `each`).
    async fn place(
        &self,
        order: Uuid,
        user: Uuid,
        seats: &[(&str, &str, &str, &str)],
        minute: u32,
    ) {
        let t = |m: u32| {
            (at("2025-02-10T03:00:00Z") + ChronoDuration::minutes(i64::from(m)))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        let ids: Vec<&str> = seats.iter().map(|s| s.0).collect();
        self.lock(user, &ids, &t(minute), &t(minute + 2)).await;
        self.emit(
            &self.seats_stream(),
            "OpenTicketSeatsHeldForOrder",
            json!({"orderId": order, "userId": user, "seatIds": ids, "heldAt": t(minute), "heldUntil": t(minute + 10)}),
        )
        .await;
        let total: u64 = seats.iter().map(|s| s.3.parse::<u64>().unwrap()).sum();
        let items: Vec<Value> = seats
            .iter()
            .map(|(seat, area, category, amount)| {
                json!({"seatId": seat, "areaId": area, "categoryId": category, "price": money(amount)})
            })
            .collect();
        let payment = Uuid::new_v4();
        self.emit(
            &format!("openticketOrder-{order}"),
            "OpenTicketOrderPlaced",
            json!({
                "orderId": order, "userId": user, "eventId": self.event, "sessionId": self.s1,
                "items": items, "totalAmount": money(&total.to_string()),
                "payment": {"paymentId": payment, "provider": "Mock", "providerReference": null,
                            "paymentUrl": format!("http://localhost/v1/mock-payment/{payment}")},
                "placedAt": t(minute), "expiresAt": t(minute + 10),
            }),
        )
        .await;
    }

    async fn order_event(&self, order: Uuid, event_type: &str, data: Value) {
        self.emit(&format!("openticketOrder-{order}"), event_type, data)
            .await;
    }

    async fn orders(&self) {
        let pid = || Uuid::new_v4();
        // O3 (u2): a failed payment, then expiry.
        self.place(self.o3, self.u2, &[("A-020", "A", "A", "4800")], 30)
            .await;
        self.order_event(self.o3, "OpenTicketPaymentFailed", json!({"paymentId": pid(), "providerEventId": "evt_1", "reason": "card declined", "failedAt": "2025-02-10T03:35:00Z"})).await;
        self.order_event(
            self.o3,
            "OpenTicketOrderExpired",
            json!({"expiredAt": "2025-02-10T03:40:00Z"}),
        )
        .await;
        self.release(
            self.u2,
            &["A-020"],
            None,
            Some(self.o3),
            "OrderExpired",
            "2025-02-10T03:40:00Z",
        )
        .await;

        // O1 (u1): paid, sold, tickets issued, completed; one ticket used.
        self.place(
            self.o1,
            self.u1,
            &[
                ("VIP-001", "VIP", "VIP", "6800"),
                ("VIP-002", "VIP", "VIP", "6800"),
            ],
            41,
        )
        .await;
        self.order_event(self.o1, "OpenTicketPaymentSucceeded", json!({"paymentId": pid(), "providerEventId": "evt_2", "paidAt": "2025-02-10T03:43:00Z"})).await;
        self.emit(
            &self.seats_stream(),
            "OpenTicketSeatsSold",
            json!({"orderId": self.o1, "userId": self.u1, "seatIds": ["VIP-001", "VIP-002"], "soldAt": "2025-02-10T03:43:01Z"}),
        )
        .await;
        let mut tickets = Vec::new();
        for seat in ["VIP-001", "VIP-002"] {
            let ticket = ticket_id(self.o1, seat);
            tickets.push(json!({"seatId": seat, "ticketId": ticket}));
            self.emit(
                &format!("openticketTicket-{ticket}"),
                "OpenTicketTicketIssued",
                json!({"ticketId": ticket, "orderId": self.o1, "userId": self.u1, "eventId": self.event,
                       "sessionId": self.s1, "seatId": seat, "areaId": "VIP", "price": money("6800"),
                       "issuedAt": "2025-02-10T03:43:02Z"}),
            )
            .await;
        }
        self.order_event(
            self.o1,
            "OpenTicketOrderCompleted",
            json!({"ticketIds": tickets, "completedAt": "2025-02-10T03:43:03Z"}),
        )
        .await;
        self.emit(
            &format!("openticketTicket-{}", ticket_id(self.o1, "VIP-001")),
            "OpenTicketTicketUsed",
            json!({"verifiedBy": self.staff, "usedAt": "2025-02-10T03:59:30Z"}),
        )
        .await;

        // O2 (u1): a failed payment, cancelled, then the money arrives anyway.
        self.place(self.o2, self.u1, &[("A-010", "A", "A", "4800")], 44)
            .await;
        self.order_event(self.o2, "OpenTicketPaymentFailed", json!({"paymentId": pid(), "providerEventId": "evt_3", "reason": "insufficient funds", "failedAt": "2025-02-10T03:45:00Z"})).await;
        self.order_event(
            self.o2,
            "OpenTicketOrderCancelled",
            json!({"cancelledBy": self.u1, "cancelledAt": "2025-02-10T03:46:00Z"}),
        )
        .await;
        self.release(
            self.u1,
            &["A-010"],
            None,
            Some(self.o2),
            "OrderCancelled",
            "2025-02-10T03:46:00Z",
        )
        .await;
        self.order_event(self.o2, "OpenTicketLatePaymentReceived", json!({"paymentId": pid(), "providerEventId": "evt_4", "paidAt": "2025-02-10T03:47:00Z", "refundRequired": true})).await;

        // O4 (u1): paid, tickets not issued yet (seats still held).
        self.place(
            self.o4,
            self.u1,
            &[("A-030", "A", "A", "4800"), ("A-031", "A", "A", "4800")],
            55,
        )
        .await;
        self.order_event(self.o4, "OpenTicketPaymentSucceeded", json!({"paymentId": pid(), "providerEventId": "evt_5", "paidAt": "2025-02-10T03:56:00Z"})).await;

        // O5 (u1): placed, waiting for payment.
        self.place(self.o5, self.u1, &[("B-100", "B", "A", "4800")], 57)
            .await;
    }
}

async fn append(store: &dyn EventStore, stream_name: &str, event_type: &str, data: Value) {
    store
        .append(AppendRequest::new(
            stream(stream_name),
            ExpectedVersion::Any,
            vec![new_event(event_type, data)],
        ))
        .await
        .unwrap();
}

async fn catch_up(runner: &ProjectionRunner) {
    for name in runner.names() {
        runner.catch_up(name, |_, _| {}).await.unwrap();
    }
}

fn js<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

/// The JSON the API builds from a ticket row, less the codes only the HTTP layer can sign
/// (`qrCode`, `qrCodeImage`).
fn ticket_js(wire: Value) -> Value {
    let mut v = wire;
    let object = v.as_object_mut().unwrap();
    object.remove("qrCode");
    object.remove("qrCodeImage");
    v
}

/// A §7.1 item as the API sends it for `t`, without its `qrCode`.
fn ticket_item(t: &TicketRow) -> Value {
    ticket_js(js(&TicketSummary::new(t.clone(), String::new())))
}

/// A §7.2 ticket as the API sends it for `t`, without its codes.
fn ticket_detail(t: &TicketRow) -> Value {
    ticket_js(js(&TicketDetail::new(
        t.clone(),
        String::new(),
        String::new(),
    )))
}

// --------------------------------------------------------------------------------- venues

async fn venues(db: Arc<TestDb>) {
    let w = World::build(&db).await;

    let all = w.q.venues(None, PageRequest::default()).await.unwrap();
    assert_eq!(all.items.len(), 2);
    assert_eq!(
        js(&VenueSummary::from(all.items[0].clone())),
        json!({
            "venueId": w.venue, "name": "台北小巨蛋",
            "address": {"country": "TW", "city": "台北市", "street": "南京東路四段2號", "postalCode": "105"},
            "capacity": 15000, "status": "Active",
        }),
        "§3.1 item shape, in creation order"
    );
    assert_eq!(
        js(&Pagination::from(&all)),
        json!({"page": 1, "pageSize": 20, "totalItems": 2, "totalPages": 1})
    );

    let kaohsiung =
        w.q.venues(Some("高雄市"), PageRequest::default())
            .await
            .unwrap();
    assert_eq!(kaohsiung.total_items, 1);
    assert_eq!(kaohsiung.items[0].venue_id, w.venue2);
    let nowhere =
        w.q.venues(Some("台中市"), PageRequest::default())
            .await
            .unwrap();
    assert!(nowhere.items.is_empty() && nowhere.total_pages() == 0);

    let second = w.q.venues(None, PageRequest::new(2, 1)).await.unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].venue_id, w.venue2);
    assert_eq!((second.total_items, second.total_pages()), (2, 2));

    let detail: VenueDetail = w.q.venue(w.venue).await.unwrap().expect("venue").into();
    assert_eq!(detail.seat_count, 1500);
    assert_eq!(detail.seat_map.seat_map_id, w.seat_map_id);
    assert_eq!(detail.seat_map.version, 1);
    // The areas come back exactly as the venue's creator sent them, fractional x included.
    assert_eq!(js(&detail.seat_map.areas), w.map);
    assert_eq!(
        js(&detail.seat_map.areas)[0]["seats"][1],
        json!({"seatId": "VIP-002", "row": "1", "number": 2, "x": 3.0, "y": 0, "type": "VIP"})
    );
    let body = js(&detail);
    assert_eq!(body["seatMap"]["areas"][2]["areaId"], "B");
    assert_eq!(body["address"]["postalCode"], "105");
    assert!(w.q.venue(Uuid::new_v4()).await.unwrap().is_none());

    assert_eq!(
        scalar_i64(
            &db.url,
            &format!(
                "SELECT COUNT(*) FROM ot_venue_seats WHERE venue_id = '{}'",
                w.venue
            )
        )
        .await,
        1500
    );
}

// --------------------------------------------------------------------------------- events

async fn events(db: Arc<TestDb>) {
    let w = World::build(&db).await;
    let all: Page<EventSummary> =
        w.q.events(&EventFilter::default(), PageRequest::default(), w.now)
            .await
            .unwrap()
            .into();
    let ids: Vec<Uuid> = all.items.iter().map(|e| e.event_id).collect();
    assert_eq!(
        ids,
        vec![w.event2, w.event],
        "ordered by first session start"
    );
    assert_eq!(all.pagination.total_items, 2);
    assert_eq!(
        js(&all.items[1]),
        json!({
            "eventId": w.event, "name": "五月天演唱會", "description": "2025 巡迴演唱會",
            "venueId": w.venue, "venueName": "台北小巨蛋", "status": "OnSale",
            "sessions": [
                {"sessionId": w.s1, "startTime": "2025-03-15T11:00:00.000Z", "status": "OnSale",
                 // 1500 − 2 locked − 2 sold − 3 held (A-003's lock has expired: free again).
                 "availableSeats": 1493},
                {"sessionId": w.s2, "startTime": "2025-03-16T11:00:00.000Z", "status": "Scheduled",
                 "availableSeats": 1500},
            ],
            "priceRange": {"min": {"amount": 4800, "currency": "TWD"}, "max": {"amount": 6800, "currency": "TWD"}},
        }),
        "§4.1 item shape"
    );
    let old = &all.items[0];
    assert_eq!(old.status, EventStatus::Ended);
    assert_eq!(old.sessions[0].status, SessionStatus::Ended);
    assert_eq!(old.description, None);

    let ask = |filter: EventFilter, now: DateTime<Utc>| {
        let q = w.q.clone();
        async move {
            q.events(&filter, PageRequest::default(), now)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|e| e.event_id)
                .collect::<Vec<_>>()
        }
    };
    let status = |s| EventFilter {
        status: Some(s),
        ..Default::default()
    };
    assert_eq!(ask(status(EventStatus::OnSale), w.now).await, vec![w.event]);
    assert_eq!(ask(status(EventStatus::Ended), w.now).await, vec![w.event2]);
    assert_eq!(
        ask(status(EventStatus::Published), w.now).await,
        Vec::<Uuid>::new()
    );
    // Before any sale opens the event is Published; after its last session, Ended.
    assert_eq!(
        ask(status(EventStatus::Published), at("2025-01-20T00:00:00Z")).await,
        vec![w.event]
    );
    assert_eq!(
        ask(status(EventStatus::Ended), at("2025-03-16T14:00:00Z")).await,
        vec![w.event2, w.event]
    );
    // The status filter and the reported status agree.
    let later =
        w.q.events(
            &status(EventStatus::OnSale),
            PageRequest::default(),
            at("2025-03-16T05:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(later.items.len(), 1);
    assert_eq!(
        later.items[0]
            .sessions
            .iter()
            .map(|s| s.status)
            .collect::<Vec<_>>(),
        vec![SessionStatus::Ended, SessionStatus::OnSale]
    );

    let venue2 = EventFilter {
        venue_id: Some(w.venue2),
        ..Default::default()
    };
    assert_eq!(ask(venue2, w.now).await, vec![w.event2]);
    // S2 starts 2025-03-16T11:00Z, S1 2025-03-15T11:00Z, the old session 2024-12-01T11:00Z.
    let from = EventFilter {
        starts_from: Some(at("2025-03-16T00:00:00+08:00")),
        ..Default::default()
    };
    assert_eq!(ask(from, w.now).await, vec![w.event]);
    let before = EventFilter {
        starts_before: Some(at("2025-01-01T00:00:00Z")),
        ..Default::default()
    };
    assert_eq!(ask(before, w.now).await, vec![w.event2]);
    let gap = EventFilter {
        starts_from: Some(at("2025-03-15T12:00:00Z")),
        starts_before: Some(at("2025-03-16T00:00:00Z")),
        ..Default::default()
    };
    assert_eq!(
        ask(gap, w.now).await,
        Vec::<Uuid>::new(),
        "one session must fall between both bounds"
    );

    let page2: Page<EventSummary> =
        w.q.events(&EventFilter::default(), PageRequest::new(2, 1), w.now)
            .await
            .unwrap()
            .into();
    assert_eq!(
        page2.items.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        vec![w.event]
    );
    assert_eq!(
        (page2.pagination.total_items, page2.pagination.total_pages),
        (2, 2)
    );
}

async fn event_detail(db: Arc<TestDb>) {
    let w = World::build(&db).await;
    let e: EventDetail =
        w.q.event(w.event, w.now)
            .await
            .unwrap()
            .expect("event")
            .into();
    assert_eq!(
        js(&e),
        json!({
            "eventId": w.event, "organizerId": w.organizer, "name": "五月天演唱會",
            "description": "2025 巡迴演唱會", "status": "OnSale",
            "venue": {"venueId": w.venue, "name": "台北小巨蛋"},
            "sessions": [
                {"sessionId": w.s1, "startTime": "2025-03-15T11:00:00.000Z", "endTime": "2025-03-15T14:00:00.000Z",
                 "saleStartTime": "2025-02-01T04:00:00.000Z", "saleEndTime": "2025-03-15T10:00:00.000Z",
                 "status": "OnSale", "availableSeats": 1493},
                {"sessionId": w.s2, "startTime": "2025-03-16T11:00:00.000Z", "endTime": "2025-03-16T14:00:00.000Z",
                 "saleStartTime": "2025-02-20T04:00:00.000Z", "saleEndTime": "2025-03-16T10:00:00.000Z",
                 "status": "Scheduled", "availableSeats": 1500},
            ],
            "priceCategories": [
                {"categoryId": "VIP", "name": "VIP 區", "areaIds": ["VIP"], "price": {"amount": 6800, "currency": "TWD"}},
                {"categoryId": "A", "name": "A 區", "areaIds": ["A", "B"], "price": {"amount": 4800, "currency": "TWD"}},
            ],
        }),
        "§4.2 shape"
    );
    // Exactly at the sale end the session is no longer on sale.
    let e: EventDetail =
        w.q.event(w.event, at("2025-03-15T10:00:00Z"))
            .await
            .unwrap()
            .unwrap()
            .into();
    assert_eq!(e.sessions[0].status, SessionStatus::SaleEnded);
    assert!(w.q.event(Uuid::new_v4(), w.now).await.unwrap().is_none());
}

// -------------------------------------------------------------------------------- seats

async fn session_seats(db: Arc<TestDb>) {
    let w = World::build(&db).await;
    let s: SessionSeats =
        w.q.session_seats(w.s1, w.now)
            .await
            .unwrap()
            .expect("session")
            .into();
    assert_eq!(
        s.areas
            .iter()
            .map(|a| (a.area_id.as_str(), a.seats.len()))
            .collect::<Vec<_>>(),
        vec![("VIP", 100), ("A", 700), ("B", 700)],
        "grouped by area in seat-map order"
    );
    assert_eq!(
        js(&s.summary),
        json!({"total": 1500, "available": 1493, "locked": 5, "sold": 2, "notForSale": 0})
    );
    let counted = |status: SeatStatus| {
        s.areas
            .iter()
            .flat_map(|a| &a.seats)
            .filter(|x| x.status == status)
            .count() as u64
    };
    assert_eq!(counted(SeatStatus::Available), s.summary.available);
    assert_eq!(counted(SeatStatus::Locked), s.summary.locked);
    assert_eq!(counted(SeatStatus::Sold), s.summary.sold);
    assert_eq!(
        s.summary.available + s.summary.locked + s.summary.sold,
        s.summary.total
    );

    let seat = |id: &str| {
        s.areas
            .iter()
            .flat_map(|a| &a.seats)
            .find(|x| x.seat_id == id)
            .map(js)
            .unwrap()
    };
    assert_eq!(
        seat("VIP-003"),
        json!({"seatId": "VIP-003", "status": "Available", "price": {"amount": 6800, "currency": "TWD"}})
    );
    assert_eq!(
        seat("VIP-001"),
        json!({"seatId": "VIP-001", "status": "Sold"})
    );
    assert_eq!(
        seat("A-001"),
        json!({"seatId": "A-001", "status": "Locked"}),
        "locked until 04:01"
    );
    assert_eq!(
        seat("A-003"),
        json!({"seatId": "A-003", "status": "Available", "price": {"amount": 4800, "currency": "TWD"}}),
        "its lock expired at 03:53"
    );
    assert_eq!(seat("A-030")["status"], "Locked", "held for a paid order");
    assert_eq!(
        seat("B-100")["status"],
        "Locked",
        "held for an unpaid order"
    );
    assert_eq!(
        seat("B-001")["status"],
        "Available",
        "released by its holder"
    );
    assert_eq!(
        seat("A-010")["status"],
        "Available",
        "released when its order was cancelled"
    );
    assert_eq!(
        seat("A-020")["status"],
        "Available",
        "released when its order expired"
    );

    // Two minutes later u1's lock on has expired too (no release event yet).
    let later: SessionSeats =
        w.q.session_seats(w.s1, w.now + ChronoDuration::minutes(2))
            .await
            .unwrap()
            .unwrap()
            .into();
    assert_eq!(
        js(&later.summary),
        json!({"total": 1500, "available": 1495, "locked": 3, "sold": 2, "notForSale": 0})
    );

    let one: SeatDetail =
        w.q.seat(w.s1, "VIP-001", w.now)
            .await
            .unwrap()
            .expect("seat")
            .into();
    assert_eq!(
        js(&one),
        json!({"seatId": "VIP-001", "sessionId": w.s1, "status": "Sold", "areaId": "VIP", "row": "1",
               "number": 1, "price": {"amount": 6800, "currency": "TWD"}, "type": "VIP"}),
        "§5.4 shape"
    );
    let a3: SeatDetail =
        w.q.seat(w.s1, "A-003", w.now)
            .await
            .unwrap()
            .unwrap()
            .into();
    assert_eq!(a3.status, SeatStatus::Available);
    assert_eq!(
        w.q.seat(w.s1, "A-001", w.now)
            .await
            .unwrap()
            .unwrap()
            .status,
        SeatStatus::Locked
    );
    assert_eq!(
        w.q.seat(w.s1, "A-001", at("2025-02-10T04:01:00Z"))
            .await
            .unwrap()
            .unwrap()
            .status,
        SeatStatus::Available,
        "a lock is over at its expiry instant"
    );
    assert!(w.q.seat(w.s1, "Z-999", w.now).await.unwrap().is_none());

    let untouched: SessionSeats =
        w.q.session_seats(w.s2, w.now)
            .await
            .unwrap()
            .unwrap()
            .into();
    assert_eq!(
        js(&untouched.summary),
        json!({"total": 1500, "available": 1500, "locked": 0, "sold": 0, "notForSale": 0})
    );
    assert!(
        w.q.session_seats(Uuid::new_v4(), w.now)
            .await
            .unwrap()
            .is_none()
    );

    assert_eq!(
        scalar_i64(&db.url, &format!("SELECT COUNT(*) FROM ot_session_seats WHERE session_id = '{}' AND status = 'HeldForOrder'", w.s1)).await,
        3,
        "holds are stored as such"
    );
}

// -------------------------------------------------------------------------------- orders

async fn orders(db: Arc<TestDb>) {
    let w = World::build(&db).await;
    let mine =
        w.q.orders_of_user(w.u1, None, PageRequest::default())
            .await
            .unwrap();
    assert_eq!(
        mine.items
            .iter()
            .map(|o| (o.order_id, o.status))
            .collect::<Vec<_>>(),
        vec![
            (w.o5, OrderStatus::Created),
            (w.o4, OrderStatus::Paid),
            (w.o2, OrderStatus::Cancelled),
            (w.o1, OrderStatus::Completed),
        ],
        "newest first"
    );
    assert_eq!(
        js(&OrderSummary::from(mine.items[3].clone())),
        json!({
            "orderId": w.o1, "event": {"eventId": w.event, "name": "五月天演唱會"},
            "session": {"sessionId": w.s1, "startTime": "2025-03-15T11:00:00.000Z"},
            "seatCount": 2, "totalAmount": {"amount": 13600, "currency": "TWD"},
            "status": "Completed", "createdAt": "2025-02-10T03:41:00.000Z",
        }),
        "§6.4 item shape"
    );
    let completed: Page<OrderSummary> =
        w.q.orders_of_user(w.u1, Some(OrderStatus::Completed), PageRequest::default())
            .await
            .unwrap()
            .into();
    assert_eq!(
        completed
            .items
            .iter()
            .map(|o| o.order_id)
            .collect::<Vec<_>>(),
        vec![w.o1]
    );
    assert_eq!(completed.pagination.total_items, 1);
    let paged: Page<OrderSummary> =
        w.q.orders_of_user(w.u1, None, PageRequest::new(2, 3))
            .await
            .unwrap()
            .into();
    assert_eq!(
        paged.items.iter().map(|o| o.order_id).collect::<Vec<_>>(),
        vec![w.o1]
    );
    assert_eq!(
        (paged.pagination.total_items, paged.pagination.total_pages),
        (4, 2)
    );
    let theirs =
        w.q.orders_of_user(w.u2, None, PageRequest::default())
            .await
            .unwrap();
    assert_eq!(
        theirs
            .items
            .iter()
            .map(|o| (o.order_id, o.status))
            .collect::<Vec<_>>(),
        vec![(w.o3, OrderStatus::Expired)]
    );

    let o1: OrderDetail = w.q.order(w.o1).await.unwrap().expect("o1").into();
    let body = js(&o1);
    assert_eq!(body["status"], "Completed");
    assert_eq!(body["completedAt"], "2025-02-10T03:43:03.000Z");
    assert_eq!(body["createdAt"], "2025-02-10T03:41:00.000Z");
    assert_eq!(
        body["totalAmount"],
        json!({"amount": 13600, "currency": "TWD"})
    );
    assert_eq!(
        body["items"],
        json!([
            {"seatId": "VIP-001", "areaId": "VIP", "categoryId": "VIP", "price": {"amount": 6800, "currency": "TWD"}, "ticketId": ticket_id(w.o1, "VIP-001")},
            {"seatId": "VIP-002", "areaId": "VIP", "categoryId": "VIP", "price": {"amount": 6800, "currency": "TWD"}, "ticketId": ticket_id(w.o1, "VIP-002")},
        ])
    );
    assert_eq!(body["payment"]["status"], "Succeeded");
    assert_eq!(body["payment"]["paidAt"], "2025-02-10T03:43:00.000Z");
    assert_eq!(body["payment"]["provider"], "Mock");
    assert!(body.get("cancelledAt").is_none() && body.get("expiredAt").is_none());
    assert_eq!(o1.user_id, w.u1);

    let o2: OrderDetail = w.q.order(w.o2).await.unwrap().unwrap().into();
    assert_eq!(o2.status, OrderStatus::Cancelled);
    assert_eq!(o2.payment.status, PaymentStatus::RefundRequired);
    assert!(o2.refund_required);
    assert_eq!(o2.payment.paid_at, Some(at("2025-02-10T03:47:00Z")));
    assert_eq!(o2.cancelled_at, Some(at("2025-02-10T03:46:00Z")));
    assert_eq!(
        o2.payment.failure_reason.as_deref(),
        Some("insufficient funds")
    );

    let o3 = w.q.order(w.o3).await.unwrap().unwrap();
    assert_eq!(
        (o3.status, o3.payment_status),
        (OrderStatus::Expired, PaymentStatus::Failed)
    );
    assert_eq!(o3.expired_at, Some(at("2025-02-10T03:40:00Z")));
    assert!(!o3.refund_required);

    let o4 = w.q.order(w.o4).await.unwrap().unwrap();
    assert_eq!(
        (o4.status, o4.payment_status),
        (OrderStatus::Paid, PaymentStatus::Succeeded)
    );
    assert!(o4.items.iter().all(|i| i.ticket_id.is_none()));
    assert_eq!(
        js(&Money::from(o4.total_amount)),
        json!({"amount": 9600, "currency": "TWD"})
    );

    let o5 = w.q.order(w.o5).await.unwrap().unwrap();
    assert_eq!(
        (o5.status, o5.payment_status),
        (OrderStatus::Created, PaymentStatus::Pending)
    );
    assert_eq!(o5.expires_at, at("2025-02-10T04:07:00Z"));
    assert!(
        o5.payment_url
            .as_deref()
            .unwrap()
            .contains("/v1/mock-payment/")
    );
    assert!(w.q.order(Uuid::new_v4()).await.unwrap().is_none());

    // The analysts' sales table: one row per ordered seat, sold ones stamped.
    assert_eq!(
        scalar_i64(&db.url, "SELECT COUNT(*) FROM ot_order_items").await,
        7
    );
    assert_eq!(
        scalar_i64(
            &db.url,
            "SELECT COUNT(*) FROM ot_order_items WHERE sold_at IS NOT NULL"
        )
        .await,
        2
    );
    assert_eq!(
        scalar_i64(&db.url, "SELECT CAST(SUM(CAST(i.amount AS NUMERIC)) AS BIGINT) FROM ot_order_items i JOIN ot_orders o ON o.order_id = i.order_id WHERE o.status IN ('Paid', 'Completed')").await,
        6800 * 2 + 4800 * 2,
        "revenue as the documented analyst query computes it"
    );
}

// ------------------------------------------------------------------------------- tickets

async fn tickets(db: Arc<TestDb>) {
    let w = World::build(&db).await;
    let t1 = ticket_id(w.o1, "VIP-001");
    let t2 = ticket_id(w.o1, "VIP-002");
    let mine =
        w.q.tickets_of_user(w.u1, PageRequest::default())
            .await
            .unwrap();
    assert_eq!(
        mine.items.iter().map(|t| t.ticket_id).collect::<Vec<_>>(),
        vec![t1, t2]
    );
    assert_eq!(mine.total_items, 2);
    assert_eq!(
        ticket_item(&mine.items[1]),
        json!({
            "ticketId": t2, "event": {"eventId": w.event, "name": "五月天演唱會"},
            "session": {"sessionId": w.s1, "startTime": "2025-03-15T11:00:00.000Z", "venue": "台北小巨蛋"},
            "seat": {"seatId": "VIP-002", "area": "VIP 區", "row": "1", "number": 2},
            "status": "Issued", "issuedAt": "2025-02-10T03:43:02.000Z",
        }),
        "§7.1 item shape (qrCode is the HTTP layer's)"
    );
    assert!(
        w.q.tickets_of_user(w.u2, PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let used = w.q.ticket(t1).await.unwrap().expect("ticket");
    assert_eq!(
        ticket_detail(&used),
        json!({
            "ticketId": t1, "orderId": w.o1, "userId": w.u1,
            "event": {"eventId": w.event, "name": "五月天演唱會", "description": "2025 巡迴演唱會"},
            "session": {"sessionId": w.s1, "startTime": "2025-03-15T11:00:00.000Z", "endTime": "2025-03-15T14:00:00.000Z"},
            "venue": {"venueId": w.venue, "name": "台北小巨蛋",
                      "address": {"country": "TW", "city": "台北市", "street": "南京東路四段2號", "postalCode": "105"}},
            "seat": {"seatId": "VIP-001", "areaId": "VIP", "areaName": "VIP 區", "row": "1", "number": 1},
            "price": {"amount": 6800, "currency": "TWD"},
            "status": "Used", "issuedAt": "2025-02-10T03:43:02.000Z", "usedAt": "2025-02-10T03:59:30.000Z",
            "verifiedBy": w.staff.to_string(),
        }),
        "§7.2 shape"
    );
    assert_eq!(
        w.q.ticket(t2).await.unwrap().unwrap().status,
        TicketStatus::Issued
    );
    assert!(w.q.ticket(Uuid::new_v4()).await.unwrap().is_none());

    // A second scan does not move the first use.
    append(
        w.engine.events.as_ref(),
        &format!("openticketTicket-{t1}"),
        "OpenTicketTicketUsed",
        json!({"verifiedBy": Uuid::new_v4(), "usedAt": "2025-02-10T05:00:00.000Z"}),
    )
    .await;
    w.catch_up().await;
    assert_eq!(
        w.q.ticket(t1).await.unwrap().unwrap().used_at,
        Some(at("2025-02-10T03:59:30Z"))
    );
}

// ------------------------------------------------------------------------------- rebuild

const TABLES: &[&str] = &[
    "ot_venues",
    "ot_venue_seats",
    "ot_events",
    "ot_sessions",
    "ot_price_categories",
    "ot_category_areas",
    "ot_session_seats",
    "ot_orders",
    "ot_order_items",
    "ot_tickets",
];

/// Every row of every OpenTicket table as text, sorted.
async fn dump(url: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for table in TABLES {
        let rows: Vec<String> = if url.starts_with("sqlite:") {
            let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
            let cols: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
                    .bind(*table)
                    .fetch_all(&mut c)
                    .await
                    .unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(row_sql(table, &cols)))
                .fetch_all(&mut c)
                .await
                .unwrap()
        } else {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            let cols: Vec<String> = sqlx::query_scalar(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_name = $1 ORDER BY ordinal_position",
            )
            .bind(*table)
            .fetch_all(&mut c)
            .await
            .unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(row_sql(table, &cols)))
                .fetch_all(&mut c)
                .await
                .unwrap()
        };
        out.push((table.to_string(), rows));
    }
    out
}

fn row_sql(table: &str, cols: &[String]) -> String {
    assert!(!cols.is_empty(), "{table} has columns");
    let row = cols
        .iter()
        .map(|c| format!("COALESCE(CAST({c} AS TEXT), '<null>')"))
        .collect::<Vec<_>>()
        .join(" || '|' || ");
    format!("SELECT {row} FROM {table} ORDER BY 1")
}

async fn rebuild(db: Arc<TestDb>) {
    let w = World::build(&db).await;
    let live = dump(&db.url).await;
    let sizes: Vec<usize> = live.iter().map(|(_, rows)| rows.len()).collect();
    assert_eq!(
        sizes,
        vec![2, 1503, 2, 3, 3, 4, 3003, 5, 7, 2],
        "rows per table"
    );

    // `tessera projections rebuild <name>` for each, in one go (default batch size).
    for name in w.runner.names() {
        w.runner.rebuild(name, |_, _| {}).await.unwrap();
    }
    assert_eq!(
        dump(&db.url).await,
        live,
        "rebuild from 0 equals the live run"
    );

    // Every event applied twice in a row (a retried batch) changes nothing either.
    let ps = projectors();
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let batch = w.engine.events.read_all(after, 500).await.unwrap();
        let Some(last) = batch.last() else { break };
        after = last.global_position;
        events.extend(batch);
    }
    let mut tx = w.engine.read_models.begin().await.unwrap();
    for p in &ps {
        p.reset(&mut tx).await.unwrap();
    }
    for e in &events {
        for p in &ps {
            if p.handles().contains(&e.event_type.as_str()) {
                p.apply(&mut tx, e).await.unwrap();
                p.apply(&mut tx, e).await.unwrap();
            }
        }
    }
    tx.commit().await.unwrap();
    assert_eq!(
        dump(&db.url).await,
        live,
        "applying each event twice equals the live run"
    );

    // A projector that does not handle an event type leaves the rows alone; a bad event stalls
    // with a clear error instead of being skipped.
    append(
        w.engine.events.as_ref(),
        &format!("openticketOrder-{}", Uuid::new_v4()),
        "OpenTicketOrderPlaced",
        json!({"orderId": "nope"}),
    )
    .await;
    let err = w
        .runner
        .catch_up("openticket_orders", |_, _| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("OpenTicketOrderPlaced"), "{err}");
}

// ---------------------------------------------------------------------------- big venue

async fn big_venue(db: Arc<TestDb>) {
    let (engine, runner) = World::open(&db, 500).await;
    let q = OpenTicketQueries::new(engine.read_models.clone());
    let store = engine.events.clone();
    let (venue, event, session) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let map = areas(&[
        ("A", "A 區", 5000, "Normal"),
        ("B", "B 區", 5000, "Normal"),
        ("C", "C 區", 5000, "Normal"),
    ]);
    append(
        store.as_ref(),
        &format!("openticketVenue-{venue}"),
        "OpenTicketVenueCreated",
        json!({
            "venueId": venue, "seatMapId": Uuid::new_v4(), "name": "大巨蛋",
            "address": {"country": "TW", "city": "台北市", "street": "忠孝東路四段515號", "postalCode": "110"},
            "capacity": 15000, "areas": map, "createdBy": null, "createdAt": "2025-01-10T02:00:00.000Z",
        }),
    )
    .await;
    append(
        store.as_ref(),
        &format!("openticketEvent-{event}"),
        "OpenTicketEventCreated",
        json!({
            "eventId": event, "organizerId": Uuid::new_v4(), "name": "棒球經典賽", "description": "",
            "venueId": venue, "venueName": "大巨蛋",
            "sessions": [{"sessionId": session, "startTime": "2025-03-15T11:00:00.000Z",
                          "endTime": "2025-03-15T14:00:00.000Z", "saleStartTime": "2025-02-01T04:00:00.000Z",
                          "saleEndTime": "2025-03-15T10:00:00.000Z"}],
            "priceCategories": [
                {"categoryId": "AB", "name": "內野", "areaIds": ["A", "B"], "price": {"amount": "12.50", "currency": "USD"}},
            ],
            "createdAt": "2025-01-15T02:00:00.000Z",
        }),
    )
    .await;
    append(
        store.as_ref(),
        &format!("openticketSeatSession-{session}"),
        "OpenTicketSessionOpened",
        json!({"sessionId": session, "eventId": event, "venueId": venue, "saleStartTime": "2025-02-01T04:00:00.000Z",
               "saleEndTime": "2025-03-15T10:00:00.000Z", "openedAt": "2025-01-15T02:00:01.000Z"}),
    )
    .await;

    let started = Instant::now();
    catch_up(&runner).await;
    let projected = started.elapsed();

    let started = Instant::now();
    let v: VenueDetail = q.venue(venue).await.unwrap().unwrap().into();
    let seats: SessionSeats = q
        .session_seats(session, at(NOW))
        .await
        .unwrap()
        .unwrap()
        .into();
    let read = started.elapsed();

    assert_eq!(v.seat_count, 15_000);
    assert_eq!(js(&v.seat_map.areas), map);
    assert_eq!(
        js(&seats.summary),
        // Area C has no price category: its 5,000 seats are not for sale.
        json!({"total": 15000, "available": 10000, "locked": 0, "sold": 0, "notForSale": 5000})
    );
    // Area C has no price category: its seats are not for sale and carry no price.
    assert_eq!(
        js(&seats.areas[0].seats[0]),
        json!({"seatId": "A-0001", "status": "Available", "price": {"amount": 12.5, "currency": "USD"}})
    );
    assert_eq!(
        js(&seats.areas[2].seats[0]),
        json!({"seatId": "C-0001", "status": "NotForSale"})
    );
    let listed = q
        .events(&EventFilter::default(), PageRequest::default(), at(NOW))
        .await
        .unwrap();
    assert_eq!(
        listed.items[0].sessions[0].available_seats, 10_000,
        "area C is not for sale"
    );
    // Generous bounds for a debug build on a shared 2-core machine; a per-seat statement
    // (15,000 round trips) or a per-seat read would blow them.
    assert!(
        projected < Duration::from_secs(20),
        "projecting took {projected:?}"
    );
    assert!(read < Duration::from_secs(5), "reading took {read:?}");
    println!("15,000 seats: projected in {projected:?}, read in {read:?}");
}
