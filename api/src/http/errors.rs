//! Failed requests are logged once, by middleware inside the request span (which carries the
//! method, path and request id), never by the code that renders the error. A document's error
//! renderer attaches what went wrong inside as an [`ErrorDetail`] response extension; the detail
//! goes to the log only, never to the client.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

/// The internal reason of an error answer (database failure, upstream error …), for the log.
#[derive(Debug, Clone)]
pub struct ErrorDetail(pub Arc<str>);

impl ErrorDetail {
    /// Attach `detail` to `response` for [`log_errors`] to log.
    pub fn attach(response: &mut Response, detail: impl std::fmt::Display) {
        response
            .extensions_mut()
            .insert(ErrorDetail(detail.to_string().into()));
    }
}

/// Middleware: log 5xx answers at `error` (502/504 at `warn`: an upstream failed, not us) and 4xx at
/// `debug`, each with the [`ErrorDetail`] its renderer attached.
pub async fn log_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        let detail = response
            .extensions()
            .get::<ErrorDetail>()
            .map(|d| d.0.clone())
            .unwrap_or_else(|| Arc::from(""));
        let status = status.as_u16();
        match response.status() {
            StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT => {
                tracing::warn!(status, detail = %detail, "upstream failure")
            }
            s if s.is_server_error() => tracing::error!(status, detail = %detail, "request failed"),
            _ => tracing::debug!(status, detail = %detail, "request refused"),
        }
    }
    response
}
