//! The OpenTicket response envelope (seed 003 §1.2): success is `{"data": …, "meta": {"requestId",
//! "timestamp"}}`; and its JSON body extractor, whose rejections are [`OtError`]s naming the field.

use super::error::OtError;
use crate::http::body;
use crate::http::request_id::current_request_id;
use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The `meta` block of every OpenTicket response: `requestId` (the `x-request-id` of the request)
/// and `timestamp` (RFC 3339, UTC, milliseconds).
pub fn meta() -> Value {
    crate::error::meta(&current_request_id())
}

/// A success response: `status` with `{"data": data, "meta": …}`.
pub fn ok<T: Serialize>(status: StatusCode, data: T) -> Response {
    (status, Json(json!({ "data": data, "meta": meta() }))).into_response()
}

/// A JSON request body (`Content-Type: application/json` required). Rejections are OpenTicket
/// `VALIDATION_ERROR`s naming the field serde stopped at (`seatIds[1]`), or `body` for malformed
/// JSON and a wrong content type; 413 over the route's limit.
#[derive(Debug, Clone)]
pub struct OtJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OtJson<T> {
    type Rejection = OtError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body::read(req, state, true).await?;
        Ok(OtJson(body::parse_json(&bytes)?))
    }
}
