//! Projector `openticket_tickets`: issued tickets and their use at the entrance
//! (docs/read-models.md).

use super::events::{TicketIssued, TicketUsed, value_text};
use super::{parse, stream_uuid};
use crate::db::ProjectionTx;
use crate::execute;
use crate::projector::{ProjectionError, Projector};
use async_trait::async_trait;
use tessera_application::RecordedEvent;
use tessera_domain::Decider;
use tessera_domain::openticket::ticket::Ticket;

/// Writes `ot_tickets` from the `ticket` streams. Event, session, venue and seat labels are joined
/// in by the queries from the catalog tables.
#[derive(Debug, Clone, Copy, Default)]
pub struct TicketsProjector;

#[async_trait]
impl Projector for TicketsProjector {
    fn name(&self) -> &'static str {
        "openticket_tickets"
    }

    fn version(&self) -> u32 {
        1
    }

    fn categories(&self) -> &'static [&'static str] {
        &[Ticket::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &["OpenTicketTicketIssued", "OpenTicketTicketUsed"]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(&mut *tx, sqlx::query("DELETE FROM ot_tickets"))?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        match event.event_type.as_str() {
            "OpenTicketTicketIssued" => {
                let d: TicketIssued = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "INSERT INTO ot_tickets (ticket_id, order_id, user_id, event_id, session_id, \
                         seat_id, area_id, amount, currency, status, issued_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'Issued', $10) \
                         ON CONFLICT (ticket_id) DO NOTHING",
                    )
                    .bind(d.ticket_id.to_string())
                    .bind(d.order_id.to_string())
                    .bind(d.user_id.to_string())
                    .bind(d.event_id.to_string())
                    .bind(d.session_id.to_string())
                    .bind(&d.seat_id)
                    .bind(&d.area_id)
                    .bind(d.price.amount.to_string())
                    .bind(&d.price.currency)
                    .bind(d.issued_at)
                )?;
            }
            "OpenTicketTicketUsed" => {
                let d: TicketUsed = parse(event)?;
                // Only the first scan counts (a second one is refused by the domain anyway).
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE ot_tickets SET status = 'Used', used_at = $1, verified_by = $2 \
                         WHERE ticket_id = $3 AND status = 'Issued'",
                    )
                    .bind(d.used_at)
                    .bind(value_text(d.verified_by.as_ref()))
                    .bind(stream_uuid(event)?.to_string())
                )?;
            }
            _ => {}
        }
        Ok(())
    }
}
