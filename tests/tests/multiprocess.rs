//! Several server processes on one database (issue 16, docs/decisions/0038-several-processes.md,
//! docs/deployment.md).
//!
//! `deadline_claims_*` (both backends): two stores on one database, as two processes have; a
//! deadline claimed by one is skipped by the other until its lease ends, and two schedulers
//! polling together fire each deadline once.
//!
//! `two_stores_append_together_on_one_database` (both backends): two stores on one database append
//! at once — own streams, one shared stream with version conflicts, and one multi-stream commit
//! retried from both stores with the same event ids — so that each store's group commit races the
//! other's for the log head, as two processes' do. Then the log has contiguous positions, each
//! acknowledged event exactly once at the position its append answered, contiguous stream
//! versions, a `recorded_at` that never decreases, the retried commit once, and `audit verify`
//! passes. (It caught a lock-order deadlock in an experiment with the PostgreSQL append path,
//! docs/benchmarks.md, "Tried and not kept".)
//!
//! `commits_elsewhere_are_seen_while_the_listener_is_down` (PostgreSQL): store A's `LISTEN`
//! connection (`crate::pg_listen`) is terminated again and again while store B commits, so B's
//! notifications are lost; A's readers must still learn of B's commits (A re-reads the head after
//! every reconnection, and polls it while it cannot listen) well within the documented bound
//! instead of waiting out their own `max_wait`.
//!
//! `two_api_processes_and_a_projection_process` (PostgreSQL): real OS processes of the `tessera`
//! command line (`tessera-process`, built from this package): two `TESSERA_ROLE=api` processes and
//! one `projections` process. Requests alternate between the API processes: an OpenTicket race (200
//! buyers for 50 seats: lock, order, pay) and a meeting race (60 buyers for 25 tickets). Halfway
//! the projection process is killed (SIGKILL) and another started. Then: no seat sold twice and no
//! more meeting tickets than stock (responses, read models and a replay agree), every acknowledged
//! write is in the read models and the log, the read models equal a rebuild from 0, each lock
//! expiry took effect once, `tessera audit verify` passes; a write to one process is read from the
//! other right away, and the seat stream on one process shows a lock made on the other.
//!
//! `signalr_clients_of_one_process_hear_another` (PostgreSQL): the official npm SignalR client
//! (`@microsoft/signalr`, tests/node, via `tessera_tests::signalr`) connected to one API process's
//! `/hubs/tickets`, as the session's buyer and anonymously, receives exactly the seat and order
//! notices of locks, a release, an order and its cancellation made through the other API process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use chrono::{Duration as ChronoDuration, FixedOffset, Utc};
use serde_json::{Value, json};
use sqlx::Connection;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tessera_application::deadlines::CLAIM_LEASE;
use tessera_application::{
    AppendRequest, Deadline, DeadlineHandler, DeadlineScheduler, ExpectedVersion, HandlerError,
    NewDeadline,
};
use tessera_tests::signalr::{Watch, Watcher, order_changes, pairs, seat_changes};
use tessera_tests::{Suite, TestDb, new_event, stream};

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("deadline_claims_one_scheduler_at_a_time", deadline_claims)
        .case(
            "two_stores_append_together_on_one_database",
            stores_append_together,
        )
        .postgres_case(
            "commits_elsewhere_are_seen_while_the_listener_is_down",
            listener_down,
        )
        .postgres_case(
            "two_api_processes_and_a_projection_process",
            several_processes,
        )
        .postgres_case(
            "signalr_clients_of_one_process_hear_another",
            hub_across_processes,
        )
        .run()
}

// ------------------------------------------------------------------------- appends from two stores

async fn stores_append_together(db: Arc<TestDb>) {
    const WRITERS: usize = 6;
    const APPENDS: u64 = 12;
    const RETRIES: usize = 4;
    let (_a_db, a) = db.stores().await;
    let (_b_db, b) = db.stores().await;
    let stores = [a.events.clone(), b.events.clone()];
    // (event id, position answered) of every acknowledged event.
    type Acked = Vec<(uuid::Uuid, u64)>;
    let mut tasks: Vec<tokio::task::JoinHandle<Acked>> = Vec::new();
    for (k, store) in stores.iter().enumerate() {
        for w in 0..WRITERS {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                let own = stream(&format!("own-{k}-{w}"));
                let mut acked = Vec::new();
                for i in 0..APPENDS {
                    let events = vec![
                        new_event("A", json!({"i": i})),
                        new_event("B", json!({"i": i})),
                    ];
                    let ids: Vec<_> = events.iter().map(|e| e.event_id).collect();
                    let out = s
                        .append(AppendRequest::new(
                            own.clone(),
                            ExpectedVersion::Exact(i * 2),
                            events,
                        ))
                        .await
                        .unwrap();
                    acked.extend(ids.into_iter().zip(out.positions));
                }
                acked
            }));
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                let shared = stream("shared-1");
                let mut acked = Vec::new();
                for i in 0..APPENDS / 3 {
                    loop {
                        let v = s.stream_version(&shared).await.unwrap();
                        let event = new_event("S", json!({"k": k, "w": w, "i": i}));
                        let id = event.event_id;
                        match s
                            .append(AppendRequest::new(
                                shared.clone(),
                                ExpectedVersion::Exact(v),
                                vec![event],
                            ))
                            .await
                        {
                            Ok(out) => {
                                acked.push((id, out.positions[0]));
                                break;
                            }
                            Err(tessera_application::StoreError::VersionConflict { .. }) => {}
                            Err(e) => panic!("unexpected error: {e}"),
                        }
                    }
                }
                acked
            }));
        }
    }
    // One multi-stream commit, sent by both stores several times at once with the same ids.
    let commit = vec![
        AppendRequest::new(
            stream("retried-1"),
            ExpectedVersion::NoStream,
            vec![new_event("R", json!({})), new_event("R", json!({}))],
        ),
        AppendRequest::new(
            stream("retried-2"),
            ExpectedVersion::NoStream,
            vec![new_event("R", json!({}))],
        ),
    ];
    let mut retries = Vec::new();
    for r in 0..RETRIES {
        let s = stores[r % 2].clone();
        let commit = commit.clone();
        retries.push(tokio::spawn(async move {
            s.append_streams(commit).await.unwrap()
        }));
    }
    let mut acked: Acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    let mut answers = Vec::new();
    for r in retries {
        answers.push(r.await.unwrap());
    }
    let written: Vec<_> = answers
        .iter()
        .map(|a| {
            a.iter()
                .map(|o| (o.stream_version, o.positions.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        written.windows(2).all(|w| w[0] == w[1]),
        "every retry of the commit gets the original outcome: {answers:?}"
    );
    assert_eq!(
        answers.iter().filter(|a| !a[0].deduplicated).count(),
        1,
        "written once: {answers:?}"
    );
    for (request, outcome) in commit.iter().zip(&answers[0]) {
        let ids = request.events.iter().map(|e| e.event_id);
        acked.extend(ids.zip(outcome.positions.iter().copied()));
    }

    let log = a.events.read_all(0, 100_000).await.unwrap();
    let total = (WRITERS * 2) as u64 * (APPENDS * 2 + APPENDS / 3) + 3;
    let positions: Vec<u64> = log.iter().map(|e| e.global_position).collect();
    assert_eq!(
        positions,
        (1..=total).collect::<Vec<_>>(),
        "contiguous positions"
    );
    let logged: HashMap<uuid::Uuid, u64> = log
        .iter()
        .map(|e| (e.event_id, e.global_position))
        .collect();
    assert_eq!(logged.len() as u64, total, "each event once");
    assert_eq!(acked.len() as u64, total);
    for (id, position) in &acked {
        assert_eq!(logged.get(id), Some(position), "acknowledged event {id}");
    }
    let mut versions: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for e in &log {
        versions
            .entry(e.stream_id.to_string())
            .or_default()
            .push(e.stream_version);
    }
    for (name, v) in &versions {
        assert_eq!(v, &(1..=v.len() as u64).collect::<Vec<_>>(), "{name}");
    }
    assert!(
        log.windows(2).all(|w| w[0].recorded_at <= w[1].recorded_at),
        "recorded_at never decreases along the log"
    );
    assert_eq!(b.events.head_position().await.unwrap(), total);
    let report = tessera_infrastructure::audit::verify(b.audit.as_ref(), |_| {})
        .await
        .unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.events_checked, total);
}

// ------------------------------------------------------------------------- listener down

async fn listener_down(db: Arc<TestDb>) {
    let (a_db, a) = db.stores().await;
    let (_b_db, b) = db.stores().await;
    let tessera_infrastructure::Database::Postgres(a_pool) = &a_db else {
        panic!("a PostgreSQL case")
    };
    let listeners = "SELECT count(*) FROM pg_stat_activity \
                     WHERE datname = current_database() AND query LIKE 'LISTEN%'";
    let kill = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                WHERE datname = current_database() AND query LIKE 'LISTEN%'";
    let wait_for_listeners = || async {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while tessera_tests::scalar_i64(&db.url, listeners).await < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "listeners never came up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    for round in 0..2u64 {
        wait_for_listeners().await;
        let head = a.events.head_position().await.unwrap();
        // Hold every other connection of A's pool, so that A's listener, once terminated, cannot
        // come back (it listens on a connection of its store's pool) while B commits.
        let mut held = Vec::new();
        while let Ok(Ok(c)) =
            tokio::time::timeout(Duration::from_millis(300), a_pool.acquire()).await
        {
            held.push(c);
        }
        assert!(!held.is_empty());
        assert!(
            tessera_tests::exec_sql(&db.url, kill).await.unwrap() > 0,
            "no listener was terminated"
        );
        b.events
            .append(AppendRequest::new(
                stream(&format!("elsewhere-{round}")),
                ExpectedVersion::NoStream,
                vec![new_event("OpenTicketOrderPlaced", json!({"round": round}))],
            ))
            .await
            .unwrap();
        // B's notification went out while A was not listening: lost for A.
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(held);
        let released = std::time::Instant::now();
        // A's reader waits far longer than the bound: only A's recovery (reconnect, then read
        // the head) can wake it in time.
        a.events
            .wait_for_append(head, Duration::from_secs(60))
            .await
            .unwrap();
        let lag = released.elapsed();
        assert!(
            lag < Duration::from_secs(15),
            "round {round}: A learnt of B's commit {lag:?} after it could listen again"
        );
    }
}

// ------------------------------------------------------------------------- deadline claims

struct Counting(Arc<Mutex>);
type Mutex = std::sync::Mutex<HashMap<uuid::Uuid, usize>>;

#[async_trait]
impl DeadlineHandler for Counting {
    async fn fire(&self, deadline: &Deadline) -> Result<(), HandlerError> {
        *self
            .0
            .lock()
            .unwrap()
            .entry(deadline.deadline_id)
            .or_default() += 1;
        // Long enough for the other scheduler to poll while this one is firing.
        tokio::time::sleep(Duration::from_millis(2)).await;
        Ok(())
    }
}

async fn deadline_claims(db: Arc<TestDb>) {
    // Two stores on one database: what two processes have.
    let (_a_db, a) = db.stores().await;
    let (_b_db, b) = db.stores().await;
    let t0 = Utc::now() + ChronoDuration::minutes(10);
    let mut request = AppendRequest::new(
        stream("openticketOrder-1"),
        ExpectedVersion::NoStream,
        vec![new_event("OpenTicketOrderPlaced", json!({}))],
    );
    for i in 0..60 {
        request.deadlines.push(NewDeadline {
            deadline_id: uuid::Uuid::now_v7(),
            kind: if i == 0 { "lone" } else { "counted" }.into(),
            due_at: t0 + ChronoDuration::seconds(i),
            payload: json!({}),
        });
    }
    a.events.append(request).await.unwrap();

    // One claims the first; the other skips it while the lease runs, and takes it over after.
    let claimed = a.deadlines.due_deadlines(t0, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].kind, "lone");
    assert!(
        b.deadlines.due_deadlines(t0, 10).await.unwrap().is_empty(),
        "claimed by the other process"
    );
    assert!(
        a.deadlines.due_deadlines(t0, 10).await.unwrap().is_empty(),
        "claimed once, also for the claimant"
    );
    let lease = ChronoDuration::from_std(CLAIM_LEASE).unwrap();
    let later = t0 + lease + ChronoDuration::seconds(1);
    let taken = b.deadlines.due_deadlines(later, 1).await.unwrap();
    assert_eq!(taken.len(), 1, "a dead claimant's claim comes back");
    assert_eq!(taken[0].deadline_id, claimed[0].deadline_id);
    // A failure releases the claim: due again at its retry time.
    b.deadlines
        .mark_failed(taken[0].deadline_id, "boom", later)
        .await
        .unwrap();
    let again = a.deadlines.due_deadlines(later, 100).await.unwrap();
    let lone = again.iter().find(|d| d.kind == "lone");
    assert!(lone.is_some(), "released by mark_failed");
    a.deadlines
        .mark_fired(lone.unwrap().deadline_id, later)
        .await
        .unwrap();

    // Two schedulers at once fire every deadline exactly once.
    let fired = Arc::new(Mutex::default());
    let scheduler = |store: &tessera_infrastructure::Stores| {
        let mut s = DeadlineScheduler::new(store.deadlines.clone());
        s.register("counted", Arc::new(Counting(fired.clone())));
        s
    };
    let (sa, sb) = (scheduler(&a), scheduler(&b));
    // Later than the claims just taken (they lapse as a dead process's would).
    let now = later + lease + ChronoDuration::seconds(1);
    let (ra, rb) = tokio::join!(sa.fire_due(now), sb.fire_due(now));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.failed + rb.failed, 0);
    assert_eq!(ra.fired + rb.fired, 59, "{ra:?} {rb:?}");
    let counts: Vec<usize> = fired.lock().unwrap().values().copied().collect();
    assert_eq!(counts.len(), 59);
    assert!(
        counts.iter().all(|n| *n == 1),
        "each fired once: {counts:?}"
    );
    assert_eq!(a.deadlines.pending_count().await.unwrap(), 0);
}

// ------------------------------------------------------------------------ several processes

const JWT_SECRET: &str = "multiprocess-test-jwt-secret-of-32-bytes!";
const CODE_SECRET: &str = "multiprocess-test-ticket-code-secret-32b!";
const SEATS: usize = 50;
/// Seat locks lapse after this (s): short, so that their expiry deadlines fire within the test.
const LOCK_TTL_SECS: u64 = 5;
const BUYERS: usize = 200;
const MEETING_BUYERS: usize = 60;
const MEETING_STOCK: u32 = 25;

/// One `tessera-process` OS process.
struct Node {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Node {
    fn start(db: &TestDb, dir: &Path, role: &str, name: &str) -> Node {
        Node::start_with(db, dir, role, name, &[])
    }

    /// [`Node::start`] with settings of its own (`env`: name, value), overriding the shared ones.
    fn start_with(db: &TestDb, dir: &Path, role: &str, name: &str, env: &[(&str, &str)]) -> Node {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join(format!("{name}.log"));
        let child = command(db, dir)
            .env("TESSERA_ROLE", role)
            .env("TESSERA_BIND", format!("127.0.0.1:{port}"))
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start tessera-process");
        Node {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    /// Wait for `/health`.
    async fn ready(&self, http: &reqwest::Client) {
        for _ in 0..600 {
            if let Ok(r) = http.get(format!("{}/health", self.base)).send().await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{} did not start: {}",
            self.base,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// SIGKILL: no shutdown, connections just drop.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM and wait for the graceful shutdown.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().unwrap();
    }

    /// The SMS code this process logged for `phone` (development SMS sender).
    async fn sms_code(&self, phone: &str) -> String {
        let needle = format!("phone={phone} code=");
        for _ in 0..200 {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(at) = text.rfind(&needle) {
                return text[at + needle.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no SMS code logged for {phone}");
    }
}

/// The command line with the settings every process of the test shares.
fn command(db: &TestDb, dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tessera-process"));
    c.env("TESSERA_DATABASE_URL", &db.url)
        .env("TESSERA_DATA_DIR", dir)
        .env("TESSERA_DATABASE_MAX_CONNECTIONS", "8")
        .env("TESSERA_JWT_SECRET", JWT_SECRET)
        .env("TESSERA_TICKET_CODE_SECRET", CODE_SECRET)
        .env("TESSERA_RATE_LIMITS", "off")
        .env("TESSERA_PASSWORD_HASH_MEMORY_KIB", "1024")
        .env("TESSERA_PASSWORD_HASH_ITERATIONS", "1")
        .env("TESSERA_DEADLINE_POLL_MS", "100")
        .env("TESSERA_SEAT_LOCK_TTL_SECS", LOCK_TTL_SECS.to_string())
        .env("TESSERA_SHUTDOWN_GRACE_SECS", "5")
        .env("TESSERA_LOG", "warn,tessera::sms=info");
    c
}

/// Run a one-shot command (`migrate`, `audit verify`, …); returns (success, output).
fn run_cli(db: &TestDb, dir: &Path, args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = command(db, dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[derive(Clone)]
struct Api {
    http: reqwest::Client,
}

impl Api {
    async fn send(
        &self,
        method: reqwest::Method,
        url: String,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
    async fn post(&self, url: String, token: Option<&str>, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, url, token, Some(body))
            .await
    }
    /// POST as a client of the documents does when told "temporarily unavailable; try again": a
    /// 503 means the command was not committed (its stream stayed contended past the runner's
    /// retries, which happens when two processes batch on one hot stream), so it is sent again, up
    /// to 5 times. Any other answer is returned as is.
    async fn post_retrying(&self, url: String, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut answer = self.post(url.clone(), token, body.clone()).await;
        for _ in 0..5 {
            if answer.0 != 503 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            answer = self.post(url.clone(), token, body.clone()).await;
        }
        answer
    }
    async fn get(&self, url: String, token: Option<&str>) -> (u16, Value) {
        self.send(reqwest::Method::GET, url, token, None).await
    }
    /// POST that must succeed (2xx); returns the body.
    async fn ok(&self, url: String, token: Option<&str>, body: Value) -> Value {
        let (status, body) = self.post(url.clone(), token, body).await;
        assert!((200..300).contains(&status), "POST {url}: {status} {body}");
        body
    }
    async fn login(&self, base: &str, email: &str, password: &str) -> String {
        let r = self
            .ok(
                format!("{base}/v1/auth/login"),
                None,
                json!({"email": email, "password": password}),
            )
            .await;
        r["data"]["accessToken"].as_str().unwrap().to_owned()
    }
    async fn customer(&self, base: &str, email: &str) -> (String, String) {
        let r = self
            .ok(
                format!("{base}/v1/auth/register"),
                None,
                json!({"email": email, "password": "correct horse battery"}),
            )
            .await;
        let id = r["data"]["userId"].as_str().unwrap().to_owned();
        (id, self.login(base, email, "correct horse battery").await)
    }
}

fn venue_body() -> Value {
    let seats: Vec<Value> = (1..=SEATS)
        .map(|i| {
            json!({"seatId": seat(i - 1), "row": "1", "number": i, "x": 10 * i, "y": 0, "type": "Normal"})
        })
        .collect();
    json!({
        "name": "台北小巨蛋",
        "address": {"country": "TW", "city": "台北市", "street": "南京東路四段2號", "postalCode": "105"},
        "capacity": SEATS,
        "seatMap": { "areas": [{"areaId": "A", "name": "A 區", "seats": seats}] },
    })
}

fn seat(i: usize) -> String {
    format!("A-{:03}", i + 1)
}

fn event_body(venue_id: &str) -> Value {
    let tz = FixedOffset::east_opt(8 * 3600).unwrap();
    let now = Utc::now().with_timezone(&tz);
    let t = |d: ChronoDuration| (now + d).to_rfc3339();
    json!({
        "name": "五月天演唱會",
        "description": "several processes",
        "venueId": venue_id,
        "sessions": [{
            "startTime": t(ChronoDuration::days(2)),
            "endTime": t(ChronoDuration::days(2) + ChronoDuration::hours(3)),
            "saleStartTime": t(-ChronoDuration::hours(1)),
            "saleEndTime": t(ChronoDuration::days(1)),
        }],
        "priceCategories": [
            {"categoryId": "A", "name": "A 區", "areaIds": ["A"], "price": {"amount": 2800, "currency": "TWD"}},
        ],
    })
}

/// What one OpenTicket buyer got acknowledged.
#[derive(Debug, Default)]
struct Bought {
    lock: Option<String>,
    order: Option<String>,
    paid: bool,
}

/// Buyer `i` on `base`: lock seat `i % 50`; two in three then order it, and one in two of those
/// pay (the others' locks or orders stay for the deadlines).
async fn buy(api: Api, base: String, token: String, session: String, i: usize) -> Bought {
    let mut out = Bought::default();
    let (status, body) = api
        .post(
            format!("{base}/v1/sessions/{session}/seats/lock"),
            Some(&token),
            json!({"seatIds": [seat(i % SEATS)]}),
        )
        .await;
    match status {
        200 => out.lock = Some(body["data"]["lockId"].as_str().unwrap().to_owned()),
        409 => return out,
        other => panic!("lock: {other} {body}"),
    }
    if i.is_multiple_of(3) {
        return out;
    }
    let (status, body) = api
        .post_retrying(
            format!("{base}/v1/orders"),
            Some(&token),
            json!({"sessionId": session, "seatIds": [seat(i % SEATS)], "paymentProvider": "Mock"}),
        )
        .await;
    // 409: the lock lapsed before the order came (a slow machine); it then expires like others.
    assert!(matches!(status, 201 | 202 | 409), "order: {status} {body}");
    let Some(order) = body["data"]["orderId"].as_str() else {
        return out;
    };
    out.order = Some(order.to_owned());
    // A 202 (read models late: no projection leader for a moment) carries no payment to confirm.
    if i.is_multiple_of(2)
        && let Some(payment) = body["data"]["payment"]["paymentId"].as_str()
    {
        let (status, body) = api
            .post(
                format!("{base}/v1/mock-payment/{payment}/confirm"),
                None,
                json!({}),
            )
            .await;
        assert!(matches!(status, 200 | 202), "pay: {status} {body}");
        out.paid = true;
    }
    out
}

/// A meeting user signed in through `base` (SMS code read from that process's log).
async fn meeting_user(api: &Api, node: &Node, n: usize) -> String {
    let base = &node.base;
    let phone = format!("139{n:08}");
    let wechat = format!("o-wx-mp-{n}");
    let (s, b) = api
        .post(format!("{base}/smsCodes"), None, json!({"phone": phone}))
        .await;
    assert_eq!(s, 202, "{b}");
    let (s, b) = api
        .post(
            format!("{base}/wechat_tokens"),
            None,
            json!({"wechatId": wechat, "wechatToken": format!("dev:{wechat}")}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let code = node.sms_code(&phone).await;
    let (s, b) = api
        .post(
            format!("{base}/users"),
            None,
            json!({"wechatId": wechat, "phone": phone, "smsCode": code}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = api
        .post(
            format!("{base}/tokens"),
            None,
            json!({"type": "wechat", "wechatId": wechat, "wechatToken": format!("dev:{wechat}")}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    b["access_token"].as_str().unwrap().to_owned()
}

/// Every row of every OpenTicket and meeting read-model table, as text, sorted.
async fn dump(url: &str) -> BTreeMap<String, Vec<String>> {
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND (table_name LIKE 'ot\\_%' OR table_name LIKE 'mt\\_%') \
         ORDER BY 1",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    let mut out = BTreeMap::new();
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT t::text FROM {table} t ORDER BY 1"
        )))
        .fetch_all(&mut c)
        .await
        .unwrap();
        out.insert(table, rows);
    }
    out
}

async fn scalar(url: &str, sql: &str) -> i64 {
    tessera_tests::scalar_i64(url, sql).await
}

/// Wait until every projection and process manager has reached the log head and it stays put.
async fn settled(url: &str) {
    let mut last = -1;
    for _ in 0..400 {
        let head = scalar(url, "SELECT position FROM event_log_head").await;
        let behind = scalar(
            url,
            &format!("SELECT COUNT(*) FROM projection_checkpoints WHERE position < {head}"),
        )
        .await;
        let due = scalar(
            url,
            "SELECT COUNT(*) FROM deadlines WHERE fired_at IS NULL AND next_attempt_at <= now()",
        )
        .await;
        if behind == 0 && due == 0 && head == last {
            return;
        }
        last = head;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("projections did not settle");
}

/// What runs before the first process starts: `tessera migrate` and `users create-admin`
/// (`admin@mp.test`).
fn prepare(db: &TestDb, dir: &Path) {
    let (ok, out) = run_cli(db, dir, &["migrate"], "");
    assert!(ok, "migrate: {out}");
    let (ok, out) = run_cli(
        db,
        dir,
        &[
            "users",
            "create-admin",
            "--email",
            "admin@mp.test",
            "--password-stdin",
        ],
        "admin password 123\n",
    );
    assert!(ok, "create-admin: {out}");
}

/// The OpenTicket set-up, with a write on one process read from the other right after: an
/// organizer (registered on `b`, promoted on `a`), a venue of [`SEATS`] seats and an event on sale
/// made on `a` and read on `b`. Returns the admin's token and the event's session id.
async fn on_sale_session(api: &Api, a: &str, b: &str) -> (String, String) {
    let admin = api.login(a, "admin@mp.test", "admin password 123").await;
    let (organizer_id, _) = api.customer(b, "organizer@mp.test").await;
    api.ok(
        format!("{a}/v1/admin/users/{organizer_id}/roles"),
        Some(&admin),
        json!({"role": "organizer"}),
    )
    .await;
    let organizer = api
        .login(b, "organizer@mp.test", "correct horse battery")
        .await;
    let venue = api
        .ok(format!("{a}/v1/venues"), Some(&admin), venue_body())
        .await;
    let venue_id = venue["data"]["venueId"].as_str().unwrap().to_owned();
    let event = api
        .ok(
            format!("{a}/v1/events"),
            Some(&organizer),
            event_body(&venue_id),
        )
        .await;
    let event_id = event["data"]["eventId"].as_str().unwrap().to_owned();
    let session = event["data"]["sessions"][0]["sessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, body) = api.get(format!("{b}/v1/events/{event_id}"), None).await;
    assert_eq!(s, 200, "written on A, read on B at once: {body}");
    (admin, session)
}

async fn several_processes(db: Arc<TestDb>) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    prepare(&db, dir);

    let mut a = Node::start(&db, dir, "api", "a");
    let mut b = Node::start(&db, dir, "api", "b");
    let mut p1 = Node::start(&db, dir, "projections", "p1");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    for n in [&a, &b, &p1] {
        n.ready(&http).await;
    }
    let api = Api { http: http.clone() };
    // The projections process serves only health, readiness and metrics.
    let (s, _) = api.get(format!("{}/ready", p1.base), None).await;
    assert_eq!(s, 200);
    let (s, _) = api.get(format!("{}/v1/events", p1.base), None).await;
    assert_eq!(s, 404, "no API on a projections process");

    // Set-up, with a write on one process read from the other right after.
    let (admin, session) = on_sale_session(&api, &a.base, &b.base).await;

    // The seat stream on A shows a lock made on B.
    let (_, watcher) = api.customer(&a.base, "watcher@mp.test").await;
    let mut stream = http
        .get(format!("{}/v1/sessions/{session}/seats/stream", a.base))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let (s, body) = api
        .post(
            format!("{}/v1/sessions/{session}/seats/lock", b.base),
            Some(&watcher),
            json!({"seatIds": [seat(0)]}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let mut seen = String::new();
    let shown = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(chunk)) = stream.chunk().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains(&seat(0)) && seen.contains("Locked") {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(shown, Ok(true)),
        "A's seat stream shows B's lock: {seen}"
    );
    drop(stream);
    let (s, body) = api
        .send(
            reqwest::Method::DELETE,
            format!("{}/v1/sessions/{session}/seats/lock", a.base),
            Some(&watcher),
            Some(json!({"seatIds": [seat(0)]})),
        )
        .await;
    assert_eq!(s, 200, "{body}");

    // Buyers, alternating between the API processes.
    let bases = [a.base.clone(), b.base.clone()];
    let mut buyers = Vec::new();
    for i in 0..BUYERS {
        let (_, token) = api
            .customer(&bases[i % 2], &format!("buyer{i}@mp.test"))
            .await;
        buyers.push(token);
    }
    // The meeting (25 tickets) and its 60 buyers.
    let start = Utc::now() + ChronoDuration::days(7);
    let (s, m) = api
        .post(
            format!("{}/meetings", a.base),
            Some(&admin),
            json!({
                "title": "2026 开发者大会",
                "description": "年度技术会议",
                "location": "上海国际会议中心",
                "startTime": start.to_rfc3339(),
                "endTime": (start + ChronoDuration::hours(8)).to_rfc3339(),
                "ticketGrades": [{"name": "普通票", "price": 99.5, "stock": MEETING_STOCK}],
                "status": "onSale",
            }),
        )
        .await;
    assert_eq!(s, 201, "{m}");
    let meeting_id = m["id"].as_str().unwrap().to_owned();
    let grade = m["ticketGrades"][0]["id"].as_str().unwrap().to_owned();
    let mut meeting_buyers = Vec::new();
    for n in 0..MEETING_BUYERS {
        let node = if n % 2 == 0 { &a } else { &b };
        meeting_buyers.push(meeting_user(&api, node, n).await);
    }

    // The race, in two halves; the projection process is killed between them and another one
    // starts while the second half is under way.
    let race = |range: std::ops::Range<usize>| {
        let mut tasks = Vec::new();
        for i in range.clone() {
            tasks.push(tokio::spawn(buy(
                api.clone(),
                bases[i % 2].clone(),
                buyers[i].clone(),
                session.clone(),
                i,
            )));
        }
        let meeting_range =
            range.start * MEETING_BUYERS / BUYERS..range.end * MEETING_BUYERS / BUYERS;
        let mut meeting_tasks = Vec::new();
        for n in meeting_range {
            let (api, base, token) = (api.clone(), bases[n % 2].clone(), meeting_buyers[n].clone());
            let body = json!({
                "items": [{"ticketGradeId": grade, "ticketPrice": 99.5, "ticketAmount": 1, "meetingId": meeting_id}],
                "meetingId": meeting_id,
                "paymentMethodId": "mock",
            });
            meeting_tasks.push(tokio::spawn(async move {
                let (s, order) = api
                    .post_retrying(format!("{base}/orders"), Some(&token), body)
                    .await;
                match s {
                    201 | 202 => {}
                    400 => {
                        assert_eq!(order["type"], "No Stock", "{order}");
                        return None;
                    }
                    other => panic!("meeting order: {other} {order}"),
                }
                let id = order["id"].as_str().unwrap().to_owned();
                let (s, paid) = api
                    .post(
                        format!("{base}/third_party_transactions"),
                        Some(&token),
                        json!({"orderId": id, "transactionId": format!("mock_{n}")}),
                    )
                    .await;
                assert!(matches!(s, 201 | 202), "meeting payment: {s} {paid}");
                Some((id, token))
            }));
        }
        (tasks, meeting_tasks)
    };
    let mut bought = Vec::new();
    let mut meeting_orders = Vec::new();
    let (tasks, meeting_tasks) = race(0..BUYERS / 2);
    for t in tasks {
        bought.push(t.await.unwrap());
    }
    for t in meeting_tasks {
        meeting_orders.extend(t.await.unwrap());
    }
    p1.kill();
    let (tasks, meeting_tasks) = race(BUYERS / 2..BUYERS);
    let mut p2 = Node::start(&db, dir, "projections", "p2");
    for t in tasks {
        bought.push(t.await.unwrap());
    }
    for t in meeting_tasks {
        meeting_orders.extend(t.await.unwrap());
    }
    p2.ready(&http).await;
    // Let the locks nobody ordered expire and their deadlines fire.
    tokio::time::sleep(Duration::from_secs(LOCK_TTL_SECS + 1)).await;
    settled(&db.url).await;

    // No oversell: each seat sold to one paid order at most.
    let paid: Vec<&Bought> = bought.iter().filter(|b| b.paid).collect();
    let mut sold_in_model = 0;
    for i in 0..SEATS {
        let (s, body) = api
            .get(
                format!("{}/v1/sessions/{session}/seats/{}", bases[i % 2], seat(i)),
                None,
            )
            .await;
        assert_eq!(s, 200, "{body}");
        sold_in_model += usize::from(body["data"]["status"] == "Sold");
    }
    assert_eq!(
        sold_in_model,
        paid.len(),
        "read model: one Sold seat per paid order"
    );
    assert!(paid.len() <= SEATS);
    // Every acknowledged order is readable on both processes.
    for (i, got) in bought.iter().enumerate() {
        if let Some(order) = &got.order {
            for base in &bases {
                let (s, body) = api
                    .get(format!("{base}/v1/orders/{order}"), Some(&buyers[i]))
                    .await;
                assert_eq!(s, 200, "acknowledged order {order}: {body}");
                let expected = if got.paid { "Completed" } else { "Created" };
                assert_eq!(body["data"]["status"], expected, "{order}: {body}");
            }
        }
    }
    assert!(
        meeting_orders.len() <= MEETING_STOCK as usize,
        "no meeting oversell"
    );
    assert_eq!(
        meeting_orders.len(),
        MEETING_STOCK as usize,
        "the stock sold out"
    );
    let (_, m) = api
        .get(format!("{}/meetings/{meeting_id}", b.base), None)
        .await;
    assert_eq!(m["ticketGrades"][0]["remaining"], 0, "{m}");
    assert_eq!(m["ticketGrades"][0]["sold"], MEETING_STOCK, "{m}");
    for (id, token) in &meeting_orders {
        let (s, body) = api
            .get(format!("{}/orders/{id}", a.base), Some(token))
            .await;
        assert_eq!(s, 200, "acknowledged meeting order {id}: {body}");
    }

    // The log agrees (a replay of the events as stored).
    let sold_in_log = scalar(
        &db.url,
        "SELECT COUNT(*) FROM (SELECT jsonb_array_elements_text(data->'seatIds') FROM events \
         WHERE event_type = 'OpenTicketSeatsSold') s",
    )
    .await;
    let distinct_sold = scalar(
        &db.url,
        "SELECT COUNT(DISTINCT s) FROM (SELECT jsonb_array_elements_text(data->'seatIds') s \
         FROM events WHERE event_type = 'OpenTicketSeatsSold') x",
    )
    .await;
    assert_eq!(
        sold_in_log,
        paid.len() as i64,
        "log: one sale per paid order"
    );
    assert_eq!(distinct_sold, sold_in_log, "log: no seat sold twice");
    let locks_in_log = scalar(
        &db.url,
        "SELECT COUNT(*) FROM events WHERE event_type = 'OpenTicketSeatsLocked'",
    )
    .await;
    let acked_locks: HashSet<&String> = bought.iter().filter_map(|b| b.lock.as_ref()).collect();
    assert_eq!(
        locks_in_log,
        acked_locks.len() as i64 + 1,
        "every acknowledged lock (and the watcher's) is in the log"
    );

    // Each lock expiry took effect once: locks nobody ordered were released exactly once.
    let released_twice = scalar(
        &db.url,
        "SELECT COUNT(*) FROM (SELECT data->>'lockId' FROM events \
         WHERE event_type = 'OpenTicketSeatsReleased' AND data->>'lockId' IS NOT NULL \
         GROUP BY 1 HAVING COUNT(*) > 1) x",
    )
    .await;
    assert_eq!(released_twice, 0, "no lock released twice");
    let unordered = bought
        .iter()
        .filter(|b| b.lock.is_some() && b.order.is_none())
        .count() as i64;
    let expired = scalar(
        &db.url,
        "SELECT COUNT(*) FROM events WHERE event_type = 'OpenTicketSeatsReleased' \
         AND data->>'reason' = 'LockExpired'",
    )
    .await;
    // Not equal: a lapsed lock whose seat another buyer locked before its deadline fired has
    // nothing left to release.
    assert!(
        expired <= unordered && (unordered == 0 || expired > 0),
        "lock expiries: {expired} of {unordered} unordered locks"
    );
    assert_eq!(
        scalar(
            &db.url,
            "SELECT COUNT(*) FROM deadlines WHERE claimed_by IS NOT NULL"
        )
        .await,
        0,
        "no claim left behind"
    );

    // Stop everything; the read models equal a rebuild from 0, and the audit passes.
    for n in [&mut a, &mut b, &mut p2] {
        n.stop();
    }
    let live = dump(&db.url).await;
    let engine = db.engine().await;
    for name in engine.runner.names() {
        engine.runner.rebuild(name, |_, _| {}).await.unwrap();
    }
    assert_eq!(dump(&db.url).await, live, "read models equal a rebuild");
    let (ok, out) = run_cli(&db, dir, &["audit", "verify"], "");
    assert!(ok, "audit verify: {out}");
}

// ------------------------------------------------------------------- the hub across processes

/// The value of the unlabelled series `name` in `base`'s `/metrics` (Prometheus text).
async fn gauge(api: &Api, base: &str, name: &str) -> f64 {
    let text = api
        .http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in {base}/metrics: {text}"))
}

/// The official npm SignalR client (`@microsoft/signalr`, tests/node/watch.js) connected to API
/// process A's `/hubs/tickets` hears everything written through API process B (both
/// `TESSERA_ROLE=api`, with a `projections` process): the owner's and an anonymous client joined
/// to the session get one `SeatStatusChanged` per seat for locks by the owner and by another user,
/// a release, and the order's cancellation, in log order and nothing more; only the owner's
/// client gets `OrderStatusChanged` (`Created`, `Cancelled`). Locks last 10 minutes here, so no
/// expiry adds notices while the case runs.
async fn hub_across_processes(db: Arc<TestDb>) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    prepare(&db, dir);
    let ttl = [("TESSERA_SEAT_LOCK_TTL_SECS", "600")];
    let mut a = Node::start_with(&db, dir, "api", "a", &ttl);
    let mut b = Node::start_with(&db, dir, "api", "b", &ttl);
    let mut p = Node::start_with(&db, dir, "projections", "p", &ttl);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    for n in [&a, &b, &p] {
        n.ready(&http).await;
    }
    let api = Api { http };
    let (_, session) = on_sale_session(&api, &a.base, &b.base).await;
    let (_, owner) = api.customer(&a.base, "owner@mp.test").await;
    let (_, other) = api.customer(&b.base, "other@mp.test").await;

    let sentinel = seat(9);
    let watch = |token| Watch {
        base: &a.base,
        token,
        session: &session,
        transport: None,
        until: (&sentinel, "Locked"),
        probe_errors: false,
    };
    let mut watchers = [
        Watcher::start("owner-on-a", watch(Some(owner.as_str()))),
        Watcher::start("anonymous-on-a", watch(None)),
    ];
    for w in &mut watchers {
        let ready = w.expect("ready").await;
        assert_eq!(
            ready["transport"], "WebSocketTransport",
            "{}: {ready}",
            w.name
        );
    }
    assert_eq!(gauge(&api, &a.base, "tessera_hub_connections").await, 2.0);
    assert_eq!(gauge(&api, &b.base, "tessera_hub_connections").await, 0.0);

    // Everything through B.
    let lock = |token: String, seats: Vec<String>| {
        let (api, url) = (
            api.clone(),
            format!("{}/v1/sessions/{session}/seats/lock", b.base),
        );
        async move {
            let (s, body) = api
                .post(url, Some(&token), json!({ "seatIds": seats }))
                .await;
            assert_eq!(s, 200, "lock {seats:?} on B: {body}");
        }
    };
    lock(owner.clone(), vec![seat(0), seat(1)]).await;
    lock(other.clone(), vec![seat(2)]).await;
    let (s, placed) = api
        .post_retrying(
            format!("{}/v1/orders", b.base),
            Some(&owner),
            json!({"sessionId": session, "seatIds": [seat(0), seat(1)], "paymentProvider": "Mock"}),
        )
        .await;
    assert!(matches!(s, 201 | 202), "order on B: {s} {placed}");
    let order_id = placed["data"]["orderId"]
        .as_str()
        .unwrap_or_else(|| panic!("an order id: {placed}"))
        .to_owned();
    let (s, body) = api
        .send(
            reqwest::Method::DELETE,
            format!("{}/v1/sessions/{session}/seats/lock", b.base),
            Some(&other),
            Some(json!({"seatIds": [seat(2)]})),
        )
        .await;
    assert_eq!(s, 200, "release on B: {body}");
    let (s, body) = api
        .send(
            reqwest::Method::DELETE,
            format!("{}/v1/orders/{order_id}", b.base),
            Some(&owner),
            None,
        )
        .await;
    assert!((200..300).contains(&s), "cancel on B: {s} {body}");
    lock(other.clone(), vec![sentinel.clone()]).await;

    let seats: Vec<(String, String)> = [
        (seat(0), "Locked"),
        (seat(1), "Locked"),
        (seat(2), "Locked"),
        (seat(2), "Available"),
        (seat(0), "Available"),
        (seat(1), "Available"),
        (sentinel.clone(), "Locked"),
    ]
    .into_iter()
    .map(|(seat, status)| (seat, status.to_owned()))
    .collect();
    for w in &mut watchers {
        let done = w.expect("done").await;
        assert_eq!(done["stoppedBy"], "untilSeat", "{}: {done}", w.name);
        assert_eq!(seat_changes(&done, &session), seats, "{}: {done}", w.name);
        let orders = order_changes(&done);
        if w.name.starts_with("owner") {
            let expected = pairs(&[
                (order_id.as_str(), "Created"),
                (order_id.as_str(), "Cancelled"),
            ]);
            assert_eq!(orders, expected, "{}: {done}", w.name);
        } else {
            assert!(orders.is_empty(), "{} got order notices: {done}", w.name);
        }
    }
    drop(watchers);
    for n in [&mut a, &mut b, &mut p] {
        n.stop();
    }
}
