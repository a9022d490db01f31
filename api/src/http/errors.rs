//! Failed requests are logged once, by middleware inside the request span (which carries the
//! method, path and request id), never by the code that renders the error. A document's error
//! renderer attaches what went wrong inside as an [`ErrorDetail`] response extension; the detail
//! goes to the log only, never to the client.
//!
//! Answers that no document's handler renders (no route, wrong method, a panic, axum's own
//! extractor rejections) are marked with an [`EdgeFailure`] and rendered by [`answer_edges`] in the
//! format of the document whose path was hit ([`DocumentEdges`]); the same middleware holds query
//! strings and paths to the text rule (docs/decisions/0013-errors-at-the-edges.md).

use axum::extract::{Query, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
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

/// A request no document's handler answered in its own format: the router found no route or no
/// such method, an extractor of axum refused it (plain text), or the handler panicked. The
/// [`answer_edges`] middleware renders it in the format of the document whose path was hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdgeFailure {
    /// 404: no route has this path.
    NoRoute,
    /// 405: the path exists, not with this method; `allow` lists the methods it has.
    MethodNotAllowed {
        /// The methods the path answers, as in the `Allow` header.
        allow: Vec<String>,
    },
    /// 400 (or 413/415/422): a request part refused before the handler ran. `field` is `path`,
    /// `query`, `body` or a query parameter's name.
    Rejected {
        /// The HTTP status to answer.
        status: StatusCode,
        /// The part of the request at fault.
        field: String,
        /// What is wrong, in the client's terms.
        reason: String,
    },
    /// 500: a handler panicked; the panic message is logged, never sent.
    Panic,
}

/// Renders an [`EdgeFailure`] for a request with this method and path in one document's format.
pub type EdgeRenderer = fn(&EdgeFailure, &Method, &str) -> Response;

/// Which document answers the edge failures of which paths. A document registers its path prefixes
/// once (`.document(&["/v1", "/hubs/tickets"], openticket::error::edge)`); paths under no prefix
/// get [`neutral_edge`].
#[derive(Clone)]
pub struct DocumentEdges {
    documents: Arc<Vec<(&'static [&'static str], EdgeRenderer)>>,
}

impl Default for DocumentEdges {
    fn default() -> Self {
        Self::new()
    }
}

impl DocumentEdges {
    /// No documents: every path gets the neutral format.
    pub fn new() -> Self {
        Self {
            documents: Arc::new(Vec::new()),
        }
    }

    /// Paths equal to one of `prefixes` or under it (`/v1` covers `/v1` and `/v1/…`, not `/v10`)
    /// are answered by `render`. Where prefixes nest, the longest one that matches wins, whatever
    /// the order of registration (`/api/courtesy` beats `/api`).
    pub fn document(mut self, prefixes: &'static [&'static str], render: EdgeRenderer) -> Self {
        Arc::make_mut(&mut self.documents).push((prefixes, render));
        self
    }

    /// The renderer for `path`.
    pub fn renderer(&self, path: &str) -> EdgeRenderer {
        self.documents
            .iter()
            .flat_map(|(prefixes, render)| prefixes.iter().map(move |p| (*p, *render)))
            .filter(|(p, _)| under(path, p))
            .max_by_key(|(p, _)| p.len())
            .map_or(neutral_edge as EdgeRenderer, |(_, render)| render)
    }
}

fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Router fallback: an empty 404 marked [`EdgeFailure::NoRoute`] for [`answer_edges`] to render.
pub async fn no_route() -> Response {
    let mut response = StatusCode::NOT_FOUND.into_response();
    response.extensions_mut().insert(EdgeFailure::NoRoute);
    response
}

/// Router fallback for a known path with another method: an empty 405 marked for [`answer_edges`]
/// (axum adds the `Allow` header, which the rendering keeps and lists).
pub async fn method_not_allowed() -> Response {
    let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
    response
        .extensions_mut()
        .insert(EdgeFailure::MethodNotAllowed { allow: Vec::new() });
    response
}

/// Middleware, just outside the panic catcher: refuse query strings and paths that break the text
/// rule ([`super::body::is_forbidden_char`]) before any handler sees them, and render marked
/// answers ([`no_route`], [`method_not_allowed`], [`super::panic::into_response`]) and axum's
/// plain-text extractor rejections in the format of the document whose path was hit.
pub async fn answer_edges(
    State(edges): State<DocumentEdges>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let render = edges.renderer(&path);
    if let Some(failure) = text_rule(request.uri()) {
        return render(&failure, &method, &path);
    }
    let response = next.run(request).await;
    let failure = match response.extensions().get::<EdgeFailure>() {
        Some(EdgeFailure::MethodNotAllowed { .. }) => Some(EdgeFailure::MethodNotAllowed {
            allow: response
                .headers()
                .get_all(header::ALLOW)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(|m| m.trim().to_owned())
                .filter(|m| !m.is_empty())
                .collect(),
        }),
        Some(other) => Some(other.clone()),
        None => rejection(&response),
    };
    let Some(failure) = failure else {
        return response;
    };
    let (parts, _) = response.into_parts();
    let mut rendered = render(&failure, &method, &path);
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        rendered.headers_mut().insert(header::ALLOW, allow.clone());
    }
    if let Some(detail) = parts.extensions.get::<ErrorDetail>() {
        rendered.extensions_mut().insert(detail.clone());
    }
    rendered
}

/// A query parameter (name or value, percent-decoded) or a path that breaks the text rule.
fn text_rule(uri: &axum::http::Uri) -> Option<EdgeFailure> {
    let refuse = |field: String| EdgeFailure::Rejected {
        status: StatusCode::BAD_REQUEST,
        field,
        reason: super::body::CONTROL_CHARACTER_REASON.to_owned(),
    };
    if has_encoded_control(uri.path()) {
        return Some(refuse("path".to_owned()));
    }
    if uri.query().is_some() {
        let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(uri) else {
            return Some(EdgeFailure::Rejected {
                status: StatusCode::BAD_REQUEST,
                field: "query".to_owned(),
                reason: "is not a valid query string".to_owned(),
            });
        };
        for (name, value) in pairs {
            if name
                .chars()
                .chain(value.chars())
                .any(super::body::is_forbidden_char)
            {
                return Some(refuse(name));
            }
        }
    }
    None
}

/// Whether a raw path carries a percent-encoded control character (`%00`–`%1F`, `%7F`, or a C1
/// character `%C2%80`–`%C2%9F`); raw control bytes never reach here (HTTP refuses them).
fn has_encoded_control(path: &str) -> bool {
    let bytes = path.as_bytes();
    let hex = |i: usize| -> Option<u8> {
        let text = std::str::from_utf8(bytes.get(i..i + 2)?).ok()?;
        u8::from_str_radix(text, 16).ok()
    };
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = hex(i + 1)
        {
            if b < 0x20 || b == 0x7f {
                return true;
            }
            if b == 0xc2
                && bytes.get(i + 3) == Some(&b'%')
                && hex(i + 4).is_some_and(|n| (0x80..=0x9f).contains(&n))
            {
                return true;
            }
        }
        i += 1;
    }
    false
}

/// axum's own extractor rejections answer plain text; say what was wrong in the client's terms.
fn rejection(response: &Response) -> Option<EdgeFailure> {
    let status = response.status();
    if !status.is_client_error() || response.extensions().get::<ErrorDetail>().is_some() {
        return None;
    }
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/plain"));
    if !plain {
        return None;
    }
    let (field, reason) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ("body", "is larger than this route accepts"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("body", "must be sent with `Content-Type: application/json`")
        }
        StatusCode::UNPROCESSABLE_ENTITY => ("body", "does not have the fields this route expects"),
        _ => (
            "path",
            "a path or query parameter is not valid text (percent-encoded bytes must form UTF-8)",
        ),
    };
    Some(EdgeFailure::Rejected {
        status,
        field: field.to_owned(),
        reason: reason.to_owned(),
    })
}

/// The neutral format, for paths no document owns (`/health`, `/audit`, `/docs`, unknown roots):
/// the engine routes' envelope `{"error": {"code", "message", "details"}, "meta": {"requestId",
/// "timestamp"}}` with codes `NOT_FOUND`, `METHOD_NOT_ALLOWED`, `VALIDATION_ERROR`,
/// `PAYLOAD_TOO_LARGE` and `INTERNAL_ERROR`.
pub fn neutral_edge(failure: &EdgeFailure, method: &Method, path: &str) -> Response {
    let (status, code, message, details) = match failure {
        EdgeFailure::NoRoute => (
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("no route {method} {path}"),
            json!({ "resource": "route", "path": path }),
        ),
        EdgeFailure::MethodNotAllowed { allow } => (
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            format!(
                "{path} does not answer {method}; it answers {}",
                allow.join(", ")
            ),
            json!({ "allow": allow }),
        ),
        EdgeFailure::Rejected {
            status,
            field,
            reason,
        } => (
            *status,
            if *status == StatusCode::PAYLOAD_TOO_LARGE {
                "PAYLOAD_TOO_LARGE"
            } else {
                "VALIDATION_ERROR"
            },
            format!("invalid `{field}`: {reason}"),
            json!({ "field": field, "reason": reason }),
        ),
        EdgeFailure::Panic => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "internal error".to_owned(),
            json!({}),
        ),
    };
    let body = json!({
        "error": { "code": code, "message": message, "details": details },
        "meta": {
            "requestId": super::request_id::current_request_id(),
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        },
    });
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod document_edges_tests {
    use super::*;
    use axum::http::StatusCode;

    fn teapot(_: &EdgeFailure, _: &Method, _: &str) -> Response {
        StatusCode::IM_A_TEAPOT.into_response()
    }

    fn gone(_: &EdgeFailure, _: &Method, _: &str) -> Response {
        StatusCode::GONE.into_response()
    }

    fn status(edges: &DocumentEdges, path: &str) -> StatusCode {
        edges.renderer(path)(&EdgeFailure::NoRoute, &Method::GET, path).status()
    }

    #[test]
    fn the_longest_matching_prefix_wins_whatever_the_order() {
        for edges in [
            DocumentEdges::new()
                .document(&["/api"], teapot)
                .document(&["/api/courtesy"], gone),
            DocumentEdges::new()
                .document(&["/api/courtesy"], gone)
                .document(&["/api"], teapot),
        ] {
            assert_eq!(status(&edges, "/api/products"), StatusCode::IM_A_TEAPOT);
            assert_eq!(status(&edges, "/api/courtesy/cards"), StatusCode::GONE);
            assert_eq!(status(&edges, "/api/courtesy"), StatusCode::GONE);
            assert_eq!(status(&edges, "/api/courtesyx"), StatusCode::IM_A_TEAPOT);
            assert_eq!(status(&edges, "/apix"), StatusCode::NOT_FOUND);
        }
    }
}
