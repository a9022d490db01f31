//! `Idempotency-Key` on creating POSTs (docs/decisions/0010-idempotency-keys.md), over real HTTP on
//! SQLite and PostgreSQL: a replay returns the first answer and creates nothing (counted in the
//! event store and the read models), another body is a 409 naming the header in each document's
//! format, concurrent requests with one key create one thing, keys survive a restart, are scoped
//! per caller, expire, and a claim abandoned by a dead request is taken over after its lease.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration as ChronoDuration, FixedOffset, Utc};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::sync::Arc;
use tessera_tests::http::{TestServer, server_config};
use tessera_tests::{Suite, TestDb, exec_sql, scalar_i64};

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("replay_returns_first_answer_creates_nothing", replay)
        .case("other_body_or_bad_key_is_refused", refused)
        .case("concurrent_requests_with_one_key_create_one", concurrent)
        .case("keys_survive_a_restart", restart)
        .case("keys_are_scoped_per_caller", scoped)
        .case("keys_expire_and_abandoned_claims_lapse", expiry)
        .run()
}

/// An answer with its raw body and headers.
struct Answer {
    status: u16,
    headers: HeaderMap,
    raw: Vec<u8>,
    body: Value,
}

async fn post_key(
    t: &TestServer,
    path: &str,
    token: Option<&str>,
    key: &str,
    body: &Value,
) -> Answer {
    let mut req = t
        .http
        .request(Method::POST, format!("{}{path}", t.base))
        .header("idempotency-key", key)
        .json(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let raw = resp.bytes().await.unwrap().to_vec();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        raw,
        body,
    }
}

/// A 10-seat venue; returns its id.
async fn venue(t: &TestServer, admin: &str) -> String {
    let seats: Vec<Value> = (1..=10)
        .map(|i| json!({"seatId": format!("A-{i:03}"), "row": "1", "number": i, "x": i, "y": 0}))
        .collect();
    let body = json!({"name": "Hall", "address": {"country": "TW", "city": "台北市"},
                      "capacity": 10, "seatMap": {"areas": [{"areaId": "A", "name": "A", "seats": seats}]}});
    let r = t.post("/v1/venues", Some(admin), body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.data()["venueId"].as_str().unwrap().to_owned()
}

fn event_body(venue_id: &str, name: &str) -> Value {
    let tz = FixedOffset::east_opt(8 * 3600).unwrap();
    let now = Utc::now().with_timezone(&tz);
    let at = |d: ChronoDuration| (now + d).to_rfc3339();
    json!({
        "name": name,
        "venueId": venue_id,
        "sessions": [{"startTime": at(ChronoDuration::days(2)),
                      "endTime": at(ChronoDuration::days(2) + ChronoDuration::hours(3)),
                      "saleStartTime": at(-ChronoDuration::hours(1)),
                      "saleEndTime": at(ChronoDuration::days(1))}],
        "priceCategories": [{"categoryId": "A", "name": "A", "areaIds": ["A"],
                             "price": {"amount": 100, "currency": "TWD"}}],
    })
}

async fn events_in_store(db: &TestDb) -> i64 {
    scalar_i64(
        &db.url,
        "SELECT COUNT(*) FROM events WHERE event_type = 'OpenTicketEventCreated'",
    )
    .await
}

async fn events_listed(t: &TestServer) -> usize {
    let r = t.get("/v1/events?pageSize=100", None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.data()["items"].as_array().unwrap().len()
}

async fn replay(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let venue_id = venue(&t, &admin).await;
    let body = event_body(&venue_id, "Concert");
    let first = post_key(&t, "/v1/events", Some(&admin), "create-event-1", &body).await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    assert!(first.headers.get("idempotent-replayed").is_none());
    for _ in 0..3 {
        let again = post_key(&t, "/v1/events", Some(&admin), "create-event-1", &body).await;
        assert_eq!(again.status, 201);
        assert_eq!(
            again.raw, first.raw,
            "the replay is the first answer, byte for byte"
        );
        assert_eq!(again.headers["idempotent-replayed"], "true");
        assert_eq!(again.headers["content-type"], first.headers["content-type"]);
        assert_ne!(
            again.headers["x-request-id"], first.headers["x-request-id"],
            "each request keeps its own id"
        );
    }
    assert_eq!(events_in_store(&db).await, 1);
    assert_eq!(events_listed(&t).await, 1);
    // A new key creates a new one.
    let other = post_key(&t, "/v1/events", Some(&admin), "create-event-2", &body).await;
    assert_eq!(other.status, 201);
    assert_ne!(other.body["data"]["eventId"], first.body["data"]["eventId"]);
    assert_eq!(events_in_store(&db).await, 2);
    // Without the header nothing changes: each POST creates.
    assert_eq!(
        t.post("/v1/events", Some(&admin), body.clone())
            .await
            .status,
        201
    );
    assert_eq!(events_in_store(&db).await, 3);
    // A refusal (4xx) is kept too: the same request gets the same answer.
    let unknown = event_body(&uuid::Uuid::now_v7().to_string(), "Ghost");
    let r = post_key(&t, "/v1/events", Some(&admin), "ghost", &unknown).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let again = post_key(&t, "/v1/events", Some(&admin), "ghost", &unknown).await;
    assert_eq!(again.raw, r.raw);
    assert_eq!(again.headers["idempotent-replayed"], "true");

    // Meeting: an order replayed holds its stock once.
    let start = Utc::now() + ChronoDuration::days(7);
    let meeting = json!({
        "title": "Conference", "startTime": start.to_rfc3339(),
        "endTime": (start + ChronoDuration::hours(8)).to_rfc3339(),
        "ticketGrades": [{"name": "普通票", "price": 10, "stock": 50}], "status": "onSale",
    });
    let m = post_key(&t, "/meetings", Some(&admin), "meeting-1", &meeting).await;
    assert_eq!(m.status, 201, "{:?}", m.body);
    let m2 = post_key(&t, "/meetings", Some(&admin), "meeting-1", &meeting).await;
    assert_eq!(m2.raw, m.raw);
    let meeting_id = m.body["id"].as_str().unwrap();
    let grade = m.body["ticketGrades"][0]["id"].as_str().unwrap();
    let order = json!({
        "items": [{"ticketGradeId": grade, "ticketPrice": 10, "ticketAmount": 3, "meetingId": meeting_id}],
        "meetingId": meeting_id, "paymentMethodId": "mock",
    });
    let o = post_key(&t, "/orders", Some(&admin), "order-1", &order).await;
    assert_eq!(o.status, 201, "{:?}", o.body);
    let o2 = post_key(&t, "/orders", Some(&admin), "order-1", &order).await;
    assert_eq!(o2.status, 201);
    assert_eq!(o2.raw, o.raw);
    let r = t.get("/orders", Some(&admin)).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1, "{:?}", r.body);
    let r = t.get(&format!("/meetings/{meeting_id}"), None).await;
    assert_eq!(r.body["ticketGrades"][0]["remaining"], 47);
    t.stop().await;
}

async fn refused(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let venue_id = venue(&t, &admin).await;
    let body = event_body(&venue_id, "Concert");
    let first = post_key(&t, "/v1/events", Some(&admin), "k-1", &body).await;
    assert_eq!(first.status, 201);
    // Another body under the same key: 409 in OpenTicket's format, naming the header.
    let other = event_body(&venue_id, "Another concert");
    let r = post_key(&t, "/v1/events", Some(&admin), "k-1", &other).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], "CONFLICT");
    assert_eq!(r.body["error"]["details"]["field"], "Idempotency-Key");
    assert!(r.body["meta"]["requestId"].is_string());
    assert_eq!(events_in_store(&db).await, 1);
    // Keys out of the rule: 400 naming the header; nothing runs.
    for bad in ["with space", &"k".repeat(256), "ключ"] {
        let mut req = t
            .http
            .post(format!("{}/v1/events", t.base))
            .bearer_auth(&admin)
            .json(&body);
        req = match reqwest::header::HeaderValue::from_bytes(bad.as_bytes()) {
            Ok(v) => req.header("idempotency-key", v),
            Err(_) => continue,
        };
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 400, "{bad:?}");
        let b: Value = resp.json().await.unwrap();
        assert_eq!(b["error"]["details"]["field"], "Idempotency-Key", "{b}");
    }
    assert_eq!(events_in_store(&db).await, 1);
    // Meeting: its own error shape.
    let start = Utc::now() + ChronoDuration::days(7);
    let meeting = |title: &str| {
        json!({"title": title, "startTime": start.to_rfc3339(),
               "endTime": (start + ChronoDuration::hours(8)).to_rfc3339(),
               "ticketGrades": [{"name": "普通票", "price": 10, "stock": 5}]})
    };
    assert_eq!(
        post_key(&t, "/meetings", Some(&admin), "m", &meeting("A"))
            .await
            .status,
        201
    );
    let r = post_key(&t, "/meetings", Some(&admin), "m", &meeting("B")).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(r.body["type"], "Conflict");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key")
    );
    let r = post_key(&t, "/meetings", Some(&admin), "bad key", &meeting("C")).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(
        r.body["errors"]["Idempotency-Key"].is_string(),
        "{:?}",
        r.body
    );
    t.stop().await;
}

async fn concurrent(db: Arc<TestDb>) {
    let t = Arc::new(TestServer::start(&db).await);
    let admin = t.admin().await;
    let venue_id = venue(&t, &admin).await;
    let body = event_body(&venue_id, "Concert");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (t, admin, body) = (t.clone(), admin.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            post_key(&t, "/v1/events", Some(&admin), "same-key", &body).await
        }));
    }
    let mut created = Vec::new();
    for task in tasks {
        let a = task.await.unwrap();
        match a.status {
            201 => created.push(a.body["data"]["eventId"].clone()),
            409 => assert_eq!(a.body["error"]["details"]["field"], "Idempotency-Key"),
            other => panic!("unexpected {other}: {:?}", a.body),
        }
    }
    assert!(!created.is_empty());
    assert!(
        created.iter().all(|id| *id == created[0]),
        "every 201 names the one event: {created:?}"
    );
    assert_eq!(events_in_store(&db).await, 1);
    assert_eq!(events_listed(&t).await, 1);
    Arc::try_unwrap(t).ok().unwrap().stop().await;
}

async fn restart(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let venue_id = venue(&t, &admin).await;
    let body = event_body(&venue_id, "Concert");
    let first = post_key(&t, "/v1/events", Some(&admin), "survives", &body).await;
    assert_eq!(first.status, 201);
    t.stop().await;
    let t = TestServer::start(&db).await;
    let again = post_key(&t, "/v1/events", Some(&admin), "survives", &body).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.raw, first.raw);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(events_in_store(&db).await, 1);
    t.stop().await;
}

async fn scoped(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let venue_id = venue(&t, &admin).await;
    let r = t
        .post("/v1/events", Some(&admin), event_body(&venue_id, "Concert"))
        .await;
    let session = r.data()["sessions"][0]["sessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, alice) = t.customer("alice@example.com").await;
    let (_, bob) = t.customer("bob@example.com").await;
    let path = format!("/v1/sessions/{session}/seats/lock");
    let a = post_key(
        &t,
        &path,
        Some(&alice),
        "lock",
        &json!({"seatIds": ["A-001"]}),
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    // Bob's key of the same name is his own: his request runs (and meets Alice's lock).
    let b = post_key(
        &t,
        &path,
        Some(&bob),
        "lock",
        &json!({"seatIds": ["A-001"]}),
    )
    .await;
    assert_eq!(b.status, 409, "{:?}", b.body);
    assert_eq!(b.body["error"]["code"], "SEAT_UNAVAILABLE");
    let b = post_key(
        &t,
        &path,
        Some(&bob),
        "lock-2",
        &json!({"seatIds": ["A-002"]}),
    )
    .await;
    assert_eq!(b.status, 200);
    assert_ne!(b.body["data"]["lockId"], a.body["data"]["lockId"]);
    // Alice's replay is hers.
    let again = post_key(
        &t,
        &path,
        Some(&alice),
        "lock",
        &json!({"seatIds": ["A-001"]}),
    )
    .await;
    assert_eq!(again.raw, a.raw);
    // A forged token gets no replay of anyone's answer: it is refused as usual.
    let r = post_key(
        &t,
        &path,
        Some("not.a.token"),
        "lock",
        &json!({"seatIds": ["A-001"]}),
    )
    .await;
    assert_eq!(r.status, 401);
    t.stop().await;
}

async fn expiry(db: Arc<TestDb>) {
    let mut config = server_config();
    config.idempotency_ttl_secs = 3_600;
    config.idempotency_lease_secs = 60;
    let t = TestServer::start_with(&db, config).await;
    let admin = t.admin().await;
    let venue_id = venue(&t, &admin).await;
    let body = event_body(&venue_id, "Concert");
    let first = post_key(&t, "/v1/events", Some(&admin), "ages", &body).await;
    assert_eq!(first.status, 201);
    // An hour and a second later (moved back in the table rather than waited for), the key is
    // forgotten: the same request runs again.
    exec_sql(
        &db.url,
        "UPDATE idempotency_keys SET created_ms = created_ms - 3601000, locked_ms = locked_ms - 3601000",
    )
    .await
    .unwrap();
    let again = post_key(&t, "/v1/events", Some(&admin), "ages", &body).await;
    assert_eq!(again.status, 201);
    assert!(again.headers.get("idempotent-replayed").is_none());
    assert_ne!(again.body["data"]["eventId"], first.body["data"]["eventId"]);
    assert_eq!(events_in_store(&db).await, 2);
    // Within the hour it replays the second answer.
    let third = post_key(&t, "/v1/events", Some(&admin), "ages", &body).await;
    assert_eq!(third.raw, again.raw);

    // A claim whose request is still running (no answer yet) holds the key: 409 ...
    exec_sql(
        &db.url,
        "UPDATE idempotency_keys SET status = NULL, headers = NULL, body = NULL",
    )
    .await
    .unwrap();
    let r = post_key(&t, "/v1/events", Some(&admin), "ages", &body).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("still being processed")
    );
    // ... until its lease ends (the request died): then a retry runs.
    exec_sql(
        &db.url,
        "UPDATE idempotency_keys SET locked_ms = locked_ms - 61000",
    )
    .await
    .unwrap();
    let r = post_key(&t, "/v1/events", Some(&admin), "ages", &body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(events_in_store(&db).await, 3);
    t.stop().await;
}
