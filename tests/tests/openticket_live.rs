//! Live seat status (seed 003 §8) end to end, on SQLite and PostgreSQL: the official npm client
//! `@microsoft/signalr` (tests/node, run by Node.js) against `/hubs/tickets` over WebSockets,
//! Server-Sent Events and Long Polling; `SeatStatusChanged` for locks, releases, expiries, sales
//! and cancellations; `OrderStatusChanged` only to the buyer; completions with errors; reconnection
//! after a server restart; two servers on one database; and the Server-Sent Events seat stream
//! resuming with `Last-Event-ID`; the live seat-map page (`GET /v1/sessions/{id}/live`) in
//! headless Chromium (Debian's `chromium`, driven by npm `playwright-core`) colouring seats locked
//! over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration as ChronoDuration, FixedOffset, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tessera_tests::http::{TestServer, server_config};
use tessera_tests::signalr::{Watch, Watcher, order_changes, pairs, seat_changes};
use tessera_tests::{Suite, TestDb};

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("hub_delivers_seat_and_order_notices", notices)
        .case("hub_sale_and_lock_expiry", sale_and_expiry)
        .case("hub_refuses_bad_tokens_and_ids", refusals)
        .case("hub_reconnects_after_server_restart", restart)
        .case("hub_across_two_servers_on_one_database", two_servers)
        .case("seat_stream_resumes_with_last_event_id", seat_stream)
        .case("live_page_in_chromium_shows_locks", live_page)
        .run()
}

// ---------------------------------------------------------------------------------------------
// A venue, an event on sale and its session

fn venue_body() -> Value {
    let seats: Vec<Value> = (1..=40)
        .map(|i| {
            json!({"seatId": format!("A-{i:03}"), "row": ((i - 1) / 20 + 1).to_string(),
                   "number": i, "x": 10 * ((i - 1) % 20), "y": 10 * ((i - 1) / 20), "type": "Normal"})
        })
        .collect();
    json!({
        "name": "台北小巨蛋",
        "address": {"country": "TW", "city": "台北市", "street": "南京東路四段2號", "postalCode": "105"},
        "capacity": 40,
        "seatMap": {"areas": [{"areaId": "A", "name": "A 區", "seats": seats}]},
    })
}

fn event_body(venue_id: &str) -> Value {
    let tz = FixedOffset::east_opt(8 * 3600).unwrap();
    let now = Utc::now().with_timezone(&tz);
    let t = |d: ChronoDuration| (now + d).to_rfc3339();
    json!({
        "name": "五月天演唱會",
        "description": "live seat map",
        "venueId": venue_id,
        "sessions": [{
            "startTime": t(ChronoDuration::days(2)),
            "endTime": t(ChronoDuration::days(2) + ChronoDuration::hours(3)),
            "saleStartTime": t(-ChronoDuration::hours(1)),
            "saleEndTime": t(ChronoDuration::days(1)),
        }],
        "priceCategories": [
            {"categoryId": "A", "name": "A 區", "areaIds": ["A"], "price": {"amount": 4800, "currency": "TWD"}},
        ],
    })
}

/// A session on sale on `t`'s server; returns its id.
async fn session(t: &TestServer) -> String {
    let admin = t.admin().await;
    let (_, organizer) = t
        .with_role(&admin, "organizer@tessera.test", "organizer")
        .await;
    let r = t.post("/v1/venues", Some(&admin), venue_body()).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let venue_id = r.data()["venueId"].as_str().unwrap().to_owned();
    let r = t
        .post("/v1/events", Some(&organizer), event_body(&venue_id))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.data()["sessions"][0]["sessionId"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn lock(t: &TestServer, session: &str, token: &str, seats: &[&str]) {
    let r = t
        .post(
            &format!("/v1/sessions/{session}/seats/lock"),
            Some(token),
            json!({ "seatIds": seats }),
        )
        .await;
    assert_eq!(r.status, 200, "lock {seats:?}: {:?}", r.body);
}

async fn order(t: &TestServer, session: &str, token: &str, seats: &[&str]) -> Value {
    let r = t
        .post(
            "/v1/orders",
            Some(token),
            json!({"sessionId": session, "seatIds": seats, "paymentProvider": "Mock"}),
        )
        .await;
    assert_eq!(r.status, 201, "order {seats:?}: {:?}", r.body);
    r.data().clone()
}

// ---------------------------------------------------------------------------------------------
// Cases

/// Every lock, release and cancellation reaches every watcher of the session, in log order, over
/// each transport; order notices reach the buyer's connection only; errors come back as
/// completions.
async fn notices(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let session_id = session(&t).await;
    let (_, alice) = t.customer("alice@example.com").await;
    let (_, bob) = t.customer("bob@example.com").await;
    let (_, carol) = t.customer("carol@example.com").await;
    let until = ("A-010", "Locked");
    let watch = |token, transport, probe_errors| Watch {
        base: &t.base,
        token,
        session: &session_id,
        transport,
        until,
        probe_errors,
    };
    let mut watchers = vec![
        Watcher::start("alice", watch(Some(alice.as_str()), None, true)),
        Watcher::start("bob", watch(Some(bob.as_str()), None, false)),
        Watcher::start("anonymous", watch(None, None, false)),
        Watcher::start(
            "alice-longpolling",
            watch(Some(alice.as_str()), Some("LongPolling"), false),
        ),
        Watcher::start(
            "anonymous-sse",
            watch(None, Some("ServerSentEvents"), false),
        ),
    ];
    let mut readies = Vec::new();
    for w in &mut watchers {
        readies.push(w.expect("ready").await);
    }
    assert_eq!(readies[0]["transport"], "WebSocketTransport");
    assert_eq!(readies[3]["transport"], "LongPollingTransport");
    assert_eq!(readies[4]["transport"], "ServerSentEventsTransport");
    let ready = &readies[0];
    assert!(
        ready["unknownMethod"]
            .as_str()
            .unwrap()
            .contains("Unknown hub method 'NoSuchMethod'"),
        "{ready}"
    );
    assert!(
        ready["badArgument"]
            .as_str()
            .unwrap()
            .contains("sessionId must be a UUID"),
        "{ready}"
    );
    assert!(
        ready["noArgument"]
            .as_str()
            .unwrap()
            .contains("takes 1 argument"),
        "{ready}"
    );
    assert!(
        ready["unknownSession"]
            .as_str()
            .unwrap()
            .contains("no session"),
        "{ready}"
    );
    assert_eq!(ready["leaveAndRejoin"], Value::Null, "{ready}");

    lock(&t, &session_id, &bob, &["A-001", "A-002"]).await;
    let r = t
        .delete(
            &format!("/v1/sessions/{session_id}/seats/lock"),
            Some(&bob),
            Some(json!({"seatIds": ["A-002"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    lock(&t, &session_id, &alice, &["A-003", "A-004"]).await;
    let placed = order(&t, &session_id, &alice, &["A-003", "A-004"]).await;
    let order_id = placed["orderId"].as_str().unwrap().to_owned();
    let r = t
        .delete(&format!("/v1/orders/{order_id}"), Some(&alice), None)
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    lock(&t, &session_id, &carol, &["A-010"]).await;

    let expected = pairs(&[
        ("A-001", "Locked"),
        ("A-002", "Locked"),
        ("A-002", "Available"),
        ("A-003", "Locked"),
        ("A-004", "Locked"),
        ("A-003", "Available"),
        ("A-004", "Available"),
        ("A-010", "Locked"),
    ]);
    for w in &mut watchers {
        let done = w.expect("done").await;
        assert_eq!(done["stoppedBy"], "untilSeat", "{}: {done}", w.name);
        assert_eq!(seat_changes(&done, &session_id), expected, "{}", w.name);
        let orders = order_changes(&done);
        if w.name.starts_with("alice") {
            assert_eq!(
                orders,
                vec![
                    (order_id.clone(), "Created".to_owned()),
                    (order_id.clone(), "Cancelled".to_owned())
                ],
                "{}: {done}",
                w.name
            );
        } else {
            assert!(orders.is_empty(), "{} got order notices: {done}", w.name);
        }
    }
    t.stop().await;
}

/// A sale (`Sold`, with `Paid` and `Completed` to the buyer) and a lock lapsing (`Available`
/// when its expiry deadline fires), with a one-second lock TTL.
async fn sale_and_expiry(db: Arc<TestDb>) {
    let mut config = server_config();
    config.seat_lock_ttl_secs = 1;
    let t = TestServer::start_with(&db, config).await;
    let session_id = session(&t).await;
    let (_, alice) = t.customer("alice@example.com").await;
    let (_, bob) = t.customer("bob@example.com").await;
    let mut w = Watcher::start(
        "alice",
        Watch {
            base: &t.base,
            token: Some(&alice),
            session: &session_id,
            transport: None,
            until: ("A-020", "Available"),
            probe_errors: false,
        },
    );
    w.expect("ready").await;
    lock(&t, &session_id, &alice, &["A-005"]).await;
    let placed = order(&t, &session_id, &alice, &["A-005"]).await;
    let order_id = placed["orderId"].as_str().unwrap().to_owned();
    let payment_id = placed["payment"]["paymentId"].as_str().unwrap();
    let r = t
        .send(
            Method::POST,
            &format!("/v1/mock-payment/{payment_id}/confirm"),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let path = format!("/v1/orders/{order_id}");
    t.eventually(Duration::from_secs(15), || async {
        (t.get(&path, Some(&alice)).await.data()["status"] == "Completed").then_some(())
    })
    .await
    .expect("order completed");
    lock(&t, &session_id, &bob, &["A-020"]).await;
    let done = w.expect("done").await;
    assert_eq!(
        seat_changes(&done, &session_id),
        pairs(&[
            ("A-005", "Locked"),
            ("A-005", "Sold"),
            ("A-020", "Locked"),
            ("A-020", "Available"),
        ]),
        "{done}"
    );
    let statuses: Vec<&str> = done["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert_eq!(o["orderId"], order_id.as_str());
            o["status"].as_str().unwrap()
        })
        .collect();
    assert_eq!(statuses, ["Created", "Paid", "Completed"], "{done}");
    t.stop().await;
}

/// Negotiate refuses a bad token with a 401; transports refuse unknown connection ids (404).
async fn refusals(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let (_, alice) = t.customer("alice@example.com").await;
    let negotiate = "/hubs/tickets/negotiate?negotiateVersion=1";
    let r = t
        .send(Method::POST, negotiate, Some("not.a.token"), None)
        .await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    assert_eq!(r.code(), "UNAUTHORIZED");
    let r = t
        .send(
            Method::POST,
            &format!("{negotiate}&access_token=forged"),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    // A good token and an anonymous caller both negotiate, with all three transports.
    let r = t.send(Method::POST, negotiate, Some(&alice), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["negotiateVersion"], 1);
    assert!(r.body["connectionToken"].as_str().unwrap().len() >= 32);
    let transports: Vec<&str> = r.body["availableTransports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["transport"].as_str().unwrap())
        .collect();
    assert_eq!(
        transports,
        ["WebSockets", "ServerSentEvents", "LongPolling"]
    );
    let token = r.body["connectionToken"].as_str().unwrap().to_owned();
    // Another user's token cannot use Alice's connection.
    let (_, bob) = t.customer("bob@example.com").await;
    let r = t
        .get(&format!("/hubs/tickets?id={token}"), Some(&bob))
        .await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    let r = t.send(Method::POST, negotiate, None, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = t.get("/hubs/tickets?id=nope", None).await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert_eq!(r.code(), "NOT_FOUND");
    let r = t.get("/hubs/tickets", None).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.field(), "id");
    t.stop().await;
}

/// A connected client reconnects by itself after the server restarts on the same port, joins its
/// session again and keeps receiving.
async fn restart(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let session_id = session(&t).await;
    let (_, alice) = t.customer("alice@example.com").await;
    let base = t.base.clone();
    let addr = t.server.addr;
    let mut w = Watcher::start(
        "alice",
        Watch {
            base: &base,
            token: Some(&alice),
            session: &session_id,
            transport: None,
            until: ("A-002", "Locked"),
            probe_errors: false,
        },
    );
    w.expect("ready").await;
    lock(&t, &session_id, &alice, &["A-001"]).await;
    t.stop().await;

    let mut config = server_config();
    config.bind = addr;
    let t = TestServer::start_with(&db, config).await;
    w.expect("reconnected").await;
    lock(&t, &session_id, &alice, &["A-002"]).await;
    let done = w.expect("done").await;
    assert_eq!(
        seat_changes(&done, &session_id),
        pairs(&[("A-001", "Locked"), ("A-002", "Locked")]),
        "{done}"
    );
    t.stop().await;
}

/// A client of one server hears about seats locked through another server on the same database
/// (the feed follows the log, not this process's handlers).
async fn two_servers(db: Arc<TestDb>) {
    let a = TestServer::start(&db).await;
    let b = TestServer::start(&db).await;
    let session_id = session(&a).await;
    let (_, alice) = a.customer("alice@example.com").await;
    let mut w = Watcher::start(
        "on-b",
        Watch {
            base: &b.base,
            token: None,
            session: &session_id,
            transport: None,
            until: ("A-003", "Locked"),
            probe_errors: false,
        },
    );
    w.expect("ready").await;
    lock(&a, &session_id, &alice, &["A-001", "A-002"]).await;
    lock(&b, &session_id, &alice, &["A-003"]).await;
    let done = w.expect("done").await;
    assert_eq!(
        seat_changes(&done, &session_id),
        pairs(&[
            ("A-001", "Locked"),
            ("A-002", "Locked"),
            ("A-003", "Locked")
        ]),
        "{done}"
    );
    b.stop().await;
    a.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The Server-Sent Events seat stream

/// One parsed SSE event.
#[derive(Debug, Clone)]
struct SseEvent {
    event: String,
    data: Value,
    id: Option<u64>,
}

/// An open `GET …/seats/stream`.
struct SseStream {
    response: reqwest::Response,
    buffer: String,
}

impl SseStream {
    async fn open(t: &TestServer, session: &str, last_event_id: Option<&str>) -> SseStream {
        let mut req = t
            .http
            .get(format!("{}/v1/sessions/{session}/seats/stream", t.base));
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let response = req.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        SseStream {
            response,
            buffer: String::new(),
        }
    }

    /// The next event with data (comments and `retry:` skipped); 90 s guard against hanging.
    async fn next(&mut self) -> SseEvent {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent {
                    event: "message".into(),
                    data: Value::Null,
                    id: None,
                };
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event.event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    } else if let Some(v) = line.strip_prefix("id:") {
                        event.id = Some(v.trim().parse().unwrap());
                    }
                }
                if data.is_empty() {
                    continue;
                }
                event.data = serde_json::from_str(&data).unwrap();
                return event;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(90), self.response.chunk())
                .await
                .expect("an SSE event")
                .unwrap()
                .expect("the stream stays open");
            self.buffer
                .push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n"));
        }
    }

    /// The next `n` events as `(seatId, status)`, and the last `id:` seen.
    async fn take(&mut self, n: usize, last_id: &mut Option<u64>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for _ in 0..n {
            let e = self.next().await;
            assert_eq!(e.event, "SeatStatusChanged");
            if e.id.is_some() {
                *last_id = e.id;
            }
            out.push((
                e.data["seatId"].as_str().unwrap().to_owned(),
                e.data["status"].as_str().unwrap().to_owned(),
            ));
        }
        out
    }
}

/// Resume with `Last-Event-ID` loses nothing: changes committed while disconnected come first,
/// then live ones; `X-Log-Position` of the seats read is a valid resume point.
async fn seat_stream(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let session_id = session(&t).await;
    let (_, alice) = t.customer("alice@example.com").await;
    let seats = t
        .http
        .get(format!("{}/v1/sessions/{session_id}/seats", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(seats.status(), 200);
    let position = seats.headers()["x-log-position"]
        .to_str()
        .unwrap()
        .to_owned();
    position.parse::<u64>().unwrap();

    lock(&t, &session_id, &alice, &["A-001", "A-002"]).await;
    lock(&t, &session_id, &alice, &["A-003"]).await;
    // From the seats read's position: both locks, from the log.
    let mut stream = SseStream::open(&t, &session_id, Some(&position)).await;
    let mut last = None;
    assert_eq!(
        stream.take(2, &mut last).await,
        pairs(&[("A-001", "Locked"), ("A-002", "Locked")])
    );
    let after_first = last.unwrap();
    drop(stream);

    // While disconnected.
    lock(&t, &session_id, &alice, &["A-004"]).await;
    let mut stream = SseStream::open(&t, &session_id, Some(&after_first.to_string())).await;
    let mut last = None;
    assert_eq!(
        stream.take(2, &mut last).await,
        pairs(&[("A-003", "Locked"), ("A-004", "Locked")])
    );
    // And live.
    let r = t
        .delete(
            &format!("/v1/sessions/{session_id}/seats/lock"),
            Some(&alice),
            Some(json!({"seatIds": ["A-001"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let before = last.unwrap();
    assert_eq!(
        stream.take(1, &mut last).await,
        pairs(&[("A-001", "Available")])
    );
    assert!(last.unwrap() > before);

    // Bad input.
    let r = t
        .send_raw(
            Method::GET,
            &format!("/v1/sessions/{session_id}/seats/stream"),
            None,
            &[("Last-Event-ID", "yesterday")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.field(), "Last-Event-ID");
    let r = t
        .get(
            "/v1/sessions/00000000-0000-7000-8000-000000000000/seats/stream",
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    let r = t.get("/v1/sessions/nope/seats/stream", None).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.field(), "sessionId");
    t.stop().await;
}

/// The live page served by Tessera, opened in headless Chromium: it draws the seat map, connects
/// with the bundle Tessera serves, and shows seats locked over HTTP after it loaded.
async fn live_page(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let session_id = session(&t).await;
    let (_, buyer) = t.customer("page-buyer@example.com").await;
    let get = |path: String| {
        let http = t.http.clone();
        let url = format!("{}{path}", t.base);
        async move { http.get(url).send().await.unwrap() }
    };
    let bad = get("/v1/sessions/not-a-uuid/live".into()).await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["code"], "VALIDATION_ERROR", "{body}");
    let unknown = format!("/v1/sessions/{}/live", uuid::Uuid::new_v4());
    assert_eq!(get(unknown).await.status(), 404);
    let bundle = get("/v1/live/signalr.min.js".into()).await;
    assert_eq!(bundle.status(), 200);
    assert!(
        bundle.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(
        bundle
            .text()
            .await
            .unwrap()
            .contains("HubConnectionBuilder")
    );

    let shot =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("live-page-{session_id}.png"));
    let mut page = Watcher::script(
        "chromium",
        "live_page.js",
        &json!({
            "url": format!("{}/v1/sessions/{session_id}/live", t.base),
            "expect": {"A-001": "Locked", "A-002": "Locked", "A-003": "Available"},
            "screenshot": shot,
            "timeoutMs": 60_000,
        }),
    );
    let live = page.expect("live").await;
    assert_eq!(live["seats"], 40, "{live}");
    assert_eq!(live["problems"], json!([]), "{live}");
    lock(&t, &session_id, &buyer, &["A-001", "A-002"]).await;
    let shown = page.expect("shown").await;
    assert_eq!(
        shown["statuses"],
        json!({"A-001": "Locked", "A-002": "Locked", "A-003": "Available"}),
        "{shown}"
    );
    assert!(shot.exists(), "screenshot at {}", shot.display());
    t.stop().await;
}
