//! Payments (seed 003 §6.1 `payment`, §10): the provider webhooks and the Mock provider's page.
//!
//! - `POST /v1/webhooks/payment/{provider}` (`mock` or `stripe`): the raw body must carry a valid
//!   `X-Webhook-Signature: sha256=<hex HMAC-SHA256 of the body>` (§10.1), or for `stripe` Stripe's
//!   own `Stripe-Signature: t=…,v1=…` (300 s tolerance). A missing or bad signature is 401 and
//!   changes nothing; a malformed payload 400 naming the field; an unknown order 404; event types
//!   that change nothing are acknowledged with 200. Duplicates are harmless: the order aggregate
//!   deduplicates on the provider's event id and payment states only move forward.
//! - `GET /v1/mock-payment/{paymentId}`: an HTML page with the amount and Confirm / Decline buttons;
//!   `POST /v1/mock-payment/{paymentId}/confirm` and `…/decline` record the outcome (200 JSON, or a
//!   303 back to the page for a browser form post).
//! - `GET /v1/payments/stripe/success` and `GET /v1/payments/stripe/cancel`: the pages Stripe
//!   Checkout sends the payer back to (`success_url`, `cancel_url` of the Checkout Session). They
//!   only inform: the payment is recorded from Stripe's webhook, never from this redirect.

use super::common::parse_id;
use super::envelope::ok;
use super::error::{ErrorBody, OtError};
use super::openapi::{InternalError, ServiceUnavailable, tags};
use super::views::{
    MockPaymentAction, MockPaymentResult, MockPaymentResultResponse, Money, WebhookAck,
    WebhookAckResponse,
};
use crate::http::RequestId;
use crate::startup::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use std::collections::HashMap;
use tessera_infrastructure::payments::{
    MockWebhookEvent, ParseError, PaymentNotice, PaymentOutcome, STRIPE_DEFAULT_TOLERANCE,
    StripeEvent, verify_stripe_signature, verify_webhook_signature,
};
use tessera_projections::openticket::OrderRow;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Routes of this module, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(webhook))
        .routes(routes!(mock_page))
        .routes(routes!(mock_confirm))
        .routes(routes!(mock_decline))
        .routes(routes!(stripe_success))
        .routes(routes!(stripe_cancel))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Check the delivery's signature for `provider` (lower-case path segment).
fn verify(
    state: &AppState,
    provider: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), OtError> {
    let unauthorized =
        |e: &dyn std::fmt::Display| OtError::Unauthorized(format!("webhook signature: {e}"));
    if provider == "stripe"
        && let Some(stripe_sig) = header_str(headers, "stripe-signature")
    {
        let secret = state
            .services
            .stripe_webhook_secret
            .as_deref()
            .ok_or_else(|| unauthorized(&"no Stripe webhook secret is configured"))?;
        return verify_stripe_signature(
            Some(stripe_sig),
            body,
            secret,
            Utc::now(),
            STRIPE_DEFAULT_TOLERANCE,
        )
        .map_err(|e| unauthorized(&e));
    }
    let secret = state
        .services
        .webhook_secrets
        .get(provider)
        .ok_or_else(|| unauthorized(&"no webhook secret is configured for this provider"))?;
    verify_webhook_signature(
        header_str(headers, "x-webhook-signature"),
        body,
        secret.as_bytes(),
    )
    .map_err(|e| unauthorized(&e))
}

fn parse_error(e: ParseError) -> OtError {
    match e {
        ParseError::MissingField(field) => OtError::validation(field, "is required"),
        ParseError::InvalidField { field, reason } => OtError::validation(field, reason),
        other => OtError::validation("body", other.to_string()),
    }
}

/// §10.1 `POST /v1/webhooks/payment/{provider}` → 200 `{received: true}`.
#[utoipa::path(
    post,
    path = "/v1/webhooks/payment/{provider}",
    operation_id = "receivePaymentWebhook",
    tag = tags::WEBHOOKS,
    summary = "Receive a payment provider's notice",
    description = "Signed with `X-Webhook-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, or for `stripe` Stripe's own `Stripe-Signature: t=…,v1=…` (300 s tolerance). Deliveries are deduplicated on the event id and payment states only move forward, so repeats and out-of-order deliveries are harmless. Event types that change nothing are acknowledged with `ignored: true`.",
    params(
        ("provider" = String, Path, description = "`mock` or `stripe` (case-insensitive)", example = "mock"),
        ("X-Webhook-Signature" = Option<String>, Header, description = "`sha256=<hex HMAC-SHA256 of the raw body>` with the provider's webhook secret"),
        ("Stripe-Signature" = Option<String>, Header, description = "Stripe's signature header (`stripe` only), used instead of `X-Webhook-Signature` when present"),
    ),
    request_body(
        content = payload::WebhookEvent,
        content_type = "application/json",
        description = "The provider's event: the Mock format for `mock`, a Stripe Checkout event for `stripe`",
    ),
    responses(
        (status = 200, description = "Accepted (recorded, a duplicate, or ignored)", body = WebhookAckResponse),
        (status = 400, description = "VALIDATION_ERROR naming the payload field (e.g. `data.orderId`) or `body`", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing or bad signature; nothing changed", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: unknown provider or order", body = ErrorBody),
        (status = 409, description = "CONFLICT: the order cannot take the payment in its state", body = ErrorBody),
        (status = 413, description = "PAYLOAD_TOO_LARGE: the body is over the 1 MiB limit", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(provider = %provider))]
async fn webhook(
    State(state): State<AppState>,
    request_id: RequestId,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OtError> {
    let provider = provider.to_ascii_lowercase();
    // Production offers no Mock provider: its webhook does not exist there either.
    let offered = provider == "stripe"
        || (provider == "mock" && state.services.gateways.contains_key("Mock"));
    if !offered {
        return Err(OtError::not_found("payment provider", provider));
    }
    verify(&state, &provider, &headers, &body)?;
    let parsed = if provider == "stripe" {
        StripeEvent::parse(&body).map(|e| e.notice())
    } else {
        MockWebhookEvent::parse(&body).map(|e| e.notice())
    };
    let notice = match parsed {
        Ok(notice) => notice,
        Err(ParseError::UnhandledEventType(t)) => {
            tracing::info!(event_type = %t, "webhook event type ignored");
            let ack = WebhookAck {
                received: true,
                ignored: Some(true),
            };
            return Ok(ok(StatusCode::OK, ack));
        }
        Err(e) => return Err(parse_error(e)),
    };
    record(&state, &request_id, notice).await?;
    let ack = WebhookAck {
        received: true,
        ignored: None,
    };
    Ok(ok(StatusCode::OK, ack))
}

/// Apply a payment notice to its order (unless it changes nothing).
async fn record(
    state: &AppState,
    request_id: &RequestId,
    notice: PaymentNotice,
) -> Result<(), OtError> {
    if notice.outcome == PaymentOutcome::Ignored {
        return Ok(());
    }
    super::commands::record_payment(state, request_id, notice).await
}

/// The order a Mock payment belongs to (read model; the page is opened after the order exists).
async fn mock_order(state: &AppState, raw_payment_id: &str) -> Result<OrderRow, OtError> {
    // Production offers no Mock provider: its pages do not exist there, even for orders placed
    // with it before the switch.
    if !state.services.gateways.contains_key("Mock") {
        return Err(OtError::not_found("payment", raw_payment_id));
    }
    let payment_id: Uuid = parse_id("paymentId", raw_payment_id)?;
    state
        .services
        .openticket_queries
        .order_by_payment(payment_id)
        .await?
        .filter(|o| o.payment_provider == "Mock")
        .ok_or_else(|| OtError::not_found("payment", raw_payment_id))
}

/// The Mock provider's payment page: the amount, and Confirm / Decline buttons.
#[utoipa::path(
    get,
    path = "/v1/mock-payment/{paymentId}",
    operation_id = "getMockPaymentPage",
    tag = tags::MOCK_PAYMENT,
    summary = "The Mock payment page",
    description = "An HTML page (the order's `payment.paymentUrl` for the Mock provider) with the amount due and two forms posting to `…/confirm` and `…/decline`.",
    params(("paymentId" = Uuid, Path, description = "The Mock payment (`payment.paymentId` of the order)")),
    responses(
        (status = 200, description = "The page", body = String, content_type = "text/html"),
        (status = 400, description = "VALIDATION_ERROR: `paymentId` is not a UUID", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such Mock payment", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(payment_id = %payment_id))]
async fn mock_page(
    State(state): State<AppState>,
    Path(payment_id): Path<String>,
) -> Result<Response, OtError> {
    let order = mock_order(&state, &payment_id).await?;
    let amount = serde_json::to_value(Money::from(order.total_amount))
        .map(|m| format!("{} {}", m["amount"], order.total_amount.currency()))
        .unwrap_or_default();
    let seats: Vec<String> = order.items.iter().map(|i| escape(&i.seat_id)).collect();
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Mock payment</title></head>\
         <body><h1>Mock payment</h1><p>Order {order_id}: seats {seats}</p>\
         <p>Amount due: <strong>{amount}</strong></p><p>Status: {status}</p>\
         <form method=\"post\" action=\"/v1/mock-payment/{payment}/confirm\"><button>Confirm payment</button></form>\
         <form method=\"post\" action=\"/v1/mock-payment/{payment}/decline\"><button>Decline</button></form>\
         </body></html>",
        order_id = order.order_id,
        seats = seats.join(", "),
        amount = escape(&amount),
        status = escape(order.payment_status.as_str()),
        payment = escape(&payment_id),
    );
    Ok(Html(page).into_response())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn mock_outcome(
    state: &AppState,
    request_id: &RequestId,
    headers: &HeaderMap,
    raw_payment_id: &str,
    outcome: PaymentOutcome,
) -> Result<Response, OtError> {
    let order = mock_order(state, raw_payment_id).await?;
    let action = if outcome == PaymentOutcome::Succeeded {
        MockPaymentAction::Confirm
    } else {
        MockPaymentAction::Decline
    };
    let verb = match action {
        MockPaymentAction::Confirm => "confirm",
        MockPaymentAction::Decline => "decline",
    };
    let notice = PaymentNotice {
        provider_event_id: format!("mock-{raw_payment_id}-{verb}"),
        order_id: order.order_id,
        payment_id: Some(order.payment_id),
        outcome,
    };
    record(state, request_id, notice).await?;
    let from_form = header_str(headers, "content-type")
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if from_form {
        let back = format!("/v1/mock-payment/{raw_payment_id}");
        return Ok((StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response());
    }
    Ok(ok(
        StatusCode::OK,
        MockPaymentResult {
            payment_id: order.payment_id,
            order_id: order.order_id,
            result: action,
        },
    ))
}

/// Confirm a Mock payment: the order is paid, then completed with its tickets.
#[utoipa::path(
    post,
    path = "/v1/mock-payment/{paymentId}/confirm",
    operation_id = "confirmMockPayment",
    tag = tags::MOCK_PAYMENT,
    summary = "Confirm a Mock payment",
    params(("paymentId" = Uuid, Path, description = "The Mock payment (`payment.paymentId` of the order)")),
    responses(
        (status = 200, description = "Recorded (a JSON or empty-bodied request)", body = MockPaymentResultResponse),
        (status = 303, description = "Recorded; back to the payment page (a browser form post, `Content-Type: application/x-www-form-urlencoded`)",
            headers(("Location" = String, description = "`/v1/mock-payment/{paymentId}`"))),
        (status = 400, description = "VALIDATION_ERROR: `paymentId` is not a UUID", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such Mock payment, or its order", body = ErrorBody),
        (status = 409, description = "CONFLICT: the order cannot take the payment in its state", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(payment_id = %payment_id))]
async fn mock_confirm(
    State(state): State<AppState>,
    request_id: RequestId,
    headers: HeaderMap,
    Path(payment_id): Path<String>,
) -> Result<Response, OtError> {
    mock_outcome(
        &state,
        &request_id,
        &headers,
        &payment_id,
        PaymentOutcome::Succeeded,
    )
    .await
}

/// Decline a Mock payment: the attempt fails and the order stays open until it expires.
#[utoipa::path(
    post,
    path = "/v1/mock-payment/{paymentId}/decline",
    operation_id = "declineMockPayment",
    tag = tags::MOCK_PAYMENT,
    summary = "Decline a Mock payment",
    params(("paymentId" = Uuid, Path, description = "The Mock payment (`payment.paymentId` of the order)")),
    responses(
        (status = 200, description = "Recorded (a JSON or empty-bodied request)", body = MockPaymentResultResponse),
        (status = 303, description = "Recorded; back to the payment page (a browser form post, `Content-Type: application/x-www-form-urlencoded`)",
            headers(("Location" = String, description = "`/v1/mock-payment/{paymentId}`"))),
        (status = 400, description = "VALIDATION_ERROR: `paymentId` is not a UUID", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such Mock payment, or its order", body = ErrorBody),
        (status = 409, description = "CONFLICT: the order cannot take the payment in its state", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(payment_id = %payment_id))]
async fn mock_decline(
    State(state): State<AppState>,
    request_id: RequestId,
    headers: HeaderMap,
    Path(payment_id): Path<String>,
) -> Result<Response, OtError> {
    let outcome = PaymentOutcome::Failed {
        reason: "declined on the Mock payment page".into(),
    };
    mock_outcome(&state, &request_id, &headers, &payment_id, outcome).await
}

/// The page a Stripe Checkout payer returns to: a short HTML page (the app shows the order).
fn stripe_return_page(title: &str, text: &str, session: Option<&String>) -> Response {
    let session = session
        .map(|s| format!("<p>Checkout session: <code>{}</code></p>", escape(s)))
        .unwrap_or_default();
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{text}</p>{session}</body></html>"
    ))
    .into_response()
}

/// Stripe Checkout's `success_url`: the payer paid (or the payment is processing).
#[utoipa::path(
    get,
    path = "/v1/payments/stripe/success",
    operation_id = "stripeCheckoutSuccessPage",
    tag = tags::WEBHOOKS,
    summary = "Page after a Stripe payment",
    description = "Where Stripe Checkout sends the payer after paying. Informational: the order is paid when Stripe's webhook arrives (`POST /v1/webhooks/payment/stripe`), so the app should read `GET /v1/orders/{orderId}` for its status.",
    params(("session_id" = Option<String>, Query, description = "The Checkout Session id Stripe fills in (`cs_…`)")),
    responses(
        (status = 200, description = "The page", body = String, content_type = "text/html"),
        (status = 400, description = "VALIDATION_ERROR: `session_id` contains control characters", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn stripe_success(Query(query): Query<HashMap<String, String>>) -> Response {
    stripe_return_page(
        "Payment received",
        "Thank you. Your order is confirmed as soon as Stripe notifies us, usually within seconds; \
         your tickets then appear in the app. You can close this page.",
        query.get("session_id"),
    )
}

/// Stripe Checkout's `cancel_url`: the payer left the checkout without paying.
#[utoipa::path(
    get,
    path = "/v1/payments/stripe/cancel",
    operation_id = "stripeCheckoutCancelPage",
    tag = tags::WEBHOOKS,
    summary = "Page after a cancelled Stripe checkout",
    description = "Where Stripe Checkout sends a payer who gives up. Nothing is paid; the order stays open until it expires (the payer may pay again from the order's `payment.paymentUrl`, or cancel it).",
    responses(
        (status = 200, description = "The page", body = String, content_type = "text/html"),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn stripe_cancel() -> Response {
    stripe_return_page(
        "Payment cancelled",
        "Nothing was charged. Your order stays reserved until it expires; you can pay or cancel \
         it in the app.",
        None,
    )
}

/// What the payment providers send to `POST /v1/webhooks/payment/{provider}`, for the OpenAPI
/// document only: the handler reads the raw body (its signature covers the exact bytes) and
/// `tessera_infrastructure::payments` parses it by hand, naming the field at fault. Never built,
/// hence never read.
#[allow(dead_code)]
mod payload {
    use utoipa::ToSchema;
    use uuid::Uuid;

    /// A payment provider's notice: the Mock format or Stripe's.
    #[derive(ToSchema)]
    #[serde(untagged)]
    pub enum WebhookEvent {
        /// `POST /v1/webhooks/payment/mock`.
        Mock(MockWebhookEvent),
        /// `POST /v1/webhooks/payment/stripe`.
        Stripe(StripeWebhookEvent),
    }

    /// The Mock provider's webhook (Tessera's own format): `payment.succeeded` or
    /// `payment.failed`; other types are acknowledged and ignored.
    #[derive(ToSchema)]
    pub struct MockWebhookEvent {
        /// Event id; deliveries are deduplicated on it.
        #[schema(example = "evt_1")]
        id: String,
        /// `payment.succeeded` or `payment.failed`.
        #[serde(rename = "type")]
        #[schema(example = "payment.succeeded")]
        event_type: String,
        /// The order and payment it concerns, and for `payment.failed` the reason.
        data: MockWebhookData,
    }

    /// `data` of a [`MockWebhookEvent`].
    #[derive(ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct MockWebhookData {
        /// Tessera's order id.
        order_id: Uuid,
        /// Tessera's payment id of that order.
        payment_id: Uuid,
        /// Why the payment failed (`payment.failed`).
        #[serde(default)]
        #[schema(nullable = false)]
        reason: Option<String>,
    }

    /// A Stripe Checkout event (seed 003 §10.1): `checkout.session.completed`,
    /// `checkout.session.async_payment_succeeded`, `checkout.session.async_payment_failed` or
    /// `checkout.session.expired`; other types are acknowledged and ignored. Stripe sends more
    /// members than these; they are ignored.
    #[derive(ToSchema)]
    pub struct StripeWebhookEvent {
        /// Event id, `evt_…`; deliveries are deduplicated on it. Optional (seed 003 §10.1's
        /// example has none): without it, on the type and the Checkout Session id.
        #[serde(default)]
        #[schema(nullable = false, example = "evt_1NG8Du2eZvKYlo2CUI79vXWy")]
        id: Option<String>,
        /// Event type.
        #[serde(rename = "type")]
        #[schema(example = "checkout.session.completed")]
        event_type: String,
        /// The Checkout Session.
        data: StripeEventData,
    }

    /// `data` of a [`StripeWebhookEvent`].
    #[derive(ToSchema)]
    pub struct StripeEventData {
        /// The Checkout Session.
        object: StripeCheckoutSession,
    }

    /// The Checkout Session of a [`StripeWebhookEvent`].
    #[derive(ToSchema)]
    pub struct StripeCheckoutSession {
        /// Session id, `cs_…`.
        #[schema(example = "cs_test_a1b2c3")]
        id: String,
        /// `paid`, `unpaid` or `no_payment_required`.
        #[serde(default)]
        #[schema(nullable = false, example = "paid")]
        payment_status: Option<String>,
        /// Tessera's ids, set when the session was created.
        metadata: StripeMetadata,
    }

    /// `metadata` of a [`StripeCheckoutSession`].
    #[derive(ToSchema)]
    pub struct StripeMetadata {
        /// Tessera's order id, set when the Checkout Session was created.
        order_id: Uuid,
        /// Tessera's payment id, set when the Checkout Session was created; may be absent.
        #[serde(default)]
        #[schema(nullable = false)]
        payment_id: Option<Uuid>,
    }
}
