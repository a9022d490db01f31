//! Given/when/then tests of the meeting-ticket use cases over the in-memory event store and a
//! steerable clock: given a history, when a use case runs, then these events were stored (or this
//! typed refusal came back).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::deadlines::DeadlineScheduler;
use crate::event_store::{EventMetadata, StreamId};
use crate::in_memory::InMemoryEventStore;
use crate::process::ProcessManager;
use std::sync::Mutex;
use tessera_domain::UserId;
use tessera_domain::identity::Phone;
use tessera_domain::meeting::order::{OrderEvent, OrderStatus};
use tessera_domain::meeting::ticket::{Participant, TicketError, TicketEvent};
use tessera_domain::meeting::{MeetingError, MeetingEvent, TicketGradeId, fen};
use tessera_domain::shared::Money;
use uuid::Uuid;

/// A clock that stands still until a test moves it.
struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn start() -> DateTime<Utc> {
    "2027-01-15T08:00:00Z".parse().unwrap()
}

fn yuan(n: i64) -> Money {
    fen::money(n * 100).unwrap()
}

const ORGANIZER: u128 = 1;
const MEETING: u128 = 10;
/// The grade of stock 2 the buyers race for, at 99 yuan.
const SCARCE: u128 = 20;
/// A grade with plenty of stock, at 10 yuan.
const PLENTY: u128 = 21;

fn user(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(n))
}
fn meeting_id() -> MeetingId {
    MeetingId::from_uuid(Uuid::from_u128(MEETING))
}
fn grade(n: u128) -> TicketGradeId {
    TicketGradeId::from_uuid(Uuid::from_u128(n))
}
fn meeting_stream() -> StreamId {
    CommandRunner::stream::<Meeting>(meeting_id()).unwrap()
}

struct World {
    store: Arc<InMemoryEventStore>,
    clock: Arc<TestClock>,
    service: Arc<MeetingService>,
}

/// Given: a meeting on sale with grade [`SCARCE`] (stock 2, 99 yuan) and [`PLENTY`] (stock 100,
/// 10 yuan); Mock payments offered, no WeChat Pay, orders expire after 15 minutes.
fn given_a_meeting_on_sale() -> World {
    let store = Arc::new(InMemoryEventStore::new());
    let at = start();
    let added = |id, name: &str, price, stock| MeetingEvent::TicketGradeAdded {
        ticket_grade_id: grade(id),
        name: name.into(),
        price,
        stock,
        added_at: at,
    };
    store
        .given::<Meeting>(
            &meeting_stream(),
            &[
                MeetingEvent::MeetingCreated {
                    organizer_id: user(ORGANIZER),
                    title: "年会".into(),
                    description: String::new(),
                    location: "上海".into(),
                    start_time: at + Duration::days(30),
                    end_time: at + Duration::days(31),
                    created_at: at,
                },
                added(SCARCE, "VIP", yuan(99), 2),
                added(PLENTY, "普通票", yuan(10), 100),
                MeetingEvent::SalesOpened { opened_at: at },
            ],
        )
        .unwrap();
    let clock = Arc::new(TestClock(Mutex::new(at)));
    let service = Arc::new(MeetingService::new(
        store.clone(),
        clock.clone(),
        None,
        MeetingSettings::default(),
    ));
    World {
        store,
        clock,
        service,
    }
}

fn line(g: u128, price: Money, amount: u32) -> OrderLineInput {
    OrderLineInput {
        ticket_grade_id: grade(g),
        ticket_price: price,
        ticket_amount: amount,
    }
}

fn mock_order(lines: Vec<OrderLineInput>) -> NewOrder {
    NewOrder {
        meeting_id: meeting_id(),
        payment_method_id: MOCK_PAY.into(),
        lines,
        payer_openid: None,
    }
}

fn meta() -> EventMetadata {
    EventMetadata::default()
}

impl World {
    fn meeting_events(&self) -> Vec<MeetingEvent> {
        self.store.events::<Meeting>(&meeting_stream())
    }

    fn order_events(&self, id: MeetingOrderId) -> Vec<OrderEvent> {
        self.store
            .events::<MeetingOrder>(&CommandRunner::stream::<MeetingOrder>(id).unwrap())
    }

    fn event_types(&self, event_type: &str) -> usize {
        self.store
            .all_events()
            .iter()
            .filter(|e| e.event_type == event_type)
            .count()
    }

    async fn remaining(&self, g: u128) -> u32 {
        let meeting = self.service.meeting(meeting_id()).await.unwrap();
        meeting.grade(grade(g)).unwrap().remaining()
    }
}

#[tokio::test]
async fn given_stock_of_two_when_three_buyers_race_then_two_orders_and_one_no_stock_naming_the_line()
 {
    let w = given_a_meeting_on_sale();
    // Each buyer: one 普通票 (line 0) and one VIP (line 1, the scarce grade).
    let place = |buyer: u128| {
        let service = w.service.clone();
        async move {
            let order = mock_order(vec![line(PLENTY, yuan(10), 1), line(SCARCE, yuan(99), 1)]);
            service.place_order(user(buyer), order, &meta()).await
        }
    };
    let (a, b, c) = tokio::join!(place(101), place(102), place(103));
    let results = [a, b, c];

    let placed: Vec<MeetingOrderId> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|(id, _)| *id))
        .collect();
    assert_eq!(placed.len(), 2, "{results:?}");
    let refusals: Vec<&MeetingServiceError> =
        results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        matches!(
            refusals.as_slice(),
            [MeetingServiceError::Meeting(MeetingError::NoStock { remaining })]
                if remaining == &vec![98, 0]
        ),
        "the refusal names line 1 (its grade has 0 left): {refusals:?}"
    );

    let reserved = w
        .meeting_events()
        .into_iter()
        .filter(|e| matches!(e, MeetingEvent::StockReserved { .. }))
        .count();
    assert_eq!(reserved, 2);
    assert_eq!(w.event_types("MeetingOrderPlaced"), 2);
    assert_eq!(w.remaining(SCARCE).await, 0);
    for id in placed {
        assert!(matches!(
            w.order_events(id).as_slice(),
            [OrderEvent::MeetingOrderPlaced { total, .. }, OrderEvent::MeetingPaymentRequested { .. }]
                if *total == yuan(109)
        ));
    }
}

#[tokio::test]
async fn given_an_unpaid_order_when_it_is_cancelled_then_its_stock_returns() {
    let w = given_a_meeting_on_sale();
    let buyer = user(101);
    let (order_id, _) = w
        .service
        .place_order(buyer, mock_order(vec![line(SCARCE, yuan(99), 2)]), &meta())
        .await
        .unwrap();
    assert_eq!(w.remaining(SCARCE).await, 0);

    w.service
        .cancel_order(buyer, &[], order_id, &meta())
        .await
        .unwrap();

    assert!(matches!(
        w.meeting_events().last(),
        Some(MeetingEvent::StockReleased { order_id: o, reason, .. })
            if *o == order_id && reason == "cancelled"
    ));
    assert!(matches!(
        w.order_events(order_id).last(),
        Some(OrderEvent::MeetingOrderCancelled { .. })
    ));
    assert_eq!(w.remaining(SCARCE).await, 2);
    // The returned stock sells again.
    let again = w
        .service
        .place_order(
            user(102),
            mock_order(vec![line(SCARCE, yuan(99), 2)]),
            &meta(),
        )
        .await;
    assert!(again.is_ok(), "{again:?}");
}

#[tokio::test]
async fn given_an_unpaid_order_when_its_deadline_fires_then_it_expires_and_its_stock_returns() {
    let w = given_a_meeting_on_sale();
    let (order_id, _) = w
        .service
        .place_order(
            user(101),
            mock_order(vec![line(SCARCE, yuan(99), 1)]),
            &meta(),
        )
        .await
        .unwrap();
    let mut scheduler = DeadlineScheduler::new(w.store.clone());
    scheduler.register(
        MEETING_ORDER_EXPIRY,
        Arc::new(MeetingOrderExpiry(w.service.clone())),
    );

    w.clock.advance(Duration::minutes(15));
    scheduler.fire_due(w.clock.now()).await.unwrap();

    assert_eq!(w.remaining(SCARCE).await, 2);
    assert_eq!(
        w.service.order(order_id).await.unwrap().status(),
        Some(OrderStatus::Expired)
    );
}

#[tokio::test]
async fn given_a_paid_order_when_the_issuing_process_manager_runs_then_one_ticket_per_unit() {
    let w = given_a_meeting_on_sale();
    let buyer = user(101);
    let (order_id, _) = w
        .service
        .place_order(
            buyer,
            mock_order(vec![line(SCARCE, yuan(99), 2), line(PLENTY, yuan(10), 3)]),
            &meta(),
        )
        .await
        .unwrap();
    w.service
        .confirm_client_payment(buyer, &[], order_id, "mock_1", &meta())
        .await
        .unwrap();
    let paid = w
        .store
        .all_events()
        .into_iter()
        .find(|e| e.event_type == "MeetingOrderPaid")
        .expect("the order is paid");
    let issuing = MeetingTicketIssuing(w.service.clone());

    issuing.handle(&paid).await.unwrap();
    // At least once: a repeated delivery issues nothing new.
    issuing.handle(&paid).await.unwrap();

    assert_eq!(w.event_types("MeetingTicketIssued"), 5);
    assert_eq!(w.event_types("MeetingTicketsAllocated"), 1);
    let order = w.service.order(order_id).await.unwrap();
    let tickets = order.tickets().expect("the order recorded its tickets");
    for (g, units) in [(SCARCE, 2), (PLENTY, 3)] {
        let of_grade: Vec<_> = tickets
            .iter()
            .filter(|t| t.ticket_grade_id == grade(g))
            .collect();
        assert_eq!(of_grade.len(), units);
        for t in of_grade {
            // Random, not derived from the order.
            assert_eq!(t.ticket_id.as_uuid().get_version_num(), 4);
            let stream = CommandRunner::stream::<MeetingTicket>(t.ticket_id).unwrap();
            assert!(matches!(
                w.store.events::<MeetingTicket>(&stream).as_slice(),
                [TicketEvent::MeetingTicketIssued { owner_id, ticket_grade_id, .. }]
                    if *owner_id == buyer && *ticket_grade_id == grade(g)
            ));
        }
    }
}

#[tokio::test]
async fn given_tickets_issued_under_v5_ids_when_issuing_runs_again_then_they_keep_their_ids() {
    let w = given_a_meeting_on_sale();
    let buyer = user(101);
    let (order_id, _) = w
        .service
        .place_order(buyer, mock_order(vec![line(PLENTY, yuan(10), 2)]), &meta())
        .await
        .unwrap();
    w.service
        .confirm_client_payment(buyer, &[], order_id, "mock_1", &meta())
        .await
        .unwrap();
    // History from before random ids: both tickets issued under their v5 ids, no allocation.
    for n in 0..2 {
        let ticket_id = MeetingTicketId::legacy_for_order(order_id, grade(PLENTY), n);
        w.store
            .given::<MeetingTicket>(
                &CommandRunner::stream::<MeetingTicket>(ticket_id).unwrap(),
                &[TicketEvent::MeetingTicketIssued {
                    ticket_id,
                    order_id,
                    meeting_id: meeting_id(),
                    ticket_grade_id: grade(PLENTY),
                    owner_id: buyer,
                    issued_at: start(),
                }],
            )
            .unwrap();
    }

    w.service.issue_tickets(order_id, &meta()).await.unwrap();

    assert_eq!(w.event_types("MeetingTicketIssued"), 2, "no second set");
    let order = w.service.order(order_id).await.unwrap();
    let ids: Vec<_> = order
        .tickets()
        .unwrap()
        .iter()
        .map(|t| t.ticket_id)
        .collect();
    assert_eq!(
        ids,
        vec![
            MeetingTicketId::legacy_for_order(order_id, grade(PLENTY), 0),
            MeetingTicketId::legacy_for_order(order_id, grade(PLENTY), 1),
        ]
    );
}

#[tokio::test]
async fn given_a_claimed_ticket_when_another_person_claims_it_then_already_taken() {
    let w = given_a_meeting_on_sale();
    let order_id = MeetingOrderId::from_uuid(Uuid::from_u128(30));
    let ticket_id = MeetingTicketId::from_uuid(Uuid::new_v4());
    let ticket_stream = CommandRunner::stream::<MeetingTicket>(ticket_id).unwrap();
    w.store
        .given::<MeetingTicket>(
            &ticket_stream,
            &[TicketEvent::MeetingTicketIssued {
                ticket_id,
                order_id,
                meeting_id: meeting_id(),
                ticket_grade_id: grade(SCARCE),
                owner_id: user(101),
                issued_at: start(),
            }],
        )
        .unwrap();
    let person = |name: &str, phone: &str| Participant {
        name: name.into(),
        phone: Phone::parse(phone).unwrap(),
    };
    let first = person("张三", "13800000001");
    // Someone who is not the buyer is refused before anything is written.
    let stranger = w
        .service
        .claim_ticket(user(102), &[], ticket_id, first.clone(), &meta())
        .await;
    assert!(
        matches!(
            stranger,
            Err(MeetingServiceError::Ticket(TicketError::NotBuyer))
        ),
        "{stranger:?}"
    );
    assert_eq!(w.event_types("IdentifierClaimed"), 0);
    w.service
        .claim_ticket(user(101), &[], ticket_id, first.clone(), &meta())
        .await
        .unwrap();
    // The same attendee again changes nothing.
    let (_, position) = w
        .service
        .claim_ticket(user(101), &[], ticket_id, first.clone(), &meta())
        .await
        .unwrap();
    assert_eq!(position, None);

    let second = w
        .service
        .claim_ticket(
            user(102),
            &[Role::Admin],
            ticket_id,
            person("李四", "13800000002"),
            &meta(),
        )
        .await;

    assert!(
        matches!(
            second,
            Err(MeetingServiceError::Ticket(TicketError::AlreadyTaken))
        ),
        "{second:?}"
    );
    assert!(matches!(
        w.store.events::<MeetingTicket>(&ticket_stream).as_slice(),
        [TicketEvent::MeetingTicketIssued { .. }, TicketEvent::ParticipantAssigned { participant, .. }]
            if *participant == first
    ));
}
