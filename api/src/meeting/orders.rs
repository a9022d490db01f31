//! Seed 000 §5 and §7: `POST /orders`, `GET /orders`, `GET /orders/:id`, `PATCH /orders/:id`,
//! `POST /transactions`, `POST /third_party_transactions`, and WeChat Pay's payment notification
//! `POST /wechatpay/notify` (the `notify_url` Tessera gives WeChat Pay).

use super::error::{MtCaller, MtError, MtJson};
use super::meetings::{path_id, yuan_to_fen};
use crate::http::RequestId;
use crate::http::read_your_writes;
use crate::startup::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use tessera_application::meeting::{
    Caller, MAX_ORDER_LINES, MAX_TICKETS_PER_LINE, MeetingServiceError, OrderLineInput,
};
use tessera_application::payments::wechatpay::{TradeState, WechatPaySignatureHeaders};
use tessera_domain::identity::Role;
use tessera_domain::meeting::order::OrderStatus;
use tessera_domain::meeting::{MeetingId, MeetingOrderId, TicketGradeId};
use uuid::Uuid;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orders", get(list).post(create))
        .route("/orders/{id}", get(detail).patch(cancel))
        .route("/transactions", post(transactions))
        .route("/third_party_transactions", post(third_party))
        .route("/wechatpay/notify", post(wechatpay_notify))
}

/// The application's view of a caller, with the WeChat id its account holds.
async fn caller(state: &AppState, c: &MtCaller) -> Result<Caller, MtError> {
    let user = state.services.phone_signin.user(c.user_id).await?;
    Ok(Caller {
        user_id: c.user_id,
        admin: c.has(Role::Admin),
        wechat_id: user.and_then(|u| u.wechat_id),
    })
}

async fn order_response(
    state: &AppState,
    c: &MtCaller,
    id: Uuid,
    position: Option<u64>,
    status: StatusCode,
) -> Result<Response, MtError> {
    read_your_writes(state, position).await;
    match state.services.meeting_queries.order(id).await? {
        Some(o) if o.user_id == c.user_id.as_uuid() || c.has(Role::Admin) => {
            Ok((status, Json(o)).into_response())
        }
        _ => Err(MtError::NotFound(format!("order {id} not found"))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ItemBody {
    ticket_grade_id: Uuid,
    ticket_price: Value,
    ticket_amount: i64,
    meeting_id: Option<Uuid>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OrderBody {
    items: Vec<ItemBody>,
    meeting_id: Uuid,
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
                ticket_price_fen: yuan_to_fen(
                    &format!("items[{i}].ticketPrice"),
                    &item.ticket_price,
                )?,
                ticket_amount: item.ticket_amount as u32,
            })
        })
        .collect()
}

/// §5: 201 order `{id, items, meetingId, paymentMethodId, duyPayment, status: '待支付',
/// transaction: {thirdPartyTransactionInfo}, …}`; 400 'No Stock' with `errors.items[].amount`;
/// 400 'Validation Error' naming the field (a price that is not the grade's current one names
/// `items[i].ticketPrice`); 404 unknown meeting.
async fn create(
    State(state): State<AppState>,
    rid: RequestId,
    c: MtCaller,
    MtJson(body, raw): MtJson<OrderBody>,
) -> Result<Response, MtError> {
    let lines = lines(&body).map_err(|e| e.with_payload(&raw))?;
    let who = caller(&state, &c).await?;
    let meta = rid.metadata(Some(c.user_id.to_string()));
    let (id, pos) = state
        .services
        .meetings
        .place_order(
            &who,
            MeetingId::from_uuid(body.meeting_id),
            body.payment_method_id.trim(),
            &lines,
            &meta,
        )
        .await
        .map_err(|e| match e {
            MeetingServiceError::NotFound("meeting") => {
                MtError::field("meetingId", "会议不存在").with_payload(&raw)
            }
            other => MtError::from(other).with_payload(&raw),
        })?;
    order_response(&state, &c, id.as_uuid(), pos, StatusCode::CREATED).await
}

/// §5.1: 200 the caller's orders, newest first; query `status` (one of the document's strings).
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
    let orders = state
        .services
        .meeting_queries
        .orders_of(c.user_id.as_uuid(), status)
        .await?;
    Ok(Json(orders).into_response())
}

/// §5.2: 200 order; 404 for an unknown order or another user's.
async fn detail(
    State(state): State<AppState>,
    c: MtCaller,
    Path(id): Path<String>,
) -> Result<Response, MtError> {
    let id = path_id("order", &id)?;
    order_response(&state, &c, id, None, StatusCode::OK).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    status: String,
}

/// §5.3: `{status: '已取消'}` → 200 order (stock returned); any other change, or an order that is
/// not 待支付, is a 400 naming `status`.
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
    let who = caller(&state, &c).await?;
    let meta = rid.metadata(Some(c.user_id.to_string()));
    let pos = state
        .services
        .meetings
        .cancel_order(&who, MeetingOrderId::from_uuid(id), &meta)
        .await
        .map_err(|e| MtError::from(e).with_payload(&raw))?;
    order_response(&state, &c, id, pos, StatusCode::OK).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TransactionBody {
    order_id: Uuid,
}

/// §7: 201 `{orderId, amount (yuan), thirdPartyPayeeId, paymentMethodId,
/// thirdPartyTransactionInfo}`; opens the WeChat Pay order if that had failed at `POST /orders`.
async fn transactions(
    State(state): State<AppState>,
    rid: RequestId,
    c: MtCaller,
    MtJson(body, raw): MtJson<TransactionBody>,
) -> Result<Response, MtError> {
    let who = caller(&state, &c).await?;
    let meta = rid.metadata(Some(c.user_id.to_string()));
    let (info, pos) = state
        .services
        .meetings
        .open_transaction(&who, MeetingOrderId::from_uuid(body.order_id), &meta)
        .await
        .map_err(|e| MtError::from(e).with_payload(&raw))?;
    read_your_writes(&state, pos).await;
    let third_party = state
        .services
        .meeting_queries
        .order(body.order_id)
        .await?
        .map(|o| o.transaction.third_party_transaction_info);
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "orderId": info.order_id,
            "amount": tessera_projections::meeting::Yuan::from_fen(info.amount_fen),
            "thirdPartyPayeeId": info.third_party_payee_id,
            "paymentMethodId": info.payment_method_id,
            "thirdPartyTransactionInfo": third_party,
        })),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ThirdPartyBody {
    order_id: Uuid,
    transaction_id: String,
}

/// §7.1: the client reports a payment; it counts only once WeChat Pay's order query confirms it
/// (Mock: ids starting `mock_`). 201 the order (已支付, or 待退款 for a late payment whose tickets
/// are gone); 400 naming `transactionId` when the provider does not confirm it.
async fn third_party(
    State(state): State<AppState>,
    rid: RequestId,
    c: MtCaller,
    MtJson(body, raw): MtJson<ThirdPartyBody>,
) -> Result<Response, MtError> {
    let who = caller(&state, &c).await?;
    let meta = rid.metadata(Some(c.user_id.to_string()));
    let pos = state
        .services
        .meetings
        .confirm_client_payment(
            &who,
            MeetingOrderId::from_uuid(body.order_id),
            &body.transaction_id,
            &meta,
        )
        .await
        .map_err(|e| MtError::from(e).with_payload(&raw))?;
    order_response(&state, &c, body.order_id, pos, StatusCode::CREATED).await
}

fn fail(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "code": "FAIL", "message": message }))).into_response()
}

/// WeChat Pay's payment notification (API v3): verified (`Wechatpay-Signature`, timestamp within
/// 5 minutes) and decrypted by the WeChat Pay adapter. 204 when handled (also for repeats and for
/// events that change nothing); 401 `{"code":"FAIL"}` for a bad signature; 400 for a malformed
/// body; 500 when the store failed, so WeChat Pay retries.
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
            // Acknowledge once the read models show the payment, so a client polling its order
            // after WeChat Pay's callback sees it paid.
            read_your_writes(&state, position).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(MeetingServiceError::NotFound(_)) => {
            tracing::warn!(out_trade_no = %t.out_trade_no, "WeChat Pay paid an unknown order");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(MeetingServiceError::Validation { message, .. }) => {
            tracing::error!(out_trade_no = %t.out_trade_no, %message, "WeChat Pay payment does not match its order");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "WeChat Pay notification not recorded; WeChat Pay will retry");
            fail(StatusCode::INTERNAL_SERVER_ERROR, "temporarily unavailable")
        }
    }
}
