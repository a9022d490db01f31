//! The meeting-ticket system's aggregates (seed 000, `../shared/seeds/000_2ac7adb1571abbc4.txt`):
//! [`Meeting`] with its ticket grades and their stock, [`order::MeetingOrder`] and
//! [`ticket::MeetingTicket`] with its attendee. Sign-in (SMS codes, WeChat accounts, phones) is
//! [`crate::identity`]'s. One attendee seat per person per meeting is guarded by
//! [`crate::shared::claim::IdentifierClaim`].
//!
//! Money is CNY [`crate::shared::Money`]; stored events carry it as an integer number of fen (CNY
//! minor units, 1 yuan = 100 fen) through [`fen`], so the stored shapes never change.
//! Stored event shapes are listed in docs/event-catalog.md (camelCase `data`).

pub mod fen;
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
    /// How tickets of orders paid before ticket ids became random were named: the UUID v5 (URL
    /// namespace) of `meeting-ticket:{orderId}:{gradeId}:{n}` for the `n`-th (0-based) ticket of
    /// `grade` in `order`. Only used to find those tickets again (their events keep these ids);
    /// new tickets get random ids (UUIDv4, drawn by the application) recorded in the order's
    /// `MeetingTicketsAllocated`.
    pub fn legacy_for_order(order: MeetingOrderId, grade: TicketGradeId, n: u32) -> Self {
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
    fn legacy_ticket_ids_are_stable_per_order_grade_and_index() {
        let o = MeetingOrderId::from_uuid(uuid::Uuid::from_u128(1));
        let g = TicketGradeId::from_uuid(uuid::Uuid::from_u128(2));
        assert_eq!(
            MeetingTicketId::legacy_for_order(o, g, 0),
            MeetingTicketId::legacy_for_order(o, g, 0)
        );
        assert_ne!(
            MeetingTicketId::legacy_for_order(o, g, 0),
            MeetingTicketId::legacy_for_order(o, g, 1)
        );
    }
}
