//! Hot-stream command batching (docs/decisions/0032-hot-stream-batching.md), on SQLite and
//! PostgreSQL: commands decided while an append is in flight are committed together, each answered
//! on its own; a refused command fails no neighbour; a failed commit fails only its own commands
//! and sends those decided after it back to decide again; a second writer's append is caught and
//! decided against; and concurrent seat locks over HTTP never oversell, with every acknowledged
//! lock in the log even when the server goes away mid-batch.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use chrono::{Duration as ChronoDuration, FixedOffset, Utc};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tessera_application::command::{CommandError, CommandRunner};
use tessera_application::{
    AppendOutcome, AppendRequest, EventMetadata, EventStore, RecordedEvent, StoreError, StreamId,
};
use tessera_domain::DomainEvent;
use tessera_domain::openticket::seat_session::SeatSessionEvent;
use tessera_domain::testing::example::{Counter, CounterCommand, CounterError, CounterEvent};
use tessera_tests::http::{TestServer, server_config};
use tessera_tests::{Suite, TestDb, stream};
use tokio::sync::watch;
use uuid::Uuid;

fn main() -> std::process::ExitCode {
    Suite::new()
        .case(
            "a_refused_command_in_a_batch_fails_no_neighbour",
            refused_in_batch,
        )
        .case(
            "a_failed_commit_fails_its_batch_and_redecides_the_next",
            failed_commit,
        )
        .case(
            "a_second_runner_write_is_caught_and_decided_again",
            second_runner,
        )
        .case(
            "concurrent_locks_never_oversell_and_survive_a_crash",
            locks_over_http,
        )
        .run()
}

// ------------------------------------------------------------------ a store with a gate

/// The real store, with appends that wait at a gate while it is closed, and that fail on request.
struct Gated {
    inner: Arc<dyn EventStore>,
    open: watch::Sender<bool>,
    appends: AtomicUsize,
    fail_next: AtomicBool,
}

impl Gated {
    fn new(inner: Arc<dyn EventStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            open: watch::channel(true).0,
            appends: AtomicUsize::new(0),
            fail_next: AtomicBool::new(false),
        })
    }
}

#[async_trait]
impl EventStore for Gated {
    async fn append_streams(
        &self,
        requests: Vec<AppendRequest>,
    ) -> Result<Vec<AppendOutcome>, StoreError> {
        self.appends.fetch_add(1, Ordering::SeqCst);
        let mut rx = self.open.subscribe();
        rx.wait_for(|open| *open).await.unwrap();
        if self.fail_next.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Unavailable("the disk went away".into()));
        }
        self.inner.append_streams(requests).await
    }
    async fn read_stream(
        &self,
        stream_id: &StreamId,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner
            .read_stream(stream_id, from_version, max_count)
            .await
    }
    async fn read_all(
        &self,
        after: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_all(after, max_count).await
    }
    async fn head_position(&self) -> Result<u64, StoreError> {
        self.inner.head_position().await
    }
    async fn stream_version(&self, stream_id: &StreamId) -> Result<u64, StoreError> {
        self.inner.stream_version(stream_id).await
    }
    async fn wait_for_append(&self, after: u64, max_wait: Duration) -> Result<(), StoreError> {
        self.inner.wait_for_append(after, max_wait).await
    }
    fn instance_id(&self) -> Option<Uuid> {
        self.inner.instance_id()
    }
}

/// Poll until `check` holds (a condition, not a timing assertion); panics after a minute.
async fn until<F: Fn() -> Fut, Fut: std::future::Future<Output = bool>>(what: &str, check: F) {
    for _ in 0..6_000 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

type Answer = Result<u64, CommandError<CounterError>>;

fn increment(
    runner: &CommandRunner,
    st: &StreamId,
    by: u64,
    max: u64,
) -> tokio::task::JoinHandle<Answer> {
    let (runner, st) = (runner.clone(), st.clone());
    tokio::spawn(async move {
        runner
            .run::<Counter>(
                &st,
                &CounterCommand::Increment { by, max },
                &EventMetadata::default(),
            )
            .await
            .map(|d| d.state.value)
    })
}

/// Start `by`s one after another while the first append waits at the gate: the rest are decided
/// against the state the earlier ones left and queue for one batch.
async fn queue_behind_gate(
    gated: &Arc<Gated>,
    runner: &CommandRunner,
    st: &StreamId,
    bys: &[u64],
    max: u64,
) -> Vec<tokio::task::JoinHandle<Answer>> {
    gated.open.send_replace(false);
    let before = gated.appends.load(Ordering::SeqCst);
    let mut tasks = vec![increment(runner, st, bys[0], max)];
    until("the first append reached the gate", || async {
        gated.appends.load(Ordering::SeqCst) == before + 1
    })
    .await;
    for (i, by) in bys[1..].iter().enumerate() {
        tasks.push(increment(runner, st, *by, max));
        until("the command was decided and queued", || async {
            runner.queued(st).await == i + 1
        })
        .await;
    }
    tasks
}

async fn stored_increments(store: &dyn EventStore, st: &StreamId) -> Vec<u64> {
    store
        .read_stream(st, 1, 1_000)
        .await
        .unwrap_or_default()
        .iter()
        .map(
            |r| match CounterEvent::from_stored(&r.event_type, &r.data).unwrap() {
                CounterEvent::Incremented { by } => by,
            },
        )
        .collect()
}

/// +1 waits in its append; +3, +8, +2, +7, +4 (max 10) are decided meanwhile: +8 and +7 are
/// refused against the state the others left, and the other three go in one append.
async fn refused_in_batch(db: Arc<TestDb>) {
    let (_database, stores) = db.stores().await;
    let gated = Gated::new(stores.events.clone());
    let runner = CommandRunner::new(gated.clone());
    let st = stream("counter-batch");
    let tasks = queue_behind_gate(&gated, &runner, &st, &[1, 3, 8, 2, 7, 4], 10).await;
    gated.open.send_replace(true);
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let values: Vec<Option<u64>> = answers.iter().map(|a| a.as_ref().ok().copied()).collect();
    assert_eq!(
        values,
        vec![Some(1), Some(4), None, Some(6), None, Some(10)],
        "{answers:?}"
    );
    for refused in [&answers[2], &answers[4]] {
        assert!(
            matches!(
                refused,
                Err(CommandError::Rejected(CounterError::WouldExceed {
                    max: 10
                }))
            ),
            "{refused:?}"
        );
    }
    assert_eq!(
        gated.appends.load(Ordering::SeqCst),
        2,
        "one append for +1, one for the batch of the three accepted after it"
    );
    assert_eq!(
        stored_increments(gated.as_ref(), &st).await,
        vec![1, 3, 2, 4]
    );
}

/// +1's append fails; +3 and +2, decided on top of it, are decided again from the stream and
/// committed; +1 is answered with the failure and is not in the log.
async fn failed_commit(db: Arc<TestDb>) {
    let (_database, stores) = db.stores().await;
    let gated = Gated::new(stores.events.clone());
    let runner = CommandRunner::new(gated.clone());
    let st = stream("counter-failed");
    let tasks = queue_behind_gate(&gated, &runner, &st, &[1, 3, 2], 100).await;
    gated.fail_next.store(true, Ordering::SeqCst);
    gated.open.send_replace(true);
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    assert!(
        matches!(
            &answers[0],
            Err(CommandError::Engine(
                tessera_application::EngineError::Store(StoreError::Unavailable(_))
            ))
        ),
        "{:?}",
        answers[0]
    );
    let mut committed: Vec<u64> = answers[1..]
        .iter()
        .map(|a| *a.as_ref().expect("decided again and committed"))
        .collect();
    committed.sort_unstable();
    assert_eq!(committed[1], 5, "both decided again from 0: {answers:?}");
    assert!(committed[0] == 2 || committed[0] == 3, "{answers:?}");
    let mut stored = stored_increments(gated.as_ref(), &st).await;
    stored.sort_unstable();
    assert_eq!(stored, vec![2, 3], "the failed +1 is not in the log");
}

/// Two runners over two stores (two processes) on one database: each keeps its own state; the
/// other's appends are caught by the expected version and the command decided again.
async fn second_runner(db: Arc<TestDb>) {
    let (_d1, one) = db.stores().await;
    let (_d2, two) = db.stores().await;
    assert_ne!(one.events.instance_id(), two.events.instance_id());
    let (r1, r2) = (
        CommandRunner::new(one.events.clone()),
        CommandRunner::new(two.events.clone()),
    );
    let st = stream("counter-two");
    let run = |r: &CommandRunner, by: u64| increment(r, &st, by, 10);
    assert_eq!(run(&r1, 1).await.unwrap().unwrap(), 1);
    assert_eq!(
        run(&r2, 5).await.unwrap().unwrap(),
        6,
        "r2 loads what r1 wrote"
    );
    assert_eq!(
        run(&r1, 3).await.unwrap().unwrap(),
        9,
        "r1's state said 1: its append lost, it reloaded and decided on 6"
    );
    assert_eq!(run(&r2, 1).await.unwrap().unwrap(), 10);
    let refused = run(&r1, 1).await.unwrap();
    assert!(
        matches!(
            refused,
            Err(CommandError::Rejected(CounterError::WouldExceed {
                max: 10
            }))
        ),
        "r1's state said 9 (+1 fits); the stream says 10: {refused:?}"
    );
    assert_eq!(
        stored_increments(one.events.as_ref(), &st).await,
        vec![1, 5, 3, 1]
    );
}

// ------------------------------------------------------------------------- over HTTP

fn venue_body(seats: usize) -> Value {
    let seats: Vec<Value> = (1..=seats)
        .map(|i| {
            json!({"seatId": format!("A-{i:03}"), "row": ((i - 1) / 20 + 1).to_string(),
                   "number": i, "x": 10 * ((i - 1) % 20), "y": 10 * ((i - 1) / 20), "type": "Normal"})
        })
        .collect();
    json!({
        "name": "台北小巨蛋",
        "address": {"country": "TW", "city": "台北市", "street": "南京東路四段2號", "postalCode": "105"},
        "capacity": seats.len(),
        "seatMap": {"areas": [{"areaId": "A", "name": "A 區", "seats": seats}]},
    })
}

fn event_body(venue_id: &str) -> Value {
    let now = Utc::now().with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap());
    let t = |d: ChronoDuration| (now + d).to_rfc3339();
    json!({
        "name": "五月天演唱會", "description": "batching", "venueId": venue_id,
        "sessions": [{
            "startTime": t(ChronoDuration::days(2)),
            "endTime": t(ChronoDuration::days(2) + ChronoDuration::hours(3)),
            "saleStartTime": t(-ChronoDuration::hours(1)),
            "saleEndTime": t(ChronoDuration::days(1)),
        }],
        "priceCategories": [{"categoryId": "A", "name": "A 區", "areaIds": ["A"], "price": {"amount": 4800, "currency": "TWD"}}],
    })
}

/// Every `(seat, lockId)` the session's stream says was locked, in order.
async fn locked_in_log(store: &dyn EventStore, session_id: &str) -> Vec<(String, String)> {
    let st = stream(&format!("openticketSeatSession-{session_id}"));
    let mut out = Vec::new();
    for r in store.read_stream(&st, 1, 100_000).await.unwrap() {
        if let SeatSessionEvent::SeatsLocked {
            seat_ids, lock_id, ..
        } = SeatSessionEvent::from_stored(&r.event_type, &r.data).unwrap()
        {
            for s in seat_ids {
                out.push((s.to_string(), lock_id.to_string()));
            }
        }
    }
    out
}

/// 40 buyers lock overlapping seats at once: each seat is granted at most once, and the
/// responses, the seat read model and the stream agree. Then a second round is cut off by the
/// server going away: every lock it acknowledged is in the log read by a fresh engine.
async fn locks_over_http(db: Arc<TestDb>) {
    let mut config = server_config();
    config.seat_lock_ttl_secs = 3_600;
    let t = Arc::new(TestServer::start_with(&db, config).await);
    let admin = t.admin().await;
    let (_, organizer) = t
        .with_role(&admin, "organizer@batch.test", "organizer")
        .await;
    let r = t.post("/v1/venues", Some(&admin), venue_body(200)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let venue_id = r.data()["venueId"].as_str().unwrap().to_owned();
    let r = t
        .post("/v1/events", Some(&organizer), event_body(&venue_id))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let session_id = r.data()["sessions"][0]["sessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut tokens = Vec::new();
    for i in 0..40 {
        tokens.push(t.customer(&format!("buyer{i}@batch.test")).await.1);
    }
    let path = format!("/v1/sessions/{session_id}/seats/lock");

    // Round one: seats 1..=100, each wanted by four buyers.
    let mut tasks = Vec::new();
    for (b, token) in tokens.iter().enumerate() {
        let (t, token, path) = (t.clone(), token.clone(), path.clone());
        tasks.push(tokio::spawn(async move {
            let mut granted = Vec::new();
            for k in 0..10 {
                let seat = format!("A-{:03}", (b * 10 + k) % 100 + 1);
                let r = t
                    .post(&path, Some(&token), json!({"seatIds": [seat]}))
                    .await;
                match r.status.as_u16() {
                    200 => granted.push((seat, r.data()["lockId"].as_str().unwrap().to_owned())),
                    409 => assert_eq!(r.code(), "SEAT_UNAVAILABLE", "{:?}", r.body),
                    _ => panic!("unexpected answer: {:?}", r.body),
                }
            }
            granted
        }));
    }
    let mut granted: Vec<(String, String)> = Vec::new();
    for task in tasks {
        granted.extend(task.await.unwrap());
    }
    let seats: HashSet<&String> = granted.iter().map(|(s, _)| s).collect();
    assert_eq!(
        seats.len(),
        granted.len(),
        "a seat granted twice: {granted:?}"
    );
    assert_eq!(
        seats.len(),
        100,
        "every seat was wanted, so every seat went to someone"
    );
    let engine = t.server.engine.clone();
    let head = engine.events.head_position().await.unwrap();
    assert!(
        engine
            .runner
            .status()
            .wait_for(head, Duration::from_secs(60))
            .await
    );
    let model = t
        .get(&format!("/v1/sessions/{session_id}/seats"), None)
        .await;
    let locked_in_model: HashSet<String> = model.data()["areas"][0]["seats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "Locked")
        .map(|s| s["seatId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        locked_in_model,
        seats.iter().map(|s| (*s).clone()).collect()
    );
    let mut log = locked_in_log(engine.events.as_ref(), &session_id).await;
    let mut answered = granted.clone();
    log.sort();
    answered.sort();
    assert_eq!(
        log, answered,
        "the stream's locks are exactly the granted ones"
    );

    // Round two: seats 101..=200 while the server goes away.
    let mut tasks = Vec::new();
    for (b, token) in tokens.iter().enumerate() {
        let (base, token, path) = (t.base.clone(), token.clone(), path.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut granted = Vec::new();
            for k in 0..5 {
                let seat = format!("A-{:03}", 100 + (b * 5 + k) % 100 + 1);
                let Ok(resp) = http
                    .post(format!("{base}{path}"))
                    .bearer_auth(&token)
                    .json(&json!({"seatIds": [seat]}))
                    .send()
                    .await
                else {
                    break;
                };
                if resp.status() == 200
                    && let Ok(body) = resp.json::<Value>().await
                {
                    granted.push((seat, body["data"]["lockId"].as_str().unwrap().to_owned()));
                }
            }
            granted
        }));
    }
    until("some of round two is committed", || async {
        locked_in_log(engine.events.as_ref(), &session_id)
            .await
            .len()
            > 110
    })
    .await;
    drop(engine);
    let server = Arc::try_unwrap(t)
        .ok()
        .expect("only this test holds the server");
    drop(server); // no graceful stop: its tasks are cut off wherever they are
    let mut acked: Vec<(String, String)> = Vec::new();
    for task in tasks {
        acked.extend(task.await.unwrap());
    }
    let (_database, stores) = db.stores().await;
    let log: HashMap<String, String> = locked_in_log(stores.events.as_ref(), &session_id)
        .await
        .into_iter()
        .map(|(s, l)| (l, s))
        .collect();
    for (seat, lock) in &acked {
        assert_eq!(
            log.get(lock),
            Some(seat),
            "acknowledged lock {lock} on {seat} lost"
        );
    }
}
