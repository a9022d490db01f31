//! Meeting-ticket read models (seed 000) on SQLite and PostgreSQL: events built with the domain's
//! own event types (so the stored shapes are the real ones, docs/event-catalog.md) go into the
//! event store, the meeting projectors catch up, and the tables and `MeetingQueries` must answer as
//! seed 000 shows. The stock counters must equal the `Meeting` aggregate's after every event, and a
//! rebuild from position 0 and a double application of every event must give exactly the live rows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::{Value, json};
use sqlx::Connection;
use std::collections::BTreeMap;
use std::sync::Arc;
use tessera_api::Engine;
use tessera_api::meeting::views::{MeetingView, OrderView, TicketView};
use tessera_application::{AppendRequest, EventStore, ExpectedVersion};
use tessera_domain::identity::Phone;
use tessera_domain::identity::wechat::{WechatAccountEvent, wechat_stream_id};
use tessera_domain::meeting::order::{OrderEvent, OrderItem};
use tessera_domain::meeting::ticket::{Participant, TicketEvent};
use tessera_domain::meeting::{Meeting, MeetingEvent, StockLine};
use tessera_domain::meeting::{MeetingId, MeetingOrderId, MeetingTicketId, TicketGradeId};
use tessera_domain::{Decider, DomainEvent, UserId};
use tessera_projections::ProjectionRunner;
use tessera_projections::meeting::{MeetingQueries, MeetingRow, OrderRow, TicketRow, projectors};
use tessera_tests::{Suite, TestDb, new_event, scalar_i64, stream};
use uuid::Uuid;

fn main() -> std::process::ExitCode {
    Suite::new()
        .case(
            "stock_counters_equal_the_aggregate_after_every_event",
            stock,
        )
        .case("meetings_listed_by_start_filtered_and_paged", meetings)
        .case("orders_reach_every_status_with_item_rows", orders)
        .case("tickets_show_participant_and_are_found_by_phone", tickets)
        .case("wechat_tokens_are_accepted_until_expiry", wechat_tokens)
        .case("rebuild_and_double_apply_give_the_live_rows", rebuild)
        .run()
}

// ------------------------------------------------------------------------------ the world

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// CNY `n` fen (the events store money as integer fen).
fn fen(n: i64) -> tessera_domain::shared::Money {
    tessera_domain::meeting::fen::money(n).unwrap()
}

/// `minutes` after 2025-03-01T02:00:00Z.
fn t(minutes: i64) -> DateTime<Utc> {
    at("2025-03-01T02:00:00Z") + ChronoDuration::minutes(minutes)
}

/// How seed 000 responses show `t(minutes)`: RFC 3339 UTC with milliseconds.
fn rfc(minutes: i64) -> String {
    t(minutes).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One event of the scenario, on its aggregate's stream.
enum Step {
    Meeting(MeetingId, MeetingEvent),
    Order(MeetingOrderId, OrderEvent),
    Ticket(MeetingTicketId, TicketEvent),
    Wechat(String, WechatAccountEvent),
}

impl Step {
    fn stream(&self) -> String {
        match self {
            Step::Meeting(id, _) => format!("meeting-{id}"),
            Step::Order(id, _) => format!("meetingOrder-{id}"),
            Step::Ticket(id, _) => format!("meetingTicket-{id}"),
            Step::Wechat(openid, _) => wechat_stream_id(openid),
        }
    }

    fn stored(&self) -> (String, Value) {
        match self {
            Step::Meeting(_, e) => e.to_stored(),
            Step::Order(_, e) => e.to_stored(),
            Step::Ticket(_, e) => e.to_stored(),
            Step::Wechat(_, e) => e.to_stored(),
        }
        .unwrap()
    }
}

/// Ids of everything the scenario creates.
struct World {
    engine: Engine,
    runner: ProjectionRunner,
    q: MeetingQueries,
    organizer: UserId,
    u1: UserId,
    u2: UserId,
    u3: UserId,
    m1: MeetingId,
    m2: MeetingId,
    m3: MeetingId,
    std: TicketGradeId,
    vip: TicketGradeId,
    student: TicketGradeId,
    free: TicketGradeId,
    old: TicketGradeId,
    o1: MeetingOrderId,
    o2: MeetingOrderId,
    o3: MeetingOrderId,
    o4: MeetingOrderId,
    o5: MeetingOrderId,
}

/// u3's phone: u1 gives them a ticket.
const P3: &str = "13800138000";
/// The attendee u2 names on one of their tickets.
const P_LI: &str = "13700137000";

/// WeChat Pay's client parameters for o5, as the payment request stores them.
fn wechat_info() -> Value {
    json!({
        "timeStamp": "1740797400", "nonceStr": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "package": "prepay_id=wx201410272009395522657a690389285100", "signType": "RSA",
        "paySign": "oR9d8PuhnIc+YZ8cBHFCwfgpaK9gd7vaRvkYD7rthRAZ",
    })
}

impl World {
    async fn new(db: &TestDb, batch_size: usize) -> World {
        let engine = db.engine().await;
        let runner = ProjectionRunner::new(
            engine.read_models.clone(),
            engine.events.clone(),
            projectors(),
        )
        .with_batch_size(batch_size);
        runner.prepare().await.unwrap();
        let q = MeetingQueries::new(engine.read_models.clone());
        let id = || Uuid::new_v4();
        World {
            engine,
            runner,
            q,
            organizer: UserId::from_uuid(id()),
            u1: UserId::from_uuid(id()),
            u2: UserId::from_uuid(id()),
            u3: UserId::from_uuid(id()),
            m1: MeetingId::from_uuid(id()),
            m2: MeetingId::from_uuid(id()),
            m3: MeetingId::from_uuid(id()),
            std: TicketGradeId::from_uuid(id()),
            vip: TicketGradeId::from_uuid(id()),
            student: TicketGradeId::from_uuid(id()),
            free: TicketGradeId::from_uuid(id()),
            old: TicketGradeId::from_uuid(id()),
            o1: MeetingOrderId::from_uuid(id()),
            o2: MeetingOrderId::from_uuid(id()),
            o3: MeetingOrderId::from_uuid(id()),
            o4: MeetingOrderId::from_uuid(id()),
            o5: MeetingOrderId::from_uuid(id()),
        }
    }

    /// The whole scenario, caught up in three steps in small batches, as a live runner would.
    async fn build(db: &TestDb) -> World {
        let w = World::new(db, 3).await;
        let script = w.script();
        for (i, (_, step)) in script.iter().enumerate() {
            w.append(step).await;
            if i == 10 || i == 30 {
                w.catch_up().await;
            }
        }
        w.catch_up().await;
        w
    }

    async fn append(&self, step: &Step) {
        let (event_type, data) = step.stored();
        append(
            self.engine.events.as_ref(),
            &step.stream(),
            &event_type,
            data,
        )
        .await;
    }

    async fn catch_up(&self) {
        for name in self.runner.names() {
            self.runner.catch_up(name, |_, _| {}).await.unwrap();
        }
    }

    fn ticket_id(&self, order: MeetingOrderId, grade: TicketGradeId, n: u32) -> MeetingTicketId {
        MeetingTicketId::legacy_for_order(order, grade, n)
    }

    /// Every event of the scenario in log order, each with a label the stock case checks at.
    ///
    /// m1 sells 普通票 (99.50 yuan, 10), VIP (299 yuan, 3 then 5) and 学生票 (0.01 yuan, 2):
    /// o1 (u1) is paid from its reservation; o2 (u1) is cancelled; o3 (u2) expires and is paid
    /// late with its stock taken again; o4 (u2) expires and its late payment must be refunded;
    /// o5 (u1, two lines of one grade) waits for WeChat Pay; o1 is paid a second time (refund).
    /// m2 stays a draft; m3 was on sale and is closed.
    fn script(&self) -> Vec<(&'static str, Step)> {
        use MeetingEvent as M;
        use OrderEvent as O;
        let (m1, std, vip) = (self.m1, self.std, self.vip);
        let line = |g, amount| StockLine {
            ticket_grade_id: g,
            amount,
        };
        let item = |g, name: &str, price, amount| OrderItem {
            ticket_grade_id: g,
            ticket_grade_name: name.into(),
            ticket_price: fen(price),
            ticket_amount: amount,
        };
        let meeting = |id, e| ("", Step::Meeting(id, e));
        let order = |id, e| ("", Step::Order(id, e));
        let grade = |g, name: &str, price_fen, stock, minute| M::TicketGradeAdded {
            ticket_grade_id: g,
            name: name.into(),
            price: fen(price_fen),
            stock,
            added_at: t(minute),
        };
        let placed = |user, items: Vec<OrderItem>, method: &str, minute| O::MeetingOrderPlaced {
            user_id: user,
            meeting_id: m1,
            total: fen(items
                .iter()
                .map(|i| i.ticket_price.to_minor().unwrap() * i64::from(i.ticket_amount))
                .sum()),
            items,
            payment_method_id: method.into(),
            expires_at: t(minute + 15),
            placed_at: t(minute),
        };
        let issue = |order: MeetingOrderId, g, n, owner, minute| {
            let id = self.ticket_id(order, g, n);
            (
                "",
                Step::Ticket(
                    id,
                    TicketEvent::MeetingTicketIssued {
                        ticket_id: id,
                        order_id: order,
                        meeting_id: m1,
                        ticket_grade_id: g,
                        owner_id: owner,
                        issued_at: t(minute),
                    },
                ),
            )
        };
        let mut s = vec![
            meeting(
                m1,
                M::MeetingCreated {
                    organizer_id: self.organizer,
                    title: "2025 年会".into(),
                    description: "年度大会".into(),
                    location: "上海国际会议中心".into(),
                    start_time: at("2025-04-10T01:00:00Z"),
                    end_time: at("2025-04-10T09:00:00Z"),
                    created_at: t(0),
                },
            ),
            meeting(m1, grade(std, "普通票", 9950, 10, 0)),
            meeting(m1, grade(vip, "VIP", 29900, 3, 0)),
            meeting(m1, M::SalesOpened { opened_at: t(1) }),
            meeting(
                self.m2,
                M::MeetingCreated {
                    organizer_id: self.organizer,
                    title: "技术沙龙".into(),
                    description: String::new(),
                    location: "杭州".into(),
                    start_time: at("2025-05-01T06:00:00Z"),
                    end_time: at("2025-05-01T08:00:00Z"),
                    created_at: t(2),
                },
            ),
            meeting(self.m2, grade(self.free, "免费票", 0, 100, 2)),
            meeting(
                self.m3,
                M::MeetingCreated {
                    organizer_id: self.organizer,
                    title: "新年茶话会".into(),
                    description: "已结束".into(),
                    location: "北京".into(),
                    start_time: at("2025-01-05T06:00:00Z"),
                    end_time: at("2025-01-05T08:00:00Z"),
                    created_at: t(3),
                },
            ),
            meeting(self.m3, grade(self.old, "普通票", 5000, 50, 3)),
            meeting(self.m3, M::SalesOpened { opened_at: t(3) }),
            meeting(self.m3, M::SalesClosed { closed_at: t(4) }),
            meeting(
                m1,
                M::TicketGradeChanged {
                    ticket_grade_id: vip,
                    name: "VIP 票".into(),
                    price: fen(29900),
                    stock: 5,
                    changed_at: t(5),
                },
            ),
            meeting(m1, grade(self.student, "学生票", 1, 2, 6)),
            // o1 (u1): 2 普通票 + 1 VIP.
            (
                "o1 reserved",
                Step::Meeting(
                    m1,
                    M::StockReserved {
                        order_id: self.o1,
                        lines: vec![line(std, 2), line(vip, 1)],
                        reserved_at: t(10),
                    },
                ),
            ),
            order(
                self.o1,
                placed(
                    self.u1,
                    vec![
                        item(std, "普通票", 9950, 2),
                        item(vip, "VIP 票", 29900, 1),
                    ],
                    "mock",
                    10,
                ),
            ),
            order(
                self.o1,
                O::MeetingPaymentRequested {
                    provider: "mock".into(),
                    out_trade_no: format!("MT{}", self.o1.as_uuid().simple()),
                    third_party_transaction_info: None,
                    requested_at: t(10),
                },
            ),
            // o2 (u1): 1 普通票, cancelled.
            meeting(
                m1,
                M::StockReserved {
                    order_id: self.o2,
                    lines: vec![line(std, 1)],
                    reserved_at: t(20),
                },
            ),
            order(
                self.o2,
                placed(self.u1, vec![item(std, "普通票", 9950, 1)], "mock", 20),
            ),
            order(
                self.o2,
                O::MeetingOrderCancelled {
                    cancelled_at: t(21),
                },
            ),
            meeting(
                m1,
                M::StockReleased {
                    order_id: self.o2,
                    lines: vec![line(std, 1)],
                    reason: "cancelled".into(),
                    released_at: t(21),
                },
            ),
            // o3 (u2): 3 普通票, expires.
            meeting(
                m1,
                M::StockReserved {
                    order_id: self.o3,
                    lines: vec![line(std, 3)],
                    reserved_at: t(30),
                },
            ),
            order(
                self.o3,
                placed(self.u2, vec![item(std, "普通票", 9950, 3)], "wechatpay", 30),
            ),
            order(self.o3, O::MeetingOrderExpired { expired_at: t(45) }),
            (
                "o3 released",
                Step::Meeting(
                    m1,
                    M::StockReleased {
                        order_id: self.o3,
                        lines: vec![line(std, 3)],
                        reason: "expired".into(),
                        released_at: t(45),
                    },
                ),
            ),
            // o1 is paid: its reservation is sold, its tickets issued.
            (
                "o1 sold",
                Step::Meeting(
                    m1,
                    M::StockSold {
                        order_id: self.o1,
                        lines: vec![line(std, 2), line(vip, 1)],
                        retaken: false,
                        sold_at: t(46),
                    },
                ),
            ),
            order(
                self.o1,
                O::MeetingOrderPaid {
                    transaction_id: "mock-o1".into(),
                    amount: fen(49800),
                    late: false,
                    paid_at: t(46),
                },
            ),
            issue(self.o1, std, 0, self.u1, 47),
            issue(self.o1, std, 1, self.u1, 47),
            issue(self.o1, vip, 0, self.u1, 47),
            // o3 is paid after it expired: the stock is still there and is taken again.
            (
                "o3 retaken",
                Step::Meeting(
                    m1,
                    M::StockSold {
                        order_id: self.o3,
                        lines: vec![line(std, 3)],
                        retaken: true,
                        sold_at: t(50),
                    },
                ),
            ),
            order(
                self.o3,
                O::MeetingOrderPaid {
                    transaction_id: "4200000001".into(),
                    amount: fen(29850),
                    late: true,
                    paid_at: t(50),
                },
            ),
            issue(self.o3, std, 0, self.u2, 51),
            issue(self.o3, std, 1, self.u2, 51),
            issue(self.o3, std, 2, self.u2, 51),
            // o4 (u2): 2 VIP, expires; the late payment cannot buy anything.
            meeting(
                m1,
                M::StockReserved {
                    order_id: self.o4,
                    lines: vec![line(vip, 2)],
                    reserved_at: t(52),
                },
            ),
            order(
                self.o4,
                placed(self.u2, vec![item(vip, "VIP 票", 29900, 2)], "wechatpay", 52),
            ),
            order(self.o4, O::MeetingOrderExpired { expired_at: t(67) }),
            (
                "o4 released",
                Step::Meeting(
                    m1,
                    M::StockReleased {
                        order_id: self.o4,
                        lines: vec![line(vip, 2)],
                        reason: "expired".into(),
                        released_at: t(67),
                    },
                ),
            ),
            order(
                self.o4,
                O::MeetingOrderRefundRequired {
                    transaction_id: "4200000002".into(),
                    amount: fen(59800),
                    reason: "paid after the order was cancelled or expired and its tickets were sold out".into(),
                    recorded_at: t(68),
                },
            ),
            // o5 (u1): two lines of 普通票, waiting for WeChat Pay.
            (
                "o5 reserved",
                Step::Meeting(
                    m1,
                    M::StockReserved {
                        order_id: self.o5,
                        lines: vec![line(std, 1), line(std, 1)],
                        reserved_at: t(70),
                    },
                ),
            ),
            order(
                self.o5,
                placed(
                    self.u1,
                    vec![item(std, "普通票", 9950, 1), item(std, "普通票", 9950, 1)],
                    "wechatpay",
                    70,
                ),
            ),
            order(
                self.o5,
                O::MeetingPaymentRequested {
                    provider: "wechatpay".into(),
                    out_trade_no: format!("MT{}", self.o5.as_uuid().simple()),
                    third_party_transaction_info: Some(wechat_info()),
                    requested_at: t(70),
                },
            ),
            // o1 is paid a second time: that money goes back, the order stays paid.
            order(
                self.o1,
                O::MeetingOrderRefundRequired {
                    transaction_id: "mock-o1-again".into(),
                    amount: fen(49800),
                    reason: "the order was already paid".into(),
                    recorded_at: t(72),
                },
            ),
        ];
        // Attendees: u1 gives a ticket to u3 (by phone); u2 names someone on one of theirs.
        let participant = |name: &str, phone: &str| Participant {
            name: name.into(),
            phone: Phone::parse(phone).unwrap(),
        };
        s.push((
            "",
            Step::Ticket(
                self.ticket_id(self.o1, std, 0),
                TicketEvent::ParticipantAssigned {
                    participant: participant("张三", P3),
                    assigned_by: self.u1,
                    assigned_at: t(80),
                },
            ),
        ));
        s.push((
            "",
            Step::Ticket(
                self.ticket_id(self.o3, std, 0),
                TicketEvent::ParticipantAssigned {
                    participant: participant("李四", P_LI),
                    assigned_by: self.u2,
                    assigned_at: t(81),
                },
            ),
        ));
        // WeChat tokens: A lives two hours; B expired after 30 minutes and was verified again; C
        // expired after 30 minutes.
        let verified = |openid: &str, hash: &str, from: i64, until: i64| {
            (
                "",
                Step::Wechat(
                    openid.into(),
                    WechatAccountEvent::WechatTokenVerified {
                        wechat_id: openid.into(),
                        token_hash: hash.into(),
                        verified_at: t(from),
                        expires_at: t(until),
                    },
                ),
            )
        };
        s.push(verified("o6_A", &"a".repeat(64), 0, 120));
        s.push(verified("o6_B", &"b".repeat(64), 0, 30));
        s.push(verified("o6_C", &"c".repeat(64), 0, 30));
        s.push(verified("o6_B", &"b".repeat(64), 40, 160));
        s
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

fn js<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

/// A meeting row as the HTTP layer shows it (`GET /meetings/:id`).
fn meeting_view(row: MeetingRow) -> MeetingView {
    MeetingView::from_row(row).unwrap()
}

/// An order row as the HTTP layer shows it (`GET /orders/:id`).
fn order_view(row: OrderRow) -> OrderView {
    OrderView::from_row(row).unwrap()
}

/// A grade's `(stock, held, sold)` by grade id.
type Counts = BTreeMap<Uuid, (i64, i64, i64)>;

async fn read_counts(q: &MeetingQueries, meeting: MeetingId) -> Counts {
    q.grade_counts(meeting.as_uuid())
        .await
        .unwrap()
        .into_iter()
        .map(|(id, stock, held, sold)| (id, (stock, held, sold)))
        .collect()
}

fn aggregate_counts(events: &[MeetingEvent]) -> Counts {
    Meeting::replay(events)
        .grades()
        .iter()
        .map(|(id, g)| {
            (
                id.as_uuid(),
                (i64::from(g.stock), i64::from(g.held), i64::from(g.sold)),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------- stock

async fn stock(db: Arc<TestDb>) {
    let w = World::new(&db, 500).await;
    let std = w.std.as_uuid();
    let vip = w.vip.as_uuid();
    // What 普通票 and VIP count (stock, held, sold) right after the labelled events.
    let expected: BTreeMap<&str, [(i64, i64, i64); 2]> = BTreeMap::from([
        ("o1 reserved", [(10, 2, 0), (5, 1, 0)]),
        // o1 holds 2 + 1; o2 was released; o3's 3 are released too.
        ("o3 released", [(10, 2, 0), (5, 1, 0)]),
        ("o1 sold", [(10, 0, 2), (5, 0, 1)]),
        // Taken again after its release: nothing comes off `held`.
        ("o3 retaken", [(10, 0, 5), (5, 0, 1)]),
        ("o4 released", [(10, 0, 5), (5, 0, 1)]),
        ("o5 reserved", [(10, 2, 5), (5, 0, 1)]),
    ]);
    let mut history: BTreeMap<Uuid, Vec<MeetingEvent>> = BTreeMap::new();
    let mut checked = 0;
    for (label, step) in w.script() {
        w.append(&step).await;
        let Step::Meeting(meeting, event) = step else {
            continue;
        };
        let events = history.entry(meeting.as_uuid()).or_default();
        events.push(event);
        w.runner
            .catch_up("meeting_catalog", |_, _| {})
            .await
            .unwrap();
        let read = read_counts(&w.q, meeting).await;
        assert_eq!(
            read,
            aggregate_counts(events),
            "read model and aggregate disagree after {:?}",
            events.last()
        );
        if let Some([s, v]) = expected.get(label) {
            assert_eq!((read[&std], read[&vip]), (*s, *v), "after {label}");
            checked += 1;
        }
    }
    assert_eq!(checked, expected.len(), "every labelled step was checked");

    // The grades' order of addition and their final state.
    assert_eq!(
        w.q.grade_counts(w.m1.as_uuid()).await.unwrap(),
        vec![
            (std, 10, 2, 5),
            (vip, 5, 0, 1),
            (w.student.as_uuid(), 2, 0, 0)
        ]
    );
    assert!(w.q.grade_counts(Uuid::new_v4()).await.unwrap().is_empty());

    // One hold row per order line, in the state the meeting's stream last gave it.
    let holds = |order: MeetingOrderId, state: &str| {
        let url = db.url.clone();
        let sql = format!(
            "SELECT COUNT(*) FROM mt_stock_holds WHERE order_id = '{order}' AND state = '{state}'"
        );
        async move { scalar_i64(&url, &sql).await }
    };
    assert_eq!(holds(w.o1, "sold").await, 2);
    assert_eq!(holds(w.o2, "released").await, 1);
    assert_eq!(holds(w.o3, "sold").await, 1);
    assert_eq!(holds(w.o4, "released").await, 1);
    assert_eq!(holds(w.o5, "held").await, 2);
    assert_eq!(
        scalar_i64(
            &db.url,
            "SELECT COUNT(*) FROM mt_stock_holds WHERE retaken = TRUE"
        )
        .await,
        1,
        "only o3's sale was taken again"
    );
    assert_eq!(
        scalar_i64(&db.url, "SELECT COUNT(*) FROM mt_stock_holds").await,
        7
    );
}

// ------------------------------------------------------------------------------- meetings

async fn meetings(db: Arc<TestDb>) {
    let w = World::build(&db).await;
    let m1 = meeting_view(w.q.meeting(w.m1.as_uuid()).await.unwrap().expect("m1"));
    assert_eq!(
        js(&m1),
        json!({
            "id": w.m1, "title": "2025 年会", "description": "年度大会",
            "location": "上海国际会议中心", "startTime": "2025-04-10T01:00:00.000Z",
            "endTime": "2025-04-10T09:00:00.000Z", "status": "onSale", "organizerId": w.organizer,
            "createdAt": "2025-03-01T02:00:00.000Z",
            "ticketGrades": [
                {"id": w.std, "name": "普通票", "price": 99.5, "stock": 10, "remaining": 3, "sold": 5},
                {"id": w.vip, "name": "VIP 票", "price": 299, "stock": 5, "remaining": 4, "sold": 1},
                {"id": w.student, "name": "学生票", "price": 0.01, "stock": 2, "remaining": 2, "sold": 0},
            ],
        }),
        "GET /meetings/:id shape: prices in yuan, remaining = stock − held − sold"
    );
    assert_eq!(
        serde_json::to_string(&m1.ticket_grades[0].price).unwrap(),
        "99.5"
    );
    assert!(w.q.meeting(Uuid::new_v4()).await.unwrap().is_none());

    let ids = |v: Vec<MeetingRow>| v.into_iter().map(|m| m.meeting_id).collect::<Vec<_>>();
    let (m1, m2, m3) = (w.m1.as_uuid(), w.m2.as_uuid(), w.m3.as_uuid());
    assert_eq!(
        ids(w.q.meetings(None, 1, 20).await.unwrap()),
        vec![m2, m1, m3],
        "latest start first"
    );
    assert_eq!(
        ids(w.q.meetings(Some("onSale"), 1, 20).await.unwrap()),
        vec![m1]
    );
    assert_eq!(
        ids(w.q.meetings(Some("draft"), 1, 20).await.unwrap()),
        vec![m2]
    );
    assert_eq!(
        ids(w.q.meetings(Some("closed"), 1, 20).await.unwrap()),
        vec![m3]
    );
    assert!(
        w.q.meetings(Some("已支付"), 1, 20)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(ids(w.q.meetings(None, 1, 2).await.unwrap()), vec![m2, m1]);
    assert_eq!(ids(w.q.meetings(None, 2, 2).await.unwrap()), vec![m3]);
    assert!(w.q.meetings(None, 3, 2).await.unwrap().is_empty());
    assert_eq!(
        ids(w.q.meetings(None, 0, 0).await.unwrap()),
        vec![m2],
        "page 0 is page 1; page size at least 1"
    );
    assert_eq!(w.q.meeting_count(None).await.unwrap(), 3);
    assert_eq!(w.q.meeting_count(Some("closed")).await.unwrap(), 1);

    // Each listed meeting carries its own grades.
    let listed: Vec<MeetingView> =
        w.q.meetings(None, 1, 20)
            .await
            .unwrap()
            .into_iter()
            .map(meeting_view)
            .collect();
    assert_eq!(
        js(&listed[0].ticket_grades),
        json!([{"id": w.free, "name": "免费票", "price": 0, "stock": 100, "remaining": 100, "sold": 0}])
    );
    assert_eq!(listed[0].status, "draft");
    assert_eq!(listed[0].description, "");
    assert_eq!(listed[1].ticket_grades.len(), 3);
    assert_eq!(listed[2].ticket_grades[0].id, w.old.as_uuid());
    assert_eq!(listed[2].status, "closed");
}

// --------------------------------------------------------------------------------- orders

async fn orders(db: Arc<TestDb>) {
    let w = World::build(&db).await;
    let (o1, o2, o3, o4, o5) = (
        w.o1.as_uuid(),
        w.o2.as_uuid(),
        w.o3.as_uuid(),
        w.o4.as_uuid(),
        w.o5.as_uuid(),
    );
    let status_of = |v: &[OrderRow]| {
        v.iter()
            .map(|o| (o.order_id, o.status.clone()))
            .collect::<Vec<_>>()
    };
    let mine = w.q.orders_of(w.u1.as_uuid(), None).await.unwrap();
    assert_eq!(
        status_of(&mine),
        vec![
            (o5, "待支付".to_owned()),
            (o2, "已取消".to_owned()),
            (o1, "已支付".to_owned()),
        ],
        "newest first"
    );
    let theirs = w.q.orders_of(w.u2.as_uuid(), None).await.unwrap();
    assert_eq!(
        status_of(&theirs),
        vec![(o4, "待退款".to_owned()), (o3, "已支付".to_owned())]
    );
    assert_eq!(
        status_of(&w.q.orders_of(w.u1.as_uuid(), Some("已支付")).await.unwrap()),
        vec![(o1, "已支付".to_owned())]
    );
    assert!(
        w.q.orders_of(w.u2.as_uuid(), Some("待支付"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        w.q.orders_of(w.u3.as_uuid(), None)
            .await
            .unwrap()
            .is_empty()
    );

    // The pending order, exactly as GET /orders/:id shows it.
    let std_item = json!({"ticketGradeId": w.std, "ticketGradeName": "普通票", "ticketPrice": 99.5,
                          "ticketAmount": 1, "meetingId": w.m1});
    let expected_o5 = json!({
        "id": o5, "userId": w.u1, "items": [std_item, std_item], "meetingId": w.m1,
        "paymentMethodId": "wechatpay", "duyPayment": 199, "status": "待支付",
        "expiresAt": rfc(85), "createdAt": rfc(70), "paidAt": null, "transactionId": null,
        "transaction": {"thirdPartyTransactionInfo": wechat_info()}, "refund": null,
    });
    assert_eq!(
        js(&order_view(w.q.order(o5).await.unwrap().expect("o5"))),
        expected_o5
    );
    assert_eq!(
        js(&order_view(mine[0].clone())),
        expected_o5,
        "the list shows the same body"
    );

    let o1v = js(&order_view(w.q.order(o1).await.unwrap().unwrap()));
    assert_eq!(o1v["status"], "已支付", "a second payment leaves it paid");
    assert_eq!(o1v["paidAt"], rfc(46));
    assert_eq!(o1v["transactionId"], "mock-o1");
    assert_eq!(o1v["duyPayment"], 498);
    assert_eq!(
        o1v["refund"],
        json!({"amount": 498, "reason": "the order was already paid"})
    );
    assert_eq!(
        o1v["transaction"],
        json!({"thirdPartyTransactionInfo": null})
    );
    assert_eq!(
        o1v["items"],
        json!([
            {"ticketGradeId": w.std, "ticketGradeName": "普通票", "ticketPrice": 99.5, "ticketAmount": 2, "meetingId": w.m1},
            {"ticketGradeId": w.vip, "ticketGradeName": "VIP 票", "ticketPrice": 299, "ticketAmount": 1, "meetingId": w.m1},
        ])
    );

    let o2v = order_view(w.q.order(o2).await.unwrap().unwrap());
    assert_eq!((o2v.status.as_str(), o2v.paid_at), ("已取消", None));
    assert_eq!(o2v.refund, None);

    let o3v = order_view(w.q.order(o3).await.unwrap().unwrap());
    assert_eq!(o3v.status, "已支付", "paid late, stock taken again");
    assert_eq!(o3v.paid_at, Some(t(50)));
    assert_eq!(o3v.transaction_id.as_deref(), Some("4200000001"));
    assert_eq!(js(&o3v.duy_payment), json!(298.5));

    let o4v = js(&order_view(w.q.order(o4).await.unwrap().unwrap()));
    assert_eq!(o4v["status"], "待退款");
    assert_eq!(o4v["paidAt"], Value::Null);
    assert_eq!(o4v["transactionId"], "4200000002");
    assert_eq!(o4v["refund"]["amount"], 598);
    assert!(w.q.order(Uuid::new_v4()).await.unwrap().is_none());

    // The columns the views do not show.
    let one = |sql: String| {
        let url = db.url.clone();
        async move { scalar_i64(&url, &sql).await }
    };
    assert_eq!(
        one(format!("SELECT COUNT(*) FROM mt_orders WHERE order_id = '{o3}' AND late_payment = TRUE AND expired_at IS NOT NULL")).await,
        1,
        "o3: expired, then paid late"
    );
    assert_eq!(
        one("SELECT COUNT(*) FROM mt_orders WHERE late_payment = TRUE".into()).await,
        1
    );
    assert_eq!(
        one(format!("SELECT COUNT(*) FROM mt_orders WHERE order_id = '{o2}' AND cancelled_at IS NOT NULL AND expired_at IS NULL")).await,
        1
    );
    assert_eq!(
        one(format!("SELECT COUNT(*) FROM mt_orders WHERE order_id = '{o1}' AND refund_transaction_id = 'mock-o1-again' AND provider = 'mock' AND out_trade_no = 'MT{}'", w.o1.as_uuid().simple())).await,
        1
    );
    assert_eq!(
        one("SELECT COUNT(*) FROM mt_orders WHERE third_party_transaction_info IS NOT NULL".into())
            .await,
        1
    );

    // The analysts' sales table: one row per order line.
    assert_eq!(one("SELECT COUNT(*) FROM mt_order_items".into()).await, 7);
    assert_eq!(
        one(format!(
            "SELECT COUNT(*) FROM mt_order_items WHERE order_id = '{o5}'"
        ))
        .await,
        2
    );
    assert_eq!(
        one("SELECT CAST(SUM(i.ticket_price_fen * i.ticket_amount) AS BIGINT) FROM mt_order_items i \
             JOIN mt_orders o ON o.order_id = i.order_id WHERE o.status = '已支付'"
            .into())
        .await,
        49800 + 29850,
        "revenue in fen as the documented analyst query computes it"
    );
    assert_eq!(
        one("SELECT CAST(SUM(total_fen) AS BIGINT) FROM mt_orders".into()).await,
        49800 + 9950 + 29850 + 59800 + 19900
    );
}

// -------------------------------------------------------------------------------- tickets

async fn tickets(db: Arc<TestDb>) {
    let w = World::build(&db).await;
    let tid = |o, g, n| w.ticket_id(o, g, n).as_uuid();
    let t1 = tid(w.o1, w.std, 0);
    let t2 = tid(w.o1, w.std, 1);
    let t3 = tid(w.o1, w.vip, 0);
    let t4 = tid(w.o3, w.std, 0);
    let t5 = tid(w.o3, w.std, 1);
    let t6 = tid(w.o3, w.std, 2);

    let given = js(&TicketView::from_row(
        w.q.ticket(t1).await.unwrap().expect("t1"),
    ));
    assert_eq!(
        given,
        json!({
            "id": t1, "orderId": w.o1, "meetingId": w.m1, "ticketGradeId": w.std,
            "ticketGradeName": "普通票", "ownerId": w.u1,
            "participant": {"name": "张三", "phone": P3},
            "issuedAt": rfc(47), "claimedAt": rfc(80),
        }),
        "GET /tickets/:id shape"
    );
    let free = js(&TicketView::from_row(
        w.q.ticket(t3).await.unwrap().unwrap(),
    ));
    assert_eq!(free["participant"], Value::Null);
    assert_eq!(free["claimedAt"], Value::Null);
    assert_eq!(free["ticketGradeName"], "VIP 票");
    assert!(w.q.ticket(Uuid::new_v4()).await.unwrap().is_none());

    let ids = |v: Vec<TicketRow>| v.into_iter().map(|t| t.ticket_id).collect::<Vec<_>>();
    // Same issue time: ties by id.
    let sorted = |mut v: Vec<Uuid>| {
        v.sort();
        v
    };
    let u1_phone = "13900139000";
    assert_eq!(
        ids(w
            .q
            .tickets_of(w.u1.as_uuid(), Some(u1_phone))
            .await
            .unwrap()),
        sorted(vec![t1, t2, t3]),
        "the tickets u1 bought, including the one given to u3"
    );
    assert_eq!(
        ids(w.q.tickets_of(w.u3.as_uuid(), Some(P3)).await.unwrap()),
        vec![t1],
        "u3 finds the ticket given to their phone"
    );
    assert!(
        w.q.tickets_of(w.u3.as_uuid(), None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(w.q.tickets_of(w.u2.as_uuid(), Some(P_LI)).await.unwrap()),
        sorted(vec![t4, t5, t6]),
        "owned and named by phone: listed once"
    );
    let all_u2 = w.q.tickets_of(w.u2.as_uuid(), None).await.unwrap();
    assert_eq!(all_u2.len(), 3);
    // Newest first across issue times.
    let everyone = {
        let mut v = w.q.tickets_of(w.u1.as_uuid(), Some(P_LI)).await.unwrap();
        v.truncate(1);
        ids(v)
    };
    assert_eq!(everyone, vec![t4], "u2's tickets were issued after u1's");

    // A second assignment (a replayed duplicate) does not move the first attendee.
    let again = Step::Ticket(
        w.ticket_id(w.o1, w.std, 0),
        TicketEvent::ParticipantAssigned {
            participant: Participant {
                name: "王五".into(),
                phone: Phone::parse("13600136000").unwrap(),
            },
            assigned_by: w.u1,
            assigned_at: t(90),
        },
    );
    w.append(&again).await;
    // Renaming a grade renames it on tickets (joined at query time), not on ordered items.
    w.append(&Step::Meeting(
        w.m1,
        MeetingEvent::TicketGradeChanged {
            ticket_grade_id: w.std,
            name: "普通票（早鸟）".into(),
            price: fen(9950),
            stock: 10,
            changed_at: t(91),
        },
    ))
    .await;
    w.catch_up().await;
    let after = TicketView::from_row(w.q.ticket(t1).await.unwrap().unwrap());
    assert_eq!(js(&after.participant), json!({"name": "张三", "phone": P3}));
    assert_eq!(after.claimed_at, Some(t(80)));
    assert_eq!(after.ticket_grade_name, "普通票（早鸟）");
    assert_eq!(
        w.q.order(w.o1.as_uuid()).await.unwrap().unwrap().items[0].ticket_grade_name,
        "普通票"
    );
}

// --------------------------------------------------------------------------------- WeChat

async fn wechat_tokens(db: Arc<TestDb>) {
    let w = World::build(&db).await;
    let (a, b, c) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
    let ask = |hash: &str, minute: i64| {
        let q = w.q.clone();
        let hash = hash.to_owned();
        async move { q.wechat_id_for_token(&hash, t(minute)).await.unwrap() }
    };
    assert_eq!(ask(&a, 0).await.as_deref(), Some("o6_A"));
    assert_eq!(ask(&a, 119).await.as_deref(), Some("o6_A"));
    assert_eq!(ask(&a, 120).await, None, "over at its expiry instant");
    assert_eq!(ask(&c, 29).await.as_deref(), Some("o6_C"));
    assert_eq!(ask(&c, 45).await, None, "expired and not verified again");
    assert_eq!(
        ask(&b, 100).await.as_deref(),
        Some("o6_B"),
        "verified again after it expired"
    );
    assert_eq!(ask(&b, 160).await, None);
    assert_eq!(ask(&"d".repeat(64), 0).await, None, "never verified");
    assert_eq!(
        scalar_i64(&db.url, "SELECT COUNT(*) FROM mt_wechat_tokens").await,
        3,
        "one row per token digest"
    );
}

// -------------------------------------------------------------------------------- rebuild

const TABLES: &[&str] = &[
    "mt_meetings",
    "mt_ticket_grades",
    "mt_stock_holds",
    "mt_orders",
    "mt_order_items",
    "mt_tickets",
    "mt_wechat_tokens",
];

/// Every row of every meeting table as text, sorted.
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
    assert_eq!(sizes, vec![3, 5, 7, 5, 7, 6, 3], "rows per table");

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

    // A bad event stalls its projection with a clear error instead of being skipped.
    append(
        w.engine.events.as_ref(),
        &format!("meeting-{}", Uuid::new_v4()),
        "MeetingStockReserved",
        json!({"orderId": "nope", "lines": [], "reservedAt": rfc(0)}),
    )
    .await;
    let err = w
        .runner
        .catch_up("meeting_catalog", |_, _| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("MeetingStockReserved"), "{err}");
}
