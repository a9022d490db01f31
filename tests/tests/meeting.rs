//! Meeting tickets (seed 000) end to end over real HTTP, on SQLite and PostgreSQL: SMS and WeChat
//! sign-in, users, tokens, meetings and grades, orders with stock, cancellation and expiry, Mock
//! payments, ticket issuing and attendee claims, plus the races the issue names (100 buyers for 30
//! tickets; 20 claims of one ticket; one attendee claiming several tickets) checked against the read
//! models and a replay of the event store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration as ChronoDuration, SubsecRound, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tessera_application::StreamId;
use tessera_application::command::load;
use tessera_domain::meeting::Meeting;
use tessera_tests::http::{Reply, TestServer, server_config};
use tessera_tests::{Suite, TestDb};

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("sms_codes_cool_down_and_attempts", sms_codes)
        .case("users_tokens_and_current_user", users_and_tokens)
        .case("meetings_orders_payments_tickets", order_flow)
        .case("unpaid_orders_expire_and_late_payments", expiry)
        .case("bad_input_is_a_clear_4xx", bad_input)
        .case("organizer_writes_meetings_and_grades", organizer_writes)
        .case("hundred_buyers_thirty_tickets", stock_race)
        .case("concurrent_claims", claim_races)
        .case("meeting_pages_answer_206_with_content_range", meeting_pages)
        .case("every_instant_shows_milliseconds", instants)
        .run()
}

fn config() -> tessera_api::ServerConfig {
    let mut c = server_config();
    c.meeting.sms_cooldown_secs = 1;
    c
}

/// Send with a JSON body and optional bearer token.
async fn call(t: &TestServer, m: Method, path: &str, token: Option<&str>, body: Value) -> Reply {
    t.send(m, path, token, Some(body)).await
}

fn last_code(t: &TestServer, phone: &str) -> String {
    t.server
        .services
        .console_sms
        .as_ref()
        .expect("console SMS sender")
        .last_code(phone)
        .expect("a code was sent")
}

fn phone(n: usize) -> String {
    format!("138{n:08}")
}

/// Register a phone user (SMS code, WeChat token, user, token); returns (user id, access token).
async fn phone_user(t: &TestServer, n: usize) -> (String, String) {
    let phone = phone(n);
    let wechat_id = format!("o-wx-{n}");
    let r = call(t, Method::POST, "/smsCodes", None, json!({"phone": phone})).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let r = call(
        t,
        Method::POST,
        "/wechat_tokens",
        None,
        json!({"wechatId": wechat_id, "wechatToken": format!("dev:{wechat_id}")}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let code = last_code(t, &phone);
    let r = call(
        t,
        Method::POST,
        "/users",
        None,
        json!({"wechatId": wechat_id, "phone": phone, "smsCode": code}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let user_id = r.body["id"].as_str().unwrap().to_owned();
    let r = call(
        t,
        Method::POST,
        "/tokens",
        None,
        json!({"type": "wechat", "wechatId": wechat_id, "wechatToken": format!("dev:{wechat_id}")}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    (user_id, r.body["access_token"].as_str().unwrap().to_owned())
}

/// A meeting on sale with one grade 普通票 at 99.5 yuan and `stock` tickets; returns (meeting id,
/// grade id).
async fn meeting(t: &TestServer, admin: &str, stock: u32) -> (String, String) {
    let start = Utc::now() + ChronoDuration::days(7);
    let r = call(
        t,
        Method::POST,
        "/meetings",
        Some(admin),
        json!({
            "title": "2026 开发者大会",
            "description": "年度技术会议",
            "location": "上海国际会议中心",
            "startTime": start.to_rfc3339(),
            "endTime": (start + ChronoDuration::hours(8)).to_rfc3339(),
            "ticketGrades": [{"name": "普通票", "price": 99.5, "stock": stock}],
            "status": "onSale",
        }),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["ticketGrades"][0]["id"].as_str().unwrap().to_owned(),
    )
}

fn order_body(meeting: &str, grade: &str, amount: u32, price: Value) -> Value {
    json!({
        "items": [{"ticketGradeId": grade, "ticketPrice": price, "ticketAmount": amount, "meetingId": meeting}],
        "meetingId": meeting,
        "paymentMethodId": "mock",
    })
}

async fn remaining(t: &TestServer, meeting: &str) -> i64 {
    let r = t.get(&format!("/meetings/{meeting}"), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["ticketGrades"][0]["remaining"].as_i64().unwrap()
}

async fn sms_codes(db: Arc<TestDb>) {
    let mut c = server_config();
    c.meeting.sms_cooldown_secs = 60;
    c.meeting.sms_max_attempts = 3;
    let t = TestServer::start_with(&db, c).await;
    let r = call(
        &t,
        Method::POST,
        "/smsCodes",
        None,
        json!({"phone": "13800138000"}),
    )
    .await;
    assert_eq!(r.status, 202);
    assert!(r.body["createdAt"].as_str().unwrap().ends_with('Z'));
    let first = last_code(&t, "13800138000");
    assert_eq!(first.len(), 6);
    // Within the cool-down: a clear 4xx, and no new code.
    let r = call(
        &t,
        Method::POST,
        "/smsCodes",
        None,
        json!({"phone": "13800138000"}),
    )
    .await;
    assert_eq!(r.status, 429, "{:?}", r.body);
    assert_eq!(r.body["type"], "Too Many Requests");
    assert_eq!(last_code(&t, "13800138000"), first);
    // Bad phone numbers name the field.
    for bad in ["1380013800", "23800138000", "abc"] {
        let r = call(&t, Method::POST, "/smsCodes", None, json!({"phone": bad})).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.body["type"], "Validation Error");
        assert_eq!(r.body["errors"]["phone"], "手机号应为11位数字");
    }
    // Wrong codes count; after three the right one no longer works.
    let wrong = if first == "000000" {
        "111111"
    } else {
        "000000"
    };
    let r = call(
        &t,
        Method::POST,
        "/wechat_tokens",
        None,
        json!({"wechatId": "o-attempts", "wechatToken": "dev:o-attempts"}),
    )
    .await;
    assert_eq!(r.status, 201);
    for left in [2, 1, 0] {
        let r = call(
            &t,
            Method::POST,
            "/users",
            None,
            json!({"wechatId": "o-attempts", "phone": "13800138000", "smsCode": wrong}),
        )
        .await;
        assert_eq!(r.status, 400);
        assert_eq!(
            r.body["errors"]["smsCode"],
            format!("验证码错误，还可尝试{left}次")
        );
        assert_eq!(r.body["payload"]["phone"], "13800138000");
    }
    let r = call(
        &t,
        Method::POST,
        "/users",
        None,
        json!({"wechatId": "o-attempts", "phone": "13800138000", "smsCode": first}),
    )
    .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["errors"]["smsCode"], "验证码已失效，请重新获取");
    t.stop().await;
}

async fn users_and_tokens(db: Arc<TestDb>) {
    let t = TestServer::start_with(&db, config()).await;
    // A WeChat token WeChat refuses.
    let r = call(
        &t,
        Method::POST,
        "/wechat_tokens",
        None,
        json!({"wechatId": "o-1", "wechatToken": "forged"}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body["errors"]["wechatToken"].is_string());
    // A WeChat id nobody verified cannot register.
    call(
        &t,
        Method::POST,
        "/smsCodes",
        None,
        json!({"phone": phone(1)}),
    )
    .await;
    let r = call(
        &t,
        Method::POST,
        "/users",
        None,
        json!({"wechatId": "o-unverified", "phone": phone(1), "smsCode": last_code(&t, &phone(1))}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body["errors"]["wechatId"].is_string());

    // GET /users/current: 404 for a verified WeChat user without an account (by cookie).
    let r = call(
        &t,
        Method::POST,
        "/wechat_tokens",
        None,
        json!({"wechatId": "o-1", "wechatToken": "dev:o-1"}),
    )
    .await;
    assert_eq!(r.status, 201);
    let current = |cookie: String| {
        let req = t
            .http
            .get(format!("{}/users/current", t.base))
            .header("cookie", cookie);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(current("wechatToken=dev:o-1".into()).await, 404);
    assert_eq!(current(String::new()).await, 401);

    let (user_id, token) = phone_user(&t, 2).await;
    let r = t.get("/users/current", Some(&token)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], user_id.as_str());
    assert_eq!(r.body["phone"], phone(2));
    assert_eq!(r.body["wechatId"], "o-wx-2");
    assert_eq!(current(format!("access_token={token}")).await, 200);
    // A known WeChat user without a valid access token is "not signed in".
    assert_eq!(current("wechatToken=dev:o-wx-2".into()).await, 401);
    assert_eq!(current("access_token=garbage".into()).await, 401);

    // Duplicates: the same WeChat id, then the same phone.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    call(
        &t,
        Method::POST,
        "/smsCodes",
        None,
        json!({"phone": phone(3)}),
    )
    .await;
    let r = call(
        &t,
        Method::POST,
        "/users",
        None,
        json!({"wechatId": "o-wx-2", "phone": phone(3), "smsCode": last_code(&t, &phone(3))}),
    )
    .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["type"], "Duplicated Wechat Id");
    call(
        &t,
        Method::POST,
        "/wechat_tokens",
        None,
        json!({"wechatId": "o-other", "wechatToken": "dev:o-other"}),
    )
    .await;
    call(
        &t,
        Method::POST,
        "/smsCodes",
        None,
        json!({"phone": phone(2)}),
    )
    .await;
    let r = call(
        &t,
        Method::POST,
        "/users",
        None,
        json!({"wechatId": "o-other", "phone": phone(2), "smsCode": last_code(&t, &phone(2))}),
    )
    .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["type"], "Duplicated Phone");

    // Phone + SMS code sign-in.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    call(
        &t,
        Method::POST,
        "/smsCodes",
        None,
        json!({"phone": phone(2)}),
    )
    .await;
    let r = call(
        &t,
        Method::POST,
        "/tokens",
        None,
        json!({"phone": phone(2), "smsCode": last_code(&t, &phone(2))}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(r.body["expires_at"].as_str().unwrap().ends_with('Z'));
    let r = t
        .get("/users/current", r.body["access_token"].as_str())
        .await;
    assert_eq!(r.body["id"], user_id.as_str());
    // WeChat sign-in of a WeChat id without a user: 404.
    let r = call(
        &t,
        Method::POST,
        "/tokens",
        None,
        json!({"type": "wechat", "wechatId": "o-other", "wechatToken": "dev:o-other"}),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = call(
        &t,
        Method::POST,
        "/tokens",
        None,
        json!({"type": "wechat", "wechatId": "o-wx-2", "wechatToken": "stolen"}),
    )
    .await;
    assert_eq!(r.status, 401);

    // Concurrent registrations of one phone with different WeChat ids: exactly one wins.
    for i in 0..8 {
        call(
            &t,
            Method::POST,
            "/wechat_tokens",
            None,
            json!({"wechatId": format!("o-race-{i}"), "wechatToken": format!("dev:o-race-{i}")}),
        )
        .await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    call(
        &t,
        Method::POST,
        "/smsCodes",
        None,
        json!({"phone": phone(9)}),
    )
    .await;
    let code = last_code(&t, &phone(9));
    let t = Arc::new(t);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let t = t.clone();
        let code = code.clone();
        tasks.push(tokio::spawn(async move {
            call(
                &t,
                Method::POST,
                "/users",
                None,
                json!({"wechatId": format!("o-race-{i}"), "phone": phone(9), "smsCode": code}),
            )
            .await
        }));
    }
    let mut created = 0;
    for task in tasks {
        let r = task.await.unwrap();
        match r.status.as_u16() {
            201 => created += 1,
            409 => assert_eq!(r.body["type"], "Duplicated Phone"),
            // The single SMS code is used up by the winner.
            400 => assert!(r.body["errors"]["smsCode"].is_string(), "{:?}", r.body),
            other => panic!("unexpected {other}: {:?}", r.body),
        }
    }
    assert_eq!(created, 1);
    Arc::try_unwrap(t).ok().unwrap().stop().await;
}

async fn order_flow(db: Arc<TestDb>) {
    let t = TestServer::start_with(&db, config()).await;
    let admin = t.admin().await;
    let (_, buyer) = phone_user(&t, 1).await;
    let (_, other) = phone_user(&t, 2).await;

    // Customers cannot create meetings.
    let r = call(
        &t,
        Method::POST,
        "/meetings",
        Some(&buyer),
        json!({"title": "x"}),
    )
    .await;
    assert!(r.status == 403 || r.status == 400, "{:?}", r.body);
    let r = call(
        &t,
        Method::POST,
        "/meetings",
        Some(&buyer),
        json!({"title": "x", "startTime": Utc::now().to_rfc3339(), "endTime": (Utc::now() + ChronoDuration::hours(1)).to_rfc3339()}),
    )
    .await;
    assert_eq!(r.status, 403);
    let (meeting_id, grade) = meeting(&t, &admin, 5).await;
    let r = t.get("/meetings", None).await;
    assert_eq!(r.status, 200);
    assert!(
        r.body
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == meeting_id.as_str())
    );
    let r = t.get(&format!("/meetings/{meeting_id}"), None).await;
    assert_eq!(r.body["ticketGrades"][0]["price"], json!(99.5));
    assert_eq!(r.body["status"], "onSale");

    let r = t.get("/payment_methods", Some(&buyer)).await;
    assert_eq!(r.status, 200);
    assert!(r.body.as_array().unwrap().iter().any(|m| m["id"] == "mock"));

    // A stale price is a validation error naming the line's price.
    let r = call(
        &t,
        Method::POST,
        "/orders",
        Some(&buyer),
        order_body(&meeting_id, &grade, 1, json!(88)),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["errors"]["items[0].ticketPrice"].is_string(),
        "{:?}",
        r.body
    );
    // More than the stock: No Stock with how many remain.
    let r = call(
        &t,
        Method::POST,
        "/orders",
        Some(&buyer),
        order_body(&meeting_id, &grade, 6, json!(99.5)),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["type"], "No Stock");
    assert_eq!(r.body["errors"]["items"][0]["amount"], 5);
    assert_eq!(r.body["payload"]["meetingId"], meeting_id.as_str());

    // Order, cancel (stock returns), order again, pay.
    let r = call(
        &t,
        Method::POST,
        "/orders",
        Some(&buyer),
        order_body(&meeting_id, &grade, 2, json!(99.50)),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["status"], "待支付");
    // Order ids are what the buyer acts on: random (UUIDv4), not time-ordered.
    assert_eq!(version_of(&r.body["id"]), 4, "{:?}", r.body["id"]);
    assert_eq!(r.body["duyPayment"], json!(199));
    let first = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(remaining(&t, &meeting_id).await, 3);
    let r = t.get(&format!("/orders/{first}"), Some(&other)).await;
    assert_eq!(r.status, 404, "another user's order is a 404");
    let r = call(
        &t,
        Method::PATCH,
        &format!("/orders/{first}"),
        Some(&buyer),
        json!({"status": "已支付"}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body["errors"]["status"].is_string());
    let r = call(
        &t,
        Method::PATCH,
        &format!("/orders/{first}"),
        Some(&buyer),
        json!({"status": "已取消"}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "已取消");
    assert_eq!(remaining(&t, &meeting_id).await, 5);
    let r = call(
        &t,
        Method::PATCH,
        &format!("/orders/{first}"),
        Some(&buyer),
        json!({"status": "已取消"}),
    )
    .await;
    assert_eq!(r.status, 200, "cancelling twice changes nothing");

    let r = call(
        &t,
        Method::POST,
        "/orders",
        Some(&buyer),
        order_body(&meeting_id, &grade, 2, json!(99.5)),
    )
    .await;
    assert_eq!(r.status, 201);
    let order = r.body["id"].as_str().unwrap().to_owned();
    let r = call(
        &t,
        Method::POST,
        "/transactions",
        Some(&buyer),
        json!({"orderId": order}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["amount"], json!(199));
    assert_eq!(r.body["paymentMethodId"], "mock");
    let r = call(
        &t,
        Method::POST,
        "/third_party_transactions",
        Some(&buyer),
        json!({"orderId": order, "transactionId": "not-mock"}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body["errors"]["transactionId"].is_string());
    let r = call(
        &t,
        Method::POST,
        "/third_party_transactions",
        Some(&buyer),
        json!({"orderId": order, "transactionId": "mock_1"}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["status"], "已支付");
    assert_eq!(r.body["transactionId"], "mock_1");
    // Reported twice: harmless.
    let r = call(
        &t,
        Method::POST,
        "/third_party_transactions",
        Some(&buyer),
        json!({"orderId": order, "transactionId": "mock_1"}),
    )
    .await;
    assert_eq!(r.status, 201);
    let r = call(
        &t,
        Method::PATCH,
        &format!("/orders/{order}"),
        Some(&buyer),
        json!({"status": "已取消"}),
    )
    .await;
    assert_eq!(r.status, 400, "a paid order cannot be cancelled");
    let r = t.get("/orders", Some(&buyer)).await;
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    let r = t.get("/orders?status=已支付", Some(&buyer)).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);

    // Two tickets are issued by the process manager.
    let tickets = t
        .eventually(Duration::from_secs(10), || async {
            let r = t.get("/tickets", Some(&buyer)).await;
            let list = r.body.as_array().cloned().unwrap_or_default();
            (list.len() == 2).then_some(list)
        })
        .await
        .expect("two tickets issued");
    let a = tickets[0]["id"].as_str().unwrap().to_owned();
    let b = tickets[1]["id"].as_str().unwrap().to_owned();
    // Ticket ids are random: not derivable from the order (the UUIDv5 scheme they replaced).
    for ticket in &tickets {
        assert_eq!(version_of(&ticket["id"]), 4, "{ticket:?}");
    }
    assert_eq!(
        t.get(&format!("/tickets/{a}"), Some(&other)).await.status,
        404
    );
    let person = |name: &str, phone: &str| json!({"participant": {"name": name, "phone": phone}});
    // Holding the id is not enough: only the buyer names the participant (404, as for reading).
    let r = call(
        &t,
        Method::PATCH,
        &format!("/tickets/{a}"),
        Some(&other),
        person("李四", &phone(2)),
    )
    .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert_eq!(r.body["type"], "Not Found");
    let r = call(
        &t,
        Method::PATCH,
        &format!("/tickets/{a}"),
        Some(&buyer),
        person("张三", "13900000001"),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["participant"]["phone"], "13900000001");
    let r = call(
        &t,
        Method::PATCH,
        &format!("/tickets/{a}"),
        Some(&buyer),
        person("李四", "13900000002"),
    )
    .await;
    assert_eq!(r.status, 410);
    assert_eq!(r.body["type"], "Already Taken");
    let r = call(
        &t,
        Method::PATCH,
        &format!("/tickets/{b}"),
        Some(&buyer),
        person("张三", "13900000001"),
    )
    .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["type"], "One for One");
    // The ticket whose claim was refused is still free for someone else.
    let r = call(
        &t,
        Method::PATCH,
        &format!("/tickets/{b}"),
        Some(&buyer),
        person("王五", &phone(2)),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // The participant sees the ticket they attend on, but does not name its participant.
    let r = t.get(&format!("/tickets/{b}"), Some(&other)).await;
    assert_eq!(r.status, 200);
    let r = call(
        &t,
        Method::PATCH,
        &format!("/tickets/{b}"),
        Some(&other),
        person("王五", &phone(2)),
    )
    .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    assert_eq!(r.body["type"], "Forbidden");
    assert_eq!(
        t.get("/tickets", Some(&other))
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(remaining(&t, &meeting_id).await, 3);
    t.stop().await;
}

async fn expiry(db: Arc<TestDb>) {
    let mut c = config();
    c.meeting.meeting_order_ttl_secs = 1;
    let t = TestServer::start_with(&db, c).await;
    let admin = t.admin().await;
    let (_, buyer) = phone_user(&t, 1).await;
    let (_, rival) = phone_user(&t, 2).await;
    let (meeting_id, grade) = meeting(&t, &admin, 2).await;
    let place = |token: String| {
        let body = order_body(&meeting_id, &grade, 2, json!(99.5));
        let t = &t;
        async move {
            let r = call(t, Method::POST, "/orders", Some(&token), body).await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            r.body["id"].as_str().unwrap().to_owned()
        }
    };
    let expired_status = |order: String, token: String| {
        let t = &t;
        async move {
            t.eventually(Duration::from_secs(10), || async {
                let r = t.get(&format!("/orders/{order}"), Some(&token)).await;
                (r.body["status"] == "已过期").then_some(())
            })
            .await
            .is_some()
        }
    };
    // Expiry returns the stock; a late payment with the stock still there is fulfilled.
    let first = place(buyer.clone()).await;
    assert_eq!(remaining(&t, &meeting_id).await, 0);
    assert!(
        expired_status(first.clone(), buyer.clone()).await,
        "order expired"
    );
    // The deadline returns the stock right after expiring the order (a second append).
    let returned = t
        .eventually(Duration::from_secs(10), || async {
            (remaining(&t, &meeting_id).await == 2).then_some(())
        })
        .await;
    assert!(returned.is_some(), "stock returned after expiry");
    let r = call(
        &t,
        Method::POST,
        "/third_party_transactions",
        Some(&buyer),
        json!({"orderId": first, "transactionId": "mock_late"}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["status"], "已支付");
    assert_eq!(remaining(&t, &meeting_id).await, 0);

    // Another expired order whose stock is gone: the payment needs a refund.
    let r = call(
        &t,
        Method::POST,
        &format!("/meetings/{meeting_id}/ticket_grades"),
        Some(&admin),
        json!({"name": "加场", "price": 10, "stock": 1}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let extra = r.body["ticketGrades"][1]["id"].as_str().unwrap().to_owned();
    let body = order_body(&meeting_id, &extra, 1, json!(10));
    let r = call(&t, Method::POST, "/orders", Some(&rival), body.clone()).await;
    let late = r.body["id"].as_str().unwrap().to_owned();
    assert!(expired_status(late.clone(), rival.clone()).await);
    let r = call(&t, Method::POST, "/orders", Some(&buyer), body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = call(
        &t,
        Method::POST,
        "/third_party_transactions",
        Some(&rival),
        json!({"orderId": late, "transactionId": "mock_too_late"}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["status"], "待退款");
    assert_eq!(r.body["refund"]["amount"], json!(10));
    t.stop().await;
}

async fn bad_input(db: Arc<TestDb>) {
    let t = TestServer::start_with(&db, config()).await;
    let admin = t.admin().await;
    let (_, buyer) = phone_user(&t, 1).await;
    let (meeting_id, grade) = meeting(&t, &admin, 5).await;
    // Malformed JSON and wrong types.
    let r = t
        .send_raw(
            Method::POST,
            "/orders",
            Some(&buyer),
            &[("content-type", "application/json")],
            b"{nope".to_vec(),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["type"], "Validation Error");
    assert!(r.body["errors"]["body"].is_string());
    let cases = [
        (
            json!({"items": [], "meetingId": meeting_id, "paymentMethodId": "mock"}),
            "items",
        ),
        (
            json!({"items": [{"ticketGradeId": grade, "ticketPrice": 99.5, "ticketAmount": 0}], "meetingId": meeting_id, "paymentMethodId": "mock"}),
            "items[0].ticketAmount",
        ),
        (
            json!({"items": [{"ticketGradeId": grade, "ticketPrice": 99.5, "ticketAmount": -3}], "meetingId": meeting_id, "paymentMethodId": "mock"}),
            "items[0].ticketAmount",
        ),
        (
            json!({"items": [{"ticketGradeId": "not-a-uuid", "ticketPrice": 99.5, "ticketAmount": 1}], "meetingId": meeting_id, "paymentMethodId": "mock"}),
            "items[0].ticketGradeId",
        ),
        (
            json!({"items": [{"ticketGradeId": grade, "ticketPrice": "abc", "ticketAmount": 1}], "meetingId": meeting_id, "paymentMethodId": "mock"}),
            "items[0].ticketPrice",
        ),
        // Prices are JSON numbers (seed 000): numeric strings are refused too.
        (
            json!({"items": [{"ticketGradeId": grade, "ticketPrice": "99.5", "ticketAmount": 1}], "meetingId": meeting_id, "paymentMethodId": "mock"}),
            "items[0].ticketPrice",
        ),
        (
            json!({"items": [{"ticketGradeId": grade, "ticketPrice": " 99.5 ", "ticketAmount": 1}], "meetingId": meeting_id, "paymentMethodId": "mock"}),
            "items[0].ticketPrice",
        ),
        (
            json!({"items": [{"ticketGradeId": grade, "ticketPrice": 99.5, "ticketAmount": "1"}], "meetingId": meeting_id, "paymentMethodId": "mock"}),
            "items[0].ticketAmount",
        ),
        (
            json!({"items": [{"ticketGradeId": grade, "ticketPrice": 99.5, "ticketAmount": 1.5}], "meetingId": meeting_id, "paymentMethodId": "mock"}),
            "items[0].ticketAmount",
        ),
        (
            json!({"items": [{"ticketGradeId": uuid::Uuid::now_v7(), "ticketPrice": 99.5, "ticketAmount": 1}], "meetingId": meeting_id, "paymentMethodId": "mock"}),
            "items[0].ticketGradeId",
        ),
        (
            json!({"items": [{"ticketGradeId": grade, "ticketPrice": 99.5, "ticketAmount": 1}], "meetingId": uuid::Uuid::now_v7(), "paymentMethodId": "mock"}),
            "meetingId",
        ),
        (
            json!({"items": [{"ticketGradeId": grade, "ticketPrice": 99.5, "ticketAmount": 1}], "meetingId": meeting_id, "paymentMethodId": "bitcoin"}),
            "paymentMethodId",
        ),
        (
            json!({"items": [{"ticketGradeId": grade, "ticketPrice": 99.5, "ticketAmount": 1}], "meetingId": meeting_id}),
            "paymentMethodId",
        ),
        (
            json!({"items": [{"ticketGradeId": grade, "ticketPrice": 99.5, "ticketAmount": 1}], "meetingId": meeting_id, "paymentMethodId": "wechatpay"}),
            "paymentMethodId",
        ),
    ];
    for (body, field) in cases {
        let r = call(&t, Method::POST, "/orders", Some(&buyer), body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert_eq!(r.body["type"], "Validation Error", "{body}");
        assert!(
            r.body["errors"][field].is_string(),
            "{field} named in {:?}",
            r.body
        );
    }
    // Nothing was reserved by any of them.
    assert_eq!(remaining(&t, &meeting_id).await, 5);
    assert_eq!(
        t.get("/orders", Some(&buyer))
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // Unknown and malformed ids are 404; pages are checked.
    assert_eq!(t.get("/meetings/nope", None).await.status, 404);
    assert_eq!(
        t.get(&format!("/meetings/{}", uuid::Uuid::now_v7()), None)
            .await
            .status,
        404
    );
    assert_eq!(t.get("/orders/nope", Some(&buyer)).await.status, 404);
    assert_eq!(t.get("/tickets/nope", Some(&buyer)).await.status, 404);
    for q in ["pageSize=0", "pageSize=101", "page=-1", "pageSize=x"] {
        let r = t.get(&format!("/meetings?{q}"), None).await;
        assert_eq!(r.status, 400, "{q}");
    }
    // Signed-in routes refuse anonymous callers with the document's shape.
    let r = t.get("/orders", None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["type"], "Unauthorized");
    let r = call(
        &t,
        Method::PATCH,
        &format!("/tickets/{}", uuid::Uuid::now_v7()),
        Some(&buyer),
        json!({"participant": {"name": "", "phone": "1"}}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body["errors"]["participant.name"].is_string());
    let r = call(&t, Method::POST, "/meetings", Some(&admin), json!({"title": "x", "startTime": "2026-01-02T00:00:00Z", "endTime": "2026-01-01T00:00:00Z"})).await;
    assert_eq!(r.status, 400);
    assert!(r.body["errors"]["endTime"].is_string(), "{:?}", r.body);
    for price in [
        json!(1.234),
        json!("10"),
        json!(" 10 "),
        json!(-0.01),
        json!(1_000_000.01),
        json!(1e300),
        json!(0.30000000000000004),
    ] {
        let r = call(&t, Method::POST, "/meetings", Some(&admin), json!({"title": "x", "startTime": "2026-01-01T00:00:00Z", "endTime": "2026-01-02T00:00:00Z", "ticketGrades": [{"name": "a", "price": price, "stock": 1}]})).await;
        assert_eq!(r.status, 400, "{price}");
        assert!(
            r.body["errors"]["ticketGrades[0].price"].is_string(),
            "{price}: {:?}",
            r.body
        );
    }
    let r = call(&t, Method::POST, "/meetings", Some(&admin), json!({"title": "x", "startTime": "2026-01-01T00:00:00Z", "endTime": "2026-01-02T00:00:00Z", "ticketGrades": [{"name": "a", "price": 1, "stock": "1"}]})).await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["errors"]["ticketGrades[0].stock"].is_string(),
        "{:?}",
        r.body
    );
    t.stop().await;
}

/// Replay the meeting's stream and return (held, sold) of its first grade.
async fn replayed(t: &TestServer, meeting_id: &str, grade: &str) -> (u32, u32) {
    let stream = StreamId::parse(format!("meeting-{meeting_id}")).unwrap();
    let (m, _) = load::<Meeting>(t.server.engine.events.as_ref(), &stream)
        .await
        .unwrap();
    let g = m
        .grade(tessera_domain::meeting::TicketGradeId::from_uuid(
            grade.parse().unwrap(),
        ))
        .unwrap();
    (g.held, g.sold)
}

async fn stock_race(db: Arc<TestDb>) {
    let t = TestServer::start_with(&db, config()).await;
    let admin = t.admin().await;
    let (meeting_id, grade) = meeting(&t, &admin, 30).await;
    let mut buyers = Vec::new();
    for n in 0..100 {
        buyers.push(phone_user(&t, 100 + n).await.1);
    }
    let t = Arc::new(t);
    let mut tasks = Vec::new();
    for token in buyers.clone() {
        let t = t.clone();
        let body = order_body(&meeting_id, &grade, 1, json!(99.5));
        tasks.push(tokio::spawn(async move {
            call(&t, Method::POST, "/orders", Some(&token), body).await
        }));
    }
    let mut placed = Vec::new();
    for task in tasks {
        let r = task.await.unwrap();
        match r.status.as_u16() {
            201 => placed.push(r.body["id"].as_str().unwrap().to_owned()),
            400 => {
                assert_eq!(r.body["type"], "No Stock", "{:?}", r.body);
                assert_eq!(r.body["errors"]["items"][0]["amount"], 0);
            }
            other => panic!("unexpected {other}: {:?}", r.body),
        }
    }
    assert_eq!(placed.len(), 30, "exactly the stock was sold");
    // Pay them all concurrently (each twice: duplicates are harmless).
    let mut tasks = Vec::new();
    for (i, token) in buyers.iter().enumerate() {
        let t = t.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let orders = t.get("/orders", Some(&token)).await;
            for o in orders.body.as_array().unwrap() {
                let id = o["id"].as_str().unwrap();
                for _ in 0..2 {
                    let r = call(
                        &t,
                        Method::POST,
                        "/third_party_transactions",
                        Some(&token),
                        json!({"orderId": id, "transactionId": format!("mock_{i}")}),
                    )
                    .await;
                    assert_eq!(r.status, 201, "{:?}", r.body);
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    // Responses, read model and a replay of the event store agree.
    let r = t.get(&format!("/meetings/{meeting_id}"), None).await;
    let g = &r.body["ticketGrades"][0];
    assert_eq!(
        (g["remaining"].as_i64(), g["sold"].as_i64()),
        (Some(0), Some(30))
    );
    assert_eq!(replayed(&t, &meeting_id, &grade).await, (0, 30));
    let counts = t
        .server
        .services
        .meeting_queries
        .grade_counts(meeting_id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!((counts[0].1, counts[0].2, counts[0].3), (30, 0, 30));
    Arc::try_unwrap(t).ok().unwrap().stop().await;
}

async fn claim_races(db: Arc<TestDb>) {
    let t = TestServer::start_with(&db, config()).await;
    let admin = t.admin().await;
    let (_, buyer) = phone_user(&t, 1).await;
    let (meeting_id, grade) = meeting(&t, &admin, 10).await;
    let r = call(
        &t,
        Method::POST,
        "/orders",
        Some(&buyer),
        order_body(&meeting_id, &grade, 6, json!(99.5)),
    )
    .await;
    let order = r.body["id"].as_str().unwrap().to_owned();
    let r = call(
        &t,
        Method::POST,
        "/third_party_transactions",
        Some(&buyer),
        json!({"orderId": order, "transactionId": "mock_race"}),
    )
    .await;
    assert_eq!(r.status, 201);
    let tickets: Vec<String> = t
        .eventually(Duration::from_secs(10), || async {
            let r = t.get("/tickets", Some(&buyer)).await;
            let list = r.body.as_array().cloned().unwrap_or_default();
            (list.len() == 6).then(|| {
                list.iter()
                    .map(|x| x["id"].as_str().unwrap().to_owned())
                    .collect()
            })
        })
        .await
        .expect("six tickets");
    let t = Arc::new(t);
    // 20 different people claim one ticket at once: one wins, the rest get 410.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let t = t.clone();
        let (buyer, id) = (buyer.clone(), tickets[0].clone());
        tasks.push(tokio::spawn(async move {
            call(&t, Method::PATCH, &format!("/tickets/{id}"), Some(&buyer), json!({"participant": {"name": format!("参会者{i}"), "phone": format!("1390000{i:04}")}})).await
        }));
    }
    let mut codes = Vec::new();
    for task in tasks {
        codes.push(task.await.unwrap().status.as_u16());
    }
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 410).count(), 19, "{codes:?}");
    // One person claims the five other tickets at once: one wins, the rest get 409.
    let mut tasks = Vec::new();
    for id in tickets[1..].iter() {
        let id = id.clone();
        let t = t.clone();
        let buyer = buyer.clone();
        tasks.push(tokio::spawn(async move {
            call(
                &t,
                Method::PATCH,
                &format!("/tickets/{id}"),
                Some(&buyer),
                json!({"participant": {"name": "赵六", "phone": "13700000000"}}),
            )
            .await
        }));
    }
    let mut codes = Vec::new();
    for task in tasks {
        codes.push(task.await.unwrap().status.as_u16());
    }
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 409).count(), 4, "{codes:?}");
    // The read model shows exactly two claimed tickets, with distinct attendees.
    let r = t.get("/tickets", Some(&buyer)).await;
    let claimed: Vec<&Value> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| !x["participant"].is_null())
        .collect();
    assert_eq!(claimed.len(), 2);
    assert_ne!(
        claimed[0]["participant"]["phone"],
        claimed[1]["participant"]["phone"]
    );
    Arc::try_unwrap(t).ok().unwrap().stop().await;
}

async fn organizer_writes(db: Arc<TestDb>) {
    let t = TestServer::start_with(&db, config()).await;
    let admin = t.admin().await;
    let (_, buyer) = phone_user(&t, 1).await;
    let (meeting_id, grade) = meeting(&t, &admin, 5).await;
    let path = format!("/meetings/{meeting_id}");
    let grade_path = format!("{path}/ticket_grades/{grade}");
    // Only the organizer (or an admin) may change a meeting.
    let r = call(
        &t,
        Method::PATCH,
        &path,
        Some(&buyer),
        json!({"status": "closed"}),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["type"], "Forbidden");
    let r = call(
        &t,
        Method::PATCH,
        &grade_path,
        Some(&buyer),
        json!({"price": 1}),
    )
    .await;
    assert_eq!(r.status, 403);
    // Closing sales stops orders; reopening allows them again.
    let r = call(
        &t,
        Method::PATCH,
        &path,
        Some(&admin),
        json!({"status": "closed"}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "closed");
    let r = call(
        &t,
        Method::POST,
        "/orders",
        Some(&buyer),
        order_body(&meeting_id, &grade, 1, json!(99.5)),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body["errors"]["meetingId"].is_string(), "{:?}", r.body);
    let r = call(
        &t,
        Method::PATCH,
        &path,
        Some(&admin),
        json!({"status": "draft"}),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = call(
        &t,
        Method::PATCH,
        &path,
        Some(&admin),
        json!({"status": "onSale"}),
    )
    .await;
    assert_eq!(r.body["status"], "onSale");
    // A price change: the old price is now a validation error, the new one sells. The price is a
    // JSON number; the same price as a string is refused, naming it.
    let r = call(
        &t,
        Method::PATCH,
        &grade_path,
        Some(&admin),
        json!({"price": "120"}),
    )
    .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(r.body["errors"]["price"].is_string(), "{:?}", r.body);
    let r = call(
        &t,
        Method::PATCH,
        &grade_path,
        Some(&admin),
        json!({"price": 120}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["ticketGrades"][0]["price"], json!(120));
    let r = call(
        &t,
        Method::POST,
        "/orders",
        Some(&buyer),
        order_body(&meeting_id, &grade, 3, json!(99.5)),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body["errors"]["items[0].ticketPrice"].is_string());
    let r = call(
        &t,
        Method::POST,
        "/orders",
        Some(&buyer),
        order_body(&meeting_id, &grade, 3, json!(120)),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // Stock cannot drop below what is held; raising it shows in the remaining count.
    let r = call(
        &t,
        Method::PATCH,
        &grade_path,
        Some(&admin),
        json!({"stock": 2}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body["errors"]["stock"].is_string());
    let r = call(
        &t,
        Method::PATCH,
        &grade_path,
        Some(&admin),
        json!({"stock": 10, "name": "早鸟票"}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["ticketGrades"][0]["name"], "早鸟票");
    assert_eq!(r.body["ticketGrades"][0]["remaining"], 7);
    let r = call(
        &t,
        Method::PATCH,
        &format!("{path}/ticket_grades/{}", uuid::Uuid::now_v7()),
        Some(&admin),
        json!({"stock": 1}),
    )
    .await;
    assert_eq!(r.status, 404);
    // A new grade.
    let r = call(
        &t,
        Method::POST,
        &format!("{path}/ticket_grades"),
        Some(&admin),
        json!({"name": "VIP", "price": 999.99, "stock": 2}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["ticketGrades"][1]["price"], json!(999.99));
    let r = call(
        &t,
        Method::POST,
        &format!("{path}/ticket_grades"),
        Some(&admin),
        json!({"name": "VIP", "price": -1, "stock": 2}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body["errors"]["price"].is_string());
    let r = t.get("/meetings?status=closed", None).await;
    assert_eq!(r.body.as_array().unwrap().len(), 0);
    let r = t.get("/meetings?status=onSale", None).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    t.stop().await;
}

/// The UUID version of a JSON string id (4: random; 5: derived by hashing; 7: time-ordered).
fn version_of(id: &Value) -> usize {
    id.as_str()
        .and_then(|s| s.parse::<uuid::Uuid>().ok())
        .map_or(0, |u| u.get_version_num())
}

/// `GET {path}` with its status, `Content-Range` header and body.
async fn page(t: &TestServer, path: &str) -> (u16, Option<String>, Value) {
    let r = t
        .http
        .get(format!("{}{path}", t.base))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let range = r
        .headers()
        .get("content-range")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, range, r.json().await.unwrap())
}

async fn meeting_pages(db: Arc<TestDb>) {
    let t = TestServer::start_with(&db, config()).await;
    let admin = t.admin().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(meeting(&t, &admin, 1).await.0);
    }
    // The whole list on one page: 200, no Content-Range.
    for path in ["/meetings", "/meetings?pageSize=3"] {
        let (status, range, body) = page(&t, path).await;
        assert_eq!((status, range), (200, None), "{path}");
        assert_eq!(body.as_array().unwrap().len(), 3);
    }
    // A part of it: 206 with the meetings shown (0-based, inclusive) of how many.
    let (status, range, first) = page(&t, "/meetings?pageSize=2").await;
    assert_eq!(status, 206);
    assert_eq!(range.as_deref(), Some("meetings 0-1/3"));
    assert_eq!(first.as_array().unwrap().len(), 2);
    let (status, range, second) = page(&t, "/meetings?pageSize=2&page=2").await;
    assert_eq!(status, 206);
    assert_eq!(range.as_deref(), Some("meetings 2-2/3"));
    let mut seen: Vec<Value> = first.as_array().unwrap().clone();
    seen.extend(second.as_array().unwrap().iter().cloned());
    let mut seen: Vec<&str> = seen.iter().map(|m| m["id"].as_str().unwrap()).collect();
    seen.sort_unstable();
    let mut all: Vec<&str> = ids.iter().map(String::as_str).collect();
    all.sort_unstable();
    assert_eq!(seen, all, "the two pages hold every meeting once");
    // Past the end: 206, nothing, and the total.
    let (status, range, body) = page(&t, "/meetings?pageSize=2&page=3").await;
    assert_eq!(status, 206);
    assert_eq!(range.as_deref(), Some("meetings */3"));
    assert_eq!(body, json!([]));
    // A filter counts only what it matches; an empty list is whole.
    let (status, range, body) = page(&t, "/meetings?status=closed").await;
    assert_eq!((status, range, body), (200, None, json!([])));
    let (status, range, _) = page(&t, "/meetings?status=onSale&pageSize=1&page=2").await;
    assert_eq!(status, 206);
    assert_eq!(range.as_deref(), Some("meetings 1-1/3"));
    t.stop().await;
}

/// Every string in `v` that reads as an RFC 3339 instant, with its JSON path.
fn instants_in(v: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => {
            out.push((path.to_owned(), s.clone()));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                instants_in(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                instants_in(item, &format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
}

/// `2025-03-01T02:00:00.123Z`: UTC, exactly three fractional digits.
fn has_milliseconds(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b[10] == b'T'
        && b[19] == b'.'
        && b[20..23].iter().all(u8::is_ascii_digit)
        && b[23] == b'Z'
}

async fn instants(db: Arc<TestDb>) {
    let t = TestServer::start_with(&db, config()).await;
    let admin = t.admin().await;
    let mut bodies: Vec<(String, Value)> = Vec::new();
    let mut keep = |what: &str, r: Reply| {
        assert!(r.status.is_success(), "{what}: {} {:?}", r.status, r.body);
        bodies.push((what.to_owned(), r.body));
    };
    // Sign-in: SMS code, WeChat token, user, token, current user.
    let (phone, wechat_id) = (phone(7), "o-wx-7");
    keep(
        "POST /smsCodes",
        call(&t, Method::POST, "/smsCodes", None, json!({"phone": phone})).await,
    );
    keep(
        "POST /wechat_tokens",
        call(
            &t,
            Method::POST,
            "/wechat_tokens",
            None,
            json!({"wechatId": wechat_id, "wechatToken": format!("dev:{wechat_id}")}),
        )
        .await,
    );
    let code = last_code(&t, &phone);
    keep(
        "POST /users",
        call(
            &t,
            Method::POST,
            "/users",
            None,
            json!({"wechatId": wechat_id, "phone": phone, "smsCode": code}),
        )
        .await,
    );
    let r = call(
        &t,
        Method::POST,
        "/tokens",
        None,
        json!({"type": "wechat", "wechatId": wechat_id, "wechatToken": format!("dev:{wechat_id}")}),
    )
    .await;
    let buyer = r.body["access_token"].as_str().unwrap().to_owned();
    keep("POST /tokens", r);
    keep(
        "GET /users/current",
        t.get("/users/current", Some(&buyer)).await,
    );
    // Meetings: a start time with nanoseconds, stored to the microsecond, shown to the millisecond.
    // (Whole seconds plus .123456789 s, so a store that rounds to microseconds still shows .123.)
    let start = (Utc::now() + ChronoDuration::days(3)).trunc_subsecs(0)
        + ChronoDuration::nanoseconds(123_456_789);
    let r = call(
        &t,
        Method::POST,
        "/meetings",
        Some(&admin),
        json!({
            "title": "精度",
            "startTime": start.to_rfc3339(),
            "endTime": (start + ChronoDuration::hours(2)).to_rfc3339(),
            "ticketGrades": [{"name": "普通票", "price": 10, "stock": 5}],
            "status": "onSale",
        }),
    )
    .await;
    let (meeting_id, grade) = (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["ticketGrades"][0]["id"].as_str().unwrap().to_owned(),
    );
    keep("POST /meetings", r);
    keep("GET /meetings", t.get("/meetings", None).await);
    keep(
        "GET /meetings/:id",
        t.get(&format!("/meetings/{meeting_id}"), None).await,
    );
    // Orders: placed, paid, cancelled.
    let r = call(
        &t,
        Method::POST,
        "/orders",
        Some(&buyer),
        order_body(&meeting_id, &grade, 2, json!(10)),
    )
    .await;
    let order = r.body["id"].as_str().unwrap().to_owned();
    keep("POST /orders", r);
    keep(
        "POST /transactions",
        call(
            &t,
            Method::POST,
            "/transactions",
            Some(&buyer),
            json!({"orderId": order}),
        )
        .await,
    );
    keep(
        "POST /third_party_transactions",
        call(
            &t,
            Method::POST,
            "/third_party_transactions",
            Some(&buyer),
            json!({"orderId": order, "transactionId": "mock_ms"}),
        )
        .await,
    );
    let r = call(
        &t,
        Method::POST,
        "/orders",
        Some(&buyer),
        order_body(&meeting_id, &grade, 1, json!(10)),
    )
    .await;
    let cancelled = r.body["id"].as_str().unwrap().to_owned();
    keep(
        "PATCH /orders/:id",
        call(
            &t,
            Method::PATCH,
            &format!("/orders/{cancelled}"),
            Some(&buyer),
            json!({"status": "已取消"}),
        )
        .await,
    );
    keep("GET /orders", t.get("/orders", Some(&buyer)).await);
    keep(
        "GET /orders/:id",
        t.get(&format!("/orders/{order}"), Some(&buyer)).await,
    );
    // Tickets: issued, one named.
    let tickets = t
        .eventually(Duration::from_secs(10), || async {
            let r = t.get("/tickets", Some(&buyer)).await;
            (r.body.as_array().map(Vec::len) == Some(2)).then_some(r)
        })
        .await
        .expect("two tickets issued");
    let ticket = tickets.body[0]["id"].as_str().unwrap().to_owned();
    keep("GET /tickets", tickets);
    keep(
        "PATCH /tickets/:id",
        call(
            &t,
            Method::PATCH,
            &format!("/tickets/{ticket}"),
            Some(&buyer),
            json!({"participant": {"name": "张三", "phone": "13900000009"}}),
        )
        .await,
    );
    keep(
        "GET /tickets/:id",
        t.get(&format!("/tickets/{ticket}"), Some(&buyer)).await,
    );

    let mut found = Vec::new();
    for (what, body) in &bodies {
        instants_in(body, what, &mut found);
    }
    let wrong: Vec<&(String, String)> =
        found.iter().filter(|(_, s)| !has_milliseconds(s)).collect();
    assert!(
        wrong.is_empty(),
        "instants without exactly milliseconds: {wrong:#?}"
    );
    // Every kind of instant the document shows was among them.
    for key in [
        "createdAt",
        "expiresAt",
        "expires_at",
        "startTime",
        "endTime",
        "paidAt",
        "issuedAt",
        "claimedAt",
    ] {
        assert!(
            found
                .iter()
                .any(|(path, _)| path.ends_with(&format!(".{key}"))),
            "no {key} among {found:#?}"
        );
    }
    let shown = found
        .iter()
        .find(|(path, _)| path == "POST /meetings.startTime")
        .map(|(_, s)| s.clone())
        .unwrap();
    assert_eq!(
        shown,
        start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "cut to the millisecond"
    );
    t.stop().await;
}
