//! The company wallet (docs/plans.md, "Wallet and charges"): `GET /plan/wallet` (not in seed 004:
//! what is left), `GET /plan/charge` (seed 004 "charge": every credit and spend, paged), and the
//! staff route `POST /admin/plans/companies/:companyId/wallet/grant` (not in the seed). Money is
//! CNY as decimal strings with two places.

use super::error::{ErrorBody, PlansApiError, PlansCaller, PlansJson, required_text};
use super::openapi::{Forbidden, NotFound, ServiceUnavailable, Unauthorized, tags};
use super::orders::paging;
use crate::http::{RequestId, idempotent, read_your_writes};
use crate::startup::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use tessera_domain::identity::Role;
use tessera_domain::plans::pricing::{format_fen, parse_fen};
use tessera_projections::plans::LedgerRow;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(wallet))
        .routes(routes!(charges))
        .routes(idempotent::<PlansApiError>(routes!(grant)))
}

/// `GET /plan/wallet`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WalletView {
    /// Paid plus granted credit, CNY.
    #[schema(example = "1200.00")]
    pub balance: String,
    /// Money the company paid in (recharges, refunds of payments that could not pay an order).
    pub paid_credit: String,
    /// Credit granted (recharge discount tiers, staff); spent first.
    pub granted_credit: String,
    /// Always `CNY`.
    pub currency: &'static str,
}

/// Paid and granted credit of the company's wallet (members).
#[utoipa::path(
    get,
    path = "/company/{companyId}/plan/wallet",
    operation_id = "getWallet",
    tag = tags::ORDERS,
    summary = "The wallet balance (members only; not in the seed)",
    security(("bearerAuth" = [])),
    params(("companyId" = String, Path, description = "24-hex company id")),
    responses(
        (status = 200, description = "The balance", body = WalletView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn wallet(
    State(state): State<AppState>,
    c: PlansCaller,
    Path(company_id): Path<String>,
) -> Result<Json<WalletView>, PlansApiError> {
    let m = state
        .services
        .plans
        .membership(&company_id, c.user_id)
        .await?;
    let row = state
        .services
        .plans_queries
        .wallet(m.company_id.as_str())
        .await?;
    let (paid, granted) = row.map_or((0, 0), |r| (r.paid, r.granted));
    Ok(Json(WalletView {
        balance: format_fen(paid + granted),
        paid_credit: format_fen(paid),
        granted_credit: format_fen(granted),
        currency: "CNY",
    }))
}

/// One credit or spend of the wallet (`GET /plan/charge`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChargeView {
    /// The ledger entry.
    pub _id: String,
    /// `recharge`, `grant`, `refund` (an external payment of an order that could no longer be
    /// paid) or `order` (a balance payment).
    #[schema(example = "order")]
    pub kind: String,
    /// CNY, signed: credits positive, spends negative.
    #[schema(example = "-1080.00")]
    pub amount: String,
    /// Of which paid credit, signed.
    pub paid_amount: String,
    /// Of which granted credit, signed.
    pub granted_amount: String,
    /// The balance after it.
    pub balance: String,
    /// The order paid (`order`).
    pub order_id: Option<String>,
    /// The recharge, payment or grant credited.
    pub reference: Option<String>,
    /// A staff grant's reason.
    pub reason: Option<String>,
    /// When.
    pub date_create: DateTime<Utc>,
}

impl From<&LedgerRow> for ChargeView {
    fn from(r: &LedgerRow) -> Self {
        Self {
            _id: r.entry_id.clone(),
            kind: r.kind.clone(),
            amount: format_fen(r.amount),
            paid_amount: format_fen(r.paid_amount),
            granted_amount: format_fen(r.granted_amount),
            balance: format_fen(r.paid_after + r.granted_after),
            order_id: r.order_id.clone(),
            reference: r.reference.clone(),
            reason: r.reason.clone(),
            date_create: r.at,
        }
    }
}

/// A page of charges.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChargePage {
    /// The page, from 1.
    pub page: i64,
    /// Entries per page.
    pub pagesize: i64,
    /// Entries in all.
    pub totalrows: i64,
    /// Newest first.
    pub list: Vec<ChargeView>,
}

/// Every credit and spend of the company's wallet, newest first (members; seed 004 `GET
/// /charge`).
#[utoipa::path(
    get,
    path = "/company/{companyId}/plan/charge",
    operation_id = "listCharges",
    tag = tags::ORDERS,
    summary = "Wallet charges and credits, newest first, paged (members only)",
    security(("bearerAuth" = [])),
    params(
        ("companyId" = String, Path, description = "24-hex company id"),
        ("page" = Option<i64>, Query, description = "From 1 (default 1)"),
        ("pagesize" = Option<i64>, Query, description = "1–100 (default 20)"),
    ),
    responses(
        (status = 200, description = "A page of entries", body = ChargePage),
        (status = 400, description = "`page` or `pagesize` out of range", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn charges(
    State(state): State<AppState>,
    c: PlansCaller,
    Path(company_id): Path<String>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<ChargePage>, PlansApiError> {
    let m = state
        .services
        .plans
        .membership(&company_id, c.user_id)
        .await?;
    let (page, pagesize) = paging(q)?;
    let (rows, total) = state
        .services
        .plans_queries
        .ledger(m.company_id.as_str(), (page - 1) * pagesize, pagesize)
        .await?;
    Ok(Json(ChargePage {
        page,
        pagesize,
        totalrows: total,
        list: rows.iter().map(ChargeView::from).collect(),
    }))
}

/// The body of the grant route.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct GrantBody {
    /// CNY, more than 0, at most two decimals (a number or a decimal string).
    amount: String,
    /// Why (1–500 characters), shown in `GET /plan/charge`.
    reason: String,
}

/// A staff grant.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GrantView {
    /// The ledger entry.
    pub _id: String,
    /// The company.
    pub company_id: String,
    /// CNY granted.
    pub amount: String,
    /// Why.
    pub reason: String,
}

/// Grant credit to a company's wallet (admins; not in the seed). Takes `Idempotency-Key`.
#[utoipa::path(
    post,
    path = "/admin/plans/companies/{companyId}/wallet/grant",
    operation_id = "adminGrantCredit",
    tag = tags::ORDERS,
    summary = "Grant wallet credit (admins only; not in the seed)",
    security(("bearerAuth" = [])),
    params(("companyId" = String, Path, description = "24-hex company id")),
    request_body = GrantBody,
    responses(
        (status = 201, description = "Granted", body = GrantView),
        (status = 400, description = "`amount` or `reason` missing or invalid", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such company", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn grant(
    State(state): State<AppState>,
    rid: RequestId,
    c: PlansCaller,
    Path(company_id): Path<String>,
    PlansJson(body): PlansJson,
) -> Result<(StatusCode, Json<GrantView>), PlansApiError> {
    c.require(Role::Admin)?;
    let amount = match body.get("amount") {
        None | Some(Value::Null) => return Err(PlansApiError::field("amount", "is required")),
        Some(Value::Number(n)) => parse_fen(&n.to_string()),
        Some(Value::String(s)) => parse_fen(s),
        Some(_) => None,
    }
    .filter(|f| *f > 0)
    .ok_or_else(|| {
        PlansApiError::field(
            "amount",
            "must be CNY more than 0 with at most two decimals",
        )
    })?;
    let reason = required_text(&body, "reason")?;
    let (entry, position) = state
        .services
        .plans
        .grant_credit(
            &company_id,
            amount,
            &reason,
            &rid.metadata(Some(c.user_id.to_string())),
        )
        .await?;
    read_your_writes(&state, position).await;
    Ok((
        StatusCode::CREATED,
        Json(GrantView {
            _id: entry.to_string(),
            company_id,
            amount: format_fen(amount),
            reason,
        }),
    ))
}
