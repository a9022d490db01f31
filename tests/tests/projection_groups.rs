//! Projectors that follow the log together (docs/decisions/0035-projection-transactions.md): one
//! transaction per batch for all of them, a failing projector moved to a lane of its own without
//! touching the others' checkpoints, and read-your-writes waits that skip projectors with nothing
//! to apply — each on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tessera_application::{AppendRequest, EventStore, ExpectedVersion, RecordedEvent};
use tessera_projections::{
    ALL_CATEGORIES, ProjectionError, ProjectionRunner, ProjectionTx, Projector, execute,
};
use tessera_tests::{Suite, TestDb, exec_sql, new_event, scalar_i64, stream};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

fn main() -> std::process::ExitCode {
    Suite::new()
        .case(
            "one_transaction_holds_every_projector_of_a_batch",
            one_transaction,
        )
        .case(
            "failing_projector_is_isolated_and_others_checkpoints_stay_right",
            failing_isolated,
        )
        .case(
            "batches_grow_with_the_backlog_and_rebuild_equals_live",
            growing_batches,
        )
        .run()
}

const TABLE: &str = "CREATE TABLE test_rows (projector TEXT NOT NULL, position BIGINT NOT NULL, \
                     applied BIGINT NOT NULL, PRIMARY KEY (projector, position))";

/// Records each position it applies in `test_rows` (counting repeats); can hang at one position
/// or fail while `failing` is set.
struct Recorder {
    name: &'static str,
    categories: &'static [&'static str],
    hang_at: Option<u64>,
    reached: Arc<Notify>,
    failing: Arc<AtomicBool>,
}

impl Recorder {
    fn new(name: &'static str, categories: &'static [&'static str]) -> Self {
        Self {
            name,
            categories,
            hang_at: None,
            reached: Arc::new(Notify::new()),
            failing: Arc::new(AtomicBool::new(false)),
        }
    }
}

#[async_trait]
impl Projector for Recorder {
    fn name(&self) -> &'static str {
        self.name
    }
    fn version(&self) -> u32 {
        1
    }
    fn categories(&self) -> &'static [&'static str] {
        self.categories
    }
    fn handles(&self) -> &'static [&'static str] {
        &[]
    }
    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(
            tx,
            sqlx::query("DELETE FROM test_rows WHERE projector = $1").bind(self.name)
        )?;
        Ok(())
    }
    async fn apply(&self, tx: &mut ProjectionTx, e: &RecordedEvent) -> Result<(), ProjectionError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(ProjectionError::BadEvent {
                position: e.global_position,
                reason: "told to fail".into(),
            });
        }
        execute!(
            tx,
            sqlx::query(
                "INSERT INTO test_rows (projector, position, applied) VALUES ($1, $2, 1) \
                 ON CONFLICT (projector, position) DO UPDATE SET applied = test_rows.applied + 1",
            )
            .bind(self.name)
            .bind(e.global_position as i64)
        )?;
        if Some(e.global_position) == self.hang_at {
            self.reached.notify_one();
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

async fn append(store: &Arc<dyn EventStore>, category: &str, i: usize, n: usize) -> u64 {
    let events = (0..n)
        .map(|j| new_event("Made", json!({"i": i, "j": j})))
        .collect();
    store
        .append(AppendRequest::new(
            stream(&format!("{category}-{i}")),
            ExpectedVersion::Any,
            events,
        ))
        .await
        .unwrap()
        .last_position()
}

/// (rows, min applied, max applied) of one projector.
async fn rows(url: &str, projector: &str) -> (i64, i64, i64) {
    let q = |what: &str| {
        format!("SELECT COALESCE({what}, 0) FROM test_rows WHERE projector = '{projector}'")
    };
    (
        scalar_i64(url, &q("COUNT(*)")).await,
        scalar_i64(url, &q("MIN(applied)")).await,
        scalar_i64(url, &q("MAX(applied)")).await,
    )
}

async fn wait_checkpoint(runner: &ProjectionRunner, name: &str, position: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while runner.checkpoint(name).await.unwrap().position < position {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} did not reach {position}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The runner is killed while the second projector of a lane hangs inside the second batch: the
/// first projector had applied the whole batch in the same transaction, so neither commits it
/// (with one transaction per projector the first would have committed 1,000 rows).
async fn one_transaction(db: Arc<TestDb>) {
    let engine = db.engine().await;
    exec_sql(&db.url, TABLE).await.unwrap();
    let mut head = 0;
    for i in 0..120 {
        head = append(&engine.events, ["order", "card"][i % 2], i % 7, 10).await;
    }
    assert_eq!(head, 1_200);
    let reached = Arc::new(Notify::new());
    let first = Recorder::new("rec_first", ALL_CATEGORIES);
    let mut second = Recorder::new("rec_second", ALL_CATEGORIES);
    second.hang_at = Some(700);
    second.reached = reached.clone();
    let runner = Arc::new(
        ProjectionRunner::new(
            engine.read_models.clone(),
            engine.events.clone(),
            vec![Arc::new(first), Arc::new(second)],
        )
        .with_batch_size(500),
    );
    runner.prepare().await.unwrap();
    let mut tasks = runner.clone().spawn(CancellationToken::new());
    tokio::time::timeout(Duration::from_secs(20), reached.notified())
        .await
        .expect("second projector reached position 700");
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    drop(runner);

    for name in ["rec_first", "rec_second"] {
        assert_eq!(
            rows(&db.url, name).await,
            (500, 1, 1),
            "{name}: only the first batch committed"
        );
    }
    let restarted = ProjectionRunner::new(
        engine.read_models.clone(),
        engine.events.clone(),
        vec![
            Arc::new(Recorder::new("rec_first", ALL_CATEGORIES)),
            Arc::new(Recorder::new("rec_second", ALL_CATEGORIES)),
        ],
    );
    restarted.prepare().await.unwrap();
    for name in ["rec_first", "rec_second"] {
        assert_eq!(restarted.checkpoint(name).await.unwrap().position, 500);
    }
    assert_eq!(
        restarted
            .catch_up_together(&["rec_first", "rec_second"], |_, _| {})
            .await
            .unwrap(),
        1_200
    );
    for name in ["rec_first", "rec_second"] {
        assert_eq!(rows(&db.url, name).await, (1_200, 1, 1), "{name}");
    }
}

/// A projector of `gadget` streams fails on every event: after two failures the shared lane goes
/// on without it; the others' checkpoints and rows are exact, its own checkpoint stays before its
/// first event; a caller whose write is a `widget` event does not wait for it, one whose write is a
/// `gadget` event does; once it heals it applies each event exactly once.
async fn failing_isolated(db: Arc<TestDb>) {
    let engine = db.engine().await;
    exec_sql(&db.url, TABLE).await.unwrap();
    let gadgets = Recorder::new("rec_gadgets", &["gadget"]);
    let failing = gadgets.failing.clone();
    failing.store(true, Ordering::SeqCst);
    let runner = Arc::new(
        ProjectionRunner::new(
            engine.read_models.clone(),
            engine.events.clone(),
            vec![
                Arc::new(Recorder::new("rec_widgets", &["widget"])),
                Arc::new(gadgets),
                Arc::new(Recorder::new("rec_all", ALL_CATEGORIES)),
            ],
        )
        .with_isolation_after(2),
    );
    runner.prepare().await.unwrap();
    let status = runner.status();
    let token = CancellationToken::new();
    let mut tasks = runner.clone().spawn(token.clone());

    append(&engine.events, "widget", 1, 1).await;
    append(&engine.events, "gadget", 1, 1).await;
    let p3 = append(&engine.events, "widget", 2, 1).await;
    assert_eq!(p3, 3);
    wait_checkpoint(&runner, "rec_widgets", 3).await;
    wait_checkpoint(&runner, "rec_all", 3).await;
    assert!(
        runner.checkpoint("rec_gadgets").await.unwrap().position < 2,
        "the failing projector never moved past its event"
    );
    assert_eq!(rows(&db.url, "rec_widgets").await, (2, 1, 1));
    assert_eq!(rows(&db.url, "rec_all").await, (3, 1, 1));
    assert_eq!(rows(&db.url, "rec_gadgets").await, (0, 0, 0));

    // A widget write is answered without waiting for the failing gadget projector.
    let p4 = append(&engine.events, "widget", 3, 1).await;
    assert!(
        status.wait_for(p4, Duration::from_secs(10)).await,
        "a widget write waits only for the read models that apply it"
    );
    assert_eq!(rows(&db.url, "rec_widgets").await, (3, 1, 1));
    // A gadget write waits for the gadget projector, which is failing.
    let p5 = append(&engine.events, "gadget", 2, 1).await;
    assert!(
        !status.wait_for(p5, Duration::from_millis(300)).await,
        "a gadget write is not reported current while its projector fails"
    );

    failing.store(false, Ordering::SeqCst);
    assert!(status.wait_for(p5, Duration::from_secs(30)).await);
    wait_checkpoint(&runner, "rec_gadgets", p5).await;
    assert_eq!(rows(&db.url, "rec_gadgets").await, (2, 1, 1));
    assert_eq!(
        scalar_i64(
            &db.url,
            "SELECT COUNT(*) FROM test_rows WHERE projector = 'rec_gadgets' AND position IN (2, 5)"
        )
        .await,
        2
    );
    assert_eq!(rows(&db.url, "rec_all").await, (5, 1, 1));
    token.cancel();
    while tasks.join_next().await.is_some() {}
}

/// A lane far behind reads ever larger batches (a rebuild commits thousands of events at once);
/// rebuilding several projections together gives the rows following the log live gave.
async fn growing_batches(db: Arc<TestDb>) {
    let engine = db.engine().await;
    exec_sql(&db.url, TABLE).await.unwrap();
    let lane = || -> Vec<Arc<dyn Projector>> {
        vec![
            Arc::new(Recorder::new("rec_orders", &["order"])),
            Arc::new(Recorder::new("rec_all", ALL_CATEGORIES)),
        ]
    };
    let runner = ProjectionRunner::new(engine.read_models.clone(), engine.events.clone(), lane())
        .with_batch_sizes(4, 64);
    runner.prepare().await.unwrap();
    let mut head = 0;
    for i in 0..40 {
        head = append(&engine.events, ["order", "card"][i % 2], i, 10).await;
    }
    let mut steps = Vec::new();
    let mut last = 0;
    let reached = runner
        .catch_up_together(&["rec_orders", "rec_all"], |p, _| {
            steps.push(p - last);
            last = p;
        })
        .await
        .unwrap();
    assert_eq!(reached, head);
    assert_eq!(
        steps,
        [4, 8, 16, 32, 64, 64, 64, 64, 64, 20],
        "batches double up to the largest size"
    );
    let live_orders = rows(&db.url, "rec_orders").await;
    let live_all = rows(&db.url, "rec_all").await;
    assert_eq!(live_orders, (200, 1, 1));
    assert_eq!(live_all, (400, 1, 1));
    runner
        .rebuild_together(&["rec_orders", "rec_all"], |_, _| {})
        .await
        .unwrap();
    assert_eq!(rows(&db.url, "rec_orders").await, live_orders);
    assert_eq!(rows(&db.url, "rec_all").await, live_all);
    assert_eq!(
        runner.checkpoint("rec_orders").await.unwrap().position,
        head
    );
}
