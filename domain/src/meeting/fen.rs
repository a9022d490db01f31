//! Serde for CNY [`Money`] held in stored events as an **integer number of fen** (1 yuan = 100 fen),
//! the meeting context's stored contract (docs/event-catalog.md, "Meeting tickets"): `9950` reads
//! as 99.50 CNY and 99.50 CNY writes as `9950`. Use as `#[serde(with = "fen")]` on a `Money` field.

use crate::shared::{Currency, Money};
use serde::{Deserialize, Deserializer, Serializer};

/// CNY `fen` fen; [`crate::shared::MoneyError::Negative`] below zero.
pub fn money(fen: i64) -> Result<Money, crate::shared::MoneyError> {
    Money::from_minor(fen, Currency::CNY)
}

/// Write `m` as integer fen; an error for another currency than CNY (a bug: the deciders accept
/// CNY prices only).
pub fn serialize<S: Serializer>(m: &Money, s: S) -> Result<S::Ok, S::Error> {
    if m.currency() != Currency::CNY {
        return Err(serde::ser::Error::custom(format!(
            "meeting money is CNY, not {}",
            m.currency()
        )));
    }
    s.serialize_i64(m.to_minor().map_err(serde::ser::Error::custom)?)
}

/// Read integer fen as CNY money; an error below zero.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
    money(i64::deserialize(d)?).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::money;
    use crate::meeting::order::{OrderEvent, OrderItem};
    use crate::meeting::{MeetingEvent, MeetingId, TicketGradeId};
    use crate::{DomainEvent, UserId};
    use chrono::{DateTime, Utc};
    use serde_json::json;
    use uuid::Uuid;

    const AT: &str = "2027-01-15T08:00:00Z";

    fn at() -> DateTime<Utc> {
        AT.parse().unwrap()
    }

    /// The stored `data` of `e`, after checking that it reads back as `e`.
    fn stored<E: DomainEvent>(e: E) -> serde_json::Value {
        let (event_type, data) = e.to_stored().unwrap();
        assert_eq!(E::from_stored(&event_type, &data).unwrap(), e);
        data
    }

    /// Every event holding money stores it as docs/event-catalog.md lists it (integer fen), and
    /// reads back unchanged.
    #[test]
    fn money_is_stored_as_integer_fen_as_the_catalog_says() {
        let grade = TicketGradeId::from_uuid(Uuid::from_u128(3));
        let fen = |n| money(n).unwrap();
        assert_eq!(
            stored(MeetingEvent::TicketGradeAdded {
                ticket_grade_id: grade,
                name: "VIP".into(),
                price: fen(9950),
                stock: 10,
                added_at: at(),
            }),
            json!({"ticketGradeId": grade, "name": "VIP", "priceFen": 9950, "stock": 10,
                   "addedAt": AT})
        );
        assert_eq!(
            stored(MeetingEvent::TicketGradeChanged {
                ticket_grade_id: grade,
                name: "VIP".into(),
                price: fen(0),
                stock: 10,
                changed_at: at(),
            }),
            json!({"ticketGradeId": grade, "name": "VIP", "priceFen": 0, "stock": 10,
                   "changedAt": AT})
        );
        assert_eq!(
            stored(OrderEvent::MeetingOrderPlaced {
                user_id: UserId::from_uuid(Uuid::from_u128(1)),
                meeting_id: MeetingId::from_uuid(Uuid::from_u128(2)),
                items: vec![OrderItem {
                    ticket_grade_id: grade,
                    ticket_grade_name: "VIP".into(),
                    ticket_price: fen(9950),
                    ticket_amount: 3,
                }],
                payment_method_id: "mock".into(),
                total: fen(29_850),
                expires_at: at(),
                placed_at: at(),
            }),
            json!({"userId": Uuid::from_u128(1), "meetingId": Uuid::from_u128(2),
                   "items": [{"ticketGradeId": grade, "ticketGradeName": "VIP",
                              "ticketPrice": 9950, "ticketAmount": 3}],
                   "paymentMethodId": "mock", "totalFen": 29850,
                   "expiresAt": AT, "placedAt": AT})
        );
        assert_eq!(
            stored(OrderEvent::MeetingOrderPaid {
                transaction_id: "w1".into(),
                amount: fen(1),
                late: false,
                paid_at: at(),
            }),
            json!({"transactionId": "w1", "amountFen": 1, "late": false, "paidAt": AT})
        );
        assert_eq!(
            stored(OrderEvent::MeetingOrderRefundRequired {
                transaction_id: "w1".into(),
                amount: fen(19_800),
                reason: "late".into(),
                recorded_at: at(),
            }),
            json!({"transactionId": "w1", "amountFen": 19800, "reason": "late",
                   "recordedAt": AT})
        );
    }

    #[test]
    fn negative_or_fractional_fen_is_refused_on_read() {
        let read = |fen: serde_json::Value| {
            OrderEvent::from_stored(
                "MeetingOrderPaid",
                &json!({"transactionId": "w1", "amountFen": fen, "late": false, "paidAt": AT}),
            )
        };
        assert!(read(json!(100)).is_ok());
        assert!(read(json!(-1)).is_err());
        assert!(read(json!(1.5)).is_err());
    }
}
