//! The auditor's HTTP view of the event history, as CloudEvents 1.0 (same form as
//! `tessera events export`). Only for the `auditor` and `admin` roles (401 without a token, 403
//! with another role). `data` follows the field classes (docs/decisions/0007-field-classification.md):
//! personal fields opened (`"[erased]"` once erased), secret fields `"[secret]"`.
//!
//! - `GET /audit/streams/{streamId}/events` → `{"data": [CloudEvent…], "meta"}`; 404 `NOT_FOUND` for
//!   a stream with no events.
//! - `GET /audit/events?after=P&limit=N` → events with position > P (default 0), N of them (1–1000,
//!   default 100), `meta.nextAfter` = the last position returned (or P).

use crate::error::{ApiError, meta};
use crate::http::{RequestId, SignedIn};
use crate::startup::AppState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::collections::HashMap;
use tessera_domain::identity::Role;
use tessera_infrastructure::to_cloud_events;

/// Most events one `/audit/events` page returns.
pub const MAX_LIMIT: usize = 1_000;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/audit/streams/{stream_id}/events", get(stream_events))
        .route("/audit/events", get(all_events))
}

/// The caller of an audit route (401 `UNAUTHORIZED` without a valid bearer token).
type Caller = SignedIn<ApiError>;

/// The 403 answer unless the caller is an auditor or an admin.
fn refuse_unless_auditor(caller: &Caller) -> Option<Response> {
    (!caller.has(Role::Auditor)).then(|| {
        ApiError::Forbidden("the event history is for auditors and admins".into()).into_response()
    })
}

async fn stream_events(
    State(state): State<AppState>,
    request_id: RequestId,
    caller: Caller,
    Path(stream_id): Path<String>,
) -> Response {
    if let Some(refusal) = refuse_unless_auditor(&caller) {
        return refusal;
    }
    let events = match state.engine.stores.audit.read_raw_stream(&stream_id).await {
        Ok(events) if events.is_empty() => {
            return ApiError::NotFound(format!("stream {stream_id} has no events"))
                .into_response_with(&request_id.0);
        }
        Ok(events) => events,
        Err(e) => return ApiError::Unavailable(e.to_string()).into_response_with(&request_id.0),
    };
    match to_cloud_events(&state.engine.privacy, &events).await {
        Ok(data) => Json(json!({
            "data": data,
            "meta": meta(&request_id.0),
        }))
        .into_response(),
        Err(e) => ApiError::Unavailable(e.to_string()).into_response_with(&request_id.0),
    }
}

fn parse_param<T: std::str::FromStr>(
    params: &HashMap<String, String>,
    field: &'static str,
    default: T,
) -> Result<T, ApiError> {
    match params.get(field) {
        None => Ok(default),
        Some(raw) => raw.parse().map_err(|_| ApiError::Validation {
            field,
            message: format!("must be a non-negative integer, got {raw:?}"),
        }),
    }
}

async fn all_events(
    State(state): State<AppState>,
    request_id: RequestId,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refusal) = refuse_unless_auditor(&caller) {
        return refusal;
    }
    let parsed = parse_param::<u64>(&params, "after", 0).and_then(|after| {
        let limit = parse_param::<usize>(&params, "limit", 100)?;
        if limit == 0 || limit > MAX_LIMIT {
            return Err(ApiError::Validation {
                field: "limit",
                message: format!("must be between 1 and {MAX_LIMIT}"),
            });
        }
        Ok((after, limit))
    });
    let (after, limit) = match parsed {
        Ok(p) => p,
        Err(e) => return e.into_response_with(&request_id.0),
    };
    match state.engine.stores.audit.read_raw(after, limit).await {
        Ok(events) => {
            let next = events.last().map_or(after, |e| e.global_position);
            let mut m = meta(&request_id.0);
            m["nextAfter"] = json!(next);
            match to_cloud_events(&state.engine.privacy, &events).await {
                Ok(data) => Json(json!({ "data": data, "meta": m })).into_response(),
                Err(e) => ApiError::Unavailable(e.to_string()).into_response_with(&request_id.0),
            }
        }
        Err(e) => ApiError::Unavailable(e.to_string()).into_response_with(&request_id.0),
    }
}
