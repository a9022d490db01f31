//! Production mode and its development counterpart over real HTTP, on SQLite and PostgreSQL:
//! production refuses to start with a missing or default secret (naming each one) and has none of
//! development's conveniences (Mock payments, `dev:` WeChat tokens, console SMS, cookies without
//! `Secure`); development keeps generated secrets under the data folder, so a token survives a
//! restart; CORS answers only the configured origins.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::extract::Query;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Duration as ChronoDuration, FixedOffset, Utc};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use tessera_api::ServerConfig;
use tessera_api::config::Environment;
use tessera_tests::http::{Reply, TestServer, server_config};
use tessera_tests::{Suite, TestDb};

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("production_refuses_missing_or_default_secrets", refuses)
        .case(
            "production_has_no_development_conveniences",
            no_conveniences,
        )
        .case("development_secrets_survive_a_restart", secrets_persist)
        .case("cors_answers_only_allowed_origins", cors)
        .run()
}

/// Every secret production asks for, none at a default.
fn production_config() -> ServerConfig {
    let mut c = server_config();
    c.environment = Environment::Production;
    // Production refuses the test settings' `TESSERA_RATE_LIMITS=off`.
    c.rate_limits.limits = "on".into();
    c.mock_webhook_secret = SecretString::from("mock-webhook-secret-of-this-deployment");
    c.meeting.sms_code_secret = Some(SecretString::from("test-sms-code-secret-32-bytes-long!!"));
    c
}

/// A local WeChat API whose `/sns/auth` vouches only for the token `good-token`.
async fn fake_wechat() -> String {
    async fn sns_auth(Query(q): Query<HashMap<String, String>>) -> Json<Value> {
        if q.get("access_token").map(String::as_str) == Some("good-token") {
            Json(json!({"errcode": 0, "errmsg": "ok"}))
        } else {
            Json(json!({"errcode": 40001, "errmsg": "invalid credential"}))
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new().route("/sns/auth", get(sns_auth));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

async fn start_error(db: &TestDb, config: ServerConfig) -> String {
    match tessera_api::RunningServer::start(&db.config(), config).await {
        Ok(server) => {
            server.stop(std::time::Duration::from_secs(5)).await;
            panic!("production started")
        }
        Err(e) => e.to_string(),
    }
}

async fn refuses(db: Arc<TestDb>) {
    // The test settings: JWT and ticket keys set, SMS key unset, Mock webhook secret at default.
    let mut c = server_config();
    c.environment = Environment::Production;
    let e = start_error(&db, c).await;
    assert!(e.contains("TESSERA_SMS_CODE_SECRET"), "{e}");
    assert!(e.contains("TESSERA_MOCK_WEBHOOK_SECRET"), "{e}");
    assert!(e.contains("public default"), "{e}");
    assert!(!e.contains("TESSERA_JWT_SECRET"), "{e}");

    // Nothing set: every secret is named, in one error.
    let mut c = ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..ServerConfig::default()
    };
    c.environment = Environment::Production;
    let e = start_error(&db, c).await;
    for name in [
        "TESSERA_JWT_SECRET",
        "TESSERA_TICKET_CODE_SECRET",
        "TESSERA_SMS_CODE_SECRET",
        "TESSERA_MOCK_WEBHOOK_SECRET",
    ] {
        assert!(e.contains(name), "{name} not named: {e}");
    }

    // A provider configured halfway is named too.
    let mut c = production_config();
    c.meeting.wechat_app_id = Some("wx-app".into());
    let e = start_error(&db, c).await;
    assert!(e.contains("TESSERA_WECHAT_APP_SECRET"), "{e}");

    // With every secret it starts.
    let t = TestServer::start_with(&db, production_config()).await;
    assert_eq!(t.get("/health", None).await.status, 200);
    t.stop().await;
}

fn event_body(venue_id: &str) -> Value {
    let now = Utc::now().with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap());
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
            {"categoryId": "A", "name": "A 區", "areaIds": ["A"], "price": {"amount": 4800, "currency": "TWD"}},
        ],
    })
}

/// A venue of 10 seats `A-001`…`A-010` and an event on sale; returns the session id.
async fn session(t: &TestServer, admin: &str) -> String {
    let seats: Vec<Value> = (1..=10)
        .map(|i| json!({"seatId": format!("A-{i:03}"), "row": "1", "number": i, "x": 10 * i, "y": 0, "type": "Normal"}))
        .collect();
    let venue = json!({
        "name": "台北小巨蛋",
        "address": {"country": "TW", "city": "台北市", "street": "南京東路四段2號", "postalCode": "105"},
        "capacity": 10,
        "seatMap": {"areas": [{"areaId": "A", "name": "A 區", "seats": seats}]},
    });
    let r = t.post("/v1/venues", Some(admin), venue).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let venue_id = r.data()["venueId"].as_str().unwrap().to_owned();
    let (_, organizer) = t
        .with_role(admin, "organizer@tessera.test", "organizer")
        .await;
    let r = t
        .post("/v1/events", Some(&organizer), event_body(&venue_id))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.data()["sessions"][0]["sessionId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Lock `seat` and order it with `provider`.
async fn lock_and_order(
    t: &TestServer,
    token: &str,
    session: &str,
    seat: &str,
    provider: &str,
) -> Reply {
    let r = t
        .post(
            &format!("/v1/sessions/{session}/seats/lock"),
            Some(token),
            json!({"seatIds": [seat]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    t.post(
        "/v1/orders",
        Some(token),
        json!({"sessionId": session, "seatIds": [seat], "paymentProvider": provider}),
    )
    .await
}

/// A meeting on sale with one grade; returns (meeting id, grade id).
async fn meeting(t: &TestServer, admin: &str) -> (String, String) {
    let start = Utc::now() + ChronoDuration::days(7);
    let r = t
        .post(
            "/meetings",
            Some(admin),
            json!({
                "title": "2026 开发者大会", "description": "年度技术会议", "location": "上海国际会议中心",
                "startTime": start.to_rfc3339(),
                "endTime": (start + ChronoDuration::hours(8)).to_rfc3339(),
                "ticketGrades": [{"name": "普通票", "price": 99.5, "stock": 10}],
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

/// A meeting user signed up with development's `dev:` WeChat token and console SMS; returns the
/// access token.
async fn dev_phone_user(t: &TestServer) -> String {
    let (phone, wx) = ("13800000001", "o-wx-1");
    let r = t.post("/smsCodes", None, json!({"phone": phone})).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let r = t
        .post(
            "/wechat_tokens",
            None,
            json!({"wechatId": wx, "wechatToken": format!("dev:{wx}")}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let code = t
        .server
        .services
        .console_sms
        .as_ref()
        .unwrap()
        .last_code(phone)
        .unwrap();
    let r = t
        .post(
            "/users",
            None,
            json!({"wechatId": wx, "phone": phone, "smsCode": code}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = t
        .post(
            "/tokens",
            None,
            json!({"type": "wechat", "wechatId": wx, "wechatToken": format!("dev:{wx}")}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["access_token"].as_str().unwrap().to_owned()
}

/// `Set-Cookie` of `POST /wechat_tokens` with `body`.
async fn wechat_cookie(t: &TestServer, body: Value) -> (u16, String) {
    let resp = t
        .http
        .post(format!("{}/wechat_tokens", t.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (resp.status().as_u16(), cookie)
}

async fn no_conveniences(db: Arc<TestDb>) {
    // Development, with the deployment's secrets: an OpenTicket order paid by Mock and a meeting
    // user, both made before the switch to production.
    let mut dev = production_config();
    dev.environment = Environment::Development;
    let t = TestServer::start_with(&db, dev).await;
    let admin = t.admin().await;
    let session = session(&t, &admin).await;
    let (_, alice) = t.customer("alice@example.com").await;
    let r = lock_and_order(&t, &alice, &session, "A-001", "Mock").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let payment_id = r.data()["payment"]["paymentId"]
        .as_str()
        .unwrap()
        .to_owned();
    let buyer = dev_phone_user(&t).await;
    let (meeting_id, grade) = meeting(&t, &admin).await;
    let (_, cookie) = wechat_cookie(
        &t,
        json!({"wechatId": "o-wx-2", "wechatToken": "dev:o-wx-2"}),
    )
    .await;
    assert!(cookie.starts_with("wechatToken="), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "development cookies are not Secure: {cookie}"
    );
    t.stop().await;

    let mut prod = production_config();
    prod.meeting.wechat_app_id = Some("wx-app".into());
    prod.meeting.wechat_app_secret = Some(SecretString::from("wechat-app-secret"));
    prod.meeting.wechat_api_base = fake_wechat().await;
    prod.meeting.mock_payments = true; // TESSERA_MEETING_MOCK_PAYMENTS=true cannot turn it on
    let t = TestServer::start_with(&db, prod).await;

    // No Mock provider: its page, its confirm route and its webhook are 404, even for an order
    // placed with it before; it is not offered for new orders.
    for (method, path) in [
        (
            Method::POST,
            format!("/v1/mock-payment/{payment_id}/confirm"),
        ),
        (
            Method::POST,
            format!("/v1/mock-payment/{payment_id}/decline"),
        ),
        (Method::GET, format!("/v1/mock-payment/{payment_id}")),
    ] {
        let r = t.send(method.clone(), &path, None, None).await;
        assert_eq!(r.status, 404, "{method} {path}: {:?}", r.body);
    }
    let r = t
        .send_raw(
            Method::POST,
            "/v1/webhooks/payment/mock",
            None,
            &[("content-type", "application/json")],
            br#"{"type":"payment.succeeded"}"#.to_vec(),
        )
        .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    let r = lock_and_order(&t, &alice, &session, "A-002", "Mock").await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.code(), "VALIDATION_ERROR");
    assert_eq!(r.field(), "paymentProvider");

    // No meeting `mock` method.
    let r = t.get("/payment_methods", Some(&buyer)).await;
    assert!(!r.body.to_string().contains("\"mock\""), "{:?}", r.body);
    let r = t
        .post(
            "/orders",
            Some(&buyer),
            json!({
                "items": [{"ticketGradeId": grade, "ticketPrice": 99.5, "ticketAmount": 1, "meetingId": meeting_id}],
                "meetingId": meeting_id,
                "paymentMethodId": "mock",
            }),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(
        r.body.to_string().contains("paymentMethodId"),
        "{:?}",
        r.body
    );

    // WeChat tokens are checked by WeChat: `dev:` means nothing; a token WeChat vouches for gets a
    // `Secure` cookie.
    let (status, cookie) = wechat_cookie(
        &t,
        json!({"wechatId": "o-wx-3", "wechatToken": "dev:o-wx-3"}),
    )
    .await;
    assert_eq!(status, 400, "dev: token accepted in production");
    assert!(cookie.is_empty(), "{cookie}");
    let (status, cookie) = wechat_cookie(
        &t,
        json!({"wechatId": "o-wx-3", "wechatToken": "good-token"}),
    )
    .await;
    assert_eq!(status, 201);
    assert!(cookie.starts_with("wechatToken="), "{cookie}");
    assert!(
        cookie.contains("; Secure"),
        "production cookies are Secure: {cookie}"
    );
    let r = t
        .post(
            "/tokens",
            None,
            json!({"type": "wechat", "wechatId": "o-wx-1", "wechatToken": "good-token"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    t.stop().await;

    // Without a WeChat app or an SMS gateway, production offers neither sign-in: a clear error,
    // no `dev:` verifier, no codes in a log.
    let t = TestServer::start_with(&db, production_config()).await;
    let r = t
        .post(
            "/wechat_tokens",
            None,
            json!({"wechatId": "o-wx-4", "wechatToken": "dev:o-wx-4"}),
        )
        .await;
    assert!(
        r.status.is_client_error() || r.status == 502,
        "{:?}",
        r.body
    );
    assert!(
        r.body.to_string().contains("WeChat sign-in is not offered"),
        "{:?}",
        r.body
    );
    let r = t
        .post("/smsCodes", None, json!({"phone": "13800000009"}))
        .await;
    assert_eq!(r.status, 502, "{:?}", r.body);
    assert!(
        r.body.to_string().contains("SMS sign-in is not offered"),
        "{:?}",
        r.body
    );
    assert!(
        t.server.services.console_sms.is_none(),
        "no console SMS sender"
    );
    t.stop().await;
}

async fn secrets_persist(db: Arc<TestDb>) {
    // No secret configured at all: development makes them up once and keeps them.
    let mut c = server_config();
    c.jwt_secret = None;
    c.ticket_code_secret = None;
    let file = match db.config().data_dir {
        // PostgreSQL: the test's own `TESSERA_DATA_DIR`.
        Some(dir) => dir.join("secrets.json"),
        // SQLite: next to the database file by default.
        None => {
            let path = db.url.trim_start_matches("sqlite://");
            std::path::Path::new(path)
                .parent()
                .unwrap()
                .join("secrets.json")
        }
    };
    let t = TestServer::start_with(&db, c.clone()).await;
    let (_, token) = t.customer("alice@example.com").await;
    assert_eq!(t.get("/v1/orders", Some(&token)).await.status, 200);
    t.stop().await;

    let saved: Value =
        serde_json::from_slice(&std::fs::read(&file).expect("secrets file")).unwrap();
    for name in [
        "TESSERA_JWT_SECRET",
        "TESSERA_TICKET_CODE_SECRET",
        "TESSERA_SMS_CODE_SECRET",
    ] {
        assert!(
            saved[name].as_str().is_some_and(|s| s.len() >= 64),
            "{name}: {saved}"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "secrets file mode {mode:o}");
    }

    let t = TestServer::start_with(&db, c).await;
    let r = t.get("/v1/orders", Some(&token)).await;
    assert_eq!(
        r.status, 200,
        "a token issued before the restart: {:?}",
        r.body
    );
    t.stop().await;
    let again: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(saved, again, "the secrets file is reused, not rewritten");
}

async fn preflight(t: &TestServer, origin: &str) -> reqwest::Response {
    t.http
        .request(Method::OPTIONS, format!("{}/v1/orders", t.base))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,idempotency-key,x-request-id",
        )
        .send()
        .await
        .unwrap()
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_ascii_lowercase())
}

async fn cors(db: Arc<TestDb>) {
    let allowed = "https://app.example.com";
    let mut c = server_config();
    c.cors_allowed_origins = vec![allowed.to_owned(), "http://localhost:5173/".to_owned()];
    let t = TestServer::start_with(&db, c).await;

    let r = preflight(&t, allowed).await;
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some(allowed)
    );
    let methods = header(&r, "access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("post"), "{methods}");
    let headers = header(&r, "access-control-allow-headers").unwrap_or_default();
    for h in [
        "authorization",
        "content-type",
        "idempotency-key",
        "x-request-id",
    ] {
        assert!(headers.contains(h), "{h} not allowed: {headers}");
    }
    // A trailing slash in the setting is not part of the origin.
    let r = preflight(&t, "http://localhost:5173").await;
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("http://localhost:5173")
    );

    // A real request from the allowed origin can read the request id.
    let r = t
        .http
        .get(format!("{}/health", t.base))
        .header("origin", allowed)
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some(allowed)
    );
    // Headers browser clients read: request id, meeting paging (206), 202's Location.
    let exposed = header(&r, "access-control-expose-headers").unwrap_or_default();
    for name in [
        "x-request-id",
        "content-range",
        "location",
        "idempotent-replayed",
    ] {
        assert!(exposed.contains(name), "{name} not exposed: {exposed}");
    }

    // Another origin gets no CORS headers.
    for origin in [
        "https://evil.example",
        "https://app.example.com.evil.example",
    ] {
        let r = preflight(&t, origin).await;
        assert_eq!(header(&r, "access-control-allow-origin"), None, "{origin}");
        let r = t
            .http
            .get(format!("{}/health", t.base))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(header(&r, "access-control-allow-origin"), None, "{origin}");
    }
    t.stop().await;

    // Without the setting nobody gets them.
    let t = TestServer::start_with(&db, server_config()).await;
    let r = preflight(&t, allowed).await;
    assert_eq!(header(&r, "access-control-allow-origin"), None);
    t.stop().await;

    // A setting that is not an origin stops the start, naming it.
    let mut c = server_config();
    c.cors_allowed_origins = vec!["*".to_owned()];
    let e = start_error(&db, c).await;
    assert!(e.contains("TESSERA_CORS_ALLOWED_ORIGINS"), "{e}");
}
