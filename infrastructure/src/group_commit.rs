//! Group commit for the SQL event stores (docs/decisions/0034-group-commit.md).
//!
//! Appends that arrive while another group is being written queue here; the next leader takes
//! everything queued (bounded by [`GROUP_LIMITS`]) and the backend writes it in one transaction with
//! one commit. Each queued commit (one `append_streams` call, one or several streams) stays one
//! atomic unit: [`plan_group`] decides each in queue order against the stream heads as the earlier
//! commits of the group leave them, so a conflicting commit is answered with its own error and
//! writes nothing while its neighbours commit.
//!
//! The queue and its leaders are the generic [`Batcher`]; this module is what a group is.

use crate::batcher::{BatchLimits, BatchWork, Batcher};
use crate::stored::{Head, PlannedEvent, check_versions, plan};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use tessera_application::event_store::{StoredId, deduplicate};
use tessera_application::{AppendOutcome, AppendRequest, NewDeadline, StoreError};
use uuid::Uuid;

/// The answer to one queued commit: one outcome per request, in request order, or its own error.
pub type CommitResult = Result<Vec<AppendOutcome>, StoreError>;

/// A backend's way of writing a group of commits in one transaction.
#[async_trait]
pub trait GroupWriter: Send + Sync + 'static {
    /// Write `commits` (each a validated `append_streams` request list) in one transaction and
    /// return one answer per commit, in order. A failure of the whole transaction (database
    /// unavailable) is that error for every commit.
    async fn write_group(&self, commits: &[Vec<AppendRequest>]) -> Vec<CommitResult>;
}

/// How much one group may hold: 256 commits, 10,000 events (counted over every request of every
/// commit), one group at a time (backends that overlap groups raise `max_leaders`); writers
/// answered together share the next group ([`BatchLimits::gather`]).
pub const GROUP_LIMITS: BatchLimits = BatchLimits {
    max_requests: 256,
    max_weight: 10_000,
    max_leaders: 1,
    gather: true,
};

/// A [`GroupWriter`] as the work of a [`Batcher`]: a request is one validated commit (one
/// `append_streams` call), weighed by its events.
#[derive(Debug)]
pub struct Groups<W>(pub W);

#[async_trait]
impl<W: GroupWriter> BatchWork for Groups<W> {
    type Request = Vec<AppendRequest>;
    type Answer = CommitResult;

    fn weight(request: &Self::Request) -> usize {
        request.iter().map(|r| r.events.len()).sum()
    }

    async fn serve(&self, requests: &[Self::Request]) -> Vec<Self::Answer> {
        self.0.write_group(requests).await
    }

    fn stopped(error: StoreError) -> Self::Answer {
        Err(error)
    }
}

/// The group-commit queue of one store: `submit(requests)` queues one validated commit and waits
/// for its own answer (its own error, or [`StoreError::Unavailable`] when the group writing it
/// stopped before answering).
pub type GroupCommit<W> = Batcher<Groups<W>>;

/// Everything one group writes, decided before any row is: the rows of every accepted commit
/// with positions numbered in queue order from the group's first position and hashes chained
/// through earlier commits of the same group, and one answer per commit.
pub(crate) struct GroupPlan<'a> {
    /// Event rows, in position order.
    pub events: Vec<PlannedEvent<'a>>,
    /// (stream, new version, new last hash): each written stream once, with its final head.
    pub streams: Vec<(&'a str, u64, String)>,
    /// Streams the group saw but wrote nothing to.
    pub untouched: Vec<&'a str>,
    /// (stream, deadline), each deadline id once in the group (the first wins, as in the table).
    pub deadlines: Vec<(&'a str, &'a NewDeadline)>,
    /// One answer per commit, in queue order.
    pub results: Vec<CommitResult>,
}

impl GroupPlan<'_> {
    /// The position of the last event written (None when the group writes nothing).
    pub fn last_position(&self) -> Option<u64> {
        self.events.last().map(|e| e.position)
    }
}

/// Decide a group: for each commit in order, the idempotency rule (against `stored`, the ids of the
/// group found in the database, and the ids planned by earlier commits of the group), then every
/// expected version (against `heads`, the stream rows as read under the group's lock, advanced by
/// earlier commits of the group), then positions from `first_position` and chained hashes.
///
/// Errors: only failures that concern the whole group (none today: a commit's own failures are its
/// answer in [`GroupPlan::results`]).
pub(crate) fn plan_group<'a>(
    commits: &'a [Vec<AppendRequest>],
    stored: &[StoredId],
    heads: &HashMap<String, Head>,
    first_position: u64,
    recorded_at: DateTime<Utc>,
) -> GroupPlan<'a> {
    let mut known: HashMap<Uuid, StoredId> = stored.iter().map(|s| (s.0, s.clone())).collect();
    let mut current: HashMap<&'a str, Head> = HashMap::new();
    let mut written_order: Vec<&'a str> = Vec::new();
    let mut deadline_ids = HashSet::new();
    let mut position = first_position;
    let mut group = GroupPlan {
        events: Vec::new(),
        streams: Vec::new(),
        untouched: Vec::new(),
        deadlines: Vec::new(),
        results: Vec::with_capacity(commits.len()),
    };
    for commit in commits {
        let found: Vec<StoredId> = commit
            .iter()
            .flat_map(|r| &r.events)
            .filter_map(|e| known.get(&e.event_id).cloned())
            .collect();
        match deduplicate(commit, &found) {
            Ok(Some(outcomes)) => {
                group.results.push(Ok(outcomes));
                continue;
            }
            Err(e) => {
                group.results.push(Err(e));
                continue;
            }
            Ok(None) => {}
        }
        let commit_heads: Vec<Head> = commit
            .iter()
            .map(|r| {
                let s = r.stream_id.as_str();
                current
                    .get(s)
                    .or_else(|| heads.get(s))
                    .cloned()
                    .unwrap_or_else(Head::empty)
            })
            .collect();
        if let Err(e) = check_versions(commit, &commit_heads) {
            group.results.push(Err(e));
            continue;
        }
        let planned = match plan(commit, &commit_heads, position, recorded_at) {
            Ok(p) => p,
            Err(e) => {
                group.results.push(Err(e));
                continue;
            }
        };
        position += planned.events.len() as u64;
        for (stream, version, last_hash) in planned.streams {
            if current
                .insert(stream, Head { version, last_hash })
                .is_none()
            {
                written_order.push(stream);
            }
        }
        for (request, outcome) in commit.iter().zip(&planned.outcomes) {
            let first_version = outcome.stream_version + 1 - request.events.len() as u64;
            for ((e, p), v) in request
                .events
                .iter()
                .zip(&outcome.positions)
                .zip(first_version..)
            {
                known.insert(e.event_id, (e.event_id, request.stream_id.clone(), v, *p));
            }
        }
        for (stream, d) in planned.deadlines {
            if deadline_ids.insert(d.deadline_id) {
                group.deadlines.push((stream, d));
            }
        }
        group.events.extend(planned.events);
        group.results.push(Ok(planned.outcomes));
    }
    for stream in written_order {
        if let Some(head) = current.remove(stream) {
            group.streams.push((stream, head.version, head.last_hash));
        }
    }
    let mut seen: HashSet<&str> = group.streams.iter().map(|(s, _, _)| *s).collect();
    for request in commits.iter().flatten() {
        let s = request.stream_id.as_str();
        if seen.insert(s) {
            group.untouched.push(s);
        }
    }
    group
}

/// Every distinct stream of a group, sorted (byte order), the order in which PostgreSQL locks them.
pub(crate) fn group_streams(commits: &[Vec<AppendRequest>]) -> Vec<&str> {
    let mut streams: Vec<&str> = commits
        .iter()
        .flatten()
        .map(|r| r.stream_id.as_str())
        .collect();
    streams.sort_unstable();
    streams.dedup();
    streams
}

/// Every event id of a group.
pub(crate) fn group_event_ids(commits: &[Vec<AppendRequest>]) -> Vec<Uuid> {
    commits
        .iter()
        .flatten()
        .flat_map(|r| &r.events)
        .map(|e| e.event_id)
        .collect()
}
