//! Event store throughput: appends (1 and 16 concurrent writers, 1 and 10 events per append) and
//! global-log reads, on SQLite and PostgreSQL, next to plain multi-row INSERTs of the same rows into
//! a table without our locking or hashing, on the same database in the same run.
//!
//! Run: `cargo bench -p tessera-tests --bench store_throughput` (PostgreSQL at
//! `TESSERA_TEST_POSTGRES_URL`, skipped when unreachable). `BENCH_EVENTS` sets the events per append
//! case (default 4000); `BENCH_READ_EVENTS` the log size for the read case (default 200000).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use sqlx::Connection;
use std::sync::Arc;
use std::time::Instant;
use tessera_application::{AppendRequest, EventStore, ExpectedVersion};
use tessera_tests::{Backend, TestDb, new_event, stream};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn payload(i: usize) -> serde_json::Value {
    json!({"orderId": format!("ord-{i}"), "seats": ["A-001", "A-002"], "amount": "3200.00", "currency": "TWD"})
}

async fn bench_appends(
    store: Arc<dyn EventStore>,
    writers: usize,
    per_append: usize,
    total_events: usize,
    tag: &str,
) -> f64 {
    let appends_per_writer = (total_events / per_append / writers).max(1);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        let tag = tag.to_owned();
        tasks.push(tokio::spawn(async move {
            let st = stream(&format!("bench{tag}-{w}"));
            for i in 0..appends_per_writer {
                let events = (0..per_append)
                    .map(|j| new_event("OpenTicketOrderPlaced", payload(i * per_append + j)))
                    .collect();
                store
                    .append(AppendRequest::new(
                        st.clone(),
                        ExpectedVersion::Exact((i * per_append) as u64),
                        events,
                    ))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (appends_per_writer * writers * per_append) as f64 / started.elapsed().as_secs_f64()
}

const PLAIN_PG: &str = "CREATE TABLE bench_plain (id BIGSERIAL PRIMARY KEY, stream_id TEXT NOT NULL, \
    stream_version BIGINT NOT NULL, event_id UUID NOT NULL UNIQUE, event_type TEXT NOT NULL, schema_version INT NOT NULL, \
    data JSONB NOT NULL, metadata JSONB NOT NULL, recorded_at TIMESTAMPTZ NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, \
    UNIQUE (stream_id, stream_version))";
const PLAIN_SQLITE: &str = "CREATE TABLE bench_plain (id INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, \
    stream_version INTEGER NOT NULL, event_id TEXT NOT NULL UNIQUE, event_type TEXT NOT NULL, schema_version INTEGER NOT NULL, \
    data TEXT NOT NULL, metadata TEXT NOT NULL, recorded_at TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, \
    UNIQUE (stream_id, stream_version))";

/// The same rows as an append writes, as one autocommitted multi-row INSERT per append.
async fn bench_plain(
    db: &TestDb,
    writers: usize,
    per_append: usize,
    total_events: usize,
    tag: &str,
) -> f64 {
    let appends_per_writer = (total_events / per_append / writers).max(1);
    let hash = "0".repeat(64);
    let pg = match db.backend {
        Backend::Postgres => Some(
            // The store's own pool settings (decision 0041), so the ratio compares appends.
            tessera_infrastructure::pool::pool_options::<sqlx::Postgres>()
                .max_connections(16)
                .connect(&db.url)
                .await
                .unwrap(),
        ),
        Backend::Sqlite => None,
    };
    let sqlite = match db.backend {
        Backend::Sqlite => Some(
            tessera_infrastructure::pool::pool_options::<sqlx::Sqlite>()
                .max_connections(1)
                .connect_with(
                    db.url
                        .parse::<sqlx::sqlite::SqliteConnectOptions>()
                        .unwrap()
                        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                        .synchronous(sqlx::sqlite::SqliteSynchronous::Full),
                )
                .await
                .unwrap(),
        ),
        Backend::Postgres => None,
    };
    // Open every connection before the clock starts, as the store's pool already is.
    if let Some(pool) = &pg {
        let conns: Vec<_> = open_connections(pool, writers).await;
        drop(conns);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (pg, sqlite, hash, tag) = (pg.clone(), sqlite.clone(), hash.clone(), tag.to_owned());
        tasks.push(tokio::spawn(async move {
            for i in 0..appends_per_writer {
                let now = chrono::Utc::now();
                let rows: Vec<(String, i64, uuid::Uuid, String)> = (0..per_append)
                    .map(|j| (format!("plain{tag}-{w}"), (i * per_append + j + 1) as i64, uuid::Uuid::now_v7(), payload(i * per_append + j).to_string()))
                    .collect();
                let sql = "INSERT INTO bench_plain (stream_id, stream_version, event_id, event_type, schema_version, data, metadata, recorded_at, prev_hash, hash) ";
                if let Some(pool) = &pg {
                    let mut qb = sqlx::QueryBuilder::<sqlx::Postgres>::new(sql);
                    qb.push_values(&rows, |mut b, r| {
                        b.push_bind(&r.0).push_bind(r.1).push_bind(r.2).push_bind("OpenTicketOrderPlaced").push_bind(1)
                            .push_bind(sqlx::types::Json(serde_json::from_str::<serde_json::Value>(&r.3).unwrap()))
                            .push_bind(sqlx::types::Json(json!({"request_id": "bench"})))
                            .push_bind(now).push_bind(&hash).push_bind(&hash);
                    });
                    qb.build().execute(pool).await.unwrap();
                } else if let Some(pool) = &sqlite {
                    let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(sql);
                    qb.push_values(&rows, |mut b, r| {
                        b.push_bind(&r.0).push_bind(r.1).push_bind(r.2.to_string()).push_bind("OpenTicketOrderPlaced").push_bind(1)
                            .push_bind(&r.3).push_bind(r#"{"request_id":"bench"}"#)
                            .push_bind(now.to_rfc3339()).push_bind(&hash).push_bind(&hash);
                    });
                    qb.build().execute(pool).await.unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (appends_per_writer * writers * per_append) as f64 / started.elapsed().as_secs_f64()
}

async fn open_connections(
    pool: &sqlx::PgPool,
    n: usize,
) -> Vec<sqlx::pool::PoolConnection<sqlx::Postgres>> {
    let mut conns = Vec::new();
    for _ in 0..n {
        conns.push(pool.acquire().await.unwrap());
    }
    conns
}

async fn run_backend(backend: Backend) {
    let total = env_usize("BENCH_EVENTS", 4_000);
    let read_events = env_usize("BENCH_READ_EVENTS", 200_000);
    let db = TestDb::create(backend).await;
    let (_database, stores) = db.stores().await;
    let store = stores.events.clone();
    tessera_tests::exec_sql(
        &db.url,
        if backend == Backend::Postgres {
            PLAIN_PG
        } else {
            PLAIN_SQLITE
        },
    )
    .await
    .unwrap();

    println!(
        "\n## {} ({} events per append case)\n",
        backend.name(),
        total
    );
    println!(
        "| writers | events/append | tessera append (events/s) | plain INSERT (events/s) | ratio |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for (writers, per_append) in [(1, 1), (1, 10), (16, 1), (16, 10)] {
        let tag = format!("{writers}x{per_append}");
        let plain = bench_plain(&db, writers, per_append, total, &tag).await;
        let ours = bench_appends(store.clone(), writers, per_append, total, &tag).await;
        println!(
            "| {writers} | {per_append} | {ours:.0} | {plain:.0} | {:.0}% |",
            100.0 * ours / plain
        );
    }

    // Grow the log to the read size with large batches, then read it all from position 0.
    let head = store.head_position().await.unwrap() as usize;
    let mut filler = Vec::new();
    let missing = read_events.saturating_sub(head);
    for w in 0..4 {
        let store = store.clone();
        filler.push(tokio::spawn(async move {
            let st = stream(&format!("fill-{w}"));
            let mut version = 0u64;
            while (version as usize) < missing / 4 {
                let events: Vec<_> = (0..500)
                    .map(|j| new_event("OpenTicketOrderPlaced", payload(j)))
                    .collect();
                version = store
                    .append(AppendRequest::new(
                        st.clone(),
                        ExpectedVersion::Exact(version),
                        events,
                    ))
                    .await
                    .unwrap()
                    .stream_version;
            }
        }));
    }
    for f in filler {
        f.await.unwrap();
    }
    let head = store.head_position().await.unwrap();
    // Batches of 5000 (a rebuild) and of 500 (what the projection runner asks for).
    for batch_size in [5_000, 500] {
        let started = Instant::now();
        let mut position = 0;
        let mut n = 0u64;
        loop {
            let batch = store.read_all(position, batch_size).await.unwrap();
            let Some(last) = batch.last() else { break };
            position = last.global_position;
            n += batch.len() as u64;
        }
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(n, head);
        println!(
            "\nglobal log read: {n} events in {secs:.2}s = {:.0} events/s (read_all, batches of {batch_size}, decoded envelopes)",
            n as f64 / secs
        );
    }
    drop(stores);
    db.cleanup().await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        run_backend(Backend::Sqlite).await;
        let pg = sqlx::PgConnection::connect(&tessera_tests::postgres_admin_url()).await;
        match pg {
            Ok(c) => {
                let _ = c.close().await;
                run_backend(Backend::Postgres).await;
            }
            Err(e) => println!("\nPostgreSQL skipped: {e}"),
        }
    });
}
