//! OpenTicket rate limits (seed 003 §9) over real HTTP, on SQLite and PostgreSQL: the sixth seat
//! lock in a window refused with 429 `RATE_LIMITED`, `Retry-After` and the `X-RateLimit-*` headers;
//! budgets per user and per client address (`X-Forwarded-For` believed from trusted proxies only);
//! a partner's override; `off`, and production refusing it; two server processes sharing one Redis
//! and one database; and a Redis that cannot be reached letting requests through, counted.
//!
//! Windows are an hour long, so no case can cross one: nothing here depends on timing. Redis is
//! found at `TESSERA_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`; `.ci/run` starts it); each
//! Redis case uses a key prefix of its own, so parallel runs never share a budget.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration as ChronoDuration, FixedOffset, Utc};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tessera_api::config::{Environment, RateLimitConfig};
use tessera_api::{RunningServer, ServerConfig};
use tessera_tests::http::{TestServer, server_config};
use tessera_tests::{Suite, TestDb};

/// Set in a child process of this test binary: serve instead of running the suite.
const CHILD: &str = "TESSERA_RATE_LIMITS_TEST_SERVER";

fn main() -> std::process::ExitCode {
    if std::env::var_os(CHILD).is_some() {
        return child_server();
    }
    Suite::new()
        .case("sixth_lock_in_a_window_is_refused", sixth_lock_refused)
        .case(
            "anonymous_callers_per_address_behind_trusted_proxies",
            per_address,
        )
        .case("a_partner_override_raises_one_user", partner_override)
        .case("off_limits_nothing_and_production_refuses_it", off)
        .case("two_processes_share_one_redis_budget", two_processes)
        .case("unreachable_redis_fails_open_and_counts", redis_down)
        .run()
}

fn redis_url() -> String {
    std::env::var("TESSERA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Fail clearly when the test Redis is not there (it is required, like PostgreSQL in CI).
async fn require_redis() {
    let url = redis_url();
    let hostport = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let reached = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(&hostport),
    )
    .await;
    assert!(
        matches!(reached, Ok(Ok(_))),
        "Redis is not reachable at {url} (start it: `redis-server --daemonize yes`; .ci/run does)"
    );
}

/// Test settings with `policy` as `TESSERA_RATE_LIMITS`.
fn limited(policy: &str) -> ServerConfig {
    let mut c = server_config();
    c.rate_limits = RateLimitConfig {
        limits: policy.to_owned(),
        ..RateLimitConfig::default()
    };
    c
}

/// An hour-long window (no case can cross it); sign-ups and sign-ins are not what is tested.
const HOURLY: &str = r#"{"window_secs": 3600, "limits": {"auth": 1000}}"#;

/// A reply with its headers.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<u64> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().parse().unwrap())
    }

    /// `(limit, remaining, reset)` from the `X-RateLimit-*` headers, all required.
    fn limits(&self) -> (u64, u64, u64) {
        let get = |n: &str| {
            self.header(n)
                .unwrap_or_else(|| panic!("no {n} on {}: {:?}", self.status, self.headers))
        };
        (
            get("x-ratelimit-limit"),
            get("x-ratelimit-remaining"),
            get("x-ratelimit-reset"),
        )
    }

    fn has_limit_headers(&self) -> bool {
        [
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
        ]
        .iter()
        .any(|n| self.headers.contains_key(*n))
    }
}

async fn call(
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Answer {
    let http = reqwest::Client::new();
    let mut req = http.request(method, format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

async fn lock(base: &str, token: &str, session: &str, seats: &[&str]) -> Answer {
    call(
        base,
        Method::POST,
        &format!("/v1/sessions/{session}/seats/lock"),
        Some(token),
        &[],
        Some(json!({ "seatIds": seats })),
    )
    .await
}

fn now_unix() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap()
}

/// The 429 of seed 003 §9.2 in the document's envelope (§1.2–1.3), for `class` with `limit`.
fn assert_refused(a: &Answer, class: &str, limit: u64) {
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", a.body);
    assert_eq!(a.body["error"]["code"], "RATE_LIMITED", "{:?}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().len() > 5);
    assert_eq!(a.body["error"]["details"]["class"], class, "{:?}", a.body);
    assert_eq!(a.body["error"]["details"]["limit"], limit, "{:?}", a.body);
    assert!(
        !a.body["meta"]["requestId"].as_str().unwrap().is_empty(),
        "{:?}",
        a.body
    );
    assert!(a.body["meta"]["timestamp"].as_str().unwrap().ends_with('Z'));
    let retry = a.header("retry-after").expect("Retry-After");
    assert!(retry >= 1, "Retry-After {retry}");
    assert_eq!(a.body["error"]["details"]["retryAfter"], retry);
    let (l, remaining, reset) = a.limits();
    assert_eq!((l, remaining), (limit, 0));
    assert!(reset > now_unix(), "reset {reset} is not in the future");
}

async fn sixth_lock_refused(db: Arc<TestDb>) {
    let t = TestServer::start_with(&db, limited(HOURLY)).await;
    let (_, alice) = t.customer("alice@tessera.test").await;
    let (_, bob) = t.customer("bob@tessera.test").await;
    // Limits count requests, whatever they answer: a session that does not exist will do.
    let session = uuid::Uuid::now_v7().to_string();
    let started = now_unix();
    let mut last_reset = 0;
    for expected in (0..5).rev() {
        let a = lock(&t.base, &alice, &session, &["A-001"]).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{:?}", a.body);
        let answered = now_unix();
        let (limit, remaining, reset) = a.limits();
        assert_eq!((limit, remaining), (5, expected), "headers decrease");
        // The bucket is full again one interval per used token after this request, rounded up
        // to a whole second; the requests may straddle a second boundary, so the bound is taken
        // when each answer came, not when the loop started.
        assert!(
            reset > started && reset <= answered + 3_601,
            "reset {reset}, started {started}, answered {answered}"
        );
        assert!(reset >= last_reset);
        last_reset = reset;
    }
    let sixth = lock(&t.base, &alice, &session, &["A-001"]).await;
    assert_refused(&sixth, "seat_lock", 5);
    assert!(
        sixth.header("retry-after").unwrap() <= 720,
        "one token per 3600 s / 5"
    );

    // Bob has his own budget; Alice's other classes are untouched.
    let b = lock(&t.base, &bob, &session, &["A-001"]).await;
    assert_eq!(b.status, StatusCode::NOT_FOUND, "{:?}", b.body);
    let (limit, remaining, _) = b.limits();
    assert_eq!((limit, remaining), (5, 4));
    let v = call(&t.base, Method::GET, "/v1/venues", Some(&alice), &[], None).await;
    assert_eq!(v.status, StatusCode::OK);
    assert_eq!(v.limits().0, 100);
    // Releasing seats is not a lock: a limited caller can always give seats back.
    let release = call(
        &t.base,
        Method::DELETE,
        &format!("/v1/sessions/{session}/seats/lock"),
        Some(&alice),
        &[],
        Some(json!({"seatIds": ["A-001"]})),
    )
    .await;
    assert_ne!(release.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(release.limits().0, 100);

    // Three orders a window: the fourth is refused.
    for _ in 0..3 {
        let o = call(
            &t.base,
            Method::POST,
            "/v1/orders",
            Some(&bob),
            &[],
            Some(json!({})),
        )
        .await;
        assert_ne!(o.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", o.body);
    }
    let o = call(
        &t.base,
        Method::POST,
        "/v1/orders",
        Some(&bob),
        &[],
        Some(json!({})),
    )
    .await;
    assert_refused(&o, "order_create", 3);

    // Other documents are not limited.
    let m = call(&t.base, Method::GET, "/meetings", None, &[], None).await;
    assert!(!m.has_limit_headers(), "{:?}", m.headers);
    t.stop().await;
}

async fn per_address(db: Arc<TestDb>) {
    let policy = r#"{"window_secs": 3600, "limits": {"other": 3, "auth": 1000}}"#;
    let mut config = limited(policy);
    config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let t = TestServer::start_with(&db, config).await;
    let from = |ip: &'static str| [("x-forwarded-for", ip)];
    // Behind a trusted proxy, each forwarded client has its own budget.
    for expected in [2, 1, 0] {
        let a = call(
            &t.base,
            Method::GET,
            "/v1/venues",
            None,
            &from("203.0.113.1"),
            None,
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        assert_eq!(a.limits().1, expected);
    }
    let a = call(
        &t.base,
        Method::GET,
        "/v1/venues",
        None,
        &from("203.0.113.1"),
        None,
    )
    .await;
    assert_refused(&a, "other", 3);
    // A spoofed left part of the header does not make a new client: the right-most untrusted hop is.
    let a = call(
        &t.base,
        Method::GET,
        "/v1/venues",
        None,
        &from("198.51.100.9, 203.0.113.1"),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    let a = call(
        &t.base,
        Method::GET,
        "/v1/venues",
        None,
        &from("203.0.113.2"),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.limits().1, 2);
    // A signed-in user from the spent address has a budget of their own.
    let (_, carol) = t.customer("carol@tessera.test").await;
    let a = call(
        &t.base,
        Method::GET,
        "/v1/venues",
        Some(&carol),
        &from("203.0.113.1"),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    t.stop().await;

    // Without trusted proxies the header means nothing: every call is 127.0.0.1's.
    let t = TestServer::start_with(&db, limited(policy)).await;
    for (i, ip) in ["203.0.113.7", "203.0.113.8", "203.0.113.9"]
        .iter()
        .enumerate()
    {
        let a = call(
            &t.base,
            Method::GET,
            "/v1/venues",
            None,
            &[("x-forwarded-for", ip)],
            None,
        )
        .await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.limits().1, 2 - i as u64);
    }
    let a = call(
        &t.base,
        Method::GET,
        "/v1/venues",
        None,
        &from("203.0.113.10"),
        None,
    )
    .await;
    assert_refused(&a, "other", 3);
    t.stop().await;
}

async fn partner_override(db: Arc<TestDb>) {
    // Sign the partner up first (limits off), to name their id in the policy.
    let t = TestServer::start(&db).await;
    let (partner_id, _) = t.customer("partner@tessera.test").await;
    t.customer("dave@tessera.test").await;
    t.stop().await;
    let policy = json!({
        "window_secs": 3600,
        "limits": {"auth": 1000, "seat_lock": 2},
        "overrides": [{"user": partner_id, "limits": {"seat_lock": 4}}],
    });
    let t = TestServer::start_with(&db, limited(&policy.to_string())).await;
    let partner = t
        .login("partner@tessera.test", "correct horse battery")
        .await;
    let dave = t.login("dave@tessera.test", "correct horse battery").await;
    let session = uuid::Uuid::now_v7().to_string();
    for expected in [3, 2, 1, 0] {
        let a = lock(&t.base, &partner, &session, &["A-001"]).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{:?}", a.body);
        let (limit, remaining, _) = a.limits();
        assert_eq!((limit, remaining), (4, expected));
    }
    assert_refused(
        &lock(&t.base, &partner, &session, &["A-001"]).await,
        "seat_lock",
        4,
    );
    for _ in 0..2 {
        assert_eq!(lock(&t.base, &dave, &session, &["A-001"]).await.status, 404);
    }
    assert_refused(
        &lock(&t.base, &dave, &session, &["A-001"]).await,
        "seat_lock",
        2,
    );
    t.stop().await;
}

async fn off(db: Arc<TestDb>) {
    let t = TestServer::start_with(&db, limited("off")).await;
    let (_, erin) = t.customer("erin@tessera.test").await;
    let session = uuid::Uuid::now_v7().to_string();
    for _ in 0..20 {
        let a = lock(&t.base, &erin, &session, &["A-001"]).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
        assert!(!a.has_limit_headers(), "{:?}", a.headers);
    }
    let ops = call(&t.base, Method::GET, "/health/rate-limits", None, &[], None).await;
    assert_eq!(ops.body["mode"], "off", "{:?}", ops.body);
    t.stop().await;

    // Production refuses `off`, naming it; with the limits on it starts.
    let mut c = limited("off");
    c.environment = Environment::Production;
    c.mock_webhook_secret = SecretString::from("mock-webhook-secret-of-this-deployment");
    c.meeting.sms_code_secret = Some(SecretString::from("test-sms-code-secret-32-bytes-long!!"));
    let e = match RunningServer::start(&db.config(), c.clone()).await {
        Ok(s) => {
            s.stop(Duration::from_secs(5)).await;
            panic!("production started with TESSERA_RATE_LIMITS=off")
        }
        Err(e) => e.to_string(),
    };
    assert!(e.contains("TESSERA_RATE_LIMITS=off"), "{e}");
    c.rate_limits.limits = "on".into();
    let s = RunningServer::start(&db.config(), c)
        .await
        .expect("production with limits");
    s.stop(Duration::from_secs(5)).await;

    // A policy that cannot be used stops the start, naming the member.
    let e = match RunningServer::start(&db.config(), limited(r#"{"limits": {"seat_lock": 0}}"#))
        .await
    {
        Ok(s) => {
            s.stop(Duration::from_secs(5)).await;
            panic!("started with a zero limit")
        }
        Err(e) => e.to_string(),
    };
    assert!(e.contains("limits.seat_lock"), "{e}");
}

// --- Two server processes, one Redis, one database --------------------------------------------

/// A server in a child process of this test binary, stopped (killed) when dropped.
struct ChildServer {
    child: Child,
    base: String,
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ADMIN: (&str, &str) = ("admin@tessera.test", "admin password 123");

/// Start this binary as a server on `db` with `limits`, counted in Redis under `prefix`;
/// `admin` creates the operator account first.
fn spawn_server(db: &TestDb, limits: &str, prefix: &str, admin: bool) -> ChildServer {
    let config = db.config();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env(CHILD, "1")
        .env("CHILD_DATABASE_URL", &config.database_url)
        .env("CHILD_RATE_LIMITS", limits)
        .env("CHILD_REDIS_URL", redis_url())
        .env("CHILD_REDIS_PREFIX", prefix)
        .env("CHILD_CREATE_ADMIN", if admin { "1" } else { "" })
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(dir) = &config.data_dir {
        cmd.env("CHILD_DATA_DIR", dir);
    }
    let mut child = cmd.spawn().expect("spawn the server process");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .strip_prefix("LISTENING ")
        .unwrap_or_else(|| panic!("server process said {line:?}"))
        .trim()
        .to_owned();
    ChildServer {
        child,
        base: format!("http://{addr}"),
    }
}

/// The child's side: serve until stdin closes (or the parent kills it).
fn child_server() -> std::process::ExitCode {
    let var = |n: &str| std::env::var(n).unwrap_or_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = tessera_api::Config {
            database_url: var("CHILD_DATABASE_URL"),
            data_dir: std::env::var_os("CHILD_DATA_DIR").map(Into::into),
            database_max_connections: 10,
            log: "warn".into(),
            log_format: "text".into(),
        };
        let mut server = limited(&var("CHILD_RATE_LIMITS"));
        server.rate_limits.redis_url = Some(SecretString::from(var("CHILD_REDIS_URL")));
        server.rate_limits.redis_key_prefix = var("CHILD_REDIS_PREFIX");
        let running = RunningServer::start(&config, server).await.expect("start");
        if var("CHILD_CREATE_ADMIN") == "1" {
            running
                .services
                .identity
                .create_admin(ADMIN.0, ADMIN.1)
                .await
                .expect("create admin");
        }
        println!("LISTENING {}", running.addr);
        // Until the parent goes away.
        let _ = tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {}
        })
        .await;
        running.stop(Duration::from_secs(5)).await;
    });
    std::process::ExitCode::SUCCESS
}

fn seat_map(n: usize) -> Value {
    let seats: Vec<Value> = (1..=n)
        .map(|i| {
            json!({"seatId": format!("A-{i:03}"), "row": "1", "number": i, "x": 10 * i, "y": 0,
                   "type": "Normal"})
        })
        .collect();
    json!({"areas": [{"areaId": "A", "name": "A 區", "seats": seats}]})
}

/// A venue, an event on sale now and its session, made through `base`; returns the session id.
async fn on_sale_session(base: &str) -> String {
    let login = |email: &'static str, password: &'static str| async move {
        let a = call(
            base,
            Method::POST,
            "/v1/auth/login",
            None,
            &[],
            Some(json!({"email": email, "password": password})),
        )
        .await;
        assert_eq!(a.status, 200, "login {email}: {:?}", a.body);
        a.body["data"]["accessToken"].as_str().unwrap().to_owned()
    };
    let admin = login(ADMIN.0, ADMIN.1).await;
    let r = call(
        base,
        Method::POST,
        "/v1/venues",
        Some(&admin),
        &[],
        Some(json!({
            "name": "台北小巨蛋",
            "address": {"country": "TW", "city": "台北市", "street": "南京東路四段2號", "postalCode": "105"},
            "capacity": 20,
            "seatMap": seat_map(20),
        })),
    )
    .await;
    assert_eq!(r.status, 201, "venue: {:?}", r.body);
    let venue_id = r.body["data"]["venueId"].as_str().unwrap().to_owned();
    let tz = FixedOffset::east_opt(8 * 3600).unwrap();
    let now = Utc::now().with_timezone(&tz);
    let t = |d: ChronoDuration| (now + d).to_rfc3339();
    let r = call(
        base,
        Method::POST,
        "/v1/events",
        Some(&admin),
        &[],
        Some(json!({
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
        })),
    )
    .await;
    assert_eq!(r.status, 201, "event: {:?}", r.body);
    r.body["data"]["sessions"][0]["sessionId"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn sign_up(base: &str, email: &str) -> String {
    let body = json!({"email": email, "password": "correct horse battery"});
    let r = call(
        base,
        Method::POST,
        "/v1/auth/register",
        None,
        &[],
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, 201, "register: {:?}", r.body);
    let r = call(base, Method::POST, "/v1/auth/login", None, &[], Some(body)).await;
    assert_eq!(r.status, 200, "login: {:?}", r.body);
    r.body["data"]["accessToken"].as_str().unwrap().to_owned()
}

async fn two_processes(db: Arc<TestDb>) {
    require_redis().await;
    let prefix = format!("tessera:rl:test:{}:", uuid::Uuid::new_v4().simple());
    // Reads poll below: only locks are limited tightly here.
    let policy = r#"{"window_secs": 3600, "limits": {"auth": 1000, "other": 100000}}"#;
    let a = spawn_server(&db, policy, &prefix, true);
    let b = spawn_server(&db, policy, &prefix, false);
    let session = on_sale_session(&a.base).await;
    let frank = sign_up(&b.base, "frank@tessera.test").await;
    // Six locks of distinct seats, alternating between the processes: five go through, with one
    // budget counting down across both, and the sixth is refused.
    let servers = [&a.base, &b.base];
    for i in 0..5u64 {
        let seat = format!("A-{:03}", i + 1);
        let r = lock(servers[(i % 2) as usize], &frank, &session, &[&seat]).await;
        assert_eq!(r.status, StatusCode::OK, "lock {seat}: {:?}", r.body);
        let (limit, remaining, _) = r.limits();
        assert_eq!((limit, remaining), (5, 4 - i), "one budget across both");
    }
    let sixth = lock(&b.base, &frank, &session, &["A-006"]).await;
    assert_refused(&sixth, "seat_lock", 5);
    let again = lock(&a.base, &frank, &session, &["A-007"]).await;
    assert_refused(&again, "seat_lock", 5);
    // Exactly the five seats are locked, as either process reads them (each follows the log on
    // its own, so the other's locks may take a moment to show).
    for i in 1..=7usize {
        let expected = if i <= 5 { "Locked" } else { "Available" };
        let path = format!("/v1/sessions/{session}/seats/A-{i:03}");
        let mut status = Value::Null;
        for _ in 0..150 {
            let seat = call(servers[i % 2], Method::GET, &path, None, &[], None).await;
            assert_eq!(seat.status, 200, "{:?}", seat.body);
            status = seat.body["data"]["status"].clone();
            if status == expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(status, expected, "A-{i:03}");
    }
    for s in [&a.base, &b.base] {
        let ops = call(s, Method::GET, "/health/rate-limits", None, &[], None).await;
        assert_eq!(ops.body, json!({"mode": "redis", "failOpenTotal": 0}));
    }
    drop(a);
    drop(b);
}

async fn redis_down(db: Arc<TestDb>) {
    // A port that was just free and is closed now.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut config = limited(HOURLY);
    config.rate_limits.redis_url = Some(SecretString::from(format!("redis://127.0.0.1:{closed}")));
    config.rate_limits.redis_timeout_ms = 200;
    let t = TestServer::start_with(&db, config).await;
    let (_, gina) = t.customer("gina@tessera.test").await;
    let session = uuid::Uuid::now_v7().to_string();
    for _ in 0..7 {
        let a = lock(&t.base, &gina, &session, &["A-001"]).await;
        assert_eq!(
            a.status,
            StatusCode::NOT_FOUND,
            "passes unchecked: {:?}",
            a.body
        );
        assert!(!a.has_limit_headers());
    }
    let ops = call(&t.base, Method::GET, "/health/rate-limits", None, &[], None).await;
    assert_eq!(ops.body["mode"], "redis");
    // Sign-up, sign-in and the seven locks, at least.
    assert!(
        ops.body["failOpenTotal"].as_u64().unwrap() >= 9,
        "{:?}",
        ops.body
    );
    // The same, per class, as the Prometheus counter operators alert on (docs/operations.md). The
    // recorder is process-wide, so other cases may have added to it: at least the seven locks.
    let metrics = reqwest::get(format!("{}/metrics", t.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let seat_locks = metrics
        .lines()
        .find_map(|l| l.strip_prefix(r#"tessera_rate_limit_fail_open_total{class="seat_lock"} "#))
        .unwrap_or_else(|| panic!("no fail-open counter for seat_lock in /metrics:\n{metrics}"));
    assert!(
        seat_locks.trim().parse::<f64>().unwrap() >= 7.0,
        "{seat_locks}"
    );
    t.stop().await;
}
