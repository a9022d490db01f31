//! Answers after a write (docs/decisions/0011-answer-after-write.md), over real HTTP on SQLite and
//! PostgreSQL: a command that committed never answers 5xx, even when the read models lag (four
//! big venues created at once), and a confirmed payment is answered only once the fulfilment it
//! triggered is readable (OpenTicket tickets on the order; meeting tickets in `GET /tickets`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration as ChronoDuration, FixedOffset, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tessera_tests::http::{Reply, TestServer};
use tessera_tests::{Suite, TestDb, exec_sql, scalar_i64};

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("parallel_big_venues_all_answer_2xx", parallel_big_venues)
        .case(
            "unreadable_write_answers_202_with_location",
            unreadable_write,
        )
        .case("openticket_paid_order_reads_with_tickets", openticket_paid)
        .case("meeting_paid_order_reads_with_tickets", meeting_paid)
        .run()
}

/// Seats per venue in the parallel case (`TESSERA_AFTER_WRITE_SEATS`, default 20,000): big enough
/// that four at once keep the projections busy past the 5 s read-your-writes wait on 2 cores.
fn big_venue_seats() -> usize {
    std::env::var("TESSERA_AFTER_WRITE_SEATS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

fn venue_body(name: &str, seats: usize) -> Value {
    let seats: Vec<Value> = (1..=seats)
        .map(|i| {
            json!({"seatId": format!("A-{i:06}"), "row": ((i - 1) / 50 + 1).to_string(),
                   "number": i, "x": (i - 1) % 50, "y": (i - 1) / 50})
        })
        .collect();
    json!({
        "name": name,
        "address": {"country": "TW", "city": "台北市"},
        "capacity": seats.len(),
        "seatMap": {"areas": [{"areaId": "A", "name": "A 區", "seats": seats}]},
    })
}

async fn parallel_big_venues(db: Arc<TestDb>) {
    let t = Arc::new(TestServer::start(&db).await);
    let admin = t.admin().await;
    let seats = big_venue_seats();
    let mut tasks = Vec::new();
    for n in 0..4 {
        let (t, admin) = (t.clone(), admin.clone());
        let body = venue_body(&format!("Arena {n}"), seats);
        tasks.push(tokio::spawn(async move {
            t.send_raw(
                Method::POST,
                "/v1/venues",
                Some(&admin),
                &[("content-type", "application/json")],
                serde_json::to_vec(&body).unwrap(),
            )
            .await
        }));
    }
    let mut ids = Vec::new();
    let mut statuses = Vec::new();
    for task in tasks {
        let r: Reply = task.await.unwrap();
        statuses.push(r.status.as_u16());
        assert!(
            r.status == 201 || r.status == 202,
            "a committed venue answered {}: {:?}",
            r.status,
            r.body
        );
        ids.push(r.data()["venueId"].as_str().unwrap().to_owned());
    }
    println!("{seats}-seat venues ×4 answered {statuses:?}");
    // Every answered id exists, and there is no fifth venue.
    for id in &ids {
        let seen = t
            .eventually(Duration::from_secs(120), || async {
                let r = t.get(&format!("/v1/venues/{id}"), None).await;
                (r.status == 200).then_some(r)
            })
            .await
            .unwrap_or_else(|| panic!("venue {id} never readable"));
        assert_eq!(seen.data()["seatCount"], seats);
    }
    let stored = scalar_i64(
        &db.url,
        "SELECT COUNT(*) FROM events WHERE event_type = 'OpenTicketVenueCreated'",
    )
    .await;
    assert_eq!(stored, 4);
    Arc::try_unwrap(t).ok().unwrap().stop().await;
}

/// POST `body` to `path`; the status, the `Location` and `Retry-After` headers and the JSON body.
async fn post_raw(
    t: &TestServer,
    path: &str,
    token: &str,
    body: &Value,
) -> (u16, Option<String>, Option<String>, Value) {
    let resp = t
        .http
        .post(format!("{}{path}", t.base))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (location, retry) = (header("location"), header("retry-after"));
    let status = resp.status().as_u16();
    (
        status,
        location,
        retry,
        resp.json().await.unwrap_or_default(),
    )
}

/// The read model a creation is read back from fails (its table renamed away while the command
/// runs): the committed write answers 202 with where to read it, in each document's format, and
/// is readable there once the table is back. Deterministic counterpart of the parallel case.
async fn unreadable_write(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    exec_sql(&db.url, "ALTER TABLE ot_venues RENAME TO ot_venues_away")
        .await
        .unwrap();
    let (status, location, retry, body) =
        post_raw(&t, "/v1/venues", &admin, &venue_body("Hidden", 10)).await;
    exec_sql(&db.url, "ALTER TABLE ot_venues_away RENAME TO ot_venues")
        .await
        .unwrap();
    assert_eq!(status, 202, "{body:?}");
    let id = body["data"]["venueId"].as_str().unwrap();
    assert_eq!(
        location.as_deref(),
        Some(format!("/v1/venues/{id}").as_str())
    );
    assert_eq!(retry.as_deref(), Some("1"));
    assert!(body["meta"]["requestId"].is_string());
    let seen = t
        .eventually(Duration::from_secs(30), || async {
            let r = t.get(location.as_deref().unwrap(), None).await;
            (r.status == 200).then_some(r)
        })
        .await
        .expect("readable at Location");
    assert_eq!(seen.data()["name"], "Hidden");
    let stored = scalar_i64(
        &db.url,
        "SELECT COUNT(*) FROM events WHERE event_type = 'OpenTicketVenueCreated'",
    )
    .await;
    assert_eq!(stored, 1);

    // Meeting: the same, in its own shape.
    let start = Utc::now() + ChronoDuration::days(7);
    let meeting = json!({
        "title": "Conference", "startTime": start.to_rfc3339(),
        "endTime": (start + ChronoDuration::hours(8)).to_rfc3339(),
        "ticketGrades": [{"name": "普通票", "price": 10, "stock": 5}],
    });
    exec_sql(
        &db.url,
        "ALTER TABLE mt_meetings RENAME TO mt_meetings_away",
    )
    .await
    .unwrap();
    let (status, location, _, body) = post_raw(&t, "/meetings", &admin, &meeting).await;
    exec_sql(
        &db.url,
        "ALTER TABLE mt_meetings_away RENAME TO mt_meetings",
    )
    .await
    .unwrap();
    assert_eq!(status, 202, "{body:?}");
    let id = body["id"].as_str().unwrap();
    assert_eq!(
        location.as_deref(),
        Some(format!("/meetings/{id}").as_str())
    );
    t.eventually(Duration::from_secs(30), || async {
        (t.get(&format!("/meetings/{id}"), None).await.status == 200).then_some(())
    })
    .await
    .expect("meeting readable at Location");
    t.stop().await;
}

/// An event on sale now over a fresh 10-seat venue; returns the session id.
async fn session(t: &TestServer, admin: &str) -> String {
    let r = t
        .post("/v1/venues", Some(admin), venue_body("Hall", 10))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let venue_id = r.data()["venueId"].as_str().unwrap().to_owned();
    let tz = FixedOffset::east_opt(8 * 3600).unwrap();
    let now = Utc::now().with_timezone(&tz);
    let at = |d: ChronoDuration| (now + d).to_rfc3339();
    let event = json!({
        "name": "Concert",
        "venueId": venue_id,
        "sessions": [{"startTime": at(ChronoDuration::days(2)),
                      "endTime": at(ChronoDuration::days(2) + ChronoDuration::hours(3)),
                      "saleStartTime": at(-ChronoDuration::hours(1)),
                      "saleEndTime": at(ChronoDuration::days(1))}],
        "priceCategories": [{"categoryId": "A", "name": "A", "areaIds": ["A"],
                             "price": {"amount": 100, "currency": "TWD"}}],
    });
    let r = t.post("/v1/events", Some(admin), event).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.data()["sessions"][0]["sessionId"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn sign_mock(body: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b"mock-webhook-secret");
    format!("sha256={}", hex::encode(aws_lc_rs::hmac::sign(&key, body)))
}

/// Check an OpenTicket order right after its payment was confirmed: completed, each seat with its
/// ticket, and the tickets listed.
async fn completed_at_once(t: &TestServer, token: &str, order_id: &str, seats: usize, how: &str) {
    let r = t.get(&format!("/v1/orders/{order_id}"), Some(token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.data()["status"],
        "Completed",
        "right after {how}: {:?}",
        r.data()
    );
    let items = r.data()["items"].as_array().unwrap();
    assert_eq!(items.len(), seats);
    for item in items {
        assert!(item["ticketId"].is_string(), "after {how}: {item}");
    }
}

async fn openticket_paid(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let session_id = session(&t, &admin).await;
    let (_, alice) = t.customer("alice@example.com").await;
    let mut tickets = 0;
    // Several orders, so that a confirmation answered before fulfilment is caught.
    for (n, pay) in ["mock page", "webhook", "mock page", "webhook", "mock page"]
        .into_iter()
        .enumerate()
    {
        let seats = [format!("A-{:06}", 2 * n + 1), format!("A-{:06}", 2 * n + 2)];
        let path = format!("/v1/sessions/{session_id}/seats/lock");
        let r = t.post(&path, Some(&alice), json!({"seatIds": seats})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let r = t
            .post(
                "/v1/orders",
                Some(&alice),
                json!({"sessionId": session_id, "seatIds": seats, "paymentProvider": "Mock"}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let order_id = r.data()["orderId"].as_str().unwrap().to_owned();
        let payment_id = r.data()["payment"]["paymentId"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = if pay == "webhook" {
            let body = serde_json::to_vec(
                &json!({"id": format!("evt_{n}"), "type": "payment.succeeded",
                "data": {"orderId": order_id, "paymentId": payment_id}}),
            )
            .unwrap();
            let sig = sign_mock(&body);
            t.send_raw(
                Method::POST,
                "/v1/webhooks/payment/mock",
                None,
                &[
                    ("content-type", "application/json"),
                    ("x-webhook-signature", &sig),
                ],
                body,
            )
            .await
        } else {
            let path = format!("/v1/mock-payment/{payment_id}/confirm");
            t.send(Method::POST, &path, None, None).await
        };
        assert_eq!(r.status, 200, "{pay}: {:?}", r.body);
        completed_at_once(&t, &alice, &order_id, 2, pay).await;
        tickets += 2;
        let r = t.get("/v1/tickets", Some(&alice)).await;
        assert_eq!(r.data()["items"].as_array().unwrap().len(), tickets);
    }
    t.stop().await;
}

async fn call(t: &TestServer, m: Method, path: &str, token: Option<&str>, body: Value) -> Reply {
    t.send(m, path, token, Some(body)).await
}

/// A phone user signed in through the development WeChat verifier; returns the access token.
async fn phone_user(t: &TestServer, n: usize) -> String {
    let phone = format!("138{n:08}");
    let wechat_id = format!("o-wx-{n}");
    let r = call(t, Method::POST, "/smsCodes", None, json!({"phone": phone})).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let wechat = json!({"wechatId": wechat_id, "wechatToken": format!("dev:{wechat_id}")});
    let r = call(t, Method::POST, "/wechat_tokens", None, wechat).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let code = t
        .server
        .services
        .console_sms
        .as_ref()
        .expect("console SMS sender")
        .last_code(&phone)
        .expect("a code was sent");
    let user = json!({"wechatId": wechat_id, "phone": phone, "smsCode": code});
    let r = call(t, Method::POST, "/users", None, user).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let token = json!({"type": "wechat", "wechatId": wechat_id,
                       "wechatToken": format!("dev:{wechat_id}")});
    let r = call(t, Method::POST, "/tokens", None, token).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["access_token"].as_str().unwrap().to_owned()
}

async fn meeting_paid(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let buyer = phone_user(&t, 1).await;
    let start = Utc::now() + ChronoDuration::days(7);
    let meeting = json!({
        "title": "Conference", "startTime": start.to_rfc3339(),
        "endTime": (start + ChronoDuration::hours(8)).to_rfc3339(),
        "ticketGrades": [{"name": "普通票", "price": 10, "stock": 50}], "status": "onSale",
    });
    let r = call(&t, Method::POST, "/meetings", Some(&admin), meeting).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let meeting_id = r.body["id"].as_str().unwrap().to_owned();
    let grade = r.body["ticketGrades"][0]["id"].as_str().unwrap().to_owned();
    let mut tickets = 0;
    for n in 0..5 {
        let order = json!({
            "items": [{"ticketGradeId": grade, "ticketPrice": 10, "ticketAmount": 2, "meetingId": meeting_id}],
            "meetingId": meeting_id, "paymentMethodId": "mock",
        });
        let r = call(&t, Method::POST, "/orders", Some(&buyer), order).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let order_id = r.body["id"].as_str().unwrap().to_owned();
        let paid = json!({"orderId": order_id, "transactionId": format!("mock_{n}")});
        let r = call(
            &t,
            Method::POST,
            "/third_party_transactions",
            Some(&buyer),
            paid,
        )
        .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        assert_eq!(r.body["status"], "已支付");
        tickets += 2;
        let r = t.get("/tickets", Some(&buyer)).await;
        let mine: Vec<&Value> = r
            .body
            .as_array()
            .unwrap()
            .iter()
            .filter(|tk| tk["orderId"] == order_id.as_str())
            .collect();
        assert_eq!(mine.len(), 2, "right after paying order {n}: {:?}", r.body);
        assert_eq!(r.body.as_array().unwrap().len(), tickets);
    }
    t.stop().await;
}
