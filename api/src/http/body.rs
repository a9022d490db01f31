//! Reading JSON request bodies with errors that name the field at fault as a JSON path
//! (`seatIds[1]`, `items[0].ticketPrice`), for every document to word in its own format.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Not sent as JSON (`Content-Type` other than `application/json` or `*+json`), where the
    /// document requires it.
    #[error("expected a JSON body with `Content-Type: application/json`")]
    NotJson,
    /// Over the route's body limit (413).
    #[error("request body too large")]
    TooLarge,
    /// The body could not be read (the client went away, a bad transfer encoding …).
    #[error("{0}")]
    Unreadable(String),
    /// The JSON is malformed, or a field is missing or of the wrong type. `field` is the JSON path
    /// (`body` when no field can be named, e.g. a syntax error at the top).
    #[error("{field}: {reason}")]
    Invalid {
        /// JSON path of the field, as the client named it.
        field: String,
        /// What is wrong, in serde's words (`malformed JSON: …` for syntax errors).
        reason: String,
    },
}

/// Whether the request declares a JSON body.
pub fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct.to_ascii_lowercase();
            ct.starts_with("application/json") || ct.contains("+json")
        })
}

/// The raw body of `req`, within the route's `DefaultBodyLimit`; with `require_json`, a request not
/// declaring JSON is refused first.
pub async fn read<S: Send + Sync>(
    req: Request,
    state: &S,
    require_json: bool,
) -> Result<Bytes, BodyError> {
    if require_json && !is_json(&req) {
        return Err(BodyError::NotJson);
    }
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            BodyError::TooLarge
        } else {
            BodyError::Unreadable(e.body_text())
        }
    })
}

/// Deserialize `bytes` as `T`, naming the field at fault.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        // serde reports a missing field at its parent's path; name the field itself.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        let parent = if path.is_empty() || path == "." || path == "?" {
            None
        } else {
            Some(path)
        };
        let field = match (parent, missing) {
            (Some(p), Some(m)) => format!("{p}.{m}"),
            (None, Some(m)) => m.to_owned(),
            (Some(p), None) => p,
            (None, None) => "body".to_owned(),
        };
        let reason = match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                format!("malformed JSON: {inner}")
            }
            _ => message,
        };
        BodyError::Invalid { field, reason }
    })
}
