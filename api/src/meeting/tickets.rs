//! Seed 000 §8: `GET /tickets`, `GET /tickets/:id`, `PATCH /tickets/:id` with `participant`.
//!
//! A ticket can be read by its buyer and by its participant (matched by the caller's phone); only
//! the buyer (or an admin) names the participant, once. The participant then finds the ticket in
//! their own `GET /tickets` by signing in with that phone; a ticket id alone grants nothing.

use super::error::{MtCaller, MtError, MtJson};
use super::meetings::path_id;
use super::openapi::{InternalError, ServiceUnavailable, Unauthorized, tags};
use super::views::{ErrorBody, TicketView};
use crate::http::RequestId;
use crate::http::{accepted, read_after_write};
use crate::startup::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tessera_application::meeting::MeetingServiceError;
use tessera_domain::identity::Phone;
use tessera_domain::identity::Role;
use tessera_domain::meeting::MeetingTicketId;
use tessera_domain::meeting::ticket::{Participant, TicketError};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Routes of this module, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list))
        .routes(routes!(detail, claim))
}

async fn phone_of(state: &AppState, c: &MtCaller) -> Result<Option<String>, MtError> {
    Ok(state
        .services
        .phone_signin
        .user(c.user_id)
        .await?
        .and_then(|u| u.phone))
}

/// §8: 200 the tickets the caller bought or attends, newest first.
#[utoipa::path(
    get,
    path = "/tickets",
    operation_id = "listTickets",
    tag = tags::TICKETS,
    summary = "The tickets the caller bought or attends, newest first",
    security(("bearerAuth" = []), ("accessTokenCookie" = [])),
    responses(
        (status = 200, description = "Tickets the caller bought, and those whose participant has the caller's phone", body = Vec<TicketView>),
        (status = 401, response = Unauthorized),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn list(State(state): State<AppState>, c: MtCaller) -> Result<Response, MtError> {
    let phone = phone_of(&state, &c).await?;
    let tickets: Vec<TicketView> = state
        .services
        .meeting_queries
        .tickets_of(c.user_id.as_uuid(), phone.as_deref())
        .await?
        .into_iter()
        .map(TicketView::from_row)
        .collect();
    Ok(Json(tickets).into_response())
}

/// `202 Accepted` for a ticket whose committed change the read models do not show yet: `{"id"}`
/// and `Location: /tickets/{id}` (docs/decisions/0011-answer-after-write.md).
fn pending(id: Uuid) -> Response {
    accepted(
        Json(super::orders::Accepted { id }).into_response(),
        &format!("/tickets/{id}"),
    )
}

async fn visible_ticket(
    state: &AppState,
    c: &MtCaller,
    id: Uuid,
    position: Option<u64>,
) -> Result<Response, MtError> {
    let queries = &state.services.meeting_queries;
    let (ticket, phone) = if position.is_some() {
        let Some(ticket) = read_after_write(state, position, queries.ticket(id)).await else {
            return Ok(pending(id));
        };
        // After a write, a failed look-up of the caller's phone must not become an error answer.
        let phone = phone_of(state, c).await.unwrap_or_else(|e| {
            tracing::warn!(error = ?e, "the caller's phone could not be read");
            None
        });
        (Some(ticket), phone)
    } else {
        (queries.ticket(id).await?, phone_of(state, c).await?)
    };
    match ticket {
        Some(t)
            if t.owner_id == c.user_id.as_uuid()
                || c.has(Role::Admin)
                || (phone.is_some()
                    && t.participant_name.is_some()
                    && t.participant_phone.as_deref() == phone.as_deref()) =>
        {
            Ok(Json(TicketView::from_row(t)).into_response())
        }
        _ => Err(MtError::NotFound(format!("ticket {id} not found"))),
    }
}

/// §8.1: 200 ticket `{id, orderId, meetingId, ticketGradeId, ticketGradeName, ownerId,
/// participant, issuedAt, claimedAt}`; 404 for an unknown ticket or one the caller neither bought
/// nor attends.
#[utoipa::path(
    get,
    path = "/tickets/{id}",
    operation_id = "getTicket",
    tag = tags::TICKETS,
    summary = "A ticket",
    security(("bearerAuth" = []), ("accessTokenCookie" = [])),
    params(("id" = Uuid, Path, description = "The ticket")),
    responses(
        (status = 200, description = "The ticket", body = TicketView),
        (status = 401, response = Unauthorized),
        (status = 404, description = "'Not Found': no such ticket, or one the caller neither bought nor attends", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn detail(
    State(state): State<AppState>,
    c: MtCaller,
    Path(id): Path<String>,
) -> Result<Response, MtError> {
    let id = path_id("ticket", &id)?;
    visible_ticket(&state, &c, id, None).await
}

/// The attendee of a claim: `{name, phone}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ParticipantRequest)]
struct ParticipantBody {
    /// Name, 1–50 characters.
    #[schema(example = "张三")]
    name: String,
    /// Mainland mobile number, 11 digits starting with 1.
    #[schema(example = "13900000001")]
    phone: String,
}

/// `PATCH /tickets/:id` (seed 000 §8.2): `{participant}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ClaimRequest)]
struct ClaimBody {
    /// Who attends on the ticket.
    participant: ParticipantBody,
}

/// §8.2: `{participant: {name, phone}}` → 200 ticket; 410 'Already Taken' when someone else
/// already attends on it; 409 'One for One' when that person already attends the meeting on
/// another ticket; 400 naming `participant.name` / `participant.phone`; 404.
#[utoipa::path(
    patch,
    path = "/tickets/{id}",
    operation_id = "claimTicket",
    tag = tags::TICKETS,
    summary = "Name the ticket's participant (the only change the document allows), once",
    description = "Only the ticket's buyer (or an admin) names the participant; the participant \
        then sees the ticket in their own `GET /tickets` (matched by phone). Holding a ticket's id \
        grants nothing.",
    security(("bearerAuth" = []), ("accessTokenCookie" = [])),
    params(("id" = Uuid, Path, description = "The ticket")),
    request_body = ClaimBody,
    responses(
        (status = 200, description = "The ticket with its participant", body = TicketView),
        (status = 400, description = "'Validation Error' naming `participant.name` or `participant.phone`", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "'Forbidden': the caller attends on the ticket but did not buy it", body = ErrorBody),
        (status = 404, description = "'Not Found': no such ticket, or one the caller neither bought nor attends", body = ErrorBody),
        (status = 409, description = "'One for One': that person already attends the meeting on another ticket (对于任意一个会议, 一个用户只能拥有的一个参会名额)", body = ErrorBody),
        (status = 410, description = "'Already Taken': someone else already attends on it (门票已被他人领取)", body = ErrorBody),
        (status = 500, response = InternalError),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn claim(
    State(state): State<AppState>,
    rid: RequestId,
    c: MtCaller,
    Path(id): Path<String>,
    MtJson(body, raw): MtJson<ClaimBody>,
) -> Result<Response, MtError> {
    let id = path_id("ticket", &id)?;
    let name = body.participant.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 50 {
        return Err(MtError::field("participant.name", "应为 1 到 50 个字符").with_payload(&raw));
    }
    let phone = Phone::parse(&body.participant.phone)
        .map_err(|e| MtError::field("participant.phone", e.to_string()).with_payload(&raw))?;
    let meta = rid.metadata(Some(c.user_id.to_string()));
    let claimed = state
        .services
        .meetings
        .claim_ticket(
            c.user_id,
            &c.roles,
            MeetingTicketId::from_uuid(id),
            Participant { name, phone },
            &meta,
        )
        .await;
    let pos = match claimed {
        Ok((_, pos)) => pos,
        Err(MeetingServiceError::Ticket(TicketError::NotBuyer)) => {
            // The participant may see the ticket (403); to anyone else it does not exist (404).
            return match visible_ticket(&state, &c, id, None).await {
                Ok(_) => Err(MtError::Forbidden("只有购票人可以指定参会人".into())),
                Err(e) => Err(e),
            };
        }
        Err(e) => return Err(e.into()),
    };
    let read = state.services.meeting_queries.ticket(id);
    match read_after_write(&state, pos, read).await {
        Some(row) => Ok(Json(TicketView::from_row(row)).into_response()),
        None => Ok(pending(id)),
    }
}
