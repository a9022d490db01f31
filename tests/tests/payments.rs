//! The Stripe adapter against a local server that speaks Stripe's documented protocol for
//! `POST /v1/checkout/sessions` (Bearer key, `Idempotency-Key`, form-encoded parameters, the
//! `{"error": {...}}` envelope). Every case checks both what the adapter returned and what the server
//! received.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tessera_application::payments::{Checkout, CheckoutRequest, PaymentError, PaymentGateway};
use tessera_infrastructure::payments::{StripeConfig, StripeGateway, StripeSecretKey};
use uuid::Uuid;

const KEY: &str = "sk_test_tessera_51Hx";
const SUCCESS: &str = "https://tessera.test/orders/{order_id}/paid?session={CHECKOUT_SESSION_ID}";
const CANCEL: &str = "https://tessera.test/orders/{order_id}?payment={payment_id}";

/// One request as the fake Stripe saw it.
#[derive(Debug, Clone)]
struct Received {
    authorization: Option<String>,
    idempotency_key: Option<String>,
    form: HashMap<String, String>,
    duplicate_fields: bool,
}

#[derive(Debug, Clone, Copy)]
enum Behaviour {
    Stripe,
    ServerError,
    Slow(Duration),
}

#[derive(Clone)]
struct Fake {
    behaviour: Behaviour,
    received: Arc<Mutex<Vec<Received>>>,
    /// Idempotency-Key → session id, as Stripe replays the first answer for a reused key.
    sessions: Arc<Mutex<HashMap<String, String>>>,
}

fn stripe_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"type": kind, "message": message}})),
    )
        .into_response()
}

async fn create_session(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut form = HashMap::new();
    let mut duplicate_fields = false;
    for (k, v) in pairs {
        duplicate_fields |= form.insert(k, v).is_some();
    }
    let received = Received {
        authorization: header("authorization"),
        idempotency_key: header("idempotency-key"),
        form: form.clone(),
        duplicate_fields,
    };
    fake.received.lock().unwrap().push(received.clone());

    match fake.behaviour {
        Behaviour::ServerError => {
            return stripe_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "api_error",
                "Something went wrong on Stripe's end.",
            );
        }
        Behaviour::Slow(d) => tokio::time::sleep(d).await,
        Behaviour::Stripe => {}
    }

    if received.authorization.as_deref() != Some(&format!("Bearer {KEY}")) {
        return stripe_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "Invalid API Key provided: sk_test_****",
        );
    }
    let Some(idempotency_key) = received.idempotency_key else {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "This test server requires an Idempotency-Key.",
        );
    };
    for required in [
        "mode",
        "success_url",
        "line_items[0][price_data][currency]",
        "line_items[0][price_data][unit_amount]",
        "line_items[0][price_data][product_data][name]",
        "line_items[0][quantity]",
    ] {
        if !form.contains_key(required) {
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!("Missing required param: {required}."),
            );
        }
    }
    let currency = &form["line_items[0][price_data][currency]"];
    if !["twd", "usd", "eur", "jpy"].contains(&currency.as_str()) {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            &format!(
                "Invalid currency: {currency}. Stripe currently supports these currencies: twd, usd, eur, jpy"
            ),
        );
    }
    if form["line_items[0][price_data][unit_amount]"]
        .parse::<u64>()
        .is_err()
    {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "Invalid integer: unit_amount",
        );
    }

    let id = fake
        .sessions
        .lock()
        .unwrap()
        .entry(idempotency_key)
        .or_insert_with(|| format!("cs_test_{}", Uuid::new_v4().simple()))
        .clone();
    Json(json!({
        "id": id,
        "object": "checkout.session",
        "mode": "payment",
        "status": "open",
        "payment_status": "unpaid",
        "client_reference_id": form.get("client_reference_id"),
        "currency": currency,
        "url": format!("https://checkout.stripe.test/c/pay/{id}"),
    }))
    .into_response()
}

/// A fake Stripe on a random local port.
async fn fake_stripe(behaviour: Behaviour) -> (String, Arc<Mutex<Vec<Received>>>) {
    let fake = Fake {
        behaviour,
        received: Arc::default(),
        sessions: Arc::default(),
    };
    let received = fake.received.clone();
    let app = Router::new()
        .route("/v1/checkout/sessions", post(create_session))
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), received)
}

fn gateway(base: &str, key: &str) -> StripeGateway {
    let mut config = StripeConfig::new(StripeSecretKey::new(key), SUCCESS, CANCEL);
    config.api_base = base.to_owned();
    StripeGateway::new(config).unwrap()
}

fn request(currency: &str) -> CheckoutRequest {
    CheckoutRequest {
        order_id: Uuid::new_v4(),
        payment_id: Uuid::new_v4(),
        amount_minor: 9600,
        currency: currency.to_owned(),
        description: "五月天演唱會 × 2 & friends".to_owned(),
    }
}

#[tokio::test]
async fn a_checkout_session_is_created_with_every_documented_parameter() {
    let (base, received) = fake_stripe(Behaviour::Stripe).await;
    let gateway = gateway(&base, KEY);
    let req = request("TWD");

    let checkout = gateway.create_checkout(&req).await.unwrap();

    assert_eq!(gateway.provider(), "Stripe");
    assert!(checkout.provider_reference.starts_with("cs_test_"));
    assert_eq!(
        checkout.payment_url,
        format!(
            "https://checkout.stripe.test/c/pay/{}",
            checkout.provider_reference
        )
    );
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let got = &received[0];
    assert_eq!(
        got.authorization.as_deref(),
        Some(&*format!("Bearer {KEY}"))
    );
    assert_eq!(
        got.idempotency_key.as_deref(),
        Some(&*req.payment_id.to_string())
    );
    assert!(!got.duplicate_fields);
    let o = req.order_id.to_string();
    let p = req.payment_id.to_string();
    let expected: HashMap<String, String> = [
        ("mode", "payment".to_owned()),
        ("line_items[0][price_data][currency]", "twd".to_owned()),
        ("line_items[0][price_data][unit_amount]", "9600".to_owned()),
        (
            "line_items[0][price_data][product_data][name]",
            "五月天演唱會 × 2 & friends".to_owned(),
        ),
        ("line_items[0][quantity]", "1".to_owned()),
        (
            "success_url",
            format!("https://tessera.test/orders/{o}/paid?session={{CHECKOUT_SESSION_ID}}"),
        ),
        (
            "cancel_url",
            format!("https://tessera.test/orders/{o}?payment={p}"),
        ),
        ("client_reference_id", o.clone()),
        ("metadata[order_id]", o.clone()),
        ("metadata[payment_id]", p.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(got.form, expected);
}

#[tokio::test]
async fn retrying_the_same_payment_returns_the_same_session() {
    let (base, received) = fake_stripe(Behaviour::Stripe).await;
    let gateway = gateway(&base, KEY);
    let req = request("USD");

    let first: Checkout = gateway.create_checkout(&req).await.unwrap();
    let again = gateway.create_checkout(&req).await.unwrap();
    let other = gateway.create_checkout(&request("USD")).await.unwrap();

    assert_eq!(first, again);
    assert_ne!(first.provider_reference, other.provider_reference);
    let keys: Vec<_> = received
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.idempotency_key.clone().unwrap())
        .collect();
    assert_eq!(keys[0], req.payment_id.to_string());
    assert_eq!(keys[0], keys[1]);
    assert_ne!(keys[1], keys[2]);
}

#[tokio::test]
async fn an_unknown_currency_is_rejected_with_stripe_message() {
    let (base, received) = fake_stripe(Behaviour::Stripe).await;
    let gateway = gateway(&base, KEY);

    let err = gateway.create_checkout(&request("XTS")).await.unwrap_err();

    match err {
        PaymentError::Rejected(message) => {
            assert!(message.starts_with("Invalid currency: xts."), "{message}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    let received = received.lock().unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].form["line_items[0][price_data][currency]"],
        "xts"
    );
}

#[tokio::test]
async fn a_wrong_key_is_rejected() {
    let (base, received) = fake_stripe(Behaviour::Stripe).await;
    let gateway = gateway(&base, "sk_test_wrong");

    let err = gateway.create_checkout(&request("TWD")).await.unwrap_err();

    assert_eq!(
        err,
        PaymentError::Rejected("Invalid API Key provided: sk_test_****".to_owned())
    );
    let received = received.lock().unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].authorization.as_deref(),
        Some("Bearer sk_test_wrong")
    );
}

#[tokio::test]
async fn a_server_error_is_unavailable() {
    let (base, received) = fake_stripe(Behaviour::ServerError).await;
    let gateway = gateway(&base, KEY);

    let err = gateway.create_checkout(&request("TWD")).await.unwrap_err();

    match err {
        PaymentError::Unavailable(message) => {
            assert!(message.contains("500"), "{message}");
            assert!(message.contains("Something went wrong"), "{message}");
            assert!(!message.contains(KEY), "{message}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert_eq!(received.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_closed_port_is_unavailable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let gateway = gateway(&format!("http://{addr}"), KEY);

    let err = gateway.create_checkout(&request("TWD")).await.unwrap_err();

    assert!(
        matches!(&err, PaymentError::Unavailable(m) if m.contains("connect")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_slow_stripe_times_out_as_unavailable() {
    let (base, received) = fake_stripe(Behaviour::Slow(Duration::from_secs(5))).await;
    let mut config = StripeConfig::new(StripeSecretKey::new(KEY), SUCCESS, CANCEL);
    config.api_base = base;
    config.timeout = Duration::from_millis(300);
    let gateway = StripeGateway::new(config).unwrap();

    let started = Instant::now();
    let err = gateway.create_checkout(&request("TWD")).await.unwrap_err();

    assert!(
        matches!(&err, PaymentError::Unavailable(m) if m.contains("in time")),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(received.lock().unwrap().len(), 1);
}
