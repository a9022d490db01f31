//! The Courtesy API (seed 001, `../shared/seeds/001_da8a8163d42fbecd.txt`): one endpoint
//! `POST /api/courtesy` dispatching on `action`, multipart uploads under `/upload`, and the
//! uploaded files under `/static`. EVERY answer is HTTP 200 with the seed's body
//! `{"error": <code>, "field"?: …, "timestamp": <unix s>, …}` — the iOS client (JSONModel's
//! `JSONHTTPClient`) treats any other status as a transport failure. docs/courtesy.md lists every
//! action, field and code.
//!
//! Adding an action is one arm in [`dispatch`] and one handler file taking
//! `(&AppState, &Call, &Value)` and returning [`Answer`].

pub mod accounts;
pub mod error;
pub mod images;
pub mod resources;
pub mod uploads;

pub use error::{Answer, CourtesyApiError, answer};

use crate::http::RequestId;
use crate::http::errors::EdgeFailure;
use crate::startup::AppState;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;

/// The session cookie's name: what the iOS client looks for (`sessionid`).
pub const SESSION_COOKIE: &str = "sessionid";

/// A private member of an [`Answer`] (`{value, until}`) that [`api`] turns into `Set-Cookie`
/// and removes from the body.
pub const SET_SESSION: &str = "__session";

/// Every seed 001 route served so far.
pub fn router(state: &AppState) -> OpenApiRouter<AppState> {
    let s = &state.server;
    // Multipart framing around the file: boundaries and part headers.
    let overhead = 64 * 1024;
    OpenApiRouter::default()
        .route(
            "/api/courtesy",
            post(api).layer(DefaultBodyLimit::max(s.courtesy_json_max_bytes)),
        )
        .route(
            "/upload/avatar",
            post(uploads::avatar).layer(DefaultBodyLimit::max(
                s.courtesy_avatar_max_bytes + overhead,
            )),
        )
        .route(
            "/upload/banner",
            post(uploads::banner).layer(DefaultBodyLimit::max(
                s.courtesy_banner_max_bytes + overhead,
            )),
        )
        .route(
            "/upload/card_res",
            post(uploads::card_res)
                .layer(DefaultBodyLimit::max(s.courtesy_res_max_bytes + overhead)),
        )
        .route("/static/avatar/{name}", get(uploads::serve_avatar))
        .route("/static/banner/{name}", get(uploads::serve_banner))
        .route("/static/res/{id}", get(uploads::serve_resource))
}

/// Who is calling: the request id and, when the `sessionid` cookie names a live session, the
/// identity user.
pub struct Call {
    /// For event metadata.
    pub rid: RequestId,
    /// The session cookie's value, if sent.
    pub session: Option<String>,
    /// The request's headers.
    pub headers: HeaderMap,
}

impl Call {
    /// The signed-in user, or 403.
    ///
    /// Errors: 403 without a live session; 503 when the store cannot be read.
    pub async fn user(&self, state: &AppState) -> Result<tessera_domain::UserId, CourtesyApiError> {
        let session = self.session.as_deref().ok_or(CourtesyApiError::Forbidden)?;
        Ok(state.services.courtesy.authorize(session).await?)
    }
}

/// The `sessionid` cookie of `headers`.
pub fn session_of(headers: &HeaderMap) -> Option<String> {
    axum_extra::extract::cookie::CookieJar::from_headers(headers)
        .get(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// `POST /api/courtesy`.
async fn api(
    State(state): State<AppState>,
    rid: RequestId,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = Call {
        rid,
        session: session_of(&headers),
        headers,
    };
    let mut result = match crate::http::body::parse_json::<Value>(&body) {
        Ok(Value::Object(map)) => dispatch(&state, &call, &Value::Object(map)).await,
        // Malformed JSON, or JSON that is not an object: the request as a whole is bad.
        Ok(_) | Err(_) => Err(CourtesyApiError::BadRequest),
    };
    let cookie = result
        .as_mut()
        .ok()
        .and_then(|a| a.remove(SET_SESSION))
        .and_then(|c| {
            let value = c.get("value")?.as_str()?.to_owned();
            let until = c.get("until")?.as_i64()?;
            let max_age = (until - chrono::Utc::now().timestamp()).max(0);
            let secure = if state.server.is_production() { "; Secure" } else { "" };
            axum::http::HeaderValue::from_str(&format!(
                "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
            ))
            .ok()
        });
    let mut response = answer(result);
    if let Some(cookie) = cookie {
        response
            .headers_mut()
            .insert(axum::http::header::SET_COOKIE, cookie);
    }
    response
}

/// The action table. One arm per action; part 2 adds QR codes, cards and news here.
async fn dispatch(state: &AppState, call: &Call, body: &Value) -> Result<Answer, CourtesyApiError> {
    let action = match body.get("action") {
        None | Some(Value::Null) => return Err(CourtesyApiError::Missing("action".into())),
        Some(Value::String(a)) => a.as_str(),
        Some(_) => return Err(CourtesyApiError::Invalid("action".into())),
    };
    match action {
        "user_register" => accounts::register(state, call, body).await,
        "user_login" => accounts::login(state, call, body).await,
        "user_logout" => accounts::logout(state, call, body).await,
        "user_info" => accounts::info(state, call, body).await,
        "user_edit_profile" => accounts::edit_profile(state, call, body).await,
        "res_query" => resources::query(state, call, body).await,
        _ => Err(CourtesyApiError::NotFound),
    }
}

/// The seed's answer to what no handler rendered, always HTTP 200: an unknown path 404; another
/// method than the route's (a GET on `/api/courtesy`) 400 ("Bad Request (e.g. Not POST)"); a body
/// over the limit 422 on `/upload/…` (a file too large) and 400 elsewhere; other refusals 400; a
/// panic 503.
pub fn edge(failure: &EdgeFailure, _method: &Method, path: &str) -> Response {
    let error = match failure {
        EdgeFailure::NoRoute => CourtesyApiError::NotFound,
        EdgeFailure::MethodNotAllowed { .. } => CourtesyApiError::BadRequest,
        EdgeFailure::Rejected { status, .. }
            if *status == axum::http::StatusCode::PAYLOAD_TOO_LARGE
                && path.starts_with("/upload") =>
        {
            CourtesyApiError::ImageSize
        }
        EdgeFailure::Rejected { .. } => CourtesyApiError::BadRequest,
        EdgeFailure::Panic => CourtesyApiError::Unavailable("panic".into()),
    };
    answer(Err(error))
}
