//! `tessera-load`: an OpenTicket onsale under load, over real HTTP (issue 15 item 1,
//! docs/benchmarks.md "Onsale load", docs/decisions/0033-onsale-load-tool.md).
//!
//! Starts a Tessera server in this process (its own Tokio runtime, so the client's tasks do not
//! share worker threads with it) on a fresh SQLite file or PostgreSQL database, sets up the
//! 台北小巨蛋 venue with `--seats` seats (15,000 by default), one event whose session is on sale,
//! and `--buyers` signed-in buyers; then drives `--connections` concurrent HTTP connections for
//! `--duration` seconds in one `--mode`:
//!
//! - `distinct`: each request locks one seat nobody asked for yet, until every seat is taken;
//! - `cycle`: each connection locks one of its own seats and releases it, over and over;
//! - `purchase`: lock one seat, order it with the Mock provider, confirm the Mock payment.
//!
//! It prints commands/s and latency percentiles (milliseconds) per command kind, the count of each
//! status (`200`, `409 SEAT_UNAVAILABLE`, ...), and then checks zero oversell three ways: the
//! responses, the seat read model (`GET /v1/sessions/{id}/seats`), and a replay of the session's
//! stream from the event store, each seat's transitions checked in stream order. Exit status 1 when
//! any check fails.
//!
//! `--scenario meeting` and `--scenario shop` run the other two order races instead (see
//! [`races`]): many buyers ordering from one small stock over `POST /orders` (seed 000, Mock
//! payment, then attendee claims) or `POST /api/orders` (seed 002), with the same report and checks
//! of their own (never more sold than the stock, one attendee per person per meeting, read model
//! versus replay).
//!
//! `--grow-to N` measures the chosen mode twice on the same session: fresh, then again once cycles
//! have grown its stream to N events, and prints the ratio of the lock p50s. `--sessions K` puts K
//! sessions of the venue on sale (connection `c` drives session `c % K`) and the tool prints the
//! process's resident memory (server and client share the process) after the run.
//!
//! Rate limits are turned off in the server it starts (`TESSERA_RATE_LIMITS=off`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use anyhow::{Context, bail, ensure};

// The shipped `tessera` binary's allocator, so that the server measured here allocates as it does
// in production (the profile in docs/benchmarks.md was taken with glibc's before).
#[global_allocator]
static GLOBAL: tessera_api::Allocator = tessera_api::ALLOCATOR;

use chrono::{Duration as ChronoDuration, FixedOffset, Utc};
use clap::{Parser, ValueEnum};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tessera_api::RunningServer;
use tessera_application::StreamId;
use tessera_domain::Decider;
use tessera_domain::openticket::seat_session::{SeatSession, SeatSessionEvent};
use tessera_tests::http::server_config;
use tessera_tests::{Backend, TestDb};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Lock distinct seats, one per request, until sold out or out of time.
    Distinct,
    /// Lock then release a connection's own seat, for the whole duration.
    Cycle,
    /// Lock → order (Mock) → confirm payment, one seat per purchase.
    Purchase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// OpenTicket seat locks on a 15,000-seat session (`--mode`).
    Seats,
    /// Seed 000: buyers order tickets of one grade with `--stock` tickets, pay (Mock), claim.
    Meeting,
    /// Seed 002: buyers order one product with `--stock` units.
    Shop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Db {
    /// A SQLite file in a temporary folder.
    Sqlite,
    /// A fresh database on `TESSERA_TEST_POSTGRES_URL` (default postgres://postgres@127.0.0.1:5432/postgres).
    Postgres,
}

/// Drive an OpenTicket onsale over HTTP and check it for oversell.
#[derive(Debug, Parser)]
#[command(name = "tessera-load")]
struct Args {
    /// Which store the server runs on.
    #[arg(long, value_enum, default_value = "sqlite")]
    db: Db,
    /// What each connection does.
    #[arg(long, value_enum, default_value = "distinct")]
    mode: Mode,
    /// Concurrent HTTP connections (one request in flight each).
    #[arg(long, short = 'c', default_value_t = 16)]
    connections: usize,
    /// How long to drive load, in seconds (distinct mode also stops when sold out).
    #[arg(long, short = 'd', default_value_t = 10)]
    duration: u64,
    /// Signed-in buyers; connection `i` acts as buyer `i % buyers` (default: one per connection).
    #[arg(long)]
    buyers: Option<usize>,
    /// Seats in the venue: 1,000 VIP, the rest split between areas A and B.
    #[arg(long, default_value_t = 15_000)]
    seats: usize,
    /// Worker threads of the server's runtime (default: the machine's cores).
    #[arg(long)]
    server_threads: Option<usize>,
    /// What to drive: seat locks (the default) or one of the order races.
    #[arg(long, value_enum, default_value = "seats")]
    scenario: Scenario,
    /// Order races: tickets of the grade (meeting) or units of the product (shop) on sale.
    #[arg(long, default_value_t = 100)]
    stock: u32,
    /// Meeting race: tickets per order; a buyer then names one attendee for all of them at once
    /// (one claim may win, the rest get 409).
    #[arg(long, default_value_t = 2)]
    per_order: u32,
    /// Seats: measure on the fresh session, grow its stream to this many events with cycles, and
    /// measure again (prints the ratio of the lock p50s).
    #[arg(long)]
    grow_to: Option<u64>,
    /// Seats: connections that grow the stream for `--grow-to`.
    #[arg(long, default_value_t = 32)]
    grow_connections: usize,
    /// Seats: sessions of the event on sale; connection `c` drives session `c % sessions`.
    #[arg(long, default_value_t = 1)]
    sessions: usize,
    /// Keep the database after the run and print its URL (`TESSERA_DATABASE_URL` for
    /// `tessera projections rebuild`); the SQLite file's temporary folder is then not deleted.
    #[arg(long)]
    keep_db: bool,
}

/// One command kind's measurements.
#[derive(Default)]
struct Tally {
    /// Latency of each request, microseconds.
    micros: Vec<u64>,
    /// `"200"`, `"409 SEAT_UNAVAILABLE"`, `"error: …"` (transport) → count.
    statuses: BTreeMap<String, u64>,
}

/// What one connection saw.
#[derive(Default)]
struct Outcome {
    tallies: BTreeMap<&'static str, Tally>,
    /// Seats this connection's buyer holds at the end by the responses (lock 200 − release 200).
    held: HashSet<String>,
    /// Seats its buyer bought (payment confirmed 200).
    sold: HashSet<String>,
    /// Seats its buyer was granted a lock on, each time (distinct mode: each at most once).
    granted: Vec<String>,
}

struct Client {
    http: reqwest::Client,
    base: String,
    session_id: String,
}

impl Client {
    /// Send and time one request; records the status under `kind`.
    async fn call(
        &self,
        out: &mut Outcome,
        kind: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Option<(u16, Value)> {
        let started = Instant::now();
        let sent = req.send().await;
        let (key, reply) =
            match sent {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let body: Value = resp.json().await.unwrap_or(Value::Null);
                    // OpenTicket `error.code`, meeting `type`, shop `message` (its stock wording).
                    let code = body["error"]["code"].as_str().or(body["type"].as_str()).or(
                        body["message"].as_str().map(|m| {
                            if m.contains("库存不足") {
                                "库存不足"
                            } else {
                                m
                            }
                        }),
                    );
                    let key = match code {
                        Some(code) => format!("{status} {code}"),
                        None => status.to_string(),
                    };
                    (key, Some((status, body)))
                }
                Err(e) => (format!("error: {e}"), None),
            };
        let tally = out.tallies.entry(kind).or_default();
        tally.micros.push(started.elapsed().as_micros() as u64);
        *tally.statuses.entry(key).or_default() += 1;
        reply
    }

    fn lock_path(&self) -> String {
        format!("{}/v1/sessions/{}/seats/lock", self.base, self.session_id)
    }

    async fn lock(&self, out: &mut Outcome, token: &str, seat: &str) -> bool {
        let req = self
            .http
            .post(self.lock_path())
            .bearer_auth(token)
            .json(&json!({ "seatIds": [seat] }));
        let ok = matches!(self.call(out, "lock", req).await, Some((200, _)));
        if ok {
            out.held.insert(seat.to_owned());
            out.granted.push(seat.to_owned());
        }
        ok
    }

    async fn release(&self, out: &mut Outcome, token: &str, seat: &str) {
        let req = self
            .http
            .delete(self.lock_path())
            .bearer_auth(token)
            .json(&json!({ "seatIds": [seat] }));
        if let Some((200, body)) = self.call(out, "release", req).await
            && body["data"]["released"]
                .as_array()
                .is_some_and(|r| r.iter().any(|s| s == seat))
        {
            out.held.remove(seat);
        }
    }

    async fn purchase(&self, out: &mut Outcome, token: &str, seat: &str) {
        if !self.lock(out, token, seat).await {
            return;
        }
        let req = self
            .http
            .post(format!("{}/v1/orders", self.base))
            .bearer_auth(token)
            .json(&json!({"sessionId": self.session_id, "seatIds": [seat], "paymentProvider": "Mock"}));
        let Some((201, order)) = self.call(out, "order", req).await else {
            return;
        };
        let Some(payment) = order["data"]["payment"]["paymentId"].as_str() else {
            return;
        };
        let req = self
            .http
            .post(format!("{}/v1/mock-payment/{payment}/confirm", self.base));
        if let Some((200, _)) = self.call(out, "pay", req).await {
            out.held.remove(seat);
            out.sold.insert(seat.to_owned());
        }
    }
}

/// The venue body: 1,000 VIP seats, the rest in areas A and B; seat ids `{area}-{nnnnn}`, 50 a row.
fn venue_body(seats: usize) -> (Value, Vec<String>) {
    let vip = seats.min(1_000);
    let a = (seats - vip) / 2;
    let b = seats - vip - a;
    let mut all = Vec::with_capacity(seats);
    let areas: Vec<Value> = [("VIP", "VIP 區", vip), ("A", "A 區", a), ("B", "B 區", b)]
        .into_iter()
        .filter(|(_, _, n)| *n > 0)
        .map(|(id, name, n)| {
            let seats: Vec<Value> = (1..=n)
                .map(|i| {
                    let seat_id = format!("{id}-{i:05}");
                    all.push(seat_id.clone());
                    json!({
                        "seatId": seat_id,
                        "row": ((i - 1) / 50 + 1).to_string(),
                        "number": (i - 1) % 50 + 1,
                        "x": 10 * ((i - 1) % 50),
                        "y": 10 * ((i - 1) / 50),
                        "type": "Normal",
                    })
                })
                .collect();
            json!({"areaId": id, "name": name, "seats": seats})
        })
        .collect();
    let body = json!({
        "name": "台北小巨蛋",
        "address": {"country": "TW", "city": "台北市", "street": "南京東路四段2號", "postalCode": "105"},
        "capacity": seats,
        "seatMap": { "areas": areas },
    });
    (body, all)
}

/// An event at the venue whose `sessions` sessions are on sale now, every area priced.
fn event_body(venue_id: &str, sessions: usize) -> Value {
    let tz = FixedOffset::east_opt(8 * 3600).expect("UTC+8");
    let now = Utc::now().with_timezone(&tz);
    let t = |d: ChronoDuration| (now + d).to_rfc3339();
    json!({
        "name": "五月天演唱會",
        "description": "onsale load",
        "venueId": venue_id,
        "sessions": (0..sessions.max(1) as i64).map(|k| json!({
            "startTime": t(ChronoDuration::days(2 + k)),
            "endTime": t(ChronoDuration::days(2 + k) + ChronoDuration::hours(3)),
            "saleStartTime": t(-ChronoDuration::hours(1)),
            "saleEndTime": t(ChronoDuration::days(1)),
        })).collect::<Vec<_>>(),
        "priceCategories": [
            {"categoryId": "VIP", "name": "VIP 區", "areaIds": ["VIP"], "price": {"amount": 6800, "currency": "TWD"}},
            {"categoryId": "A", "name": "A 區", "areaIds": ["A"], "price": {"amount": 4800, "currency": "TWD"}},
            {"categoryId": "B", "name": "B 區", "areaIds": ["B"], "price": {"amount": 2800, "currency": "TWD"}},
        ],
    })
}

async fn post(http: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut req = http.post(url.clone()).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "POST {url}: {status} {body}");
    body
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Rate limits stay off in the server this tool starts: run again with the variable set (the
    // environment of a running process is not changed from safe code).
    if std::env::var("TESSERA_RATE_LIMITS").as_deref() != Ok("off") {
        let status = std::process::Command::new(std::env::current_exe()?)
            .args(std::env::args_os().skip(1))
            .env("TESSERA_RATE_LIMITS", "off")
            .status()?;
        std::process::exit(status.code().unwrap_or(1));
    }
    // Named threads: a profile (`perf report --comm server`) tells the server's work from the
    // client's.
    let server_rt = {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.thread_name("server");
        if let Some(n) = args.server_threads {
            b.worker_threads(n);
        }
        b.enable_all().build()?
    };
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("client")
        .enable_all()
        .build()?;
    let backend = match args.db {
        Db::Sqlite => Backend::Sqlite,
        Db::Postgres => Backend::Postgres,
    };
    let db = server_rt.block_on(TestDb::create(backend));
    let mut config = server_config();
    // Distinct and purchase runs keep their locks for the whole run (nothing expires midway).
    config.seat_lock_ttl_secs = 3_600;
    config.max_seats_per_lock = 10;
    let server = server_rt
        .block_on(RunningServer::start(&db.config(), config))
        .context("start the server")?;
    let result = client_rt.block_on(async {
        match args.scenario {
            Scenario::Seats => drive(&args, &server, server_rt.handle()).await,
            Scenario::Meeting => races::meeting(&args, &server).await,
            Scenario::Shop => races::shop(&args, &server).await,
        }
    });
    server_rt.block_on(async {
        server.stop(Duration::from_secs(10)).await;
        if args.keep_db {
            // Left for `tessera projections rebuild` and other measurements on a real log.
            eprintln!("database kept: {}", db.url);
            std::mem::forget(db);
        } else {
            db.cleanup().await;
        }
    });
    result
}

async fn drive(
    args: &Args,
    server: &RunningServer,
    server_rt: &tokio::runtime::Handle,
) -> anyhow::Result<()> {
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(args.connections.max(1) * 2)
        .build()?;

    // Setup: admin, organizer, venue, event with one session on sale, buyers.
    let setup = Instant::now();
    server
        .services
        .identity
        .create_admin("admin@load.test", "admin password 123")
        .await
        .context("create admin")?;
    let login = |email: String| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let r = post(
                &http,
                format!("{base}/v1/auth/login"),
                None,
                json!({"email": email, "password": if email.starts_with("admin") { "admin password 123" } else { "correct horse battery" }}),
            )
            .await;
            r["data"]["accessToken"].as_str().unwrap().to_owned()
        }
    };
    let register = |email: String| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let r = post(
                &http,
                format!("{base}/v1/auth/register"),
                None,
                json!({"email": email, "password": "correct horse battery"}),
            )
            .await;
            r["data"]["userId"].as_str().unwrap().to_owned()
        }
    };
    let admin = login("admin@load.test".into()).await;
    let organizer_id = register("organizer@load.test".into()).await;
    post(
        &http,
        format!("{base}/v1/admin/users/{organizer_id}/roles"),
        Some(&admin),
        json!({"role": "organizer"}),
    )
    .await;
    let organizer = login("organizer@load.test".into()).await;
    let (venue, seat_ids) = venue_body(args.seats);
    let venue = post(&http, format!("{base}/v1/venues"), Some(&admin), venue).await;
    let venue_id = venue["data"]["venueId"].as_str().unwrap().to_owned();
    let event = post(
        &http,
        format!("{base}/v1/events"),
        Some(&organizer),
        event_body(&venue_id, args.sessions),
    )
    .await;
    let session_ids: Vec<String> = event["data"]["sessions"]
        .as_array()
        .context("sessions")?
        .iter()
        .map(|s| s["sessionId"].as_str().unwrap_or_default().to_owned())
        .collect();
    let buyers = args.buyers.unwrap_or(args.connections).max(1);
    let mut tokens = Vec::with_capacity(buyers);
    for i in 0..buyers {
        let email = format!("buyer{i}@load.test");
        register(email.clone()).await;
        tokens.push(login(email).await);
    }
    println!(
        "setup: {} seats, {} session(s) {session_ids:?}, {buyers} buyers signed in, {:.1} s",
        seat_ids.len(),
        session_ids.len(),
        setup.elapsed().as_secs_f64()
    );

    let clients: Vec<Arc<Client>> = session_ids
        .iter()
        .map(|id| {
            Arc::new(Client {
                http: http.clone(),
                base: base.clone(),
                session_id: id.clone(),
            })
        })
        .collect();
    let load = Load {
        clients: clients.clone(),
        seat_ids: Arc::new(seat_ids),
        next: clients
            .iter()
            .map(|_| Arc::new(AtomicUsize::new(0)))
            .collect(),
        tokens: Arc::new(tokens),
    };
    let mut outcomes = Vec::new();
    let stop = Arc::new(AtomicBool::new(false));
    let workers = WorkerTimes::now(server_rt);
    let (mut fresh, elapsed) = load
        .phase(args.mode, args.connections, args.duration, &stop)
        .await?;
    let fresh_p50 = report("", &args.mode, args, &mut fresh, elapsed);
    workers.print_since(server_rt);
    outcomes.extend(fresh);
    if let Some(target) = args.grow_to {
        // Grow the first session's stream with lock/release cycles until it holds `target` events.
        let stream = session_stream(&session_ids[0])?;
        let watcher = {
            let stop = stop.clone();
            let events = server.engine.events.clone();
            let stream = stream.clone();
            tokio::spawn(async move {
                while events.stream_version(&stream).await.unwrap_or(0) < target {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                stop.store(true, Ordering::Relaxed);
            })
        };
        let grow = Load {
            clients: vec![clients[0].clone()],
            ..load.clone()
        };
        let started = Instant::now();
        let (grown, _) = grow
            .phase(Mode::Cycle, args.grow_connections, 3_600, &stop)
            .await?;
        watcher.abort();
        stop.store(false, Ordering::Relaxed);
        outcomes.extend(grown);
        let version = server.engine.events.stream_version(&stream).await?;
        println!(
            "grew session {} to {version} events in {:.1} s",
            session_ids[0],
            started.elapsed().as_secs_f64()
        );
        let (mut after, elapsed) = load
            .phase(args.mode, args.connections, args.duration, &stop)
            .await?;
        let grown_p50 = report("grown: ", &args.mode, args, &mut after, elapsed);
        outcomes.extend(after);
        if let (Some(a), Some(b)) = (fresh_p50, grown_p50) {
            println!(
                "lock p50: fresh {a:.2} ms, at {version} events {b:.2} ms, ratio {:.2}",
                b / a
            );
        }
    }
    print_metrics(&http, &base, <SeatSession as Decider>::CATEGORY).await;
    print_memory();

    let mut failures = Vec::new();
    for (k, client) in clients.iter().enumerate() {
        let mine: Vec<&(usize, Outcome)> = outcomes
            .iter()
            .filter(|(c, _)| *c % clients.len() == k)
            .collect();
        if let Err(e) = check(server, client, &mine).await {
            failures.push(format!("session {}: {e}", client.session_id));
        }
    }
    ensure!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

/// The stream of OpenTicket session `id`.
fn session_stream(id: &str) -> anyhow::Result<StreamId> {
    Ok(StreamId::parse(format!(
        "{}-{id}",
        <SeatSession as Decider>::CATEGORY
    ))?)
}

/// `VmRSS` and `VmHWM` of this process (server and load client), from /proc/self/status.
fn print_memory() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| "?".into())
    };
    println!(
        "memory of this process (server + client): VmRSS {}, VmHWM {}",
        field("VmRSS:"),
        field("VmHWM:")
    );
}

/// What one phase of seat-lock load needs.
#[derive(Clone)]
struct Load {
    /// One per session.
    clients: Vec<Arc<Client>>,
    seat_ids: Arc<Vec<String>>,
    /// Next seat of each session in distinct and purchase modes.
    next: Vec<Arc<AtomicUsize>>,
    tokens: Arc<Vec<String>>,
}

impl Load {
    /// Drive `connections` for `secs` seconds (or until `stop`); each outcome with its connection.
    async fn phase(
        &self,
        mode: Mode,
        connections: usize,
        secs: u64,
        stop: &Arc<AtomicBool>,
    ) -> anyhow::Result<(Vec<(usize, Outcome)>, f64)> {
        let started = Instant::now();
        let until = started + Duration::from_secs(secs);
        let mut tasks = Vec::new();
        for c in 0..connections {
            let client = self.clients[c % self.clients.len()].clone();
            let next = self.next[c % self.clients.len()].clone();
            let seat_ids = self.seat_ids.clone();
            let token = self.tokens[c % self.tokens.len()].clone();
            let stop = stop.clone();
            let per_session = connections.div_ceil(self.clients.len()).max(1);
            let slot = c / self.clients.len();
            tasks.push(tokio::spawn(async move {
                let mut out = Outcome::default();
                let mut own = (slot..seat_ids.len()).step_by(per_session).cycle();
                while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                    match mode {
                        Mode::Distinct | Mode::Purchase => {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(seat) = seat_ids.get(i) else { break };
                            if mode == Mode::Distinct {
                                client.lock(&mut out, &token, seat).await;
                            } else {
                                client.purchase(&mut out, &token, seat).await;
                            }
                        }
                        Mode::Cycle => {
                            let Some(i) = own.next() else { break };
                            let seat = &seat_ids[i];
                            if client.lock(&mut out, &token, seat).await {
                                client.release(&mut out, &token, seat).await;
                            }
                        }
                    }
                }
                (c, out)
            }));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await?);
        }
        Ok((outcomes, started.elapsed().as_secs_f64()))
    }
}

/// Print the table of one phase (its tallies are taken); returns the lock p50 in ms.
fn report(
    title: &str,
    mode: &Mode,
    args: &Args,
    outcomes: &mut [(usize, Outcome)],
    elapsed: f64,
) -> Option<f64> {
    println!(
        "{title}mode {mode:?}, {:?}, {} connections, {:.1} s",
        args.db, args.connections, elapsed
    );
    let mut merged = merge(outcomes);
    print_table(&mut merged, elapsed);
    merged.get("lock").map(|t| percentile(&t.micros, 0.50))
}

/// The tallies of every connection, by command kind (taken from the outcomes).
/// The report every order race prints: its title with the elapsed seconds, the table of statuses
/// and latencies, what `/metrics` saw for the race's aggregate `category`, and the process's memory.
async fn report_race(
    title: &str,
    outcomes: &mut [(usize, Outcome)],
    started: Instant,
    c: &Client,
    category: &str,
) {
    let elapsed = started.elapsed().as_secs_f64();
    println!("{title}, {elapsed:.1} s");
    print_table(&mut merge(outcomes), elapsed);
    print_metrics(&c.http, &c.base, category).await;
    print_memory();
}

fn merge(outcomes: &mut [(usize, Outcome)]) -> BTreeMap<&'static str, Tally> {
    let mut merged: BTreeMap<&'static str, Tally> = BTreeMap::new();
    for (_, out) in outcomes {
        for (kind, t) in std::mem::take(&mut out.tallies) {
            let m = merged.entry(kind).or_default();
            m.micros.extend(t.micros);
            for (k, v) in t.statuses {
                *m.statuses.entry(k).or_default() += v;
            }
        }
    }
    merged
}

/// Commands/s and latency percentiles per command kind, as a Markdown table (sorts the latencies).
fn print_table(merged: &mut BTreeMap<&'static str, Tally>, elapsed: f64) {
    println!("| command | count | per s | p50 ms | p90 ms | p99 ms | max ms | statuses |");
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    let mut total = 0usize;
    for (kind, t) in merged.iter_mut() {
        t.micros.sort_unstable();
        total += t.micros.len();
        println!(
            "| {kind} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {:?} |",
            t.micros.len(),
            t.micros.len() as f64 / elapsed,
            percentile(&t.micros, 0.50),
            percentile(&t.micros, 0.90),
            percentile(&t.micros, 0.99),
            percentile(&t.micros, 1.0),
            t.statuses
        );
    }
    println!(
        "all commands: {total} in {elapsed:.1} s = {:.0}/s",
        total as f64 / elapsed
    );
}

/// What the server's `GET /metrics` saw (docs/operations.md): mean commands per batch commit and
/// mean append latency per stream category, from the histograms' `_sum` and `_count`, and on
/// PostgreSQL the append groups by the way they were written (decision 0042); set-up included:
/// the recorder counts from the process's start.
async fn print_metrics(http: &reqwest::Client, base: &str, category: &str) {
    let text = match http.get(format!("{base}/metrics")).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(e) => {
            println!("metrics: unavailable ({e})");
            return;
        }
    };
    // (series with labels) -> (sum, count)
    let mut histograms: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut counters = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        if name.starts_with("tessera_postgres_append_groups_total") {
            counters.push(format!("  {name}: {value:.0}"));
        }
        for (suffix, sum) in [("_sum", true), ("_count", false)] {
            let Some(at) = name.find(suffix) else {
                continue;
            };
            let series = format!("{}{}", &name[..at], &name[at + suffix.len()..]);
            let entry = histograms.entry(series).or_default();
            if sum {
                entry.0 = value;
            } else {
                entry.1 = value;
            }
        }
    }
    println!("what /metrics saw (mean = sum / count):");
    for (series, (sum, count)) in &histograms {
        let wanted = series.starts_with("tessera_batch_commands")
            || series.starts_with(&format!("tessera_append_seconds{{category=\"{category}\""));
        if wanted && *count > 0.0 {
            println!("  {series}: count {count:.0}, mean {:.4}", sum / count);
        }
    }
    for line in counters {
        println!("{line}");
    }
}

/// The server runtime's workers at one instant: time spent busy and times parked, per worker.
struct WorkerTimes {
    at: Instant,
    busy: Vec<Duration>,
    parks: Vec<u64>,
}

impl WorkerTimes {
    fn now(rt: &tokio::runtime::Handle) -> Self {
        let m = rt.metrics();
        let n = m.num_workers();
        Self {
            at: Instant::now(),
            busy: (0..n).map(|w| m.worker_total_busy_duration(w)).collect(),
            parks: (0..n).map(|w| m.worker_park_count(w)).collect(),
        }
    }

    /// Prints each worker's busy share (%) and parks per second since `self`: whether the server
    /// was bound by its CPU (busy near 100%) or waiting on something (docs/benchmarks.md, "Nagle").
    fn print_since(&self, rt: &tokio::runtime::Handle) {
        let later = Self::now(rt);
        let wall = later.at.duration_since(self.at).as_secs_f64().max(1e-9);
        let per_worker: Vec<String> = (0..later.busy.len())
            .map(|w| {
                let busy = later.busy[w].saturating_sub(self.busy[w]).as_secs_f64() / wall;
                let parks = later.parks[w].saturating_sub(self.parks[w]) as f64 / wall;
                format!("busy {:.0}%, {parks:.0} parks/s", busy * 100.0)
            })
            .collect();
        println!("server workers: {}", per_worker.join("; "));
    }
}

/// Zero oversell, three ways: responses, the seat read model, and a replay of the stream.
async fn check(
    server: &RunningServer,
    client: &Client,
    outcomes: &[&(usize, Outcome)],
) -> anyhow::Result<()> {
    // 1. Responses: no seat granted to two buyers at once is detectable only per mode; a seat sold
    //    twice or locked twice in distinct/purchase mode (one request per seat) is an oversell.
    let mut granted: HashMap<&str, usize> = HashMap::new();
    let mut sold: HashMap<&str, usize> = HashMap::new();
    let mut held: HashSet<&str> = HashSet::new();
    for (_, out) in outcomes {
        for s in &out.granted {
            *granted.entry(s.as_str()).or_default() += 1;
        }
        for s in &out.sold {
            *sold.entry(s.as_str()).or_default() += 1;
        }
        held.extend(out.held.iter().map(String::as_str));
    }
    let sold_twice = sold.values().filter(|n| **n > 1).count();
    ensure!(sold_twice == 0, "responses: {sold_twice} seats sold twice");

    // 2. Read model, once it has caught up with everything written.
    let position = server.engine.events.head_position().await?;
    ensure!(
        server
            .engine
            .runner
            .status()
            .wait_for(position, Duration::from_secs(300))
            .await,
        "read models did not catch up with position {position}"
    );
    let r: Value = client
        .http
        .get(format!(
            "{}/v1/sessions/{}/seats",
            client.base, client.session_id
        ))
        .send()
        .await?
        .json()
        .await?;
    let mut model: HashMap<String, String> = HashMap::new();
    for area in r["data"]["areas"].as_array().context("seat areas")? {
        for seat in area["seats"].as_array().context("seats")? {
            model.insert(
                seat["seatId"].as_str().unwrap_or_default().to_owned(),
                seat["status"].as_str().unwrap_or_default().to_owned(),
            );
        }
    }
    let mut model_mismatch = 0;
    for (seat, status) in &model {
        let expected = if sold.contains_key(seat.as_str()) {
            "Sold"
        } else if held.contains(seat.as_str()) {
            "Locked"
        } else {
            "Available"
        };
        if status != expected {
            model_mismatch += 1;
        }
    }
    println!(
        "read model: {} seats, {} sold, {} locked, {model_mismatch} differ from the responses",
        model.len(),
        model.values().filter(|s| *s == "Sold").count(),
        model.values().filter(|s| *s == "Locked").count(),
    );

    // 3. Replay the session's stream: every lock takes a free seat, every hold a seat its buyer
    //    locked, every sale a held seat; no seat ever has two holders.
    let stream = session_stream(&client.session_id)?;
    let mut version = 0;
    let mut holder: HashMap<String, (&'static str, String)> = HashMap::new();
    let mut violations = 0usize;
    let mut events = 0usize;
    let mut locked_in_log: HashMap<String, usize> = HashMap::new();
    loop {
        let batch = server
            .engine
            .events
            .read_stream(&stream, version + 1, 5_000)
            .await?;
        let n = batch.len();
        for recorded in batch {
            version = recorded.stream_version;
            events += 1;
            let event: SeatSessionEvent =
                tessera_domain::DomainEvent::from_stored(&recorded.event_type, &recorded.data)?;
            match &event {
                SeatSessionEvent::SeatsLocked {
                    user_id, seat_ids, ..
                } => {
                    for s in seat_ids {
                        *locked_in_log.entry(s.to_string()).or_default() += 1;
                        if holder
                            .insert(s.to_string(), ("locked", user_id.to_string()))
                            .is_some()
                        {
                            violations += 1;
                        }
                    }
                }
                SeatSessionEvent::SeatsReleased { seat_ids, .. } => {
                    for s in seat_ids {
                        if holder.remove(&s.to_string()).is_none() {
                            violations += 1;
                        }
                    }
                }
                SeatSessionEvent::SeatsHeldForOrder {
                    user_id, seat_ids, ..
                } => {
                    for s in seat_ids {
                        match holder.get_mut(&s.to_string()) {
                            Some(h) if h.0 == "locked" && h.1 == user_id.to_string() => {
                                h.0 = "held";
                            }
                            _ => violations += 1,
                        }
                    }
                }
                SeatSessionEvent::SeatsSold { seat_ids, .. } => {
                    for s in seat_ids {
                        match holder.get_mut(&s.to_string()) {
                            Some(h) if h.0 == "held" => h.0 = "sold",
                            _ => violations += 1,
                        }
                    }
                }
                SeatSessionEvent::SessionOpened { .. } => {}
            }
        }
        if n < 5_000 {
            break;
        }
    }
    let replay_sold = holder.values().filter(|h| h.0 == "sold").count();
    let replay_held = holder.len() - replay_sold;
    let by_response_locked = granted.values().sum::<usize>();
    let by_log_locked = locked_in_log.values().sum::<usize>();
    println!(
        "replay: {events} events, {violations} violations, {replay_sold} sold, {replay_held} locked or held; \
         locks granted by responses {by_response_locked}, in the log {by_log_locked}"
    );
    let mut failures = Vec::new();
    if violations > 0 {
        failures.push(format!("{violations} seat transitions broke the rules"));
    }
    if model_mismatch > 0 {
        failures.push(format!(
            "{model_mismatch} seats differ between the read model and the responses"
        ));
    }
    if replay_sold != sold.len() {
        failures.push(format!(
            "sold by replay {replay_sold} vs by responses {}",
            sold.len()
        ));
    }
    if by_log_locked != by_response_locked {
        failures.push(format!(
            "locks in the log {by_log_locked} vs granted by responses {by_response_locked}"
        ));
    }
    if replay_held != held.len() {
        failures.push(format!(
            "held at the end by replay {replay_held} vs by responses {}",
            held.len()
        ));
    }
    if failures.is_empty() {
        println!("oversell check: OK (zero oversell; responses, read model and replay agree)");
        Ok(())
    } else {
        bail!("oversell check FAILED: {}", failures.join("; "))
    }
}

/// The meeting-ticket (seed 000) and shop (seed 002) order races over HTTP.
mod races {
    use super::{Args, Client, Outcome, post, report_race};
    use anyhow::{Context, ensure};
    use serde_json::{Value, json};
    use std::collections::{BTreeMap, HashMap, HashSet};
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    use tessera_api::RunningServer;
    use tessera_application::StreamId;
    use tessera_application::command::load;
    use tessera_domain::meeting::{Meeting, TicketGradeId};
    use tessera_domain::shop::product::{ProductEvent, ShopProduct};
    use tessera_domain::{Decider, DomainEvent};

    /// An HTTP client without a seat session (the race helpers use only its `call`).
    fn client(server: &RunningServer, connections: usize) -> anyhow::Result<Arc<Client>> {
        Ok(Arc::new(Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .pool_max_idle_per_host(connections.max(1) * 2)
                .build()?,
            base: format!("http://{}", server.addr),
            session_id: String::new(),
        }))
    }

    /// Sign in the built-in admin over `POST /v1/auth/login`.
    async fn admin(server: &RunningServer, c: &Client) -> anyhow::Result<String> {
        server
            .services
            .identity
            .create_admin("admin@load.test", "admin password 123")
            .await
            .context("create admin")?;
        let r = post(
            &c.http,
            format!("{}/v1/auth/login", c.base),
            None,
            json!({"email": "admin@load.test", "password": "admin password 123"}),
        )
        .await;
        Ok(r["data"]["accessToken"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// A seed-000 user signed in by SMS code and development WeChat token; returns the token.
    async fn phone_user(server: &RunningServer, c: &Client, n: usize) -> anyhow::Result<String> {
        let phone = format!("138{n:08}");
        let wechat = format!("o-load-{n}");
        let dev = format!("dev:{wechat}");
        post(
            &c.http,
            format!("{}/smsCodes", c.base),
            None,
            json!({"phone": phone}),
        )
        .await;
        post(
            &c.http,
            format!("{}/wechat_tokens", c.base),
            None,
            json!({"wechatId": wechat, "wechatToken": dev}),
        )
        .await;
        let code = server
            .services
            .console_sms
            .as_ref()
            .and_then(|s| s.last_code(&phone))
            .context("the development SMS sender kept no code")?;
        post(
            &c.http,
            format!("{}/users", c.base),
            None,
            json!({"wechatId": wechat, "phone": phone, "smsCode": code}),
        )
        .await;
        let r = post(
            &c.http,
            format!("{}/tokens", c.base),
            None,
            json!({"type": "wechat", "wechatId": wechat, "wechatToken": dev}),
        )
        .await;
        Ok(r["access_token"].as_str().unwrap_or_default().to_owned())
    }

    /// Buyer `b`'s purchase: order `per_order` tickets, pay with Mock, wait for the tickets, then
    /// name one attendee for all of them at once. Returns (tickets paid, claims accepted).
    async fn meeting_buyer(
        c: &Arc<Client>,
        out: &mut Outcome,
        token: &str,
        b: usize,
        order: &Value,
        per_order: u32,
    ) -> (u32, usize) {
        let req = c
            .http
            .post(format!("{}/orders", c.base))
            .bearer_auth(token)
            .json(order);
        let Some((201, body)) = c.call(out, "order", req).await else {
            return (0, 0);
        };
        let id = body["id"].as_str().unwrap_or_default().to_owned();
        let req = c
            .http
            .post(format!("{}/third_party_transactions", c.base))
            .bearer_auth(token)
            .json(&json!({"orderId": id, "transactionId": format!("mock_{b}")}));
        if !matches!(c.call(out, "pay", req).await, Some((201, _))) {
            return (0, 0);
        }
        // Tickets are issued by a process manager after the payment: look until they are listed.
        let mut tickets = Vec::new();
        for _ in 0..500 {
            let r = c
                .http
                .get(format!("{}/tickets", c.base))
                .bearer_auth(token)
                .send()
                .await;
            if let Ok(r) = r
                && let Ok(list) = r.json::<Value>().await
            {
                tickets = list
                    .as_array()
                    .map(|l| {
                        l.iter()
                            .filter(|t| t["orderId"] == id.as_str())
                            .filter_map(|t| t["id"].as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                if tickets.len() as u32 >= per_order {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // One attendee (a friend's phone) for every ticket at once: at most one claim may win.
        let mut claims = Vec::new();
        for t in tickets {
            let req = c
                .http
                .patch(format!("{}/tickets/{t}", c.base))
                .bearer_auth(token)
                .json(&json!({"participant": {"name": format!("参会者{b}"), "phone": format!("139{b:08}")}}));
            let c = c.clone();
            claims.push(tokio::spawn(async move {
                let mut mine = Outcome::default();
                let ok = matches!(c.call(&mut mine, "claim", req).await, Some((200, _)));
                (ok, mine)
            }));
        }
        let mut accepted = 0;
        for claim in claims {
            let Ok((ok, mine)) = claim.await else {
                continue;
            };
            accepted += usize::from(ok);
            for (kind, t) in mine.tallies {
                let m = out.tallies.entry(kind).or_default();
                m.micros.extend(t.micros);
                for (k, v) in t.statuses {
                    *m.statuses.entry(k).or_default() += v;
                }
            }
        }
        (per_order, accepted)
    }

    /// Seed 000's race: `--buyers` buyers (default 4 × `--stock`) each order `--per-order`
    /// tickets of one grade holding `--stock`, over `--connections` connections.
    pub async fn meeting(args: &Args, server: &RunningServer) -> anyhow::Result<()> {
        let c = client(server, args.connections)?;
        let setup = Instant::now();
        let admin = admin(server, &c).await?;
        let start = chrono::Utc::now() + chrono::Duration::days(7);
        let m = post(
            &c.http,
            format!("{}/meetings", c.base),
            Some(&admin),
            json!({
                "title": "2026 开发者大会",
                "description": "load",
                "location": "上海国际会议中心",
                "startTime": start.to_rfc3339(),
                "endTime": (start + chrono::Duration::hours(8)).to_rfc3339(),
                "ticketGrades": [{"name": "普通票", "price": 99.5, "stock": args.stock}],
                "status": "onSale",
            }),
        )
        .await;
        let meeting_id = m["id"].as_str().context("meeting id")?.to_owned();
        let grade = m["ticketGrades"][0]["id"]
            .as_str()
            .context("grade id")?
            .to_owned();
        let buyers = args.buyers.unwrap_or(4 * args.stock as usize).max(1);
        let mut tokens = Vec::with_capacity(buyers);
        for b in 0..buyers {
            tokens.push(phone_user(server, &c, b).await?);
        }
        println!(
            "setup: meeting {meeting_id}, one grade of {} tickets, {buyers} buyers, {:.1} s",
            args.stock,
            setup.elapsed().as_secs_f64()
        );
        let order = Arc::new(json!({
            "items": [{"ticketGradeId": grade, "ticketPrice": 99.5, "ticketAmount": args.per_order, "meetingId": meeting_id}],
            "meetingId": meeting_id,
            "paymentMethodId": "mock",
        }));
        let tokens = Arc::new(tokens);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for k in 0..args.connections.max(1) {
            let (c, tokens, order) = (c.clone(), tokens.clone(), order.clone());
            let (connections, per_order) = (args.connections.max(1), args.per_order);
            tasks.push(tokio::spawn(async move {
                let mut out = Outcome::default();
                let mut per_buyer = Vec::new();
                for b in (k..tokens.len()).step_by(connections) {
                    let r = meeting_buyer(&c, &mut out, &tokens[b], b, &order, per_order).await;
                    per_buyer.push((b, r));
                }
                (out, per_buyer)
            }));
        }
        let mut outcomes = Vec::new();
        let mut per_buyer = Vec::new();
        for t in tasks {
            let (out, mine) = t.await?;
            outcomes.push((0, out));
            per_buyer.extend(mine);
        }
        let title = format!(
            "meeting race, {:?}, {} connections, {buyers} buyers",
            args.db, args.connections
        );
        report_race(
            &title,
            &mut outcomes,
            started,
            &c,
            <Meeting as Decider>::CATEGORY,
        )
        .await;

        // Checks: responses, read model, replay.
        let paid: u32 = per_buyer.iter().map(|(_, (n, _))| n).sum();
        let two_claims = per_buyer.iter().filter(|(_, (_, k))| *k > 1).count();
        let claimed: usize = per_buyer.iter().map(|(_, (_, k))| k).sum();
        let position = server.engine.events.head_position().await?;
        ensure!(
            server
                .engine
                .runner
                .status()
                .wait_for(position, Duration::from_secs(300))
                .await,
            "read models did not catch up"
        );
        let r: Value = c
            .http
            .get(format!("{}/meetings/{meeting_id}", c.base))
            .send()
            .await?
            .json()
            .await?;
        let g = &r["ticketGrades"][0];
        let (remaining, sold) = (g["remaining"].as_i64(), g["sold"].as_i64());
        let stream = StreamId::parse(format!("{}-{meeting_id}", <Meeting as Decider>::CATEGORY))?;
        let (state, _) = load::<Meeting>(server.engine.events.as_ref(), &stream).await?;
        let replayed = state
            .grade(TicketGradeId::from_uuid(grade.parse()?))
            .context("grade in the replay")?;
        let (held, replay_sold) = (replayed.held, replayed.sold);
        println!(
            "responses: {paid} tickets paid, {claimed} attendee claims accepted; read model: \
             remaining {remaining:?}, sold {sold:?}; replay: held {held}, sold {replay_sold}"
        );
        let mut failures = Vec::new();
        if paid > args.stock || replay_sold + held > args.stock {
            failures.push(format!("more tickets than the stock {}", args.stock));
        }
        if two_claims > 0 {
            failures.push(format!(
                "{two_claims} buyers got one attendee onto two tickets"
            ));
        }
        if sold != Some(i64::from(replay_sold)) || replay_sold != paid {
            failures.push(format!(
                "sold: responses {paid}, read model {sold:?}, replay {replay_sold}"
            ));
        }
        if remaining != Some(i64::from(args.stock - held - replay_sold)) {
            failures.push(format!(
                "remaining {remaining:?} vs replay {}",
                args.stock - held - replay_sold
            ));
        }
        ensure!(
            failures.is_empty(),
            "meeting race check FAILED: {}",
            failures.join("; ")
        );
        println!(
            "meeting race check: OK (no oversell, one attendee per person, read model = replay)"
        );
        Ok(())
    }

    /// Seed 002's race: `--buyers` buyers (default 3 × `--stock`) each order one or two units of a
    /// product holding `--stock`.
    pub async fn shop(args: &Args, server: &RunningServer) -> anyhow::Result<()> {
        let c = client(server, args.connections)?;
        let setup = Instant::now();
        let admin = admin(server, &c).await?;
        let cat = post(
            &c.http,
            format!("{}/api/categories", c.base),
            Some(&admin),
            json!({"name": "饮品"}),
        )
        .await;
        let cat = cat["category_id"].as_i64().context("category id")?;
        let p = post(
            &c.http,
            format!("{}/api/products", c.base),
            Some(&admin),
            json!({"category_id": cat, "name": "限量咖啡", "price": 9.9, "stock": args.stock}),
        )
        .await;
        let product = p["product_id"].as_i64().context("product id")?;
        let buyers = args.buyers.unwrap_or(3 * args.stock as usize).max(1);
        let mut tokens = Vec::with_capacity(buyers);
        for b in 0..buyers {
            let r = post(
                &c.http,
                format!("{}/weixin-login", c.base),
                None,
                json!({"code": format!("dev:o-load-{b}")}),
            )
            .await;
            tokens.push(r["token"].as_str().unwrap_or_default().to_owned());
        }
        println!(
            "setup: product {product} with {} units, {buyers} buyers, {:.1} s",
            args.stock,
            setup.elapsed().as_secs_f64()
        );
        let tokens = Arc::new(tokens);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for k in 0..args.connections.max(1) {
            let (c, tokens) = (c.clone(), tokens.clone());
            let connections = args.connections.max(1);
            tasks.push(tokio::spawn(async move {
                let mut out = Outcome::default();
                let mut accepted = Vec::new();
                for b in (k..tokens.len()).step_by(connections) {
                    let quantity = 1 + (b % 2) as i64;
                    let req = c
                        .http
                        .post(format!("{}/api/orders", c.base))
                        .bearer_auth(&tokens[b])
                        .json(&json!({"items": [{"product_id": product, "quantity": quantity}], "payment_method": "微信支付"}));
                    if let Some((201, body)) = c.call(&mut out, "order", req).await {
                        accepted.push((body["order_id"].as_str().unwrap_or_default().to_owned(), quantity));
                    }
                }
                (out, accepted)
            }));
        }
        let mut outcomes = Vec::new();
        let mut accepted: HashMap<String, i64> = HashMap::new();
        for t in tasks {
            let (out, mine) = t.await?;
            outcomes.push((0, out));
            accepted.extend(mine);
        }
        let title = format!(
            "shop race, {:?}, {} connections, {buyers} buyers",
            args.db, args.connections
        );
        report_race(
            &title,
            &mut outcomes,
            started,
            &c,
            <ShopProduct as Decider>::CATEGORY,
        )
        .await;

        let position = server.engine.events.head_position().await?;
        ensure!(
            server
                .engine
                .runner
                .status()
                .wait_for(position, Duration::from_secs(300))
                .await,
            "read models did not catch up"
        );
        let ordered: i64 = accepted.values().sum();
        let r: Value = c
            .http
            .get(format!("{}/api/products/{product}", c.base))
            .send()
            .await?
            .json()
            .await?;
        let api = r["stock"].as_i64();
        let stream = StreamId::parse(format!("{}-{product}", <ShopProduct as Decider>::CATEGORY))?;
        let events: Vec<ProductEvent> = server
            .engine
            .events
            .read_stream(&stream, 0, 1_000_000)
            .await?
            .into_iter()
            .map(|e| ProductEvent::from_stored(&e.event_type, &e.data))
            .collect::<Result<_, _>>()?;
        let replay = i64::from(ShopProduct::replay(&events).stock());
        let mut reserved: BTreeMap<String, i64> = BTreeMap::new();
        for e in &events {
            if let ProductEvent::StockReserved {
                order_id, quantity, ..
            } = e
            {
                *reserved.entry(order_id.clone()).or_default() += i64::from(*quantity);
            }
        }
        let by_response: BTreeMap<String, i64> = accepted.clone().into_iter().collect();
        let orders: HashSet<&String> = accepted.keys().collect();
        println!(
            "responses: {} orders accepted holding {ordered} units; read model stock {api:?}; \
             replay stock {replay}, {} reservations",
            orders.len(),
            reserved.len()
        );
        let stock = i64::from(args.stock);
        let mut failures = Vec::new();
        if ordered > stock || replay < 0 || api.is_some_and(|s| s < 0) {
            failures.push(format!("oversold: {ordered} ordered of {stock}"));
        }
        if api != Some(replay) || replay != stock - ordered {
            failures.push(format!(
                "stock: read model {api:?}, replay {replay}, expected {}",
                stock - ordered
            ));
        }
        if reserved != by_response {
            failures.push("reservations in the log differ from the accepted orders".into());
        }
        ensure!(
            failures.is_empty(),
            "shop race check FAILED: {}",
            failures.join("; ")
        );
        println!(
            "shop race check: OK (stock never negative, orders within stock, read model = replay)"
        );
        Ok(())
    }
}
