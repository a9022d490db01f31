//! The documents' edges over real HTTP, on SQLite and PostgreSQL: unknown paths, wrong methods,
//! axum's own rejections and panics answered in the format of the document whose path was hit;
//! body errors worded without Rust type names on every POST/PUT/PATCH route of both documents; one
//! text rule for control characters; and OpenTicket's edges (all tickets listed, scan results with
//! `valid: false`, seats not for sale, Stripe's return pages and id-less events, one timestamp
//! precision).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::routing::get;
use chrono::{Duration as ChronoDuration, FixedOffset, Utc};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::sync::Arc;
use tessera_api::startup::{document_edges, with_edge_answers, with_edge_fallbacks};
use tessera_tests::http::{Reply, TestServer, server_config};
use tessera_tests::openapi::{fill, operations};
use tessera_tests::{Suite, TestDb};

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("unknown_paths_and_methods_answer_in_each_format", fallbacks)
        .case("panics_answer_in_each_format", panics)
        .case("body_errors_name_no_rust_types", body_errors)
        .case(
            "control_characters_are_refused_everywhere",
            control_characters,
        )
        .case("tickets_are_listed_whole", tickets_listed_whole)
        .case("gate_scans_answer_valid_false_with_a_reason", gate_scans)
        .case("seats_no_category_covers_are_not_for_sale", not_for_sale)
        .case("stripe_return_pages_and_id_less_events", stripe_edges)
        .case("openticket_timestamps_are_milliseconds_z", timestamps)
        .run()
}

/// A raw answer: status, `Allow` header and JSON body (`Null` when not JSON).
async fn raw(t: &TestServer, method: Method, path: &str) -> (u16, String, Value) {
    let resp = t
        .http
        .request(method, format!("{}{path}", t.base))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let allow = resp
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = resp.text().await.unwrap();
    (
        status,
        allow,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// Seed 003's error shape with `code`.
fn is_openticket_error(body: &Value, code: &str) -> bool {
    body["error"]["code"] == code
        && body["error"]["message"].is_string()
        && body["error"]["details"].is_object()
        && body["meta"]["timestamp"].is_string()
        && body["meta"]["requestId"].is_string()
}

/// Seed 000's error shape with `type`.
fn is_meeting_error(body: &Value, kind: &str) -> bool {
    body["type"] == kind
        && body["message"].is_string()
        && body.get("payload").is_some()
        && body.get("errors").is_some()
}

async fn fallbacks(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;

    let (status, _, body) = raw(&t, Method::GET, "/v1/no-such-thing").await;
    assert_eq!(status, 404);
    assert!(is_openticket_error(&body, "NOT_FOUND"), "{body}");
    assert_eq!(body["error"]["details"]["resource"], "route");
    assert_eq!(body["error"]["details"]["path"], "/v1/no-such-thing");
    let (status, allow, body) = raw(&t, Method::DELETE, "/v1/venues").await;
    assert_eq!(status, 405);
    assert!(is_openticket_error(&body, "METHOD_NOT_ALLOWED"), "{body}");
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let listed = body["error"]["details"]["allow"].as_array().unwrap();
    assert!(listed.contains(&json!("GET")) && listed.contains(&json!("POST")));

    let (status, _, body) = raw(&t, Method::GET, "/meetings/a/b/c").await;
    assert_eq!(status, 404);
    assert!(is_meeting_error(&body, "Not Found"), "{body}");
    assert_eq!(body["errors"]["route"], "GET /meetings/a/b/c");
    let (status, allow, body) = raw(&t, Method::PUT, "/meetings").await;
    assert_eq!(status, 405);
    assert!(is_meeting_error(&body, "Method Not Allowed"), "{body}");
    assert!(allow.contains("GET"), "{allow}");

    // Paths of no document: the engine's neutral envelope.
    for path in ["/nowhere", "/v10", "/meetingsx"] {
        let (status, _, body) = raw(&t, Method::GET, path).await;
        assert_eq!(status, 404, "{path}");
        assert!(is_openticket_error(&body, "NOT_FOUND"), "{path}: {body}");
    }
    let (status, _, body) = raw(&t, Method::POST, "/health").await;
    assert_eq!(status, 405);
    assert_eq!(body["error"]["code"], "METHOD_NOT_ALLOWED", "{body}");

    // axum's own rejection of a path that is not UTF-8, in each document's format.
    let (status, _, body) = raw(&t, Method::GET, "/v1/venues/%FF%FE").await;
    assert_eq!(status, 400, "{body}");
    assert!(is_openticket_error(&body, "VALIDATION_ERROR"), "{body}");
    let (status, _, body) = raw(&t, Method::GET, "/meetings/%FF%FE").await;
    assert_eq!(status, 400, "{body}");
    assert!(is_meeting_error(&body, "Validation Error"), "{body}");

    // A webhook body over its limit (axum's plain-text 413 before).
    let big = vec![b'x'; 1024 * 1024 + 10];
    let r = t
        .send_raw(
            Method::POST,
            "/v1/webhooks/payment/mock",
            None,
            &[("content-type", "application/json")],
            big,
        )
        .await;
    assert_eq!(r.status, 413);
    assert!(
        is_openticket_error(&r.body, "PAYLOAD_TOO_LARGE"),
        "{:?}",
        r.body
    );
    t.stop().await;
}

async fn boom() -> &'static str {
    panic!("deliberate test panic")
}

/// The edge layers of the real app around routes that panic, served on a real socket.
async fn panics(_db: Arc<TestDb>) {
    let routes = Router::new()
        .route("/v1/boom", get(boom))
        .route("/meetings/boom", get(boom))
        .route("/elsewhere/boom", get(boom));
    let app = with_edge_answers(with_edge_fallbacks(routes), document_edges());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let get = |path: &'static str| async move {
        let resp = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.unwrap_or(Value::Null))
    };
    let (status, body) = get("/v1/boom").await;
    assert_eq!(status, 500);
    assert!(is_openticket_error(&body, "INTERNAL_ERROR"), "{body}");
    assert!(!body.to_string().contains("deliberate"), "{body}");
    let (status, body) = get("/meetings/boom").await;
    assert_eq!(status, 500);
    assert!(is_meeting_error(&body, "Internal Server Error"), "{body}");
    assert!(!body.to_string().contains("deliberate"), "{body}");
    let (status, body) = get("/elsewhere/boom").await;
    assert_eq!(status, 500);
    assert_eq!(body["error"]["code"], "INTERNAL_ERROR", "{body}");
    server.abort();
}

/// Whether an error answer names a Rust type: `struct X`, `enum X`, a `::` path, or a
/// `…Body`/`…Request` type name.
fn rust_type_in(text: &str) -> Option<String> {
    for marker in [
        "struct ",
        "enum ",
        "::",
        "tuple struct",
        "variant identifier",
    ] {
        if text.contains(marker) {
            return Some(marker.to_owned());
        }
    }
    text.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .find(|w| {
            w.len() > 4
                && w.starts_with(|c: char| c.is_ascii_uppercase())
                && ["Body", "Request", "Input", "Command"]
                    .iter()
                    .any(|s| w.ends_with(s) && w != s)
        })
        .map(str::to_owned)
}

/// Malformed bodies for an operation: not an object, malformed JSON, and every documented member
/// of the wrong JSON kind.
fn malformed_bodies(doc: &Value, op: &Value) -> Vec<Vec<u8>> {
    let mut bodies: Vec<Vec<u8>> = vec![
        b"5".to_vec(),
        b"[]".to_vec(),
        b"\"text\"".to_vec(),
        b"null".to_vec(),
        b"{\"a\":".to_vec(),
        b"{}".to_vec(),
        b"{\"unexpectedMember\": 1}".to_vec(),
    ];
    let schema = &op["requestBody"]["content"]["application/json"]["schema"];
    let schema = tessera_tests::openapi::deref(doc, schema);
    if let Some(props) = schema["properties"].as_object() {
        for wrong in [
            json!(12345),
            json!("text"),
            json!({}),
            json!([1]),
            json!(true),
        ] {
            let body: serde_json::Map<String, Value> =
                props.keys().map(|k| (k.clone(), wrong.clone())).collect();
            bodies.push(serde_json::to_vec(&body).unwrap());
            // One member wrong at a time, so a later member's error is reached too.
            for key in props.keys() {
                bodies.push(serde_json::to_vec(&json!({ key: wrong })).unwrap());
            }
        }
    }
    bodies
}

async fn body_errors(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let sample = "0190c9a4-e0b8-7d21-a1f3-c2b4d5e6f708";
    let mut checked = 0;
    let mut field_named = 0;
    let mut problems = Vec::new();
    for doc_path in ["/v1/openapi.json", "/meeting/openapi.json"] {
        let doc: Value = t
            .http
            .get(format!("{}{doc_path}", t.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for (m, template, op) in operations(&doc) {
            if !["post", "put", "patch"].contains(&m.to_ascii_lowercase().as_str())
                || op.get("requestBody").is_none()
            {
                continue;
            }
            let path = fill(&template, |_| sample.to_owned());
            let method = Method::from_bytes(m.to_ascii_uppercase().as_bytes()).unwrap();
            for body in malformed_bodies(&doc, &op) {
                let r = t
                    .send_raw(
                        method.clone(),
                        &path,
                        Some(&admin),
                        &[("content-type", "application/json")],
                        body.clone(),
                    )
                    .await;
                checked += 1;
                let shown = String::from_utf8_lossy(&body).into_owned();
                if r.status.is_server_error() {
                    problems.push(format!("{m} {path} {shown}: {} {}", r.status, r.body));
                }
                let text = r.body.to_string();
                if let Some(name) = rust_type_in(&text) {
                    problems.push(format!("{m} {path} {shown}: names `{name}`: {text}"));
                }
                if r.status == 400
                    && (r.field() != ""
                        || r.body["errors"].as_object().is_some_and(|e| !e.is_empty()))
                {
                    field_named += 1;
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(checked > 300, "only {checked} requests checked");
    assert!(
        field_named > checked / 3,
        "{field_named} of {checked} refusals named a field"
    );
    t.stop().await;
}

async fn control_characters(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;

    // OpenTicket: a body string anywhere, a query parameter, a path.
    let r = t
        .post(
            "/v1/auth/register",
            None,
            json!({"email": "nul@example.com", "password": "correct horse battery", "displayName": "a\u{0}b"}),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(is_openticket_error(&r.body, "VALIDATION_ERROR"));
    assert_eq!(r.field(), "displayName");
    let r = t
        .post(
            "/v1/venues",
            Some(&admin),
            json!({"name": "ok", "address": {"country": "TW", "city": "台北\u{1b}[31m", "street": "x", "postalCode": "1"}, "capacity": 1, "seatMap": {"areas": []}}),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.field(), "address.city");
    let r = t.get("/v1/events?city=%00", None).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.field(), "city");
    let r = t.get("/v1/venues/%C2%85", None).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.field(), "path");
    // Tabs and line breaks pass the shared rule; a one-line field refuses them itself.
    let r = t
        .post(
            "/v1/auth/register",
            None,
            json!({"email": "lines@example.com", "password": "correct horse battery", "displayName": "Ann\tLee"}),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.field(), "displayName");

    // Meeting: the same rule, in seed 000's format; nothing is stored.
    let start = (Utc::now() + ChronoDuration::days(3)).to_rfc3339();
    let end = (Utc::now() + ChronoDuration::days(4)).to_rfc3339();
    for (member, value) in [
        ("title", "年会\u{0}"),
        ("description", "第一行\n第二行\u{7f}"),
        ("location", "\u{9b}31m上海"),
    ] {
        let mut body = json!({"title": "年会", "startTime": start, "endTime": end});
        body[member] = json!(value);
        let r = t.post("/meetings", Some(&admin), body).await;
        assert_eq!(r.status, 400, "{member}: {:?}", r.body);
        assert!(
            is_meeting_error(&r.body, "Validation Error"),
            "{:?}",
            r.body
        );
        assert!(r.body["errors"][member].is_string(), "{:?}", r.body);
    }
    let r = t.get("/meetings", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!([]), "nothing was stored");
    let r = t.get("/meetings?status=%01", None).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(r.body["errors"]["status"].is_string(), "{:?}", r.body);
    // A multi-line description is fine.
    let r = t
        .post(
            "/meetings",
            Some(&admin),
            json!({"title": "年会", "description": "第一行\n第二行\t完", "startTime": start, "endTime": end}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    t.stop().await;
}

// ------------------------------------------------------------------------------- OpenTicket

/// A seat map: `areas` of (area id, seat count); seats `{area}-{nnn}`, 20 a row.
fn venue_body(areas: &[(&str, usize)]) -> Value {
    let areas: Vec<Value> = areas
        .iter()
        .map(|(id, n)| {
            let seats: Vec<Value> = (1..=*n)
                .map(|i| {
                    json!({"seatId": format!("{id}-{i:03}"), "row": ((i - 1) / 20 + 1).to_string(),
                           "number": i, "x": i, "y": 1, "type": "Normal"})
                })
                .collect();
            json!({"areaId": id, "name": format!("{id} 區"), "seats": seats})
        })
        .collect();
    let capacity: usize = areas
        .iter()
        .map(|a| a["seats"].as_array().unwrap().len())
        .sum();
    json!({
        "name": "台北小巨蛋",
        "address": {"country": "TW", "city": "台北市", "street": "南京東路四段2號", "postalCode": "105"},
        "capacity": capacity,
        "seatMap": {"areas": areas},
    })
}

/// Two sessions on sale now; only area `A` has a price category.
fn event_body(venue_id: &str) -> Value {
    let tz = FixedOffset::east_opt(8 * 3600).unwrap();
    let now = Utc::now().with_timezone(&tz);
    let t = |d: ChronoDuration| (now + d).to_rfc3339();
    let session = |day: i64| {
        json!({
            "startTime": t(ChronoDuration::days(day)),
            "endTime": t(ChronoDuration::days(day) + ChronoDuration::hours(3)),
            "saleStartTime": t(-ChronoDuration::hours(1)),
            "saleEndTime": t(ChronoDuration::hours(20)),
        })
    };
    json!({
        "name": "五月天演唱會",
        "venueId": venue_id,
        "sessions": [session(2), session(3)],
        "priceCategories": [
            {"categoryId": "A", "name": "A 區", "areaIds": ["A"], "price": {"amount": 4800, "currency": "TWD"}},
        ],
    })
}

struct World {
    t: TestServer,
    staff: String,
    sessions: Vec<String>,
    /// Every response body seen, for the timestamp scan.
    seen: std::sync::Mutex<Vec<Value>>,
}

async fn world(db: &TestDb, config: tessera_api::ServerConfig) -> World {
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
            venue_body(&[("A", 40), ("Z", 5)]),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let venue_id = r.data()["venueId"].as_str().unwrap().to_owned();
    let r = t
        .post("/v1/events", Some(&organizer), event_body(&venue_id))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let sessions = r.data()["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sessionId"].as_str().unwrap().to_owned())
        .collect();
    let w = World {
        t,
        staff,
        sessions,
        seen: std::sync::Mutex::new(Vec::new()),
    };
    w.saw(&r);
    w
}

impl World {
    fn saw(&self, r: &Reply) {
        self.seen.lock().unwrap().push(r.body.clone());
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let r = self.t.send(method, path, token, body).await;
        self.saw(&r);
        r
    }

    /// Lock `seats` of session `s`, order them with Mock, pay; returns the completed order.
    async fn buy(&self, token: &str, s: usize, seats: &[String]) -> Value {
        let session = &self.sessions[s];
        let r = self
            .call(
                Method::POST,
                &format!("/v1/sessions/{session}/seats/lock"),
                Some(token),
                Some(json!({"seatIds": seats})),
            )
            .await;
        assert_eq!(r.status, 200, "lock: {:?}", r.body);
        let r = self
            .call(
                Method::POST,
                "/v1/orders",
                Some(token),
                Some(json!({"sessionId": session, "seatIds": seats, "paymentProvider": "Mock"})),
            )
            .await;
        assert_eq!(r.status, 201, "order: {:?}", r.body);
        let order_id = r.data()["orderId"].as_str().unwrap().to_owned();
        let payment_id = r.data()["payment"]["paymentId"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = self
            .call(
                Method::POST,
                &format!("/v1/mock-payment/{payment_id}/confirm"),
                None,
                None,
            )
            .await;
        assert_eq!(r.status, 200, "pay: {:?}", r.body);
        let path = format!("/v1/orders/{order_id}");
        self.t
            .eventually(std::time::Duration::from_secs(15), || async {
                let r = self.call(Method::GET, &path, Some(token), None).await;
                (r.data()["status"] == "Completed").then(|| r.data().clone())
            })
            .await
            .expect("order completed")
    }

    async fn verify(&self, ticket: &str, body: Value) -> Reply {
        self.call(
            Method::POST,
            &format!("/v1/tickets/{ticket}/verify"),
            Some(&self.staff),
            Some(body),
        )
        .await
    }
}

fn seats(from: usize, n: usize) -> Vec<String> {
    (from..from + n).map(|i| format!("A-{i:03}")).collect()
}

async fn tickets_listed_whole(db: Arc<TestDb>) {
    let mut config = server_config();
    config.max_seats_per_lock = 25;
    let w = world(&db, config).await;
    let (_, alice) = w.t.customer("alice@example.com").await;
    w.buy(&alice, 0, &seats(1, 23)).await;

    let r = w.t.get("/v1/tickets", Some(&alice)).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.data()["items"].as_array().unwrap().len(),
        23,
        "all, not 20"
    );
    assert!(r.data().get("pagination").is_none(), "{:?}", r.data());
    let r = w.t.get("/v1/tickets?pageSize=5&page=2", Some(&alice)).await;
    assert_eq!(r.data()["items"].as_array().unwrap().len(), 5);
    assert_eq!(r.data()["pagination"]["totalItems"], 23);
    assert_eq!(r.data()["pagination"]["page"], 2);
    let r = w.t.get("/v1/tickets?page=0", Some(&alice)).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.field(), "page");
    w.t.stop().await;
}

async fn gate_scans(db: Arc<TestDb>) {
    let w = world(&db, server_config()).await;
    let (_, alice) = w.t.customer("alice@example.com").await;
    let order = w.buy(&alice, 0, &seats(1, 2)).await;
    let ids: Vec<String> = order["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["ticketId"].as_str().unwrap().to_owned())
        .collect();
    let code_of = |id: String| {
        let w = &w;
        let alice = alice.clone();
        async move {
            w.t.get(&format!("/v1/tickets/{id}"), Some(&alice))
                .await
                .data()["qrCode"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let code = code_of(ids[0].clone()).await;
    let other = code_of(ids[1].clone()).await;
    let refused = |r: &Reply, reason: &str| {
        assert_eq!(r.status, 200, "{reason}: {:?}", r.body);
        assert_eq!(r.data()["valid"], false, "{reason}: {:?}", r.body);
        assert_eq!(r.data()["reason"], reason, "{:?}", r.body);
        assert_eq!(r.data()["ticketId"], ids[0].as_str());
    };

    // Malformed requests are 4xx.
    for body in [
        json!({}),
        json!({"qrCode": "  "}),
        json!({"qrCode": 5}),
        json!({"qrCode": code, "sessionId": "x"}),
    ] {
        let r = w.verify(&ids[0], body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
    }
    let unknown = "0190c9a4-e0b8-7d21-a1f3-c2b4d5e6f708";
    assert_eq!(w.verify(unknown, json!({"qrCode": code})).await.status, 404);

    // Scan results are 200 with `valid`.
    let forged = format!("{}x", &code[..code.len() - 1]);
    refused(
        &w.verify(&ids[0], json!({"qrCode": forged})).await,
        "FORGED",
    );
    refused(
        &w.verify(&ids[0], json!({"qrCode": "not a ticket"})).await,
        "FORGED",
    );
    refused(
        &w.verify(&ids[0], json!({"qrCode": other})).await,
        "WRONG_TICKET",
    );
    let r = w
        .verify(&ids[0], json!({"qrCode": code, "sessionId": w.sessions[1]}))
        .await;
    refused(&r, "WRONG_SESSION");
    assert_eq!(r.data()["status"], "Issued", "a refused scan uses nothing");
    let r = w
        .verify(&ids[0], json!({"qrCode": code, "sessionId": w.sessions[0]}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["valid"], true);
    assert!(r.data().get("reason").is_none());
    assert_eq!(r.data()["status"], "Used");
    let used_at = r.data()["usedAt"].clone();
    let r = w.verify(&ids[0], json!({"qrCode": code})).await;
    refused(&r, "ALREADY_USED");
    assert_eq!(r.data()["usedAt"], used_at);
    w.t.stop().await;
}

async fn not_for_sale(db: Arc<TestDb>) {
    let w = world(&db, server_config()).await;
    let (_, alice) = w.t.customer("alice@example.com").await;
    let s = &w.sessions[0];
    let r = w.t.get(&format!("/v1/sessions/{s}/seats"), None).await;
    assert_eq!(r.status, 200);
    let areas = r.data()["areas"].as_array().unwrap();
    let z = areas.iter().find(|a| a["areaId"] == "Z").unwrap();
    for seat in z["seats"].as_array().unwrap() {
        assert_eq!(seat["status"], "NotForSale", "{seat}");
        assert!(seat.get("price").is_none());
    }
    let a = areas.iter().find(|a| a["areaId"] == "A").unwrap();
    assert_eq!(a["seats"][0]["status"], "Available");
    assert_eq!(r.data()["summary"]["notForSale"], 5);
    assert_eq!(r.data()["summary"]["available"], 40);
    assert_eq!(r.data()["summary"]["total"], 45);
    let r =
        w.t.get(&format!("/v1/sessions/{s}/seats/Z-002"), None)
            .await;
    assert_eq!(r.data()["status"], "NotForSale");
    let r = w.t.get("/v1/events", None).await;
    assert_eq!(
        r.data()["items"][0]["sessions"][0]["availableSeats"],
        40,
        "{:?}",
        r.body
    );

    let r =
        w.t.post(
            &format!("/v1/sessions/{s}/seats/lock"),
            Some(&alice),
            json!({"seatIds": ["A-001", "Z-001"]}),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(is_openticket_error(&r.body, "VALIDATION_ERROR"));
    assert_eq!(r.field(), "seatIds[1]");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not for sale")
    );
    let r =
        w.t.get(&format!("/v1/sessions/{s}/seats/A-001"), None)
            .await;
    assert_eq!(r.data()["status"], "Available", "nothing was locked");
    w.t.stop().await;
}

fn stripe_signature(body: &[u8], secret: &str) -> String {
    let t = Utc::now().timestamp();
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes()),
        &signed,
    );
    format!("t={t},v1={}", hex::encode(tag))
}

async fn stripe_edges(db: Arc<TestDb>) {
    let secret = "whsec_test_edges";
    let mut config = server_config();
    config.stripe_webhook_secret = Some(SecretString::from(secret));
    let t = TestServer::start_with(&db, config).await;

    for (path, words) in [
        (
            "/v1/payments/stripe/success?session_id=cs_test_<b>",
            "Payment received",
        ),
        ("/v1/payments/stripe/cancel", "Payment cancelled"),
    ] {
        let resp = t
            .http
            .get(format!("{}{path}", t.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let page = resp.text().await.unwrap();
        assert!(page.contains(words), "{page}");
        assert!(!page.contains("<b>"), "the session id is escaped: {page}");
    }

    // The document's own example (no `id`): accepted, deduplicated on type + session.
    let send = |body: Value| {
        let t = &t;
        async move {
            let raw = serde_json::to_vec(&body).unwrap();
            let sig = stripe_signature(&raw, secret);
            t.send_raw(
                Method::POST,
                "/v1/webhooks/payment/stripe",
                None,
                &[
                    ("content-type", "application/json"),
                    ("stripe-signature", &sig),
                ],
                raw,
            )
            .await
        }
    };
    let unpaid = json!({"type": "checkout.session.completed", "data": {"object": {
        "id": "cs_test_1", "payment_status": "unpaid",
        "metadata": {"order_id": "aa0e8400-e29b-41d4-a716-446655440000"}}}});
    let r = send(unpaid).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["received"], true);
    let paid = json!({"type": "checkout.session.completed", "data": {"object": {
        "id": "cs_test_2", "payment_status": "paid",
        "metadata": {"order_id": "aa0e8400-e29b-41d4-a716-446655440000"}}}});
    let r = send(paid).await;
    assert_eq!(
        r.status, 404,
        "read, then the order is unknown: {:?}",
        r.body
    );
    assert_eq!(r.body["error"]["details"]["resource"], "order");
    t.stop().await;
}

/// Every string that starts like a date-time, anywhere in `v`, with its JSON path.
fn timestamps_in(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => {
            let b = s.as_bytes();
            if b.len() >= 11
                && b[4] == b'-'
                && b[7] == b'-'
                && b[10] == b'T'
                && b[..4].iter().all(u8::is_ascii_digit)
            {
                out.push((at.to_owned(), s.clone()));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                timestamps_in(item, &format!("{at}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                timestamps_in(item, &format!("{at}.{k}"), out);
            }
        }
        _ => {}
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn is_millis_z(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b[19] == b'.'
        && b[23] == b'Z'
        && b[20..23].iter().all(u8::is_ascii_digit)
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

async fn timestamps(db: Arc<TestDb>) {
    let w = world(&db, server_config()).await;
    let (_, alice) = w.t.customer("alice@example.com").await;
    let order = w.buy(&alice, 0, &seats(1, 2)).await;
    let ticket = order["items"][0]["ticketId"].as_str().unwrap().to_owned();
    let s = w.sessions[0].clone();
    let event_id =
        w.call(Method::GET, "/v1/events", None, None).await.data()["items"][0]["eventId"]
            .as_str()
            .unwrap()
            .to_owned();
    for path in [
        "/v1/events".to_owned(),
        format!("/v1/events/{event_id}"),
        format!("/v1/sessions/{s}/seats/A-001"),
        "/v1/orders".to_owned(),
        "/v1/tickets".to_owned(),
        format!("/v1/tickets/{ticket}"),
        "/v1/auth/me".to_owned(),
    ] {
        w.call(Method::GET, &path, Some(&alice), None).await;
    }
    let code =
        w.t.get(&format!("/v1/tickets/{ticket}"), Some(&alice))
            .await
            .data()["qrCode"]
            .as_str()
            .unwrap()
            .to_owned();
    w.verify(&ticket, json!({"qrCode": code})).await;
    w.verify(&ticket, json!({"qrCode": code})).await;
    // An order placed and left, a lock, a session not on sale: their times too.
    w.call(
        Method::POST,
        &format!("/v1/sessions/{s}/seats/lock"),
        Some(&alice),
        Some(json!({"seatIds": ["A-030"]})),
    )
    .await;
    w.call(Method::GET, "/v1/no-such-route", None, None).await;

    let mut found = Vec::new();
    for body in w.seen.lock().unwrap().iter() {
        timestamps_in(body, "", &mut found);
    }
    assert!(found.len() > 30, "only {} timestamps seen", found.len());
    let bad: Vec<_> = found.iter().filter(|(_, s)| !is_millis_z(s)).collect();
    assert!(
        bad.is_empty(),
        "not RFC 3339 UTC with milliseconds: {bad:#?}"
    );
    for field in [
        ".data.createdAt",
        ".data.issuedAt",
        ".data.usedAt",
        ".meta.timestamp",
        ".data.expiresAt",
    ] {
        assert!(
            found.iter().any(|(at, _)| at == field),
            "{field} was not seen"
        );
    }
    w.t.stop().await;
}
