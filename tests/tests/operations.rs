//! `GET /metrics` (docs/operations.md) over real HTTP, on SQLite and PostgreSQL: the Prometheus
//! text format with request counts and latencies by route template and status, the command
//! runner's batch sizes and append latency, the log's head and each projector's lag.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use std::sync::Arc;
use tessera_tests::http::TestServer;
use tessera_tests::{Suite, TestDb};

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("metrics_in_prometheus_text", metrics_text)
        .case("deadline_backlog_metrics", deadline_backlog)
        .run()
}

async fn metrics_text(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    assert_eq!(t.get("/health", None).await.status, 200);
    let (_, owner) = t.customer("metrics-owner@example.com").await;
    let r = t
        .post("/company", Some(&owner), json!({"name": "Metrics Co"}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let company = r.body["_id"].as_str().unwrap().to_owned();
    assert_eq!(
        t.get(&format!("/company/{company}/plan/status"), Some(&owner))
            .await
            .status,
        200
    );

    let response = t
        .http
        .get(format!("{}/metrics", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();
    for wanted in [
        // Routes by template, not by the ids in the path.
        r#"tessera_http_requests_total{method="GET",route="/health",status="200"}"#,
        r#"tessera_http_requests_total{method="GET",route="/company/{companyId}/plan/status",status="200"}"#,
        r#"tessera_http_request_duration_seconds_bucket{method="POST",route="/company",status="201",le="#,
        "tessera_batch_commands_bucket",
        // Sign-in commits through the runner's batches (the token family stream).
        r#"tessera_append_seconds_count{category="refreshFamily",outcome="committed"}"#,
        "tessera_batch_events_bucket",
        "tessera_log_head_position ",
        r#"tessera_projection_lag_events{projector="plans_companies"}"#,
        "tessera_deadlines_pending ",
        "tessera_hub_connections 0",
        "tessera_http_connections ",
        "tessera_http_connections_accepted_total ",
    ] {
        assert!(text.contains(wanted), "{wanted} missing from:\n{text}");
    }
    assert!(!text.contains(&company), "ids never become labels");
    t.stop().await;
}

/// The value of an unlabelled series in Prometheus text, e.g. `tessera_deadlines_overdue 1`.
fn series_value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// A deadline due an hour ago whose kind has no handler never fires (the scheduler retries it with
/// back-off): the store reports it overdue with its due time, and `/metrics` shows the backlog and
/// the age of its oldest deadline; a deadline due in the future is pending but not overdue.
async fn deadline_backlog(db: Arc<TestDb>) {
    use chrono::{Duration, SubsecRound, Utc};
    use tessera_application::{AppendRequest, ExpectedVersion, NewDeadline};

    let t = TestServer::start(&db).await;
    let now = Utc::now().trunc_subsecs(6);
    let due = now - Duration::hours(1);
    let deadline = |due_at| NewDeadline {
        deadline_id: uuid::Uuid::now_v7(),
        kind: "test-without-handler".into(),
        due_at,
        payload: json!({}),
    };
    let mut append = AppendRequest::new(
        tessera_tests::stream("opsProbe-1"),
        ExpectedVersion::NoStream,
        vec![tessera_tests::new_event("OpsProbeHappened", json!({}))],
    );
    append.deadlines = vec![deadline(due), deadline(now + Duration::hours(1))];
    t.server.engine.events.append(append).await.unwrap();

    let overdue = t.server.engine.stores.deadlines.overdue(now).await.unwrap();
    assert_eq!(overdue.count, 1, "{overdue:?}");
    assert_eq!(overdue.oldest_due_at, Some(due));
    assert_eq!(
        t.server
            .engine
            .stores
            .deadlines
            .pending_count()
            .await
            .unwrap(),
        2
    );

    // The gauges are process-wide and other cases' scrapes set them too: look until one scrape
    // renders this server's figures (a bounded number of scrapes, no clock).
    let mut seen = Vec::new();
    for _ in 0..50 {
        let text = t
            .http
            .get(format!("{}/metrics", t.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let overdue = series_value(&text, "tessera_deadlines_overdue");
        let age = series_value(&text, "tessera_deadlines_overdue_oldest_age_seconds");
        if overdue == Some(1.0) && age.is_some_and(|a| (3_600.0..4_200.0).contains(&a)) {
            t.stop().await;
            return;
        }
        seen.push((overdue, age));
    }
    panic!("no scrape showed 1 overdue deadline about an hour old: {seen:?}");
}
