//! An event store and deadline store held in memory, for given/when/then tests of application
//! services: seed a history with [`InMemoryEventStore::given`], run a service against it, and read
//! what it appended with [`InMemoryEventStore::events`].
//!
//! It keeps the port's contract where tests can observe it (expected versions, idempotent
//! re-append by event id, positions from 1 in append order, deadlines stored with the append) but
//! writes no hash chain (`prev_hash` and `hash` are empty: auditing is tested against the SQL
//! stores) and keeps nothing across a restart. `wait_for_append` has no timer (this crate has no
//! runtime): it returns when an event after `after` exists, waiting for the next append otherwise;
//! drop the future to stop waiting.

use crate::deadlines::{Deadline, DeadlineStore};
use crate::event_store::{
    AppendOutcome, AppendRequest, EventMetadata, EventStore, ExpectedVersion, NewEvent,
    RecordedEvent, StoreError, StoredId, StreamId, deduplicate, validate_requests,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tessera_domain::{Decider, DomainEvent};
use uuid::Uuid;

#[derive(Default)]
struct Inner {
    log: Vec<RecordedEvent>,
    /// Stream → indexes into `log`, in version order.
    streams: HashMap<StreamId, Vec<usize>>,
    /// Event id → index into `log`.
    ids: HashMap<Uuid, usize>,
    /// Deadlines with when they may fire next and whether they fired.
    deadlines: Vec<StoredDeadline>,
}

struct StoredDeadline {
    deadline: Deadline,
    not_before: DateTime<Utc>,
    fired: bool,
}

/// The in-memory store. Cheap to create; share it as an `Arc` like the SQL stores.
pub struct InMemoryEventStore {
    inner: Mutex<Inner>,
    appended: tokio::sync::Notify,
    instance: Uuid,
}

impl Default for InMemoryEventStore {
    fn default() -> Self {
        Self {
            inner: Mutex::default(),
            appended: tokio::sync::Notify::new(),
            instance: Uuid::new_v4(),
        }
    }
}

impl std::fmt::Debug for InMemoryEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryEventStore")
            .field("events", &self.lock().log.len())
            .finish()
    }
}

impl InMemoryEventStore {
    /// An empty store: no streams, and the global log's first position will be 1.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Given: append `events` of aggregate `D` to `stream_id` (any expected version), as history a
    /// test starts from.
    pub fn given<D: Decider>(
        &self,
        stream_id: &StreamId,
        events: &[D::Event],
    ) -> Result<AppendOutcome, StoreError> {
        let mut new_events = Vec::with_capacity(events.len());
        for event in events {
            let (event_type, data) = event
                .to_stored()
                .map_err(|e| StoreError::InvalidRequest(e.to_string()))?;
            new_events.push(NewEvent {
                event_id: Uuid::now_v7(),
                schema_version: D::Event::schema_version(&event_type),
                event_type,
                data,
                metadata: EventMetadata::default(),
            });
        }
        self.append_now(AppendRequest::new(
            stream_id.clone(),
            ExpectedVersion::Any,
            new_events,
        ))
    }

    /// Then: every event stored in `stream_id`, decoded as aggregate `D`'s events, in version order.
    pub fn events<D: Decider>(&self, stream_id: &StreamId) -> Vec<D::Event> {
        let inner = self.lock();
        inner
            .streams
            .get(stream_id)
            .into_iter()
            .flatten()
            .filter_map(|&i| {
                let r = &inner.log[i];
                D::Event::from_stored(&r.event_type, &r.data).ok()
            })
            .collect()
    }

    /// Every stored event in log order (types and streams, for assertions across aggregates).
    pub fn all_events(&self) -> Vec<RecordedEvent> {
        self.lock().log.clone()
    }

    fn append_now(&self, request: AppendRequest) -> Result<AppendOutcome, StoreError> {
        let mut outcomes = self.append_streams_now(vec![request])?;
        outcomes
            .pop()
            .ok_or_else(|| StoreError::Unavailable("no outcome".into()))
    }

    /// The whole commit under one lock: check everything first, then write, so a refusal leaves
    /// no trace.
    fn append_streams_now(
        &self,
        requests: Vec<AppendRequest>,
    ) -> Result<Vec<AppendOutcome>, StoreError> {
        validate_requests(&requests)?;
        let mut inner = self.lock();
        let found: Vec<StoredId> = requests
            .iter()
            .flat_map(|r| &r.events)
            .filter_map(|e| inner.ids.get(&e.event_id))
            .map(|&i| {
                let r = &inner.log[i];
                (
                    r.event_id,
                    r.stream_id.clone(),
                    r.stream_version,
                    r.global_position,
                )
            })
            .collect();
        if let Some(outcomes) = deduplicate(&requests, &found)? {
            return Ok(outcomes);
        }
        let mut versions = Vec::with_capacity(requests.len());
        for request in &requests {
            let actual = inner.streams.get(&request.stream_id).map_or(0, Vec::len) as u64;
            if !request.expected_version.accepts(actual) {
                return Err(StoreError::VersionConflict {
                    stream: request.stream_id.clone(),
                    expected: request.expected_version,
                    actual,
                });
            }
            versions.push(actual);
        }
        let now = Utc::now();
        let mut outcomes = Vec::with_capacity(requests.len());
        for (request, mut version) in requests.into_iter().zip(versions) {
            let mut positions = Vec::with_capacity(request.events.len());
            for event in request.events {
                version += 1;
                let index = inner.log.len();
                let position = index as u64 + 1;
                inner.ids.insert(event.event_id, index);
                inner
                    .streams
                    .entry(request.stream_id.clone())
                    .or_default()
                    .push(index);
                inner.log.push(RecordedEvent {
                    global_position: position,
                    stream_id: request.stream_id.clone(),
                    stream_version: version,
                    event_id: event.event_id,
                    event_type: event.event_type,
                    schema_version: event.schema_version,
                    data: event.data,
                    metadata: event.metadata,
                    recorded_at: now,
                    prev_hash: String::new(),
                    hash: String::new(),
                });
                positions.push(position);
            }
            for d in request.deadlines {
                if inner
                    .deadlines
                    .iter()
                    .any(|s| s.deadline.deadline_id == d.deadline_id)
                {
                    continue;
                }
                inner.deadlines.push(StoredDeadline {
                    not_before: d.due_at,
                    deadline: Deadline {
                        deadline_id: d.deadline_id,
                        stream_id: request.stream_id.clone(),
                        kind: d.kind,
                        due_at: d.due_at,
                        payload: d.payload,
                        attempts: 0,
                    },
                    fired: false,
                });
            }
            outcomes.push(AppendOutcome {
                stream_version: version,
                positions,
                deduplicated: false,
            });
        }
        drop(inner);
        self.appended.notify_waiters();
        Ok(outcomes)
    }
}

#[async_trait]
impl EventStore for InMemoryEventStore {
    async fn append_streams(
        &self,
        requests: Vec<AppendRequest>,
    ) -> Result<Vec<AppendOutcome>, StoreError> {
        self.append_streams_now(requests)
    }

    async fn read_stream(
        &self,
        stream_id: &StreamId,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let inner = self.lock();
        let indexes = inner
            .streams
            .get(stream_id)
            .ok_or_else(|| StoreError::StreamNotFound(stream_id.clone()))?;
        Ok(indexes
            .iter()
            .map(|&i| &inner.log[i])
            .filter(|e| e.stream_version >= from_version)
            .take(max_count)
            .cloned()
            .collect())
    }

    async fn read_all(
        &self,
        after: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let inner = self.lock();
        let start = usize::try_from(after).unwrap_or(usize::MAX);
        Ok(inner
            .log
            .iter()
            .skip(start)
            .take(max_count)
            .cloned()
            .collect())
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        Ok(self.lock().log.len() as u64)
    }

    async fn stream_version(&self, stream_id: &StreamId) -> Result<u64, StoreError> {
        Ok(self.lock().streams.get(stream_id).map_or(0, Vec::len) as u64)
    }

    async fn wait_for_append(&self, after: u64, _max_wait: Duration) -> Result<(), StoreError> {
        let notified = self.appended.notified();
        if self.lock().log.len() as u64 > after {
            return Ok(());
        }
        notified.await;
        Ok(())
    }

    fn instance_id(&self) -> Option<Uuid> {
        Some(self.instance)
    }
}

#[async_trait]
impl DeadlineStore for InMemoryEventStore {
    async fn due_deadlines(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Deadline>, StoreError> {
        let inner = self.lock();
        let mut due: Vec<Deadline> = inner
            .deadlines
            .iter()
            .filter(|s| !s.fired && s.not_before <= now)
            .map(|s| s.deadline.clone())
            .collect();
        due.sort_by_key(|d| d.due_at);
        due.truncate(limit);
        Ok(due)
    }

    async fn mark_fired(
        &self,
        deadline_id: Uuid,
        _fired_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if let Some(s) = self
            .lock()
            .deadlines
            .iter_mut()
            .find(|s| s.deadline.deadline_id == deadline_id)
        {
            s.fired = true;
        }
        Ok(())
    }

    async fn mark_failed(
        &self,
        deadline_id: Uuid,
        _error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if let Some(s) = self
            .lock()
            .deadlines
            .iter_mut()
            .find(|s| s.deadline.deadline_id == deadline_id)
        {
            s.deadline.attempts += 1;
            s.not_before = retry_at;
        }
        Ok(())
    }

    async fn pending_count(&self) -> Result<u64, StoreError> {
        Ok(self.lock().deadlines.iter().filter(|s| !s.fired).count() as u64)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::command::{CommandError, CommandRunner};
    use std::sync::Arc;
    use tessera_domain::UserId;
    use tessera_domain::identity::{
        ClaimEmail, Email, EmailClaim, EmailClaimError, EmailClaimEvent, email_stream_id,
    };

    fn claim(email: &Email, user: u128) -> ClaimEmail {
        ClaimEmail {
            email: email.clone(),
            user_id: UserId::from_uuid(Uuid::from_u128(user)),
            now: Utc::now(),
        }
    }

    #[tokio::test]
    async fn given_a_claimed_address_when_another_user_claims_it_then_it_is_refused() {
        let store = Arc::new(InMemoryEventStore::new());
        let runner = CommandRunner::new(store.clone());
        let email = Email::parse("ada@example.com").unwrap();
        let stream = StreamId::parse(email_stream_id(&email)).unwrap();
        let first = claim(&email, 1);
        let runner_first = runner
            .run::<EmailClaim>(&stream, &first, &EventMetadata::default())
            .await
            .unwrap();
        assert_eq!(runner_first.events.len(), 1);
        assert_eq!(runner_first.position(), Some(1));

        let second = runner
            .run::<EmailClaim>(&stream, &claim(&email, 2), &EventMetadata::default())
            .await;
        assert!(matches!(
            second,
            Err(CommandError::Rejected(EmailClaimError::EmailTaken))
        ));
        let events = store.events::<EmailClaim>(&stream);
        assert_eq!(events.len(), 1);
        assert!(matches!(
            &events[0],
            EmailClaimEvent::EmailClaimed { user_id, .. } if *user_id == first.user_id
        ));
    }

    #[tokio::test]
    async fn appends_check_the_expected_version_and_deduplicate_by_event_id() {
        let store = InMemoryEventStore::new();
        let stream = StreamId::parse("counter-1").unwrap();
        let event = |id: u128| NewEvent {
            event_id: Uuid::from_u128(id),
            event_type: "Incremented".into(),
            schema_version: 1,
            data: serde_json::json!({}),
            metadata: EventMetadata::default(),
        };
        let first = store
            .append(AppendRequest::new(
                stream.clone(),
                ExpectedVersion::NoStream,
                vec![event(1)],
            ))
            .await
            .unwrap();
        let again = store
            .append(AppendRequest::new(
                stream.clone(),
                ExpectedVersion::NoStream,
                vec![event(1)],
            ))
            .await
            .unwrap();
        assert!(again.deduplicated);
        assert_eq!(again.positions, first.positions);
        let stale = store
            .append(AppendRequest::new(
                stream.clone(),
                ExpectedVersion::Exact(0),
                vec![event(2)],
            ))
            .await;
        assert!(matches!(
            stale,
            Err(StoreError::VersionConflict { actual: 1, .. })
        ));
        assert_eq!(store.head_position().await.unwrap(), 1);
    }

    mod atomic {
        #![allow(clippy::unwrap_used, clippy::expect_used)]

        use super::*;
        use crate::command::{CommandError, CommandRunner, EngineError};
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tessera_domain::shared::claim::{
            ClaimCommand, ClaimError, ClaimEvent, ClaimKind, IdentifierClaim,
        };

        #[derive(Debug, thiserror::Error)]
        enum TestError {
            #[error("taken")]
            Taken,
            #[error(transparent)]
            Engine(#[from] EngineError),
        }

        fn claim(value: &str, owner: u128) -> ClaimCommand {
            ClaimCommand::Claim {
                kind: ClaimKind::Phone,
                value: value.into(),
                owner: Uuid::from_u128(owner),
                now: Utc::now(),
            }
        }

        fn claimed(value: &str, owner: u128) -> ClaimEvent {
            ClaimEvent::IdentifierClaimed {
                kind: ClaimKind::Phone,
                value: value.into(),
                owner: Uuid::from_u128(owner),
                claimed_at: Utc::now(),
            }
        }

        fn event(n: u128) -> NewEvent {
            NewEvent {
                event_id: Uuid::from_u128(n),
                event_type: "Noted".into(),
                schema_version: 1,
                data: serde_json::json!({}),
                metadata: EventMetadata::default(),
            }
        }

        #[tokio::test]
        async fn a_commit_to_several_streams_lands_whole_or_not_at_all() {
            let store = InMemoryEventStore::new();
            let (a, b) = (
                StreamId::parse("a-1").unwrap(),
                StreamId::parse("b-1").unwrap(),
            );
            let out = store
                .append_streams(vec![
                    AppendRequest::new(a.clone(), ExpectedVersion::NoStream, vec![event(1)]),
                    AppendRequest::new(b.clone(), ExpectedVersion::NoStream, vec![event(2)]),
                ])
                .await
                .unwrap();
            assert_eq!(
                (out[0].positions.clone(), out[1].positions.clone()),
                (vec![1], vec![2])
            );
            let conflict = store
                .append_streams(vec![
                    AppendRequest::new(a.clone(), ExpectedVersion::Exact(1), vec![event(3)]),
                    AppendRequest::new(b.clone(), ExpectedVersion::NoStream, vec![event(4)]),
                ])
                .await;
            assert!(matches!(
                conflict,
                Err(StoreError::VersionConflict { ref stream, actual: 1, .. }) if *stream == b
            ));
            assert_eq!(store.head_position().await.unwrap(), 2, "nothing written");
            let retry = store
                .append_streams(vec![
                    AppendRequest::new(a.clone(), ExpectedVersion::NoStream, vec![event(1)]),
                    AppendRequest::new(b.clone(), ExpectedVersion::NoStream, vec![event(2)]),
                ])
                .await
                .unwrap();
            assert!(retry.iter().all(|o| o.deduplicated));
            let partial = store
                .append_streams(vec![
                    AppendRequest::new(a.clone(), ExpectedVersion::Any, vec![event(1)]),
                    AppendRequest::new(b.clone(), ExpectedVersion::Any, vec![event(5)]),
                ])
                .await;
            assert!(matches!(partial, Err(StoreError::DuplicateEventId { .. })));
            let twice = store
                .append_streams(vec![
                    AppendRequest::new(a.clone(), ExpectedVersion::Any, vec![event(6)]),
                    AppendRequest::new(a.clone(), ExpectedVersion::Any, vec![event(7)]),
                ])
                .await;
            assert!(matches!(twice, Err(StoreError::InvalidRequest(_))));
            assert_eq!(store.head_position().await.unwrap(), 2);
        }

        #[tokio::test]
        async fn an_atomic_command_commits_every_aggregate_it_changed_in_one_append() {
            let store = Arc::new(InMemoryEventStore::new());
            let runner = CommandRunner::new(store.clone());
            let (a, b) = (
                StreamId::parse("claim-a").unwrap(),
                StreamId::parse("claim-b").unwrap(),
            );
            let mut atomic = runner.atomic(&EventMetadata::default());
            let ha = atomic.stream::<IdentifierClaim>(&a);
            let hb = atomic.stream::<IdentifierClaim>(&b);
            assert_eq!(atomic.stream::<IdentifierClaim>(&a).index(), ha.index());
            let committed = atomic
                .run(|d| {
                    d.decide(ha, &claim("a", 1))
                        .map_err(|e| e.map_rejected(|_| TestError::Taken))?;
                    d.decide(hb, &claim("b", 1))
                        .map_err(|e| e.map_rejected(|_| TestError::Taken))?;
                    // A second command on one aggregate sees the first one's events.
                    let again = d
                        .decide(ha, &claim("a", 1))
                        .map_err(|e| e.map_rejected(|_| TestError::Taken))?;
                    assert!(again.is_empty());
                    Ok::<_, TestError>(d.state(ha)?.owner())
                })
                .await
                .unwrap();
            assert_eq!(committed.value, Some(Uuid::from_u128(1)));
            assert_eq!(committed.outcomes.len(), 2);
            assert_eq!(committed.position(), Some(2));
            assert_eq!(store.events::<IdentifierClaim>(&a).len(), 1);
            assert_eq!(store.events::<IdentifierClaim>(&b).len(), 1);
        }

        /// Another writer takes stream `a` while the first attempt decides: the commit conflicts,
        /// nothing is written, and the second attempt decides against the new state and refuses.
        #[tokio::test]
        async fn a_conflict_on_any_stream_decides_again_and_a_refusal_writes_nothing() {
            let store = Arc::new(InMemoryEventStore::new());
            let runner = CommandRunner::new(store.clone());
            let (a, b) = (
                StreamId::parse("claim-a").unwrap(),
                StreamId::parse("claim-b").unwrap(),
            );
            let attempts = AtomicUsize::new(0);
            let mut atomic = runner.atomic(&EventMetadata::default());
            let ha = atomic.stream::<IdentifierClaim>(&a);
            let hb = atomic.stream::<IdentifierClaim>(&b);
            let result = atomic
                .run(|d| {
                    if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
                        store
                            .given::<IdentifierClaim>(&a, &[claimed("a", 2)])
                            .unwrap();
                    }
                    d.decide(hb, &claim("b", 1))
                        .map_err(|e| e.map_rejected(|_| TestError::Taken))?;
                    d.decide(ha, &claim("a", 1)).map_err(|e| match e {
                        CommandError::Rejected(ClaimError::Taken { .. }) => TestError::Taken,
                        e => e.map_rejected(|_| TestError::Taken),
                    })?;
                    Ok::<_, TestError>(())
                })
                .await;
            assert!(matches!(result, Err(TestError::Taken)), "{result:?}");
            assert_eq!(attempts.load(Ordering::SeqCst), 2);
            assert!(
                store.events::<IdentifierClaim>(&b).is_empty(),
                "b untouched"
            );
            assert_eq!(store.events::<IdentifierClaim>(&a).len(), 1);
        }

        #[tokio::test]
        async fn a_stream_named_with_two_aggregate_types_is_refused() {
            let store = Arc::new(InMemoryEventStore::new());
            let runner = CommandRunner::new(store.clone());
            let a = StreamId::parse("claim-a").unwrap();
            let mut atomic = runner.atomic(&EventMetadata::default());
            atomic.stream::<IdentifierClaim>(&a);
            atomic.stream::<tessera_domain::identity::EmailClaim>(&a);
            let result = atomic.run(|_| Ok::<_, TestError>(())).await;
            assert!(matches!(
                result,
                Err(TestError::Engine(EngineError::Store(
                    StoreError::InvalidRequest(_)
                )))
            ));
        }
    }
}
