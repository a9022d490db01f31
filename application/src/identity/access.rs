//! Whether a validly signed access token may still act: its user exists and is not disabled, and
//! the sign-in session (refresh family, the token's `sid`) it was issued for has not been revoked.
//!
//! The answer comes from the event store itself, not from a read model, so it is never behind: a
//! logout or a disable that has been acknowledged refuses the very next request, on every server
//! sharing the database. To keep that cheap, the last state of each `user-{id}` and
//! `refreshFamily-{id}` stream seen is kept in process with its version; a request then reads only
//! the events after that version — one indexed query per stream that usually returns no row. A
//! revoked family never changes again (the aggregate refuses every later command), so once seen
//! revoked it is answered from memory alone. See docs/decisions/0014-access-token-revocation.md.

use crate::command::catch_up;
use crate::event_store::{EventStore, StreamId};
use std::collections::HashMap;
use std::sync::Mutex;
use tessera_domain::Decider;
use tessera_domain::identity::{RefreshFamily, User};

use super::{AccessClaims, IdentityError, TokenError};

/// Streams remembered per kind; past it the memory is dropped and refilled by later requests (a
/// bound on memory, not on correctness: a forgotten stream is simply read again from version 1).
const MAX_REMEMBERED: usize = 50_000;

/// Why a signed-in request is refused or could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The token is not acceptable (401).
    #[error(transparent)]
    Refused(#[from] TokenError),
    /// The event store could not be read (503): neither accepted nor refused.
    #[error("cannot check the access token: {0}")]
    Unavailable(#[source] IdentityError),
}

/// The last known state of some streams of one aggregate type, with their versions.
struct Remembered<D> {
    states: Mutex<HashMap<String, (D, u64)>>,
}

impl<D: Decider> Remembered<D> {
    fn new() -> Self {
        Self {
            states: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, stream: &StreamId) -> Option<(D, u64)> {
        // A poisoned lock only means another request panicked mid-insert; the map is still a
        // cache of true prefixes, so use it.
        let states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        states.get(stream.as_str()).cloned()
    }

    fn put(&self, stream: &StreamId, state: &D, version: u64) {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        if states
            .get(stream.as_str())
            .is_some_and(|(_, v)| *v >= version)
        {
            return;
        }
        if states.len() >= MAX_REMEMBERED {
            states.clear();
        }
        states.insert(stream.as_str().to_owned(), (state.clone(), version));
    }

    /// The stream's current state: the remembered one caught up with the events after it, or the
    /// whole stream when none is remembered (`D::default()` when the stream does not exist).
    /// `settled` states are known not to change any more and are returned without a read.
    async fn current(
        &self,
        store: &dyn EventStore,
        stream: &StreamId,
        settled: impl Fn(&D) -> bool,
    ) -> Result<D, IdentityError> {
        match self.get(stream) {
            Some((state, version)) if version > 0 && settled(&state) => Ok(state),
            known => self.refresh(store, stream, known, None).await,
        }
    }

    /// `known` (the remembered state and version, if any) brought up to the stream's end. When
    /// `latest` (the stream's version as just read) shows nothing newer, `known` is returned
    /// without reading the stream.
    async fn refresh(
        &self,
        store: &dyn EventStore,
        stream: &StreamId,
        known: Option<(D, u64)>,
        latest: Option<u64>,
    ) -> Result<D, IdentityError> {
        let (state, known) = known.unwrap_or_default();
        if known > 0 && latest.is_some_and(|latest| latest <= known) {
            return Ok(state);
        }
        let (state, version) = catch_up(store, stream, state, known).await?;
        if version > known {
            self.put(stream, &state, version);
        }
        Ok(state)
    }
}

/// The check behind every signed-in request (see the module docs). Shared by all clones of the
/// identity service.
pub(super) struct AccessCheck {
    users: Remembered<User>,
    families: Remembered<RefreshFamily>,
}

impl AccessCheck {
    pub(super) fn new() -> Self {
        Self {
            users: Remembered::new(),
            families: Remembered::new(),
        }
    }

    /// The user of the session `family_id` when `token_hash` is its current token, it is neither
    /// revoked nor expired at `now`, and its user is registered and enabled (cookie sessions,
    /// docs/decisions/0023-courtesy-sessions.md).
    pub(super) async fn check_session(
        &self,
        store: &dyn EventStore,
        family_id: uuid::Uuid,
        token_hash: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<tessera_domain::UserId, AccessError> {
        let stream = super::accounts::family_stream(family_id).map_err(AccessError::Unavailable)?;
        let family = self
            .families
            .current(store, &stream, |f| f.revoked().is_some())
            .await
            .map_err(AccessError::Unavailable)?;
        let live = family.is_current(token_hash)
            && family.revoked().is_none()
            && family.expires_at().is_some_and(|at| at > now);
        let Some(user_id) = family.user_id().filter(|_| live) else {
            return Err(TokenError::SessionEnded.into());
        };
        let stream = super::accounts::user_stream(user_id).map_err(AccessError::Unavailable)?;
        let user = self
            .users
            .current(store, &stream, |_| false)
            .await
            .map_err(AccessError::Unavailable)?;
        if !user.is_registered() {
            return Err(TokenError::UnknownUser.into());
        }
        if user.is_disabled() {
            return Err(TokenError::UserDisabled.into());
        }
        Ok(user_id)
    }

    /// `Ok` when the user of `claims` is registered and enabled and its session, if it names one,
    /// belongs to that user and is not revoked.
    pub(super) async fn check(
        &self,
        store: &dyn EventStore,
        claims: &AccessClaims,
    ) -> Result<(), AccessError> {
        let user_stream =
            super::accounts::user_stream(claims.user_id).map_err(AccessError::Unavailable)?;
        let family_stream = claims
            .session_id
            .map(super::accounts::family_stream)
            .transpose()
            .map_err(AccessError::Unavailable)?;
        let (user, family) = self
            .user_and_family(store, &user_stream, family_stream.as_ref())
            .await
            .map_err(AccessError::Unavailable)?;
        if !user.is_registered() {
            return Err(TokenError::UnknownUser.into());
        }
        if user.is_disabled() {
            return Err(TokenError::UserDisabled.into());
        }
        let Some(family) = family else {
            return Ok(());
        };
        if family.user_id() != Some(claims.user_id) || family.revoked().is_some() {
            return Err(TokenError::SessionEnded.into());
        }
        Ok(())
    }

    /// The current user and, when the token names a session, its refresh family. When both are
    /// remembered, one [`EventStore::stream_versions`] query tells which of them moved and only
    /// those are read (usually none); a revoked family is not asked about again. Otherwise each
    /// is read on its own, from its remembered version.
    async fn user_and_family(
        &self,
        store: &dyn EventStore,
        user_stream: &StreamId,
        family_stream: Option<&StreamId>,
    ) -> Result<(User, Option<RefreshFamily>), IdentityError> {
        let revoked = |f: &RefreshFamily| f.revoked().is_some();
        let remembered = match (self.users.get(user_stream), family_stream) {
            (Some(user), Some(stream)) => self.families.get(stream).map(|f| (user, stream, f)),
            _ => None,
        };
        let Some((known_user, stream, (family, version))) = remembered else {
            let user = self.users.current(store, user_stream, |_| false).await?;
            let family = match family_stream {
                Some(stream) => Some(self.families.current(store, stream, revoked).await?),
                None => None,
            };
            return Ok((user, family));
        };
        let settled = version > 0 && revoked(&family);
        let asked: &[&StreamId] = if settled {
            &[user_stream]
        } else {
            &[user_stream, stream]
        };
        let latest = store.stream_versions(asked).await?;
        let user = self
            .users
            .refresh(
                store,
                user_stream,
                Some(known_user),
                latest.first().copied(),
            )
            .await?;
        let family = if settled {
            family
        } else {
            self.families
                .refresh(
                    store,
                    stream,
                    Some((family, version)),
                    latest.get(1).copied(),
                )
                .await?
        };
        Ok((user, Some(family)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::event_store::{AppendOutcome, AppendRequest, RecordedEvent, StoreError};
    use crate::identity::accounts::{family_stream, user_stream};
    use crate::in_memory::InMemoryEventStore;
    use async_trait::async_trait;
    use chrono::{TimeZone, Utc};
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;
    use tessera_domain::UserId;
    use tessera_domain::identity::{Email, RefreshFamilyCommand, RevokeReason, Role, UserCommand};
    use uuid::Uuid;

    /// The in-memory store, counting stream reads.
    #[derive(Default)]
    struct Counting {
        inner: InMemoryEventStore,
        reads: AtomicUsize,
        version_queries: AtomicUsize,
    }

    #[async_trait]
    impl EventStore for Counting {
        async fn append_streams(
            &self,
            requests: Vec<AppendRequest>,
        ) -> Result<Vec<AppendOutcome>, StoreError> {
            self.inner.append_streams(requests).await
        }
        async fn read_stream(
            &self,
            stream_id: &StreamId,
            from_version: u64,
            max_count: usize,
        ) -> Result<Vec<RecordedEvent>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.inner
                .read_stream(stream_id, from_version, max_count)
                .await
        }
        async fn read_all(
            &self,
            after: u64,
            max_count: usize,
        ) -> Result<Vec<RecordedEvent>, StoreError> {
            self.inner.read_all(after, max_count).await
        }
        async fn head_position(&self) -> Result<u64, StoreError> {
            self.inner.head_position().await
        }
        async fn stream_version(&self, stream_id: &StreamId) -> Result<u64, StoreError> {
            self.inner.stream_version(stream_id).await
        }
        async fn stream_versions(&self, stream_ids: &[&StreamId]) -> Result<Vec<u64>, StoreError> {
            self.version_queries.fetch_add(1, Ordering::SeqCst);
            self.inner.stream_versions(stream_ids).await
        }
        async fn wait_for_append(&self, after: u64, max_wait: Duration) -> Result<(), StoreError> {
            self.inner.wait_for_append(after, max_wait).await
        }
    }

    impl Counting {
        fn reads(&self) -> usize {
            self.reads.load(Ordering::SeqCst)
        }
        fn version_queries(&self) -> usize {
            self.version_queries.load(Ordering::SeqCst)
        }
        fn given<D: Decider>(&self, stream: &StreamId, state: &D, command: &D::Command) -> D {
            let events = state.decide(command).unwrap();
            self.inner.given::<D>(stream, &events).unwrap();
            events.iter().fold(state.clone(), |s, e| s.evolve(e))
        }
    }

    fn now() -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 20, 10, 0, 0).unwrap()
    }

    fn claims(user: UserId, session: Option<Uuid>) -> AccessClaims {
        AccessClaims {
            user_id: user,
            roles: vec![Role::Customer],
            expires_at: now(),
            token_id: Uuid::now_v7(),
            session_id: session,
        }
    }

    fn register(store: &Counting, user: UserId) -> User {
        store.given(
            &user_stream(user).unwrap(),
            &User::default(),
            &UserCommand::RegisterUser {
                user_id: user,
                email: Email::parse(&format!("{user}@example.com")).unwrap(),
                password_hash: "$argon2id$…".into(),
                display_name: None,
                roles: BTreeSet::from([Role::Customer]),
                now: now(),
            },
        )
    }

    fn start(store: &Counting, user: UserId) -> (Uuid, RefreshFamily) {
        let family = Uuid::now_v7();
        let state = store.given(
            &family_stream(family).unwrap(),
            &RefreshFamily::default(),
            &RefreshFamilyCommand::Start {
                family_id: family,
                user_id: user,
                token_hash: "h1".into(),
                now: now(),
                expires_at: now() + chrono::Duration::days(30),
            },
        );
        (family, state)
    }

    fn refused(result: Result<(), AccessError>) -> Option<TokenError> {
        match result {
            Err(AccessError::Refused(e)) => Some(e),
            _ => None,
        }
    }

    #[tokio::test]
    async fn unknown_and_disabled_users_are_refused() {
        let store = Counting::default();
        let check = AccessCheck::new();
        let user = UserId::from_uuid(Uuid::now_v7());
        assert_eq!(
            refused(check.check(&store, &claims(user, None)).await),
            Some(TokenError::UnknownUser)
        );
        let state = register(&store, user);
        check.check(&store, &claims(user, None)).await.unwrap();
        store.given(
            &user_stream(user).unwrap(),
            &state,
            &UserCommand::DisableUser {
                by: None,
                now: now(),
            },
        );
        // The remembered state is caught up with the event appended since.
        assert_eq!(
            refused(check.check(&store, &claims(user, None)).await),
            Some(TokenError::UserDisabled)
        );
    }

    #[tokio::test]
    async fn sessions_end_with_their_family_and_belong_to_their_user() {
        let store = Counting::default();
        let check = AccessCheck::new();
        let user = UserId::from_uuid(Uuid::now_v7());
        let other = UserId::from_uuid(Uuid::now_v7());
        register(&store, user);
        register(&store, other);
        let (family, state) = start(&store, user);
        let (kept, _) = start(&store, user);
        check
            .check(&store, &claims(user, Some(family)))
            .await
            .unwrap();
        assert_eq!(
            refused(check.check(&store, &claims(other, Some(family))).await),
            Some(TokenError::SessionEnded),
            "another user's session"
        );
        assert_eq!(
            refused(
                check
                    .check(&store, &claims(user, Some(Uuid::now_v7())))
                    .await
            ),
            Some(TokenError::SessionEnded),
            "a session that never started"
        );
        store.given(
            &family_stream(family).unwrap(),
            &state,
            &RefreshFamilyCommand::Revoke {
                reason: RevokeReason::Logout,
                now: now(),
            },
        );
        assert_eq!(
            refused(check.check(&store, &claims(user, Some(family))).await),
            Some(TokenError::SessionEnded)
        );
        check
            .check(&store, &claims(user, Some(kept)))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn remembered_streams_are_caught_up_and_revoked_families_not_read_again() {
        let store = Counting::default();
        let check = AccessCheck::new();
        let user = UserId::from_uuid(Uuid::now_v7());
        let user_state = register(&store, user);
        let (family, state) = start(&store, user);
        check
            .check(&store, &claims(user, Some(family)))
            .await
            .unwrap();
        // Each stream is read from its first event once; after that one version query asks
        // whether either moved, and neither is read while neither did.
        let (reads, queries) = (store.reads(), store.version_queries());
        check
            .check(&store, &claims(user, Some(family)))
            .await
            .unwrap();
        assert_eq!(store.reads() - reads, 0);
        assert_eq!(store.version_queries() - queries, 1);

        // A family that moved is caught up (and only it is read).
        store.given(
            &family_stream(family).unwrap(),
            &state,
            &RefreshFamilyCommand::Revoke {
                reason: RevokeReason::Reuse,
                now: now(),
            },
        );
        let reads = store.reads();
        assert_eq!(
            refused(check.check(&store, &claims(user, Some(family))).await),
            Some(TokenError::SessionEnded)
        );
        assert_eq!(store.reads() - reads, 1, "only the family stream is read");

        // Once revoked, the family is not asked about again; the user still is.
        let (reads, queries) = (store.reads(), store.version_queries());
        assert!(refused(check.check(&store, &claims(user, Some(family))).await).is_some());
        assert_eq!(store.reads() - reads, 0);
        assert_eq!(store.version_queries() - queries, 1);

        // A user disabled after being remembered is refused on the next request.
        let (kept, _) = start(&store, user);
        check
            .check(&store, &claims(user, Some(kept)))
            .await
            .unwrap();
        store.given(
            &user_stream(user).unwrap(),
            &user_state,
            &UserCommand::DisableUser {
                by: None,
                now: now(),
            },
        );
        assert_eq!(
            refused(check.check(&store, &claims(user, Some(kept))).await),
            Some(TokenError::UserDisabled)
        );
    }
}
