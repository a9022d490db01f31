//! Stripe Checkout: opens a hosted Checkout Session for an order, following Stripe's API reference
//! ("Create a Checkout Session", `POST /v1/checkout/sessions`; "Idempotent requests"; "Errors").
//!
//! The session carries Tessera's ids back to us: `client_reference_id` and `metadata[order_id]` are
//! the order, `metadata[payment_id]` the payment attempt, which
//! [`super::webhook::StripeEvent`] reads from `checkout.session.*` webhooks.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;
use tessera_application::payments::{Checkout, CheckoutRequest, PaymentError, PaymentGateway};

/// Stripe's production API.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";
/// How long one call to Stripe may take before it counts as unavailable: 10 seconds.
pub const STRIPE_DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A Stripe secret API key (`sk_live_…`, `sk_test_…` or a restricted `rk_…`).
/// Held by `secrecy`: `Debug` shows `[REDACTED]` and the text is zeroed on drop.
#[derive(Clone, Debug)]
pub struct StripeSecretKey(SecretString);

impl StripeSecretKey {
    /// Wrap a key read from configuration.
    pub fn new(key: impl Into<String>) -> Self {
        Self(SecretString::from(key.into()))
    }
}

impl From<SecretString> for StripeSecretKey {
    fn from(secret: SecretString) -> Self {
        Self(secret)
    }
}

impl ExposeSecret<str> for StripeSecretKey {
    /// The key itself, for the `Authorization` header only.
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Settings of the Stripe adapter.
///
/// `success_url` and `cancel_url` are templates: `{order_id}` and `{payment_id}` are replaced by
/// Tessera's ids (hyphenated, lower-case), and Stripe's own `{CHECKOUT_SESSION_ID}` is passed
/// through for Stripe to fill in.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// API base URL without a trailing path, e.g. [`STRIPE_API_BASE`] (a local fake in tests).
    pub api_base: String,
    /// The secret key sent as `Authorization: Bearer …`.
    pub secret_key: StripeSecretKey,
    /// Where Stripe sends the payer after paying.
    pub success_url: String,
    /// Where Stripe sends the payer who gives up.
    pub cancel_url: String,
    /// Limit for one whole call (connect, send, answer); [`STRIPE_DEFAULT_TIMEOUT`] by default.
    pub timeout: Duration,
}

impl StripeConfig {
    /// Settings for the production API with the default timeout.
    pub fn new(
        secret_key: StripeSecretKey,
        success_url: impl Into<String>,
        cancel_url: impl Into<String>,
    ) -> Self {
        Self {
            api_base: STRIPE_API_BASE.to_owned(),
            secret_key,
            success_url: success_url.into(),
            cancel_url: cancel_url.into(),
            timeout: STRIPE_DEFAULT_TIMEOUT,
        }
    }
}

/// Why the Stripe adapter could not be built at start-up.
#[derive(Debug, thiserror::Error)]
pub enum StripeConfigError {
    /// The API base is not an `http://` or `https://` URL.
    #[error("the Stripe API base must be an http(s) URL, got {0:?}")]
    BadApiBase(String),
    /// The secret key is empty.
    #[error("the Stripe secret key is empty")]
    MissingSecretKey,
    /// A success or cancel URL template is empty.
    #[error("the Stripe {0} template is empty")]
    MissingRedirect(&'static str),
    /// The HTTP client could not be created (TLS set-up).
    #[error("cannot build the HTTP client for Stripe: {0}")]
    Client(#[source] reqwest::Error),
}

/// The [`PaymentGateway`] for provider `Stripe`: one Checkout Session per payment attempt.
#[derive(Debug, Clone)]
pub struct StripeGateway {
    client: reqwest::Client,
    sessions_url: String,
    config: StripeConfig,
}

impl StripeGateway {
    /// A gateway using `config`. Redirects are not followed: Stripe's API never redirects.
    ///
    /// Errors: [`StripeConfigError`] for a bad base URL, empty key or template, or a client that
    /// cannot be built.
    pub fn new(config: StripeConfig) -> Result<Self, StripeConfigError> {
        let base = config.api_base.trim_end_matches('/');
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(StripeConfigError::BadApiBase(config.api_base.clone()));
        }
        if config.secret_key.expose_secret().is_empty() {
            return Err(StripeConfigError::MissingSecretKey);
        }
        if config.success_url.is_empty() {
            return Err(StripeConfigError::MissingRedirect("success_url"));
        }
        if config.cancel_url.is_empty() {
            return Err(StripeConfigError::MissingRedirect("cancel_url"));
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(StripeConfigError::Client)?;
        Ok(Self {
            client,
            sessions_url: format!("{base}/v1/checkout/sessions"),
            config,
        })
    }

    fn form(&self, request: &CheckoutRequest) -> String {
        let fill = |template: &str| {
            template
                .replace("{order_id}", &request.order_id.to_string())
                .replace("{payment_id}", &request.payment_id.to_string())
        };
        let fields: [(&str, String); 10] = [
            ("mode", "payment".to_owned()),
            (
                "line_items[0][price_data][currency]",
                request.currency.to_ascii_lowercase(),
            ),
            (
                "line_items[0][price_data][unit_amount]",
                request.amount_minor.to_string(),
            ),
            (
                "line_items[0][price_data][product_data][name]",
                request.description.clone(),
            ),
            ("line_items[0][quantity]", "1".to_owned()),
            ("success_url", fill(&self.config.success_url)),
            ("cancel_url", fill(&self.config.cancel_url)),
            ("client_reference_id", request.order_id.to_string()),
            ("metadata[order_id]", request.order_id.to_string()),
            ("metadata[payment_id]", request.payment_id.to_string()),
        ];
        encode_form(fields.iter().map(|(k, v)| (*k, v.as_str())))
    }
}

/// The parts of a Checkout Session we use.
#[derive(Deserialize)]
struct SessionResponse {
    id: String,
    url: Option<String>,
}

/// Stripe's error envelope: `{"error": {"type": …, "message": …, "code": …}}`.
#[derive(Deserialize)]
struct ErrorResponse {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<String>,
}

#[async_trait]
impl PaymentGateway for StripeGateway {
    fn provider(&self) -> &'static str {
        "Stripe"
    }

    /// `POST {api_base}/v1/checkout/sessions` with the payment id as `Idempotency-Key`, so a retry
    /// of the same attempt returns the same session instead of opening a second one.
    ///
    /// Errors: [`PaymentError::Rejected`] with Stripe's message for a 4xx answer (bad key, unknown
    /// currency, invalid amount …) except 409 and 429; [`PaymentError::Unavailable`] for 409
    /// (concurrent use of the idempotency key), 429 (rate limited), 5xx, timeouts, connection
    /// failures and answers that are not a Checkout Session.
    #[tracing::instrument(skip_all, fields(order_id = %request.order_id, payment_id = %request.payment_id))]
    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<Checkout, PaymentError> {
        let response = self
            .client
            .post(&self.sessions_url)
            .bearer_auth(self.config.secret_key.expose_secret())
            .header("Idempotency-Key", request.payment_id.to_string())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(self.form(request))
            .send()
            .await
            .map_err(|e| {
                let e = e.without_url();
                if e.is_timeout() {
                    PaymentError::Unavailable(format!("Stripe did not answer in time: {e}"))
                } else if e.is_connect() {
                    PaymentError::Unavailable(format!("cannot connect to Stripe: {e}"))
                } else {
                    PaymentError::Unavailable(format!("request to Stripe failed: {e}"))
                }
            })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| {
            PaymentError::Unavailable(format!(
                "reading Stripe's answer failed: {}",
                e.without_url()
            ))
        })?;

        if status.is_success() {
            let session: SessionResponse = serde_json::from_slice(&body).map_err(|e| {
                PaymentError::Unavailable(format!("Stripe's answer is not a Checkout Session: {e}"))
            })?;
            let url = session.url.filter(|u| !u.is_empty()).ok_or_else(|| {
                PaymentError::Unavailable("Stripe's Checkout Session has no url".to_owned())
            })?;
            tracing::debug!(session_id = %session.id, "Stripe Checkout Session created");
            return Ok(Checkout {
                provider_reference: session.id,
                payment_url: url,
            });
        }

        let detail = serde_json::from_slice::<ErrorResponse>(&body)
            .ok()
            .and_then(|e| match (e.error.kind, e.error.message) {
                (_, Some(message)) => Some(message),
                (Some(kind), None) => Some(kind),
                (None, None) => None,
            })
            .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        let transient = status.is_server_error()
            || status == reqwest::StatusCode::CONFLICT
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
        tracing::warn!(status = status.as_u16(), %detail, "Stripe refused the Checkout Session");
        if transient || !status.is_client_error() {
            Err(PaymentError::Unavailable(format!(
                "Stripe answered HTTP {}: {detail}",
                status.as_u16()
            )))
        } else {
            Err(PaymentError::Rejected(detail))
        }
    }
}

/// `application/x-www-form-urlencoded` as the WHATWG URL standard defines it: bytes `A–Z a–z 0–9 * -
/// . _` kept, space as `+`, every other UTF-8 byte as `%XX`.
fn encode_form<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    fn push(out: &mut String, text: &str) {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        for &b in text.as_bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                    out.push(char::from(b));
                }
                b' ' => out.push('+'),
                _ => {
                    out.push('%');
                    out.push(char::from(HEX[usize::from(b >> 4)]));
                    out.push(char::from(HEX[usize::from(b & 0x0f)]));
                }
            }
        }
    }
    let mut out = String::new();
    for (i, (key, value)) in pairs.enumerate() {
        if i > 0 {
            out.push('&');
        }
        push(&mut out, key);
        out.push('=');
        push(&mut out, value);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn form_encoding_follows_the_url_standard() {
        let encoded = encode_form(
            [
                ("line_items[0][quantity]", "1"),
                ("name", "五月天 × 2 & more=yes"),
                ("url", "https://x.test/ok?s={CHECKOUT_SESSION_ID}"),
            ]
            .into_iter(),
        );
        assert_eq!(
            encoded,
            "line_items%5B0%5D%5Bquantity%5D=1\
             &name=%E4%BA%94%E6%9C%88%E5%A4%A9+%C3%97+2+%26+more%3Dyes\
             &url=https%3A%2F%2Fx.test%2Fok%3Fs%3D%7BCHECKOUT_SESSION_ID%7D"
        );
    }

    #[test]
    fn the_secret_key_never_prints() {
        let config = StripeConfig::new(
            StripeSecretKey::new("sk_test_supersecret"),
            "https://t.test/ok",
            "https://t.test/no",
        );
        let gateway = StripeGateway::new(config).unwrap();
        assert!(!format!("{gateway:?}").contains("supersecret"));
        assert_eq!(
            gateway.sessions_url,
            "https://api.stripe.com/v1/checkout/sessions"
        );
    }

    #[test]
    fn bad_settings_are_refused() {
        let good = StripeConfig::new(StripeSecretKey::new("sk_test_x"), "https://a", "https://b");
        let mut c = good.clone();
        c.api_base = "api.stripe.com".into();
        assert!(matches!(
            StripeGateway::new(c),
            Err(StripeConfigError::BadApiBase(_))
        ));
        let mut c = good.clone();
        c.secret_key = StripeSecretKey::new("");
        assert!(matches!(
            StripeGateway::new(c),
            Err(StripeConfigError::MissingSecretKey)
        ));
        let mut c = good;
        c.cancel_url = String::new();
        assert!(matches!(
            StripeGateway::new(c),
            Err(StripeConfigError::MissingRedirect("cancel_url"))
        ));
    }

    #[test]
    fn the_form_has_every_documented_field() {
        let mut config = StripeConfig::new(
            StripeSecretKey::new("sk_test_x"),
            "https://t.test/orders/{order_id}/paid?session={CHECKOUT_SESSION_ID}",
            "https://t.test/orders/{order_id}?payment={payment_id}",
        );
        config.api_base = "http://127.0.0.1:1/".into();
        let gateway = StripeGateway::new(config).unwrap();
        assert_eq!(
            gateway.sessions_url,
            "http://127.0.0.1:1/v1/checkout/sessions"
        );
        let order = Uuid::new_v4();
        let payment = Uuid::new_v4();
        let form = gateway.form(&CheckoutRequest {
            order_id: order,
            payment_id: payment,
            amount_minor: 9600,
            currency: "TWD".into(),
            description: "Concert".into(),
        });
        let expected = [
            "mode=payment".to_owned(),
            "line_items%5B0%5D%5Bprice_data%5D%5Bcurrency%5D=twd".to_owned(),
            "line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D=9600".to_owned(),
            "line_items%5B0%5D%5Bprice_data%5D%5Bproduct_data%5D%5Bname%5D=Concert".to_owned(),
            "line_items%5B0%5D%5Bquantity%5D=1".to_owned(),
            format!(
                "success_url=https%3A%2F%2Ft.test%2Forders%2F{order}%2Fpaid%3Fsession%3D%7BCHECKOUT_SESSION_ID%7D"
            ),
            format!("cancel_url=https%3A%2F%2Ft.test%2Forders%2F{order}%3Fpayment%3D{payment}"),
            format!("client_reference_id={order}"),
            format!("metadata%5Border_id%5D={order}"),
            format!("metadata%5Bpayment_id%5D={payment}"),
        ]
        .join("&");
        assert_eq!(form, expected);
    }
}
