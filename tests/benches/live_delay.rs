//! Live seat status delay (seed 003 §8, issue 14): with `BENCH_CLIENTS` (default 1,000) clients of
//! the official `@microsoft/signalr` client (Node.js, `tests/node/bench.js`, WebSockets) watching one
//! session, lock `BENCH_LOCKS` seats (default 50) one after another over HTTP and report the delay
//! from sending each lock request (an upper bound of its commit) to each client's receipt of its
//! `SeatStatusChanged`: p50, p95, p99 and max over every client and lock.
//!
//! Run: `cargo bench -p tessera-tests --bench live_delay` (`BENCH_BACKEND=postgres` for
//! PostgreSQL at `TESSERA_TEST_POSTGRES_URL`; default SQLite). Needs `npm ci` in tests/node.
//! Not a test: nothing is asserted about the figures (docs/benchmarks.md records them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration as ChronoDuration, Utc};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;
use tessera_tests::http::{TestServer, server_config};
use tessera_tests::{Backend, TestDb};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let clients = env_usize("BENCH_CLIENTS", 1000);
    let locks = env_usize("BENCH_LOCKS", 50).clamp(1, 100);
    let backend = match std::env::var("BENCH_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let db = TestDb::create(backend).await;
        let mut config = server_config();
        config.max_connections = clients + 64;
        let t = TestServer::start_with(&db, config).await;
        let admin = t.admin().await;
        let (_, organizer) = t.with_role(&admin, "organizer@bench.test", "organizer").await;
        let (_, buyer) = t.customer("buyer@bench.test").await;
        let seats: Vec<Value> = (1..=100)
            .map(|i| json!({"seatId": format!("A-{i:03}"), "row": "1", "number": i, "x": i, "y": 0, "type": "Normal"}))
            .collect();
        let r = t
            .post(
                "/v1/venues",
                Some(&admin),
                json!({"name": "Bench Hall", "address": {"country": "TW", "city": "台北市", "street": "1", "postalCode": "100"},
                       "capacity": 100, "seatMap": {"areas": [{"areaId": "A", "name": "A", "seats": seats}]}}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let venue_id = r.data()["venueId"].as_str().unwrap().to_owned();
        let t_at = |d: ChronoDuration| (Utc::now() + d).to_rfc3339();
        let r = t
            .post(
                "/v1/events",
                Some(&organizer),
                json!({"name": "Bench", "description": "bench", "venueId": venue_id,
                       "sessions": [{"startTime": t_at(ChronoDuration::days(2)), "endTime": t_at(ChronoDuration::days(3)),
                                     "saleStartTime": t_at(-ChronoDuration::hours(1)), "saleEndTime": t_at(ChronoDuration::days(1))}],
                       "priceCategories": [{"categoryId": "A", "name": "A", "areaIds": ["A"], "price": {"amount": 100, "currency": "TWD"}}]}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let session_id = r.data()["sessions"][0]["sessionId"].as_str().unwrap().to_owned();
        let seat_ids: Vec<String> = (1..=100).map(|i| format!("A-{i:03}")).collect();
        let options = json!({"base": t.base, "token": buyer, "sessionId": session_id,
                             "clients": clients, "locks": locks, "seats": seat_ids});
        let node = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node");
        let out = tokio::task::spawn_blocking(move || {
            Command::new("node")
                .arg("bench.js")
                .arg(options.to_string())
                .current_dir(node)
                .output()
                .expect("node (and npm ci in tests/node)")
        })
        .await
        .unwrap();
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "bench.js failed");
        let result: Value = serde_json::from_slice(&out.stdout).unwrap();
        println!(
            "live_delay ({}, debug={}): {} clients, {} locks, {} receipts: p50 {} ms, p95 {} ms, p99 {} ms, max {} ms",
            backend.name(),
            cfg!(debug_assertions),
            result["clients"],
            result["locks"],
            result["samples"],
            result["p50_ms"],
            result["p95_ms"],
            result["p99_ms"],
            result["max_ms"]
        );
        t.stop().await;
        db.cleanup().await;
    });
}
