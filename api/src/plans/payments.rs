//! The plans payment callbacks and staff route (not in seed 004; docs/plans.md, "Payments and
//! recharges"; docs/decisions/0028-plans-external-payments.md):
//! - `POST /plans/wechatpay/notify`: WeChat Pay's signed, encrypted payment notification for
//!   `wxpay` payments, answered as WeChat Pay expects (200 `{"code": "SUCCESS"}`, or 4xx/5xx
//!   `{"code": "FAIL", "message"}` so it retries);
//! - `POST /plans/alipay/notify`: Alipay's asynchronous notification (form), answered with the
//!   plain text `success` (anything else makes Alipay retry);
//! - `POST /admin/plans/payments/:paymentId/confirm`: staff confirm a bank transfer (admins).

use super::error::{ErrorBody, PlansApiError, PlansCaller};
use super::openapi::{Forbidden, ServiceUnavailable, Unauthorized, tags};
use super::recharge::money;
use crate::http::errors::ErrorDetail;
use crate::http::{RequestId, read_your_writes};
use crate::startup::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_application::payments::alipay::AlipayError;
use tessera_application::payments::wechatpay::{WechatPayError, WechatPaySignatureHeaders};
use tessera_application::plans::payments::{ConfirmError, Notified};
use tessera_domain::identity::Role;
use tessera_domain::plans::payment::PaymentPurpose;
use tessera_domain::plans::plan_payment::PlanPayment;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(wechatpay_notify))
        .routes(routes!(alipay_notify))
        .routes(routes!(confirm))
}

/// WeChat Pay's answer shape: `{"code": "SUCCESS"|"FAIL", "message"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WechatPayAnswer {
    /// `SUCCESS` (stop delivering) or `FAIL` (retry).
    pub code: String,
    /// For people.
    pub message: String,
}

fn wx_answer(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(WechatPayAnswer {
            code: code.into(),
            message: message.into(),
        }),
    )
        .into_response()
}

/// Log what a verified notification did; whether it was recorded (else a store failure).
fn log_notified(provider: &str, out_trade_no: &str, n: &Notified) {
    match n {
        Notified::Recorded(_) => {}
        Notified::NotPaid => {
            tracing::info!(
                provider,
                out_trade_no,
                "plans: notification reports no payment"
            )
        }
        Notified::UnknownTrade(no) => {
            tracing::warn!(provider, out_trade_no = %no, "plans: notification for an unknown trade; nothing changed")
        }
        Notified::AmountMismatch { expected, paid } => {
            tracing::error!(
                provider,
                out_trade_no,
                expected,
                paid,
                "plans: notification amount differs from the payment; nothing changed"
            )
        }
    }
}

/// WeChat Pay's payment notification for plans `wxpay` payments: the signature is verified over
/// the raw body (timestamp within 5 minutes), the resource decrypted; a `SUCCESS` transaction
/// of one of our payments with its amount succeeds it once and is delivered to its order or
/// recharge. Unknown trades and wrong amounts change nothing and are acknowledged (retrying
/// cannot help); forged or unreadable notifications are refused.
#[utoipa::path(
    post,
    path = "/plans/wechatpay/notify",
    operation_id = "plansWechatpayNotify",
    tag = tags::PAYMENTS,
    summary = "WeChat Pay notification for plans payments (called by WeChat Pay)",
    request_body(content = serde_json::Value, description = "WeChat Pay's notification envelope with its encrypted `resource`"),
    responses(
        (status = 200, description = "Recorded, or nothing to record: `{\"code\": \"SUCCESS\"}`", body = WechatPayAnswer),
        (status = 400, description = "Unreadable or not decryptable: `{\"code\": \"FAIL\"}`", body = WechatPayAnswer),
        (status = 401, description = "Signature, serial or timestamp refused: `{\"code\": \"FAIL\"}`", body = WechatPayAnswer),
        (status = 404, description = "WeChat Pay is not configured here", body = WechatPayAnswer),
        (status = 500, description = "Not recorded now; WeChat Pay retries", body = WechatPayAnswer),
    ),
)]
async fn wechatpay_notify(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
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
    let plans = &state.services.plans;
    let Some(pay) = plans.payment_ports().wechat_pay.clone() else {
        return wx_answer(StatusCode::NOT_FOUND, "FAIL", "微信支付未开通");
    };
    let notification = match pay.parse_notification(&sig, &body, plans.now()) {
        Ok(n) => n,
        Err(e @ WechatPayError::BadSignature(_)) => {
            tracing::warn!(error = %e, "plans: WeChat Pay notification refused");
            return wx_answer(StatusCode::UNAUTHORIZED, "FAIL", "签名验证失败");
        }
        Err(e) => {
            tracing::warn!(error = %e, "plans: WeChat Pay notification unreadable");
            return wx_answer(StatusCode::BAD_REQUEST, "FAIL", "通知格式错误");
        }
    };
    match plans.wechatpay_notified(&notification).await {
        Ok(n) => {
            log_notified("wxpay", &notification.transaction.out_trade_no, &n);
            if let Notified::Recorded(position) = n {
                read_your_writes(&state, position).await;
            }
            wx_answer(StatusCode::OK, "SUCCESS", "成功")
        }
        Err(e) => {
            tracing::error!(error = %e, "plans: WeChat Pay notification not recorded; WeChat Pay retries");
            wx_answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                "FAIL",
                "暂时无法处理，请稍后重试",
            )
        }
    }
}

/// Alipay's asynchronous notification for plans `alipay` payments (form-encoded): `sign` is
/// verified with the Alipay public key over the sorted parameters without `sign` and
/// `sign_type`, `app_id` must be ours; `TRADE_SUCCESS`/`TRADE_FINISHED` of one of our payments
/// with its `total_amount` succeeds it once and is delivered. Answered `success` once handled
/// (unknown trades and wrong amounts change nothing and are acknowledged), `failure` otherwise.
#[utoipa::path(
    post,
    path = "/plans/alipay/notify",
    operation_id = "plansAlipayNotify",
    tag = tags::PAYMENTS,
    summary = "Alipay notification for plans payments (called by Alipay)",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Alipay's notification parameters (`notify_id`, `app_id`, `out_trade_no`, `trade_no`, `trade_status`, `total_amount`, …, `sign`, `sign_type`)"),
    responses(
        (status = 200, description = "`success`: handled (or nothing to do)", body = String, content_type = "text/plain"),
        (status = 400, description = "`failure`: unreadable, or the signature or app id refused", body = String, content_type = "text/plain"),
        (status = 404, description = "`failure`: Alipay is not configured here", body = String, content_type = "text/plain"),
        (status = 500, description = "`failure`: not recorded now; Alipay retries", body = String, content_type = "text/plain"),
    ),
)]
async fn alipay_notify(State(state): State<AppState>, body: Bytes) -> Response {
    // Alipay reads the plain text; the detail keeps the edge layer from rewording it as JSON.
    let failure = |status: StatusCode| {
        let mut r = (status, "failure").into_response();
        ErrorDetail::attach(&mut r, "Alipay notification not accepted");
        r
    };
    let plans = &state.services.plans;
    let Some(alipay) = plans.payment_ports().alipay.clone() else {
        return failure(StatusCode::NOT_FOUND);
    };
    let Some(params) = tessera_infrastructure::alipay::form_decode(&body) else {
        tracing::warn!("plans: Alipay notification is not a form");
        return failure(StatusCode::BAD_REQUEST);
    };
    let notification = match alipay.parse_notification(&params) {
        Ok(n) => n,
        Err(e @ (AlipayError::BadSignature(_) | AlipayError::Malformed(_))) => {
            tracing::warn!(error = %e, "plans: Alipay notification refused");
            return failure(StatusCode::BAD_REQUEST);
        }
        Err(e) => {
            tracing::warn!(error = %e, "plans: Alipay notification not usable");
            return failure(StatusCode::BAD_REQUEST);
        }
    };
    match plans.alipay_notified(&notification).await {
        Ok(n) => {
            log_notified("alipay", &notification.out_trade_no, &n);
            if let Notified::Recorded(position) = n {
                read_your_writes(&state, position).await;
            }
            (StatusCode::OK, "success").into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "plans: Alipay notification not recorded; Alipay retries");
            failure(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// A payment as staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    /// 24-hex id.
    #[serde(rename = "paymentId")]
    pub payment_id: String,
    /// The company.
    pub company_id: String,
    /// `order` or `recharge`.
    pub purpose: String,
    /// The order or recharge id.
    pub purpose_id: String,
    /// `alipay`, `wxpay` or `banktrans`.
    pub payment_method: String,
    /// CNY, two decimals.
    pub amount: String,
    /// `open`, `succeeded`, `expired` or `superseded`.
    pub status: String,
    /// The provider's transaction id (`banktrans-{paymentId}` for bank transfers), once paid.
    pub transaction_id: Option<String>,
    /// Whether the success reached its order or recharge.
    pub delivered: bool,
}

fn payment_view(p: &PlanPayment) -> Option<PaymentView> {
    let t = p.terms()?;
    let (purpose, purpose_id) = match &t.purpose {
        PaymentPurpose::Order { order_id } => ("order", order_id.to_string()),
        PaymentPurpose::Recharge { recharge_id } => ("recharge", recharge_id.to_string()),
    };
    Some(PaymentView {
        payment_id: t.payment_id.to_string(),
        company_id: t.company_id.to_string(),
        purpose: purpose.into(),
        purpose_id,
        payment_method: t.method.as_str().into(),
        amount: money(t.amount_fen),
        status: p.status().as_str().into(),
        transaction_id: p.transaction_id().map(str::to_owned),
        delivered: p.delivered(),
    })
}

/// Confirm that a bank transfer arrived (admins): the payment succeeds and is delivered to its
/// order or recharge. A second confirmation changes nothing (charged once).
#[utoipa::path(
    post,
    path = "/admin/plans/payments/{paymentId}/confirm",
    operation_id = "adminConfirmBankTransfer",
    tag = tags::PAYMENTS,
    summary = "Confirm a bank transfer (admins only; not in the seed)",
    security(("bearerAuth" = [])),
    params(("paymentId" = String, Path, description = "24-hex payment id (`paymentId` of the order or recharge)")),
    responses(
        (status = 200, description = "The payment, `succeeded` and delivered", body = PaymentView),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such payment", body = ErrorBody),
        (status = 409, description = "Not a bank transfer", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn confirm(
    State(state): State<AppState>,
    rid: RequestId,
    c: PlansCaller,
    Path(payment_id): Path<String>,
) -> Result<Json<PaymentView>, PlansApiError> {
    c.require(Role::Admin)?;
    let (payment, position) = state
        .services
        .plans
        .confirm_bank_transfer(
            &payment_id,
            &c.user_id.to_string(),
            &rid.metadata(Some(c.user_id.to_string())),
        )
        .await
        .map_err(|e| match e {
            ConfirmError::NotFound => PlansApiError::not_found("no such payment"),
            ConfirmError::NotBankTransfer(_) => {
                PlansApiError::conflict("the payment is not a bank transfer")
            }
            ConfirmError::Plans(e) => e.into(),
        })?;
    read_your_writes(&state, position).await;
    payment_view(&payment)
        .map(Json)
        .ok_or_else(|| PlansApiError::not_found("no such payment"))
}
