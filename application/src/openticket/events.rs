//! Events (seed 003 §4): create an event with its sessions and price categories and, in the same
//! atomic commit, open each session's seat stream (`seatSession-{sessionId}`) so seats can be
//! locked in its sale window.

use super::OpenTicketService;
use super::error::{OpenTicketError, Resource, seat_refusal};
use crate::command::CommandRunner;
use crate::event_store::EventMetadata;
use chrono::{DateTime, FixedOffset, Utc};
use std::sync::Arc;
use tessera_domain::UserId;
use tessera_domain::openticket::event::{
    CreateEvent, Event, EventData, EventError, PriceCategory, SessionSpec,
};
use tessera_domain::openticket::seat_session::{SeatSession, SeatSessionCommand};
use tessera_domain::openticket::{EventId, SessionId, VenueId};
use uuid::Uuid;

/// A session as an organizer sends it; times keep the offset they were sent with.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Show start.
    pub start_time: DateTime<FixedOffset>,
    /// Show end.
    pub end_time: DateTime<FixedOffset>,
    /// Sales open.
    pub sale_start_time: DateTime<FixedOffset>,
    /// Sales close.
    pub sale_end_time: DateTime<FixedOffset>,
}

/// An event as an organizer sends it (seed 003 §4.3), ids and prices already parsed.
#[derive(Debug, Clone)]
pub struct EventInput {
    /// 1–200 characters.
    pub name: String,
    /// Up to 5,000 characters.
    pub description: Option<String>,
    /// The venue; an unknown one is [`OpenTicketError::UnknownVenue`].
    pub venue_id: VenueId,
    /// 1–100 sessions.
    pub sessions: Vec<NewSession>,
    /// 1–50 categories in one currency, each naming areas of the venue.
    pub price_categories: Vec<PriceCategory>,
}

/// A created event with its sessions.
#[derive(Debug, Clone)]
pub struct CreatedEvent {
    /// The event as stored.
    pub event: Arc<EventData>,
    /// The highest global position of the commit (the last session opened).
    pub position: Option<u64>,
}

impl OpenTicketService {
    /// An event; [`Resource::Event`] when there is none. Read from the event's stream once per
    /// process, then from memory: an event never changes after `OpenTicketEventCreated`.
    pub async fn event(&self, event_id: EventId) -> Result<Arc<EventData>, OpenTicketError> {
        if let Some(event) = self.events.get(&event_id) {
            return Ok(event);
        }
        let stream = CommandRunner::stream::<Event>(event_id)?;
        let (event, _) = self.runner.load::<Event>(&stream).await?;
        let event = event
            .0
            .ok_or(OpenTicketError::NotFound(Resource::Event(event_id)))?;
        self.events.insert(event_id, event.clone());
        Ok(event)
    }

    /// `POST /events` (§4.3): the event and each session's seat stream, in one atomic commit.
    pub async fn create_event(
        &self,
        organizer: UserId,
        input: EventInput,
        meta: &EventMetadata,
    ) -> Result<CreatedEvent, OpenTicketError> {
        let EventInput {
            name,
            description,
            venue_id,
            sessions,
            price_categories,
        } = input;
        let venue = self.venue(venue_id).await.map_err(|e| match e {
            OpenTicketError::NotFound(Resource::Venue(id)) => OpenTicketError::UnknownVenue(id),
            e => e,
        })?;
        let event_id = EventId::from_uuid(Uuid::now_v7());
        let sessions: Vec<SessionSpec> = sessions
            .into_iter()
            .map(|s| SessionSpec {
                session_id: SessionId::from_uuid(Uuid::now_v7()),
                start_time: s.start_time,
                end_time: s.end_time,
                sale_start_time: s.sale_start_time,
                sale_end_time: s.sale_end_time,
            })
            .collect();
        let now = self.clock.now();
        let command = CreateEvent {
            event_id,
            organizer_id: organizer,
            name,
            description,
            venue_id,
            venue_name: venue.name.clone(),
            venue_area_ids: venue.area_ids(),
            sessions: sessions.clone(),
            price_categories,
            now,
        };
        // The event and every session's seat stream commit together (up to 101 streams), so a
        // crash never leaves an event whose sessions cannot sell.
        let mut atomic = self.runner.atomic(meta);
        let event = atomic.stream::<Event>(&CommandRunner::stream::<Event>(event_id)?);
        let mut seat_streams = Vec::with_capacity(sessions.len());
        for s in &sessions {
            let open = SeatSessionCommand::Open {
                session_id: s.session_id,
                event_id,
                venue_id,
                sale_start_time: s.sale_start_time.with_timezone(&Utc),
                sale_end_time: s.sale_end_time.with_timezone(&Utc),
                now,
            };
            let stream = CommandRunner::stream::<SeatSession>(s.session_id)?;
            seat_streams.push((s.session_id, atomic.stream::<SeatSession>(&stream), open));
        }
        let committed = atomic
            .run(|d| {
                d.decide(event, &command).map_err(|e| {
                    e.map_rejected(|e| match e {
                        EventError::Invalid(f) => f.into(),
                        other => OpenTicketError::Event(other),
                    })
                })?;
                for (session_id, seats, open) in &seat_streams {
                    d.decide(*seats, open)
                        .map_err(|e| e.map_rejected(|e| seat_refusal(*session_id, e)))?;
                }
                d.state(event)?
                    .0
                    .clone()
                    .ok_or(OpenTicketError::Inconsistent("event not created"))
            })
            .await?;
        Ok(CreatedEvent {
            position: committed.position(),
            event: committed.value,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::openticket::testing::{World, meta, now, stream, twd, user};
    use chrono::Duration;
    use tessera_domain::openticket::seat_session::SeatSessionEvent;
    use tessera_domain::openticket::{AreaId, CategoryId};

    fn input(venue_id: VenueId, sessions: usize) -> EventInput {
        let offset = FixedOffset::east_opt(8 * 3600).unwrap();
        let at = |days: i64| (now() + Duration::days(days)).with_timezone(&offset);
        EventInput {
            name: "五月天演唱會".into(),
            description: None,
            venue_id,
            sessions: (0..sessions as i64)
                .map(|i| NewSession {
                    start_time: at(30 + i),
                    end_time: at(31 + i),
                    sale_start_time: at(1),
                    sale_end_time: at(29 + i),
                })
                .collect(),
            price_categories: vec![PriceCategory {
                category_id: CategoryId::parse("VIP").unwrap(),
                name: "VIP".into(),
                area_ids: vec![AreaId::parse("A").unwrap()],
                price: twd(2800),
            }],
        }
    }

    #[tokio::test]
    async fn creating_an_event_opens_a_seat_stream_per_session() {
        let world = World::new();
        let created = world
            .service
            .create_event(user(9), input(world.venue_id, 2), &meta())
            .await
            .unwrap();

        assert_eq!(created.event.sessions.len(), 2);
        for s in &created.event.sessions {
            let events = world
                .store
                .events::<SeatSession>(&stream::<SeatSession>(s.session_id));
            assert!(matches!(
                events.as_slice(),
                [SeatSessionEvent::SessionOpened { event_id, .. }] if *event_id == created.event.event_id
            ));
        }
    }

    #[tokio::test]
    async fn an_event_at_an_unknown_venue_is_refused_as_bad_input() {
        let world = World::new();
        let nowhere = VenueId::from_uuid(Uuid::from_u128(0xdead));
        let before = world.store.all_events().len();

        let refused = world
            .service
            .create_event(user(9), input(nowhere, 1), &meta())
            .await;

        assert!(matches!(refused, Err(OpenTicketError::UnknownVenue(id)) if id == nowhere));
        assert_eq!(world.store.all_events().len(), before);
    }
}
