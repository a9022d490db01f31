//! A panic inside a handler becomes an opaque 500 (logged), never a dropped connection.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::any::Any;

/// Build the 500 answer for a caught panic.
pub fn into_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(detail, "handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"error":{"code":"INTERNAL_ERROR","message":"internal error","details":{}}}"#,
    )
        .into_response()
}
