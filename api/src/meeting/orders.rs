//! Seed 000 §5 and §7: `POST /orders`, `GET /orders`, `GET /orders/:id`, `PATCH /orders/:id`,
//! `POST /transactions`, `POST /third_party_transactions`, and WeChat Pay's payment notification
//! `POST /wechatpay/notify` (the `notify_url` Tessera gives WeChat Pay).

use super::error::{MtCaller, MtError, MtJson};
use super::meetings::{path_id, yuan};
use super::openapi::{InternalError, ServiceUnavailable, Unauthorized, tags};
use super::views::{
    ErrorBody, OrderStatusName, OrderView, TransactionInfoView, WechatPayAck, WechatPayParams,
    Yuan, yuan_input_schema,
};
use crate::http::RequestId;
use crate::http::{accepted, idempotent, read_after_write, read_your_effects};
use crate::startup::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use tessera_application::meeting::{
    MAX_ORDER_LINES, MAX_TICKETS_PER_LINE, MeetingServiceError, Missing, NewOrder, OrderLineInput,
};
use tessera_application::payments::wechatpay::{TradeState, WechatPaySignatureHeaders};
use tessera_domain::identity::Role;
use tessera_domain::meeting::order::OrderStatus;
use tessera_domain::meeting::{MeetingId, MeetingOrderId, TicketGradeId};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Routes of this module, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(idempotent::<MtError>(routes!(list, create)))
        .routes(routes!(detail, cancel))
        .routes(idempotent::<MtError>(routes!(transactions)))
        .routes(idempotent::<MtError>(routes!(third_party)))
        .routes(routes!(wechatpay_notify))
}

/// The WeChat openid the caller's account holds (WeChat Pay's payer), if any.
async fn payer_openid(state: &AppState, c: &MtCaller) -> Result<Option<String>, MtError> {
    let user = state.services.phone_signin.user(c.user_id).await?;
    Ok(user.and_then(|u| u.wechat_id))
}

/// The body of a `202 Accepted` after a write (docs/decisions/0011-answer-after-write.md): the id
/// of the meeting, order or ticket written; the whole is readable at `Location` shortly.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WriteAccepted)]
pub struct Accepted {
    /// The meeting, order or ticket the command wrote.
    pub id: Uuid,
}

/// `202 Accepted` for an order whose committed change the read models do not show yet:
/// `{"id"}` and `Location: location` (docs/decisions/0011-answer-after-write.md).
fn pending(location: &str, id: Uuid) -> Response {
    accepted(Json(Accepted { id }).into_response(), location)
}

async fn order_response(
    state: &AppState,
    c: &MtCaller,
    id: Uuid,
    position: Option<u64>,
    status: StatusCode,
) -> Result<Response, MtError> {
    let queries = &state.services.meeting_queries;
    let order = if position.is_some() {
        // A payment starts ticket issuing: wait for its tickets too (decisions/0011).
        read_your_effects(state, position).await;
        match read_after_write(state, None, queries.order(id)).await {
            Some(o) => Some(o),
            // The caller's command on it committed; not readable yet: 202, never an error.
            None => return Ok(pending(&format!("/orders/{id}"), id)),
        }
    } else {
        queries.order(id).await?
    };
    match order {
        Some(o) if o.user_id == c.user_id.as_uuid() || c.has(Role::Admin) => {
            Ok((status, Json(OrderView::from_row(o)?)).into_response())
        }
        _ => Err(MtError::NotFound(format!("order {id} not found"))),
    }
}

/// An order line of `POST /orders`: `{ticketGradeId, ticketPrice, ticketAmount, meetingId?}`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = OrderItemRequest)]
struct ItemBody {
    /// Ticket grade id.
    ticket_grade_id: Uuid,
    /// The grade's current price of one ticket, in yuan (a stale price is a 400 naming it).
    #[schema(schema_with = yuan_input_schema)]
    ticket_price: Value,
    /// Number of tickets, 1 to 50.
    #[schema(minimum = 1, maximum = 50)]
    ticket_amount: i64,
    /// The order's meeting, if repeated here.
    meeting_id: Option<Uuid>,
}

/// `POST /orders` (seed 000 §5): `{items, meetingId, paymentMethodId}`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = OrderRequest)]
struct OrderBody {
    /// One to 20 lines.
    items: Vec<ItemBody>,
    /// Meeting id (an unknown one is a 400 naming `meetingId`).
    meeting_id: Uuid,
    /// One of `GET /payment_methods`' ids.
    #[schema(example = "mock")]
    payment_method_id: String,
}

fn lines(body: &OrderBody) -> Result<Vec<OrderLineInput>, MtError> {
    if body.items.is_empty() {
        return Err(MtError::field("items", "至少需要一项"));
    }
    if body.items.len() > MAX_ORDER_LINES {
        return Err(MtError::field("items", format!("最多{MAX_ORDER_LINES}项")));
    }
    body.items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            if item.meeting_id.is_some_and(|m| m != body.meeting_id) {
                return Err(MtError::field(
                    format!("items[{i}].meetingId"),
                    "与订单的 meetingId 不一致",
                ));
            }
            if !(1..=i64::from(MAX_TICKETS_PER_LINE)).contains(&item.ticket_amount) {
                return Err(MtError::field(
                    format!("items[{i}].ticketAmount"),
                    format!("应为 1 到 {MAX_TICKETS_PER_LINE} 的整数"),
                ));
            }
            Ok(OrderLineInput {
                ticket_grade_id: TicketGradeId::from_uuid(item.ticket_grade_id),
                ticket_price: yuan(&format!("items[{i}].ticketPrice"), &item.ticket_price)?,
                ticket_amount: item.ticket_amount as u32,
            })
        })
        .collect()
}

/// §5: 201 order `{id, items, meetingId, paymentMethodId, duyPayment, status: '待支付',
/// transaction: {thirdPartyTransactionInfo}, …}`; 400 'No Stock' with `errors.items[].amount`;
/// 400 'Validation Error' naming the field (a price that is not the grade's current one names
/// `items[i].ticketPrice`; an unknown meeting names `meetingId`).
#[utoipa::path(
    post,
    path = "/orders",
    operation_id = "createOrder",
    tag = tags::ORDERS,
    summary = "Order tickets",
    description = "Reserves the tickets until the order expires (15 minutes by default) and, for \
        WeChat Pay, opens the payment: `transaction.thirdPartyTransactionInfo` holds what the \
        mini-program passes to `wx.requestPayment`.",
    security(("bearerAuth" = []), ("accessTokenCookie" = [])),
    request_body = OrderBody,
    responses(
        (status = 201, description = "The order, 待支付", body = OrderView),
        (status = 202, description = "Committed, but not readable yet: read it at `Location` shortly; never repeat the POST (docs/decisions/0011-answer-after-write.md)", body = Accepted, headers(("Location" = String, description = "Where the result will be readable"), ("Retry-After" = u32, description = "Seconds to wait: 1"))),
        (status = 400, description = "'No Stock' (`errors.items[i].amount`: how many of line i's grade remain) or 'Validation Error' naming the field; `payload` is the submitted order", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 502, description = "'Bad Gateway': WeChat Pay could not open the payment", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn create(
    State(state): State<AppState>,
    rid: RequestId,
    c: MtCaller,
    MtJson(body, raw): MtJson<OrderBody>,
) -> Result<Response, MtError> {
    let lines = lines(&body).map_err(|e| e.with_payload(&raw))?;
    let order = NewOrder {
        meeting_id: MeetingId::from_uuid(body.meeting_id),
        payment_method_id: body.payment_method_id.trim().to_owned(),
        lines,
        payer_openid: payer_openid(&state, &c).await?,
    };
    let meta = rid.metadata(Some(c.user_id.to_string()));
    let (id, pos) = state
        .services
        .meetings
        .place_order(c.user_id, order, &meta)
        .await
        .map_err(|e| match e {
            MeetingServiceError::NotFound(Missing::Meeting) => {
                MtError::field("meetingId", "会议不存在").with_payload(&raw)
            }
            other => MtError::from(other).with_payload(&raw),
        })?;
    order_response(&state, &c, id.as_uuid(), pos, StatusCode::CREATED).await
}

/// §5.1: 200 the caller's orders, newest first; query `status` (one of the document's strings).
#[utoipa::path(
    get,
    path = "/orders",
    operation_id = "listOrders",
    tag = tags::ORDERS,
    summary = "The caller's orders, newest first",
    security(("bearerAuth" = []), ("accessTokenCookie" = [])),
    params(("status" = Option<OrderStatusName>, Query, description = "Only orders with this status")),
    responses(
        (status = 200, description = "The caller's orders", body = Vec<OrderView>),
        (status = 400, description = "'Validation Error' naming `status`", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn list(
    State(state): State<AppState>,
    c: MtCaller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, MtError> {
    let status = q.get("status").map(String::as_str);
    if let Some(s) = status
        && OrderStatus::parse(s).is_none()
    {
        return Err(MtError::field(
            "status",
            "应为 待支付、已支付、已取消、已过期 或 待退款",
        ));
    }
    let rows = state
        .services
        .meeting_queries
        .orders_of(c.user_id.as_uuid(), status)
        .await?;
    let orders = rows
        .into_iter()
        .map(OrderView::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(orders).into_response())
}

/// §5.2: 200 order; 404 for an unknown order or another user's.
#[utoipa::path(
    get,
    path = "/orders/{id}",
    operation_id = "getOrder",
    tag = tags::ORDERS,
    summary = "An order",
    security(("bearerAuth" = []), ("accessTokenCookie" = [])),
    params(("id" = Uuid, Path, description = "The order")),
    responses(
        (status = 200, description = "The order", body = OrderView),
        (status = 401, response = Unauthorized),
        (status = 404, description = "'Not Found': no such order, or another user's (admins see all)", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn detail(
    State(state): State<AppState>,
    c: MtCaller,
    Path(id): Path<String>,
) -> Result<Response, MtError> {
    let id = path_id("order", &id)?;
    order_response(&state, &c, id, None, StatusCode::OK).await
}

/// `PATCH /orders/:id` (seed 000 §5.3): `{status: '已取消'}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OrderPatchRequest)]
struct PatchBody {
    /// Only `已取消` (cancel) is accepted.
    #[schema(example = "已取消")]
    status: String,
}

/// §5.3: `{status: '已取消'}` → 200 order (stock returned); any other change, or an order that is
/// not 待支付, is a 400 naming `status`.
#[utoipa::path(
    patch,
    path = "/orders/{id}",
    operation_id = "cancelOrder",
    tag = tags::ORDERS,
    summary = "Cancel an unpaid order (the only change the document allows)",
    security(("bearerAuth" = []), ("accessTokenCookie" = [])),
    params(("id" = Uuid, Path, description = "The order")),
    request_body = PatchBody,
    responses(
        (status = 200, description = "The order, 已取消 (cancelling twice changes nothing); its tickets return to stock", body = OrderView),
        (status = 400, description = "'Validation Error' naming `status`: another status, or an order that is not 待支付", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "'Not Found': no such order, or another user's", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn cancel(
    State(state): State<AppState>,
    rid: RequestId,
    c: MtCaller,
    Path(id): Path<String>,
    MtJson(body, raw): MtJson<PatchBody>,
) -> Result<Response, MtError> {
    let id = path_id("order", &id)?;
    if body.status != OrderStatus::Cancelled.as_str() {
        return Err(MtError::field("status", "只能将订单状态改为已取消").with_payload(&raw));
    }
    let meta = rid.metadata(Some(c.user_id.to_string()));
    let pos = state
        .services
        .meetings
        .cancel_order(c.user_id, &c.roles, MeetingOrderId::from_uuid(id), &meta)
        .await
        .map_err(|e| MtError::from(e).with_payload(&raw))?;
    order_response(&state, &c, id, pos, StatusCode::OK).await
}

/// `POST /transactions` (seed 000 §7): `{orderId}`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = TransactionRequest)]
struct TransactionBody {
    /// The caller's unpaid order.
    order_id: Uuid,
}

/// §7: 201 `{orderId, amount (yuan), thirdPartyPayeeId, paymentMethodId,
/// thirdPartyTransactionInfo}`; opens the WeChat Pay order if that had failed at `POST /orders`.
#[utoipa::path(
    post,
    path = "/transactions",
    operation_id = "createTransaction",
    tag = tags::PAYMENTS,
    summary = "The payment of an order: what to pay, to whom, and how",
    security(("bearerAuth" = []), ("accessTokenCookie" = [])),
    request_body = TransactionBody,
    responses(
        (status = 201, description = "The payment; opens the WeChat Pay order if `POST /orders` could not", body = TransactionInfoView),
        (status = 202, description = "Committed, but not readable yet: read it at `Location` shortly; never repeat the POST (docs/decisions/0011-answer-after-write.md)", body = Accepted, headers(("Location" = String, description = "Where the result will be readable"), ("Retry-After" = u32, description = "Seconds to wait: 1"))),
        (status = 400, description = "'Validation Error' naming the field (an order that is not 待支付 names `orderId`)", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "'Not Found': no such order, or another user's", body = ErrorBody),
        (status = 502, description = "'Bad Gateway': WeChat Pay could not open the payment", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn transactions(
    State(state): State<AppState>,
    rid: RequestId,
    c: MtCaller,
    MtJson(body, raw): MtJson<TransactionBody>,
) -> Result<Response, MtError> {
    let payer = payer_openid(&state, &c).await?;
    let meta = rid.metadata(Some(c.user_id.to_string()));
    let (info, pos) = state
        .services
        .meetings
        .open_transaction(
            c.user_id,
            &c.roles,
            MeetingOrderId::from_uuid(body.order_id),
            payer.as_deref(),
            &meta,
        )
        .await
        .map_err(|e| MtError::from(e).with_payload(&raw))?;
    let read = state.services.meeting_queries.order(body.order_id);
    let Some(order) = read_after_write(&state, pos, read).await else {
        return Ok(pending(
            &format!("/orders/{}", body.order_id),
            body.order_id,
        ));
    };
    let third_party = order
        .third_party_transaction_info
        .map(|v| WechatPayParams::from_stored(v, format_args!("order {}", body.order_id)))
        .transpose()?;
    let view = TransactionInfoView {
        amount: Yuan::from_fen(
            info.amount
                .to_minor()
                .map_err(|e| MtError::Unavailable(e.to_string()))?,
        ),
        order_id: info.order_id.as_uuid(),
        payment_method_id: info.payment_method_id,
        third_party_payee_id: info.third_party_payee_id,
        third_party_transaction_info: third_party,
    };
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `POST /third_party_transactions` (seed 000 §7.1): `{orderId, transactionId}`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ThirdPartyTransactionRequest)]
struct ThirdPartyBody {
    /// The caller's order.
    order_id: Uuid,
    /// The payment provider's transaction id (WeChat Pay's `transaction_id`; Mock: any id starting
    /// `mock_`).
    #[schema(example = "mock_1")]
    transaction_id: String,
}

/// §7.1: the client reports a payment; it counts only once WeChat Pay's order query confirms it
/// (Mock: ids starting `mock_`). 201 the order (已支付, or 待退款 for a late payment whose tickets
/// are gone); 400 naming `transactionId` when the provider does not confirm it.
#[utoipa::path(
    post,
    path = "/third_party_transactions",
    operation_id = "reportThirdPartyTransaction",
    tag = tags::PAYMENTS,
    summary = "Report a payment the client made",
    description = "It counts only once WeChat Pay's order query confirms it (Mock: ids starting \
        `mock_`). Reporting a payment twice is harmless.",
    security(("bearerAuth" = []), ("accessTokenCookie" = [])),
    request_body = ThirdPartyBody,
    responses(
        (status = 201, description = "The order: 已支付, or 待退款 for a late payment whose tickets are gone", body = OrderView),
        (status = 202, description = "Committed, but not readable yet: read it at `Location` shortly; never repeat the POST (docs/decisions/0011-answer-after-write.md)", body = Accepted, headers(("Location" = String, description = "Where the result will be readable"), ("Retry-After" = u32, description = "Seconds to wait: 1"))),
        (status = 400, description = "'Validation Error' naming the field (`transactionId` when the provider does not confirm it)", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "'Not Found': no such order, or another user's", body = ErrorBody),
        (status = 502, description = "'Bad Gateway': WeChat Pay could not be asked", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn third_party(
    State(state): State<AppState>,
    rid: RequestId,
    c: MtCaller,
    MtJson(body, raw): MtJson<ThirdPartyBody>,
) -> Result<Response, MtError> {
    let meta = rid.metadata(Some(c.user_id.to_string()));
    let pos = state
        .services
        .meetings
        .confirm_client_payment(
            c.user_id,
            &c.roles,
            MeetingOrderId::from_uuid(body.order_id),
            &body.transaction_id,
            &meta,
        )
        .await
        .map_err(|e| MtError::from(e).with_payload(&raw))?;
    order_response(&state, &c, body.order_id, pos, StatusCode::CREATED).await
}

fn fail(status: StatusCode, message: &'static str) -> Response {
    (
        status,
        Json(WechatPayAck {
            code: "FAIL",
            message,
        }),
    )
        .into_response()
}

/// WeChat Pay's payment notification (API v3): verified (`Wechatpay-Signature`, timestamp within
/// 5 minutes) and decrypted by the WeChat Pay adapter. 204 when handled (also for repeats and for
/// events that change nothing); 401 `{"code":"FAIL"}` for a bad signature; 400 for a malformed
/// body; 500 when the store failed, so WeChat Pay retries.
#[utoipa::path(
    post,
    path = "/wechatpay/notify",
    operation_id = "wechatPayNotify",
    tag = tags::PAYMENTS,
    summary = "WeChat Pay's payment notification (Tessera's `notify_url`)",
    description = "Called by WeChat Pay, not by clients: API v3's signed, encrypted notification \
        (docs/wechatpay.md). Signed by the `Wechatpay-*` headers, not by a token.",
    params(
        ("Wechatpay-Signature" = String, Header, description = "Base64 RSA-SHA256 signature by the platform key"),
        ("Wechatpay-Timestamp" = String, Header, description = "Unix seconds; refused when more than 5 minutes off"),
        ("Wechatpay-Nonce" = String, Header, description = "Random string signed with the body"),
        ("Wechatpay-Serial" = String, Header, description = "Serial number of the platform key that signed"),
    ),
    request_body(content = Object, content_type = "application/json",
        description = "`{id, create_time, event_type, resource_type, resource: {algorithm, ciphertext, associated_data, original_type, nonce}, summary}`"),
    responses(
        (status = 204, description = "Handled (also repeats and events that change nothing)"),
        (status = 400, description = "A malformed notification", body = WechatPayAck),
        (status = 401, description = "The signature does not verify", body = WechatPayAck),
        (status = 404, description = "WeChat Pay is not configured", body = WechatPayAck),
        (status = 500, description = "Not recorded (the store failed); WeChat Pay retries", body = WechatPayAck),
    ),
)]
async fn wechatpay_notify(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(pay) = state.services.wechat_pay.clone() else {
        return fail(StatusCode::NOT_FOUND, "WeChat Pay is not configured");
    };
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let sig = WechatPaySignatureHeaders {
        timestamp: h("wechatpay-timestamp"),
        nonce: h("wechatpay-nonce"),
        signature: h("wechatpay-signature"),
        serial: h("wechatpay-serial"),
    };
    let notification = match pay.parse_notification(&sig, &body, chrono::Utc::now()) {
        Ok(n) => n,
        Err(e @ tessera_application::payments::wechatpay::WechatPayError::BadSignature(_)) => {
            tracing::warn!(error = %e, "WeChat Pay notification refused");
            return fail(StatusCode::UNAUTHORIZED, "signature verification failed");
        }
        Err(e) => {
            tracing::warn!(error = %e, "WeChat Pay notification unreadable");
            return fail(StatusCode::BAD_REQUEST, "malformed notification");
        }
    };
    let t = &notification.transaction;
    let (TradeState::Success, Some(txn)) = (t.trade_state, t.transaction_id.as_deref()) else {
        tracing::info!(event_type = %notification.event_type, "WeChat Pay notification needs no action");
        return StatusCode::NO_CONTENT.into_response();
    };
    let mut meta = tessera_application::EventMetadata::default();
    meta.extra.insert(
        "wechatpayNotificationId".into(),
        Value::String(notification.id.clone()),
    );
    let amount = t.amount_fen.unwrap_or_default();
    match state
        .services
        .meetings
        .wechat_paid(&t.out_trade_no, txn, amount, &meta)
        .await
    {
        Ok(position) => {
            // Acknowledge once the read models show the payment and the tickets it issues, so a
            // client polling its order after WeChat Pay's callback sees it paid with its tickets.
            read_your_effects(&state, position).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(MeetingServiceError::NotFound(_)) => {
            tracing::warn!(out_trade_no = %t.out_trade_no, "WeChat Pay paid an unknown order");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(
            e @ (MeetingServiceError::Order(_)
            | MeetingServiceError::Meeting(_)
            | MeetingServiceError::PaidAmount { .. }),
        ) => {
            tracing::error!(out_trade_no = %t.out_trade_no, error = %e, "WeChat Pay payment does not match its order");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "WeChat Pay notification not recorded; WeChat Pay will retry");
            fail(StatusCode::INTERNAL_SERVER_ERROR, "temporarily unavailable")
        }
    }
}
