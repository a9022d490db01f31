//! Seed 002 "订单 API": `POST /api/orders` (signed-in user), `GET /api/orders[/:id]` (admins see
//! every order, users their own; another user's is a 404), `PUT`/`DELETE /api/orders/:id`
//! (admin). Amounts are strings with two decimals (`"299.97"`, decision 0019); the embedded
//! `orderItems[].product.price` is a number like every product price. docs/shop.md, "Orders".

use super::error::{ErrorBody, ShopApiError, ShopCaller, ShopJson, not_found, require_admin};
use super::openapi::{Forbidden, ServiceUnavailable, Unauthorized, tags};
use super::views::{Yuan, millis_text, text, whole};
use crate::http::{RequestId, idempotent, read_your_writes};
use crate::startup::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use tessera_application::shop::{Missing, NewShopOrder, OrderChange, OrderItemInput};
use tessera_domain::shared::Money;
use tessera_domain::shop::order::{MAX_QUANTITY, ShopOrder, ShopOrderId};
use tessera_projections::shop::{OrderItemRow, OrderRow};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(idempotent::<ShopApiError>(routes!(
            list_orders,
            create_order
        )))
        .routes(routes!(order, update_order, delete_order))
}

/// Fen as the seed writes order amounts: a string with two decimals (`29997` → `"299.97"`).
pub fn amount_text(fen: i64) -> String {
    Decimal::new(fen, 2).to_string()
}

fn money_text(m: &Money) -> String {
    m.to_minor().map(amount_text).unwrap_or_default()
}

/// An order as `POST` and `PUT` answer it (seed 002 "创建新订单", "更新订单").
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderSummaryView {
    /// `ORDER` followed by digits (random).
    #[schema(example = "ORDER123456789012345678")]
    pub order_id: String,
    /// The buyer's `user_id`.
    pub user_id: i64,
    /// Total, yuan, a string with two decimals.
    #[schema(example = "299.97")]
    pub total_amount: String,
    /// 0 unpaid, 1 paid, 2 cancelled, 3 expired, 4 refunded.
    pub status: i32,
    /// As written (`微信支付`, `wxpay`, `会员卡`, `balance`, or an admin's `支付宝`).
    pub payment_method: String,
    /// The payment's id once paid (or as an admin set it), else null.
    pub payment_id: Option<String>,
    /// Placed.
    #[schema(example = "2023-09-15T08:00:00.000Z")]
    pub created_at: String,
    /// Last change.
    #[schema(example = "2023-09-15T08:00:00.000Z")]
    pub updated_at: String,
}

/// The buyer embedded in an order read.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderUserView {
    /// `user_id`.
    pub user_id: i64,
    /// Nickname, or null.
    pub nickname: Option<String>,
    /// Email, or null.
    pub email: Option<String>,
}

/// The product embedded in an order line: as it is now (its name and price as bought are the
/// line's `unit_price`; a product never projected shows the bought name and price).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderProductView {
    /// `product_id`.
    pub product_id: i64,
    /// Name.
    pub name: String,
    /// Price in yuan, a JSON number like every product price.
    pub price: Yuan,
}

/// One order line (seed 002 `orderItems[]`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderItemView {
    /// `order_item_id`.
    pub order_item_id: i64,
    /// Its order.
    pub order_id: String,
    /// The product.
    pub product_id: i64,
    /// Units.
    pub quantity: i64,
    /// Unit price when bought, a string with two decimals.
    #[schema(example = "99.99")]
    pub unit_price: String,
    /// `unit_price × quantity`, a string with two decimals.
    #[schema(example = "199.98")]
    pub total_price: String,
    /// The product.
    pub product: OrderProductView,
}

/// An order as `GET` answers it, with its buyer and lines (seed 002 "获取单个订单").
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderView {
    /// The order's own fields.
    #[serde(flatten)]
    pub order: OrderSummaryView,
    /// The buyer.
    pub user: OrderUserView,
    /// The lines, by `order_item_id`.
    #[serde(rename = "orderItems")]
    pub order_items: Vec<OrderItemView>,
}

impl From<&OrderRow> for OrderSummaryView {
    fn from(r: &OrderRow) -> Self {
        OrderSummaryView {
            order_id: r.order_id.clone(),
            user_id: r.user_id,
            total_amount: amount_text(r.total_fen),
            status: r.status,
            payment_method: r.payment_method.clone(),
            payment_id: r.payment_id.clone(),
            created_at: millis_text(&r.created_at),
            updated_at: millis_text(&r.updated_at),
        }
    }
}

impl From<OrderItemRow> for OrderItemView {
    fn from(r: OrderItemRow) -> Self {
        OrderItemView {
            product: OrderProductView {
                product_id: r.product_id,
                name: r.current_name.unwrap_or_else(|| r.product_name.clone()),
                price: Yuan(r.current_price_fen.unwrap_or(r.unit_price_fen)),
            },
            order_item_id: r.order_item_id,
            order_id: r.order_id,
            product_id: r.product_id,
            quantity: r.quantity,
            unit_price: amount_text(r.unit_price_fen),
            total_price: amount_text(r.total_price_fen),
        }
    }
}

fn view(row: &OrderRow, items: &mut Vec<OrderItemRow>) -> OrderView {
    let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(items)
        .into_iter()
        .partition(|i| i.order_id == row.order_id);
    *items = rest;
    OrderView {
        order: row.into(),
        user: OrderUserView {
            user_id: row.user_id,
            nickname: row.nickname.clone(),
            email: row.email.clone(),
        },
        order_items: mine.into_iter().map(OrderItemView::from).collect(),
    }
}

/// The summary of an order as decided in the event store (answered without waiting for the read
/// models, docs/decisions/0011-answer-after-write.md).
pub fn summary(order: &ShopOrder) -> Result<OrderSummaryView, ShopApiError> {
    let placed = order.placed().ok_or_else(|| not_found(Missing::Order))?;
    Ok(OrderSummaryView {
        order_id: placed.order_id.to_string(),
        user_id: i64::try_from(placed.user_id).unwrap_or(i64::MAX),
        total_amount: money_text(&placed.total_amount),
        status: order.status().map_or(0, |s| i32::from(s.number())),
        payment_method: order.payment_method().to_owned(),
        payment_id: order.payment_id().map(str::to_owned),
        created_at: millis_text(&placed.placed_at),
        updated_at: millis_text(&order.updated_at().unwrap_or(placed.placed_at)),
    })
}

fn order_id(raw: &str) -> Result<ShopOrderId, ShopApiError> {
    ShopOrderId::parse(raw).map_err(|_| not_found(Missing::Order))
}

/// The request body of `POST /api/orders`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct OrderBody {
    /// 1–50 lines; the same product twice is merged (quantities added).
    items: Vec<OrderItemBody>,
    /// `微信支付` (or `wxpay`) or `会员卡` (or `balance`).
    #[schema(example = "微信支付")]
    payment_method: String,
}

/// One requested line; any price sent is ignored (the server prices from the product).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct OrderItemBody {
    /// A live product on sale.
    product_id: u64,
    /// 1–9999 units, at most the product's stock.
    quantity: u32,
}

/// The request body of `PUT /api/orders/:id`; every field optional.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct OrderChangeBody {
    /// 1 marks an unpaid order paid, 2 cancels an unpaid one, 4 refunds a paid one (stock back
    /// for 2 and 4); the current status is always accepted.
    status: Option<u8>,
    /// `微信支付`, `wxpay`, `会员卡`, `balance`, `支付宝`, `alipay`.
    payment_method: Option<String>,
    /// The payment's id (null clears it).
    payment_id: Option<String>,
}

fn items(body: &serde_json::Map<String, Value>) -> Result<Vec<OrderItemInput>, ShopApiError> {
    let Some(Value::Array(list)) = body.get("items") else {
        return Err(ShopApiError::field("items", "应为商品数组"));
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let Value::Object(item) = item else {
            return Err(ShopApiError::field(
                format!("items[{i}]"),
                "应为 {product_id, quantity}",
            ));
        };
        let product_id = whole(item, "product_id", i64::MAX as u64)
            .map_err(|_| ShopApiError::field(format!("items[{i}].product_id"), "应为商品 ID"))?
            .flatten()
            .filter(|id| *id > 0)
            .ok_or_else(|| ShopApiError::field(format!("items[{i}].product_id"), "应为商品 ID"))?;
        let quantity = whole(item, "quantity", u64::from(MAX_QUANTITY))
            .ok()
            .flatten()
            .flatten()
            .filter(|q| *q > 0)
            .ok_or_else(|| {
                ShopApiError::field(
                    format!("items[{i}].quantity"),
                    format!("应为 1 到 {MAX_QUANTITY} 的整数"),
                )
            })?;
        out.push(OrderItemInput {
            product_id,
            quantity: u32::try_from(quantity).unwrap_or(MAX_QUANTITY),
        });
    }
    Ok(out)
}

/// Place an order: every line's stock reserved at once or none; the total computed from the
/// products' current prices; status 0 (unpaid) until paid or expired.
#[utoipa::path(
    post,
    path = "/api/orders",
    operation_id = "createOrder",
    tag = tags::ORDERS,
    summary = "Place an order (signed-in user)",
    security(("bearerAuth" = [])),
    request_body = OrderBody,
    responses(
        (status = 201, description = "The order, unpaid (status 0)", body = OrderSummaryView),
        (status = 400, description = "A field is invalid (the message names it: `items[1].quantity: 商品 2 库存不足（剩余 1）`); nothing is reserved", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "The caller never signed in to the shop (`POST /weixin-login`)", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn create_order(
    State(state): State<AppState>,
    rid: RequestId,
    c: ShopCaller,
    ShopJson(body): ShopJson,
) -> Result<Response, ShopApiError> {
    let items = items(&body)?;
    let payment_method = text(&body, "payment_method", false)?
        .flatten()
        .ok_or_else(|| ShopApiError::field("payment_method", "不能为空"))?;
    let (order, position) = state
        .services
        .shop
        .place_order(
            c.user_id,
            NewShopOrder {
                items,
                payment_method,
            },
            &rid.metadata(Some(c.user_id.to_string())),
        )
        .await?;
    read_your_writes(&state, position).await;
    Ok((StatusCode::CREATED, Json(summary(&order)?)).into_response())
}

/// Orders with their buyer and lines: every order for an admin, the caller's own otherwise.
#[utoipa::path(
    get,
    path = "/api/orders",
    operation_id = "listOrders",
    tag = tags::ORDERS,
    summary = "Orders (admin: all; user: own)",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Orders not deleted, oldest first", body = Vec<OrderView>),
        (status = 401, response = Unauthorized),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn list_orders(
    State(state): State<AppState>,
    c: ShopCaller,
) -> Result<Json<Vec<OrderView>>, ShopApiError> {
    let account = (!c.is_admin()).then(|| c.user_id.to_string());
    let q = &state.services.shop_queries;
    let rows = q.orders(account.as_deref()).await?;
    let mut items = q.order_items(account.as_deref(), None).await?;
    Ok(Json(rows.iter().map(|r| view(r, &mut items)).collect()))
}

/// One order with its buyer and lines; another user's order is a 404 to a normal user.
#[utoipa::path(
    get,
    path = "/api/orders/{id}",
    operation_id = "getOrder",
    tag = tags::ORDERS,
    summary = "One order (admin: any; user: own)",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "`order_id` (`ORDER…`)")),
    responses(
        (status = 200, description = "The order", body = OrderView),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such order, deleted, or another user's", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn order(
    State(state): State<AppState>,
    c: ShopCaller,
    Path(id): Path<String>,
) -> Result<Json<OrderView>, ShopApiError> {
    let id = order_id(&id)?;
    let q = &state.services.shop_queries;
    let row = q
        .order(id.as_str())
        .await?
        .filter(|r| c.is_admin() || r.account_id == c.user_id.to_string())
        .ok_or_else(|| not_found(Missing::Order))?;
    let mut items = q.order_items(None, Some(id.as_str())).await?;
    Ok(Json(view(&row, &mut items)))
}

/// Change status, payment method or payment id (admins only), each change an event naming the
/// admin; cancelling (2) and refunding (4) return the stock, marking paid (1) stops the expiry.
#[utoipa::path(
    put,
    path = "/api/orders/{id}",
    operation_id = "updateOrder",
    tag = tags::ORDERS,
    summary = "Change an order (admin)",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "`order_id` (`ORDER…`)")),
    request_body = OrderChangeBody,
    responses(
        (status = 200, description = "The order after the change", body = OrderSummaryView),
        (status = 400, description = "A field is invalid, or the status cannot change that way (`status: …`)", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such order (or deleted)", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn update_order(
    State(state): State<AppState>,
    rid: RequestId,
    c: ShopCaller,
    Path(id): Path<String>,
    ShopJson(body): ShopJson,
) -> Result<Response, ShopApiError> {
    require_admin(&c)?;
    let id = order_id(&id)?;
    let status = match whole(&body, "status", 4)? {
        None => None,
        Some(None) => return Err(ShopApiError::field("status", "不能为 null")),
        Some(Some(n)) => u8::try_from(n).ok(),
    };
    let change = OrderChange {
        status,
        payment_method: text(&body, "payment_method", false)?.flatten(),
        payment_id: text(&body, "payment_id", true)?,
    };
    let (order, position) = state
        .services
        .shop
        .update_order(
            c.user_id,
            &id,
            change,
            &rid.metadata(Some(c.user_id.to_string())),
        )
        .await?;
    read_your_writes(&state, position).await;
    Ok(Json(summary(&order)?).into_response())
}

/// Delete (hide) an order (admins only): 204. Its history stays; an unpaid one still expires and
/// returns its stock.
#[utoipa::path(
    delete,
    path = "/api/orders/{id}",
    operation_id = "deleteOrder",
    tag = tags::ORDERS,
    summary = "Delete an order (admin)",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "`order_id` (`ORDER…`)")),
    responses(
        (status = 204, description = "Deleted (hidden; deleting again is also 204)"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn delete_order(
    State(state): State<AppState>,
    rid: RequestId,
    c: ShopCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ShopApiError> {
    require_admin(&c)?;
    let id = order_id(&id)?;
    let position = state
        .services
        .shop
        .delete_order(c.user_id, &id, &rid.metadata(Some(c.user_id.to_string())))
        .await?;
    read_your_writes(&state, position).await;
    Ok(StatusCode::NO_CONTENT)
}
