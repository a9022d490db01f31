//! Tickets (seed 003 §7), read side: `GET /v1/tickets` (all the caller's tickets, as §7.1 shows no
//! paging, or one page when `page`/`pageSize` is sent; `qrCode` is the PNG data URI there) and `GET /v1/tickets/{ticketId}` (owner or admin; `qrCode` is the
//! signed code, `qrCodeImage` its PNG data URI). Verifying at the gate is a command route.

use super::common::{OtCaller, page_request, parse_id};
use super::envelope::ok;
use super::error::{ErrorBody, OtError};
use super::openapi::{InternalError, ServiceUnavailable, tags};
use super::views::{
    Pagination, TicketDetail, TicketDetailResponse, TicketList, TicketListResponse, TicketSummary,
};
use crate::startup::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::HashMap;
use tessera_infrastructure::openticket::ticket_codes::qr_png_data_uri;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Routes of this module, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list))
        .routes(routes!(detail))
}

/// The PNG data URI of a code.
fn qr_image(code: &str) -> Result<String, OtError> {
    qr_png_data_uri(code).map_err(|e| OtError::Internal(format!("QR code: {e}")))
}

/// §7.1: 200 `{items: [{ticketId, event, session: {sessionId, startTime, venue}, seat: {seatId,
/// area, row, number}, status, qrCode (PNG data URI)}]}`: every ticket of the caller, newest first;
/// with `page` or `pageSize`, that page and `pagination`.
#[utoipa::path(
    get,
    path = "/v1/tickets",
    operation_id = "listTickets",
    tag = tags::TICKETS,
    summary = "The caller's tickets",
    description = "Without `page` and `pageSize` (as seed 003 §7.1 shows it): all of the caller's tickets, newest first, and no `pagination`. With either: that page and `pagination`.",
    security(("bearerAuth" = [])),
    params(
        ("page" = Option<u32>, Query, description = "Page number, from 1; asks for one page", minimum = 1),
        ("pageSize" = Option<u32>, Query, description = "Items per page, 1–100 (default 20 when only `page` is sent); asks for one page", minimum = 1, maximum = 100),
    ),
    responses(
        (status = 200, description = "The caller's tickets (all, or the page asked for)", body = TicketListResponse),
        (status = 400, description = "VALIDATION_ERROR naming the bad query parameter", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, malformed, forged or expired access token", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
async fn list(
    State(state): State<AppState>,
    caller: OtCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, OtError> {
    let paged = query.contains_key("page") || query.contains_key("pageSize");
    let queries = &state.services.openticket_queries;
    let user = caller.user_id.as_uuid();
    let (tickets, pagination) = if paged {
        let page = queries.tickets_of_user(user, page_request(&query)?).await?;
        let pagination = Pagination::from(&page);
        (page.items, Some(pagination))
    } else {
        (queries.all_tickets_of_user(user).await?, None)
    };
    let items = tickets
        .into_iter()
        .map(|t| {
            let code = state.services.ticket_codes.sign(t.ticket_id);
            Ok(TicketSummary::new(t, qr_image(&code)?))
        })
        .collect::<Result<_, OtError>>()?;
    Ok(ok(StatusCode::OK, TicketList { items, pagination }))
}

/// §7.2: 200 `{ticketId, orderId, event, session, venue, seat, price, status, qrCode,
/// qrCodeImage, issuedAt, usedAt?}`; 404 (also for someone else's ticket).
#[utoipa::path(
    get,
    path = "/v1/tickets/{ticketId}",
    operation_id = "getTicket",
    tag = tags::TICKETS,
    summary = "A ticket with its code",
    security(("bearerAuth" = [])),
    params(("ticketId" = Uuid, Path, description = "The ticket")),
    responses(
        (status = 200, description = "The ticket", body = TicketDetailResponse),
        (status = 400, description = "VALIDATION_ERROR: `ticketId` is not a UUID", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, malformed, forged or expired access token", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such ticket, or another user's (admins see all)", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id, ticket_id = %ticket_id))]
async fn detail(
    State(state): State<AppState>,
    caller: OtCaller,
    Path(ticket_id): Path<String>,
) -> Result<Response, OtError> {
    let id: Uuid = parse_id("ticketId", &ticket_id)?;
    let Some(ticket) = state.services.openticket_queries.ticket(id).await? else {
        return Err(OtError::not_found("ticket", ticket_id));
    };
    if ticket.user_id != caller.user_id.as_uuid() && !caller.is_admin() {
        return Err(OtError::not_found("ticket", ticket_id));
    }
    let code = state.services.ticket_codes.sign(ticket.ticket_id);
    let image = qr_image(&code)?;
    Ok(ok(StatusCode::OK, TicketDetail::new(ticket, code, image)))
}
