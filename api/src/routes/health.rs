//! `GET /health` (the process is up) and `GET /ready` (the store answers and every projection is
//! within `TESSERA_READY_MAX_LAG` events of the log head).

use crate::startup::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
}

/// 200 `{"status": "ok"}` while the process serves requests.
async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// 200 `{"status": "ready", "head", "projections": {name: position}}`, or 503 with
/// `"status": "not_ready"` and `reasons` when the store is unreachable or a projection lags.
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let mut reasons = Vec::new();
    if let Err(e) = state.engine.database.ping().await {
        tracing::warn!(error = %e, "readiness: database unreachable");
        reasons.push("event store unreachable".to_owned());
    }
    let head = match state.engine.events.head_position().await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "readiness: cannot read head");
            reasons.push("cannot read the log head".to_owned());
            0
        }
    };
    let positions = state.engine.runner.status().positions();
    for (name, position) in &positions {
        let lag = head.saturating_sub(*position);
        if lag > state.server.ready_max_lag {
            reasons.push(format!("projection {name} is {lag} events behind"));
        }
    }
    let body = json!({
        "status": if reasons.is_empty() { "ready" } else { "not_ready" },
        "head": head,
        "projections": positions,
        "reasons": reasons,
    });
    let status = if reasons.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
