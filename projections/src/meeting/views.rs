//! What the meeting-ticket queries return: the JSON bodies of seed 000 (§4 meetings, §5 orders,
//! §8 tickets), field for field (serde camelCase). Money is shown in **yuan** as a JSON number
//! ([`Yuan`]); it is kept in fen everywhere else. Instants are RFC 3339 UTC strings
//! (`2025-03-01T02:00:00Z`). Optional fields the document shows as `|null` are always present,
//! `null` when unset.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Serialize, Serializer};
use std::fmt;
use uuid::Uuid;

// ------------------------------------------------------------------------------------- money

/// An amount of CNY held exactly in fen (1 yuan = 100 fen) and shown in yuan as a JSON number:
/// `9950` fen → `99.5`, `9900` fen → `99`, `1` fen → `0.01`.
///
/// Serialisation goes through [`Decimal`] (`fen` with scale 2, exact): a whole number of yuan is
/// written as a JSON integer; otherwise the decimal becomes the `f64` nearest to it, which
/// serde_json writes as the shortest text that reads back as that same `f64` — i.e. exactly the
/// two-decimal value (`99.5`, `0.01`), never `99.49999…`, for any amount below 2^53 fen. Clients
/// that parse JSON numbers as doubles get the nearest double, as they would for any decimal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Yuan {
    fen: i64,
}

impl Yuan {
    /// An amount of `fen` fen.
    pub const fn from_fen(fen: i64) -> Self {
        Self { fen }
    }

    /// The amount in fen (exact).
    pub const fn fen(self) -> i64 {
        self.fen
    }

    /// The amount in yuan as an exact decimal, without trailing zeros (`99.5`, `99`, `0.01`).
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.fen, 2).normalize()
    }
}

impl fmt::Display for Yuan {
    /// The yuan amount as an exact decimal (`99.5`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_decimal(), f)
    }
}

impl Serialize for Yuan {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.fen % 100 == 0 {
            return s.serialize_i64(self.fen / 100);
        }
        match self.to_decimal().to_f64() {
            Some(f) => s.serialize_f64(f),
            None => Err(serde::ser::Error::custom(format!(
                "{} fen has no JSON number",
                self.fen
            ))),
        }
    }
}

// ----------------------------------------------------------------------------------- meetings

/// A meeting as `GET /meetings/:id` and the items of `GET /meetings` return it (seed 000 §4):
/// `{id, title, description, location, startTime, endTime, status, organizerId, createdAt,
/// ticketGrades}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeetingView {
    /// Meeting id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Description (may be empty).
    pub description: String,
    /// Where it takes place.
    pub location: String,
    /// Start (UTC).
    pub start_time: DateTime<Utc>,
    /// End (UTC).
    pub end_time: DateTime<Utc>,
    /// Sales status: `draft`, `onSale` or `closed`.
    pub status: String,
    /// The organizer who created it.
    pub organizer_id: Uuid,
    /// When it was created (UTC).
    pub created_at: DateTime<Utc>,
    /// Its ticket grades, in the order they were added.
    pub ticket_grades: Vec<TicketGradeView>,
}

/// A ticket grade of a [`MeetingView`]: `{id, name, price, stock, remaining, sold}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketGradeView {
    /// Grade id.
    pub id: Uuid,
    /// Name (e.g. 普通票).
    pub name: String,
    /// Current price of one ticket, in yuan.
    pub price: Yuan,
    /// Total tickets of the grade.
    pub stock: i64,
    /// Tickets still available: `stock − held − sold` (held: reserved by unpaid orders), never
    /// below 0.
    pub remaining: i64,
    /// Tickets sold to paid orders.
    pub sold: i64,
}

// ------------------------------------------------------------------------------------ orders

/// An order as `GET /orders/:id` and the items of `GET /orders` return it (seed 000 §5):
/// `{id, userId, items, meetingId, paymentMethodId, duyPayment, status, expiresAt, createdAt,
/// paidAt, transactionId, transaction: {thirdPartyTransactionInfo}, refund}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    /// Order id.
    pub id: Uuid,
    /// The buyer (for the HTTP layer's ownership check).
    pub user_id: Uuid,
    /// One item per order line, in the order the buyer gave them.
    pub items: Vec<OrderItemView>,
    /// The meeting.
    pub meeting_id: Uuid,
    /// Payment method id (`wechatpay`, `mock`).
    pub payment_method_id: String,
    /// The amount due, in yuan (the document's own spelling, `duyPayment`).
    pub duy_payment: Yuan,
    /// 待支付, 已支付, 已取消, 已过期 or 待退款.
    pub status: String,
    /// When it expires unless paid (UTC).
    pub expires_at: DateTime<Utc>,
    /// When it was placed (UTC).
    pub created_at: DateTime<Utc>,
    /// When it was paid (UTC); null until then.
    pub paid_at: Option<DateTime<Utc>>,
    /// The payment provider's transaction id: of the payment (已支付), or of the payment to refund
    /// (待退款); null otherwise.
    pub transaction_id: Option<String>,
    /// The payment parameters the client needs.
    pub transaction: TransactionView,
    /// A payment to give back, or null.
    pub refund: Option<RefundView>,
}

/// An item of an [`OrderView`]: `{ticketGradeId, ticketGradeName, ticketPrice, ticketAmount,
/// meetingId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderItemView {
    /// The grade.
    pub ticket_grade_id: Uuid,
    /// The grade's name when ordered.
    pub ticket_grade_name: String,
    /// Price of one ticket when ordered, in yuan.
    pub ticket_price: Yuan,
    /// Number of tickets.
    pub ticket_amount: i64,
    /// The meeting (the order's).
    pub meeting_id: Uuid,
}

/// `transaction` of an [`OrderView`]: `{thirdPartyTransactionInfo}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionView {
    /// What the client passes to the payment provider (for WeChat Pay `{timeStamp, nonceStr,
    /// package, signType, paySign}`), exactly as the last payment request stored it; null before
    /// a payment was requested or when the method needs none.
    pub third_party_transaction_info: Option<serde_json::Value>,
}

/// `refund` of an [`OrderView`]: `{amount, reason}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundView {
    /// Amount to give back, in yuan.
    pub amount: Yuan,
    /// Why.
    pub reason: String,
}

// ----------------------------------------------------------------------------------- tickets

/// A ticket as `GET /tickets/:id` and the items of `GET /tickets` return it (seed 000 §8):
/// `{id, orderId, meetingId, ticketGradeId, ticketGradeName, ownerId, participant, issuedAt,
/// claimedAt}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketView {
    /// Ticket id.
    pub id: Uuid,
    /// The order that bought it.
    pub order_id: Uuid,
    /// The meeting.
    pub meeting_id: Uuid,
    /// The grade.
    pub ticket_grade_id: Uuid,
    /// The grade's current name (empty if the catalog projection has not seen the grade yet).
    pub ticket_grade_name: String,
    /// The buyer.
    pub owner_id: Uuid,
    /// The attendee, or null until named.
    pub participant: Option<ParticipantView>,
    /// When it was issued (UTC).
    pub issued_at: DateTime<Utc>,
    /// When the attendee was named (UTC), or null.
    pub claimed_at: Option<DateTime<Utc>>,
}

/// `participant` of a [`TicketView`]: `{name, phone}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParticipantView {
    /// Name.
    pub name: String,
    /// Mainland mobile number, 11 digits.
    pub phone: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(fen: i64) -> String {
        serde_json::to_string(&Yuan::from_fen(fen)).unwrap_or_default()
    }

    #[test]
    fn yuan_prints_exact_two_decimal_numbers() {
        assert_eq!(json(9950), "99.5");
        assert_eq!(json(9900), "99");
        assert_eq!(json(1), "0.01");
        assert_eq!(json(10), "0.1");
        assert_eq!(json(0), "0");
        assert_eq!(json(-5), "-0.05");
        assert_eq!(json(12_345_678_901), "123456789.01");
        assert_eq!(json(29_99), "29.99");
        assert_eq!(Yuan::from_fen(1999).to_string(), "19.99");
        for fen in 0..10_000 {
            let text = json(fen);
            let back: Decimal = text.parse().unwrap_or_default();
            assert_eq!(back, Decimal::new(fen, 2), "{fen} fen printed as {text}");
        }
    }
}
