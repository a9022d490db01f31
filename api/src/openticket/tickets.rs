//! Tickets (seed 003 §7), read side: `GET /v1/tickets` (the caller's, paged; `qrCode` is the PNG
//! data URI there, as §7.1 shows) and `GET /v1/tickets/{ticketId}` (owner or admin; `qrCode` is the
//! signed code, `qrCodeImage` its PNG data URI). Verifying at the gate is a command route.

use super::common::{Caller, page_request, parse_id};
use super::envelope::{OtError, ok};
use crate::startup::AppState;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use std::collections::HashMap;
use tessera_infrastructure::ticket_codes::qr_png_data_uri;
use uuid::Uuid;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/tickets", get(list))
        .route("/v1/tickets/{ticket_id}", get(detail))
}

/// The PNG data URI of a code.
fn qr_image(code: &str) -> Result<String, OtError> {
    qr_png_data_uri(code).map_err(|e| OtError::Internal(format!("QR code: {e}")))
}

/// §7.1: 200 `{items: [{ticketId, event, session: {sessionId, startTime, venue}, seat: {seatId,
/// area, row, number}, status, qrCode (PNG data URI)}], pagination}`.
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, OtError> {
    let page = page_request(&query)?;
    let mut tickets = state
        .services
        .openticket_queries
        .tickets_of_user(caller.user_id.as_uuid(), page)
        .await?;
    for t in &mut tickets.items {
        let code = state.services.ticket_codes.sign(t.ticket_id);
        t.qr_code = Some(qr_image(&code)?);
    }
    Ok(ok(StatusCode::OK, tickets))
}

/// §7.2: 200 `{ticketId, orderId, event, session, venue, seat, price, status, qrCode,
/// qrCodeImage, issuedAt, usedAt?}`; 404 (also for someone else's ticket).
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id, ticket_id = %ticket_id))]
async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(ticket_id): Path<String>,
) -> Result<Response, OtError> {
    let id: Uuid = parse_id("ticketId", &ticket_id)?;
    let Some(mut ticket) = state.services.openticket_queries.ticket(id).await? else {
        return Err(OtError::not_found("ticket", ticket_id));
    };
    if ticket.user_id != caller.user_id.as_uuid() && !caller.is_admin() {
        return Err(OtError::not_found("ticket", ticket_id));
    }
    let code = state.services.ticket_codes.sign(ticket.ticket_id);
    ticket.qr_code_image = Some(qr_image(&code)?);
    ticket.qr_code = Some(code);
    Ok(ok(StatusCode::OK, ticket))
}
