//! How seed 002 answers what no handler of its own rendered (unknown path, wrong method, axum's
//! extractor rejections, a panic), in its error shape `{"message": "..."}`; registered for the
//! shop's paths (`/api`, `/weixin-login`, `/shop`) in `crate::startup::document_edges`.

use super::error::respond;
use crate::http::errors::EdgeFailure;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;

/// 404 `接口不存在: METHOD /path`; 405 naming the allowed methods (and the `Allow` header); 400
/// naming the refused part (413 for a body over the limit); 500 for a panic.
pub fn edge(failure: &EdgeFailure, method: &Method, path: &str) -> Response {
    match failure {
        EdgeFailure::NoRoute => respond(
            StatusCode::NOT_FOUND,
            format!("接口不存在: {method} {path}"),
        ),
        EdgeFailure::MethodNotAllowed { allow } => {
            let mut r = respond(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{path} 不支持 {method}，可用: {}", allow.join(", ")),
            );
            if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
                r.headers_mut().insert(header::ALLOW, v);
            }
            r
        }
        EdgeFailure::Rejected { status, .. } if *status == StatusCode::PAYLOAD_TOO_LARGE => {
            respond(*status, "请求内容过大")
        }
        EdgeFailure::Rejected { field, reason, .. } => {
            respond(StatusCode::BAD_REQUEST, format!("{field}: {reason}"))
        }
        EdgeFailure::Panic => respond(StatusCode::INTERNAL_SERVER_ERROR, "服务器内部错误"),
    }
}
