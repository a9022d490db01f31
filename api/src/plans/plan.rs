//! Seed 004 "plan" routes under `/company/:companyId/plan`: `GET /list`,
//! `GET /status`, `POST /trial`. Members read; only owners start trials.

use super::error::{ErrorBody, PlansApiError, PlansCaller, PlansJson, required_text};
use super::openapi::{Forbidden, NotFound, ServiceUnavailable, Unauthorized, tags};
use super::views::{CurrentView, PlanView, StatusView, status_view};
use crate::http::{RequestId, read_your_writes};
use crate::startup::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list))
        .routes(routes!(status))
        .routes(routes!(trial))
}

/// The plan list: free, pro and ent with their limits and products (the catalogue loaded at
/// start).
#[utoipa::path(
    get,
    path = "/company/{companyId}/plan/list",
    operation_id = "listPlans",
    tag = tags::PLANS,
    summary = "The plans (members only)",
    security(("bearerAuth" = [])),
    params(("companyId" = String, Path, description = "24-hex company id")),
    responses(
        (status = 200, description = "free, pro and ent, in that order", body = Vec<PlanView>),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn list(
    State(state): State<AppState>,
    c: PlansCaller,
    Path(company_id): Path<String>,
) -> Result<Json<Vec<PlanView>>, PlansApiError> {
    let plans = &state.services.plans;
    plans.membership(&company_id, c.user_id).await?;
    Ok(Json(
        plans.catalogue().plans.iter().map(PlanView::from).collect(),
    ))
}

/// The company's plan status now.
#[utoipa::path(
    get,
    path = "/company/{companyId}/plan/status",
    operation_id = "planStatus",
    tag = tags::PLANS,
    summary = "Current plan, what can be tried or bought (members only)",
    security(("bearerAuth" = [])),
    params(("companyId" = String, Path, description = "24-hex company id")),
    responses(
        (status = 200, description = "The status", body = StatusView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn status(
    State(state): State<AppState>,
    c: PlansCaller,
    Path(company_id): Path<String>,
) -> Result<Json<StatusView>, PlansApiError> {
    let plans = &state.services.plans;
    let m = plans.membership(&company_id, c.user_id).await?;
    let row = state
        .services
        .plans_queries
        .status(m.company_id.as_str())
        .await?;
    let mut view = status_view(m.company_id.as_str(), row, plans.now());
    // Certification (part 2): the highest accepted plan; ent covers pro.
    let certs = state
        .services
        .plans_queries
        .certifications(m.company_id.as_str())
        .await?;
    if let Some(c) = super::auth::status_of(&certs).certified {
        view.viable.paid = match c.plan.as_str() {
            "ent" => vec!["pro".into(), "ent".into()],
            _ => vec!["pro".into()],
        };
        view.certified = Some(c.plan);
    }
    // Orders (part 3): the scheduled downgrade, in the seed's shape.
    let degrade = state
        .services
        .plans_queries
        .scheduled_degrade(m.company_id.as_str())
        .await?;
    view.degrade = degrade
        .as_ref()
        .and_then(super::orders::degrade_view)
        .and_then(|d| serde_json::to_value(d).ok());
    Ok(Json(view))
}

/// The body of `POST /plan/trial`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct TrialBody {
    /// `pro` or `ent` (also accepted as a one-element array, as the seed writes `[TeamPlanPaid]`).
    plan: String,
}

/// Start a trial (owners only): a paid plan neither bought nor trialled. A running trial ends; a
/// paid period keeps running underneath and is current again when the trial ends.
#[utoipa::path(
    post,
    path = "/company/{companyId}/plan/trial",
    operation_id = "startTrial",
    tag = tags::PLANS,
    summary = "Start a trial (owners only)",
    security(("bearerAuth" = [])),
    params(("companyId" = String, Path, description = "24-hex company id")),
    request_body = TrialBody,
    responses(
        (status = 201, description = "The trial, now current", body = CurrentView),
        (status = 400, description = "`plan` missing or not `pro`/`ent`", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "The plan was trialled or bought already", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn trial(
    State(state): State<AppState>,
    rid: RequestId,
    c: PlansCaller,
    Path(company_id): Path<String>,
    PlansJson(mut body): PlansJson,
) -> Result<(StatusCode, Json<CurrentView>), PlansApiError> {
    let plans = &state.services.plans;
    let m = plans.owner_membership(&company_id, c.user_id).await?;
    // The seed types the input as `[TeamPlanPaid]`: accept one plan in an array too.
    if let Some(serde_json::Value::Array(items)) = body.get("plan") {
        match items.as_slice() {
            [one] => {
                let one = one.clone();
                body.insert("plan".into(), one);
            }
            _ => return Err(PlansApiError::field("plan", "must name exactly one plan")),
        }
    }
    let plan = required_text(&body, "plan")?;
    let (trial_id, position) = plans
        .start_trial(&m, &plan, &rid.metadata(Some(c.user_id.to_string())))
        .await?;
    read_your_writes(&state, position).await;
    let team = plans.team_plan(&m.company_id).await?;
    let t = team
        .trials()
        .iter()
        .find(|t| t.trial_id == trial_id)
        .ok_or_else(|| PlansApiError::unavailable("the trial just started is not in its stream"))?;
    Ok((
        StatusCode::CREATED,
        Json(CurrentView {
            _id: t.trial_id.to_string(),
            kind: "trial".into(),
            user_id: t.user_id.to_string(),
            plan: t.plan.as_str().into(),
            status: "actived".into(),
            date_start: t.date_start,
            date_end: t.date_end,
            member_count: None,
        }),
    ))
}
