//! How seed 000 answers what no handler of its own rendered (unknown path, wrong method, axum's
//! extractor rejections, a panic), in its error shape `{type, message, payload, errors}`; registered
//! for the document's root paths in `crate::startup::document_edges`.

use super::views::ErrorBody;
use crate::http::errors::EdgeFailure;
use axum::Json;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// 404 'Not Found' with `errors: {"route": "METHOD /path"}`; 405 'Method Not Allowed' with
/// `errors: {"allow": [...]}` (and the `Allow` header); 400 'Validation Error' naming the refused
/// part in `errors` (413 'Payload Too Large'); 500 'Internal Server Error' for a panic.
pub fn edge(failure: &EdgeFailure, method: &Method, path: &str) -> Response {
    let (status, kind, message, errors) = match failure {
        EdgeFailure::NoRoute => (
            StatusCode::NOT_FOUND,
            "Not Found",
            format!("接口不存在: {method} {path}"),
            json!({ "route": format!("{method} {path}") }),
        ),
        EdgeFailure::MethodNotAllowed { allow } => (
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed",
            format!("{path} 不支持 {method}，可用: {}", allow.join(", ")),
            json!({ "allow": allow }),
        ),
        EdgeFailure::Rejected { status, .. } if *status == StatusCode::PAYLOAD_TOO_LARGE => (
            *status,
            "Payload Too Large",
            "请求内容过大".to_owned(),
            Value::Null,
        ),
        EdgeFailure::Rejected { field, reason, .. } => (
            StatusCode::BAD_REQUEST,
            "Validation Error",
            "提交的信息有误".to_owned(),
            json!({ field.as_str(): reason }),
        ),
        EdgeFailure::Panic => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            "服务器内部错误".to_owned(),
            Value::Null,
        ),
    };
    let body = ErrorBody {
        errors,
        message,
        payload: Value::Null,
        kind: kind.into(),
    };
    (status, Json(body)).into_response()
}
