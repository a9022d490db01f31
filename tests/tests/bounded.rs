//! Bounded resources over real HTTP, on SQLite and PostgreSQL: client request ids are kept only when
//! they are short safe tokens (otherwise replaced, and the replacement is what the response and the
//! stored events carry), half-sent request heads and idle connections are closed after their
//! timeouts, connections beyond the cap wait until a slot frees, and the big session-seats read is
//! compressed and revalidated with an `ETag`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::header::HeaderValue;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_tests::http::{TestServer, server_config};
use tessera_tests::{Suite, TestDb};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("request_ids_are_short_safe_tokens", request_ids)
        .case("half_sent_headers_are_cut_off", half_sent_headers)
        .case("idle_connections_are_closed", idle_connections)
        .case("connections_beyond_the_cap_wait", connection_cap)
        .case(
            "session_seats_compressed_with_etag",
            seats_compressed_with_etag,
        )
        .run()
}

fn acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Every request id the event store holds, read through the audit route.
async fn stored_request_ids(t: &TestServer, admin: &str) -> Vec<String> {
    let r = t.get("/audit/events?limit=1000", Some(admin)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.data()
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["metadata"]["request_id"].as_str().map(str::to_owned))
        .collect()
}

async fn request_ids(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let huge = "a".repeat(60 * 1024);
    let cases: Vec<(&str, HeaderValue, bool)> = vec![
        ("60 KB", HeaderValue::from_str(&huge).unwrap(), false),
        ("spaces", HeaderValue::from_static("my request id"), false),
        ("a tab", HeaderValue::from_static("tab\there"), false),
        (
            "non-ASCII",
            HeaderValue::from_bytes("ünïcödé-id".as_bytes()).unwrap(),
            false,
        ),
        (
            "65 characters",
            HeaderValue::from_str(&"b".repeat(65)).unwrap(),
            false,
        ),
        ("empty", HeaderValue::from_static(""), false),
        ("a token", HeaderValue::from_static("client.req_42-A"), true),
        (
            "a UUID",
            HeaderValue::from_static("0b9c7f0e-6a4e-4c2f-9d1a-3f5e8b7c6d5a"),
            true,
        ),
        (
            "64 characters",
            HeaderValue::from_str(&"c".repeat(64)).unwrap(),
            true,
        ),
    ];
    for (i, (what, sent, kept)) in cases.into_iter().enumerate() {
        let resp = t
            .http
            .post(format!("{}/v1/auth/register", t.base))
            .header("x-request-id", sent.clone())
            .json(&json!({"email": format!("rid{i}@tessera.test"), "password": "correct horse battery"}))
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status(), 201, "{what}");
        let answered = resp
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no x-request-id in the response"))
            .to_owned();
        let body: Value = resp.json().await.expect("json");
        if kept {
            assert_eq!(answered.as_bytes(), sent.as_bytes(), "{what}: id not kept");
        } else {
            assert_ne!(answered.as_bytes(), sent.as_bytes(), "{what}: id kept");
            assert!(
                uuid::Uuid::try_parse(&answered).is_ok(),
                "{what}: replacement {answered:?} is not a UUID"
            );
        }
        if let Some(in_body) = body["meta"]["requestId"].as_str() {
            assert_eq!(in_body, answered, "{what}: body and header disagree");
        }
        let stored = stored_request_ids(&t, &admin).await;
        assert!(
            stored.contains(&answered),
            "{what}: no event stored under the answered id {answered}"
        );
    }
    // An error answer names the same decided id.
    let resp = t
        .http
        .post(format!("{}/v1/auth/register", t.base))
        .header("x-request-id", "bad id")
        .json(&json!({"email": "not an email"}))
        .send()
        .await
        .expect("sent");
    assert!(resp.status().is_client_error(), "{}", resp.status());
    let answered = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.expect("json");
    assert!(uuid::Uuid::try_parse(&answered).is_ok(), "{answered}");
    if let Some(in_body) = body["meta"]["requestId"].as_str() {
        assert_eq!(in_body, answered);
    }
    let stored = stored_request_ids(&t, &admin).await;
    assert!(!stored.is_empty());
    for id in &stored {
        assert!(acceptable(id), "stored request id {:.80}…", id);
    }
    t.stop().await;
}

/// Read until the peer closes (or resets); returns what came and how long that took, or `None`
/// when it was still open after `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<(Vec<u8>, Duration)> {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some((got, started.elapsed())),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Read until a whole response head has arrived (or `limit` passes).
async fn read_head(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let left = limit.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&got).into_owned())
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: tessera.test\r\n\r\n";

async fn half_sent_headers(db: Arc<TestDb>) {
    let mut config = server_config();
    config.header_read_timeout_secs = 1;
    config.idle_timeout_secs = 30;
    let t = TestServer::start_with(&db, config).await;

    // Half a request, then nothing.
    let mut slow = TcpStream::connect(t.server.addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: tess")
        .await
        .unwrap();
    let (_, after) = read_until_closed(&mut slow, Duration::from_secs(5))
        .await
        .expect("a half-sent request head is still open after 5 s");
    assert!(
        after >= Duration::from_millis(900),
        "closed too early: {after:?}"
    );

    // A connection that sends nothing at all is cut off the same way.
    let mut silent = TcpStream::connect(t.server.addr).await.unwrap();
    read_until_closed(&mut silent, Duration::from_secs(5))
        .await
        .expect("a silent connection is still open after 5 s");

    // A client that sends its head in time is served.
    let mut fine = TcpStream::connect(t.server.addr).await.unwrap();
    fine.write_all(HEALTH).await.unwrap();
    let head = read_head(&mut fine, Duration::from_secs(5))
        .await
        .expect("answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    t.stop().await;
}

async fn idle_connections(db: Arc<TestDb>) {
    let mut config = server_config();
    config.header_read_timeout_secs = 30;
    config.idle_timeout_secs = 1;
    let t = TestServer::start_with(&db, config).await;
    let mut conn = TcpStream::connect(t.server.addr).await.unwrap();
    conn.write_all(HEALTH).await.unwrap();
    let head = read_head(&mut conn, Duration::from_secs(5))
        .await
        .expect("answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    // Kept alive, then left idle: closed after about a second, long before the header timeout.
    let (_, after) = read_until_closed(&mut conn, Duration::from_secs(5))
        .await
        .expect("an idle kept-alive connection is still open after 5 s");
    assert!(
        after >= Duration::from_millis(500),
        "closed too early: {after:?}"
    );
    t.stop().await;
}

async fn connection_cap(db: Arc<TestDb>) {
    let mut config = server_config();
    config.header_read_timeout_secs = 30;
    config.idle_timeout_secs = 30;
    config.max_connections = 1;
    let t = TestServer::start_with(&db, config).await;

    let mut first = TcpStream::connect(t.server.addr).await.unwrap();
    first.write_all(HEALTH).await.unwrap();
    let head = read_head(&mut first, Duration::from_secs(5))
        .await
        .expect("answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    // Over the cap: the kernel completes the handshake, but the server does not take it up.
    let mut second = TcpStream::connect(t.server.addr).await.unwrap();
    second.write_all(HEALTH).await.unwrap();
    assert!(
        read_head(&mut second, Duration::from_millis(800))
            .await
            .is_none(),
        "a connection over the cap was served"
    );

    // A slot frees: the waiting connection is served.
    drop(first);
    let head = read_head(&mut second, Duration::from_secs(5))
        .await
        .expect("the waiting connection was not served once a slot freed");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    // An idle kept-alive connection does not hold up a graceful stop.
    let started = Instant::now();
    t.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stop took {:?}",
        started.elapsed()
    );
    drop(second);
}

/// A session of a venue with `seats` seats in area A (priced), its id, and a customer's token.
async fn big_session(t: &TestServer, seats: usize) -> (String, String) {
    let admin = t.admin().await;
    let (_, organizer) = t
        .with_role(&admin, "organizer@tessera.test", "organizer")
        .await;
    let areas: Vec<Value> = [("VIP", 20), ("A", seats)]
        .iter()
        .map(|(area, n)| {
            let seats: Vec<Value> = (1..=*n)
                .map(|i| {
                    json!({"seatId": format!("{area}-{i:04}"), "row": ((i - 1) / 50 + 1).to_string(),
                           "number": i, "x": (i - 1) % 50, "y": (i - 1) / 50, "type": "Normal"})
                })
                .collect();
            json!({"areaId": area, "name": format!("{area} 區"), "seats": seats})
        })
        .collect();
    let venue = json!({
        "name": "台北小巨蛋",
        "address": {"country": "TW", "city": "台北市", "street": "南京東路四段2號", "postalCode": "105"},
        "capacity": seats + 20,
        "seatMap": {"areas": areas},
    });
    let r = t.post("/v1/venues", Some(&admin), venue).await;
    assert_eq!(r.status, 201, "venue: {:?}", r.body);
    let venue_id = r.data()["venueId"].as_str().unwrap().to_owned();
    let now = chrono::Utc::now();
    let at = |hours: i64| (now + chrono::Duration::hours(hours)).to_rfc3339();
    let event = json!({
        "name": "五月天演唱會",
        "description": "2025 巡迴演唱會",
        "venueId": venue_id,
        "sessions": [{"startTime": at(48), "endTime": at(51), "saleStartTime": at(-1), "saleEndTime": at(24)}],
        "priceCategories": [
            {"categoryId": "VIP", "name": "VIP 區", "areaIds": ["VIP"], "price": {"amount": 6800, "currency": "TWD"}},
            {"categoryId": "A", "name": "A 區", "areaIds": ["A"], "price": {"amount": 4800, "currency": "TWD"}},
        ],
    });
    let r = t.post("/v1/events", Some(&organizer), event).await;
    assert_eq!(r.status, 201, "event: {:?}", r.body);
    let session_id = r.data()["sessions"][0]["sessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, customer) = t.customer("buyer@tessera.test").await;
    (session_id, customer)
}

async fn seats_compressed_with_etag(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let (session_id, customer) = big_session(&t, 3_000).await;
    let url = format!("{}/v1/sessions/{session_id}/seats", t.base);

    // Uncompressed for a client that accepts no encoding.
    let plain = t.http.get(&url).send().await.unwrap();
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get("content-encoding").is_none());
    let etag = plain.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with("W/\""), "{etag}");
    let plain = plain.bytes().await.unwrap();
    let plain_json: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(
        plain_json["data"]["summary"]["total"], 3_020,
        "{:.300}",
        plain_json
    );

    // gzip: much smaller, and the same data once inflated.
    let gz = t
        .http
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.status(), 200);
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    assert_eq!(
        gz.headers()["etag"].to_str().unwrap(),
        etag,
        "same data, same tag"
    );
    let gz = gz.bytes().await.unwrap();
    assert!(
        gz.len() * 5 < plain.len(),
        "gzip {} vs {}",
        gz.len(),
        plain.len()
    );
    let mut inflated = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut inflated).unwrap();
    let inflated: Value = serde_json::from_slice(&inflated).unwrap();
    assert_eq!(inflated["data"], plain_json["data"]);

    // br when preferred.
    let br = t
        .http
        .get(&url)
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(br.headers()["content-encoding"], "br");
    assert!(br.bytes().await.unwrap().len() * 5 < plain.len());

    // Revalidation: the current tag is a 304 without a body; another tag is a 200.
    let same = t
        .http
        .get(&url)
        .header("if-none-match", etag.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 304);
    assert_eq!(same.headers()["etag"].to_str().unwrap(), etag);
    assert!(same.bytes().await.unwrap().is_empty());
    let other = t
        .http
        .get(&url)
        .header("if-none-match", "W/\"0000\", \"1111\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);

    // A seat changes: the old tag no longer matches, and the new one differs.
    let r = t
        .post(
            &format!("/v1/sessions/{session_id}/seats/lock"),
            Some(&customer),
            json!({"seatIds": ["A-0001"]}),
        )
        .await;
    assert!(r.status.is_success(), "lock: {:?}", r.body);
    let after = t
        .http
        .get(&url)
        .header("if-none-match", etag.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 200);
    assert_ne!(after.headers()["etag"].to_str().unwrap(), etag);
    t.stop().await;
}
