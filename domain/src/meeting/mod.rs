//! The meeting-ticket system's aggregates (seed 000, `../shared/seeds/000_2ac7adb1571abbc4.txt`):
//! [`grades::Meeting`] with its ticket grades and their stock, [`order::MeetingOrder`],
//! [`ticket::MeetingTicket`] with its attendee, and [`sms::SmsChallenge`] (sign-in codes) and
//! [`wechat::WechatAccount`] (verified WeChat tokens). One attendee seat per person per meeting is
//! guarded by [`crate::claim::IdentifierClaim`].
//!
//! Money is kept in fen (CNY minor units, 1 yuan = 100 fen) as `i64`; the API shows yuan.
//! Stored event shapes are listed in docs/event-catalog.md (camelCase `data`).

pub mod grades;
pub mod order;
pub mod sms;
pub mod ticket;
pub mod wechat;

use serde::{Deserialize, Serialize};
use std::fmt;

crate::uuid_id!(
    /// A meeting (stream `meeting-{id}`).
    MeetingId
);
crate::uuid_id!(
    /// A ticket grade of a meeting (e.g. 普通票, VIP).
    TicketGradeId
);
crate::uuid_id!(
    /// A meeting-ticket order (stream `meetingOrder-{id}`).
    MeetingOrderId
);
crate::uuid_id!(
    /// A meeting ticket (stream `meetingTicket-{id}`).
    MeetingTicketId
);

impl MeetingTicketId {
    /// The `n`-th (0-based) ticket of `grade` in `order`: UUID v5 (URL namespace) of
    /// `meeting-ticket:{orderId}:{gradeId}:{n}`, so issuing twice lands on the same stream.
    pub fn for_order(order: MeetingOrderId, grade: TicketGradeId, n: u32) -> Self {
        let name = format!("meeting-ticket:{order}:{grade}:{n}");
        Self::from_uuid(uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            name.as_bytes(),
        ))
    }
}

/// A mainland China mobile number: 11 digits starting with 1 and then 3–9 (no `+86`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

/// Why a phone number was refused; the message is the document's own wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("手机号应为11位数字")]
pub struct PhoneError;

impl Phone {
    /// Parse 11 ASCII digits starting `1[3-9]`, after trimming spaces.
    pub fn parse(raw: &str) -> Result<Self, PhoneError> {
        let s = raw.trim();
        let b = s.as_bytes();
        let ok = b.len() == 11
            && b.iter().all(u8::is_ascii_digit)
            && b[0] == b'1'
            && (b'3'..=b'9').contains(&b[1]);
        if ok {
            Ok(Phone(s.to_owned()))
        } else {
            Err(PhoneError)
        }
    }

    /// The 11 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Phone {
    type Error = PhoneError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Phone::parse(&value)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_eleven_digits_starting_1_3_to_9() {
        assert_eq!(
            Phone::parse(" 13800138000 ").map(|p| p.to_string()),
            Ok("13800138000".into())
        );
        for bad in [
            "",
            "1380013800",
            "138001380000",
            "12800138000",
            "23800138000",
            "1380013800a",
            "+8613800138000",
            "１３８００１３８０００",
        ] {
            assert_eq!(Phone::parse(bad), Err(PhoneError), "{bad:?}");
        }
    }

    #[test]
    fn ticket_ids_are_stable_per_order_grade_and_index() {
        let o = MeetingOrderId::from_uuid(uuid::Uuid::from_u128(1));
        let g = TicketGradeId::from_uuid(uuid::Uuid::from_u128(2));
        assert_eq!(
            MeetingTicketId::for_order(o, g, 0),
            MeetingTicketId::for_order(o, g, 0)
        );
        assert_ne!(
            MeetingTicketId::for_order(o, g, 0),
            MeetingTicketId::for_order(o, g, 1)
        );
    }
}
