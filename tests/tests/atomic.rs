//! Commands that change several aggregates are atomic even when the server dies mid-command
//! (issue 10, docs/decisions/0009-multi-stream-append.md), on SQLite and PostgreSQL.
//!
//! The crash cases re-run their own executable as a child process that serves Tessera and drives
//! buyers through lock → order → cancel over real HTTP, kill it with SIGKILL while orders are being
//! placed (or cancelled), and then read the event store: every unpaid order holds its seats, no
//! seat is held for an order that is missing or not unpaid, and the hash chain is intact. A
//! registration whose user cannot be written must not leave its email claim behind either.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration as ChronoDuration, FixedOffset, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use tessera_api::{Config, RunningServer};
use tessera_application::command::load;
use tessera_application::identity::{IdentityError, IdentityService};
use tessera_application::{
    AppendOutcome, AppendRequest, EventStore, RecordedEvent, StoreError, StreamId, SystemClock,
};
use tessera_domain::Decider;
use tessera_domain::identity::{Email, User, email_stream_id};
use tessera_domain::openticket::order::{Order, OrderStatus};
use tessera_domain::openticket::seat_session::{Hold, SeatSession};
use tessera_infrastructure::audit::verify;
use tessera_infrastructure::identity::auth::{
    Argon2PasswordHasher, JwtAccessTokens, RandomSecrets,
};
use tessera_tests::http::{TestServer, server_config};
use tessera_tests::{Suite, TestDb};

/// Set in the child process: the database URL it serves.
const CHILD_URL: &str = "TESSERA_ATOMIC_CHILD_URL";
/// The child's data folder (empty: the SQLite file's folder).
const CHILD_DATA: &str = "TESSERA_ATOMIC_CHILD_DATA";
/// The session the buyers order from.
const CHILD_SESSION: &str = "TESSERA_ATOMIC_CHILD_SESSION";
/// The buyers' access tokens, comma-separated.
const CHILD_TOKENS: &str = "TESSERA_ATOMIC_CHILD_TOKENS";

/// Buyers in the child, each with two seats of its own (so their commands never refuse each other).
const BUYERS: usize = 6;
/// Full lock → order → cancel rounds of every buyer before the round with the kill.
const ROUNDS_BEFORE_KILL: usize = 3;

/// Which multi-stream command the kill interrupts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `POST /v1/orders`: seat hold + order.
    Placing,
    /// `DELETE /v1/orders/{id}`: order cancelled + seats released.
    Cancelling,
}

fn main() -> std::process::ExitCode {
    if std::env::var_os(CHILD_URL).is_some() {
        return child();
    }
    Suite::new()
        .case("server_killed_while_placing_orders", |db| {
            killed_server(db, Phase::Placing)
        })
        .case("server_killed_while_cancelling_orders", |db| {
            killed_server(db, Phase::Cancelling)
        })
        .case(
            "failed_registration_leaves_no_email_claim",
            failed_registration,
        )
        .run()
}

fn seats_of(buyer: usize) -> [String; 2] {
    [
        format!("A-{:03}", 2 * buyer + 1),
        format!("A-{:03}", 2 * buyer + 2),
    ]
}

/// The child: serve the database and run every buyer's lock → order → cancel loop until killed,
/// printing one line per order placed or cancelled.
fn child() -> std::process::ExitCode {
    let var = |name| std::env::var(name).unwrap_or_default();
    let data = var(CHILD_DATA);
    let config = Config {
        database_url: var(CHILD_URL),
        data_dir: (!data.is_empty()).then(|| data.into()),
        database_max_connections: 20,
        log: "error".into(),
        log_format: "text".into(),
    };
    let session = var(CHILD_SESSION);
    let tokens: Vec<String> = var(CHILD_TOKENS).split(',').map(str::to_owned).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let server = RunningServer::start(&config, server_config())
            .await
            .expect("child server starts");
        let t = Arc::new(TestServer {
            base: format!("http://{}", server.addr),
            server,
            http: reqwest::Client::new(),
        });
        let mut buyers = tokio::task::JoinSet::new();
        for (i, token) in tokens.into_iter().enumerate() {
            let (t, session) = (t.clone(), session.clone());
            buyers.spawn(async move {
                let seats = seats_of(i);
                loop {
                    let r = t
                        .post(
                            &format!("/v1/sessions/{session}/seats/lock"),
                            Some(&token),
                            json!({ "seatIds": seats }),
                        )
                        .await;
                    assert!(r.status.is_success(), "lock: {:?}", r.body);
                    println!("locked {i}");
                    let r = t
                        .post(
                            "/v1/orders",
                            Some(&token),
                            json!({"sessionId": session, "seatIds": seats, "paymentProvider": "Mock"}),
                        )
                        .await;
                    assert_eq!(r.status, 201, "order: {:?}", r.body);
                    println!("placed {i}");
                    let order = r.data()["orderId"].as_str().unwrap().to_owned();
                    let r = t
                        .delete(&format!("/v1/orders/{order}"), Some(&token), None)
                        .await;
                    assert_eq!(r.status, 200, "cancel: {:?}", r.body);
                    println!("cancelled {i}");
                }
            });
        }
        // Runs until killed; a buyer that stops is a failure the parent sees as early EOF.
        if let Some(Err(e)) = buyers.join_next().await {
            eprintln!("buyer failed: {e}");
        }
    });
    std::process::ExitCode::FAILURE
}

fn venue_body() -> Value {
    let seats: Vec<Value> = (1..=2 * BUYERS)
        .map(|i| {
            json!({"seatId": format!("A-{i:03}"), "row": "1", "number": i, "x": 10 * i, "y": 0,
                   "type": "Normal"})
        })
        .collect();
    json!({
        "name": "Legacy Hall",
        "address": {"country": "TW", "city": "台北市", "street": "1 Main St", "postalCode": "100"},
        "capacity": 2 * BUYERS,
        "seatMap": {"areas": [{"areaId": "A", "name": "A 區", "seats": seats}]},
    })
}

fn event_body(venue_id: &str) -> Value {
    let tz = FixedOffset::east_opt(8 * 3600).unwrap();
    let now = Utc::now().with_timezone(&tz);
    let t = |d: ChronoDuration| (now + d).to_rfc3339();
    json!({
        "name": "Crash Night",
        "venueId": venue_id,
        "sessions": [{
            "startTime": t(ChronoDuration::days(2)),
            "endTime": t(ChronoDuration::days(2) + ChronoDuration::hours(3)),
            "saleStartTime": t(-ChronoDuration::hours(1)),
            "saleEndTime": t(ChronoDuration::days(1)),
        }],
        "priceCategories": [
            {"categoryId": "A", "name": "A 區", "areaIds": ["A"], "price": {"amount": 1000, "currency": "TWD"}},
        ],
    })
}

async fn killed_server(db: Arc<TestDb>, phase: Phase) {
    // Arrange: a session on sale and six buyers, written by a server that then stops.
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let (_, organizer) = t
        .with_role(&admin, "organizer@tessera.test", "organizer")
        .await;
    let r = t.post("/v1/venues", Some(&admin), venue_body()).await;
    assert_eq!(r.status, 201, "venue: {:?}", r.body);
    let venue_id = r.data()["venueId"].as_str().unwrap().to_owned();
    let r = t
        .post("/v1/events", Some(&organizer), event_body(&venue_id))
        .await;
    assert_eq!(r.status, 201, "event: {:?}", r.body);
    let session_id = r.data()["sessions"][0]["sessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut tokens = Vec::new();
    for i in 0..BUYERS {
        tokens.push(t.customer(&format!("buyer{i}@tessera.test")).await.1);
    }
    t.stop().await;

    // Act: a child process serves the same database under load. The buyers move in step (each
    // waits for its read models), so once every buyer has answered the step before `phase`, all of
    // them are about to commit `phase`'s command: the child is killed as soon as the first of those
    // commits shows in the log, while the others are in flight.
    let (_db, stores) = db.stores().await;
    let store = stores.events.clone();
    let config = db.config();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(CHILD_URL, &config.database_url)
        .env(
            CHILD_DATA,
            config
                .data_dir
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
        )
        .env(CHILD_SESSION, &session_id)
        .env(CHILD_TOKENS, tokens.join(","))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the child server");
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let trigger = match phase {
        Phase::Placing => "locked",
        Phase::Cancelling => "placed",
    };
    let mut seen = 0;
    while seen < BUYERS * (ROUNDS_BEFORE_KILL + 1) {
        let line = lines
            .recv()
            .await
            .expect("the child stopped early (see its stderr)");
        if line.starts_with(trigger) {
            seen += 1;
        }
    }
    let before = store.head_position().await.unwrap();
    while store.head_position().await.unwrap() == before {
        tokio::task::yield_now().await;
    }
    // SIGKILL: no destructor, no graceful shutdown, transactions cut wherever they are.
    child.kill().unwrap();
    child.wait().unwrap();

    // Assert: no half-applied command.
    let session_stream =
        StreamId::parse(format!("{}-{session_id}", SeatSession::CATEGORY)).unwrap();
    let (session, _) = load::<SeatSession>(store.as_ref(), &session_stream)
        .await
        .unwrap();
    let orders = orders(store.as_ref()).await;
    let mut by_status: HashMap<String, usize> = HashMap::new();
    for (order_id, order) in &orders {
        let status = order.status.expect("a placed order has a status");
        *by_status.entry(format!("{status:?}")).or_default() += 1;
        let data = order.data.as_ref().unwrap();
        for item in &data.items {
            let held_by_it = matches!(
                session.seats.get(&item.seat_id),
                Some(Hold::HeldForOrder { order_id: held, .. }) if held == &data.order_id
            );
            match status {
                OrderStatus::Created => assert!(
                    held_by_it,
                    "unpaid order {order_id} does not hold its seat {}: {:?}",
                    item.seat_id,
                    session.seats.get(&item.seat_id)
                ),
                _ => assert!(
                    !held_by_it,
                    "{status:?} order {order_id} still holds seat {}",
                    item.seat_id
                ),
            }
        }
    }
    for (seat, hold) in &session.seats {
        if let Hold::HeldForOrder { order_id, .. } = hold {
            let order = orders.get(&order_id.to_string());
            assert!(
                order.is_some_and(|o| o.status == Some(OrderStatus::Created)),
                "seat {seat} is held for order {order_id}, which is {:?}",
                order.map(|o| o.status)
            );
        }
    }
    assert!(
        by_status.get("Cancelled").copied().unwrap_or(0) >= BUYERS * ROUNDS_BEFORE_KILL,
        "the load ran: {by_status:?}"
    );
    let report = verify(stores.audit.as_ref(), |_| {}).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    println!("{phase:?}: orders after the kill: {by_status:?}");
}

/// Every order in the log, by id, replayed from its stream.
async fn orders(store: &dyn EventStore) -> HashMap<String, Order> {
    let mut streams = Vec::new();
    let mut after = 0;
    loop {
        let batch = store.read_all(after, 1_000).await.unwrap();
        let Some(last) = batch.last() else { break };
        after = last.global_position;
        for e in batch {
            if e.stream_id.category() == Order::CATEGORY && e.stream_version == 1 {
                streams.push(e.stream_id);
            }
        }
    }
    let mut out = HashMap::new();
    for stream in streams {
        let (order, _) = load::<Order>(store, &stream).await.unwrap();
        let id = stream.as_str().split_once('-').unwrap().1.to_owned();
        out.insert(id, order);
    }
    out
}

/// The SQL store, refusing (as an unavailable database would) every commit that writes a user
/// stream.
struct UserWritesFail(Arc<dyn EventStore>);

#[async_trait::async_trait]
impl EventStore for UserWritesFail {
    async fn append_streams(
        &self,
        requests: Vec<AppendRequest>,
    ) -> Result<Vec<AppendOutcome>, StoreError> {
        if requests
            .iter()
            .any(|r| r.stream_id.category() == User::CATEGORY)
        {
            return Err(StoreError::Unavailable("injected failure".into()));
        }
        self.0.append_streams(requests).await
    }
    async fn read_stream(
        &self,
        stream_id: &StreamId,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.0.read_stream(stream_id, from_version, max_count).await
    }
    async fn read_all(
        &self,
        after: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.0.read_all(after, max_count).await
    }
    async fn head_position(&self) -> Result<u64, StoreError> {
        self.0.head_position().await
    }
    async fn stream_version(&self, stream_id: &StreamId) -> Result<u64, StoreError> {
        self.0.stream_version(stream_id).await
    }
    async fn wait_for_append(
        &self,
        after: u64,
        max_wait: std::time::Duration,
    ) -> Result<(), StoreError> {
        self.0.wait_for_append(after, max_wait).await
    }
}

fn identity(store: Arc<dyn EventStore>) -> IdentityService {
    IdentityService::new(
        store,
        Arc::new(SystemClock),
        Arc::new(Argon2PasswordHasher::with_params(1024, 1, 1).unwrap()),
        Arc::new(JwtAccessTokens::new(b"test-jwt-secret-of-at-least-32-bytes!!").unwrap()),
        Arc::new(RandomSecrets),
    )
}

/// Email registration claims the address and writes the user in one commit: when the user's part
/// cannot be written, the address is not claimed either, and the same registration succeeds later.
async fn failed_registration(db: Arc<TestDb>) {
    let (_db, stores) = db.stores().await;
    let failing = identity(Arc::new(UserWritesFail(stores.events.clone())));
    let refused = failing
        .register("ada@example.com", "correct horse battery", None)
        .await;
    assert!(
        matches!(
            refused,
            Err(IdentityError::Store(StoreError::Unavailable(_)))
        ),
        "{refused:?}"
    );
    let claim =
        StreamId::parse(email_stream_id(&Email::parse("ada@example.com").unwrap())).unwrap();
    assert_eq!(
        stores.events.stream_version(&claim).await.unwrap(),
        0,
        "no claim without its user"
    );
    assert_eq!(stores.events.head_position().await.unwrap(), 0);

    let user = identity(stores.events.clone())
        .register("ada@example.com", "correct horse battery", None)
        .await
        .unwrap();
    assert_eq!(
        user.email.as_ref().map(Email::as_str),
        Some("ada@example.com")
    );
    assert_eq!(stores.events.stream_version(&claim).await.unwrap(), 1);
}
