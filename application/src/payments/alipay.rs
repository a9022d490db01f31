//! Port to the Alipay open platform (支付宝开放平台) for face-to-face QR payments
//! (`alipay.trade.precreate`, 当面付) and their asynchronous notifications, used by the team-plans
//! document's `alipay` method. The adapter (infrastructure/src/alipay/) signs requests with RSA2,
//! verifies replies and notifications with the Alipay public key, and takes its gateway URL from
//! configuration (docs/alipay.md).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A QR payment to open (`alipay.trade.precreate` `biz_content`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlipayPrecreate {
    /// Our order number (`out_trade_no`, at most 64 characters of letters, digits and `_`).
    pub out_trade_no: String,
    /// One line shown to the payer (`subject`, at most 256 characters).
    pub subject: String,
    /// The amount in CNY fen (sent as `total_amount` in yuan with two decimals).
    pub amount_fen: i64,
    /// When the QR code stops being payable (`time_expire`, sent as `yyyy-MM-dd HH:mm:ss` in
    /// China Standard Time, UTC+8).
    pub time_expire: Option<DateTime<Utc>>,
    /// Where Alipay posts this payment's notification (`notify_url`); `None` sends the adapter's
    /// configured one.
    pub notify_url: Option<String>,
}

/// What precreate answered: the QR code content to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlipayQrCode {
    /// Our order number, as Alipay echoed it.
    pub out_trade_no: String,
    /// The QR code content (`qr_code`, e.g. `https://qr.alipay.com/bax0…`).
    pub qr_code: String,
}

/// A verified asynchronous notification (`notify_type` `trade_status_sync`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlipayNotification {
    /// `notify_id` (dedupe key: Alipay retries until it reads `success`).
    pub notify_id: String,
    /// Our `out_trade_no`.
    pub out_trade_no: String,
    /// Alipay's `trade_no`.
    pub trade_no: String,
    /// `trade_status`: `WAIT_BUYER_PAY`, `TRADE_CLOSED`, `TRADE_SUCCESS`, `TRADE_FINISHED`.
    pub trade_status: String,
    /// `total_amount` in CNY fen.
    pub amount_fen: i64,
}

impl AlipayNotification {
    /// Whether it says the trade was paid (`TRADE_SUCCESS` or `TRADE_FINISHED`).
    pub fn is_paid(&self) -> bool {
        matches!(
            self.trade_status.as_str(),
            "TRADE_SUCCESS" | "TRADE_FINISHED"
        )
    }
}

/// Why Alipay could not be used or a notification was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlipayError {
    /// Alipay answered with a business error (`code` other than `10000`).
    #[error("Alipay refused ({code} {sub_code}): {message}")]
    Rejected {
        /// Alipay's `code` (e.g. `40004`).
        code: String,
        /// Alipay's `sub_code` (e.g. `ACQ.TRADE_HAS_SUCCESS`), empty when absent.
        sub_code: String,
        /// `sub_msg`, else `msg`.
        message: String,
    },
    /// Alipay could not be reached, or answered something unreadable or not signed by Alipay.
    #[error("Alipay unavailable: {0}")]
    Unavailable(String),
    /// A notification's signature did not verify, or it is for another app.
    #[error("notification signature rejected: {0}")]
    BadSignature(String),
    /// A notification lacks a field or has an unreadable one.
    #[error("notification malformed: {0}")]
    Malformed(String),
}

/// The Alipay open platform for face-to-face QR payments.
#[async_trait]
pub trait Alipay: Send + Sync {
    /// The configured `app_id`.
    fn app_id(&self) -> &str;
    /// Open a QR payment (`alipay.trade.precreate`).
    async fn precreate(&self, order: &AlipayPrecreate) -> Result<AlipayQrCode, AlipayError>;
    /// Verify an asynchronous notification given as its decoded form parameters (name, value),
    /// in any order, and read it.
    fn parse_notification(
        &self,
        params: &[(String, String)],
    ) -> Result<AlipayNotification, AlipayError>;
}
