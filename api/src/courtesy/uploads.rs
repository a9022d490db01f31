//! `POST /upload/avatar` (field `avater` as the seed spells it, or `avatar` as the iOS client
//! sends it), `POST /upload/banner` (`banner`), `POST /upload/card_res` (`res`): multipart,
//! signed in only (403), answered `{error: 0, id, time}`; and the files served back under
//! `/static`.

use super::error::{Answer, CourtesyApiError, answer};
use super::openapi::{AvatarForm, BannerForm, ResForm, UploadResult, tags};
use super::{Call, images, session_of};
use crate::http::{RequestId, read_your_writes};
use crate::startup::AppState;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tessera_domain::courtesy::account::ImageKind;

/// The first part named one of `names`: its bytes and declared content type. 402 naming the first
/// name when none; 422 when over `max` bytes; 400 for a broken multipart body.
async fn part(
    mut form: Multipart,
    names: &[&str],
    max: usize,
) -> Result<(Vec<u8>, Option<String>), CourtesyApiError> {
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => return Err(CourtesyApiError::Missing(names[0].into())),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(CourtesyApiError::ImageSize);
            }
            Err(_) => return Err(CourtesyApiError::BadRequest),
        };
        if !names.contains(&field.name().unwrap_or_default()) {
            continue;
        }
        let media = field.content_type().map(str::to_owned);
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(CourtesyApiError::ImageSize);
            }
            Err(_) => return Err(CourtesyApiError::BadRequest),
        };
        if bytes.len() > max || bytes.is_empty() {
            return Err(CourtesyApiError::ImageSize);
        }
        return Ok((bytes.to_vec(), media));
    }
}

fn call(rid: RequestId, headers: HeaderMap) -> Call {
    Call {
        rid,
        session: session_of(&headers),
        headers,
    }
}

async fn image(
    state: AppState,
    call: Call,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
    kind: ImageKind,
) -> Result<Answer, CourtesyApiError> {
    let user = call.user(&state).await?;
    let form = form.map_err(|_| CourtesyApiError::BadRequest)?;
    let (names, max): (&[&str], usize) = match kind {
        ImageKind::Avatar => (
            &["avater", "avatar"],
            state.server.courtesy_avatar_max_bytes,
        ),
        ImageKind::Banner => (&["banner"], state.server.courtesy_banner_max_bytes),
    };
    let (bytes, _) = part(form, names, max).await?;
    let input = tokio::task::spawn_blocking(move || images::prepare(kind, bytes))
        .await
        .map_err(|e| CourtesyApiError::Unavailable(e.to_string()))?
        .map_err(|reason| {
            tracing::info!(%reason, "courtesy: image refused");
            CourtesyApiError::ImageSize
        })?;
    let (id, position) = state
        .services
        .courtesy
        .upload_image(user, input, &call.rid.metadata(Some(user.to_string())))
        .await?;
    read_your_writes(&state, position).await;
    let mut a = Answer::new();
    a.insert("id".into(), json!(id));
    a.insert("time".into(), json!(super::error::unix_now()));
    Ok(a)
}

/// `POST /upload/avatar`.
#[utoipa::path(
    post,
    path = "/upload/avatar",
    operation_id = "courtesyUploadAvatar",
    tag = tags::UPLOADS,
    summary = "Upload an avatar (field `avater` or `avatar`)",
    request_body(content = AvatarForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Stored (`id`, served at `/static/avatar/{id}.png`, `_60.png`, `_150.png`, `_300.png`), or a refusal: 402 `avater` (no file), 403, 422 (not a square PNG/JPEG of 60–4096 px, or too large)", body = UploadResult),
    ),
    security(("sessionCookie" = [])),
)]
pub async fn avatar(
    State(state): State<AppState>,
    rid: RequestId,
    headers: HeaderMap,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    answer(image(state, call(rid, headers), form, ImageKind::Avatar).await)
}

/// `POST /upload/banner`.
#[utoipa::path(
    post,
    path = "/upload/banner",
    operation_id = "courtesyUploadBanner",
    tag = tags::UPLOADS,
    summary = "Upload a banner (field `banner`)",
    request_body(content = BannerForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Stored (`id`, served at `/static/banner/{id}.png` and `_750.png`), or a refusal: 402 `banner`, 403, 422 (not a landscape PNG/JPEG 320–4096 px wide and ≥ 100 px high, or too large)", body = UploadResult),
    ),
    security(("sessionCookie" = [])),
)]
pub async fn banner(
    State(state): State<AppState>,
    rid: RequestId,
    headers: HeaderMap,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    answer(image(state, call(rid, headers), form, ImageKind::Banner).await)
}

/// `POST /upload/card_res`: stored once per SHA-256 of its bytes.
#[utoipa::path(
    post,
    path = "/upload/card_res",
    operation_id = "courtesyUploadResource",
    tag = tags::UPLOADS,
    summary = "Upload a card resource (field `res`); the same bytes keep one id",
    request_body(content = ResForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Stored (`id`, served at `/static/res/{id}`; the same bytes answer the first upload's id), or a refusal: 402 `res`, 403, 422 (too large or empty)", body = UploadResult),
    ),
    security(("sessionCookie" = [])),
)]
pub async fn card_res(
    State(state): State<AppState>,
    rid: RequestId,
    headers: HeaderMap,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let call = call(rid, headers);
    let result = async {
        let user = call.user(&state).await?;
        let form = form.map_err(|_| CourtesyApiError::BadRequest)?;
        let (bytes, media) = part(form, &["res"], state.server.courtesy_res_max_bytes).await?;
        let media = media.unwrap_or_else(|| "application/octet-stream".into());
        let (id, _, position) = state
            .services
            .courtesy
            .upload_resource(
                user,
                &bytes,
                &media,
                &call.rid.metadata(Some(user.to_string())),
            )
            .await?;
        read_your_writes(&state, position).await;
        let mut a = Answer::new();
        a.insert("id".into(), json!(id));
        a.insert("time".into(), json!(super::error::unix_now()));
        Ok(a)
    }
    .await;
    answer(result)
}

async fn serve(state: &AppState, row: Option<tessera_projections::courtesy::FileRow>) -> Response {
    let Some(row) = row else {
        return answer(Err(CourtesyApiError::NotFound));
    };
    match state.services.courtesy.blobs().get(&row.sha256).await {
        Ok(Some(bytes)) => (
            [
                (header::CONTENT_TYPE, row.media_type),
                (
                    header::CACHE_CONTROL,
                    "public, max-age=31536000, immutable".to_owned(),
                ),
                // The media type is the uploader's word: browsers must not guess another.
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => answer(Err(CourtesyApiError::NotFound)),
        Err(e) => answer(Err(CourtesyApiError::Unavailable(e.to_string()))),
    }
}

async fn serve_image(state: &AppState, kind: &str, name: &str) -> Response {
    let split = name.find(['_', '.']).unwrap_or(name.len());
    let (id, suffix) = name.split_at(split);
    match state
        .services
        .courtesy_queries
        .image_file(kind, id, suffix)
        .await
    {
        Ok(row) => serve(state, row).await,
        Err(e) => answer(Err(e.into())),
    }
}

/// `GET /static/avatar/{id}{.png|_60.png|_150.png|_300.png}`.
#[utoipa::path(
    get,
    path = "/static/avatar/{name}",
    operation_id = "courtesyAvatarFile",
    tag = tags::FILES,
    summary = "An avatar: full size or 60, 150, 300 px (PNG)",
    params(("name" = String, Path, description = "`{id}.png` (full size), `{id}_60.png`, `{id}_150.png` or `{id}_300.png`")),
    responses(
        (status = 200, description = "The PNG; or, when nothing is stored under that name, `{\"error\": 404, \"timestamp\"}`", content(
            (Vec<u8> = "image/png"),
            (Vec<u8> = "image/jpeg"),
            (Vec<u8> = "application/octet-stream"),
            (super::openapi::ErrorAnswer = "application/json"),
        )),
    ),
)]
pub async fn serve_avatar(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    serve_image(&state, "avatar", &name).await
}

/// `GET /static/banner/{id}{.png|_750.png}`.
#[utoipa::path(
    get,
    path = "/static/banner/{name}",
    operation_id = "courtesyBannerFile",
    tag = tags::FILES,
    summary = "A banner: full size or 750 px wide (PNG)",
    params(("name" = String, Path, description = "`{id}.png` (full size) or `{id}_750.png`")),
    responses(
        (status = 200, description = "The PNG; or, when nothing is stored under that name, `{\"error\": 404, \"timestamp\"}`", content(
            (Vec<u8> = "image/png"),
            (Vec<u8> = "image/jpeg"),
            (Vec<u8> = "application/octet-stream"),
            (super::openapi::ErrorAnswer = "application/json"),
        )),
    ),
)]
pub async fn serve_banner(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    serve_image(&state, "banner", &name).await
}

/// `GET /static/res/{id}`: a card resource with the media type it was uploaded with.
#[utoipa::path(
    get,
    path = "/static/res/{id}",
    operation_id = "courtesyResourceFile",
    tag = tags::FILES,
    summary = "A card resource, with the media type it was uploaded with",
    params(("id" = String, Path, description = "The resource id `POST /upload/card_res` answered")),
    responses(
        (status = 200, description = "The bytes as uploaded; or, when nothing is stored under that name, `{\"error\": 404, \"timestamp\"}`", content(
            (Vec<u8> = "image/png"),
            (Vec<u8> = "image/jpeg"),
            (Vec<u8> = "application/octet-stream"),
            (super::openapi::ErrorAnswer = "application/json"),
        )),
    ),
)]
pub async fn serve_resource(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.services.courtesy_queries.resource_file(&id).await {
        Ok(row) => serve(&state, row).await,
        Err(e) => answer(Err(e.into())),
    }
}
