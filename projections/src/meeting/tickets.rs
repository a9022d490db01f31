//! Projector `meeting_tickets`: issued meeting tickets and their attendee (docs/read-models.md,
//! "Meeting tickets (seed 000)").

use super::events::{MeetingTicketIssued, ParticipantAssigned};
use super::{parse, stream_id};
use crate::db::ProjectionTx;
use crate::execute;
use crate::projector::{ProjectionError, Projector};
use async_trait::async_trait;
use tessera_application::RecordedEvent;
use tessera_domain::Decider;
use tessera_domain::identity::User;
use tessera_domain::meeting::ticket::MeetingTicket;
use tessera_domain::shared::classification::ERASED;

/// Writes `mt_tickets` from the `meetingTicket` streams. The grade's name is joined in by the
/// queries from `mt_ticket_grades`.
///
/// Only the first `MeetingParticipantAssigned` counts, as in the aggregate (a second one for
/// another person is refused by the domain anyway: 410 'Already Taken').
///
/// `UserErased` (from the `user` streams) turns the attendee name and phone of every ticket the
/// erased user named an attendee for into `"[erased]"`: the attendee data is sealed under that
/// user's key (docs/decisions/0008-crypto-shredding.md), so a rebuild after erasure reads the same
/// marker from the log.
#[derive(Debug, Clone, Copy, Default)]
pub struct TicketsProjector;

#[async_trait]
impl Projector for TicketsProjector {
    fn name(&self) -> &'static str {
        "meeting_tickets"
    }

    fn version(&self) -> u32 {
        2
    }

    fn categories(&self) -> &'static [&'static str] {
        &[MeetingTicket::CATEGORY, User::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &[
            "MeetingTicketIssued",
            "MeetingParticipantAssigned",
            "UserErased",
        ]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(&mut *tx, sqlx::query("DELETE FROM mt_tickets"))?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        match event.event_type.as_str() {
            "MeetingTicketIssued" => {
                let d: MeetingTicketIssued = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "INSERT INTO mt_tickets (ticket_id, order_id, meeting_id, ticket_grade_id, \
                         owner_id, issued_at) VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (ticket_id) DO NOTHING",
                    )
                    .bind(d.ticket_id.to_string())
                    .bind(d.order_id.to_string())
                    .bind(d.meeting_id.to_string())
                    .bind(d.ticket_grade_id.to_string())
                    .bind(d.owner_id.to_string())
                    .bind(d.issued_at)
                )?;
            }
            "MeetingParticipantAssigned" => {
                let d: ParticipantAssigned = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE mt_tickets SET participant_name = $1, participant_phone = $2, \
                         assigned_by = $3, claimed_at = $4 \
                         WHERE ticket_id = $5 AND participant_name IS NULL",
                    )
                    .bind(&d.participant.name)
                    .bind(&d.participant.phone)
                    .bind(d.assigned_by.to_string())
                    .bind(d.assigned_at)
                    .bind(stream_id(event)?)
                )?;
            }
            "UserErased" => {
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE mt_tickets SET participant_name = $1, participant_phone = $1 \
                         WHERE assigned_by = $2",
                    )
                    .bind(ERASED)
                    .bind(stream_id(event)?)
                )?;
            }
            _ => {}
        }
        Ok(())
    }
}
