//! A panic inside a handler becomes an opaque 500 (logged once by [`super::errors::log_errors`]),
//! never a dropped connection. The answer is marked [`EdgeFailure::Panic`], so that
//! [`super::errors::answer_edges`] renders it in the format of the document whose path was hit; the
//! neutral body here is what a router without that middleware sends.

use super::errors::{EdgeFailure, ErrorDetail};
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
    let mut response = (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"error":{"code":"INTERNAL_ERROR","message":"internal error","details":{}}}"#,
    )
        .into_response();
    ErrorDetail::attach(&mut response, format!("handler panicked: {detail}"));
    response.extensions_mut().insert(EdgeFailure::Panic);
    response
}
