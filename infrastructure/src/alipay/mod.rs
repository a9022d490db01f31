//! The Alipay open platform (支付宝开放平台) for face-to-face QR payments: the [`AlipayClient`]
//! adapter of the application's [`Alipay`] port (docs/alipay.md).
//!
//! What is signed and checked (open-platform "公共请求参数", "签名", "验签", "异步通知"):
//! - every request is a form POST to the gateway with the common parameters `app_id`, `method`,
//!   `format` `JSON`, `charset` `utf-8`, `sign_type` `RSA2`, `timestamp` (`yyyy-MM-dd HH:mm:ss`,
//!   UTC+8), `version` `1.0`, `notify_url` and `biz_content` (JSON), and `sign`: Base64
//!   SHA256withRSA (PKCS#1 v1.5) with the app private key over [`signing_content`] (every
//!   parameter but `sign`, empty values left out, sorted by name, `name=value` joined by `&`,
//!   values not URL-encoded);
//! - every reply `{"<method with _ for .>_response": {...}, "sign": "..."}` is trusted only when
//!   `sign` verifies with the Alipay public key over the exact text of the response object;
//! - every notification (form POST) is trusted only when `sign` verifies with the Alipay public
//!   key over [`signing_content`] of its parameters without `sign` and `sign_type`, and its
//!   `app_id` is ours. It is answered with the plain text `success` (anything else makes Alipay
//!   retry).
//!
//! Must not know axum: the api crate hands the decoded form parameters to
//! [`Alipay::parse_notification`].

use async_trait::async_trait;
use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, UnparsedPublicKey,
};
use aws_lc_rs::{rand, rsa};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, FixedOffset, Utc};
use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, SubjectPublicKeyInfoDer};
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tessera_application::payments::alipay::{
    Alipay, AlipayError, AlipayNotification, AlipayPrecreate, AlipayQrCode,
};

/// Alipay's production gateway.
pub const ALIPAY_GATEWAY: &str = "https://openapi.alipay.com/gateway.do";
/// The smallest RSA key accepted, in bits (RSA2 keys are 2048 bits).
pub const MIN_RSA_BITS: usize = 2048;
/// Default limit for one whole call.
pub const ALIPAY_DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The `code` of a successful reply.
const SUCCESS_CODE: &str = "10000";
/// China Standard Time (UTC+8) in seconds: Alipay's timestamps.
const CHINA_OFFSET_SECS: i32 = 8 * 3600;

/// Settings of [`AlipayClient`].
#[derive(Clone)]
pub struct AlipayConfig {
    /// Gateway URL ([`ALIPAY_GATEWAY`] in production; the sandbox or a local stand-in otherwise).
    pub gateway_url: String,
    /// The application's `app_id`.
    pub app_id: String,
    /// The application private key (RSA ≥ 2048 bits): PEM (PKCS#8 `BEGIN PRIVATE KEY` or PKCS#1
    /// `BEGIN RSA PRIVATE KEY`), or the bare Base64 PKCS#8 text the Alipay key tool prints.
    pub app_private_key: SecretString,
    /// The Alipay public key (支付宝公钥, not the application's own): PEM `BEGIN PUBLIC KEY` or
    /// bare Base64 SubjectPublicKeyInfo.
    pub alipay_public_key: String,
    /// Default `notify_url`.
    pub notify_url: String,
    /// Limit for one whole call.
    pub timeout: Duration,
}

// Manual: never print the private key.
impl std::fmt::Debug for AlipayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlipayConfig")
            .field("gateway_url", &self.gateway_url)
            .field("app_id", &self.app_id)
            .field("notify_url", &self.notify_url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Why [`AlipayClient::new`] refused its settings.
#[derive(Debug, thiserror::Error)]
pub enum AlipayConfigError {
    /// A setting is empty.
    #[error("the Alipay setting {0} is empty")]
    Missing(&'static str),
    /// The gateway is not an http(s) URL.
    #[error("the Alipay gateway {0:?} is not an http(s) URL")]
    BadGateway(String),
    /// The application private key is unusable.
    #[error("the Alipay application private key is unusable: {0}")]
    PrivateKey(String),
    /// The Alipay public key is unusable.
    #[error("the Alipay public key is unusable: {0}")]
    PublicKey(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// The [`Alipay`] port over the open-platform gateway, for one application. Cheap to clone.
#[derive(Clone)]
pub struct AlipayClient {
    http: reqwest::Client,
    gateway: Url,
    app_id: String,
    notify_url: String,
    private_key: Arc<RsaKeyPair>,
    public_key: Arc<rsa::PublicKey>,
}

impl std::fmt::Debug for AlipayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlipayClient")
            .field("gateway", &self.gateway.as_str())
            .field("app_id", &self.app_id)
            .field("notify_url", &self.notify_url)
            .finish_non_exhaustive()
    }
}

/// The text signed for `params` ("签名"): every parameter except `sign` whose value is not empty,
/// sorted by name (byte order), each written `name=value` (raw, not URL-encoded), joined by `&`.
/// For a notification, leave `sign_type` out of `params` as well.
pub fn signing_content<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let sorted: BTreeMap<&str, &str> = params
        .into_iter()
        .filter(|(k, v)| *k != "sign" && !v.is_empty())
        .collect();
    sorted
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Base64 SHA256withRSA (PKCS#1 v1.5) signature of `content` with `key` (RSA2).
///
/// Errors: `None` if signing fails (no randomness).
pub fn rsa2_sign(key: &RsaKeyPair, content: &str) -> Option<String> {
    let rng = rand::SystemRandom::new();
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(&RSA_PKCS1_SHA256, &rng, content.as_bytes(), &mut signature)
        .ok()?;
    Some(STANDARD.encode(signature))
}

/// Whether `signature` (Base64) is a SHA256withRSA signature of `content` by `key`.
pub fn rsa2_verify(key: &rsa::PublicKey, content: &[u8], signature: &str) -> bool {
    let Ok(signature) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.as_ref())
        .verify(content, &signature)
        .is_ok()
}

/// Read an RSA private key: PEM PKCS#8 or PKCS#1, or bare Base64 PKCS#8.
///
/// Errors: [`AlipayConfigError::PrivateKey`] (never echoing the key).
pub fn read_private_key(text: &str) -> Result<RsaKeyPair, AlipayConfigError> {
    let bad = |why: &str| AlipayConfigError::PrivateKey(why.to_owned());
    let key = if text.contains("-----BEGIN") {
        match PrivateKeyDer::from_pem_slice(text.as_bytes())
            .map_err(|_| bad("no PEM private key"))?
        {
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            _ => return Err(bad("not an RSA key")),
        }
    } else {
        let der = STANDARD
            .decode(text.split_whitespace().collect::<String>())
            .map_err(|_| bad("neither PEM nor Base64"))?;
        RsaKeyPair::from_pkcs8(PrivatePkcs8KeyDer::from(der).secret_pkcs8_der())
    }
    .map_err(|_| bad("not an RSA private key"))?;
    if key.public_modulus_len() * 8 < MIN_RSA_BITS {
        return Err(bad("shorter than 2048 bits"));
    }
    Ok(key)
}

/// Read an RSA public key: PEM `BEGIN PUBLIC KEY` or bare Base64 SubjectPublicKeyInfo.
///
/// Errors: [`AlipayConfigError::PublicKey`].
pub fn read_public_key(text: &str) -> Result<rsa::PublicKey, AlipayConfigError> {
    let bad = |why: &str| AlipayConfigError::PublicKey(why.to_owned());
    let der = if text.contains("-----BEGIN") {
        SubjectPublicKeyInfoDer::from_pem_slice(text.as_bytes())
            .map_err(|_| bad("no PEM public key"))?
            .as_ref()
            .to_vec()
    } else {
        STANDARD
            .decode(text.split_whitespace().collect::<String>())
            .map_err(|_| bad("neither PEM nor Base64"))?
    };
    let key = rsa::PublicKey::from_der(&der).map_err(|_| bad("not an RSA public key"))?;
    if key.modulus_len() * 8 < MIN_RSA_BITS {
        return Err(bad("shorter than 2048 bits"));
    }
    Ok(key)
}

/// `time` as Alipay writes times: `yyyy-MM-dd HH:mm:ss` in China Standard Time (UTC+8).
pub fn china_timestamp(time: DateTime<Utc>) -> String {
    const FORMAT: &str = "%Y-%m-%d %H:%M:%S";
    match FixedOffset::east_opt(CHINA_OFFSET_SECS) {
        Some(offset) => time.with_timezone(&offset).format(FORMAT).to_string(),
        None => time.format(FORMAT).to_string(),
    }
}

/// `fen` as yuan with exactly two decimals (`12345` → `123.45`).
pub fn fen_to_yuan_text(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Yuan text with at most two decimals (`123.45`, `100`, `0.5`) as fen; `None` otherwise.
pub fn yuan_text_to_fen(text: &str) -> Option<i64> {
    let text = text.trim();
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let int: i64 = int.parse().ok()?;
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<2}").parse().ok()?
    };
    int.checked_mul(100)?.checked_add(frac)
}

/// `application/x-www-form-urlencoded` text of `pairs` (UTF-8): letters, digits and `*-._` as
/// they are, space as `+`, every other byte as `%XX`.
pub fn form_encode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    fn encode(out: &mut String, text: &str) {
        for b in text.bytes() {
            match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                    out.push(char::from(b))
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode(&mut out, k);
        out.push('=');
        encode(&mut out, v);
    }
    out
}

/// Decode `application/x-www-form-urlencoded` text into (name, value) pairs in order (`+` is a
/// space, `%XX` a byte); `None` when an escape is broken or the result is not UTF-8.
pub fn form_decode(body: &[u8]) -> Option<Vec<(String, String)>> {
    fn decode(part: &[u8]) -> Option<String> {
        let mut out = Vec::with_capacity(part.len());
        let mut i = 0;
        while i < part.len() {
            match part[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = std::str::from_utf8(part.get(i + 1..i + 3)?).ok()?;
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).ok()
    }
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let mut it = pair.splitn(2, |b| *b == b'=');
            let name = decode(it.next().unwrap_or_default())?;
            let value = decode(it.next().unwrap_or_default())?;
            Some((name, value))
        })
        .collect()
}

/// The exact text of the JSON value of `key` at the top level of the object `body` (Alipay signs
/// the response object as sent, so it must not be re-serialised); `None` when absent.
pub fn raw_member<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    let bytes = body.as_bytes();
    let mut i = 0;
    let mut depth = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => {
                let start = i + 1;
                i = string_end(bytes, start)?;
                let name = &body[start..i];
                if depth == 1 && name == key {
                    let mut j = i + 1;
                    while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    if bytes.get(j) == Some(&b':') {
                        j += 1;
                        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                            j += 1;
                        }
                        return value_text(body, j);
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Index of the closing quote of the string starting at `start` (after its opening quote).
fn string_end(bytes: &[u8], mut i: usize) -> Option<usize> {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The text of the JSON value starting at `start`.
fn value_text(body: &str, start: usize) -> Option<&str> {
    let bytes = body.as_bytes();
    match bytes.get(start)? {
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = start;
            while i < bytes.len() {
                match bytes[i] {
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return body.get(start..=i);
                        }
                    }
                    b'"' => i = string_end(bytes, i + 1)?,
                    _ => {}
                }
                i += 1;
            }
            None
        }
        b'"' => {
            let end = string_end(bytes, start + 1)?;
            body.get(start..=end)
        }
        _ => {
            let end = bytes[start..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']'))
                .map_or(bytes.len(), |p| start + p);
            body.get(start..end).map(str::trim_end)
        }
    }
}

impl AlipayClient {
    /// An adapter using `config`, with both keys read and checked now.
    ///
    /// Errors: [`AlipayConfigError`] for an empty setting, a gateway that is not http(s), an
    /// unusable key or an HTTP client that cannot be built.
    pub fn new(config: AlipayConfig) -> Result<Self, AlipayConfigError> {
        for (name, value) in [
            ("app_id", &config.app_id),
            ("notify_url", &config.notify_url),
            ("alipay_public_key", &config.alipay_public_key),
        ] {
            if value.trim().is_empty() {
                return Err(AlipayConfigError::Missing(name));
            }
        }
        if config.app_private_key.expose_secret().trim().is_empty() {
            return Err(AlipayConfigError::Missing("app_private_key"));
        }
        let gateway = Url::parse(config.gateway_url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| AlipayConfigError::BadGateway(config.gateway_url.clone()))?;
        let private_key = read_private_key(config.app_private_key.expose_secret())?;
        let public_key = read_public_key(&config.alipay_public_key)?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(AlipayConfigError::Client)?;
        Ok(Self {
            http,
            gateway,
            app_id: config.app_id,
            notify_url: config.notify_url,
            private_key: Arc::new(private_key),
            public_key: Arc::new(public_key),
        })
    }

    /// The signed form parameters of a call of `method` with `biz_content` at `now`: the common
    /// parameters (`app_id`, `method`, `format`, `charset`, `sign_type`, `timestamp`, `version`,
    /// `notify_url` when given, `biz_content`) and `sign`.
    ///
    /// Errors: [`AlipayError::Unavailable`] when signing fails.
    pub fn signed_params(
        &self,
        method: &str,
        biz_content: &str,
        notify_url: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, AlipayError> {
        let mut params: Vec<(String, String)> = vec![
            ("app_id".into(), self.app_id.clone()),
            ("method".into(), method.into()),
            ("format".into(), "JSON".into()),
            ("charset".into(), "utf-8".into()),
            ("sign_type".into(), "RSA2".into()),
            ("timestamp".into(), china_timestamp(now)),
            ("version".into(), "1.0".into()),
            ("biz_content".into(), biz_content.into()),
        ];
        if let Some(url) = notify_url {
            params.push(("notify_url".into(), url.into()));
        }
        let content = signing_content(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let sign = rsa2_sign(&self.private_key, &content)
            .ok_or_else(|| AlipayError::Unavailable("cannot sign with the app key".into()))?;
        params.push(("sign".into(), sign));
        Ok(params)
    }

    /// Send a signed call and return the verified response object of `method`.
    async fn call(
        &self,
        method: &str,
        biz_content: &str,
        notify_url: Option<&str>,
    ) -> Result<serde_json::Value, AlipayError> {
        let params = self.signed_params(method, biz_content, notify_url, Utc::now())?;
        let body = form_encode(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let response = self
            .http
            .post(self.gateway.clone())
            .header(
                CONTENT_TYPE,
                "application/x-www-form-urlencoded;charset=utf-8",
            )
            .header(ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                AlipayError::Unavailable(format!("request to Alipay failed: {}", e.without_url()))
            })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| {
            AlipayError::Unavailable(format!(
                "reading Alipay's answer failed: {}",
                e.without_url()
            ))
        })?;
        if !status.is_success() {
            return Err(AlipayError::Unavailable(format!(
                "Alipay answered HTTP {status}"
            )));
        }
        let key = format!("{}_response", method.replace('.', "_"));
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| AlipayError::Unavailable(format!("Alipay's answer is not JSON: {e}")))?;
        let Some(raw) = raw_member(&text, &key) else {
            // Gateway-level errors (bad app id, bad signature …) come as `error_response`.
            let e = &json["error_response"];
            return Err(rejected(e));
        };
        let sign = json["sign"].as_str().unwrap_or_default();
        if !rsa2_verify(&self.public_key, raw.as_bytes(), sign) {
            tracing::warn!(method, "Alipay reply signature does not verify");
            return Err(AlipayError::Unavailable(
                "Alipay's answer is not signed by the configured Alipay public key".into(),
            ));
        }
        let object = json[&key].clone();
        if object["code"].as_str() != Some(SUCCESS_CODE) {
            return Err(rejected(&object));
        }
        Ok(object)
    }
}

fn rejected(e: &serde_json::Value) -> AlipayError {
    let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
    let sub_msg = text("sub_msg");
    AlipayError::Rejected {
        code: text("code"),
        sub_code: text("sub_code"),
        message: if sub_msg.is_empty() {
            text("msg")
        } else {
            sub_msg
        },
    }
}

#[async_trait]
impl Alipay for AlipayClient {
    fn app_id(&self) -> &str {
        &self.app_id
    }

    /// `alipay.trade.precreate` with `biz_content` `{out_trade_no, total_amount (yuan, two
    /// decimals), subject, time_expire (UTC+8) when given}`; the reply's `qr_code`.
    ///
    /// Errors: [`AlipayError::Rejected`] for a reply `code` other than `10000` (or an
    /// `error_response`); [`AlipayError::Unavailable`] for network failures, non-2xx answers,
    /// replies whose signature does not verify, and replies without `qr_code` or for another
    /// `out_trade_no`.
    #[tracing::instrument(skip_all, fields(out_trade_no = %order.out_trade_no))]
    async fn precreate(&self, order: &AlipayPrecreate) -> Result<AlipayQrCode, AlipayError> {
        let mut biz = serde_json::json!({
            "out_trade_no": order.out_trade_no,
            "total_amount": fen_to_yuan_text(order.amount_fen),
            "subject": order.subject,
        });
        if let Some(at) = order.time_expire {
            biz["time_expire"] = china_timestamp(at).into();
        }
        let notify = order.notify_url.as_deref().unwrap_or(&self.notify_url);
        let reply = self
            .call("alipay.trade.precreate", &biz.to_string(), Some(notify))
            .await?;
        let qr_code = reply["qr_code"].as_str().unwrap_or_default().to_owned();
        let echoed = reply["out_trade_no"].as_str().unwrap_or_default();
        if qr_code.is_empty() || echoed != order.out_trade_no {
            return Err(AlipayError::Unavailable(
                "Alipay's answer has no qr_code for this order".into(),
            ));
        }
        Ok(AlipayQrCode {
            out_trade_no: order.out_trade_no.clone(),
            qr_code,
        })
    }

    /// Verify `sign` with the Alipay public key over [`signing_content`] of every parameter but
    /// `sign` and `sign_type`; then require `app_id` to be ours and read `notify_id`,
    /// `out_trade_no`, `trade_no`, `trade_status` and `total_amount` (yuan → fen).
    ///
    /// Errors: [`AlipayError::BadSignature`] (no or wrong signature, a `sign_type` other than
    /// `RSA2`, another app id); [`AlipayError::Malformed`] (a missing field or an unreadable
    /// amount).
    fn parse_notification(
        &self,
        params: &[(String, String)],
    ) -> Result<AlipayNotification, AlipayError> {
        let get = |k: &str| {
            params
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or_default()
        };
        let sign = get("sign");
        if sign.is_empty() {
            return Err(AlipayError::BadSignature("no sign".into()));
        }
        if !get("sign_type").is_empty() && get("sign_type") != "RSA2" {
            return Err(AlipayError::BadSignature(format!(
                "sign_type {:?} is not RSA2",
                get("sign_type")
            )));
        }
        let content = signing_content(
            params
                .iter()
                .filter(|(k, _)| k != "sign_type")
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        if !rsa2_verify(&self.public_key, content.as_bytes(), sign) {
            return Err(AlipayError::BadSignature(
                "sign does not verify with the Alipay public key".into(),
            ));
        }
        if get("app_id") != self.app_id {
            return Err(AlipayError::BadSignature(format!(
                "app_id {:?} is not ours",
                get("app_id")
            )));
        }
        let field = |k: &str| {
            let v = get(k);
            if v.is_empty() {
                Err(AlipayError::Malformed(format!("{k} is missing")))
            } else {
                Ok(v.to_owned())
            }
        };
        let amount = field("total_amount")?;
        Ok(AlipayNotification {
            notify_id: field("notify_id")?,
            out_trade_no: field("out_trade_no")?,
            trade_no: field("trade_no")?,
            trade_status: field("trade_status")?,
            amount_fen: yuan_text_to_fen(&amount)
                .ok_or_else(|| AlipayError::Malformed(format!("total_amount {amount:?}")))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::KeyPair as _;

    fn keys() -> (RsaKeyPair, String, String) {
        let key = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048).unwrap();
        let private = STANDARD.encode(key.as_der().unwrap().as_ref());
        let public = STANDARD.encode(key.public_key().as_der().unwrap().as_ref());
        (read_private_key(&private).unwrap(), private, public)
    }

    fn client(alipay_public: &str, app_private: &str) -> AlipayClient {
        AlipayClient::new(AlipayConfig {
            gateway_url: "http://127.0.0.1:9/gateway.do".into(),
            app_id: "2021000000000001".into(),
            app_private_key: SecretString::from(app_private.to_owned()),
            alipay_public_key: alipay_public.into(),
            notify_url: "https://example.com/plans/alipay/notify".into(),
            timeout: ALIPAY_DEFAULT_TIMEOUT,
        })
        .unwrap()
    }

    #[test]
    fn signing_content_sorts_skips_sign_and_empty_values_and_does_not_encode() {
        let content = signing_content([
            ("timestamp", "2026-01-02 03:04:05"),
            ("app_id", "2021"),
            ("sign", "xyz"),
            ("notify_url", ""),
            ("biz_content", r#"{"a":"b&c"}"#),
        ]);
        assert_eq!(
            content,
            r#"app_id=2021&biz_content={"a":"b&c"}&timestamp=2026-01-02 03:04:05"#
        );
    }

    #[test]
    fn requests_carry_the_common_parameters_and_a_verifiable_rsa2_sign() {
        let (_, app_private, app_public) = keys();
        let (_, _, alipay_public) = keys();
        let c = client(&alipay_public, &app_private);
        let now = DateTime::parse_from_rfc3339("2026-01-31T16:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let params = c
            .signed_params("alipay.trade.precreate", "{}", Some("https://n"), now)
            .unwrap();
        let get = |k: &str| params.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("timestamp"), "2026-02-01 00:30:00", "UTC+8");
        assert_eq!(get("sign_type"), "RSA2");
        assert_eq!(get("charset"), "utf-8");
        assert_eq!(get("version"), "1.0");
        let content = signing_content(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let ours = read_public_key(&app_public).unwrap();
        assert!(rsa2_verify(&ours, content.as_bytes(), &get("sign")));
        assert!(!rsa2_verify(
            &ours,
            content.replace("RSA2", "RSA").as_bytes(),
            &get("sign")
        ));
    }

    #[test]
    fn notifications_verify_only_with_the_alipay_key_and_our_app_id() {
        let (alipay_key, _, alipay_public) = keys();
        let (_, app_private, _) = keys();
        let c = client(&alipay_public, &app_private);
        let mut params: Vec<(String, String)> = [
            ("notify_id", "n-1"),
            ("notify_type", "trade_status_sync"),
            ("app_id", "2021000000000001"),
            ("out_trade_no", "abc"),
            ("trade_no", "2026010122001"),
            ("trade_status", "TRADE_SUCCESS"),
            ("total_amount", "100.50"),
            ("subject", "充值 & more"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let content = signing_content(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let sign = rsa2_sign(&alipay_key, &content).unwrap();
        params.push(("sign".into(), sign.clone()));
        params.push(("sign_type".into(), "RSA2".into()));
        let n = c.parse_notification(&params).unwrap();
        assert_eq!(n.amount_fen, 10_050);
        assert!(n.is_paid());
        // Changing any signed field breaks the signature.
        let mut forged = params.clone();
        forged[6].1 = "0.01".into();
        assert!(matches!(
            c.parse_notification(&forged),
            Err(AlipayError::BadSignature(_))
        ));
        // Signed by another key (e.g. our own app key instead of Alipay's).
        let (other, _, _) = keys();
        let mut wrong = params.clone();
        wrong.retain(|(k, _)| k != "sign");
        wrong.push(("sign".into(), rsa2_sign(&other, &content).unwrap()));
        assert!(matches!(
            c.parse_notification(&wrong),
            Err(AlipayError::BadSignature(_))
        ));
    }

    #[test]
    fn reply_objects_are_read_as_sent() {
        let body = r#"{"alipay_trade_precreate_response":{"code":"10000","msg":"Success","qr_code":"https://qr.alipay.com/x\"y}"},"sign":"abc"}"#;
        assert_eq!(
            raw_member(body, "alipay_trade_precreate_response"),
            Some(r#"{"code":"10000","msg":"Success","qr_code":"https://qr.alipay.com/x\"y}"}"#)
        );
        assert_eq!(raw_member(body, "sign"), Some("\"abc\""));
        assert_eq!(raw_member(body, "code"), None, "only top-level members");
    }

    #[test]
    fn forms_round_trip() {
        let pairs = [("a b", "x&y=z"), ("subject", "充值 100%")];
        let text = form_encode(pairs);
        assert_eq!(
            form_decode(text.as_bytes()).unwrap(),
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        );
        assert_eq!(form_decode(b"a=%zz"), None);
    }

    #[test]
    fn amounts_convert_between_yuan_text_and_fen() {
        assert_eq!(fen_to_yuan_text(10_050), "100.50");
        assert_eq!(fen_to_yuan_text(7), "0.07");
        assert_eq!(yuan_text_to_fen("100.5"), Some(10_050));
        assert_eq!(yuan_text_to_fen("100"), Some(10_000));
        assert_eq!(yuan_text_to_fen("1.001"), None);
        assert_eq!(yuan_text_to_fen("-1"), None);
        assert_eq!(yuan_text_to_fen("1e3"), None);
    }
}
