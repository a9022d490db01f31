//! How plans orders and wallet recharges are paid (seed 004 `PaimentMethod`) and what an external
//! payment pays for. Money in the plans context is CNY; amounts between use cases are whole fen
//! (1/100 yuan, `i64`), shown to clients as decimal strings with two places.

use super::ObjectId;
use serde::{Deserialize, Serialize};

/// The seed's `PaimentMethod`: `balance` (the company wallet, at once), `alipay` and `wxpay`
/// (a QR code the payer scans; completed by the provider's signed notification) and `banktrans`
/// (completed when staff confirm the transfer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentMethod {
    /// The company wallet.
    Balance,
    /// Alipay (支付宝), `alipay.trade.precreate`.
    Alipay,
    /// WeChat Pay API v3 Native (`code_url`).
    Wxpay,
    /// Bank transfer, confirmed by staff.
    Banktrans,
}

impl PaymentMethod {
    /// The seed's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Balance => "balance",
            PaymentMethod::Alipay => "alipay",
            PaymentMethod::Wxpay => "wxpay",
            PaymentMethod::Banktrans => "banktrans",
        }
    }

    /// Parse the seed's spelling (exact, lower case).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "balance" => Some(PaymentMethod::Balance),
            "alipay" => Some(PaymentMethod::Alipay),
            "wxpay" => Some(PaymentMethod::Wxpay),
            "banktrans" => Some(PaymentMethod::Banktrans),
            _ => None,
        }
    }
}

/// What an external payment (`alipay`, `wxpay`, `banktrans`) pays for; stored in the payment's
/// events so that its success is delivered to the right aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum PaymentPurpose {
    /// A plan order (`plansOrder-{orderId}`).
    Order {
        /// The order.
        order_id: ObjectId,
    },
    /// A wallet recharge (`POST /plan/recharge`).
    Recharge {
        /// The recharge.
        recharge_id: ObjectId,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_round_trip_in_the_seeds_spelling() {
        for m in [
            PaymentMethod::Balance,
            PaymentMethod::Alipay,
            PaymentMethod::Wxpay,
            PaymentMethod::Banktrans,
        ] {
            assert_eq!(PaymentMethod::parse(m.as_str()), Some(m));
        }
        assert_eq!(PaymentMethod::parse("wechat"), None);
    }
}
