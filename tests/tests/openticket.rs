//! OpenTicket (seed 003) end to end over real HTTP, on SQLite and PostgreSQL: identity and roles,
//! venues, events, seat locks, orders, Mock payments and webhooks, tickets at the gate, expiry by
//! deadline, restarts, input validation, and 200 buyers racing for 50 seats checked against the read
//! models and a replay of the event store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration as ChronoDuration, FixedOffset, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tessera_tests::http::{Reply, TestServer, server_config};
use tessera_tests::{Suite, TestDb};

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("auth_register_login_refresh_logout", auth_flow)
        .case("auth_bad_tokens_are_refused", bad_tokens)
        .case("roles_guard_every_restricted_route", roles)
        .case("venues_and_events", venues_and_events)
        .case("seat_locks", seat_locks)
        .case("order_paid_with_mock_issues_tickets", order_flow)
        .case("webhooks_signed_duplicated_forged", webhooks)
        .case("lock_ttl_and_order_expiry", expiry)
        .case("restart_mid_flow_loses_nothing", restart)
        .case("bad_input_is_a_clear_4xx", bad_input)
        .case("two_hundred_buyers_fifty_seats", race)
        .run()
}

/// A seat map body: `areas` of (area id, area name, seat count); seats `{area}-{nnn}`, 20 a row.
fn seat_map(areas: &[(&str, &str, usize)]) -> Value {
    let areas: Vec<Value> = areas
        .iter()
        .map(|(id, name, n)| {
            let seats: Vec<Value> = (1..=*n)
                .map(|i| {
                    json!({
                        "seatId": format!("{id}-{i:03}"),
                        "row": ((i - 1) / 20 + 1).to_string(),
                        "number": i,
                        "x": 10 * ((i - 1) % 20),
                        "y": 10 * ((i - 1) / 20),
                        "type": "Normal",
                    })
                })
                .collect();
            json!({"areaId": id, "name": name, "seats": seats})
        })
        .collect();
    json!({ "areas": areas })
}

fn venue_body(name: &str, city: &str, areas: &[(&str, &str, usize)]) -> Value {
    let capacity: usize = areas.iter().map(|a| a.2).sum();
    json!({
        "name": name,
        "address": {"country": "TW", "city": city, "street": "南京東路四段2號", "postalCode": "105"},
        "capacity": capacity,
        "seatMap": seat_map(areas),
    })
}

/// An event whose single session is on sale now, with VIP and A price categories.
fn event_body(venue_id: &str) -> Value {
    let tz = FixedOffset::east_opt(8 * 3600).unwrap();
    let now = Utc::now().with_timezone(&tz);
    let t = |d: ChronoDuration| (now + d).to_rfc3339();
    json!({
        "name": "五月天演唱會",
        "description": "2025 巡迴演唱會",
        "venueId": venue_id,
        "sessions": [{
            "startTime": t(ChronoDuration::days(2)),
            "endTime": t(ChronoDuration::days(2) + ChronoDuration::hours(3)),
            "saleStartTime": t(-ChronoDuration::hours(1)),
            "saleEndTime": t(ChronoDuration::days(1)),
        }],
        "priceCategories": [
            {"categoryId": "VIP", "name": "VIP 區", "areaIds": ["VIP"], "price": {"amount": 6800, "currency": "TWD"}},
            {"categoryId": "A", "name": "A 區", "areaIds": ["A"], "price": {"amount": 4800, "currency": "TWD"}},
        ],
    })
}

/// Everything a flow needs: a server, an admin, an organizer, a staff member, a venue, an event
/// and its session.
struct World {
    t: TestServer,
    admin: String,
    staff: String,
    venue_id: String,
    event_id: String,
    session_id: String,
}

async fn world_with(db: &TestDb, config: tessera_api::ServerConfig, a_seats: usize) -> World {
    let t = TestServer::start_with(db, config).await;
    let admin = t.admin().await;
    let (_, organizer) = t
        .with_role(&admin, "organizer@tessera.test", "organizer")
        .await;
    let (_, staff) = t.with_role(&admin, "staff@tessera.test", "staff").await;
    let r = t
        .post(
            "/v1/venues",
            Some(&admin),
            venue_body(
                "台北小巨蛋",
                "台北市",
                &[("VIP", "VIP 區", 20), ("A", "A 區", a_seats)],
            ),
        )
        .await;
    assert_eq!(r.status, 201, "create venue: {:?}", r.body);
    let venue_id = r.data()["venueId"].as_str().unwrap().to_owned();
    let r = t
        .post("/v1/events", Some(&organizer), event_body(&venue_id))
        .await;
    assert_eq!(r.status, 201, "create event: {:?}", r.body);
    let event_id = r.data()["eventId"].as_str().unwrap().to_owned();
    let session_id = r.data()["sessions"][0]["sessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    World {
        t,
        admin,
        staff,
        venue_id,
        event_id,
        session_id,
    }
}

async fn world(db: &TestDb) -> World {
    world_with(db, server_config(), 100).await
}

impl World {
    async fn lock(&self, token: &str, seats: &[&str]) -> Reply {
        self.t
            .post(
                &format!("/v1/sessions/{}/seats/lock", self.session_id),
                Some(token),
                json!({ "seatIds": seats }),
            )
            .await
    }

    async fn order(&self, token: &str, seats: &[&str]) -> Reply {
        self.t
            .post(
                "/v1/orders",
                Some(token),
                json!({"sessionId": self.session_id, "seatIds": seats, "paymentProvider": "Mock"}),
            )
            .await
    }

    /// Confirm a Mock payment the way the payment page's button does.
    async fn pay(&self, order: &Value) -> Reply {
        let payment_id = order["payment"]["paymentId"].as_str().unwrap();
        self.t
            .send(
                Method::POST,
                &format!("/v1/mock-payment/{payment_id}/confirm"),
                None,
                None,
            )
            .await
    }

    async fn seats(&self) -> Value {
        let r = self
            .t
            .get(&format!("/v1/sessions/{}/seats", self.session_id), None)
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.data().clone()
    }

    async fn seat_status(&self, seat: &str) -> String {
        let r = self
            .t
            .get(
                &format!("/v1/sessions/{}/seats/{seat}", self.session_id),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.data()["status"].as_str().unwrap().to_owned()
    }

    /// Wait until the order reaches `status`; returns the order.
    async fn order_reaches(&self, token: &str, order_id: &str, status: &str) -> Value {
        let path = format!("/v1/orders/{order_id}");
        self.t
            .eventually(Duration::from_secs(15), || async {
                let r = self.t.get(&path, Some(token)).await;
                (r.data()["status"] == status).then(|| r.data().clone())
            })
            .await
            .unwrap_or_else(|| panic!("order {order_id} never became {status}"))
    }
}

async fn auth_flow(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let r = t
        .post(
            "/v1/auth/register",
            None,
            json!({"email": "Mei@Example.com", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.data()["email"], "mei@example.com");
    assert!(
        r.body["meta"]["requestId"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );

    let r = t
        .post(
            "/v1/auth/register",
            None,
            json!({"email": "mei@example.com", "password": "another password"}),
        )
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(r.code(), "CONFLICT");

    let r = t
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "mei@example.com", "password": "wrong password"}),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "UNAUTHORIZED");

    let r = t
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "mei@example.com", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["expiresIn"], 3600);
    assert_eq!(r.data()["tokenType"], "Bearer");
    let first_refresh = r.data()["refreshToken"].as_str().unwrap().to_owned();
    let access = r.data()["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(t.get("/v1/auth/me", Some(&access)).await.status, 200);

    // Rotation: the new refresh token works once, the old one is now a reuse.
    let r = t
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refreshToken": first_refresh}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let second_refresh = r.data()["refreshToken"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first_refresh);
    let r = t
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refreshToken": first_refresh}),
        )
        .await;
    assert_eq!(r.status, 401, "reuse of a rotated token: {:?}", r.body);
    // Reuse revoked the whole family, including the newest token.
    let r = t
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refreshToken": second_refresh}),
        )
        .await;
    assert_eq!(r.status, 401, "family revoked after reuse: {:?}", r.body);

    // Logout revokes a fresh family.
    let r = t
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "mei@example.com", "password": "correct horse battery"}),
        )
        .await;
    let refresh = r.data()["refreshToken"].as_str().unwrap().to_owned();
    let r = t
        .post("/v1/auth/logout", None, json!({"refreshToken": refresh}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = t
        .post("/v1/auth/refresh", None, json!({"refreshToken": refresh}))
        .await;
    assert_eq!(r.status, 401);
    t.stop().await;
}

async fn bad_tokens(db: Arc<TestDb>) {
    let mut config = server_config();
    config.access_token_ttl_secs = 3;
    let t = TestServer::start_with(&db, config).await;
    let (_, token) = t.customer("lin@example.com").await;
    assert_eq!(t.get("/v1/auth/me", Some(&token)).await.status, 200);

    // No token, garbage, a flipped signature, `alg: none`, another key, and expiry.
    assert_eq!(t.get("/v1/auth/me", None).await.code(), "UNAUTHORIZED");
    assert_eq!(t.get("/v1/auth/me", Some("garbage")).await.status, 401);
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let sig = parts[2].clone();
    let flipped = if sig.ends_with('A') { "B" } else { "A" };
    parts[2] = format!("{}{flipped}", &sig[..sig.len() - 1]);
    assert_eq!(
        t.get("/v1/auth/me", Some(&parts.join("."))).await.status,
        401
    );
    let none_header = base64_url(br#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{none_header}.{}.", parts[1]);
    assert_eq!(t.get("/v1/auth/me", Some(&unsigned)).await.status, 401);
    let payload: Value = serde_json::from_slice(&base64_url_decode(&parts[1])).expect("claims");
    let wrong_aud = {
        let mut p = payload.clone();
        p["aud"] = json!("someone-else");
        p
    };
    let forged = hs256_token(&wrong_aud, b"test-jwt-secret-of-at-least-32-bytes!!");
    assert_eq!(
        t.get("/v1/auth/me", Some(&forged)).await.status,
        401,
        "wrong audience"
    );
    let right = hs256_token(&payload, b"test-jwt-secret-of-at-least-32-bytes!!");
    assert_eq!(
        t.get("/v1/auth/me", Some(&right)).await.status,
        200,
        "re-signed copy is valid"
    );
    let other_key = hs256_token(&payload, b"another-secret-of-at-least-32-bytes!!!");
    assert_eq!(t.get("/v1/auth/me", Some(&other_key)).await.status, 401);
    tokio::time::sleep(Duration::from_millis(4_100)).await;
    let r = t.get("/v1/auth/me", Some(&token)).await;
    assert_eq!(r.status, 401, "expired: {:?}", r.body);
    t.stop().await;
}

fn base64_url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn base64_url_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'-' => 62,
            _ => 63,
        }
    };
    let mut out = Vec::new();
    for chunk in s.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c) << (18 - 6 * i);
        }
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// An HS256 JWT signed with `key`, built by hand (to forge and re-sign tokens).
fn hs256_token(claims: &Value, key: &[u8]) -> String {
    let header = base64_url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = base64_url(claims.to_string().as_bytes());
    let signing = format!("{header}.{body}");
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key),
        signing.as_bytes(),
    );
    format!("{signing}.{}", base64_url(tag.as_ref()))
}

async fn roles(db: Arc<TestDb>) {
    let w = world(&db).await;
    let t = &w.t;
    let (_, customer) = t.customer("customer@example.com").await;
    let venue = venue_body("Legacy Hall", "高雄市", &[("A", "A 區", 5)]);
    // (Admin) POST /venues
    assert_eq!(t.post("/v1/venues", None, venue.clone()).await.status, 401);
    let r = t.post("/v1/venues", Some(&customer), venue.clone()).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "FORBIDDEN"));
    let organizer = t
        .login("organizer@tessera.test", "correct horse battery")
        .await;
    assert_eq!(
        t.post("/v1/venues", Some(&organizer), venue).await.status,
        403
    );
    // (Organizer) POST /events
    let r = t
        .post("/v1/events", Some(&customer), event_body(&w.venue_id))
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        t.post("/v1/events", Some(&w.staff), event_body(&w.venue_id))
            .await
            .status,
        403
    );
    assert_eq!(
        t.post("/v1/events", Some(&w.admin), event_body(&w.venue_id))
            .await
            .status,
        201
    );
    // (Staff) POST /tickets/{id}/verify
    let fake = uuid::Uuid::now_v7();
    let r = t
        .post(
            &format!("/v1/tickets/{fake}/verify"),
            Some(&customer),
            json!({"qrCode": "x"}),
        )
        .await;
    assert_eq!(r.status, 403);
    // Admin-only role management and audit.
    assert_eq!(t.get("/v1/orders", Some(&customer)).await.status, 200);
    let r = t
        .post(
            &format!("/v1/admin/users/{fake}/roles"),
            Some(&customer),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(t.get("/audit/events", Some(&customer)).await.status, 403);
    assert_eq!(t.get("/audit/events", None).await.status, 401);
    assert_eq!(t.get("/audit/events", Some(&w.admin)).await.status, 200);
    let (_, auditor) = t
        .with_role(&w.admin, "auditor@example.com", "auditor")
        .await;
    assert_eq!(t.get("/audit/events", Some(&auditor)).await.status, 200);
    // A revoked role stops working at the next sign-in.
    let r = t
        .delete(
            &format!(
                "/v1/admin/users/{}/roles/organizer",
                user_id_of(t, &organizer).await
            ),
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let organizer = t
        .login("organizer@tessera.test", "correct horse battery")
        .await;
    assert_eq!(
        t.post("/v1/events", Some(&organizer), event_body(&w.venue_id))
            .await
            .status,
        403
    );
    w.t.stop().await;
}

async fn user_id_of(t: &TestServer, token: &str) -> String {
    let r = t.get("/v1/auth/me", Some(token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.data()["userId"].as_str().unwrap().to_owned()
}

async fn venues_and_events(db: Arc<TestDb>) {
    let w = world(&db).await;
    let t = &w.t;
    // A second venue elsewhere, to filter by city and page.
    let r = t
        .post(
            "/v1/venues",
            Some(&w.admin),
            venue_body("高雄巨蛋", "高雄市", &[("B", "B 區", 10)]),
        )
        .await;
    assert_eq!(r.status, 201);

    let r = t.get("/v1/venues?city=台北市", None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let items = r.data()["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["name"], "台北小巨蛋");
    assert_eq!(items[0]["capacity"], 120);
    assert_eq!(items[0]["status"], "Active");
    assert_eq!(r.data()["pagination"]["totalItems"], 1);
    let r = t.get("/v1/venues?page=2&pageSize=1", None).await;
    assert_eq!(r.data()["items"].as_array().unwrap().len(), 1);
    assert_eq!(r.data()["pagination"]["totalPages"], 2);
    assert_eq!(r.data()["pagination"]["pageSize"], 1);

    let r = t.get(&format!("/v1/venues/{}", w.venue_id), None).await;
    assert_eq!(r.status, 200);
    let areas = r.data()["seatMap"]["areas"].as_array().unwrap();
    assert_eq!(areas.len(), 2);
    assert_eq!(areas[1]["seats"].as_array().unwrap().len(), 100);
    assert_eq!(areas[1]["seats"][0]["seatId"], "A-001");
    assert_eq!(r.data()["seatMap"]["version"], 1);

    let r = t.get(&format!("/v1/events/{}", w.event_id), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let e = r.data();
    assert_eq!(e["venue"]["name"], "台北小巨蛋");
    assert_eq!(e["sessions"][0]["status"], "OnSale");
    // The organizer's `+08:00` is applied: OpenTicket writes every time in UTC, milliseconds.
    let start = e["sessions"][0]["startTime"].as_str().unwrap();
    assert!(start.ends_with('Z') && start.len() == 24, "{start}");
    assert_eq!(e["priceCategories"][0]["price"]["amount"], 6800);

    let r = t
        .get(
            &format!("/v1/events?venueId={}&status=OnSale", w.venue_id),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let items = r.data()["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["priceRange"]["min"]["amount"], 4800);
    assert_eq!(items[0]["priceRange"]["max"]["amount"], 6800);
    assert_eq!(items[0]["sessions"][0]["availableSeats"], 120);
    assert_eq!(items[0]["venueName"], "台北小巨蛋");
    let r = t.get("/v1/events?status=Ended", None).await;
    assert_eq!(r.data()["items"].as_array().unwrap().len(), 0);
    w.t.stop().await;
}

async fn seat_locks(db: Arc<TestDb>) {
    let w = world(&db).await;
    let t = &w.t;
    let (_, alice) = t.customer("alice@example.com").await;
    let (_, bob) = t.customer("bob@example.com").await;

    let r = w.lock(&alice, &["A-001", "A-002"]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["ttlSeconds"], 120);
    assert_eq!(r.data()["seats"][1]["status"], "Locked");
    let lock_id = r.data()["lockId"].as_str().unwrap();
    assert_eq!(lock_id.parse::<uuid::Uuid>().unwrap().get_version_num(), 4);

    // All or none: A-003 is free but A-002 is not, so Bob locks nothing.
    let r = w.lock(&bob, &["A-003", "A-002"]).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(r.code(), "SEAT_UNAVAILABLE");
    let bad = r.body["error"]["details"]["unavailableSeats"]
        .as_array()
        .unwrap();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["seatId"], "A-002");
    assert_eq!(w.seat_status("A-003").await, "Available");
    assert_eq!(w.seat_status("A-002").await, "Locked");

    let seats = w.seats().await;
    assert_eq!(seats["summary"]["total"], 120);
    assert_eq!(seats["summary"]["locked"], 2);
    assert_eq!(seats["summary"]["available"], 118);
    let a = seats["areas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["areaId"] == "A")
        .unwrap();
    assert_eq!(a["seats"][2]["price"]["amount"], 4800);

    // Bob cannot release Alice's seats; Alice can.
    let path = format!("/v1/sessions/{}/seats/lock", w.session_id);
    let r = t
        .delete(&path, Some(&bob), Some(json!({"seatIds": ["A-001"]})))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["released"], json!([]));
    assert_eq!(w.seat_status("A-001").await, "Locked");
    let r = t
        .delete(
            &path,
            Some(&alice),
            Some(json!({"seatIds": ["A-001", "A-002"]})),
        )
        .await;
    assert_eq!(r.data()["released"], json!(["A-001", "A-002"]));
    assert_eq!(w.seat_status("A-001").await, "Available");
    assert_eq!(w.lock(&bob, &["A-001"]).await.status, 200);

    // Unknown session and seat.
    let r = t
        .post(
            &format!("/v1/sessions/{}/seats/lock", uuid::Uuid::now_v7()),
            Some(&bob),
            json!({"seatIds": ["A-001"]}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "NOT_FOUND"));
    let r = w.lock(&bob, &["Z-999"]).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.field(), "seatIds[0]");
    w.t.stop().await;
}

async fn order_flow(db: Arc<TestDb>) {
    let w = world(&db).await;
    let t = &w.t;
    let (_, alice) = t.customer("alice@example.com").await;
    let (_, bob) = t.customer("bob@example.com").await;

    // Ordering seats one does not hold is refused.
    let r = w.order(&alice, &["A-001", "A-002"]).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(r.code(), "SEAT_UNAVAILABLE");

    assert_eq!(w.lock(&alice, &["A-001", "A-002"]).await.status, 200);
    assert_eq!(
        w.order(&bob, &["A-001"]).await.status,
        409,
        "Bob holds no lock"
    );
    let r = w.order(&alice, &["A-001", "A-002"]).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let order = r.data().clone();
    let order_id = order["orderId"].as_str().unwrap().to_owned();
    assert_eq!(order["status"], "Created");
    assert_eq!(
        order["totalAmount"],
        json!({"amount": 9600, "currency": "TWD"})
    );
    assert_eq!(order["items"][0]["price"]["amount"], 4800);
    assert_eq!(order["payment"]["provider"], "Mock");
    let url = order["payment"]["paymentUrl"].as_str().unwrap();
    assert!(url.contains("/v1/mock-payment/"), "{url}");

    // Read your own write, and nobody else's.
    let r = t.get(&format!("/v1/orders/{order_id}"), Some(&alice)).await;
    assert_eq!(r.status, 200);
    let r = t.get(&format!("/v1/orders/{order_id}"), Some(&bob)).await;
    assert_eq!(r.status, 404, "another user's order is a 404");
    assert_eq!(
        t.get(&format!("/v1/orders/{order_id}"), Some(&w.admin))
            .await
            .status,
        200
    );
    let page = t.get("/v1/orders", Some(&alice)).await;
    assert_eq!(page.data()["items"][0]["seatCount"], 2);
    assert_eq!(page.data()["items"][0]["event"]["name"], "五月天演唱會");
    assert_eq!(
        t.get("/v1/orders", Some(&bob)).await.data()["items"],
        json!([])
    );

    // The Mock payment page exists and confirming pays.
    let page = t.http.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("9600"));
    assert_eq!(w.pay(&order).await.status, 200);
    let done = w.order_reaches(&alice, &order_id, "Completed").await;
    assert_eq!(done["payment"]["status"], "Succeeded");
    assert!(done["payment"]["paidAt"].as_str().is_some());
    assert!(done["completedAt"].as_str().is_some());
    let ticket_ids: Vec<String> = done["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["ticketId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ticket_ids.len(), 2);
    assert_eq!(w.seat_status("A-001").await, "Sold");
    // A paid order cannot be cancelled.
    let r = t
        .delete(&format!("/v1/orders/{order_id}"), Some(&alice), None)
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);

    // Tickets: listed for the owner only; detail with a signed code and a PNG.
    let r = t.get("/v1/tickets", Some(&alice)).await;
    assert_eq!(r.data()["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        t.get("/v1/tickets", Some(&bob)).await.data()["items"],
        json!([])
    );
    let tid = &ticket_ids[0];
    assert_eq!(
        t.get(&format!("/v1/tickets/{tid}"), Some(&bob))
            .await
            .status,
        404
    );
    let r = t.get(&format!("/v1/tickets/{tid}"), Some(&alice)).await;
    assert_eq!(r.status, 200);
    let ticket = r.data().clone();
    assert_eq!(ticket["status"], "Issued");
    assert_eq!(ticket["price"]["amount"], 4800);
    assert_eq!(ticket["venue"]["name"], "台北小巨蛋");
    let code = ticket["qrCode"].as_str().unwrap().to_owned();
    assert!(code.starts_with("OPENTICKET-"));
    assert!(
        ticket["qrCodeImage"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );

    // At the gate: a forged code, another ticket's code, then the real one twice.
    let verify = |id: String, code: String| {
        let staff = w.staff.clone();
        async move {
            t.post(
                &format!("/v1/tickets/{id}/verify"),
                Some(&staff),
                json!({"qrCode": code}),
            )
            .await
        }
    };
    let forged = format!("{}x", &code[..code.len() - 1]);
    let r = verify(tid.clone(), forged).await;
    assert_eq!(r.status, 200, "forged: {:?}", r.body);
    assert_eq!(r.data()["valid"], false);
    assert_eq!(r.data()["reason"], "FORGED");
    let other = t
        .get(&format!("/v1/tickets/{}", ticket_ids[1]), Some(&alice))
        .await
        .data()["qrCode"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = verify(tid.clone(), other).await;
    assert_eq!(r.status, 200, "another ticket's code: {:?}", r.body);
    assert_eq!(r.data()["reason"], "WRONG_TICKET");
    let r = verify(tid.clone(), code.clone()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["valid"], true);
    assert_eq!(r.data()["status"], "Used");
    assert_eq!(r.data()["seat"]["seatId"], ticket["seat"]["seatId"]);
    let used_at = r.data()["usedAt"].clone();
    let r = verify(tid.clone(), code).await;
    assert_eq!(r.status, 200, "second scan: {:?}", r.body);
    assert_eq!(r.data()["valid"], false);
    assert_eq!(r.data()["reason"], "ALREADY_USED");
    assert_eq!(r.data()["usedAt"], used_at);
    let r = t.get(&format!("/v1/tickets/{tid}"), Some(&alice)).await;
    assert_eq!(r.data()["status"], "Used");
    assert_eq!(r.data()["usedAt"], used_at);

    // Cancelling an unpaid order frees its seats.
    assert_eq!(w.lock(&bob, &["A-010"]).await.status, 200);
    let r = w.order(&bob, &["A-010"]).await;
    let bob_order = r.data()["orderId"].as_str().unwrap().to_owned();
    assert_eq!(w.seat_status("A-010").await, "Locked");
    let r = t
        .delete(&format!("/v1/orders/{bob_order}"), Some(&alice), None)
        .await;
    assert_eq!(r.status, 404, "not hers");
    let r = t
        .delete(&format!("/v1/orders/{bob_order}"), Some(&bob), None)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["status"], "Cancelled");
    assert!(r.data()["cancelledAt"].as_str().is_some());
    assert_eq!(w.seat_status("A-010").await, "Available");
    w.t.stop().await;
}

fn sign_mock(body: &[u8]) -> String {
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b"mock-webhook-secret"),
        body,
    );
    format!("sha256={}", hex::encode(tag))
}

async fn webhook(t: &TestServer, body: &Value, signature: Option<&str>) -> Reply {
    let raw = serde_json::to_vec(body).unwrap();
    let sig = signature.map_or_else(|| sign_mock(&raw), str::to_owned);
    t.send_raw(
        Method::POST,
        "/v1/webhooks/payment/mock",
        None,
        &[
            ("content-type", "application/json"),
            ("x-webhook-signature", &sig),
        ],
        raw,
    )
    .await
}

async fn webhooks(db: Arc<TestDb>) {
    let w = world(&db).await;
    let t = &w.t;
    let (_, alice) = t.customer("alice@example.com").await;
    assert_eq!(w.lock(&alice, &["VIP-001"]).await.status, 200);
    let order = w.order(&alice, &["VIP-001"]).await.data().clone();
    let order_id = order["orderId"].as_str().unwrap();
    let payment_id = order["payment"]["paymentId"].as_str().unwrap();
    // Ids a client acts with are random (UUIDv4), not time-ordered and guessable.
    for id in [order_id, payment_id] {
        assert_eq!(
            id.parse::<uuid::Uuid>().unwrap().get_version_num(),
            4,
            "{id}"
        );
    }
    let paid = json!({"id": "evt_1", "type": "payment.succeeded",
                      "data": {"orderId": order_id, "paymentId": payment_id}});

    // Forged and missing signatures change nothing.
    let r = webhook(t, &paid, Some("sha256=00")).await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    let raw = serde_json::to_vec(&paid).unwrap();
    let r = t
        .send_raw(
            Method::POST,
            "/v1/webhooks/payment/mock",
            None,
            &[("content-type", "application/json")],
            raw,
        )
        .await;
    assert_eq!(r.status, 401);
    let r = t.get(&format!("/v1/orders/{order_id}"), Some(&alice)).await;
    assert_eq!(r.data()["status"], "Created");
    // A tampered body under a good signature is refused too.
    let good_sig = sign_mock(&serde_json::to_vec(&paid).unwrap());
    let tampered = json!({"id": "evt_1", "type": "payment.succeeded",
                          "data": {"orderId": order_id, "paymentId": uuid::Uuid::now_v7()}});
    assert_eq!(webhook(t, &tampered, Some(&good_sig)).await.status, 401);

    // A failure notice, then success, then the same success again, then a late failure.
    let failed = json!({"id": "evt_0", "type": "payment.failed",
                        "data": {"orderId": order_id, "paymentId": payment_id, "reason": "card declined"}});
    assert_eq!(webhook(t, &failed, None).await.status, 200);
    assert_eq!(webhook(t, &paid, None).await.status, 200);
    assert_eq!(webhook(t, &paid, None).await.status, 200);
    let late_fail = json!({"id": "evt_2", "type": "payment.failed",
                           "data": {"orderId": order_id, "paymentId": payment_id}});
    assert_eq!(webhook(t, &late_fail, None).await.status, 200);
    let done = w.order_reaches(&alice, order_id, "Completed").await;
    assert_eq!(
        done["payment"]["status"], "Succeeded",
        "payment states only move forward"
    );
    assert_eq!(done["items"].as_array().unwrap().len(), 1);
    // Exactly one OpenTicketPaymentSucceeded in the order's stream.
    let r = t
        .get(
            &format!("/audit/streams/openticketOrder-{order_id}/events"),
            Some(&w.admin),
        )
        .await;
    let types: Vec<&str> = r
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "OpenTicketPaymentSucceeded")
            .count(),
        1,
        "{types:?}"
    );
    assert_eq!(
        t.get("/v1/tickets", Some(&alice)).await.data()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Unknown orders and malformed notices are clear 4xx.
    let ghost = json!({"id": "evt_9", "type": "payment.succeeded",
                       "data": {"orderId": uuid::Uuid::now_v7(), "paymentId": payment_id}});
    assert_eq!(webhook(t, &ghost, None).await.status, 404);
    let malformed = json!({"id": "evt_8", "type": "payment.succeeded", "data": {}});
    assert_eq!(webhook(t, &malformed, None).await.status, 400);
    w.t.stop().await;
}

async fn expiry(db: Arc<TestDb>) {
    let mut config = server_config();
    config.seat_lock_ttl_secs = 1;
    config.order_ttl_secs = 2;
    let w = world_with(&db, config, 100).await;
    let t = &w.t;
    let (_, alice) = t.customer("alice@example.com").await;
    let (_, bob) = t.customer("bob@example.com").await;

    let r = w.lock(&alice, &["A-001"]).await;
    assert_eq!(r.data()["ttlSeconds"], 1);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    // Expired: free for Bob whether or not the deadline has fired yet.
    assert_eq!(w.seat_status("A-001").await, "Available");
    assert_eq!(w.lock(&bob, &["A-001"]).await.status, 200);
    // Alice's expired lock cannot be ordered.
    assert_eq!(w.lock(&alice, &["A-002"]).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(w.order(&alice, &["A-002"]).await.status, 409);

    // An unpaid order expires by deadline, freeing its seats; a late payment asks for a refund.
    assert_eq!(w.lock(&alice, &["A-003"]).await.status, 200);
    let order = w.order(&alice, &["A-003"]).await.data().clone();
    let order_id = order["orderId"].as_str().unwrap().to_owned();
    let expired = w.order_reaches(&alice, &order_id, "Expired").await;
    assert_eq!(expired["status"], "Expired");
    // The deadline expires the order, then frees its seats in the session's stream.
    let freed = t
        .eventually(Duration::from_secs(5), || async {
            (w.seat_status("A-003").await == "Available").then_some(())
        })
        .await;
    assert!(freed.is_some(), "the expired order's seat is free again");
    assert_eq!(
        w.lock(&bob, &["A-003"]).await.status,
        200,
        "seat is free again"
    );
    let paid = json!({"id": "evt_late", "type": "payment.succeeded",
                      "data": {"orderId": order_id, "paymentId": order["payment"]["paymentId"]}});
    assert_eq!(webhook(t, &paid, None).await.status, 200);
    let late = t
        .eventually(Duration::from_secs(10), || async {
            let r = t.get(&format!("/v1/orders/{order_id}"), Some(&alice)).await;
            (r.data()["payment"]["status"] == "RefundRequired").then(|| r.data().clone())
        })
        .await
        .expect("late payment recorded");
    assert_eq!(late["status"], "Expired");
    assert_eq!(late["refundRequired"], true);
    assert_eq!(w.seat_status("A-003").await, "Locked", "Bob's lock stands");
    assert_eq!(
        t.get("/v1/tickets", Some(&alice)).await.data()["items"],
        json!([])
    );
    w.t.stop().await;
}

async fn restart(db: Arc<TestDb>) {
    let w = world(&db).await;
    let (_, alice) = w.t.customer("alice@example.com").await;
    assert_eq!(w.lock(&alice, &["A-005", "A-006"]).await.status, 200);
    let order = w.order(&alice, &["A-005", "A-006"]).await.data().clone();
    let order_id = order["orderId"].as_str().unwrap().to_owned();
    let World {
        t,
        admin,
        staff,
        venue_id,
        event_id,
        session_id,
    } = w;
    t.stop().await;

    let t = TestServer::start(&db).await;
    let w = World {
        t,
        admin,
        staff,
        venue_id,
        event_id,
        session_id,
    };
    // The old tokens still work (same key), the order is there, and paying completes it.
    let r =
        w.t.get(&format!("/v1/orders/{order_id}"), Some(&alice))
            .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["status"], "Created");
    assert_eq!(w.pay(&order).await.status, 200);
    w.order_reaches(&alice, &order_id, "Completed").await;
    assert_eq!(
        w.t.get(&format!("/v1/venues/{}", w.venue_id), None)
            .await
            .status,
        200
    );
    assert_eq!(
        w.t.get(&format!("/v1/events/{}", w.event_id), None)
            .await
            .status,
        200
    );
    w.t.stop().await;
}

/// One bad request: method, path, raw JSON body, expected status, code and field.
type BadCase = (
    Method,
    String,
    Option<Vec<u8>>,
    u16,
    &'static str,
    &'static str,
);

async fn bad_input(db: Arc<TestDb>) {
    let w = world(&db).await;
    let t = &w.t;
    let (_, alice) = t.customer("alice@example.com").await;
    let lock_path = format!("/v1/sessions/{}/seats/lock", w.session_id);
    let head_before = t
        .get("/audit/events?after=0&limit=1000", Some(&w.admin))
        .await
        .data()
        .as_array()
        .unwrap()
        .len();

    let cases: Vec<BadCase> = vec![
        (Method::POST, lock_path.clone(), Some(b"{not json".to_vec()), 400, "VALIDATION_ERROR", "body"),
        (Method::POST, lock_path.clone(), Some(br#"{"seatIds": "A-001"}"#.to_vec()), 400, "VALIDATION_ERROR", "seatIds"),
        (Method::POST, lock_path.clone(), Some(br#"{"seatIds": [1]}"#.to_vec()), 400, "VALIDATION_ERROR", "seatIds[0]"),
        (Method::POST, lock_path.clone(), Some(br#"{"seatIds": []}"#.to_vec()), 400, "VALIDATION_ERROR", "seatIds"),
        (Method::POST, lock_path.clone(), Some(br#"{}"#.to_vec()), 400, "VALIDATION_ERROR", "seatIds"),
        (
            Method::POST,
            lock_path.clone(),
            Some(serde_json::to_vec(&json!({"seatIds": (1..=11).map(|i| format!("A-{i:03}")).collect::<Vec<_>>()})).unwrap()),
            400,
            "VALIDATION_ERROR",
            "seatIds",
        ),
        (Method::POST, lock_path.clone(), Some(br#"{"seatIds": ["A-001", "A-001"]}"#.to_vec()), 400, "VALIDATION_ERROR", "seatIds[1]"),
        (Method::POST, "/v1/sessions/not-a-uuid/seats/lock".into(), Some(br#"{"seatIds": ["A-001"]}"#.to_vec()), 400, "VALIDATION_ERROR", "sessionId"),
        (Method::GET, "/v1/orders/not-a-uuid".into(), None, 400, "VALIDATION_ERROR", "orderId"),
        (Method::GET, format!("/v1/orders/{}", uuid::Uuid::now_v7()), None, 404, "NOT_FOUND", ""),
        (Method::GET, format!("/v1/tickets/{}", uuid::Uuid::now_v7()), None, 404, "NOT_FOUND", ""),
        (Method::GET, format!("/v1/events/{}", uuid::Uuid::now_v7()), None, 404, "NOT_FOUND", ""),
        (Method::GET, format!("/v1/venues/{}", uuid::Uuid::now_v7()), None, 404, "NOT_FOUND", ""),
        (Method::GET, format!("/v1/sessions/{}/seats", uuid::Uuid::now_v7()), None, 404, "NOT_FOUND", ""),
        (Method::GET, format!("/v1/sessions/{}/seats/Z-1", w.session_id), None, 404, "NOT_FOUND", ""),
        (Method::GET, "/v1/venues?pageSize=-1".into(), None, 400, "VALIDATION_ERROR", "pageSize"),
        (Method::GET, "/v1/venues?pageSize=1000".into(), None, 400, "VALIDATION_ERROR", "pageSize"),
        (Method::GET, "/v1/venues?pageSize=abc".into(), None, 400, "VALIDATION_ERROR", "pageSize"),
        (Method::GET, "/v1/venues?page=0".into(), None, 400, "VALIDATION_ERROR", "page"),
        (Method::GET, "/v1/events?venueId=nope".into(), None, 400, "VALIDATION_ERROR", "venueId"),
        (Method::GET, "/v1/events?startDate=yesterday".into(), None, 400, "VALIDATION_ERROR", "startDate"),
        (Method::GET, "/v1/events?status=Sleeping".into(), None, 400, "VALIDATION_ERROR", "status"),
        (Method::GET, "/v1/orders?status=Sleeping".into(), None, 400, "VALIDATION_ERROR", "status"),
        (
            Method::POST,
            "/v1/orders".into(),
            Some(serde_json::to_vec(&json!({"sessionId": w.session_id, "seatIds": ["A-001"], "paymentProvider": "Cash"})).unwrap()),
            400,
            "VALIDATION_ERROR",
            "paymentProvider",
        ),
        (
            Method::POST,
            "/v1/orders".into(),
            Some(serde_json::to_vec(&json!({"sessionId": "x", "seatIds": ["A-001"], "paymentProvider": "Mock"})).unwrap()),
            400,
            "VALIDATION_ERROR",
            "sessionId",
        ),
    ];
    for (method, path, body, status, code, field) in cases {
        let r = match body {
            Some(b) => {
                t.send_raw(
                    method.clone(),
                    &path,
                    Some(&alice),
                    &[("content-type", "application/json")],
                    b,
                )
                .await
            }
            None => t.send(method.clone(), &path, Some(&alice), None).await,
        };
        assert_eq!(r.status.as_u16(), status, "{method} {path}: {:?}", r.body);
        assert_eq!(r.code(), code, "{method} {path}: {:?}", r.body);
        if !field.is_empty() {
            assert_eq!(r.field(), field, "{method} {path}: {:?}", r.body);
        }
        assert!(r.body["meta"]["requestId"].is_string(), "{:?}", r.body);
    }
    // A body without JSON content type, and bad venue input naming the nested field.
    let r = t
        .send_raw(
            Method::POST,
            &lock_path,
            Some(&alice),
            &[],
            br#"{"seatIds":["A-001"]}"#.to_vec(),
        )
        .await;
    assert_eq!(r.status, 400);
    let mut venue = venue_body("X", "台北市", &[("A", "A 區", 3)]);
    venue["seatMap"]["areas"][0]["seats"][2]["seatId"] = json!("A-001");
    let r = t.post("/v1/venues", Some(&w.admin), venue).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.field(), "seatMap.areas[0].seats[2].seatId");
    let mut event = event_body(&w.venue_id);
    event["priceCategories"][0]["price"]["amount"] = json!(12.5);
    let r = t.post("/v1/events", Some(&w.admin), event).await;
    assert_eq!(r.status, 400, "TWD has no minor unit: {:?}", r.body);
    assert_eq!(r.field(), "priceCategories[0].price.amount");
    let mut event = event_body(&w.venue_id);
    event["priceCategories"][0]["areaIds"] = json!(["NOPE"]);
    let r = t.post("/v1/events", Some(&w.admin), event).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.field(), "priceCategories[0].areaIds[0]");

    // None of that wrote an event.
    let head_after = t
        .get("/audit/events?after=0&limit=1000", Some(&w.admin))
        .await
        .data()
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        head_before, head_after,
        "rejected requests appended nothing"
    );
    w.t.stop().await;
}

/// 200 buyers with overlapping picks race for the 50 seats of area A: lock, order, pay. No seat may be
/// locked or sold twice, and the responses, the read models and a replay of the log must agree.
async fn race(db: Arc<TestDb>) {
    let w = Arc::new(world_with(&db, server_config(), 50).await);
    let mut buyers = Vec::new();
    for i in 0..200 {
        buyers.push(w.t.customer(&format!("buyer{i}@example.com")).await);
    }
    let mut tasks = Vec::new();
    for (i, (_, token)) in buyers.into_iter().enumerate() {
        let w = w.clone();
        tasks.push(tokio::spawn(async move {
            // Overlapping pairs: buyer i wants seats i % 50 + 1 and (i + 1) % 50 + 1.
            let a = format!("A-{:03}", i % 50 + 1);
            let b = format!("A-{:03}", (i + 1) % 50 + 1);
            let r = w.lock(&token, &[&a, &b]).await;
            if r.status != 200 {
                assert_eq!(r.code(), "SEAT_UNAVAILABLE", "{:?}", r.body);
                return None;
            }
            let r = w.order(&token, &[&a, &b]).await;
            assert_eq!(r.status, 201, "a lock holder can order: {:?}", r.body);
            let order = r.data().clone();
            assert_eq!(w.pay(&order).await.status, 200);
            let id = order["orderId"].as_str().unwrap().to_owned();
            let done = w.order_reaches(&token, &id, "Completed").await;
            let seats: Vec<String> = done["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["seatId"].as_str().unwrap().to_owned())
                .collect();
            Some((token, seats))
        }));
    }
    let mut sold_by_response: HashMap<String, usize> = HashMap::new();
    let mut winners = Vec::new();
    for task in tasks {
        if let Some((token, seats)) = task.await.unwrap() {
            for s in &seats {
                *sold_by_response.entry(s.clone()).or_default() += 1;
            }
            winners.push(token);
        }
    }
    assert!(!winners.is_empty());
    assert!(
        sold_by_response.values().all(|n| *n == 1),
        "a seat sold twice: {sold_by_response:?}"
    );
    let sold: HashSet<String> = sold_by_response.into_keys().collect();

    // Read models: seat map and tickets agree with the responses.
    let seats = w.seats().await;
    assert_eq!(
        seats["summary"]["sold"].as_u64().unwrap() as usize,
        sold.len()
    );
    let mut tickets = 0;
    for token in &winners {
        tickets +=
            w.t.get("/v1/tickets?pageSize=100", Some(token))
                .await
                .data()["items"]
                .as_array()
                .unwrap()
                .len();
    }
    assert_eq!(tickets, sold.len());

    // Replay the event store: OpenTicketSeatsSold names each sold seat exactly once, and the
    // auditor is happy.
    let mut after = 0;
    let mut sold_in_log: HashMap<String, usize> = HashMap::new();
    loop {
        let r =
            w.t.get(
                &format!("/audit/events?after={after}&limit=1000"),
                Some(&w.admin),
            )
            .await;
        let events = r.data().as_array().unwrap().clone();
        if events.is_empty() {
            break;
        }
        after = r.body["meta"]["nextAfter"].as_u64().unwrap();
        for e in events {
            if e["type"] == "OpenTicketSeatsSold" {
                for s in e["data"]["seatIds"].as_array().unwrap() {
                    *sold_in_log
                        .entry(s.as_str().unwrap().to_owned())
                        .or_default() += 1;
                }
            }
        }
    }
    assert!(sold_in_log.values().all(|n| *n == 1), "{sold_in_log:?}");
    assert_eq!(sold_in_log.into_keys().collect::<HashSet<_>>(), sold);
    let engine = &w.t.server.engine;
    let report = tessera_infrastructure::verify(engine.stores.audit.as_ref(), |_| {})
        .await
        .unwrap();
    assert!(report.findings.is_empty(), "{:?}", report.findings.first());
}
