//! Orders (seed 003 §6), read side: `GET /v1/orders` (the caller's, filter `status`, paged, newest
//! first) and `GET /v1/orders/{orderId}` (the owner's or any for an admin; someone else's order is a
//! 404, never a 403). Placing and cancelling are command routes.

use super::common::{OtCaller, page_request, parse_id};
use super::envelope::ok;
use super::error::{ErrorBody, OtError};
use super::openapi::{InternalError, ServiceUnavailable, tags};
use super::views::{
    OrderDetail, OrderDetailResponse, OrderStatus, OrderSummary, OrderSummaryPageResponse, Page,
};
use crate::http::Caller;
use crate::startup::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::HashMap;
use tessera_projections::openticket::OrderRow;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Routes of this module, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list))
        .routes(routes!(detail))
}

/// §6.4: 200 `{items: [{orderId, event: {eventId, name}, session: {sessionId, startTime},
/// seatCount, totalAmount, status, createdAt}], pagination}`.
#[utoipa::path(
    get,
    path = "/v1/orders",
    operation_id = "listOrders",
    tag = tags::ORDERS,
    summary = "The caller's orders",
    security(("bearerAuth" = [])),
    params(
        ("page" = Option<u32>, Query, description = "Page number, from 1 (default 1)", minimum = 1),
        ("pageSize" = Option<u32>, Query, description = "Items per page, 1–100 (default 20)", minimum = 1, maximum = 100),
        ("status" = Option<OrderStatus>, Query, description = "Only orders with this status"),
    ),
    responses(
        (status = 200, description = "One page of the caller's orders, newest first", body = OrderSummaryPageResponse),
        (status = 400, description = "VALIDATION_ERROR naming the bad query parameter", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, malformed, forged or expired access token", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
async fn list(
    State(state): State<AppState>,
    caller: OtCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, OtError> {
    let page = page_request(&query)?;
    let status = query
        .get("status")
        .map(|s| {
            s.parse().map_err(|_| {
                OtError::validation(
                    "status",
                    "must be Created, Paid, Completed, Cancelled or Expired",
                )
            })
        })
        .transpose()?;
    let orders = state
        .services
        .openticket_queries
        .orders_of_user(caller.user_id.as_uuid(), status, page)
        .await?;
    Ok(ok(StatusCode::OK, Page::<OrderSummary>::from(orders)))
}

/// The order if the caller may see it (owner or admin), else 404.
pub async fn visible_order(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
) -> Result<OrderRow, OtError> {
    let id: Uuid = parse_id("orderId", raw_id)?;
    match state.services.openticket_queries.order(id).await? {
        Some(order) if order.user_id == caller.user_id.as_uuid() || caller.is_admin() => Ok(order),
        _ => Err(OtError::not_found("order", raw_id)),
    }
}

/// §6.2: 200 `{orderId, status, items: [{seatId, price, ticketId?}], totalAmount, payment:
/// {paymentId, provider, status, paidAt?, paymentUrl}, refundRequired, createdAt, expiresAt,
/// completedAt?, cancelledAt?}`; 404.
#[utoipa::path(
    get,
    path = "/v1/orders/{orderId}",
    operation_id = "getOrder",
    tag = tags::ORDERS,
    summary = "An order",
    security(("bearerAuth" = [])),
    params(("orderId" = Uuid, Path, description = "The order")),
    responses(
        (status = 200, description = "The order", body = OrderDetailResponse),
        (status = 400, description = "VALIDATION_ERROR: `orderId` is not a UUID", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, malformed, forged or expired access token", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such order, or another user's (admins see all)", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id, order_id = %order_id))]
async fn detail(
    State(state): State<AppState>,
    caller: OtCaller,
    Path(order_id): Path<String>,
) -> Result<Response, OtError> {
    let order = visible_order(&state, &caller, &order_id).await?;
    Ok(ok(StatusCode::OK, OrderDetail::from(order)))
}
