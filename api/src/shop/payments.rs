//! Seed 002 "支付 API": `POST /api/payment/wxpay {order_id}` (the order's buyer) answers the
//! parameters of `wx.requestPayment`; `POST /api/payment/wxpay/notify` takes WeChat Pay's signed,
//! encrypted payment notification and answers `{"code": "SUCCESS"|"FAIL", "message"}`; and, a
//! Tessera addition, `POST /api/payment/card {order_id, card_id?}` pays the order from the buyer's
//! membership card. docs/shop.md, "Payments".

use super::error::{ErrorBody, ShopApiError, ShopCaller, ShopJson};
use super::openapi::{ServiceUnavailable, Unauthorized, tags};
use super::orders::{OrderSummaryView, amount_text, summary};
use super::views::whole;
use crate::http::{RequestId, read_your_writes};
use crate::startup::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use tessera_application::payments::wechatpay::{WechatPayError, WechatPaySignatureHeaders};
use tessera_application::shop::{PaymentRecorded, ShopError, WxpayNotified};
use tessera_domain::shop::order::ShopOrderId;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(wxpay))
        .routes(routes!(wxpay_notify))
        .routes(routes!(card_payment))
}

/// The request body of `POST /api/payment/wxpay` and `POST /api/payment/card`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct PaymentBody {
    /// The caller's unpaid order.
    #[schema(example = "ORDER123456789012345678")]
    order_id: String,
    /// `POST /api/payment/card` only, optional: the card to pay from; it must be the caller's
    /// one open card (the default).
    card_id: Option<u64>,
}

/// What `wx.requestPayment` takes (seed 002 "发起微信支付"); the app id is the server's.
#[derive(Debug, Serialize, ToSchema)]
pub struct WxpayParamsView {
    /// Unix time in seconds, as a string.
    #[serde(rename = "timeStamp")]
    #[schema(example = "1694764800")]
    pub time_stamp: String,
    /// Random string (32 characters).
    #[serde(rename = "nonceStr")]
    pub nonce_str: String,
    /// `prepay_id=…`.
    #[schema(example = "prepay_id=wx201410272009395522657a690389285100")]
    pub package: String,
    /// Always `RSA`.
    #[serde(rename = "signType")]
    #[schema(example = "RSA")]
    pub sign_type: String,
    /// Base64 RSA-SHA256 over `appId\ntimeStamp\nnonceStr\npackage\n` with the merchant key.
    #[serde(rename = "paySign")]
    pub pay_sign: String,
}

/// WeChat Pay's answer body (seed 002 "微信支付结果通知回调").
#[derive(Debug, Serialize, ToSchema)]
pub struct NotifyAnswer {
    /// `SUCCESS` or `FAIL`.
    #[schema(example = "SUCCESS")]
    pub code: String,
    /// `成功`, or why it failed.
    #[schema(example = "成功")]
    pub message: String,
}

/// A membership-card payment: the order as paid (seed shape, status 1) and the card's spend.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardPaymentView {
    /// The order after the payment; its `payment_id` is the spend's `transaction_id` as text.
    #[serde(flatten)]
    pub order: OrderSummaryView,
    /// The card debited.
    pub card_id: i64,
    /// The spend transaction (type 2) naming the order.
    pub transaction_id: i64,
    /// The card's balance after the spend, a string with two decimals.
    #[schema(example = "50.03")]
    pub balance_after: String,
}

/// `order_id` of a payment body: required, `ORDER` and digits (400 naming it otherwise).
fn order_id(body: &Map<String, Value>) -> Result<ShopOrderId, ShopApiError> {
    match body.get("order_id") {
        Some(Value::String(s)) => ShopOrderId::parse(s.trim())
            .map_err(|_| ShopApiError::field("order_id", "应为订单号（ORDER 加数字）")),
        None | Some(Value::Null) => Err(ShopApiError::field("order_id", "不能为空")),
        Some(_) => Err(ShopApiError::field("order_id", "应为字符串")),
    }
}

/// Open a WeChat Pay JSAPI payment for the caller's unpaid order and answer the parameters of
/// `wx.requestPayment`. Writes nothing; asking again answers parameters for the same WeChat Pay
/// order. The order becomes paid when WeChat Pay's notification arrives.
#[utoipa::path(
    post,
    path = "/api/payment/wxpay",
    operation_id = "wxpay",
    tag = tags::PAYMENTS,
    summary = "Start a WeChat Pay payment of an order (its buyer)",
    security(("bearerAuth" = [])),
    request_body = PaymentBody,
    responses(
        (status = 200, description = "Parameters for `wx.requestPayment`", body = WxpayParamsView),
        (status = 400, description = "`order_id` missing or malformed, or the order is paid, cancelled or expired (`order_id: 订单已支付`); the buyer has no WeChat openid", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such order, deleted, or another user's", body = ErrorBody),
        (status = 502, description = "WeChat Pay refused the order or could not be reached", body = ErrorBody),
        (status = 503, description = "WeChat Pay is not configured on this server (`微信支付未开通`), or the store failed", body = ErrorBody),
    ),
)]
async fn wxpay(
    State(state): State<AppState>,
    c: ShopCaller,
    ShopJson(body): ShopJson,
) -> Result<Json<WxpayParamsView>, ShopApiError> {
    let id = order_id(&body)?;
    let p = state.services.shop.wxpay_params(c.user_id, &id).await?;
    Ok(Json(WxpayParamsView {
        time_stamp: p.time_stamp,
        nonce_str: p.nonce_str,
        package: p.package,
        sign_type: p.sign_type,
        pay_sign: p.pay_sign,
    }))
}

/// `{"code": "FAIL", "message": message}` with `status`: WeChat Pay retries later.
fn fail(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(NotifyAnswer {
            code: "FAIL".into(),
            message: message.into(),
        }),
    )
        .into_response()
}

/// 200 `{"code": "SUCCESS", "message": "成功"}`: WeChat Pay stops delivering this notification.
fn success() -> Response {
    Json(NotifyAnswer {
        code: "SUCCESS".into(),
        message: "成功".into(),
    })
    .into_response()
}

/// WeChat Pay's payment notification: the `Wechatpay-*` signature is verified over the raw body
/// (timestamp within 5 minutes), the resource decrypted with the APIv3 key, and a successful
/// payment recorded on its order once, however often WeChat Pay repeats it. A payment for an
/// order that was cancelled or expired meanwhile is recorded as needing a refund (no stock taken).
#[utoipa::path(
    post,
    path = "/api/payment/wxpay/notify",
    operation_id = "wxpayNotify",
    tag = tags::PAYMENTS,
    summary = "WeChat Pay payment notification (called by WeChat Pay)",
    request_body(content = Value, description = "WeChat Pay's notification: `{id, create_time, event_type, resource_type, resource: {algorithm, ciphertext, nonce, associated_data, original_type}, summary}`"),
    responses(
        (status = 200, description = "Recorded (or nothing to record): `{\"code\": \"SUCCESS\", \"message\": \"成功\"}`", body = NotifyAnswer),
        (status = 400, description = "Not a readable notification, or it does not decrypt: `{\"code\": \"FAIL\", …}`", body = NotifyAnswer),
        (status = 401, description = "Signature, serial or timestamp refused (forged, tampered, stale): `{\"code\": \"FAIL\", …}`", body = NotifyAnswer),
        (status = 404, description = "WeChat Pay is not configured on this server", body = NotifyAnswer),
        (status = 500, description = "Not recorded now (store failure); WeChat Pay retries", body = NotifyAnswer),
    ),
)]
async fn wxpay_notify(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
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
    let shop = &state.services.shop;
    let notification = match shop.wxpay_notification(&sig, &body) {
        Ok(n) => n,
        Err(ShopError::WechatPayNotConfigured) => {
            return fail(StatusCode::NOT_FOUND, "微信支付未开通");
        }
        Err(ShopError::WechatPay(e @ WechatPayError::BadSignature(_))) => {
            tracing::warn!(error = %e, "shop: WeChat Pay notification refused");
            return fail(StatusCode::UNAUTHORIZED, "签名验证失败");
        }
        Err(e) => {
            tracing::warn!(error = %e, "shop: WeChat Pay notification unreadable");
            return fail(StatusCode::BAD_REQUEST, "通知格式错误");
        }
    };
    let mut meta = tessera_application::EventMetadata::default();
    meta.extra.insert(
        "wechatpayNotificationId".into(),
        Value::String(notification.id.clone()),
    );
    match shop.wxpay_notified(&notification, &meta).await {
        Ok(WxpayNotified::Recorded(what, position)) => {
            if let PaymentRecorded::NeedsRefund(reason) = what {
                tracing::warn!(out_trade_no = %notification.transaction.out_trade_no, %reason, "shop: WeChat Pay payment cannot pay its order; recorded as a refund due");
            }
            read_your_writes(&state, position).await;
            success()
        }
        Ok(WxpayNotified::NoPayment) => {
            tracing::info!(event_type = %notification.event_type, "shop: WeChat Pay notification needs no action");
            success()
        }
        Ok(WxpayNotified::UnknownOrder(no)) => {
            tracing::warn!(out_trade_no = %no, "shop: WeChat Pay paid an unknown order");
            success()
        }
        Err(e @ (ShopError::Field(_) | ShopError::NotFound(_))) => {
            // Retrying cannot change the answer (an amount that is not money, an id too long):
            // acknowledge, and leave it to an operator.
            tracing::error!(out_trade_no = %notification.transaction.out_trade_no, error = %e, "shop: WeChat Pay payment unusable; not recorded");
            success()
        }
        Err(e) => {
            tracing::error!(error = %e, "shop: WeChat Pay notification not recorded; WeChat Pay will retry");
            fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                "暂时无法处理，请稍后重试",
            )
        }
    }
}

/// Pay the caller's unpaid order from their membership card (a Tessera addition; the seed has no
/// route for it): the card's spend of the order's total and the order becoming paid are written
/// in one commit, or nothing is.
#[utoipa::path(
    post,
    path = "/api/payment/card",
    operation_id = "cardPayment",
    tag = tags::PAYMENTS,
    summary = "Pay an order from the membership card (its buyer)",
    security(("bearerAuth" = [])),
    request_body = PaymentBody,
    responses(
        (status = 200, description = "Paid: the order (status 1) with the spend", body = CardPaymentView),
        (status = 400, description = "`order_id` missing, malformed, or the order is paid, cancelled or expired; `card_id`: no open card, frozen, or malformed; `amount`: the balance is less than the total. Nothing changed", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such order (or another user's), or `card_id` is not the caller's open card", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn card_payment(
    State(state): State<AppState>,
    rid: RequestId,
    c: ShopCaller,
    ShopJson(body): ShopJson,
) -> Result<Response, ShopApiError> {
    let id = order_id(&body)?;
    let card_id = whole(&body, "card_id", i64::MAX as u64)?.flatten();
    let paid = state
        .services
        .shop
        .pay_order_with_card(
            c.user_id,
            &id,
            card_id,
            &rid.metadata(Some(c.user_id.to_string())),
        )
        .await?;
    read_your_writes(&state, paid.position).await;
    Ok(Json(CardPaymentView {
        order: summary(&paid.order)?,
        card_id: i64::try_from(paid.card_id).unwrap_or(i64::MAX),
        transaction_id: i64::try_from(paid.transaction_id).unwrap_or(i64::MAX),
        balance_after: amount_text(paid.balance_after.to_minor().unwrap_or_default()),
    })
    .into_response())
}
