//! Port to WeChat Pay API v3, used by the meeting-ticket (seed 000) and shop (seed 002) documents:
//! JSAPI orders, order query, signed and encrypted payment notifications. The adapter lives in the
//! infrastructure crate and takes its base URL from configuration.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A JSAPI (mini-program / official-account) payment to open with WeChat Pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsapiOrder {
    /// Our order number, 6–32 characters of `[A-Za-z0-9_|*-]` (WeChat Pay `out_trade_no`).
    pub out_trade_no: String,
    /// One line shown to the payer (`description`, at most 127 characters).
    pub description: String,
    /// Amount in fen (CNY minor units, 1 yuan = 100 fen).
    pub amount_fen: i64,
    /// The payer's openid under the configured app id.
    pub payer_openid: String,
    /// When the order stops being payable (`time_expire`, sent in RFC 3339 with offset).
    pub time_expire: Option<DateTime<Utc>>,
    /// Where WeChat Pay posts this order's payment notification (`notify_url`); `None` sends the
    /// adapter's configured one. Lets each document name its own notify route (the meeting's
    /// `/wechatpay/notify`, the shop's `/api/payment/wxpay/notify`) through one merchant client.
    pub notify_url: Option<String>,
}

/// A Native payment to open with WeChat Pay ("Native下单"): the payer scans a QR code made from
/// the returned `code_url`; no payer openid is needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeOrder {
    /// Our order number, 6–32 characters of `[A-Za-z0-9_|*-]` (WeChat Pay `out_trade_no`).
    pub out_trade_no: String,
    /// One line shown to the payer (`description`, at most 127 characters).
    pub description: String,
    /// Amount in fen (CNY minor units, 1 yuan = 100 fen).
    pub amount_fen: i64,
    /// When the order stops being payable (`time_expire`, sent in RFC 3339 at UTC+8).
    pub time_expire: Option<DateTime<Utc>>,
    /// Where WeChat Pay posts this order's payment notification (`notify_url`); `None` sends the
    /// adapter's configured one.
    pub notify_url: Option<String>,
}

/// What the mini-program passes to `wx.requestPayment` (seed 000 §5
/// `transaction.thirdPartyTransactionInfo`); field names are WeChat's own.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsapiPayParams {
    /// The app id the payment is for.
    pub app_id: String,
    /// Unix time in seconds, as a string.
    pub time_stamp: String,
    /// Random string of at most 32 characters.
    pub nonce_str: String,
    /// `prepay_id=…`.
    pub package: String,
    /// Always `RSA` for API v3.
    pub sign_type: String,
    /// Base64 RSA-SHA256 signature over `appId\ntimeStamp\nnonceStr\npackage\n` with the merchant key.
    pub pay_sign: String,
}

/// WeChat Pay's `trade_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeState {
    /// `SUCCESS`: paid.
    Success,
    /// `REFUND`: paid, then (partly) refunded.
    Refund,
    /// `NOTPAY`: not paid yet.
    NotPay,
    /// `CLOSED`: closed without payment.
    Closed,
    /// `REVOKED`: revoked (payment-code payments).
    Revoked,
    /// `USERPAYING`: the payer is entering a password.
    UserPaying,
    /// `PAYERROR`: payment failed.
    PayError,
}

impl TradeState {
    /// Parse WeChat Pay's upper-case name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "SUCCESS" => Self::Success,
            "REFUND" => Self::Refund,
            "NOTPAY" => Self::NotPay,
            "CLOSED" => Self::Closed,
            "REVOKED" => Self::Revoked,
            "USERPAYING" => Self::UserPaying,
            "PAYERROR" => Self::PayError,
            _ => return None,
        })
    }
}

/// A WeChat Pay transaction as the order query and the payment notification describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WechatPayTransaction {
    /// Our `out_trade_no` (for a meeting order, its id as 32 hex digits).
    pub out_trade_no: String,
    /// WeChat Pay's transaction id (`transaction_id`), present once paid.
    pub transaction_id: Option<String>,
    /// WeChat Pay's `trade_state`; only [`TradeState::Success`] means paid.
    pub trade_state: TradeState,
    /// Amount paid in fen (`amount.payer_total`, else `amount.total`), when WeChat Pay says.
    pub amount_fen: Option<i64>,
    /// The payer's openid, when given.
    pub payer_openid: Option<String>,
    /// When it was paid (`success_time`, converted to UTC).
    pub success_time: Option<DateTime<Utc>>,
}

/// The headers WeChat Pay sends with a notification (and with every API reply).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WechatPaySignatureHeaders {
    /// `Wechatpay-Timestamp`: Unix seconds.
    pub timestamp: String,
    /// `Wechatpay-Nonce`.
    pub nonce: String,
    /// `Wechatpay-Signature`: Base64 RSA-SHA256 over `timestamp\nnonce\nbody\n`.
    pub signature: String,
    /// `Wechatpay-Serial`: the platform certificate serial, or a `PUB_KEY_ID_…` public key id.
    pub serial: String,
}

/// A verified, decrypted payment notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WechatPayNotification {
    /// The notification's `id` (dedupe key: WeChat Pay retries for about a day).
    pub id: String,
    /// `event_type`, e.g. `TRANSACTION.SUCCESS`.
    pub event_type: String,
    /// The decrypted `resource`: the transaction.
    pub transaction: WechatPayTransaction,
}

/// Why WeChat Pay could not be used or a notification was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WechatPayError {
    /// WeChat Pay answered with an error (`code`, `message` from its JSON error body).
    #[error("WeChat Pay refused ({code}): {message}")]
    Rejected {
        /// WeChat Pay's error code, e.g. `PARAM_ERROR`, `ORDER_NOT_EXIST`.
        code: String,
        /// WeChat Pay's message.
        message: String,
    },
    /// WeChat Pay could not be reached or answered something unreadable or unsigned.
    #[error("WeChat Pay unavailable: {0}")]
    Unavailable(String),
    /// A notification's signature did not verify, its serial is unknown, or its timestamp is more
    /// than 5 minutes from now.
    #[error("notification signature rejected: {0}")]
    BadSignature(String),
    /// A notification's body or resource could not be parsed or decrypted.
    #[error("notification malformed: {0}")]
    Malformed(String),
}

/// WeChat Pay API v3 for JSAPI payments.
#[async_trait]
pub trait WechatPay: Send + Sync {
    /// The configured app id (`appid`).
    fn app_id(&self) -> &str;
    /// Open a JSAPI order (`POST /v3/pay/transactions/jsapi`) and return the parameters the
    /// client needs, signed with the merchant key (`paySign`).
    async fn create_jsapi_order(
        &self,
        order: &JsapiOrder,
    ) -> Result<JsapiPayParams, WechatPayError>;
    /// Open a Native order (`POST /v3/pay/transactions/native`) and return its `code_url`
    /// (`weixin://wxpay/bizpayurl?pr=…`), the content of the QR code the payer scans.
    async fn create_native_order(&self, order: &NativeOrder) -> Result<String, WechatPayError>;
    /// Query an order by our number (`GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=`).
    /// `Ok(None)` when WeChat Pay does not know it (`ORDER_NOT_EXIST`).
    async fn query_order(
        &self,
        out_trade_no: &str,
    ) -> Result<Option<WechatPayTransaction>, WechatPayError>;
    /// Verify a payment notification's signature (timestamp within 5 minutes of `now`) and decrypt
    /// its resource with the APIv3 key.
    fn parse_notification(
        &self,
        headers: &WechatPaySignatureHeaders,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<WechatPayNotification, WechatPayError>;
}
