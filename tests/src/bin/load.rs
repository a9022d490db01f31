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
//! Rate limits are turned off in the server it starts (`TESSERA_RATE_LIMITS=off`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use anyhow::{Context, bail, ensure};
use chrono::{Duration as ChronoDuration, FixedOffset, Utc};
use clap::{Parser, ValueEnum};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
        let (key, reply) = match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                let key = match body["error"]["code"].as_str() {
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

/// An event at the venue whose one session is on sale now, every area priced.
fn event_body(venue_id: &str) -> Value {
    let tz = FixedOffset::east_opt(8 * 3600).expect("UTC+8");
    let now = Utc::now().with_timezone(&tz);
    let t = |d: ChronoDuration| (now + d).to_rfc3339();
    json!({
        "name": "五月天演唱會",
        "description": "onsale load",
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
    let server_rt = {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        if let Some(n) = args.server_threads {
            b.worker_threads(n);
        }
        b.enable_all().build()?
    };
    let client_rt = tokio::runtime::Builder::new_multi_thread()
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
    let result = client_rt.block_on(drive(&args, &server));
    server_rt.block_on(async {
        server.stop(Duration::from_secs(10)).await;
        db.cleanup().await;
    });
    result
}

async fn drive(args: &Args, server: &RunningServer) -> anyhow::Result<()> {
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
        event_body(&venue_id),
    )
    .await;
    let session_id = event["data"]["sessions"][0]["sessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let buyers = args.buyers.unwrap_or(args.connections).max(1);
    let mut tokens = Vec::with_capacity(buyers);
    for i in 0..buyers {
        let email = format!("buyer{i}@load.test");
        register(email.clone()).await;
        tokens.push(login(email).await);
    }
    println!(
        "setup: {} seats, session {session_id}, {buyers} buyers signed in, {:.1} s",
        seat_ids.len(),
        setup.elapsed().as_secs_f64()
    );

    // Load.
    let client = Arc::new(Client {
        http: http.clone(),
        base: base.clone(),
        session_id: session_id.clone(),
    });
    let seat_ids = Arc::new(seat_ids);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let until = started + Duration::from_secs(args.duration);
    let mut tasks = Vec::new();
    for c in 0..args.connections {
        let client = client.clone();
        let seat_ids = seat_ids.clone();
        let next = next.clone();
        let token = tokens[c % buyers].clone();
        let mode = args.mode;
        let connections = args.connections;
        tasks.push(tokio::spawn(async move {
            let mut out = Outcome::default();
            let mut own = (c..seat_ids.len()).step_by(connections).cycle();
            while Instant::now() < until {
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
            (c % buyers, out)
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();

    // Report.
    let mut merged: BTreeMap<&'static str, Tally> = BTreeMap::new();
    for (_, out) in &mut outcomes {
        for (kind, t) in std::mem::take(&mut out.tallies) {
            let m = merged.entry(kind).or_default();
            m.micros.extend(t.micros);
            for (k, v) in t.statuses {
                *m.statuses.entry(k).or_default() += v;
            }
        }
    }
    println!(
        "mode {:?}, {:?}, {} connections, {:.1} s",
        args.mode, args.db, args.connections, elapsed
    );
    println!("| command | count | per s | p50 ms | p90 ms | p99 ms | max ms | statuses |");
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    let mut total = 0usize;
    for (kind, t) in &mut merged {
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
    print_metrics(&http, &base).await;

    check(server, &client, &outcomes).await
}

/// What the server's `GET /metrics` saw (docs/operations.md): mean commands per batch commit and
/// mean append latency per stream category, from the histograms' `_sum` and `_count` (set-up
/// included: the recorder counts from the process's start).
async fn print_metrics(http: &reqwest::Client, base: &str) {
    let text = match http.get(format!("{base}/metrics")).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(e) => {
            println!("metrics: unavailable ({e})");
            return;
        }
    };
    // (series with labels) -> (sum, count)
    let mut histograms: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
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
            || series.starts_with(&format!(
                "tessera_append_seconds{{category=\"{}\"",
                <SeatSession as Decider>::CATEGORY
            ));
        if wanted && *count > 0.0 {
            println!("  {series}: count {count:.0}, mean {:.4}", sum / count);
        }
    }
}

/// Zero oversell, three ways: responses, the seat read model, and a replay of the stream.
async fn check(
    server: &RunningServer,
    client: &Client,
    outcomes: &[(usize, Outcome)],
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
    let stream = StreamId::parse(format!(
        "{}-{}",
        <SeatSession as Decider>::CATEGORY,
        client.session_id
    ))?;
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
