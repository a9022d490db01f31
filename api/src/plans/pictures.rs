//! Seed 004 `POST /auth/upload` (certification pictures: ID card photos, business licences) and
//! serving a picture back (not in the seed; docs/plans.md, "Certification pictures").
//!
//! - Upload: owners only (403 members, 404 non-members, 401 without a token); multipart field
//!   `auth_pic`, 1–[`MAX_FILES`] files, each at most `TESSERA_PLANS_UPLOAD_MAX_BYTES` (413
//!   `payload_too_large`, counted while reading, before anything is stored) and a PNG or JPEG
//!   image (format sniffed, width and height at most `TESSERA_PLANS_UPLOAD_MAX_SIDE` read from the
//!   header, then decoded; otherwise 400 naming `auth_pic[i]`). All files are checked before any
//!   is stored; the answer is the seed's `[{_id, url}]` (201).
//! - Serving: owners of the company and admins only; anyone else 404 (the pictures show ID
//!   documents). `Cache-Control: private, no-store`, `X-Content-Type-Options: nosniff`.

use super::error::{PlansApiError, PlansCaller};
use super::openapi::{ServiceUnavailable, Unauthorized, tags};
use crate::http::images;
use crate::http::{RequestId, read_your_writes};
use crate::startup::AppState;
use axum::Json;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::HashMap;
use tessera_application::plans::PictureFile;
use tessera_domain::plans::ObjectId;
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

/// Most files one upload carries (an application names at most 10 per list).
pub const MAX_FILES: usize = 10;

/// Routes of this module. The upload's body is not capped by the router: the handler counts each
/// file against `TESSERA_PLANS_UPLOAD_MAX_BYTES` while reading it.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(upload).layer(DefaultBodyLimit::disable()))
        .routes(routes!(picture))
}

/// One stored picture, as the seed answers it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UploadedPicture {
    /// The picture id (24 hex) to name in `idcard_photo` / `certificate_pic`.
    pub _id: String,
    /// Where the owner (or an admin) fetches it back, with the bearer token.
    pub url: String,
}

/// `POST /auth/upload`'s form.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthPicForm {
    /// One or several PNG or JPEG files (repeat the field), e.g. an ID card's two sides or a
    /// business licence.
    #[schema(value_type = Vec<String>, content_media_type = "application/octet-stream")]
    pub auth_pic: Vec<Vec<u8>>,
}

fn too_large(max: usize) -> PlansApiError {
    PlansApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("auth_pic: each picture may have at most {max} bytes"),
    )
}

fn broken(e: &MultipartError) -> PlansApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return PlansApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "request body too large",
        );
    }
    PlansApiError::field("body", format!("not a readable multipart form: {e}"))
}

/// The `auth_pic` files of `form`, each read up to `max` bytes (413 beyond, before the rest of
/// the body is read); any other field is a 400.
async fn read_files(mut form: Multipart, max: usize) -> Result<Vec<Vec<u8>>, PlansApiError> {
    let mut files = Vec::new();
    while let Some(mut field) = form.next_field().await.map_err(|e| broken(&e))? {
        if field.name() != Some("auth_pic") {
            return Err(PlansApiError::field(
                "body",
                "unexpected form field: send the pictures as `auth_pic` files",
            ));
        }
        if files.len() == MAX_FILES {
            return Err(PlansApiError::field(
                "auth_pic",
                format!("at most {MAX_FILES} pictures per upload"),
            ));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| broken(&e))? {
            if bytes.len() + chunk.len() > max {
                return Err(too_large(max));
            }
            bytes.extend_from_slice(&chunk);
        }
        files.push(bytes);
    }
    if files.is_empty() {
        return Err(PlansApiError::field(
            "auth_pic",
            "is required: one or more PNG or JPEG files",
        ));
    }
    Ok(files)
}

/// Check every file as a PNG or JPEG of at most `max_side` px each way, decoding it.
fn check_images(files: Vec<Vec<u8>>, max_side: u32) -> Result<Vec<PictureFile>, PlansApiError> {
    files
        .into_iter()
        .enumerate()
        .map(|(i, bytes)| {
            let field = format!("auth_pic[{i}]");
            let h = images::header(&bytes).map_err(|r| PlansApiError::field(&field, r))?;
            if h.width > max_side || h.height > max_side || h.width == 0 || h.height == 0 {
                return Err(PlansApiError::field(
                    &field,
                    format!(
                        "must be at most {max_side}×{max_side} px; got {}×{}",
                        h.width, h.height
                    ),
                ));
            }
            images::decode(&bytes, &h).map_err(|r| PlansApiError::field(&field, r))?;
            Ok(PictureFile {
                bytes,
                media_type: h.media_type.to_owned(),
            })
        })
        .collect()
}

fn url_of(state: &AppState, company: &ObjectId, picture: &ObjectId) -> String {
    format!(
        "{}/company/{company}/plan/auth/upload/{picture}",
        state.services.public_url
    )
}

/// Upload certification pictures (owners).
#[utoipa::path(
    post,
    path = "/company/{companyId}/plan/auth/upload",
    operation_id = "uploadCertificationPictures",
    tag = tags::CERTIFICATION,
    summary = "Upload certification pictures, field `auth_pic` (owners only)",
    security(("bearerAuth" = [])),
    params(
        ("companyId" = String, Path, description = "24-hex company id"),
        ("plan" = String, Query, description = "`pro` or `ent`"),
    ),
    request_body(content = AuthPicForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored, one entry per file in order", body = Vec<UploadedPicture>),
        (status = 400, description = "`plan` invalid; `auth_pic` missing or more than 10 files; `auth_pic[i]` not a PNG/JPEG image or too many pixels; `body` not a multipart form or another field. Nothing is stored", body = super::error::ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 404, response = super::openapi::NotFound),
        (status = 413, description = "A file over `TESSERA_PLANS_UPLOAD_MAX_BYTES`; nothing is stored", body = super::error::ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn upload(
    State(state): State<AppState>,
    rid: RequestId,
    c: PlansCaller,
    Path(company_id): Path<String>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<Vec<UploadedPicture>>), PlansApiError> {
    let m = state
        .services
        .plans
        .owner_membership(&company_id, c.user_id)
        .await?;
    let Query(q) = q.map_err(|e| PlansApiError::field("plan", e.body_text()))?;
    let plan = q
        .get("plan")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    if !matches!(plan.as_str(), "pro" | "ent") {
        return Err(PlansApiError::field(
            "plan",
            "is required (`?plan=pro` or `?plan=ent`)",
        ));
    }
    let form = form.map_err(|e| PlansApiError::field("body", e.body_text()))?;
    let cfg = &state.server.plans;
    let files = read_files(form, cfg.plans_upload_max_bytes).await?;
    let max_side = cfg.plans_upload_max_side;
    let files = tokio::task::spawn_blocking(move || check_images(files, max_side))
        .await
        .map_err(|e| PlansApiError::unavailable(e.to_string()))??;
    let (ids, position) = state
        .services
        .plans
        .upload_certification_pictures(
            &m,
            &plan,
            &files,
            &rid.metadata(Some(c.user_id.to_string())),
        )
        .await?;
    read_your_writes(&state, position).await;
    let answer = ids
        .iter()
        .map(|id| UploadedPicture {
            _id: id.to_string(),
            url: url_of(&state, &m.company_id, id),
        })
        .collect();
    Ok((StatusCode::CREATED, Json(answer)))
}

/// A certification picture (owners of the company and admins; anyone else 404).
#[utoipa::path(
    get,
    path = "/company/{companyId}/plan/auth/upload/{pictureId}",
    operation_id = "certificationPicture",
    tag = tags::CERTIFICATION,
    summary = "A certification picture (owners and admins; not in the seed)",
    security(("bearerAuth" = [])),
    params(
        ("companyId" = String, Path, description = "24-hex company id"),
        ("pictureId" = String, Path, description = "24-hex picture id as the upload answered"),
    ),
    responses(
        (status = 200, description = "The file as uploaded", content(
            (Vec<u8> = "image/png"),
            (Vec<u8> = "image/jpeg"),
        )),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such picture of this company, or the caller is neither an owner nor an admin", body = super::error::ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn picture(
    State(state): State<AppState>,
    c: PlansCaller,
    Path((company_id, picture_id)): Path<(String, String)>,
) -> Result<Response, PlansApiError> {
    let not_found = || PlansApiError::not_found("no such certification picture");
    let company = if c.is_admin() {
        ObjectId::parse(&company_id).map_err(|_| not_found())?
    } else {
        // Members who are not owners get the same 404 as strangers.
        state
            .services
            .plans
            .owner_membership(&company_id, c.user_id)
            .await
            .map_err(|e| match PlansApiError::from(e) {
                e if matches!(e.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND) => {
                    not_found()
                }
                e => e,
            })?
            .company_id
    };
    let picture_id = ObjectId::parse(&picture_id).map_err(|_| not_found())?;
    let (p, bytes) = state
        .services
        .plans
        .certification_picture(&company, &picture_id)
        .await?
        .ok_or_else(not_found)?;
    Ok((
        [
            (header::CONTENT_TYPE, p.media_type),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        bytes,
    )
        .into_response())
}
