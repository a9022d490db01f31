//! Seed 004 `auth` routes (certification applications) under `/company/:companyId/plan`, and the
//! staff review routes (not in the seed) under `/admin/plans/auth` (docs/plans.md,
//! "Certification"). Writes need an owner (403 members, 404 non-members); `GET /auth/status`
//! needs a member (it holds no personal data); `GET /auth/item/:authId` holds the applicant's ID
//! data and answers owners and admins only. The review routes answer admins only (403).

use super::error::{ErrorBody, PlansApiError, PlansCaller, PlansJson, required_text};
use super::openapi::{Forbidden, NotFound, ServiceUnavailable, Unauthorized, tags};
use crate::http::{RequestId, read_your_writes};
use crate::startup::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use tessera_application::plans::PlansError;
use tessera_domain::identity::Role;
use tessera_domain::plans::ObjectId;
use tessera_domain::plans::certification::{AuthStatus, Certification, CertificationError};
use tessera_projections::plans::CertificationRow;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(auth_status))
        .routes(routes!(apply, resubmit))
        .routes(routes!(cancel))
        .routes(routes!(item))
        .routes(routes!(admin_list))
        .routes(routes!(admin_accept))
        .routes(routes!(admin_reject))
}

/// An application as `GET /auth/status` and the staff list show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuthSummary {
    /// `authId` (24 hex).
    pub _id: String,
    /// `pro` or `ent`.
    pub plan: String,
    /// The company.
    pub company_id: String,
    /// The applicant's plans `user_id`.
    pub user_id: String,
    /// First submitted.
    pub date_apply: DateTime<Utc>,
    /// `posted`, `cancelled`, `reposted`, `accepted`, `rejected` or `expired`.
    pub status: String,
}

impl From<&CertificationRow> for AuthSummary {
    fn from(r: &CertificationRow) -> Self {
        AuthSummary {
            _id: r.auth_id.clone(),
            plan: r.plan.clone(),
            company_id: r.company_id.clone(),
            user_id: r.user_id.clone(),
            date_apply: r.date_apply,
            status: r.status.clone(),
        }
    }
}

/// `GET /auth/status`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuthStatusView {
    /// The accepted application of the highest plan, or null.
    pub certified: Option<AuthSummary>,
    /// The pending application (`posted`, `reposted` or `rejected`), or null.
    pub pending: Option<AuthSummary>,
}

/// A staff-list entry: the summary plus the latest data, ID data masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminAuthView {
    /// The summary.
    #[serde(flatten)]
    pub summary: AuthSummary,
    /// Versions submitted.
    pub versions: i64,
    /// The latest `contact`, masked (name's first character, last 4 of phone and ID number,
    /// photo count).
    #[schema(value_type = Object)]
    pub contact: Value,
    /// The latest `team` or null.
    #[schema(value_type = Object)]
    pub team: Value,
    /// The latest `enterprise` or null.
    #[schema(value_type = Object)]
    pub enterprise: Value,
}

/// `GET /auth/item/:authId`, and what every write answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuthItemView {
    /// The summary.
    #[serde(flatten)]
    pub summary: AuthSummary,
    /// The latest submitted version `{contact, team, enterprise, date_submit}`.
    #[schema(value_type = Object)]
    pub nearest_data: Value,
    /// Every submitted version, oldest first, from the events.
    #[schema(value_type = Vec<Object>)]
    pub history_data: Vec<Value>,
    /// The review log `[{action, by, reason?, date}]`, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub log: Vec<Value>,
}

fn item_view(c: &Certification) -> AuthItemView {
    let history: Vec<Value> = c
        .versions()
        .iter()
        .map(|(at, s)| {
            json!({"contact": s.contact, "team": s.team, "enterprise": s.enterprise,
                   "date_submit": at})
        })
        .collect();
    let log = c
        .log()
        .iter()
        .map(|l| {
            let mut v = json!({"action": l.action.as_str(), "by": l.by, "date": l.at});
            if let Some(r) = &l.reason {
                v["reason"] = json!(r);
            }
            v
        })
        .collect();
    AuthItemView {
        summary: AuthSummary {
            _id: c.auth_id().map(ToString::to_string).unwrap_or_default(),
            plan: c.plan().map(|p| p.as_str().to_owned()).unwrap_or_default(),
            company_id: c.company_id().map(ToString::to_string).unwrap_or_default(),
            user_id: c.user_id().map(ToString::to_string).unwrap_or_default(),
            date_apply: c.date_apply().unwrap_or_default(),
            status: c
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
        },
        nearest_data: history.last().cloned().unwrap_or(Value::Null),
        history_data: history,
        log,
    }
}

/// The `plan` query parameter; 400 naming `plan` when missing or malformed.
fn plan_query(
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<String, PlansApiError> {
    optional_plan_query(q)?
        .ok_or_else(|| PlansApiError::field("plan", "is required (`?plan=pro` or `?plan=ent`)"))
}

/// `?plan=` when given and not empty; 400 `plan` for a malformed query string.
fn optional_plan_query(
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Option<String>, PlansApiError> {
    let Query(q) = q.map_err(|e| PlansApiError::field("plan", e.body_text()))?;
    Ok(q.get("plan")
        .map(|s| s.trim())
        .filter(|p| !p.is_empty())
        .map(str::to_owned))
}

async fn load_item(state: &AppState, auth_id: &ObjectId) -> Result<AuthItemView, PlansApiError> {
    let c = state
        .services
        .plans
        .certification(auth_id)
        .await?
        .ok_or(PlansError::Certification(CertificationError::NotFound))?;
    Ok(item_view(&c))
}

/// The company's certified and pending applications (members).
#[utoipa::path(
    get,
    path = "/company/{companyId}/plan/auth/status",
    operation_id = "certificationStatus",
    tag = tags::CERTIFICATION,
    summary = "Certified and pending applications (members only)",
    security(("bearerAuth" = [])),
    params(("companyId" = String, Path, description = "24-hex company id")),
    responses(
        (status = 200, description = "`certified` and `pending`, each null when none", body = AuthStatusView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn auth_status(
    State(state): State<AppState>,
    c: PlansCaller,
    Path(company_id): Path<String>,
) -> Result<Json<AuthStatusView>, PlansApiError> {
    let m = state
        .services
        .plans
        .membership(&company_id, c.user_id)
        .await?;
    let rows = state
        .services
        .plans_queries
        .certifications(m.company_id.as_str())
        .await?;
    Ok(Json(status_of(&rows)))
}

/// `certified` (the accepted application of the highest plan) and `pending` of `rows`.
pub fn status_of(rows: &[CertificationRow]) -> AuthStatusView {
    let certified = rows
        .iter()
        .filter(|r| r.status == AuthStatus::Accepted.as_str())
        .max_by_key(|r| (r.plan == "ent", r.date_apply));
    let pending = rows
        .iter()
        .rev()
        .find(|r| AuthStatus::parse(&r.status).is_some_and(AuthStatus::is_pending));
    AuthStatusView {
        certified: certified.map(AuthSummary::from),
        pending: pending.map(AuthSummary::from),
    }
}

/// Apply for a plan's certification (owners). The body is the document's `{contact, team,
/// enterprise}`; which parts are required depends on the plan (docs/plans.md). A pending
/// application of another plan, or a rejected one of the same plan, becomes `expired`.
#[utoipa::path(
    post,
    path = "/company/{companyId}/plan/auth",
    operation_id = "applyForCertification",
    tag = tags::CERTIFICATION,
    summary = "Apply for certification (owners only)",
    security(("bearerAuth" = [])),
    params(
        ("companyId" = String, Path, description = "24-hex company id"),
        ("plan" = String, Query, description = "`pro` or `ent`"),
    ),
    request_body = Object,
    responses(
        (status = 201, description = "The application, `posted`", body = AuthItemView),
        (status = 400, description = "`plan` or a body field missing or invalid; `field` names it (e.g. `contact.realname_ext.idcard`)", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "Certified already (ent covers pro), or an application of this plan is pending and not rejected", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn apply(
    State(state): State<AppState>,
    rid: RequestId,
    c: PlansCaller,
    Path(company_id): Path<String>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
    PlansJson(body): PlansJson,
) -> Result<(StatusCode, Json<AuthItemView>), PlansApiError> {
    let m = state
        .services
        .plans
        .owner_membership(&company_id, c.user_id)
        .await?;
    let plan = plan_query(q)?;
    let (auth_id, position) = state
        .services
        .plans
        .apply_for_certification(&m, &plan, &body, &rid.metadata(Some(c.user_id.to_string())))
        .await?;
    read_your_writes(&state, position).await;
    Ok((
        StatusCode::CREATED,
        Json(load_item(&state, &auth_id).await?),
    ))
}

/// Resubmit the rejected application of `plan` (owners): it becomes `reposted` with the new data.
/// Without `?plan=`, the company's pending application is meant.
#[utoipa::path(
    put,
    path = "/company/{companyId}/plan/auth",
    operation_id = "resubmitCertification",
    tag = tags::CERTIFICATION,
    summary = "Resubmit a rejected application (owners only)",
    security(("bearerAuth" = [])),
    params(
        ("companyId" = String, Path, description = "24-hex company id"),
        ("plan" = Option<String>, Query, description = "`pro` or `ent`; when absent, the pending application's plan"),
    ),
    request_body = Object,
    responses(
        (status = 200, description = "The application, `reposted`", body = AuthItemView),
        (status = 400, description = "`plan` or a body field missing or invalid", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "The pending application is not rejected", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn resubmit(
    State(state): State<AppState>,
    rid: RequestId,
    c: PlansCaller,
    Path(company_id): Path<String>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
    PlansJson(body): PlansJson,
) -> Result<Json<AuthItemView>, PlansApiError> {
    let m = state
        .services
        .plans
        .owner_membership(&company_id, c.user_id)
        .await?;
    // The seed's `PUT /auth` names no plan: without `?plan=`, the pending application's.
    let plan = match optional_plan_query(q)? {
        Some(plan) => plan,
        None => state
            .services
            .plans
            .certification_desk(&m.company_id)
            .await?
            .pending()
            .map(|p| p.plan.as_str().to_owned())
            .ok_or(PlansError::Certification(CertificationError::NotFound))?,
    };
    let (auth_id, position) = state
        .services
        .plans
        .resubmit_certification(&m, &plan, &body, &rid.metadata(Some(c.user_id.to_string())))
        .await?;
    read_your_writes(&state, position).await;
    Ok(Json(load_item(&state, &auth_id).await?))
}

/// The body of `PUT /auth/status`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct CancelBody {
    /// The pending application's plan (`pro` or `ent`).
    plan: String,
    /// Always `cancelled`.
    status: String,
}

/// Cancel the pending application of `plan` (owners); never once accepted.
#[utoipa::path(
    put,
    path = "/company/{companyId}/plan/auth/status",
    operation_id = "cancelCertification",
    tag = tags::CERTIFICATION,
    summary = "Cancel the pending application (owners only)",
    security(("bearerAuth" = [])),
    params(("companyId" = String, Path, description = "24-hex company id")),
    request_body = CancelBody,
    responses(
        (status = 200, description = "The application, `cancelled`", body = AuthItemView),
        (status = 400, description = "`plan` or `status` missing or invalid", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No pending application of this plan (an accepted one is not pending)", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn cancel(
    State(state): State<AppState>,
    rid: RequestId,
    c: PlansCaller,
    Path(company_id): Path<String>,
    PlansJson(body): PlansJson,
) -> Result<Json<AuthItemView>, PlansApiError> {
    let m = state
        .services
        .plans
        .owner_membership(&company_id, c.user_id)
        .await?;
    let plan = required_text(&body, "plan")?;
    if required_text(&body, "status")? != "cancelled" {
        return Err(PlansApiError::field("status", "must be `cancelled`"));
    }
    let (auth_id, position) = state
        .services
        .plans
        .cancel_certification(&m, &plan, &rid.metadata(Some(c.user_id.to_string())))
        .await?;
    read_your_writes(&state, position).await;
    Ok(Json(load_item(&state, &auth_id).await?))
}

/// One application with every submitted version and the review log (owners of its company and
/// admins: it holds the applicant's ID data).
#[utoipa::path(
    get,
    path = "/company/{companyId}/plan/auth/item/{authId}",
    operation_id = "certificationItem",
    tag = tags::CERTIFICATION,
    summary = "One application, its versions and log (owners and admins)",
    security(("bearerAuth" = [])),
    params(
        ("companyId" = String, Path, description = "24-hex company id"),
        ("authId" = String, Path, description = "24-hex application id"),
    ),
    responses(
        (status = 200, description = "The application", body = AuthItemView),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn item(
    State(state): State<AppState>,
    c: PlansCaller,
    Path((company_id, auth_id)): Path<(String, String)>,
) -> Result<Json<AuthItemView>, PlansApiError> {
    let company = if c.is_admin() {
        ObjectId::parse(&company_id)
            .map_err(|_| PlansApiError::not_found("no such company (or you are not a member)"))?
    } else {
        state
            .services
            .plans
            .owner_membership(&company_id, c.user_id)
            .await?
            .company_id
    };
    let not_found = || PlansApiError::not_found("no such certification application");
    let auth_id = ObjectId::parse(&auth_id).map_err(|_| not_found())?;
    let view = load_item(&state, &auth_id).await?;
    if view.summary.company_id != company.as_str() {
        return Err(not_found());
    }
    Ok(Json(view))
}

/// Applications for staff review, oldest first, ID data masked (admins).
#[utoipa::path(
    get,
    path = "/admin/plans/auth",
    operation_id = "adminListCertifications",
    tag = tags::CERTIFICATION,
    summary = "Applications by status (admins only; not in the seed)",
    security(("bearerAuth" = [])),
    params(
        ("status" = Option<String>, Query, description = "`posted`, `reposted`, …; all when absent"),
        ("page" = Option<i64>, Query, description = "from 1 (default 1)"),
        ("pagesize" = Option<i64>, Query, description = "1–100 (default 20)"),
    ),
    responses(
        (status = 200, description = "The applications", body = Vec<AdminAuthView>),
        (status = 400, description = "`status`, `page` or `pagesize` invalid", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn admin_list(
    State(state): State<AppState>,
    c: PlansCaller,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Vec<AdminAuthView>>, PlansApiError> {
    c.require(Role::Admin)?;
    let Query(q) = q.map_err(|e| PlansApiError::field("query", e.body_text()))?;
    let status = match q.get("status") {
        Some(s) => Some(
            AuthStatus::parse(s)
                .ok_or_else(|| PlansApiError::field("status", "not an application status"))?
                .as_str(),
        ),
        None => None,
    };
    let (page, pagesize) = super::error::page_params(&q)?;
    let rows = state
        .services
        .plans_queries
        .certifications_by_status(status, (page - 1) * pagesize, pagesize)
        .await?;
    let parse = |s: &str| serde_json::from_str(s).unwrap_or(Value::Null);
    Ok(Json(
        rows.iter()
            .map(|r| AdminAuthView {
                summary: r.into(),
                versions: r.versions,
                contact: parse(&r.contact_masked),
                team: parse(&r.team),
                enterprise: parse(&r.enterprise),
            })
            .collect(),
    ))
}

async fn review(
    state: &AppState,
    rid: &RequestId,
    c: &PlansCaller,
    auth_id: &str,
    reason: Option<String>,
) -> Result<Json<AuthItemView>, PlansApiError> {
    c.require(Role::Admin)?;
    let position = state
        .services
        .plans
        .review_certification(
            c.user_id,
            auth_id,
            reason,
            &rid.metadata(Some(c.user_id.to_string())),
        )
        .await?;
    read_your_writes(state, position).await;
    let id = ObjectId::parse(auth_id)
        .map_err(|_| PlansApiError::not_found("no such certification application"))?;
    Ok(Json(load_item(state, &id).await?))
}

/// Accept an application in review (admins): the plan becomes certified (`GET /plan/status`
/// `certified`, `viable.paid`; ent covers pro).
#[utoipa::path(
    post,
    path = "/admin/plans/auth/{authId}/accept",
    operation_id = "adminAcceptCertification",
    tag = tags::CERTIFICATION,
    summary = "Accept an application (admins only; not in the seed)",
    security(("bearerAuth" = [])),
    params(("authId" = String, Path, description = "24-hex application id")),
    responses(
        (status = 200, description = "The application, `accepted`", body = AuthItemView),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such application", body = ErrorBody),
        (status = 409, description = "Not `posted` or `reposted`", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn admin_accept(
    State(state): State<AppState>,
    rid: RequestId,
    c: PlansCaller,
    Path(auth_id): Path<String>,
) -> Result<Json<AuthItemView>, PlansApiError> {
    review(&state, &rid, &c, &auth_id, None).await
}

/// The body of the reject route.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct RejectBody {
    /// Why (1–500 characters); shown in the application's `log`.
    reason: String,
}

/// Reject an application in review with a reason (admins); the owner may resubmit it.
#[utoipa::path(
    post,
    path = "/admin/plans/auth/{authId}/reject",
    operation_id = "adminRejectCertification",
    tag = tags::CERTIFICATION,
    summary = "Reject an application (admins only; not in the seed)",
    security(("bearerAuth" = [])),
    params(("authId" = String, Path, description = "24-hex application id")),
    request_body = RejectBody,
    responses(
        (status = 200, description = "The application, `rejected`", body = AuthItemView),
        (status = 400, description = "`reason` missing or too long", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such application", body = ErrorBody),
        (status = 409, description = "Not `posted` or `reposted`", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn admin_reject(
    State(state): State<AppState>,
    rid: RequestId,
    c: PlansCaller,
    Path(auth_id): Path<String>,
    PlansJson(body): PlansJson,
) -> Result<Json<AuthItemView>, PlansApiError> {
    c.require(Role::Admin)?;
    let reason = required_text(&body, "reason")?;
    review(&state, &rid, &c, &auth_id, Some(reason)).await
}
