//! Seed 004 "order" routes under `/company/:companyId/plan` (docs/plans.md, "Orders"):
//! `POST /order/prepare`, `POST /order`, `GET /order`, `GET /order/pending`,
//! `GET /order/:orderId`, `POST /order/:orderId/pay`, `POST /order/pending/pay`, and
//! `DELETE /degrade`. Members read; owners prepare, order, pay and cancel (403 for members, 404
//! for non-members). Money is CNY as decimal strings with two places.

use super::error::{ErrorBody, PlansApiError, PlansCaller, PlansJson, required_text};
use super::openapi::{Forbidden, NotFound, ServiceUnavailable, Unauthorized, tags};
use crate::http::{RequestId, body, idempotent, read_your_writes};
use crate::startup::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;
use tessera_application::plans::{Missing, Payment, PlansError};
use tessera_domain::plans::ObjectId;
use tessera_domain::plans::order::{OrderState, OrderStatus, Quote};
use tessera_domain::plans::pricing::format_fen;
use tessera_projections::plans::OrderRow;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(prepare))
        .routes(idempotent::<PlansApiError>(routes!(list, place)))
        .routes(routes!(pending))
        .routes(routes!(detail))
        .routes(idempotent::<PlansApiError>(routes!(pay)))
        .routes(idempotent::<PlansApiError>(routes!(pay_pending)))
        .routes(routes!(cancel_degrade))
}

/// One line of an order: the plan's product and the members.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderLineView {
    /// The catalogue product's id.
    pub _id: String,
    /// Its code (`pro-member-month`).
    pub product_no: String,
    /// Its title.
    pub title: String,
    /// Members (owners included).
    pub quantity: i64,
    /// CNY per member per calendar month at the order's catalogue version.
    #[schema(example = "30.00")]
    pub price: String,
}

/// How an upgrade was priced (decision 0027): `(new monthly − old monthly) × period_months ×
/// remaining_secs / period_secs`, rounded half up to the fen.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProrationView {
    /// The plan before.
    pub from_plan: String,
    /// The members before.
    pub from_member_count: i64,
    /// The old plan's price per member per month (CNY).
    pub from_price: String,
    /// Months of the current period.
    pub period_months: i64,
    /// Seconds from the order to the period's end.
    pub remaining_secs: i64,
    /// Seconds from the period's start to its end.
    pub period_secs: i64,
}

/// A plan order (seed 004 `POST /order` output, `GET /order/:orderId`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderView {
    /// `orderId` (null in a prepared order, which is not stored).
    #[schema(value_type = Option<String>)]
    pub _id: Option<String>,
    /// The company.
    pub company_id: String,
    /// The owner who placed it.
    pub user_id: String,
    /// `newly`, `renewal`, `upgrade`, `degrade` or `patch` (`new` is stored as `newly`).
    #[schema(example = "newly")]
    pub order_type: String,
    /// The plan after the order.
    pub plan: String,
    /// Members after the order.
    pub member_count: i64,
    /// Months bought (`times`; 0 for upgrade and degrade).
    pub times: i64,
    /// The product and members.
    pub products: Vec<OrderLineView>,
    /// What the order costs, CNY (0.00 for a degrade).
    #[schema(example = "1080.00")]
    pub amount: String,
    /// Always `CNY`.
    pub currency: &'static str,
    /// The catalogue version of the prices.
    pub catalogue_version: String,
    /// Always null: no coupons are offered.
    #[schema(value_type = Option<String>)]
    pub coupon: Option<String>,
    /// `pending`, `paid`, `expired`, `cancelled`, `scheduled` or `completed` (a pending order
    /// past `expires_at` shows `expired`).
    #[schema(example = "pending")]
    pub status: String,
    /// The paid period renewed, upgraded, degraded or started.
    pub period_id: Option<String>,
    /// How an upgrade was priced.
    pub proration: Option<ProrationView>,
    /// When a degrade takes effect (the period's end).
    pub effective_at: Option<DateTime<Utc>>,
    /// A pending order's payment deadline.
    pub expires_at: Option<DateTime<Utc>>,
    /// `balance`, `alipay`, `wxpay` or `banktrans`, once paid.
    pub payment_method: Option<String>,
    /// The external payment that paid it.
    #[serde(rename = "paymentId")]
    pub payment_id: Option<String>,
    /// When it was paid.
    pub paid_at: Option<DateTime<Utc>>,
    /// Placed (null in a prepared order).
    pub date_create: Option<DateTime<Utc>>,
}

fn shown_status(status: &str, expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    if status == "pending" && expires_at.is_some_and(|e| now >= e) {
        "expired".into()
    } else {
        status.into()
    }
}

fn proration_view(p: &tessera_domain::plans::order::Proration) -> ProrationView {
    ProrationView {
        from_plan: p.from_plan.as_str().into(),
        from_member_count: i64::from(p.from_member_count),
        from_price: format_fen(p.from_unit_price),
        period_months: i64::from(p.period_months),
        remaining_secs: p.remaining_secs,
        period_secs: p.period_secs,
    }
}

/// The view of a quote (`order_id` none for a prepared order).
fn quote_view(q: &Quote, company_id: &str, user_id: &str) -> OrderView {
    OrderView {
        _id: None,
        company_id: company_id.into(),
        user_id: user_id.into(),
        order_type: q.order_type.as_str().into(),
        plan: q.plan.as_str().into(),
        member_count: i64::from(q.member_count),
        times: i64::from(q.months),
        products: vec![OrderLineView {
            _id: q.product.id.to_string(),
            product_no: q.product.product_no.clone(),
            title: q.product.title.clone(),
            quantity: i64::from(q.member_count),
            price: format_fen(q.unit_price_fen),
        }],
        amount: format_fen(q.amount_fen),
        currency: "CNY",
        catalogue_version: q.catalogue_version.clone(),
        coupon: None,
        status: if q.effective_at.is_some() {
            OrderStatus::Scheduled.as_str().into()
        } else {
            OrderStatus::Pending.as_str().into()
        },
        period_id: q.period_id.as_ref().map(ToString::to_string),
        proration: q.proration.as_ref().map(proration_view),
        effective_at: q.effective_at,
        expires_at: None,
        payment_method: None,
        payment_id: None,
        paid_at: None,
        date_create: None,
    }
}

/// The view of an order as its events say, at `now`.
pub fn state_view(o: &OrderState, now: DateTime<Utc>) -> OrderView {
    let mut v = quote_view(&o.quote, o.company_id.as_str(), o.user_id.as_str());
    v._id = Some(o.order_id.to_string());
    v.status = shown_status(o.status.as_str(), o.expires_at, now);
    v.expires_at = o.expires_at;
    v.date_create = Some(o.placed_at);
    if let Some((method, payment, at)) = &o.paid {
        v.payment_method = Some(method.as_str().into());
        v.payment_id = payment.as_ref().map(ToString::to_string);
        v.paid_at = Some(*at);
    }
    v
}

/// The view of an order row of the read model, at `now`.
pub fn row_view(r: &OrderRow, now: DateTime<Utc>) -> OrderView {
    let proration = r
        .proration
        .as_deref()
        .and_then(|p| serde_json::from_str::<tessera_domain::plans::order::Proration>(p).ok());
    OrderView {
        _id: Some(r.order_id.clone()),
        company_id: r.company_id.clone(),
        user_id: r.user_id.clone(),
        order_type: r.order_type.clone(),
        plan: r.plan.clone(),
        member_count: r.member_count,
        times: r.months,
        products: vec![OrderLineView {
            _id: r.product_id.clone(),
            product_no: r.product_no.clone(),
            title: r.product_title.clone(),
            quantity: r.member_count,
            price: format_fen(r.unit_price),
        }],
        amount: format_fen(r.amount),
        currency: "CNY",
        catalogue_version: r.catalogue_version.clone(),
        coupon: None,
        status: shown_status(&r.status, r.expires_at, now),
        period_id: r.period_id.clone(),
        proration: proration.as_ref().map(proration_view),
        effective_at: r.effective_at,
        expires_at: r.expires_at,
        payment_method: r.payment_method.clone(),
        payment_id: r.payment_id.clone(),
        paid_at: r.paid_at,
        date_create: Some(r.date_create),
    }
}

/// The body of `POST /order` and `POST /order/prepare` (seed 004).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct OrderBody {
    /// `pro` or `ent` (newly, upgrade, degrade; renewal and patch keep the plan).
    plan: Option<String>,
    /// `newly` (or `new`), `renewal`, `upgrade`, `degrade` or `patch`.
    order_type: String,
    /// Months, 1–36 (newly, renewal; patch defaults to 1; not for upgrade and degrade).
    times: Option<i64>,
    /// Exactly one line `{product_no, quantity}`: the plan's product and the members (newly,
    /// upgrade, degrade).
    products: Option<Vec<serde_json::Value>>,
    /// Refused when given: no coupons are offered.
    coupon: Option<String>,
}

/// `limits` of a prepared order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LimitsView {
    /// The most members the plan allows (owners included).
    pub member_count: i64,
    /// Members the company has now (a degrade may not go below).
    pub member_min: i64,
}

/// `POST /order/prepare` (seed 004).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[allow(non_snake_case)]
pub struct PrepareView {
    /// Whether `POST /order` would accept the same body now.
    pub isValid: bool,
    /// Why not (null when valid).
    pub error: Option<String>,
    /// The error code `POST /order` would answer (`invalid_field`, `degrade_scheduled`,
    /// `not_certified`, `conflict`).
    pub code: Option<String>,
    /// The field at fault, for `invalid_field`.
    pub field: Option<String>,
    /// Member limits.
    pub limits: LimitsView,
    /// The order as it would be stored (not stored: `_id` null), when valid.
    pub order: Option<OrderView>,
}

/// Validate and price an order without storing anything (owners).
#[utoipa::path(
    post,
    path = "/company/{companyId}/plan/order/prepare",
    operation_id = "prepareOrder",
    tag = tags::ORDERS,
    summary = "Check and price an order without storing it (owners only)",
    security(("bearerAuth" = [])),
    params(("companyId" = String, Path, description = "24-hex company id")),
    request_body = OrderBody,
    responses(
        (status = 200, description = "Valid or not, with the reason and the priced order", body = PrepareView),
        (status = 400, description = "The body is not a JSON object", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn prepare(
    State(state): State<AppState>,
    c: PlansCaller,
    Path(company_id): Path<String>,
    PlansJson(body): PlansJson,
) -> Result<Json<PrepareView>, PlansApiError> {
    let plans = &state.services.plans;
    let m = plans.membership(&company_id, c.user_id).await?;
    let prepared = plans.prepare_order(&m, &body).await?;
    let limits = LimitsView {
        member_count: i64::from(prepared.member_limit),
        member_min: i64::from(prepared.members_now),
    };
    Ok(Json(match prepared.quote {
        Ok(q) => PrepareView {
            isValid: true,
            error: None,
            code: None,
            field: None,
            limits,
            order: Some(quote_view(&q, m.company_id.as_str(), m.user_id.as_str())),
        },
        Err(e @ (PlansError::Engine(_) | PlansError::Identity(_) | PlansError::Blob(_))) => {
            return Err(e.into());
        }
        Err(e) => {
            let e = PlansApiError::from(e);
            PrepareView {
                isValid: false,
                error: Some(e.message),
                code: Some(e.code.into()),
                field: e.field,
                limits,
                order: None,
            }
        }
    }))
}

/// Place an order (owners): `pending` until paid or expired (a degrade: `scheduled`).
#[utoipa::path(
    post,
    path = "/company/{companyId}/plan/order",
    operation_id = "placeOrder",
    tag = tags::ORDERS,
    summary = "Place an order (owners only); supersedes the pending one",
    security(("bearerAuth" = [])),
    params(("companyId" = String, Path, description = "24-hex company id")),
    request_body = OrderBody,
    responses(
        (status = 201, description = "The order", body = OrderView),
        (status = 400, description = "A field is missing or invalid (`field` names it; `coupon`: none are offered)", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "`degrade_scheduled` (cancel it first), `not_certified`, or `conflict` (the type does not fit the plan now)", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn place(
    State(state): State<AppState>,
    rid: RequestId,
    c: PlansCaller,
    Path(company_id): Path<String>,
    PlansJson(body): PlansJson,
) -> Result<(StatusCode, Json<OrderView>), PlansApiError> {
    let m = state
        .services
        .plans
        .owner_membership(&company_id, c.user_id)
        .await?;
    let plans = &state.services.plans;
    let (order_id, position) = plans
        .place_order(&m, &body, &rid.metadata(Some(c.user_id.to_string())))
        .await?;
    read_your_writes(&state, position).await;
    let order = plans.order(&m.company_id, &order_id).await?;
    Ok((StatusCode::CREATED, Json(state_view(&order, plans.now()))))
}

/// A page of orders (seed 004 `GET /order`, paged like `GET /recharge`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderPage {
    /// The page, from 1.
    pub page: i64,
    /// Orders per page.
    pub pagesize: i64,
    /// Orders in all.
    pub totalrows: i64,
    /// Newest first.
    pub list: Vec<OrderView>,
}

/// `page` (default 1) and `pagesize` (default 20, at most 100) of a query
/// ([`super::error::page_params`]).
pub fn paging(
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<(i64, i64), PlansApiError> {
    let Query(q) = q.map_err(|e| PlansApiError::field("query", e.body_text()))?;
    super::error::page_params(&q)
}

/// The company's orders, newest first (members).
#[utoipa::path(
    get,
    path = "/company/{companyId}/plan/order",
    operation_id = "listOrders",
    tag = tags::ORDERS,
    summary = "Orders, newest first, paged (members only)",
    security(("bearerAuth" = [])),
    params(
        ("companyId" = String, Path, description = "24-hex company id"),
        ("page" = Option<i64>, Query, description = "From 1 (default 1)"),
        ("pagesize" = Option<i64>, Query, description = "1–100 (default 20)"),
    ),
    responses(
        (status = 200, description = "A page of orders", body = OrderPage),
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
) -> Result<Json<OrderPage>, PlansApiError> {
    let plans = &state.services.plans;
    let m = plans.membership(&company_id, c.user_id).await?;
    let (page, pagesize) = paging(q)?;
    let (rows, total) = state
        .services
        .plans_queries
        .orders(m.company_id.as_str(), (page - 1) * pagesize, pagesize)
        .await?;
    let now = plans.now();
    Ok(Json(OrderPage {
        page,
        pagesize,
        totalrows: total,
        list: rows.iter().map(|r| row_view(r, now)).collect(),
    }))
}

/// The company's pending (unpaid, not expired) order (members); 404 when none.
#[utoipa::path(
    get,
    path = "/company/{companyId}/plan/order/pending",
    operation_id = "pendingOrder",
    tag = tags::ORDERS,
    summary = "The order awaiting payment (members only)",
    security(("bearerAuth" = [])),
    params(("companyId" = String, Path, description = "24-hex company id")),
    responses(
        (status = 200, description = "The pending order", body = OrderView),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such company, not a member, or no pending order", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn pending(
    State(state): State<AppState>,
    c: PlansCaller,
    Path(company_id): Path<String>,
) -> Result<Json<OrderView>, PlansApiError> {
    let plans = &state.services.plans;
    let m = plans.membership(&company_id, c.user_id).await?;
    let id = plans
        .pending_order_id(&m.company_id)
        .await?
        .ok_or(PlansError::NotFound(Missing::Order))?;
    let order = plans.order(&m.company_id, &id).await?;
    let now = plans.now();
    if order.status != OrderStatus::Pending || order.expires_at.is_some_and(|e| now >= e) {
        return Err(PlansError::NotFound(Missing::Order).into());
    }
    Ok(Json(state_view(&order, now)))
}

fn order_id(raw: &str) -> Result<ObjectId, PlansApiError> {
    ObjectId::parse(raw).map_err(|_| PlansError::NotFound(Missing::Order).into())
}

/// One order of the company (members).
#[utoipa::path(
    get,
    path = "/company/{companyId}/plan/order/{orderId}",
    operation_id = "getOrder",
    tag = tags::ORDERS,
    summary = "An order (members only)",
    security(("bearerAuth" = [])),
    params(
        ("companyId" = String, Path, description = "24-hex company id"),
        ("orderId" = String, Path, description = "24-hex order id"),
    ),
    responses(
        (status = 200, description = "The order", body = OrderView),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such company or order, or not a member", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn detail(
    State(state): State<AppState>,
    c: PlansCaller,
    Path((company_id, raw)): Path<(String, String)>,
) -> Result<Json<OrderView>, PlansApiError> {
    let plans = &state.services.plans;
    let m = plans.membership(&company_id, c.user_id).await?;
    let order = plans.order(&m.company_id, &order_id(&raw)?).await?;
    Ok(Json(state_view(&order, plans.now())))
}

/// The body of the pay routes (or none, with `?payment_method=` in the query string).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct PayBody {
    /// `balance`, `alipay`, `wxpay` or `banktrans`.
    payment_method: String,
}

/// What paying answers: the order, and for an external payment its id and QR code content.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PayView {
    /// The order (`paid` at once with `balance`; still `pending` until an external payment
    /// succeeds).
    pub order: OrderView,
    /// `balance`, `alipay`, `wxpay` or `banktrans`.
    pub payment_method: String,
    /// The external payment (staff confirm bank transfers by it); null for `balance`.
    #[serde(rename = "paymentId")]
    pub payment_id: Option<String>,
    /// What the payer scans (WeChat Pay `code_url`, Alipay `qr_code`); null otherwise.
    pub code_url: Option<String>,
    /// CNY to pay.
    pub amount: String,
}

/// The input of `POST /order/:orderId/pay` and `POST /order/pending/pay`: the JSON object body
/// `{payment_method}` (as for [`PlansJson`]), or no body at all. The seed writes the second route
/// as `POST /plan/order/pending/pay?`, so `payment_method` is also read from the query string
/// when the body does not name it; a malformed query string is a 400 on `payment_method`.
#[derive(Debug)]
struct PayInput(serde_json::Map<String, serde_json::Value>);

impl<S: Send + Sync> FromRequest<S> for PayInput {
    type Rejection = PlansApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Query(query) = Query::<HashMap<String, String>>::try_from_uri(req.uri())
            .map_err(|_| PlansApiError::field("payment_method", "malformed query string"))?;
        let bytes = body::read(req, state, false).await?;
        let mut map = if bytes.iter().all(u8::is_ascii_whitespace) {
            serde_json::Map::new()
        } else {
            match body::parse_json::<serde_json::Value>(&bytes)? {
                serde_json::Value::Object(map) => map,
                _ => return Err(PlansApiError::field("body", "must be a JSON object")),
            }
        };
        if let (false, Some(method)) = (
            map.contains_key("payment_method"),
            query.get("payment_method"),
        ) {
            map.insert("payment_method".into(), method.clone().into());
        }
        Ok(PayInput(map))
    }
}

async fn pay_with(
    state: &AppState,
    rid: &RequestId,
    c: &PlansCaller,
    company_id: &str,
    order: Option<&str>,
    body: &serde_json::Map<String, serde_json::Value>,
) -> Result<Json<PayView>, PlansApiError> {
    let m = state
        .services
        .plans
        .owner_membership(company_id, c.user_id)
        .await?;
    let order = order.map(order_id).transpose()?;
    let method = required_text(body, "payment_method")?;
    let plans = &state.services.plans;
    let (order_id, payment) = plans
        .pay_order(
            &m,
            order.as_ref(),
            &method,
            &rid.metadata(Some(c.user_id.to_string())),
        )
        .await?;
    let (payment_id, code_url) = match payment {
        Payment::Balance(position) => {
            read_your_writes(state, position).await;
            (None, None)
        }
        Payment::External(p) => {
            read_your_writes(state, p.position).await;
            (Some(p.payment_id.to_string()), p.code_url)
        }
    };
    let order = plans.order(&m.company_id, &order_id).await?;
    let view = state_view(&order, plans.now());
    Ok(Json(PayView {
        amount: view.amount.clone(),
        order: view,
        payment_method: method,
        payment_id,
        code_url,
    }))
}

/// Pay an order (owners): `balance` at once from the wallet (granted credit first), or open an
/// `alipay`/`wxpay`/`banktrans` payment.
#[utoipa::path(
    post,
    path = "/company/{companyId}/plan/order/{orderId}/pay",
    operation_id = "payOrder",
    tag = tags::ORDERS,
    summary = "Pay an order (owners only)",
    security(("bearerAuth" = [])),
    params(
        ("companyId" = String, Path, description = "24-hex company id"),
        ("orderId" = String, Path, description = "24-hex order id"),
        ("payment_method" = Option<String>, Query, description = "Used when the body does not name it"),
    ),
    request_body = PayBody,
    responses(
        (status = 200, description = "Paid (balance) or payment opened", body = PayView),
        (status = 400, description = "`payment_method` missing or unknown (or not available)", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such company or order, or not a member", body = ErrorBody),
        (status = 409, description = "`already_paid`, `not_payable` (expired, cancelled, a degrade), `insufficient_balance`, or `conflict` (the order no longer fits the plan)", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn pay(
    State(state): State<AppState>,
    rid: RequestId,
    c: PlansCaller,
    Path((company_id, raw)): Path<(String, String)>,
    PayInput(body): PayInput,
) -> Result<Json<PayView>, PlansApiError> {
    pay_with(&state, &rid, &c, &company_id, Some(&raw), &body).await
}

/// Pay the company's pending order (owners; seed 004 `POST /order/pending/pay`).
#[utoipa::path(
    post,
    path = "/company/{companyId}/plan/order/pending/pay",
    operation_id = "payPendingOrder",
    tag = tags::ORDERS,
    summary = "Pay the pending order (owners only)",
    security(("bearerAuth" = [])),
    params(
        ("companyId" = String, Path, description = "24-hex company id"),
        ("payment_method" = Option<String>, Query, description = "Used when the body does not name it (the seed writes `POST /order/pending/pay?`)"),
    ),
    request_body = PayBody,
    responses(
        (status = 200, description = "Paid (balance) or payment opened", body = PayView),
        (status = 400, description = "`payment_method` missing or unknown (or not available)", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such company, not a member, or no pending order", body = ErrorBody),
        (status = 409, description = "`not_payable`, `insufficient_balance` or `conflict`", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn pay_pending(
    State(state): State<AppState>,
    rid: RequestId,
    c: PlansCaller,
    Path(company_id): Path<String>,
    PayInput(body): PayInput,
) -> Result<Json<PayView>, PlansApiError> {
    pay_with(&state, &rid, &c, &company_id, None, &body).await
}

/// Cancel the scheduled downgrade (owners; seed 004 `DELETE /degrade`).
#[utoipa::path(
    delete,
    path = "/company/{companyId}/plan/degrade",
    operation_id = "cancelDegrade",
    tag = tags::ORDERS,
    summary = "Cancel the scheduled downgrade (owners only)",
    security(("bearerAuth" = [])),
    params(("companyId" = String, Path, description = "24-hex company id")),
    responses(
        (status = 204, description = "Cancelled: the degrade order is `cancelled`, the plan stays"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such company, not a member, or no downgrade scheduled", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn cancel_degrade(
    State(state): State<AppState>,
    rid: RequestId,
    c: PlansCaller,
    Path(company_id): Path<String>,
) -> Result<StatusCode, PlansApiError> {
    let m = state
        .services
        .plans
        .owner_membership(&company_id, c.user_id)
        .await?;
    let position = state
        .services
        .plans
        .cancel_degrade(&m, &rid.metadata(Some(c.user_id.to_string())))
        .await?;
    read_your_writes(&state, position).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `degrade` of `GET /plan/status` (seed 004 shape).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DegradeView {
    /// The downgrade's id.
    pub _id: String,
    /// Its order.
    pub order: DegradeOrderView,
    /// When it takes effect: the current period's end.
    pub time: DateTime<Utc>,
    /// When it was scheduled.
    pub date_create: DateTime<Utc>,
    /// Always `actived` while scheduled.
    pub status: String,
}

/// `degrade.order` of `GET /plan/status`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DegradeOrderView {
    /// The degrade order.
    pub _id: String,
    /// The plan from then on.
    pub plan: String,
    /// Members from then on (a string, as the seed types it).
    pub member_count: String,
}

/// The `degrade` of a scheduled degrade order row.
pub fn degrade_view(r: &OrderRow) -> Option<DegradeView> {
    Some(DegradeView {
        _id: r.degrade_id.clone()?,
        order: DegradeOrderView {
            _id: r.order_id.clone(),
            plan: r.plan.clone(),
            member_count: r.member_count.to_string(),
        },
        time: r.effective_at?,
        date_create: r.date_create,
        status: "actived".into(),
    })
}
