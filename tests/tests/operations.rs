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
