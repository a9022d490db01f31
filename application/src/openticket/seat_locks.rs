//! Seat locks (seed 003 §5.2–5.3): lock seats of a session for a while (all or none, with a
//! durable expiry deadline), release one's own locks, and the lock-expiry deadline handler. The
//! seat-list checks here also serve placing an order.

use super::OpenTicketService;
use super::deadlines::{deadline_meta, payload_id};
use super::error::{OpenTicketError, Resource, SeatRequestError, seat_refusal};
use crate::command::CommandRunner;
use crate::deadlines::{Deadline, DeadlineHandler, NewDeadline};
use crate::event_store::EventMetadata;
use crate::process::HandlerError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::sync::Arc;
use tessera_domain::UserId;
use tessera_domain::openticket::seat_session::{
    OpenedSession, SeatSession, SeatSessionCommand, SeatSessionEvent,
};
use tessera_domain::openticket::venue::VenueData;
use tessera_domain::openticket::{LockId, SeatId, SessionId};
use uuid::Uuid;

/// Deadline kind: a seat lock's TTL passed. Payload `{"sessionId", "lockId"}` (UUID strings).
pub const LOCK_EXPIRY: &str = "openticket.lock-expiry";

/// A granted lock (seed 003 §5.2).
#[derive(Debug, Clone)]
pub struct LockResult {
    /// The new lock's id (UUID v7); its expiry deadline and its release events name it.
    pub lock_id: LockId,
    /// Seats locked, in request order.
    pub seat_ids: Vec<SeatId>,
    /// When the lock lapses (UTC).
    pub expires_at: DateTime<Utc>,
    /// The lock's TTL in seconds.
    pub ttl_seconds: i64,
    /// The global position of the append.
    pub position: Option<u64>,
}

impl OpenTicketService {
    /// Check a seat list as sent, before anything is read: not empty, at most
    /// `max_seats_per_lock`, no repeats.
    pub(super) fn check_count(&self, raw: &[String]) -> Result<(), OpenTicketError> {
        if raw.is_empty() {
            return Err(SeatRequestError::NoSeats.into());
        }
        let max = self.settings.max_seats_per_lock;
        if raw.len() > max {
            return Err(SeatRequestError::TooMany { max }.into());
        }
        let mut seen = HashSet::new();
        for (index, s) in raw.iter().enumerate() {
            if !seen.insert(s) {
                return Err(SeatRequestError::Repeated {
                    index,
                    seat: s.clone(),
                }
                .into());
            }
        }
        Ok(())
    }

    /// What opened the seat session; [`Resource::Session`] when it was never opened.
    ///
    /// Read from the service's memory after the first time: what opened a session never changes,
    /// and loading the session's stream for it cost every lock a read of the whole history
    /// (issue 15). The seats themselves are decided by the command runner's cached state.
    pub(super) async fn open_session(
        &self,
        session_id: SessionId,
    ) -> Result<OpenedSession, OpenTicketError> {
        if let Some(opened) = self.sessions.get(&session_id) {
            return Ok(opened);
        }
        let stream = CommandRunner::stream::<SeatSession>(session_id)?;
        let (session, _) = self.runner.load::<SeatSession>(&stream).await?;
        let opened = session
            .opened
            .ok_or(OpenTicketError::NotFound(Resource::Session(session_id)))?;
        self.sessions.insert(session_id, opened);
        Ok(opened)
    }

    /// Parse seat ids against the session's venue: a malformed or unknown seat is a
    /// [`SeatRequestError`] naming its place in the list.
    pub(super) async fn venue_seats(
        &self,
        opened: &OpenedSession,
        raw: &[String],
    ) -> Result<(Arc<VenueData>, Vec<SeatId>), OpenTicketError> {
        let venue = self.venue(opened.venue_id).await?;
        let mut seats = Vec::with_capacity(raw.len());
        for (index, s) in raw.iter().enumerate() {
            let seat =
                SeatId::parse(s).map_err(|reason| SeatRequestError::Malformed { index, reason })?;
            if venue.seat(&seat).is_none() {
                return Err(SeatRequestError::UnknownSeat {
                    index,
                    seat: s.clone(),
                }
                .into());
            }
            seats.push(seat);
        }
        Ok((venue, seats))
    }

    /// `POST /sessions/{id}/seats/lock` (§5.2): all seats or none, with a durable expiry deadline
    /// ([`LOCK_EXPIRY`]) stored in the same append. Seats someone holds are
    /// [`OpenTicketError::SeatsUnavailable`] naming each seat and why.
    pub async fn lock_seats(
        &self,
        user: UserId,
        session_id: SessionId,
        raw_seats: &[String],
        meta: &EventMetadata,
    ) -> Result<LockResult, OpenTicketError> {
        self.check_count(raw_seats)?;
        let opened = self.open_session(session_id).await?;
        let (venue, seat_ids) = self.venue_seats(&opened, raw_seats).await?;
        let event = self.event(opened.event_id).await?;
        let not_for_sale = seat_ids
            .iter()
            .filter(|seat| {
                venue
                    .seat(seat)
                    .is_none_or(|(area, _)| event.category_for_area(&area.area_id).is_none())
            })
            .cloned()
            .collect();
        let now = self.clock.now();
        let expires_at = now + self.settings.lock_ttl;
        let lock_id = LockId::from_uuid(Uuid::new_v4());
        let command = SeatSessionCommand::Lock {
            lock_id,
            user_id: user,
            seat_ids: seat_ids.clone(),
            max_seats: self.settings.max_seats_per_lock,
            now,
            expires_at,
            not_for_sale,
        };
        let deadline = NewDeadline {
            deadline_id: Uuid::now_v7(),
            kind: LOCK_EXPIRY.into(),
            due_at: expires_at,
            payload: serde_json::json!({ "sessionId": session_id, "lockId": lock_id }),
        };
        let decided = self
            .runner
            .apply::<SeatSession>(
                &CommandRunner::stream::<SeatSession>(session_id)?,
                &command,
                meta,
                vec![deadline],
            )
            .await
            .map_err(|e| e.map_rejected(|e| seat_refusal(session_id, e)))?;
        Ok(LockResult {
            lock_id,
            seat_ids,
            expires_at,
            ttl_seconds: self.settings.lock_ttl.num_seconds(),
            position: decided.position(),
        })
    }

    /// `DELETE /sessions/{id}/seats/lock` (§5.3): the seats released and the position of the
    /// append. Only the caller's live locks are released; other seats are ignored.
    pub async fn release_seats(
        &self,
        user: UserId,
        session_id: SessionId,
        raw_seats: &[String],
        meta: &EventMetadata,
    ) -> Result<(Vec<SeatId>, Option<u64>), OpenTicketError> {
        self.check_count(raw_seats)?;
        let opened = self.open_session(session_id).await?;
        let (_, seat_ids) = self.venue_seats(&opened, raw_seats).await?;
        let command = SeatSessionCommand::Release {
            user_id: user,
            seat_ids,
            now: self.clock.now(),
        };
        let decided = self
            .runner
            .apply::<SeatSession>(
                &CommandRunner::stream::<SeatSession>(session_id)?,
                &command,
                meta,
                Vec::new(),
            )
            .await
            .map_err(|e| e.map_rejected(|e| seat_refusal(session_id, e)))?;
        let released = decided
            .events
            .iter()
            .flat_map(|e| match e {
                SeatSessionEvent::SeatsReleased { seat_ids, .. } => seat_ids.clone(),
                _ => Vec::new(),
            })
            .collect();
        Ok((released, decided.position()))
    }

    /// The lock-expiry deadline: release the lock's seats still under it (nothing when they were
    /// released, ordered or relocked since).
    pub async fn expire_lock(
        &self,
        session_id: SessionId,
        lock_id: LockId,
    ) -> Result<(), OpenTicketError> {
        let command = SeatSessionCommand::ExpireLock {
            lock_id,
            now: self.clock.now(),
        };
        self.runner
            .apply::<SeatSession>(
                &CommandRunner::stream::<SeatSession>(session_id)?,
                &command,
                &deadline_meta(),
                Vec::new(),
            )
            .await
            .map_err(|e| e.map_rejected(|e| seat_refusal(session_id, e)))?;
        Ok(())
    }
}

/// Fires [`LOCK_EXPIRY`] deadlines through [`OpenTicketService::expire_lock`].
pub struct LockExpiry(pub Arc<OpenTicketService>);

#[async_trait]
impl DeadlineHandler for LockExpiry {
    async fn fire(&self, deadline: &Deadline) -> Result<(), HandlerError> {
        let session: SessionId = payload_id(deadline, "sessionId")?;
        let lock: LockId = payload_id(deadline, "lockId")?;
        Ok(self.0.expire_lock(session, lock).await?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::deadlines::DeadlineStore;
    use crate::openticket::testing::{World, meta, now, raw, seat, user};
    use chrono::Duration;
    use tessera_domain::openticket::seat_session::{
        ReleaseReason, UnavailableReason, UnavailableSeat,
    };

    #[tokio::test]
    async fn given_a_seat_locked_by_one_user_when_another_locks_it_then_the_second_is_refused_naming_the_seat()
     {
        let world = World::new();
        let (ada, bob) = (user(1), user(2));
        world
            .service
            .lock_seats(ada, world.session_id, &raw(&["A-001", "A-002"]), &meta())
            .await
            .unwrap();

        let refused = world
            .service
            .lock_seats(bob, world.session_id, &raw(&["A-003", "A-002"]), &meta())
            .await;

        match refused {
            Err(OpenTicketError::SeatsUnavailable(seats)) => assert_eq!(
                seats,
                vec![UnavailableSeat {
                    seat_id: seat("A-002"),
                    reason: UnavailableReason::LockedByAnotherUser,
                }]
            ),
            other => panic!("expected SeatsUnavailable naming A-002, got {other:?}"),
        }
        // All or none: Bob locked nothing, not even the free A-003.
        let locks: Vec<_> = world
            .seat_events()
            .into_iter()
            .filter_map(|e| match e {
                SeatSessionEvent::SeatsLocked {
                    user_id, seat_ids, ..
                } => Some((user_id, seat_ids)),
                _ => None,
            })
            .collect();
        assert_eq!(locks, vec![(ada, vec![seat("A-001"), seat("A-002")])]);
    }

    #[tokio::test]
    async fn given_a_lock_past_its_ttl_when_its_deadline_fires_then_its_seats_are_released() {
        let world = World::new();
        let lock = world
            .service
            .lock_seats(user(1), world.session_id, &raw(&["A-001"]), &meta())
            .await
            .unwrap();
        assert_eq!(lock.expires_at, now() + Duration::seconds(120));
        assert_eq!(world.store.pending_count().await.unwrap(), 1);

        world.clock.advance(Duration::seconds(120));
        let due = world
            .store
            .due_deadlines(lock.expires_at, 10)
            .await
            .unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].kind, LOCK_EXPIRY);
        LockExpiry(world.service.clone())
            .fire(&due[0])
            .await
            .unwrap();

        assert!(matches!(
            world.seat_events().last(),
            Some(SeatSessionEvent::SeatsReleased {
                seat_ids,
                lock_id: Some(id),
                reason: ReleaseReason::LockExpired,
                ..
            }) if *seat_ids == vec![seat("A-001")] && *id == lock.lock_id
        ));
    }

    #[tokio::test]
    async fn a_seat_listed_twice_is_refused_naming_its_place_before_anything_is_read() {
        let world = World::new();
        let refused = world
            .service
            .lock_seats(
                user(1),
                world.session_id,
                &raw(&["A-001", "A-001"]),
                &meta(),
            )
            .await;
        assert!(matches!(
            refused,
            Err(OpenTicketError::SeatRequest(SeatRequestError::Repeated { index: 1, ref seat }))
                if seat == "A-001"
        ));
        assert!(world.seat_events().is_empty());
    }
}
