//! [`WechatPayClient`]: the [`WechatPay`] port over WeChat Pay API v3 HTTP.

use super::config::{Keys, PlatformKeyKind, WechatPayConfig, WechatPayConfigError};
use super::crypto;
use super::transaction::TransactionJson;
use super::{
    AUTHORIZATION_SCHEMA, NOTIFICATION_TOLERANCE_SECS, REQUEST_ID_HEADER, USER_AGENT, china_time,
    signature_headers,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode, Url};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tessera_application::payments::wechatpay::{
    JsapiOrder, JsapiPayParams, NativeOrder, WechatPay, WechatPayError, WechatPayNotification,
    WechatPaySignatureHeaders, WechatPayTransaction,
};

/// The only resource algorithm of API v3 notifications.
const RESOURCE_ALGORITHM: &str = "AEAD_AES_256_GCM";
/// The error code of an order query for an order WeChat Pay does not know.
const ORDER_NOT_EXIST: &str = "ORDER_NOT_EXIST";

/// The WeChat Pay API v3 adapter of the [`WechatPay`] port, for one direct merchant and one app id.
///
/// Every request is signed with the merchant key (`Authorization: WECHATPAY2-SHA256-RSA2048 …`);
/// every successful reply must carry a valid `Wechatpay-Signature` from a configured platform key,
/// else it is treated as [`WechatPayError::Unavailable`]. Cheap to clone (keys are shared).
#[derive(Clone)]
pub struct WechatPayClient {
    http: reqwest::Client,
    base: Url,
    app_id: String,
    mch_id: String,
    merchant_serial_no: String,
    notify_url: String,
    keys: Arc<Keys>,
}

// Manual: the base URL as text, no HTTP-client internals; `Keys` prints no key material.
impl std::fmt::Debug for WechatPayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatPayClient")
            .field("base", &self.base.as_str())
            .field("app_id", &self.app_id)
            .field("mch_id", &self.mch_id)
            .field("merchant_serial_no", &self.merchant_serial_no)
            .field("notify_url", &self.notify_url)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

/// The `POST /v3/pay/transactions/jsapi` body ("JSAPI下单").
#[derive(Serialize)]
struct JsapiRequest<'a> {
    appid: &'a str,
    mchid: &'a str,
    description: &'a str,
    out_trade_no: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_expire: Option<String>,
    notify_url: &'a str,
    amount: JsapiAmount,
    payer: JsapiPayer<'a>,
}

/// The `POST /v3/pay/transactions/native` body ("Native下单"): the JSAPI body without a payer.
#[derive(Serialize)]
struct NativeRequest<'a> {
    appid: &'a str,
    mchid: &'a str,
    description: &'a str,
    out_trade_no: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_expire: Option<String>,
    notify_url: &'a str,
    amount: JsapiAmount,
}

#[derive(Deserialize)]
struct NativeReply {
    code_url: String,
}

#[derive(Serialize)]
struct JsapiAmount {
    /// The amount in fen (CNY minor units, 1 yuan = 100 fen), as WeChat Pay wants it.
    total: i64,
    currency: &'static str,
}

#[derive(Serialize)]
struct JsapiPayer<'a> {
    openid: &'a str,
}

#[derive(Deserialize)]
struct PrepayReply {
    prepay_id: String,
}

/// WeChat Pay's error body: `{"code": "PARAM_ERROR", "message": "…", "detail": {…}}`.
#[derive(Deserialize)]
struct ErrorReply {
    code: String,
    #[serde(default)]
    message: String,
}

/// A notification body ("支付通知"): the envelope around the encrypted resource.
#[derive(Deserialize)]
struct NotificationJson {
    id: String,
    event_type: String,
    resource: ResourceJson,
}

#[derive(Deserialize)]
struct ResourceJson {
    algorithm: String,
    ciphertext: String,
    #[serde(default)]
    associated_data: Option<String>,
    nonce: String,
    #[serde(default)]
    original_type: Option<String>,
}

/// An answer from WeChat Pay, not yet trusted.
struct Reply {
    status: StatusCode,
    signature: WechatPaySignatureHeaders,
    request_id: String,
    body: Vec<u8>,
}

impl Reply {
    /// WeChat Pay's error code and message, when the body is its error JSON.
    fn error_body(&self) -> Option<ErrorReply> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The error for a non-2xx answer: [`WechatPayError::Rejected`] for a 4xx (other than 429) with
    /// WeChat Pay's error body, [`WechatPayError::Unavailable`] otherwise.
    fn into_error(self) -> WechatPayError {
        let status = self.status.as_u16();
        let body = self.error_body();
        tracing::warn!(
            status,
            request_id = %self.request_id,
            code = body.as_ref().map(|b| b.code.as_str()),
            "WeChat Pay refused the request"
        );
        match body {
            Some(ErrorReply { code, message })
                if self.status.is_client_error()
                    && self.status != StatusCode::TOO_MANY_REQUESTS =>
            {
                WechatPayError::Rejected { code, message }
            }
            Some(ErrorReply { code, message }) => WechatPayError::Unavailable(format!(
                "WeChat Pay answered HTTP {status} ({code}): {message}"
            )),
            None => WechatPayError::Unavailable(format!("WeChat Pay answered HTTP {status}")),
        }
    }
}

impl WechatPayClient {
    /// An adapter using `config`, with every key read and checked now. Redirects are not followed
    /// (WeChat Pay's API never redirects).
    ///
    /// Errors: [`WechatPayConfigError`] for a bad base URL, an empty setting, a merchant key that is
    /// not a PEM RSA key of 2048 bits or more, an APIv3 key that is not 32 bytes, no platform key or
    /// an unusable one, or an HTTP client that cannot be built.
    pub fn new(config: WechatPayConfig) -> Result<Self, WechatPayConfigError> {
        let base_text = config.base_url.trim_end_matches('/');
        let base = Url::parse(base_text)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.query().is_none())
            .ok_or_else(|| WechatPayConfigError::BadBaseUrl(config.base_url.clone()))?;
        for (name, value) in [
            ("app_id", &config.app_id),
            ("mch_id", &config.mch_id),
            ("merchant_serial_no", &config.merchant_serial_no),
            ("notify_url", &config.notify_url),
        ] {
            if value.trim().is_empty() {
                return Err(WechatPayConfigError::Missing(name));
            }
        }
        let keys = Keys::load(&config)?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            .build()
            .map_err(WechatPayConfigError::Client)?;
        Ok(Self {
            http,
            base,
            app_id: config.app_id,
            mch_id: config.mch_id,
            merchant_serial_no: config.merchant_serial_no,
            notify_url: config.notify_url,
            keys: Arc::new(keys),
        })
    }

    /// The configured platform keys: serial and how each was given, sorted by serial (for start-up
    /// logs and health pages; no key material).
    pub fn platform_keys(&self) -> Vec<(String, PlatformKeyKind)> {
        let mut keys: Vec<_> = self
            .keys
            .platform
            .iter()
            .map(|(serial, (kind, _))| (serial.clone(), *kind))
            .collect();
        keys.sort();
        keys
    }

    /// The value of the `Authorization` header for a request ("签名生成"):
    /// `WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",timestamp="…",serial_no="…",signature="…"`,
    /// where `signature` is the Base64 RSA-SHA256 signature with the merchant key of
    /// `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n`. `method` is upper case (`GET`, `POST`),
    /// `path_and_query` exactly as sent (e.g. `/v3/pay/transactions/jsapi`), `body` the exact JSON
    /// sent (empty for GET). `timestamp` is now in Unix seconds and the nonce 32 random characters.
    ///
    /// Errors: [`WechatPayError::Unavailable`] when no random nonce or signature can be made.
    pub fn authorization(
        &self,
        method: &str,
        path_and_query: &str,
        body: &str,
    ) -> Result<String, WechatPayError> {
        let timestamp = Utc::now().timestamp();
        let nonce = crypto::random_nonce().map_err(|_| no_randomness())?;
        let message = crypto::request_message(method, path_and_query, timestamp, &nonce, body);
        let signature = crypto::sign(&self.keys.merchant, message.as_bytes())
            .map_err(|_| WechatPayError::Unavailable("cannot sign with the merchant key".into()))?;
        Ok(format!(
            "{AUTHORIZATION_SCHEMA} mchid=\"{}\",nonce_str=\"{nonce}\",timestamp=\"{timestamp}\",serial_no=\"{}\",signature=\"{signature}\"",
            self.mch_id, self.merchant_serial_no
        ))
    }

    /// The `wx.requestPayment` parameters for a prepay id ("JSAPI调起支付"): the configured app id,
    /// `timeStamp` now in Unix seconds, a fresh 32-character `nonceStr`, `package` =
    /// `prepay_id={prepay_id}`, `signType` `RSA` and `paySign` = Base64 RSA-SHA256 with the merchant
    /// key over `appId\ntimeStamp\nnonceStr\npackage\n`. A prepay id stays usable for 2 hours, so
    /// this can re-sign the parameters of an order already opened.
    ///
    /// Errors: [`WechatPayError::Unavailable`] when no random nonce or signature can be made.
    pub fn pay_params(&self, prepay_id: &str) -> Result<JsapiPayParams, WechatPayError> {
        let time_stamp = Utc::now().timestamp().to_string();
        let nonce_str = crypto::random_nonce().map_err(|_| no_randomness())?;
        let package = format!("prepay_id={prepay_id}");
        let message = crypto::pay_sign_message(&self.app_id, &time_stamp, &nonce_str, &package);
        let pay_sign = crypto::sign(&self.keys.merchant, message.as_bytes())
            .map_err(|_| WechatPayError::Unavailable("cannot sign with the merchant key".into()))?;
        Ok(JsapiPayParams {
            app_id: self.app_id.clone(),
            time_stamp,
            nonce_str,
            package,
            sign_type: "RSA".to_owned(),
            pay_sign,
        })
    }

    /// Check a WeChat Pay signature ("签名验证") over a reply or notification `body` as received:
    /// `headers.timestamp` (Unix seconds) must be within [`NOTIFICATION_TOLERANCE_SECS`] of `now`
    /// either way, `headers.serial` a configured platform key, and `headers.signature` its Base64
    /// RSA-SHA256 signature over `timestamp\nnonce\nbody\n`. WeChat Pay's signature probes
    /// (`WECHATPAY/SIGNTEST/…`) fail here by design.
    ///
    /// Errors: [`WechatPayError::BadSignature`] saying which check failed.
    pub fn verify_signature(
        &self,
        headers: &WechatPaySignatureHeaders,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), WechatPayError> {
        let bad = |reason: String| Err(WechatPayError::BadSignature(reason));
        if headers.timestamp.is_empty()
            || headers.nonce.is_empty()
            || headers.signature.is_empty()
            || headers.serial.is_empty()
        {
            return bad(
                "a Wechatpay-Timestamp, -Nonce, -Signature or -Serial header is missing".into(),
            );
        }
        let Ok(timestamp) = headers.timestamp.parse::<i64>() else {
            return bad(format!(
                "timestamp {:?} is not Unix seconds",
                headers.timestamp
            ));
        };
        let skew = now.timestamp().saturating_sub(timestamp);
        if skew.unsigned_abs() > NOTIFICATION_TOLERANCE_SECS.unsigned_abs() {
            return bad(format!("timestamp is {skew} s away from now"));
        }
        let Some((_, key)) = self.keys.platform.get(&headers.serial) else {
            return bad(format!("unknown platform key serial {:?}", headers.serial));
        };
        let message = crypto::response_message(&headers.timestamp, &headers.nonce, body);
        if !crypto::verify(key, &message, &headers.signature) {
            return bad(format!(
                "signature does not verify under platform key {}",
                headers.serial
            ));
        }
        Ok(())
    }

    /// `{base}/a/b/…`, each segment percent-encoded as a path segment.
    fn url(&self, segments: &[&str]) -> Result<Url, WechatPayError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| WechatPayError::Unavailable("the base URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Send a signed request; the reply is returned untrusted.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<String>,
    ) -> Result<Reply, WechatPayError> {
        let mut target = url.path().to_owned();
        if let Some(query) = url.query() {
            target.push('?');
            target.push_str(query);
        }
        let body = body.unwrap_or_default();
        let authorization = self.authorization(method.as_str(), &target, &body)?;
        let mut request = self
            .http
            .request(method, url)
            .header(AUTHORIZATION, authorization)
            .header(ACCEPT, "application/json");
        if !body.is_empty() {
            request = request.header(CONTENT_TYPE, "application/json").body(body);
        }
        let response = request.send().await.map_err(|e| {
            let e = e.without_url();
            if e.is_timeout() {
                WechatPayError::Unavailable(format!("WeChat Pay did not answer in time: {e}"))
            } else if e.is_connect() {
                WechatPayError::Unavailable(format!("cannot connect to WeChat Pay: {e}"))
            } else {
                WechatPayError::Unavailable(format!("request to WeChat Pay failed: {e}"))
            }
        })?;
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let signature = signature_headers(header);
        let request_id = header(REQUEST_ID_HEADER).unwrap_or_default();
        let body = response.bytes().await.map_err(|e| {
            WechatPayError::Unavailable(format!(
                "reading WeChat Pay's answer failed: {}",
                e.without_url()
            ))
        })?;
        Ok(Reply {
            status,
            signature,
            request_id,
            body: body.to_vec(),
        })
    }

    /// Check a 2xx reply's signature against the local clock.
    fn check_reply_signature(&self, reply: &Reply) -> Result<(), WechatPayError> {
        self.verify_signature(&reply.signature, &reply.body, Utc::now())
            .map_err(|e| {
                tracing::warn!(request_id = %reply.request_id, error = %e, "WeChat Pay reply not trusted");
                WechatPayError::Unavailable(format!("WeChat Pay's answer is not trusted: {e}"))
            })
    }
}

fn no_randomness() -> WechatPayError {
    WechatPayError::Unavailable("the system random generator failed".into())
}

#[async_trait]
impl WechatPay for WechatPayClient {
    fn app_id(&self) -> &str {
        &self.app_id
    }

    /// `POST {base}/v3/pay/transactions/jsapi` with `appid`, `mchid`, `description`,
    /// `out_trade_no`, `time_expire` (UTC+8, when given), `notify_url` (the order's, else the
    /// configured one), `amount` (`total` in fen,
    /// `currency` `CNY`) and `payer.openid`; then [`WechatPayClient::pay_params`] for the returned
    /// `prepay_id`. Reusing an `out_trade_no` with the same parameters returns the same prepay id.
    ///
    /// Errors: [`WechatPayError::Rejected`] for a 4xx (other than 429) with WeChat Pay's `code` and
    /// `message` (`PARAM_ERROR`, `ORDER_CLOSED`, `OUT_TRADE_NO_USED`, `SIGN_ERROR` …);
    /// [`WechatPayError::Unavailable`] for 429, 5xx, timeouts, connection failures, replies whose
    /// signature does not verify, and replies without a `prepay_id`.
    #[tracing::instrument(skip_all, fields(out_trade_no = %order.out_trade_no))]
    async fn create_jsapi_order(
        &self,
        order: &JsapiOrder,
    ) -> Result<JsapiPayParams, WechatPayError> {
        let body = serde_json::to_string(&JsapiRequest {
            appid: &self.app_id,
            mchid: &self.mch_id,
            description: &order.description,
            out_trade_no: &order.out_trade_no,
            time_expire: order.time_expire.map(china_time),
            notify_url: order.notify_url.as_deref().unwrap_or(&self.notify_url),
            amount: JsapiAmount {
                total: order.amount_fen,
                currency: "CNY",
            },
            payer: JsapiPayer {
                openid: &order.payer_openid,
            },
        })
        .map_err(|e| WechatPayError::Unavailable(format!("cannot encode the order: {e}")))?;
        let url = self.url(&["v3", "pay", "transactions", "jsapi"])?;
        let reply = self.send(Method::POST, url, Some(body)).await?;
        if !reply.status.is_success() {
            return Err(reply.into_error());
        }
        self.check_reply_signature(&reply)?;
        let prepay: PrepayReply = serde_json::from_slice(&reply.body).map_err(|e| {
            WechatPayError::Unavailable(format!("WeChat Pay's answer has no prepay_id: {e}"))
        })?;
        if prepay.prepay_id.is_empty() {
            return Err(WechatPayError::Unavailable(
                "WeChat Pay's answer has an empty prepay_id".into(),
            ));
        }
        tracing::debug!(request_id = %reply.request_id, "WeChat Pay JSAPI order opened");
        self.pay_params(&prepay.prepay_id)
    }

    /// `POST {base}/v3/pay/transactions/native` with `appid`, `mchid`, `description`,
    /// `out_trade_no`, `time_expire` (UTC+8, when given), `notify_url` (the order's, else the
    /// configured one) and `amount` (`total` in fen, `currency` `CNY`); returns the reply's
    /// `code_url`. Reusing an `out_trade_no` with the same parameters returns the same code.
    ///
    /// Errors: as [`WechatPay::create_jsapi_order`]; a reply without a `code_url` is
    /// [`WechatPayError::Unavailable`].
    #[tracing::instrument(skip_all, fields(out_trade_no = %order.out_trade_no))]
    async fn create_native_order(&self, order: &NativeOrder) -> Result<String, WechatPayError> {
        let body = serde_json::to_string(&NativeRequest {
            appid: &self.app_id,
            mchid: &self.mch_id,
            description: &order.description,
            out_trade_no: &order.out_trade_no,
            time_expire: order.time_expire.map(china_time),
            notify_url: order.notify_url.as_deref().unwrap_or(&self.notify_url),
            amount: JsapiAmount {
                total: order.amount_fen,
                currency: "CNY",
            },
        })
        .map_err(|e| WechatPayError::Unavailable(format!("cannot encode the order: {e}")))?;
        let url = self.url(&["v3", "pay", "transactions", "native"])?;
        let reply = self.send(Method::POST, url, Some(body)).await?;
        if !reply.status.is_success() {
            return Err(reply.into_error());
        }
        self.check_reply_signature(&reply)?;
        let native: NativeReply = serde_json::from_slice(&reply.body).map_err(|e| {
            WechatPayError::Unavailable(format!("WeChat Pay's answer has no code_url: {e}"))
        })?;
        if native.code_url.is_empty() {
            return Err(WechatPayError::Unavailable(
                "WeChat Pay's answer has an empty code_url".into(),
            ));
        }
        tracing::debug!(request_id = %reply.request_id, "WeChat Pay Native order opened");
        Ok(native.code_url)
    }

    /// `GET {base}/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={mch_id}` (signed with an
    /// empty body). The amount is `amount.payer_total`, else `amount.total`, in fen; `success_time`
    /// is converted to UTC; empty strings count as absent.
    ///
    /// Errors: `Ok(None)` for a 404 `ORDER_NOT_EXIST`; [`WechatPayError::Rejected`] for other 4xx
    /// (except 429) with WeChat Pay's code; [`WechatPayError::Unavailable`] for 429, 5xx, network
    /// failures, unsigned or badly signed replies, and replies for another order or merchant or with
    /// an unknown `trade_state`.
    #[tracing::instrument(skip_all, fields(out_trade_no = %out_trade_no))]
    async fn query_order(
        &self,
        out_trade_no: &str,
    ) -> Result<Option<WechatPayTransaction>, WechatPayError> {
        let mut url = self.url(&["v3", "pay", "transactions", "out-trade-no", out_trade_no])?;
        url.query_pairs_mut().append_pair("mchid", &self.mch_id);
        let reply = self.send(Method::GET, url, None).await?;
        if reply.status == StatusCode::NOT_FOUND
            && reply
                .error_body()
                .is_some_and(|e| e.code == ORDER_NOT_EXIST)
        {
            return Ok(None);
        }
        if !reply.status.is_success() {
            return Err(reply.into_error());
        }
        self.check_reply_signature(&reply)?;
        let unreadable = |e: String| {
            WechatPayError::Unavailable(format!("WeChat Pay's order is unreadable: {e}"))
        };
        let json: TransactionJson =
            serde_json::from_slice(&reply.body).map_err(|e| unreadable(e.to_string()))?;
        if json.out_trade_no != out_trade_no {
            return Err(unreadable(format!(
                "it is order {:?}, not {out_trade_no:?}",
                json.out_trade_no
            )));
        }
        if json.mchid.as_deref().is_some_and(|m| m != self.mch_id) {
            return Err(unreadable("it belongs to another merchant".into()));
        }
        json.into_transaction().map(Some).map_err(unreadable)
    }

    /// [`WechatPayClient::verify_signature`] against `now`, then the envelope `{id, create_time,
    /// event_type, resource_type, resource: {algorithm, ciphertext, associated_data, nonce,
    /// original_type}}` is read and `resource` decrypted with AES-256-GCM (key: the APIv3 key;
    /// nonce: `resource.nonce`; AAD: `resource.associated_data`, empty when absent; the 16-byte tag
    /// ends the Base64 ciphertext) into the transaction.
    ///
    /// Errors: [`WechatPayError::BadSignature`] for a stale or future timestamp (more than 300 s), an
    /// unknown serial or a signature that does not verify; [`WechatPayError::Malformed`] for a body
    /// that is not a notification, an algorithm other than `AEAD_AES_256_GCM`, a resource that is not
    /// a transaction, does not decrypt or names another merchant or app.
    fn parse_notification(
        &self,
        headers: &WechatPaySignatureHeaders,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<WechatPayNotification, WechatPayError> {
        self.verify_signature(headers, body, now)?;
        let malformed = |e: String| WechatPayError::Malformed(e);
        let envelope: NotificationJson = serde_json::from_slice(body)
            .map_err(|e| malformed(format!("not a WeChat Pay notification: {e}")))?;
        let resource = envelope.resource;
        if resource.algorithm != RESOURCE_ALGORITHM {
            return Err(malformed(format!(
                "unsupported resource algorithm {:?}",
                resource.algorithm
            )));
        }
        if let Some(original) = resource.original_type.as_deref()
            && original != "transaction"
        {
            return Err(malformed(format!(
                "the resource is a {original:?}, not a transaction"
            )));
        }
        let plain = crypto::decrypt(
            self.keys.api_v3_key.expose_secret(),
            &resource.nonce,
            resource.associated_data.as_deref().unwrap_or(""),
            &resource.ciphertext,
        )
        .map_err(|e| malformed(e.to_owned()))?;
        let json: TransactionJson = serde_json::from_slice(&plain)
            .map_err(|e| malformed(format!("the resource is not a transaction: {e}")))?;
        if json.mchid.as_deref().is_some_and(|m| m != self.mch_id) {
            return Err(malformed(
                "the transaction belongs to another merchant".into(),
            ));
        }
        if json.appid.as_deref().is_some_and(|a| a != self.app_id) {
            return Err(malformed("the transaction is for another app id".into()));
        }
        let transaction = json.into_transaction().map_err(malformed)?;
        Ok(WechatPayNotification {
            id: envelope.id,
            event_type: envelope.event_type,
            transaction,
        })
    }
}
