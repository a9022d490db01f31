//! The transaction object WeChat Pay returns from the order query and encrypts in payment
//! notifications (WeChat Pay API v3, "商户订单号查询订单" reply and "支付通知" resource: the same
//! fields).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tessera_application::payments::wechatpay::{TradeState, WechatPayTransaction};

/// The fields of a transaction that Tessera reads; others are ignored.
#[derive(Deserialize)]
pub(crate) struct TransactionJson {
    pub(crate) appid: Option<String>,
    pub(crate) mchid: Option<String>,
    pub(crate) out_trade_no: String,
    transaction_id: Option<String>,
    trade_state: String,
    success_time: Option<String>,
    payer: Option<PayerJson>,
    amount: Option<AmountJson>,
}

#[derive(Deserialize)]
struct PayerJson {
    openid: Option<String>,
}

#[derive(Deserialize)]
struct AmountJson {
    total: Option<i64>,
    payer_total: Option<i64>,
}

impl TransactionJson {
    /// The port's view of the transaction.
    ///
    /// Errors: a description when `trade_state` is not one of WeChat Pay's or `success_time` is not
    /// RFC 3339.
    pub(crate) fn into_transaction(self) -> Result<WechatPayTransaction, String> {
        let trade_state = TradeState::parse(&self.trade_state)
            .ok_or_else(|| format!("unknown trade_state {:?}", self.trade_state))?;
        let success_time = match non_empty(self.success_time) {
            Some(t) => Some(
                DateTime::parse_from_rfc3339(&t)
                    .map_err(|e| format!("success_time {t:?} is not RFC 3339: {e}"))?
                    .with_timezone(&Utc),
            ),
            None => None,
        };
        let amount_fen = self.amount.and_then(|a| a.payer_total.or(a.total));
        Ok(WechatPayTransaction {
            out_trade_no: self.out_trade_no,
            transaction_id: non_empty(self.transaction_id),
            trade_state,
            amount_fen,
            payer_openid: self.payer.and_then(|p| non_empty(p.openid)),
            success_time,
        })
    }
}

/// WeChat Pay sends some absent values as empty strings (e.g. `transaction_id` before payment).
fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}
