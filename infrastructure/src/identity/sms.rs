//! Adapters for the [`SmsSender`] port: a console sender for development and tests, and Tencent
//! Cloud SMS (API 3.0 `SendSms`, version 2021-01-11, signed with TC3-HMAC-SHA256) for production.
//!
//! Sources: Tencent Cloud API 3.0 "Signature v3" (canonical request, string to sign, derived key,
//! `Authorization` header), "Common Params" (`X-TC-*` headers), SMS "SendSms" (request and
//! `SendStatusSet` reply) and "Common Error Codes". See docs/sms-and-wechat-login.md.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tessera_application::identity::ports::{SmsError, SmsSender};

/// The `tracing` target the console sender logs to; filter with `RUST_LOG=tessera::sms=info`.
pub const CONSOLE_SMS_LOG_TARGET: &str = "tessera::sms";

/// The one line the console sender logs per code (the whole `tracing` message, so it reads the
/// same in plain and JSON log output): `sms code sent phone=13800138000 code=123456 ttl_minutes=5`.
///
/// Scripts read the code back with a pattern such as `sms code sent phone=(\d+) code=(\d+)`; keep
/// this format stable.
pub fn console_sms_log_line(phone: &str, code: &str, ttl_minutes: u32) -> String {
    format!("sms code sent phone={phone} code={code} ttl_minutes={ttl_minutes}")
}

/// Development [`SmsSender`]: sends nothing, logs each code at INFO on target
/// [`CONSOLE_SMS_LOG_TARGET`] in the form of [`console_sms_log_line`], and remembers the last code
/// sent to each phone for tests. Never fails.
///
/// Clones share the same memory, so a test can keep one clone and hand another to the app.
#[derive(Debug, Clone, Default)]
pub struct ConsoleSmsSender {
    last: Arc<Mutex<HashMap<String, String>>>,
}

impl ConsoleSmsSender {
    /// A sender with an empty memory.
    pub fn new() -> Self {
        Self::default()
    }

    /// The last code sent to `phone` (the string given to `send_code`, e.g. `13800138000`), or
    /// `None` when none was sent through this sender or its clones.
    pub fn last_code(&self, phone: &str) -> Option<String> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(phone)
            .cloned()
    }
}

#[async_trait]
impl SmsSender for ConsoleSmsSender {
    /// Logs the code and remembers it; always `Ok`.
    async fn send_code(&self, phone: &str, code: &str, ttl_minutes: u32) -> Result<(), SmsError> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(phone.to_owned(), code.to_owned());
        tracing::info!(
            target: "tessera::sms",
            "{}",
            console_sms_log_line(phone, code, ttl_minutes)
        );
        Ok(())
    }
}

/// Tencent Cloud SMS's API 3.0 endpoint (nearest region chosen by DNS).
pub const TENCENT_SMS_ENDPOINT: &str = "https://sms.tencentcloudapi.com";
/// The region sent as `X-TC-Region` unless configured otherwise.
pub const TENCENT_SMS_DEFAULT_REGION: &str = "ap-guangzhou";
/// The SMS API version this adapter speaks (`X-TC-Version`).
pub const TENCENT_SMS_API_VERSION: &str = "2021-01-11";
/// The service name in the TC3 credential scope (`{date}/sms/tc3_request`).
pub const TENCENT_SMS_SERVICE: &str = "sms";
/// How long one call may take before it counts as unavailable: 10 seconds.
pub const TENCENT_SMS_DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The body's media type; it is signed, so it must be sent byte for byte as here.
const CONTENT_TYPE_JSON: &str = "application/json; charset=utf-8";
const ACTION: &str = "SendSms";

/// A Tencent Cloud API SecretKey.
/// Held by `secrecy`: `Debug` shows `[REDACTED]` and the text is zeroed on drop.
#[derive(Clone, Debug)]
pub struct TencentSecretKey(SecretString);

impl TencentSecretKey {
    /// Wrap a key read from configuration.
    pub fn new(key: impl Into<String>) -> Self {
        Self(SecretString::from(key.into()))
    }
}

impl From<SecretString> for TencentSecretKey {
    fn from(secret: SecretString) -> Self {
        Self(secret)
    }
}

impl ExposeSecret<str> for TencentSecretKey {
    /// The key itself, for signing only.
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Settings of [`TencentSmsSender`]. `Debug` shows everything but the secret key.
#[derive(Debug, Clone)]
pub struct TencentSmsConfig {
    /// The API SecretId (`AKID…`), named in the `Authorization` header.
    pub secret_id: String,
    /// The API SecretKey the requests are signed with.
    pub secret_key: TencentSecretKey,
    /// The SMS application id (`SmsSdkAppId`, e.g. `1400006666`).
    pub sdk_app_id: String,
    /// The approved signature's content (`SignName`, e.g. `腾讯云`), without 【】.
    pub sign_name: String,
    /// The approved template's id (`TemplateId`); the template takes two parameters:
    /// `{1}` the code and `{2}` its validity in minutes.
    pub template_id: String,
    /// `X-TC-Region`; [`TENCENT_SMS_DEFAULT_REGION`] by default.
    pub region: String,
    /// API base URL, scheme and host only (the path must be `/`); [`TENCENT_SMS_ENDPOINT`] by
    /// default, a local fake in tests.
    pub endpoint: String,
    /// Limit for one whole call (connect, send, answer); [`TENCENT_SMS_DEFAULT_TIMEOUT`] by default.
    pub timeout: Duration,
}

impl TencentSmsConfig {
    /// Settings for the production endpoint, region `ap-guangzhou` and the default timeout.
    pub fn new(
        secret_id: impl Into<String>,
        secret_key: TencentSecretKey,
        sdk_app_id: impl Into<String>,
        sign_name: impl Into<String>,
        template_id: impl Into<String>,
    ) -> Self {
        Self {
            secret_id: secret_id.into(),
            secret_key,
            sdk_app_id: sdk_app_id.into(),
            sign_name: sign_name.into(),
            template_id: template_id.into(),
            region: TENCENT_SMS_DEFAULT_REGION.to_owned(),
            endpoint: TENCENT_SMS_ENDPOINT.to_owned(),
            timeout: TENCENT_SMS_DEFAULT_TIMEOUT,
        }
    }
}

/// Why [`TencentSmsSender`] could not be built at start-up.
#[derive(Debug, thiserror::Error)]
pub enum TencentSmsConfigError {
    /// The endpoint is not an `http(s)://host[:port]` URL with an empty path.
    #[error("the Tencent Cloud SMS endpoint must be an http(s) URL without a path, got {0:?}")]
    BadEndpoint(String),
    /// A required setting is empty; the field's name is given.
    #[error("the Tencent Cloud SMS setting {0} is empty")]
    Missing(&'static str),
    /// The HTTP client could not be created (TLS set-up).
    #[error("cannot build the HTTP client for Tencent Cloud SMS: {0}")]
    Client(#[source] reqwest::Error),
}

/// The [`SmsSender`] for Tencent Cloud SMS: one `SendSms` call per code, to `+86` and the phone.
#[derive(Debug, Clone)]
pub struct TencentSmsSender {
    client: reqwest::Client,
    url: reqwest::Url,
    /// The `Host` header value, signed and sent: host, plus `:port` when not the scheme's default.
    host: String,
    config: TencentSmsConfig,
}

impl TencentSmsSender {
    /// A sender using `config`. Redirects are not followed (a redirect would change the signed
    /// host).
    ///
    /// Errors: [`TencentSmsConfigError`] for a bad endpoint, an empty secret id, key, app id, sign
    /// name, template id or region, or a client that cannot be built.
    pub fn new(config: TencentSmsConfig) -> Result<Self, TencentSmsConfigError> {
        let bad = || TencentSmsConfigError::BadEndpoint(config.endpoint.clone());
        let url = reqwest::Url::parse(&config.endpoint).map_err(|_| bad())?;
        if !matches!(url.scheme(), "http" | "https")
            || url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(bad());
        }
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(port)) => format!("{h}:{port}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(bad()),
        };
        for (name, value) in [
            ("secret_id", config.secret_id.as_str()),
            ("secret_key", config.secret_key.expose_secret()),
            ("sdk_app_id", config.sdk_app_id.as_str()),
            ("sign_name", config.sign_name.as_str()),
            ("template_id", config.template_id.as_str()),
            ("region", config.region.as_str()),
        ] {
            if value.trim().is_empty() {
                return Err(TencentSmsConfigError::Missing(name));
            }
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(TencentSmsConfigError::Client)?;
        Ok(Self {
            client,
            url,
            host,
            config,
        })
    }
}

/// The `SendSms` request body (field names are Tencent's).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SendSmsRequest<'a> {
    phone_number_set: [String; 1],
    sms_sdk_app_id: &'a str,
    sign_name: &'a str,
    template_id: &'a str,
    template_param_set: [String; 2],
}

/// Every API 3.0 reply: `{"Response": {...}}`.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "Response")]
    response: SendSmsResponse,
}

#[derive(Deserialize)]
struct SendSmsResponse {
    #[serde(rename = "Error")]
    error: Option<ApiError>,
    #[serde(rename = "SendStatusSet", default)]
    send_status_set: Vec<SendStatus>,
    #[serde(rename = "RequestId", default)]
    request_id: String,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(rename = "Code")]
    code: String,
    #[serde(rename = "Message", default)]
    message: String,
}

#[derive(Deserialize)]
struct SendStatus {
    #[serde(rename = "Code")]
    code: String,
    #[serde(rename = "Message", default)]
    message: String,
}

#[async_trait]
impl SmsSender for TencentSmsSender {
    /// `POST {endpoint}/` with action `SendSms`: `PhoneNumberSet ["+86{phone}"]` (a phone already
    /// starting with `+` is sent as given), `TemplateParamSet [code, ttl_minutes]`, signed with
    /// TC3-HMAC-SHA256 over `content-type`, `host` and `x-tc-action`.
    ///
    /// Errors: [`SmsError::Rejected`] with Tencent's code and message for a `Response.Error` (bad
    /// signature, quota, unknown template …) or a `SendStatusSet` entry whose `Code` is not `Ok`
    /// (e.g. `LimitExceeded.PhoneNumberDailyLimit`); [`SmsError::Unavailable`] for `InternalError`
    /// codes, HTTP errors, timeouts, connection failures and unreadable replies.
    #[tracing::instrument(skip_all)]
    async fn send_code(&self, phone: &str, code: &str, ttl_minutes: u32) -> Result<(), SmsError> {
        let phone_e164 = if phone.starts_with('+') {
            phone.to_owned()
        } else {
            format!("+86{phone}")
        };
        let body = serde_json::to_vec(&SendSmsRequest {
            phone_number_set: [phone_e164],
            sms_sdk_app_id: &self.config.sdk_app_id,
            sign_name: &self.config.sign_name,
            template_id: &self.config.template_id,
            template_param_set: [code.to_owned(), ttl_minutes.to_string()],
        })
        .map_err(|e| SmsError::Unavailable(format!("cannot encode the SendSms request: {e}")))?;

        let now = Utc::now();
        let headers = [
            ("Content-Type", CONTENT_TYPE_JSON),
            ("Host", self.host.as_str()),
            ("X-TC-Action", ACTION),
        ];
        let authorization = Tc3Request {
            method: "POST",
            canonical_uri: self.url.path(),
            canonical_query: "",
            headers: &headers,
            payload: &body,
            service: TENCENT_SMS_SERVICE,
            time: now,
        }
        .authorization(&self.config.secret_id, &self.config.secret_key);

        let response = self
            .client
            .post(self.url.clone())
            .header("Authorization", authorization)
            .header("Content-Type", CONTENT_TYPE_JSON)
            .header("Host", &self.host)
            .header("X-TC-Action", ACTION)
            .header("X-TC-Version", TENCENT_SMS_API_VERSION)
            .header("X-TC-Timestamp", now.timestamp().to_string())
            .header("X-TC-Region", &self.config.region)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                let e = e.without_url();
                if e.is_timeout() {
                    SmsError::Unavailable(format!("Tencent Cloud SMS did not answer in time: {e}"))
                } else if e.is_connect() {
                    SmsError::Unavailable(format!("cannot connect to Tencent Cloud SMS: {e}"))
                } else {
                    SmsError::Unavailable(format!("request to Tencent Cloud SMS failed: {e}"))
                }
            })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| {
            SmsError::Unavailable(format!(
                "reading Tencent Cloud SMS's answer failed: {}",
                e.without_url()
            ))
        })?;
        // API 3.0 answers 200 even for errors; anything else is a gateway or proxy in the way.
        if !status.is_success() {
            return Err(SmsError::Unavailable(format!(
                "Tencent Cloud SMS answered HTTP {}",
                status.as_u16()
            )));
        }
        let reply: Envelope = serde_json::from_slice(&bytes).map_err(|e| {
            SmsError::Unavailable(format!("Tencent Cloud SMS's answer is unreadable: {e}"))
        })?;
        let reply = reply.response;
        if let Some(error) = reply.error {
            tracing::debug!(request_id = %reply.request_id, code = %error.code, "SendSms refused");
            // `InternalError` and `InternalError.*` are Tencent's own failures, not our request's.
            if error.code == "InternalError" || error.code.starts_with("InternalError.") {
                return Err(SmsError::Unavailable(format!(
                    "Tencent Cloud SMS failed ({}): {}",
                    error.code, error.message
                )));
            }
            return Err(SmsError::Rejected {
                code: error.code,
                message: error.message,
            });
        }
        let Some(first) = reply.send_status_set.into_iter().next() else {
            return Err(SmsError::Unavailable(
                "Tencent Cloud SMS's answer has no SendStatusSet entry".to_owned(),
            ));
        };
        if first.code != "Ok" {
            tracing::debug!(request_id = %reply.request_id, code = %first.code, "SMS not sent");
            return Err(SmsError::Rejected {
                code: first.code,
                message: first.message,
            });
        }
        tracing::debug!(request_id = %reply.request_id, "SMS sent");
        Ok(())
    }
}

/// One Tencent Cloud API 3.0 request as TC3-HMAC-SHA256 signs it ("Signature v3").
///
/// Public so the signing can be checked against the worked example in Tencent's documentation.
#[derive(Debug, Clone, Copy)]
pub struct Tc3Request<'a> {
    /// HTTP method, `POST` or `GET`.
    pub method: &'a str,
    /// The URL path, `/` for API 3.0.
    pub canonical_uri: &'a str,
    /// The query string after `?` (RFC 3986 encoded); empty for POST.
    pub canonical_query: &'a str,
    /// The headers to sign as (name, value), at least `Content-Type` and `Host`; names and values
    /// are lower-cased and trimmed, and sorted by name, as the spec says.
    pub headers: &'a [(&'a str, &'a str)],
    /// The exact body bytes sent (empty for GET).
    pub payload: &'a [u8],
    /// The product's service name, e.g. `sms` (the first label of its API host).
    pub service: &'a str,
    /// The request time; sent as `X-TC-Timestamp` (Unix seconds) and giving the scope's UTC date.
    pub time: DateTime<Utc>,
}

impl Tc3Request<'_> {
    /// The canonical request: method, URI, query, `name:value\n` headers, signed header names
    /// joined by `;`, and the lower-case hex SHA-256 of the payload, one per line.
    pub fn canonical_request(&self) -> String {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_lowercase()))
            .collect();
        headers.sort();
        let canonical_headers: String = headers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
        let signed_headers = self.signed_headers();
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            self.method,
            self.canonical_uri,
            self.canonical_query,
            canonical_headers,
            signed_headers,
            sha256_hex(self.payload)
        )
    }

    /// The signed header names, lower-case, sorted, joined by `;` (e.g. `content-type;host`).
    pub fn signed_headers(&self) -> String {
        let mut names: Vec<String> = self
            .headers
            .iter()
            .map(|(n, _)| n.trim().to_ascii_lowercase())
            .collect();
        names.sort();
        names.join(";")
    }

    /// `{YYYY-MM-DD}/{service}/tc3_request`, the date being UTC.
    pub fn credential_scope(&self) -> String {
        format!(
            "{}/{}/tc3_request",
            self.time.format("%Y-%m-%d"),
            self.service
        )
    }

    /// `TC3-HMAC-SHA256\n{timestamp}\n{credential scope}\n{hex SHA-256 of the canonical request}`.
    pub fn string_to_sign(&self) -> String {
        format!(
            "TC3-HMAC-SHA256\n{}\n{}\n{}",
            self.time.timestamp(),
            self.credential_scope(),
            sha256_hex(self.canonical_request().as_bytes())
        )
    }

    /// The lower-case hex signature: the key derived as HMAC-SHA256 of the date under
    /// `"TC3" + secret key`, then of the service, then of `tc3_request`, signs the string to sign.
    pub fn signature(&self, secret_key: &TencentSecretKey) -> String {
        let date = self.time.format("%Y-%m-%d").to_string();
        let secret_date = hmac_sha256(
            format!("TC3{}", secret_key.expose_secret()).as_bytes(),
            &date,
        );
        let secret_service = hmac_sha256(&secret_date, self.service);
        let secret_signing = hmac_sha256(&secret_service, "tc3_request");
        hex::encode(hmac_sha256(&secret_signing, &self.string_to_sign()))
    }

    /// The `Authorization` header value: `TC3-HMAC-SHA256 Credential={secret id}/{scope},
    /// SignedHeaders={names}, Signature={hex}`.
    pub fn authorization(&self, secret_id: &str, secret_key: &TencentSecretKey) -> String {
        format!(
            "TC3-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={}",
            secret_id,
            self.credential_scope(),
            self.signed_headers(),
            self.signature(secret_key)
        )
    }
}

fn hmac_sha256(key: &[u8], data: &str) -> Vec<u8> {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    aws_lc_rs::hmac::sign(&key, data.as_bytes())
        .as_ref()
        .to_vec()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data))
}
