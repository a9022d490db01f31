//! The seed's answer format: HTTP 200 and `{"error": code, "field"?, "timestamp", …}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tessera_application::courtesy::CourtesyError;

/// A success's members besides `error` (and `timestamp`, added unless the action names `time`).
pub type Answer = Map<String, Value>;

/// A refusal, by the seed's code table.
#[derive(Debug)]
pub enum CourtesyApiError {
    /// 400: the request as a whole (malformed JSON, not POST, over the size limit).
    BadRequest,
    /// 401 + field: invalid field or format.
    Invalid(String),
    /// 402 + field: missing field.
    Missing(String),
    /// 403: not signed in.
    Forbidden,
    /// 404: unknown action or nothing found.
    NotFound,
    /// 405 + field: conflict (a taken email).
    Conflict(String),
    /// 406: wrong email or password.
    WrongAccount,
    /// 407: banned account.
    Banned,
    /// 422: image size mismatch (dimensions, bytes or not an image).
    ImageSize,
    /// 424 + `qr_info`: the QR code already has a card.
    Recorded(Value),
    /// 425: no privilege on the card (not its author, or no longer editable).
    NoPrivilege,
    /// 426: the card is banned.
    CardBanned,
    /// 503: service error; the detail is logged, not sent.
    Unavailable(String),
}

impl From<CourtesyError> for CourtesyApiError {
    fn from(e: CourtesyError) -> Self {
        match e {
            CourtesyError::Field(f) => CourtesyApiError::Invalid(f.field),
            CourtesyError::EmailTaken => CourtesyApiError::Conflict("email".into()),
            CourtesyError::InvalidCredentials => CourtesyApiError::WrongAccount,
            CourtesyError::Banned => CourtesyApiError::Banned,
            CourtesyError::NotSignedIn => CourtesyApiError::Forbidden,
            CourtesyError::NotFound => CourtesyApiError::NotFound,
            CourtesyError::ImageRefused(_) => CourtesyApiError::ImageSize,
            CourtesyError::Conflict(f) => CourtesyApiError::Conflict(f.into()),
            CourtesyError::QrRecorded(info) => {
                CourtesyApiError::Recorded(json!(super::views::QrInfoView::new(&info)))
            }
            CourtesyError::NoPrivilege => CourtesyApiError::NoPrivilege,
            CourtesyError::CardBanned => CourtesyApiError::CardBanned,
            other => CourtesyApiError::Unavailable(other.to_string()),
        }
    }
}

impl From<tessera_projections::QueryError> for CourtesyApiError {
    fn from(e: tessera_projections::QueryError) -> Self {
        CourtesyApiError::Unavailable(e.to_string())
    }
}

/// Now in Unix seconds: the seed's `timestamp` and `time` fields.
pub(super) fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Render `result` as the seed's HTTP 200 body.
pub fn answer(result: Result<Answer, CourtesyApiError>) -> Response {
    let body = match result {
        Ok(mut map) => {
            map.insert("error".into(), json!(0));
            if !map.contains_key("time") {
                map.insert("timestamp".into(), json!(unix_now()));
            }
            Value::Object(map)
        }
        Err(e) => {
            let mut map = Map::new();
            let (code, field) = match &e {
                CourtesyApiError::BadRequest => (400, None),
                CourtesyApiError::Invalid(f) => (401, Some(f.clone())),
                CourtesyApiError::Missing(f) => (402, Some(f.clone())),
                CourtesyApiError::Forbidden => (403, None),
                CourtesyApiError::NotFound => (404, None),
                CourtesyApiError::Conflict(f) => (405, Some(f.clone())),
                CourtesyApiError::WrongAccount => (406, None),
                CourtesyApiError::Banned => (407, None),
                CourtesyApiError::ImageSize => (422, None),
                CourtesyApiError::Recorded(info) => {
                    map.insert("qr_info".into(), info.clone());
                    (424, None)
                }
                CourtesyApiError::NoPrivilege => (425, None),
                CourtesyApiError::CardBanned => (426, None),
                CourtesyApiError::Unavailable(detail) => {
                    tracing::error!(error = %detail, "courtesy: service error");
                    (503, None)
                }
            };
            map.insert("error".into(), json!(code));
            if let Some(f) = field {
                map.insert("field".into(), json!(f));
            }
            map.insert("timestamp".into(), json!(unix_now()));
            Value::Object(map)
        }
    };
    (StatusCode::OK, Json(body)).into_response()
}

/// The string member `name` of `obj`: 402 when absent or null, 401 when not a string.
///
/// Errors: as above, naming `name`.
pub fn string<'a>(obj: &'a Value, name: &str) -> Result<&'a str, CourtesyApiError> {
    match obj.get(name) {
        None | Some(Value::Null) => Err(CourtesyApiError::Missing(name.into())),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(CourtesyApiError::Invalid(name.into())),
    }
}

/// The object member `name` of `obj`: 402 when absent or null, 401 when not an object.
///
/// Errors: as above, naming `name`.
pub fn object<'a>(obj: &'a Value, name: &str) -> Result<&'a Value, CourtesyApiError> {
    match obj.get(name) {
        None | Some(Value::Null) => Err(CourtesyApiError::Missing(name.into())),
        Some(v @ Value::Object(_)) => Ok(v),
        Some(_) => Err(CourtesyApiError::Invalid(name.into())),
    }
}
