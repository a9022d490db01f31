//! How the plans document answers what no handler of its own rendered (unknown path, wrong
//! method, axum's extractor rejections, a panic), in its error shape; registered for `/company`,
//! `/plans` and `/admin/plans` in `crate::startup::document_edges`.

use super::error::PlansApiError;
use crate::http::errors::EdgeFailure;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// 404 `not_found` naming the method and path; 405 `method_not_allowed` naming the allowed
/// methods (and the `Allow` header); 400 `invalid_field` naming the refused part (413
/// `payload_too_large`); 500 `internal` for a panic.
pub fn edge(failure: &EdgeFailure, method: &Method, path: &str) -> Response {
    match failure {
        EdgeFailure::NoRoute => {
            PlansApiError::not_found(format!("no such route: {method} {path}")).into_response()
        }
        EdgeFailure::MethodNotAllowed { allow } => {
            let mut r = PlansApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!(
                    "{path} does not answer {method}; it answers {}",
                    allow.join(", ")
                ),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
                r.headers_mut().insert(header::ALLOW, v);
            }
            r
        }
        EdgeFailure::Rejected { status, .. } if *status == StatusCode::PAYLOAD_TOO_LARGE => {
            PlansApiError::new(*status, "payload_too_large", "request body too large")
                .into_response()
        }
        EdgeFailure::Rejected { field, reason, .. } => {
            PlansApiError::field(field.clone(), reason).into_response()
        }
        EdgeFailure::Panic => PlansApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
        .into_response(),
    }
}
