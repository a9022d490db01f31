//! The meeting-ticket system's aggregates (seed 000, `../shared/seeds/000_2ac7adb1571abbc4.txt`):
//! [`grades::Meeting`] with its ticket grades and their stock, [`order::MeetingOrder`],
//! [`ticket::MeetingTicket`] with its attendee, and [`sms::SmsChallenge`] (sign-in codes) and
//! [`wechat::WechatAccount`] (verified WeChat tokens). One attendee seat per person per meeting is
//! guarded by [`crate::shared::claim::IdentifierClaim`].
//!
//! Money is kept in fen (CNY minor units, 1 yuan = 100 fen) as `i64`; the API shows yuan.
//! Stored event shapes are listed in docs/event-catalog.md (camelCase `data`).

// One file per aggregate: the `Meeting` aggregate lives in `meeting/meeting.rs`.
#[allow(clippy::module_inception)]
mod meeting;
pub mod order;
pub mod ticket;

pub use meeting::*;

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

#[cfg(test)]
mod tests {
    use super::*;

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
