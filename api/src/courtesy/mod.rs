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
pub mod cards;
pub mod error;
pub mod images;
pub mod openapi;
pub mod resources;
pub mod sheet;
pub mod uploads;
pub mod views;

pub use error::{Answer, CourtesyApiError, answer};

use crate::config::ServerConfig;
use crate::http::RequestId;
use crate::http::errors::EdgeFailure;
use crate::startup::AppState;
use axum::body::{Body, HttpBody};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use openapi::{CourtesyAnswer, CourtesyRequest, tags};
use serde_json::Value;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

/// The session cookie's name: what the iOS client looks for (`sessionid`).
pub const SESSION_COOKIE: &str = "sessionid";

/// A private member of an [`Answer`] (`{value, until}`) that [`api`] turns into `Set-Cookie`
/// and removes from the body.
pub const SET_SESSION: &str = "__session";

/// Body size limits in bytes (`TESSERA_COURTESY_*_MAX_BYTES`): larger JSON bodies are answered
/// 400, larger files 422, in the seed's body format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `POST /api/courtesy` bodies.
    pub json: usize,
    /// Avatar files.
    pub avatar: usize,
    /// Banner files.
    pub banner: usize,
    /// Card resource files.
    pub res: usize,
}

impl Limits {
    /// The limits `server` configures.
    pub fn of(server: &ServerConfig) -> Self {
        Self {
            json: server.courtesy_json_max_bytes,
            avatar: server.courtesy_avatar_max_bytes,
            banner: server.courtesy_banner_max_bytes,
            res: server.courtesy_res_max_bytes,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::of(&ServerConfig::default())
    }
}

/// Multipart framing around an uploaded file (boundaries and part headers), allowed on top of its
/// limit so that a file of exactly the limit is accepted.
const MULTIPART_OVERHEAD: usize = 64 * 1024;

/// Every seed 001 route served so far, each registered with its OpenAPI operation.
pub fn router(limits: &Limits) -> OpenApiRouter<AppState> {
    let file = |max: usize| DefaultBodyLimit::max(max.saturating_add(MULTIPART_OVERHEAD));
    OpenApiRouter::default()
        // The action body is read by `api` itself, up to `limits.json` (see [`read_capped`]).
        .routes(routes!(api).layer(DefaultBodyLimit::disable()))
        .routes(routes!(uploads::avatar).layer(file(limits.avatar)))
        .routes(routes!(uploads::banner).layer(file(limits.banner)))
        .routes(routes!(uploads::card_res).layer(file(limits.res)))
        .routes(routes!(uploads::serve_avatar))
        .routes(routes!(uploads::serve_banner))
        .routes(routes!(uploads::serve_resource))
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

/// `POST /api/courtesy`: every action; see [`dispatch`].
#[utoipa::path(
    post,
    path = "/api/courtesy",
    operation_id = "courtesyAction",
    tag = tags::ACTIONS,
    summary = "Run one action (`user_register`, `user_login`, `user_logout`, `user_info`, `user_edit_profile`, `res_query`, `qr_query`, `card_create_query`, `card_create`, `card_query`, `card_edit`, `card_delete`, `news_query`)",
    description = "One endpoint for every action, chosen by the body's `action`. Always HTTP 200;         `error` 0 is success, anything else a refusal (malformed JSON 400, no `action` 402, an         unknown one 404). `user_login` sets the `sessionid` cookie; `user_logout`, `user_info`,         `user_edit_profile`, `card_create_query`, `card_create`, `card_edit` and `card_delete` need it (403 otherwise).",
    request_body = CourtesyRequest,
    responses(
        (status = 200, description = "Success (`error` 0) or a refusal (`error` ≥ 400)", body = CourtesyAnswer),
    ),
    security((), ("sessionCookie" = [])),
)]
async fn api(
    State(state): State<AppState>,
    rid: RequestId,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let call = Call {
        rid,
        session: session_of(&headers),
        headers,
    };
    let Some(body) = read_capped(body, state.server.courtesy_json_max_bytes).await else {
        return answer(Err(CourtesyApiError::BadRequest));
    };
    let mut result = match crate::http::body::parse_json::<Value>(&body) {
        Ok(Value::Object(map)) => dispatch(&state, &call, &Value::Object(map)).await,
        // A control character in a string: that field is invalid (401), named as the seed
        // names fields (its last segment: `nick`, not `profile.nick`).
        Err(crate::http::body::BodyError::Invalid { field, reason })
            if reason == crate::http::body::CONTROL_CHARACTER_REASON =>
        {
            let name = field.rsplit('.').next().unwrap_or(&field);
            Err(CourtesyApiError::Invalid(name.to_owned()))
        }
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
            let max_age = (until - error::unix_now()).max(0);
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

/// How much of an over-long action body is read and dropped before answering: the client (which
/// sends the whole body before reading) then gets the 400 instead of a reset connection. Past it
/// the answer is sent and the connection closed.
const DRAIN_MAX: usize = 64 * 1024 * 1024;

/// The whole body when it is at most `limit` bytes; `None` when it is longer (the rest read and
/// dropped, up to [`DRAIN_MAX`]) or cannot be read.
async fn read_capped(mut body: Body, limit: usize) -> Option<Vec<u8>> {
    let mut kept = Vec::new();
    let mut total = 0usize;
    loop {
        let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await;
        let Some(frame) = frame else {
            return (total <= limit).then_some(kept);
        };
        let Ok(data) = frame.ok()?.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total <= limit {
            kept.extend_from_slice(&data);
        } else {
            kept = Vec::new();
            if total > DRAIN_MAX {
                return None;
            }
        }
    }
}

/// The action table. One arm per action.
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
        "qr_query" => cards::qr_query(state, call, body).await,
        "card_create_query" => cards::create_query(state, call, body).await,
        "card_create" => cards::create(state, call, body).await,
        "card_query" => cards::query(state, call, body).await,
        "card_edit" => cards::edit(state, call, body).await,
        "card_delete" => cards::delete(state, call, body).await,
        "news_query" => cards::news(state, call, body).await,
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
