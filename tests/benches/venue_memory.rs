//! Memory per request: the server's resident memory while it takes big `POST /v1/venues` bodies,
//! measured from outside. The bench starts the server as a child process of its own (this
//! executable with `--serve`), so the client's copies of the bodies do not count, then reads the
//! child's `VmHWM` (peak resident set) and `VmRSS` from `/proc/{pid}/status`:
//!
//! 1. after start (baseline),
//! 2. around 200 small requests (`GET /v1/venues`, one after another): mean time and RSS change,
//!    the common case that must not get slower,
//! 3. after one venue is created and projected,
//! 4. after four more are posted at once and projected,
//! 5. a few seconds after that (memory given back or not).
//!
//! Run: `cargo bench -p tessera-tests --bench venue_memory` (release), or `--profile dev` for a
//! quicker build. `BENCH_SEATS` sets the seats per venue (default 100,000, about 9 MB of JSON);
//! `BENCH_DATABASE_URL` a database other than a fresh SQLite file. Figures: docs/benchmarks.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// The allocator of the `tessera` binary, so that the server child measures what a deployment runs.
#[global_allocator]
static GLOBAL: tessera_api::Allocator = tessera_api::ALLOCATOR;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        serve(&args[2]);
        return;
    }
    // `cargo bench` passes `--bench`; anything else (a filter) is ignored.
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}/bench.db", dir.path().display()));
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--serve", &url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("server output").unwrap();
        if let Some(addr) = line.strip_prefix("LISTENING ") {
            break format!("http://{addr}");
        }
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(measure(&base, pid));
    // Closing stdin stops the server.
    drop(child.stdin.take());
    let _ = child.wait();
}

/// `VmHWM` and `VmRSS` of `pid`, in MiB.
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn venue_body(name: &str, seats: usize) -> Vec<u8> {
    let mut s = String::with_capacity(seats * 96 + 256);
    s.push_str(&format!(
        r#"{{"name":"{name}","address":{{"country":"TW","city":"Taipei","street":"Nanjing E Rd 4-2","postalCode":"105"}},"capacity":{seats},"seatMap":{{"areas":[{{"areaId":"A","name":"A","seats":["#
    ));
    for i in 1..=seats {
        if i > 1 {
            s.push(',');
        }
        s.push_str(&format!(
            r#"{{"seatId":"A-{i:06}","row":"{}","number":{i},"x":{},"y":{},"type":"Normal"}}"#,
            (i - 1) / 100 + 1,
            10 * ((i - 1) % 100),
            10 * ((i - 1) / 100)
        ));
    }
    s.push_str("]}]}}");
    s.into_bytes()
}

async fn measure(base: &str, pid: u32) {
    let seats = env_usize("BENCH_SEATS", 100_000);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    let login = serde_json::json!({"email": "admin@bench.test", "password": "admin password 123"});
    let r: serde_json::Value = http
        .post(format!("{base}/v1/auth/login"))
        .json(&login)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = r["data"]["accessToken"].as_str().unwrap().to_owned();
    let body_len = venue_body("probe", seats).len();
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    let (_, baseline) = memory(pid);
    println!(
        "venue body: {seats} seats, {:.1} MiB; server RSS after start {baseline:.0} MiB",
        mib(body_len)
    );

    let small = 200;
    let started = Instant::now();
    for _ in 0..small {
        let r = http
            .get(format!("{base}/v1/venues?page=1&pageSize=20"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
    }
    let per = started.elapsed().as_secs_f64() * 1000.0 / small as f64;
    let (_, after_small) = memory(pid);
    println!(
        "{small} small requests (GET /v1/venues): {per:.2} ms each; RSS {after_small:.0} MiB ({:+.1} MiB)",
        after_small - baseline
    );

    let post = |n: usize| {
        let (http, token) = (http.clone(), token.clone());
        let base = base.to_owned();
        async move {
            let r = http
                .post(format!("{base}/v1/venues"))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(venue_body(&format!("Arena {n}"), seats))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let v: serde_json::Value =
                serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or_default();
            (
                status,
                v["data"]["venueId"].as_str().unwrap_or("").to_owned(),
            )
        }
    };
    let settle = |ids: Vec<String>| {
        let http = http.clone();
        let base = base.to_owned();
        async move {
            for id in ids {
                loop {
                    let r = http.get(format!("{base}/v1/venues/{id}")).send().await;
                    if r.is_ok_and(|r| r.status() == 200) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            // Let the other projectors and the process managers finish the batch.
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
    };

    let started = Instant::now();
    let (status, id) = post(0).await;
    settle(vec![id]).await;
    let (peak1, rss1) = memory(pid);
    println!(
        "1 venue: answered {status} in {:.1}s; peak {peak1:.0} MiB = baseline + {:.1} × body; RSS after {rss1:.0} MiB",
        started.elapsed().as_secs_f64(),
        (peak1 - baseline) / mib(body_len)
    );

    let started = Instant::now();
    let answers = futures_join(vec![post(1), post(2), post(3), post(4)]).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    settle(answers.into_iter().map(|a| a.1).collect()).await;
    let (peak4, rss4) = memory(pid);
    println!(
        "4 venues at once: answered {statuses:?} in {:.1}s; peak {peak4:.0} MiB = baseline + {:.1} × (4 bodies); RSS after {rss4:.0} MiB",
        started.elapsed().as_secs_f64(),
        (peak4 - baseline) / (4.0 * mib(body_len))
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (_, idle) = memory(pid);
    println!("idle 5 s later: RSS {idle:.0} MiB (baseline {baseline:.0} MiB)");
    let _ = std::io::stdout().flush();
}

async fn futures_join<F: std::future::Future + Send + 'static>(fs: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// The child: a server on `url` with an admin, until stdin closes.
fn serve(url: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let config = tessera_api::Config {
            database_url: url.to_owned(),
            data_dir: None,
            database_max_connections: 20,
            log: "error".into(),
            log_format: "text".into(),
        };
        let server =
            tessera_api::RunningServer::start(&config, tessera_tests::http::server_config())
                .await
                .unwrap();
        server
            .services
            .identity
            .create_admin("admin@bench.test", "admin password 123")
            .await
            .unwrap();
        println!("LISTENING {}", server.addr);
        let _ = std::io::stdout().flush();
        tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {}
        })
        .await
        .unwrap();
        server.stop(Duration::from_secs(10)).await;
    });
}
