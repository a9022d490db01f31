//! WeChat Pay API v3 for JSAPI payments (mini-programs and official accounts): the
//! [`WechatPayClient`] adapter of the application's
//! [`WechatPay`](tessera_application::payments::wechatpay::WechatPay) port, helpers for the HTTP layer that
//! receives payment notifications, and [`simulate`], WeChat Pay's own side for tests.
//!
//! What is signed and checked (WeChat Pay API v3 developer guide: "签名生成", "签名验证",
//! "回调报文解密", "JSAPI下单", "商户订单号查询订单", "支付通知", "JSAPI调起支付"):
//! - every request: `Authorization: WECHATPAY2-SHA256-RSA2048 mchid,nonce_str,timestamp,serial_no,
//!   signature`, RSA-SHA256 with the merchant key over `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n`;
//! - every successful reply and every notification: `Wechatpay-Signature`, RSA-SHA256 with the
//!   platform key named by `Wechatpay-Serial` over `TIMESTAMP\nNONCE\nBODY\n`, timestamp within
//!   5 minutes;
//! - notification resources: AES-256-GCM with the APIv3 key;
//! - `paySign` for `wx.requestPayment`: RSA-SHA256 with the merchant key over
//!   `appId\ntimeStamp\nnonceStr\npackage\n`.
//!
//! Must not know axum: the api crate turns HTTP headers into
//! [`WechatPaySignatureHeaders`](tessera_application::payments::wechatpay::WechatPaySignatureHeaders) with
//! [`signature_headers`] and answers failures with [`notification_failure_body`].

mod client;
mod config;
mod crypto;
pub mod simulate;
mod transaction;

pub use client::WechatPayClient;
pub use config::{
    API_V3_KEY_LEN, MIN_RSA_BITS, PlatformKeyKind, WECHATPAY_API_BASE, WECHATPAY_DEFAULT_TIMEOUT,
    WechatPayConfig, WechatPayConfigError, WechatPaySecret,
};

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use tessera_application::payments::wechatpay::WechatPaySignatureHeaders;

/// The `Authorization` scheme of API v3 requests.
pub const AUTHORIZATION_SCHEMA: &str = "WECHATPAY2-SHA256-RSA2048";
/// Header with the Unix time (seconds) WeChat Pay signed a reply or notification at.
pub const TIMESTAMP_HEADER: &str = "Wechatpay-Timestamp";
/// Header with the random string of WeChat Pay's signature.
pub const NONCE_HEADER: &str = "Wechatpay-Nonce";
/// Header with WeChat Pay's Base64 RSA-SHA256 signature.
pub const SIGNATURE_HEADER: &str = "Wechatpay-Signature";
/// Header naming the platform key that signed: a certificate serial or a `PUB_KEY_ID_…`.
pub const SERIAL_HEADER: &str = "Wechatpay-Serial";
/// Header with WeChat Pay's id of a request, to quote to its support.
pub const REQUEST_ID_HEADER: &str = "Request-ID";
/// How far a signature's timestamp may be from now, either way, in seconds: 300 (5 minutes).
pub const NOTIFICATION_TOLERANCE_SECS: i64 = 300;
/// The `User-Agent` of requests (WeChat Pay asks for one).
pub const USER_AGENT: &str = concat!("tessera/", env!("CARGO_PKG_VERSION"), " (WechatPay-APIv3)");

/// China Standard Time, the offset WeChat Pay writes its times in (UTC+8), in seconds.
const CHINA_OFFSET_SECS: i32 = 8 * 3600;

/// Collect the four signature headers of a reply or notification through `get` (header name →
/// value, case-insensitive as HTTP header maps are); a missing header becomes an empty string,
/// which [`WechatPayClient::verify_signature`] refuses.
pub fn signature_headers(get: impl Fn(&str) -> Option<String>) -> WechatPaySignatureHeaders {
    WechatPaySignatureHeaders {
        timestamp: get(TIMESTAMP_HEADER).unwrap_or_default(),
        nonce: get(NONCE_HEADER).unwrap_or_default(),
        signature: get(SIGNATURE_HEADER).unwrap_or_default(),
        serial: get(SERIAL_HEADER).unwrap_or_default(),
    }
}

/// The JSON body to answer a notification that was not accepted, with a 4xx or 5xx status
/// ("支付通知", 通知应答): `{"code":"FAIL","message":…}`. WeChat Pay then retries the notification
/// (for about a day). A notification that was accepted is answered 200 or 204 with no body.
pub fn notification_failure_body(message: &str) -> String {
    serde_json::json!({ "code": "FAIL", "message": message }).to_string()
}

/// `time` in RFC 3339 at UTC+8, to the second, as WeChat Pay writes times
/// (`2026-11-23T18:00:00+08:00`).
pub(crate) fn china_time(time: DateTime<Utc>) -> String {
    match FixedOffset::east_opt(CHINA_OFFSET_SECS) {
        Some(offset) => time
            .with_timezone(&offset)
            .to_rfc3339_opts(SecondsFormat::Secs, false),
        None => time.to_rfc3339_opts(SecondsFormat::Secs, false),
    }
}
