//! Operations metrics in the Prometheus text format (docs/operations.md lists every series).
//!
//! One process-wide recorder (the `metrics` facade with `metrics-exporter-prometheus`, installed on
//! first use; several servers in one process, as in tests, share it). [`track`] counts and times
//! every routed request by method, route template and status; the command runner records batch
//! sizes and append latency; the connection loop counts open connections; `GET /metrics` adds, at
//! scrape time, the log's head position, each projector's lag behind it, the deadlines not fired
//! yet, those overdue (due, not fired) and the age of the oldest of them, and the SignalR
//! connections, then renders everything.

use crate::startup::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

/// Histogram buckets for latencies, in seconds (1 ms to 10 s) and for batch sizes (1 to 1,024).
const BUCKETS: &[f64] = &[
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0,
    200.0, 500.0, 1024.0,
];

/// The process's recorder, installed on first call; `None` when another recorder was installed
/// first (then `/metrics` answers 503).
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets(BUCKETS).ok()?;
            match builder.install_recorder() {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics: no Prometheus recorder (another is installed)");
                    None
                }
            }
        })
        .as_ref()
}

/// Middleware for routed requests: `tessera_http_requests_total` and
/// `tessera_http_request_duration_seconds` by `method`, `route` (the route template, e.g.
/// `/v1/sessions/{sessionId}/seats/lock`) and `status`.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    if crate::telemetry::exporting() {
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        // The request span (startup's TraceLayer) knows the path; exported spans get the template.
        let span = tracing::Span::current();
        span.set_attribute("http.route", route.clone());
        span.set_attribute(
            "http.response.status_code",
            i64::from(response.status().as_u16()),
        );
    }
    let labels = [
        ("method", method),
        ("route", route),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!("tessera_http_requests_total", &labels).increment(1);
    metrics::histogram!("tessera_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: every series in the Prometheus text format (version 0.0.4).
pub async fn render(State(state): State<AppState>) -> Response {
    let Some(handle) = handle() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable\n",
        )
            .into_response();
    };
    match state.engine.events.head_position().await {
        Ok(head) => {
            metrics::gauge!("tessera_log_head_position").set(head as f64);
            for (name, position) in state.engine.runner.status().positions() {
                metrics::gauge!("tessera_projection_lag_events", "projector" => name)
                    .set(head.saturating_sub(position) as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read the log's head position"),
    }
    match state.engine.stores.deadlines.pending_count().await {
        Ok(pending) => metrics::gauge!("tessera_deadlines_pending").set(pending as f64),
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count the pending deadlines"),
    }
    let now = chrono::Utc::now();
    match state.engine.stores.deadlines.overdue(now).await {
        Ok(overdue) => {
            metrics::gauge!("tessera_deadlines_overdue").set(overdue.count as f64);
            let age = overdue.oldest_due_at.map_or(0.0, |due| {
                (now - due).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6
            });
            metrics::gauge!("tessera_deadlines_overdue_oldest_age_seconds").set(age.max(0.0));
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count the overdue deadlines"),
    }
    metrics::gauge!("tessera_hub_connections").set(state.services.live.hub.len() as f64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}
