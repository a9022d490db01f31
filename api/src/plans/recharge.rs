//! Seed 004 "recharge" routes under `/company/:companyId/plan/recharge`: `GET /info` (amount
//! limits and discount tiers), `POST /` (owners: recharge the wallet through `alipay`, `wxpay` or
//! `banktrans`) and `GET /?page=&pagesize=` (members: the recharges, newest first). Money is CNY
//! as decimal strings with two places (docs/plans.md, "Payments and recharges").

use super::error::{ErrorBody, PlansApiError, PlansCaller, PlansJson};
use super::openapi::{Forbidden, NotFound, ServiceUnavailable, Unauthorized, tags};
use crate::http::{RequestId, read_your_writes};
use crate::startup::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use tessera_domain::plans::recharge::{RechargeOffer, fen_to_yuan};
use tessera_projections::plans::RechargeRow;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(info))
        .routes(routes!(create, list))
}

/// CNY fen as a decimal string with two places (`12345` → `"123.45"`).
pub fn money(fen: i64) -> String {
    format!("{:.2}", fen_to_yuan(fen))
}

/// The seed's `limits.amount`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AmountLimitsView {
    /// Smallest recharge, CNY (decimal string, two places).
    #[schema(example = "100.00")]
    pub min: String,
    /// Largest recharge, CNY.
    #[schema(example = "50000.00")]
    pub max: String,
}

/// The seed's `limits`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LimitsView {
    /// Amount limits.
    pub amount: AmountLimitsView,
}

/// A discount tier (seed `discounts[]`).
#[derive(Debug, Serialize, ToSchema)]
pub struct DiscountView {
    /// 24-hex id.
    pub _id: String,
    /// What clients show.
    pub title: String,
    /// Recharging at least this much (CNY) earns the tier.
    #[schema(example = "1000.00")]
    pub amount: String,
    /// Granted credit (CNY), kept apart from paid credit in the wallet.
    #[schema(example = "50.00")]
    pub extra_amount: String,
    /// Last change (UTC).
    pub date_update: DateTime<Utc>,
    /// Creation (UTC).
    pub date_create: DateTime<Utc>,
}

/// `GET /plan/recharge/info`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RechargeInfoView {
    /// Limits.
    pub limits: LimitsView,
    /// Tiers, smallest amount first.
    pub discounts: Vec<DiscountView>,
    /// The offer version recorded in each recharge.
    pub version: String,
}

impl From<&RechargeOffer> for RechargeInfoView {
    fn from(o: &RechargeOffer) -> Self {
        let two = |d: rust_decimal::Decimal| format!("{:.2}", d);
        let mut discounts: Vec<_> = o.discounts.iter().collect();
        discounts.sort_by_key(|t| t.amount);
        Self {
            limits: LimitsView {
                amount: AmountLimitsView {
                    min: two(o.amount.min),
                    max: two(o.amount.max),
                },
            },
            discounts: discounts
                .into_iter()
                .map(|t| DiscountView {
                    _id: t.id.to_string(),
                    title: t.title.clone(),
                    amount: two(t.amount),
                    extra_amount: two(t.extra_amount),
                    date_update: t.date_update,
                    date_create: t.date_create,
                })
                .collect(),
            version: o.version.clone(),
        }
    }
}

/// One recharge.
#[derive(Debug, Serialize, ToSchema)]
pub struct RechargeView {
    /// 24-hex id.
    pub _id: String,
    /// The company.
    pub company_id: String,
    /// The owner who asked.
    pub user_id: String,
    /// Paid credit, CNY.
    #[schema(example = "1000.00")]
    pub amount: String,
    /// Granted credit of the tier applied, CNY (`"0.00"` without one).
    #[schema(example = "50.00")]
    pub extra_amount: String,
    /// The tier applied.
    pub discount_id: Option<String>,
    /// `alipay`, `wxpay` or `banktrans`.
    pub payment_method: String,
    /// The external payment (staff confirm bank transfers by it).
    #[serde(rename = "paymentId")]
    pub payment_id: String,
    /// The QR code content to show (WeChat Pay `code_url`, Alipay `qr_code`); only in the answer
    /// to `POST`, `null` for bank transfers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_url: Option<Option<String>>,
    /// `pending`, `paid` or `expired`.
    pub status: String,
    /// Asked (UTC).
    pub date_create: DateTime<Utc>,
    /// Paid (UTC).
    pub date_paid: Option<DateTime<Utc>>,
}

impl From<RechargeRow> for RechargeView {
    fn from(r: RechargeRow) -> Self {
        Self {
            _id: r.recharge_id,
            company_id: r.company_id,
            user_id: r.user_id,
            amount: money(r.amount_fen),
            extra_amount: money(r.extra_amount_fen),
            discount_id: r.discount_id,
            payment_method: r.method,
            payment_id: r.payment_id,
            code_url: None,
            status: r.status,
            date_create: r.created_at,
            date_paid: r.paid_at,
        }
    }
}

/// A page of recharges (seed `{page, pagesize, totalrows, list}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RechargePage {
    /// The page (from 1).
    pub page: u32,
    /// Rows per page (1–100).
    pub pagesize: u32,
    /// All recharges of the company.
    pub totalrows: i64,
    /// This page, newest first.
    pub list: Vec<RechargeView>,
}

/// The body of `POST /plan/recharge`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct RechargeBody {
    /// CNY (a JSON number or decimal string, at most two decimals), within `limits.amount`.
    amount: String,
    /// `alipay`, `wxpay` or `banktrans` (`balance` is refused).
    payment_method: String,
}

/// Recharge amount limits and discount tiers (configuration; docs/plans.md).
#[utoipa::path(
    get,
    path = "/company/{companyId}/plan/recharge/info",
    operation_id = "rechargeInfo",
    tag = tags::RECHARGE,
    summary = "Recharge limits and discount tiers (members only)",
    security(("bearerAuth" = [])),
    params(("companyId" = String, Path, description = "24-hex company id")),
    responses(
        (status = 200, description = "The offer", body = RechargeInfoView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn info(
    State(state): State<AppState>,
    c: PlansCaller,
    Path(company_id): Path<String>,
) -> Result<Json<RechargeInfoView>, PlansApiError> {
    let plans = &state.services.plans;
    plans.membership(&company_id, c.user_id).await?;
    Ok(Json(RechargeInfoView::from(
        plans.recharge_offer()?.as_ref(),
    )))
}

/// Recharge the company wallet (owners only): opens the payment and answers the recharge with its
/// `paymentId` and the `code_url` to show as a QR code. The tier with the largest amount not
/// above the recharge grants its `extra_amount`. Paid credit and granted credit reach the wallet
/// once the payment succeeds; unpaid, the recharge expires with its payment.
#[utoipa::path(
    post,
    path = "/company/{companyId}/plan/recharge",
    operation_id = "createRecharge",
    tag = tags::RECHARGE,
    summary = "Recharge the wallet (owners only)",
    security(("bearerAuth" = [])),
    params(("companyId" = String, Path, description = "24-hex company id")),
    request_body = RechargeBody,
    responses(
        (status = 201, description = "The recharge, `pending`, with `paymentId` and `code_url`", body = RechargeView),
        (status = 400, description = "`amount` missing, not a number, more than two decimals or outside the limits; `payment_method` missing, unknown, `balance`, or not configured here", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn create(
    State(state): State<AppState>,
    rid: RequestId,
    c: PlansCaller,
    Path(company_id): Path<String>,
    PlansJson(body): PlansJson,
) -> Result<(StatusCode, Json<RechargeView>), PlansApiError> {
    let plans = &state.services.plans;
    let m = plans.owner_membership(&company_id, c.user_id).await?;
    let amount = match body.get("amount") {
        None | Some(Value::Null) => return Err(PlansApiError::field("amount", "is required")),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(_) => {
            return Err(PlansApiError::field(
                "amount",
                "must be a number of yuan (at most two decimals)",
            ));
        }
    };
    let method = match body.get("payment_method") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        None | Some(Value::Null) => {
            return Err(PlansApiError::field("payment_method", "is required"));
        }
        Some(_) => {
            return Err(PlansApiError::field(
                "payment_method",
                "must be one of alipay, wxpay, banktrans",
            ));
        }
    };
    let created = plans
        .create_recharge(
            &m,
            &amount,
            &method,
            &rid.metadata(Some(c.user_id.to_string())),
        )
        .await?;
    read_your_writes(&state, created.position).await;
    let t = created.terms;
    Ok((
        StatusCode::CREATED,
        Json(RechargeView {
            _id: t.recharge_id.to_string(),
            company_id: t.company_id.to_string(),
            user_id: t.user_id.to_string(),
            amount: money(t.amount_fen),
            extra_amount: money(t.extra_amount_fen),
            discount_id: t.discount_id.map(|d| d.to_string()),
            payment_method: t.method.as_str().to_owned(),
            payment_id: t.payment_id.to_string(),
            code_url: Some(created.payment.code_url),
            status: "pending".into(),
            date_create: plans.now(),
            date_paid: None,
        }),
    ))
}

/// The company's recharges, newest first, paged (`page` from 1, default 1; `pagesize` 1–100,
/// default 20).
#[utoipa::path(
    get,
    path = "/company/{companyId}/plan/recharge",
    operation_id = "listRecharges",
    tag = tags::RECHARGE,
    summary = "Recharge records (members only)",
    security(("bearerAuth" = [])),
    params(
        ("companyId" = String, Path, description = "24-hex company id"),
        ("page" = Option<u32>, Query, description = "Page from 1 (default 1)"),
        ("pagesize" = Option<u32>, Query, description = "Rows per page, 1–100 (default 20)"),
    ),
    responses(
        (status = 200, description = "One page", body = RechargePage),
        (status = 400, description = "`page` or `pagesize` out of range", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn list(
    State(state): State<AppState>,
    c: PlansCaller,
    Path(company_id): Path<String>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<RechargePage>, PlansApiError> {
    let m = state
        .services
        .plans
        .membership(&company_id, c.user_id)
        .await?;
    let (page, pagesize) = super::orders::paging(q)?;
    // Both are in 1..=1_000_000 (page_params), so they fit u32.
    let (page, pagesize) = (
        u32::try_from(page).unwrap_or(u32::MAX),
        u32::try_from(pagesize).unwrap_or(u32::MAX),
    );
    let (rows, totalrows) = state
        .services
        .plans_payments_queries
        .recharges(m.company_id.as_str(), page, pagesize)
        .await?;
    Ok(Json(RechargePage {
        page,
        pagesize,
        totalrows,
        list: rows.into_iter().map(RechargeView::from).collect(),
    }))
}
