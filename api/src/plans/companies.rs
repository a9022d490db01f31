//! Companies and members (not in seed 004; docs/plans.md, "Companies"): `POST /company`,
//! `GET /company/:companyId`, `GET|POST /company/:companyId/members`,
//! `DELETE /company/:companyId/members/:userId`. A non-member gets 404 on every route, a member
//! 403 on the owner-only writes.

use super::error::{ErrorBody, PlansApiError, PlansCaller, PlansJson, required_text};
use super::openapi::{Forbidden, NotFound, ServiceUnavailable, Unauthorized, tags};
use super::views::{CompanyView, MemberView};
use crate::http::{RequestId, accepted, idempotent, read_after_write, read_your_writes};
use crate::startup::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(idempotent::<PlansApiError>(routes!(create)))
        .routes(routes!(detail))
        .routes(idempotent::<PlansApiError>(routes!(members, add_member)))
        .routes(routes!(remove_member))
}

/// The body of `POST /company`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct CompanyBody {
    /// 1–100 characters.
    name: String,
}

/// What was created, when it is committed but not readable yet (202).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedId {
    /// The new id.
    pub _id: String,
}

/// Create a company; the caller becomes its owner.
#[utoipa::path(
    post,
    path = "/company",
    operation_id = "createCompany",
    tag = tags::COMPANIES,
    summary = "Create a company (the caller becomes its owner)",
    security(("bearerAuth" = [])),
    request_body = CompanyBody,
    responses(
        (status = 201, description = "The new company", body = CompanyView),
        (status = 202, description = "Committed, not readable yet: read it at `Location`", body = CreatedId),
        (status = 400, description = "`name` missing or invalid", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn create(
    State(state): State<AppState>,
    rid: RequestId,
    c: PlansCaller,
    PlansJson(body): PlansJson,
) -> Result<Response, PlansApiError> {
    let name = required_text(&body, "name")?;
    let (company_id, _, position) = state
        .services
        .plans
        .create_company(c.user_id, &name, &rid.metadata(Some(c.user_id.to_string())))
        .await?;
    let id = company_id.to_string();
    let read = state.services.plans_queries.company(&id);
    Ok(match read_after_write(&state, position, read).await {
        Some(row) => (StatusCode::CREATED, Json(CompanyView::from(row))).into_response(),
        None => accepted(
            Json(CreatedId { _id: id.clone() }).into_response(),
            &format!("/company/{id}"),
        ),
    })
}

/// A company the caller is a member of.
#[utoipa::path(
    get,
    path = "/company/{companyId}",
    operation_id = "getCompany",
    tag = tags::COMPANIES,
    summary = "A company (members only)",
    security(("bearerAuth" = [])),
    params(("companyId" = String, Path, description = "24-hex company id")),
    responses(
        (status = 200, description = "The company", body = CompanyView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn detail(
    State(state): State<AppState>,
    c: PlansCaller,
    Path(company_id): Path<String>,
) -> Result<Json<CompanyView>, PlansApiError> {
    let m = state
        .services
        .plans
        .membership(&company_id, c.user_id)
        .await?;
    let row = state
        .services
        .plans_queries
        .company(m.company_id.as_str())
        .await?
        .ok_or_else(|| PlansApiError::not_found("no such company (or you are not a member)"))?;
    Ok(Json(row.into()))
}

/// The members of a company (members only).
#[utoipa::path(
    get,
    path = "/company/{companyId}/members",
    operation_id = "listMembers",
    tag = tags::COMPANIES,
    summary = "Members (members only)",
    security(("bearerAuth" = [])),
    params(("companyId" = String, Path, description = "24-hex company id")),
    responses(
        (status = 200, description = "Every member, by join time", body = Vec<MemberView>),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn members(
    State(state): State<AppState>,
    c: PlansCaller,
    Path(company_id): Path<String>,
) -> Result<Json<Vec<MemberView>>, PlansApiError> {
    let m = state
        .services
        .plans
        .membership(&company_id, c.user_id)
        .await?;
    let rows = state
        .services
        .plans_queries
        .members(m.company_id.as_str())
        .await?;
    Ok(Json(rows.into_iter().map(MemberView::from).collect()))
}

/// The body of `POST /company/:companyId/members`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct MemberBody {
    /// The email of a registered user (the shared identity).
    email: String,
    /// `member` or `owner`.
    role: String,
}

/// Add a registered user as a member or owner (owners only), within the plan's member limit.
#[utoipa::path(
    post,
    path = "/company/{companyId}/members",
    operation_id = "addMember",
    tag = tags::COMPANIES,
    summary = "Add a member (owners only)",
    security(("bearerAuth" = [])),
    params(("companyId" = String, Path, description = "24-hex company id")),
    request_body = MemberBody,
    responses(
        (status = 201, description = "The new member", body = MemberView),
        (status = 202, description = "Committed, not readable yet", body = CreatedId),
        (status = 400, description = "`email` (malformed or not registered) or `role` invalid", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "`conflict`: a member already; `member_limit`: the plan allows no more members", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn add_member(
    State(state): State<AppState>,
    rid: RequestId,
    c: PlansCaller,
    Path(company_id): Path<String>,
    PlansJson(body): PlansJson,
) -> Result<Response, PlansApiError> {
    let plans = &state.services.plans;
    let m = plans.owner_membership(&company_id, c.user_id).await?;
    let email = required_text(&body, "email")?;
    let role = required_text(&body, "role")?;
    let (user_id, position) = plans
        .add_member(
            &m,
            &email,
            &role,
            &rid.metadata(Some(c.user_id.to_string())),
        )
        .await?;
    let _ = read_your_writes(&state, position).await;
    let rows = state
        .services
        .plans_queries
        .members(m.company_id.as_str())
        .await
        .unwrap_or_default();
    Ok(
        match rows.into_iter().find(|r| r.user_id == user_id.as_str()) {
            Some(row) => (StatusCode::CREATED, Json(MemberView::from(row))).into_response(),
            None => accepted(
                Json(CreatedId {
                    _id: user_id.to_string(),
                })
                .into_response(),
                &format!("/company/{}/members", m.company_id),
            ),
        },
    )
}

/// Remove a member (owners only; not the last owner).
#[utoipa::path(
    delete,
    path = "/company/{companyId}/members/{userId}",
    operation_id = "removeMember",
    tag = tags::COMPANIES,
    summary = "Remove a member (owners only)",
    security(("bearerAuth" = [])),
    params(
        ("companyId" = String, Path, description = "24-hex company id"),
        ("userId" = String, Path, description = "The member's 24-hex `user_id`"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "The last owner cannot be removed", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn remove_member(
    State(state): State<AppState>,
    rid: RequestId,
    c: PlansCaller,
    Path((company_id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, PlansApiError> {
    let plans = &state.services.plans;
    let m = plans.membership(&company_id, c.user_id).await?;
    let position = plans
        .remove_member(&m, &user_id, &rid.metadata(Some(c.user_id.to_string())))
        .await?;
    read_your_writes(&state, position).await;
    Ok(StatusCode::NO_CONTENT)
}
