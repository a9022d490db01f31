//! Seed 000 §8: `GET /tickets`, `GET /tickets/:id`, `PATCH /tickets/:id` with `participant`.
//!
//! A ticket can be read by its buyer and by its participant (matched by the caller's phone); any
//! signed-in user who has the ticket's id may claim it (the buyer shares the link), once.

use super::error::{MtCaller, MtError, MtJson};
use super::meetings::path_id;
use crate::http::RequestId;
use crate::http::read_your_writes;
use crate::startup::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use tessera_application::meeting::Caller;
use tessera_domain::identity::Phone;
use tessera_domain::identity::Role;
use tessera_domain::meeting::MeetingTicketId;
use tessera_domain::meeting::ticket::Participant;
use uuid::Uuid;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tickets", get(list))
        .route("/tickets/{id}", get(detail).patch(claim))
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
async fn list(State(state): State<AppState>, c: MtCaller) -> Result<Response, MtError> {
    let phone = phone_of(&state, &c).await?;
    let tickets = state
        .services
        .meeting_queries
        .tickets_of(c.user_id.as_uuid(), phone.as_deref())
        .await?;
    Ok(Json(tickets).into_response())
}

async fn visible_ticket(
    state: &AppState,
    c: &MtCaller,
    id: Uuid,
    position: Option<u64>,
) -> Result<Response, MtError> {
    read_your_writes(state, position).await;
    let ticket = state.services.meeting_queries.ticket(id).await?;
    let phone = phone_of(state, c).await?;
    match ticket {
        Some(t)
            if t.owner_id == c.user_id.as_uuid()
                || c.has(Role::Admin)
                || (phone.is_some()
                    && t.participant.as_ref().map(|p| p.phone.as_str()) == phone.as_deref()) =>
        {
            Ok(Json(t).into_response())
        }
        _ => Err(MtError::NotFound(format!("ticket {id} not found"))),
    }
}

/// §8.1: 200 ticket `{id, orderId, meetingId, ticketGradeId, ticketGradeName, ownerId,
/// participant, issuedAt, claimedAt}`; 404 for an unknown ticket or one the caller neither bought
/// nor attends.
async fn detail(
    State(state): State<AppState>,
    c: MtCaller,
    Path(id): Path<String>,
) -> Result<Response, MtError> {
    let id = path_id("ticket", &id)?;
    visible_ticket(&state, &c, id, None).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParticipantBody {
    name: String,
    phone: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimBody {
    participant: ParticipantBody,
}

/// §8.2: `{participant: {name, phone}}` → 200 ticket; 410 'Already Taken' when someone else
/// already attends on it; 409 'One for One' when that person already attends the meeting on
/// another ticket; 400 naming `participant.name` / `participant.phone`; 404.
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
    let caller = Caller {
        user_id: c.user_id,
        admin: c.has(Role::Admin),
        wechat_id: None,
    };
    let meta = rid.metadata(Some(c.user_id.to_string()));
    let (_, pos) = state
        .services
        .meetings
        .claim_ticket(
            &caller,
            MeetingTicketId::from_uuid(id),
            Participant { name, phone },
            &meta,
        )
        .await?;
    read_your_writes(&state, pos).await;
    let ticket = state
        .services
        .meeting_queries
        .ticket(id)
        .await?
        .ok_or_else(|| MtError::NotFound(format!("ticket {id} not found")))?;
    Ok(Json(ticket).into_response())
}
