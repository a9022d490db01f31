//! Payment webhooks: checking who sent them, and reading what they say.
//!
//! Two signature schemes, both HMAC-SHA256 over the raw request body as received (never re-serialised
//! JSON), both compared in constant time:
//! - Tessera's own (OpenTicket seed 003 §10.1): `X-Webhook-Signature: sha256=<lower-case hex>`, used by
//!   the Mock provider and any provider that signs the plain body;
//! - Stripe's (Stripe API reference, "Check the webhook signatures"): `Stripe-Signature: t=<unix
//!   seconds>,v1=<hex>[,v1=<hex>…]` over `"{t}.{body}"`, keyed with the whole `whsec_…` secret.
//!
//! The parsers turn each provider's payload into a provider-neutral [`PaymentNotice`]. Deliveries are
//! at-least-once and may come out of order, so callers must deduplicate on
//! [`PaymentNotice::provider_event_id`] and treat notices for settled orders as no-ops.

use aws_lc_rs::{constant_time, hmac};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use uuid::Uuid;

/// The header carrying Tessera's own webhook signature (seed 003 §10.1).
pub const WEBHOOK_SIGNATURE_HEADER: &str = "X-Webhook-Signature";
/// The header carrying Stripe's webhook signature.
pub const STRIPE_SIGNATURE_HEADER: &str = "Stripe-Signature";
/// Stripe's default tolerance between a signature's timestamp and now: 300 seconds, either way.
pub const STRIPE_DEFAULT_TOLERANCE: TimeDelta = TimeDelta::seconds(300);

/// Why a webhook's signature was refused. Every case should be answered with HTTP 400 and the
/// payload ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The request has no signature header.
    #[error("the webhook signature header is missing")]
    Missing,
    /// The header is present but not in the expected format; the text says what is wrong.
    #[error("the webhook signature header is malformed: {0}")]
    Malformed(&'static str),
    /// The configured secret is empty, so no signature can be trusted (a configuration mistake).
    #[error("no webhook secret is configured")]
    NoSecret,
    /// Well-formed, but no signature matches the body under the configured secret.
    #[error("the webhook signature does not match")]
    Mismatch,
    /// The signature matches but its timestamp is further from now than the tolerance (a replay, or
    /// a badly wrong clock).
    #[error("the webhook signature timestamp {timestamp} is outside the tolerance (now {now})")]
    Stale {
        /// The signed timestamp, Unix seconds (UTC).
        timestamp: i64,
        /// The time of the check, Unix seconds (UTC).
        now: i64,
    },
}

/// Check `X-Webhook-Signature: sha256=<hex>` (seed 003 §10.1): `<hex>` must be the 64 lower-case hex
/// digits of HMAC-SHA256(`secret`, `body`), where `body` is the raw request body.
///
/// Errors: [`SignatureError::Missing`] without a header, [`SignatureError::Malformed`] when it is not
/// `sha256=` followed by 64 lower-case hex digits, [`SignatureError::NoSecret`] for an empty secret,
/// [`SignatureError::Mismatch`] when the HMAC differs (compared in constant time).
pub fn verify_webhook_signature(
    header: Option<&str>,
    body: &[u8],
    secret: &[u8],
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let hex = header
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed("expected sha256=<hex>"))?;
    let given = decode_hex_sha256(hex).ok_or(SignatureError::Malformed(
        "expected 64 lower-case hex digits",
    ))?;
    if secret.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    hmac::verify(&key, body, &given).map_err(|_| SignatureError::Mismatch)
}

/// Sign `body` as [`verify_webhook_signature`] expects: the full header value `sha256=<hex>`.
/// Used by the Mock provider and by tests.
pub fn sign_webhook(body: &[u8], secret: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    format!("sha256={}", hex::encode(hmac::sign(&key, body).as_ref()))
}

/// Check a `Stripe-Signature` header as Stripe documents it: `t=<Unix seconds>` and one or more
/// `v1=<hex HMAC-SHA256>` items separated by commas (other schemes such as `v0` are ignored). The
/// signed message is `"{t}.{body}"` with `t` exactly as in the header and `body` the raw request body;
/// the key is the whole endpoint secret including its `whsec_` prefix. Any `v1` may match, so
/// deliveries during a secret rotation pass. After a match, `|now − t|` must be at most `tolerance`
/// (use [`STRIPE_DEFAULT_TOLERANCE`]).
///
/// Errors: [`SignatureError::Missing`], [`SignatureError::Malformed`] (no `t`, non-numeric `t`, no
/// `v1`, an item without `=`), [`SignatureError::NoSecret`], [`SignatureError::Mismatch`] (no `v1`
/// matches, constant-time), [`SignatureError::Stale`] (matched, but outside the tolerance).
pub fn verify_stripe_signature(
    header: Option<&str>,
    body: &[u8],
    secret: &str,
    now: DateTime<Utc>,
    tolerance: TimeDelta,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp_text: Option<&str> = None;
    let mut candidates: Vec<Option<[u8; 32]>> = Vec::new();
    for item in header.split(',') {
        let (key, value) = item
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed("every item must be key=value"))?;
        match key {
            "t" if timestamp_text.is_some() => {
                return Err(SignatureError::Malformed("more than one timestamp"));
            }
            "t" => timestamp_text = Some(value),
            // A v1 that is not valid hex cannot match; keep looking at the others.
            "v1" => candidates.push(decode_hex_sha256(value)),
            _ => {}
        }
    }
    let timestamp_text = timestamp_text.ok_or(SignatureError::Malformed("no t= timestamp"))?;
    let timestamp: i64 = timestamp_text
        .parse()
        .map_err(|_| SignatureError::Malformed("t= is not a Unix timestamp"))?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed("no v1= signature"));
    }
    if secret.is_empty() {
        return Err(SignatureError::NoSecret);
    }

    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(timestamp_text.as_bytes());
    ctx.update(b".");
    ctx.update(body);
    let expected = ctx.sign();
    // Compare with every candidate (no early exit), each in constant time.
    let matched = candidates.iter().flatten().fold(false, |found, given| {
        constant_time::verify_slices_are_equal(given, expected.as_ref()).is_ok() | found
    });
    if !matched {
        return Err(SignatureError::Mismatch);
    }

    let age = now.timestamp().saturating_sub(timestamp);
    if age.unsigned_abs() > tolerance.num_seconds().unsigned_abs() {
        return Err(SignatureError::Stale {
            timestamp,
            now: now.timestamp(),
        });
    }
    Ok(())
}

/// Sign `body` at `timestamp` (Unix seconds) as Stripe does: the header value `t=…,v1=…`. For tests
/// and local tooling that imitate Stripe.
pub fn sign_stripe_webhook(body: &[u8], secret: &str, timestamp: i64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("t={timestamp},v1={}", hex::encode(ctx.sign().as_ref()))
}

/// 64 lower-case hex digits → 32 bytes; anything else → `None`.
fn decode_hex_sha256(text: &str) -> Option<[u8; 32]> {
    // `hex` also reads upper case; the header formats ask for lower case only.
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// What a payment webhook means for an order, whoever the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentNotice {
    /// The provider's id for this delivery (`evt_…`); deduplicate on it.
    pub provider_event_id: String,
    /// Our order id, echoed by the provider (Stripe `metadata.order_id`, Mock `data.orderId`).
    pub order_id: Uuid,
    /// Tessera's payment attempt, when the provider echoes it back.
    pub payment_id: Option<Uuid>,
    /// What it means for the order.
    pub outcome: PaymentOutcome,
}

/// The result of a payment attempt as a webhook reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// The money is collected: the order can be paid and tickets issued.
    Succeeded,
    /// The attempt is over without payment.
    Failed {
        /// Why, in words for logs and the order's history.
        reason: String,
    },
    /// Nothing to change yet (e.g. Stripe's `checkout.session.completed` with `payment_status`
    /// `unpaid`: a delayed payment method whose result comes in a later event).
    Ignored,
}

/// Why a webhook payload could not be read. Answer HTTP 400, except for
/// [`ParseError::UnhandledEventType`], which should be acknowledged (2xx) and dropped so the provider
/// stops retrying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is not a JSON object.
    #[error("the webhook body is not valid JSON: {0}")]
    Json(String),
    /// A required field is absent or null; names its JSON path, e.g. `data.object.metadata.order_id`.
    #[error("the webhook field {0} is missing")]
    MissingField(&'static str),
    /// A field has the wrong type or an invalid value (e.g. not a UUID); names its JSON path.
    #[error("the webhook field {field} is invalid: {reason}")]
    InvalidField {
        /// JSON path of the field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A well-formed event of a type Tessera does not act on.
    #[error("unhandled webhook event type {0}")]
    UnhandledEventType(String),
}

/// A Stripe Checkout event, as the Stripe API reference documents the `Event` object for
/// `checkout.session.completed`, `checkout.session.async_payment_succeeded`,
/// `checkout.session.async_payment_failed` and `checkout.session.expired` (seed 003 §10.1 shows the
/// first). The session's metadata carries Tessera's ids, as [`super::StripeGateway`] sets them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEvent {
    /// `id`: the event id, `evt_…`; for an event sent without one (seed 003 §10.1's own example
    /// has none), `{type}:{data.object.id}`, which names the same delivery on every retry.
    pub id: String,
    /// `type`, e.g. `checkout.session.completed`.
    pub event_type: String,
    /// `data.object.id`: the Checkout Session, `cs_…`.
    pub session_id: String,
    /// `data.object.payment_status`: `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: Option<String>,
    /// `data.object.metadata.order_id`.
    pub order_id: Uuid,
    /// `data.object.metadata.payment_id`, when present.
    pub payment_id: Option<Uuid>,
}

const STRIPE_TYPES: [&str; 4] = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
];

impl StripeEvent {
    /// Read a Stripe event from the raw webhook body (check the signature first).
    ///
    /// Errors: [`ParseError::Json`], [`ParseError::MissingField`] / [`ParseError::InvalidField`] naming
    /// the JSON path, [`ParseError::UnhandledEventType`] for any type other than the four above. A
    /// missing `id` is no error (see [`StripeEvent::id`]).
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let root = parse_object(body)?;
        let given_id = optional_str(&root, "/id", "id")?.map(str::to_owned);
        let event_type = required_str(&root, "/type", "type")?.to_owned();
        if !STRIPE_TYPES.contains(&event_type.as_str()) {
            return Err(ParseError::UnhandledEventType(event_type));
        }
        let session_id = required_str(&root, "/data/object/id", "data.object.id")?.to_owned();
        // Without an event id, a Checkout Session reaches each of these types once: the pair
        // identifies the delivery, and its retries, as well as `evt_…` would.
        let id = given_id.unwrap_or_else(|| format!("{event_type}:{session_id}"));
        let payment_status = optional_str(
            &root,
            "/data/object/payment_status",
            "data.object.payment_status",
        )?
        .map(str::to_owned);
        let order_id = uuid_field(
            required_str(
                &root,
                "/data/object/metadata/order_id",
                "data.object.metadata.order_id",
            )?,
            "data.object.metadata.order_id",
        )?;
        let payment_id = optional_str(
            &root,
            "/data/object/metadata/payment_id",
            "data.object.metadata.payment_id",
        )?
        .map(|s| uuid_field(s, "data.object.metadata.payment_id"))
        .transpose()?;
        Ok(Self {
            id,
            event_type,
            session_id,
            payment_status,
            order_id,
            payment_id,
        })
    }

    /// What the event means for the order: `completed` with `payment_status` `paid` or
    /// `no_payment_required`, and `async_payment_succeeded`, are [`PaymentOutcome::Succeeded`];
    /// `completed` while still `unpaid` is [`PaymentOutcome::Ignored`] (the async result follows);
    /// `async_payment_failed` and `expired` are [`PaymentOutcome::Failed`].
    pub fn notice(&self) -> PaymentNotice {
        let outcome = match self.event_type.as_str() {
            "checkout.session.completed" => match self.payment_status.as_deref() {
                Some("paid" | "no_payment_required") => PaymentOutcome::Succeeded,
                _ => PaymentOutcome::Ignored,
            },
            "checkout.session.async_payment_succeeded" => PaymentOutcome::Succeeded,
            "checkout.session.async_payment_failed" => PaymentOutcome::Failed {
                reason: "the delayed payment failed".to_owned(),
            },
            "checkout.session.expired" => PaymentOutcome::Failed {
                reason: "the checkout session expired".to_owned(),
            },
            _ => PaymentOutcome::Ignored,
        };
        PaymentNotice {
            provider_event_id: self.id.clone(),
            order_id: self.order_id,
            payment_id: self.payment_id,
            outcome,
        }
    }
}

/// The Mock provider's webhook (Tessera's own format, signed with `X-Webhook-Signature`, seed 003
/// §10.1): `{"id": "evt_…", "type": "payment.succeeded" | "payment.failed", "data": {"orderId":
/// "<uuid>", "paymentId": "<uuid>", "reason": "…"?}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockWebhookEvent {
    /// `id`: the event id.
    pub id: String,
    /// `type`: `payment.succeeded` or `payment.failed`.
    pub event_type: String,
    /// `data.orderId`.
    pub order_id: Uuid,
    /// `data.paymentId`.
    pub payment_id: Uuid,
    /// `data.reason`, for failures.
    pub reason: Option<String>,
}

impl MockWebhookEvent {
    /// Read a Mock event from the raw webhook body (check the signature first).
    ///
    /// Errors: [`ParseError::Json`], [`ParseError::MissingField`] / [`ParseError::InvalidField`] naming
    /// the JSON path (`id`, `type`, `data.orderId`, `data.paymentId`, `data.reason`),
    /// [`ParseError::UnhandledEventType`] for other types.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let root = parse_object(body)?;
        let id = required_str(&root, "/id", "id")?.to_owned();
        let event_type = required_str(&root, "/type", "type")?.to_owned();
        if !matches!(event_type.as_str(), "payment.succeeded" | "payment.failed") {
            return Err(ParseError::UnhandledEventType(event_type));
        }
        let order_id = uuid_field(
            required_str(&root, "/data/orderId", "data.orderId")?,
            "data.orderId",
        )?;
        let payment_id = uuid_field(
            required_str(&root, "/data/paymentId", "data.paymentId")?,
            "data.paymentId",
        )?;
        let reason = optional_str(&root, "/data/reason", "data.reason")?.map(str::to_owned);
        Ok(Self {
            id,
            event_type,
            order_id,
            payment_id,
            reason,
        })
    }

    /// What the event means for the order: `payment.succeeded` → [`PaymentOutcome::Succeeded`],
    /// `payment.failed` → [`PaymentOutcome::Failed`] with `data.reason` (or a generic reason).
    pub fn notice(&self) -> PaymentNotice {
        let outcome = match self.event_type.as_str() {
            "payment.succeeded" => PaymentOutcome::Succeeded,
            "payment.failed" => PaymentOutcome::Failed {
                reason: self
                    .reason
                    .clone()
                    .unwrap_or_else(|| "the payment was declined".to_owned()),
            },
            _ => PaymentOutcome::Ignored,
        };
        PaymentNotice {
            provider_event_id: self.id.clone(),
            order_id: self.order_id,
            payment_id: Some(self.payment_id),
            outcome,
        }
    }
}

fn parse_object(body: &[u8]) -> Result<Value, ParseError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| ParseError::Json(e.to_string()))?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(ParseError::Json("expected a JSON object".to_owned()))
    }
}

fn optional_str<'a>(
    root: &'a Value,
    pointer: &str,
    field: &'static str,
) -> Result<Option<&'a str>, ParseError> {
    match root.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ParseError::InvalidField {
            field,
            reason: "expected a string".to_owned(),
        }),
    }
}

fn required_str<'a>(
    root: &'a Value,
    pointer: &str,
    field: &'static str,
) -> Result<&'a str, ParseError> {
    match optional_str(root, pointer, field)? {
        Some(s) if !s.is_empty() => Ok(s),
        Some(_) => Err(ParseError::InvalidField {
            field,
            reason: "must not be empty".to_owned(),
        }),
        None => Err(ParseError::MissingField(field)),
    }
}

fn uuid_field(text: &str, field: &'static str) -> Result<Uuid, ParseError> {
    Uuid::try_parse(text).map_err(|e| ParseError::InvalidField {
        field,
        reason: e.to_string(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const SECRET: &[u8] = b"tessera-mock-webhook-secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment.succeeded"}"#;
    const WHSEC: &str = "whsec_test_0123456789abcdefghijklmnopqrstuv";
    const T: i64 = 1_737_367_380; // 2025-01-20T10:03:00Z

    fn at(ts: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(ts, 0).unwrap()
    }

    // --- X-Webhook-Signature ---

    #[test]
    fn tessera_signature_matches_an_independent_hmac() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let header = sign_webhook(b"what do ya want for nothing?", b"Jefe");
        assert_eq!(
            header,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            verify_webhook_signature(Some(&header), b"what do ya want for nothing?", b"Jefe"),
            Ok(())
        );
    }

    #[test]
    fn tessera_good_signature_passes() {
        let header = sign_webhook(BODY, SECRET);
        assert_eq!(
            verify_webhook_signature(Some(&header), BODY, SECRET),
            Ok(())
        );
    }

    #[test]
    fn tessera_wrong_secret_fails() {
        let header = sign_webhook(BODY, b"another secret");
        assert_eq!(
            verify_webhook_signature(Some(&header), BODY, SECRET),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn tessera_tampered_body_fails() {
        let header = sign_webhook(BODY, SECRET);
        let tampered = br#"{"id":"evt_1","type":"payment.failed"}"#;
        assert_eq!(
            verify_webhook_signature(Some(&header), tampered, SECRET),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn tessera_missing_header_fails() {
        assert_eq!(
            verify_webhook_signature(None, BODY, SECRET),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn tessera_malformed_headers_fail() {
        let good = sign_webhook(BODY, SECRET);
        let hex = good.strip_prefix("sha256=").unwrap();
        for bad in [
            String::new(),
            hex.to_owned(),
            format!("sha1={hex}"),
            format!("sha256={}", hex.to_uppercase()),
            format!("sha256={}", &hex[..63]),
            format!("sha256={hex}0"),
            format!("sha256={}g", &hex[..63]),
            "sha256=".to_owned(),
        ] {
            assert!(
                matches!(
                    verify_webhook_signature(Some(&bad), BODY, SECRET),
                    Err(SignatureError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn tessera_empty_secret_is_refused() {
        let header = sign_webhook(BODY, b"");
        assert_eq!(
            verify_webhook_signature(Some(&header), BODY, b""),
            Err(SignatureError::NoSecret)
        );
    }

    // --- Stripe-Signature ---

    #[test]
    fn stripe_good_signature_passes() {
        let header = sign_stripe_webhook(BODY, WHSEC, T);
        assert!(header.starts_with(&format!("t={T},v1=")));
        assert_eq!(
            verify_stripe_signature(
                Some(&header),
                BODY,
                WHSEC,
                at(T + 10),
                STRIPE_DEFAULT_TOLERANCE
            ),
            Ok(())
        );
    }

    #[test]
    fn stripe_signs_timestamp_dot_body_with_the_whole_secret() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, WHSEC.as_bytes());
        let mut message = format!("{T}.").into_bytes();
        message.extend_from_slice(BODY);
        let header = format!(
            "t={T},v1={}",
            hex::encode(hmac::sign(&key, &message).as_ref())
        );
        assert_eq!(
            verify_stripe_signature(Some(&header), BODY, WHSEC, at(T), STRIPE_DEFAULT_TOLERANCE),
            Ok(())
        );
        // Keyed without the whsec_ prefix: not what Stripe does.
        let stripped = WHSEC.strip_prefix("whsec_").unwrap();
        assert_eq!(
            verify_stripe_signature(
                Some(&header),
                BODY,
                stripped,
                at(T),
                STRIPE_DEFAULT_TOLERANCE
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stripe_wrong_secret_fails() {
        let header = sign_stripe_webhook(BODY, "whsec_other", T);
        assert_eq!(
            verify_stripe_signature(Some(&header), BODY, WHSEC, at(T), STRIPE_DEFAULT_TOLERANCE),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stripe_tampered_body_fails() {
        let header = sign_stripe_webhook(BODY, WHSEC, T);
        assert_eq!(
            verify_stripe_signature(
                Some(&header),
                br#"{"id":"evt_2","type":"payment.succeeded"}"#,
                WHSEC,
                at(T),
                STRIPE_DEFAULT_TOLERANCE
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stripe_tampered_timestamp_fails() {
        let header = sign_stripe_webhook(BODY, WHSEC, T);
        let moved = header.replacen(&format!("t={T}"), &format!("t={}", T + 1), 1);
        assert_eq!(
            verify_stripe_signature(Some(&moved), BODY, WHSEC, at(T), STRIPE_DEFAULT_TOLERANCE),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stripe_missing_header_fails() {
        assert_eq!(
            verify_stripe_signature(None, BODY, WHSEC, at(T), STRIPE_DEFAULT_TOLERANCE),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn stripe_malformed_headers_fail() {
        let good = sign_stripe_webhook(BODY, WHSEC, T);
        let v1 = good.split_once(",v1=").unwrap().1;
        for bad in [
            String::new(),
            "garbage".to_owned(),
            format!("v1={v1}"),
            format!("t={T}"),
            format!("t={T},v0={v1}"),
            format!("t=yesterday,v1={v1}"),
            format!("t={T},t={T},v1={v1}"),
            format!("t={T},v1={v1},junk"),
        ] {
            assert!(
                matches!(
                    verify_stripe_signature(
                        Some(&bad),
                        BODY,
                        WHSEC,
                        at(T),
                        STRIPE_DEFAULT_TOLERANCE
                    ),
                    Err(SignatureError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn stripe_any_v1_may_match_during_rotation() {
        let old = sign_stripe_webhook(BODY, "whsec_old_secret", T);
        let new = sign_stripe_webhook(BODY, WHSEC, T);
        let old_v1 = old.split_once(",v1=").unwrap().1;
        let new_v1 = new.split_once(",v1=").unwrap().1;
        // Only the second v1 is right for our secret; a v0 and a junk v1 are ignored.
        let header = format!("t={T},v1={old_v1},v0=abc,v1=not-hex,v1={new_v1}");
        assert_eq!(
            verify_stripe_signature(Some(&header), BODY, WHSEC, at(T), STRIPE_DEFAULT_TOLERANCE),
            Ok(())
        );
        let wrong_only = format!("t={T},v1={old_v1},v1=not-hex");
        assert_eq!(
            verify_stripe_signature(
                Some(&wrong_only),
                BODY,
                WHSEC,
                at(T),
                STRIPE_DEFAULT_TOLERANCE
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stripe_stale_and_future_timestamps_fail() {
        let header = sign_stripe_webhook(BODY, WHSEC, T);
        let tol = STRIPE_DEFAULT_TOLERANCE;
        // Exactly at the edge is still fine, either way.
        assert_eq!(
            verify_stripe_signature(Some(&header), BODY, WHSEC, at(T + 300), tol),
            Ok(())
        );
        assert_eq!(
            verify_stripe_signature(Some(&header), BODY, WHSEC, at(T - 300), tol),
            Ok(())
        );
        assert_eq!(
            verify_stripe_signature(Some(&header), BODY, WHSEC, at(T + 301), tol),
            Err(SignatureError::Stale {
                timestamp: T,
                now: T + 301
            })
        );
        assert_eq!(
            verify_stripe_signature(Some(&header), BODY, WHSEC, at(T - 301), tol),
            Err(SignatureError::Stale {
                timestamp: T,
                now: T - 301
            })
        );
        // A wrong signature is reported as such, even when also stale.
        let forged = sign_stripe_webhook(BODY, "whsec_other", T);
        assert_eq!(
            verify_stripe_signature(Some(&forged), BODY, WHSEC, at(T + 10_000), tol),
            Err(SignatureError::Mismatch)
        );
    }

    // --- Stripe events ---

    const ORDER: &str = "aa0e8400-e29b-41d4-a716-446655440000";
    const PAYMENT: &str = "bb0e8400-e29b-41d4-a716-446655440000";

    fn stripe_body(event_type: &str, payment_status: &str) -> Vec<u8> {
        serde_json::json!({
            "id": "evt_1QabcDEF",
            "object": "event",
            "type": event_type,
            "data": {"object": {
                "id": "cs_test_a1b2c3",
                "object": "checkout.session",
                "payment_status": payment_status,
                "client_reference_id": ORDER,
                "metadata": {"order_id": ORDER, "payment_id": PAYMENT}
            }}
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn stripe_completed_and_paid_succeeds() {
        let event = StripeEvent::parse(&stripe_body("checkout.session.completed", "paid")).unwrap();
        assert_eq!(
            event,
            StripeEvent {
                id: "evt_1QabcDEF".into(),
                event_type: "checkout.session.completed".into(),
                session_id: "cs_test_a1b2c3".into(),
                payment_status: Some("paid".into()),
                order_id: ORDER.parse().unwrap(),
                payment_id: Some(PAYMENT.parse().unwrap()),
            }
        );
        assert_eq!(
            event.notice(),
            PaymentNotice {
                provider_event_id: "evt_1QabcDEF".into(),
                order_id: ORDER.parse().unwrap(),
                payment_id: Some(PAYMENT.parse().unwrap()),
                outcome: PaymentOutcome::Succeeded,
            }
        );
    }

    #[test]
    fn stripe_outcomes_per_type() {
        let outcome = |t: &str, s: &str| {
            StripeEvent::parse(&stripe_body(t, s))
                .unwrap()
                .notice()
                .outcome
        };
        assert_eq!(
            outcome("checkout.session.completed", "unpaid"),
            PaymentOutcome::Ignored
        );
        assert_eq!(
            outcome("checkout.session.completed", "no_payment_required"),
            PaymentOutcome::Succeeded
        );
        assert_eq!(
            outcome("checkout.session.async_payment_succeeded", "paid"),
            PaymentOutcome::Succeeded
        );
        assert!(matches!(
            outcome("checkout.session.async_payment_failed", "unpaid"),
            PaymentOutcome::Failed { .. }
        ));
        assert!(matches!(
            outcome("checkout.session.expired", "unpaid"),
            PaymentOutcome::Failed { .. }
        ));
    }

    #[test]
    fn stripe_seed_example_parses_without_payment_id() {
        // Seed 003 §10.1's example, plus the event id every Stripe event has.
        let body = br#"{"id":"evt_9","type":"checkout.session.completed","data":{"object":{"id":"cs_test_x","payment_status":"paid","metadata":{"order_id":"aa0e8400-e29b-41d4-a716-446655440000"}}}}"#;
        let event = StripeEvent::parse(body).unwrap();
        assert_eq!(event.payment_id, None);
        assert_eq!(event.notice().outcome, PaymentOutcome::Succeeded);
    }

    #[test]
    fn stripe_other_types_are_unhandled() {
        assert_eq!(
            StripeEvent::parse(&stripe_body("payment_intent.succeeded", "paid")),
            Err(ParseError::UnhandledEventType(
                "payment_intent.succeeded".into()
            ))
        );
    }

    #[test]
    fn stripe_parse_errors_name_the_field() {
        assert!(matches!(
            StripeEvent::parse(b"{not json"),
            Err(ParseError::Json(_))
        ));
        assert!(matches!(
            StripeEvent::parse(b"[1]"),
            Err(ParseError::Json(_))
        ));
        let mut v: Value =
            serde_json::from_slice(&stripe_body("checkout.session.completed", "paid")).unwrap();
        v["data"]["object"]["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("order_id");
        assert_eq!(
            StripeEvent::parse(v.to_string().as_bytes()),
            Err(ParseError::MissingField("data.object.metadata.order_id"))
        );
        v["data"]["object"]["metadata"]["order_id"] = "not-a-uuid".into();
        assert!(matches!(
            StripeEvent::parse(v.to_string().as_bytes()),
            Err(ParseError::InvalidField {
                field: "data.object.metadata.order_id",
                ..
            })
        ));
        v["data"]["object"]["metadata"]["order_id"] = ORDER.into();
        v["data"]["object"]["metadata"]["payment_id"] = "nope".into();
        assert!(matches!(
            StripeEvent::parse(v.to_string().as_bytes()),
            Err(ParseError::InvalidField {
                field: "data.object.metadata.payment_id",
                ..
            })
        ));
        v["data"]["object"]["metadata"]["payment_id"] = PAYMENT.into();
        v["data"]["object"]["id"] = 42.into();
        assert!(matches!(
            StripeEvent::parse(v.to_string().as_bytes()),
            Err(ParseError::InvalidField {
                field: "data.object.id",
                ..
            })
        ));
        v["data"]["object"]["id"] = "cs_test_x".into();
        v.as_object_mut().unwrap().remove("id");
        let without_id = StripeEvent::parse(v.to_string().as_bytes()).unwrap();
        assert_eq!(without_id.id, "checkout.session.completed:cs_test_x");
        assert_eq!(
            without_id.notice().provider_event_id,
            "checkout.session.completed:cs_test_x"
        );
        v["id"] = 7.into();
        assert!(matches!(
            StripeEvent::parse(v.to_string().as_bytes()),
            Err(ParseError::InvalidField { field: "id", .. })
        ));
    }

    // --- Mock events ---

    #[test]
    fn mock_succeeded_and_failed() {
        let ok = format!(
            r#"{{"id":"evt_m1","type":"payment.succeeded","data":{{"orderId":"{ORDER}","paymentId":"{PAYMENT}"}}}}"#
        );
        assert_eq!(
            MockWebhookEvent::parse(ok.as_bytes()).unwrap().notice(),
            PaymentNotice {
                provider_event_id: "evt_m1".into(),
                order_id: ORDER.parse().unwrap(),
                payment_id: Some(PAYMENT.parse().unwrap()),
                outcome: PaymentOutcome::Succeeded,
            }
        );
        let failed = format!(
            r#"{{"id":"evt_m2","type":"payment.failed","data":{{"orderId":"{ORDER}","paymentId":"{PAYMENT}","reason":"card declined"}}}}"#
        );
        assert_eq!(
            MockWebhookEvent::parse(failed.as_bytes())
                .unwrap()
                .notice()
                .outcome,
            PaymentOutcome::Failed {
                reason: "card declined".into()
            }
        );
        let no_reason = failed.replace(r#","reason":"card declined""#, "");
        assert!(matches!(
            MockWebhookEvent::parse(no_reason.as_bytes()).unwrap().notice().outcome,
            PaymentOutcome::Failed { reason } if !reason.is_empty()
        ));
    }

    #[test]
    fn mock_parse_errors_name_the_field() {
        assert!(matches!(
            MockWebhookEvent::parse(b""),
            Err(ParseError::Json(_))
        ));
        assert_eq!(
            MockWebhookEvent::parse(br#"{"type":"payment.succeeded"}"#),
            Err(ParseError::MissingField("id"))
        );
        assert_eq!(
            MockWebhookEvent::parse(br#"{"id":"evt_1","type":"payment.refunded"}"#),
            Err(ParseError::UnhandledEventType("payment.refunded".into()))
        );
        assert_eq!(
            MockWebhookEvent::parse(br#"{"id":"evt_1","type":"payment.succeeded","data":{}}"#),
            Err(ParseError::MissingField("data.orderId"))
        );
        let bad_payment = format!(
            r#"{{"id":"evt_1","type":"payment.succeeded","data":{{"orderId":"{ORDER}","paymentId":"x"}}}}"#
        );
        assert!(matches!(
            MockWebhookEvent::parse(bad_payment.as_bytes()),
            Err(ParseError::InvalidField {
                field: "data.paymentId",
                ..
            })
        ));
        assert!(matches!(
            MockWebhookEvent::parse(br#"{"id":"","type":"payment.succeeded"}"#),
            Err(ParseError::InvalidField { field: "id", .. })
        ));
    }
}
