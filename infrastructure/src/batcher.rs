//! Requests that arrive while others are being served wait in a queue and are served together by
//! one leader: the group commit of the SQL stores (docs/decisions/0034-group-commit.md) and their
//! concurrent stream-version reads (docs/decisions/0040-coalesced-version-reads.md).
//!
//! A leader is a spawned task, started by the request that finds fewer than
//! [`BatchLimits::max_leaders`] running, so a request to an idle store is served at once (no
//! waiting for company), and a caller that stops waiting (a dropped request) never cancels the
//! work of the others. A leader takes everything queued (bounded by [`BatchLimits`]), serves it
//! with one call of [`BatchWork::serve`], answers each request, and goes on while the queue is not
//! empty; a gathering queue's leader ([`BatchLimits::gather`]) first lets the callers it answered
//! ask again, so that they share the next batch. Every request taken by a leader was queued before
//! that leader's call began, so a read served this way sees at least what was committed when its
//! caller asked.

use async_trait::async_trait;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use tessera_application::StoreError;
use tokio::sync::oneshot;

/// What a [`Batcher`] serves: one call answers a whole batch of queued requests.
#[async_trait]
pub trait BatchWork: Send + Sync + 'static {
    /// One caller's request.
    type Request: Send + 'static;
    /// One caller's answer.
    type Answer: Send + 'static;

    /// How much of [`BatchLimits::max_weight`] a request uses (events of an append, streams of a
    /// read).
    fn weight(request: &Self::Request) -> usize;

    /// Serve `requests` together; one answer per request, in order. A failure of the whole call
    /// is that failure for every request.
    async fn serve(&self, requests: &[Self::Request]) -> Vec<Self::Answer>;

    /// The answer of a request whose batch stopped (its task panicked or the runtime shut down)
    /// before answering it.
    fn stopped(error: StoreError) -> Self::Answer;
}

/// How much one batch may hold, and how many are served at once.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Most requests per batch.
    pub max_requests: usize,
    /// Most weight per batch ([`BatchWork::weight`] summed). The first queued request is always
    /// taken, however heavy.
    pub max_weight: usize,
    /// Batches served at the same time: 1 for every queue today (SQLite has a single writer; on
    /// PostgreSQL a second group in flight only halved the groups, `PG_GROUPS_IN_FLIGHT`).
    pub max_leaders: usize,
    /// After serving a batch of several requests, yield to the runtime (at most [`MAX_YIELDS`]
    /// times, while the queue grows) before taking the next: for callers that ask again as soon
    /// as they are answered (appends), so that they share the next batch.
    pub gather: bool,
}

struct Job<W: BatchWork> {
    request: W::Request,
    reply: oneshot::Sender<W::Answer>,
}

struct Queue<W: BatchWork> {
    jobs: VecDeque<Job<W>>,
    leaders: usize,
}

struct Shared<W: BatchWork> {
    queue: Mutex<Queue<W>>,
    work: W,
    limits: BatchLimits,
}

impl<W: BatchWork> Shared<W> {
    fn lock(&self) -> MutexGuard<'_, Queue<W>> {
        // A panic while holding this lock cannot leave the queue half-changed (pushes and drains
        // only), so a poisoned lock is still usable.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The queue of one kind of work; cheap to clone (all clones share one queue).
pub struct Batcher<W: BatchWork> {
    shared: Arc<Shared<W>>,
}

impl<W: BatchWork> Clone for Batcher<W> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<W: BatchWork> std::fmt::Debug for Batcher<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("limits", &self.shared.limits)
            .finish_non_exhaustive()
    }
}

impl<W: BatchWork> Batcher<W> {
    /// A queue served by `work`.
    pub fn new(work: W, limits: BatchLimits) -> Self {
        Self {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue {
                    jobs: VecDeque::new(),
                    leaders: 0,
                }),
                work,
                limits,
            }),
        }
    }

    /// The work this queue is served by (tests count its calls).
    #[cfg(test)]
    fn work(&self) -> &W {
        &self.shared.work
    }

    /// Queue one request and wait for its own answer. Must run inside a Tokio runtime (the leader
    /// is spawned on it). A request whose batch stopped before answering gets
    /// [`BatchWork::stopped`] with [`StoreError::Unavailable`].
    pub async fn submit(&self, request: W::Request) -> W::Answer {
        let (reply, answer) = oneshot::channel();
        let start_leader = {
            let mut queue = self.shared.lock();
            queue.jobs.push_back(Job { request, reply });
            if queue.leaders < self.shared.limits.max_leaders {
                queue.leaders += 1;
                true
            } else {
                false
            }
        };
        if start_leader {
            tokio::spawn(lead(self.shared.clone()));
        }
        answer.await.unwrap_or_else(|_| {
            W::stopped(StoreError::Unavailable(
                "the batch serving this request stopped before answering".into(),
            ))
        })
    }
}

/// Gives the leader's place back however the leader ends; after a panic, answers (by dropping
/// their replies) the requests that would otherwise wait for a leader that never comes.
struct LeaderGuard<W: BatchWork> {
    shared: Arc<Shared<W>>,
    /// Set when the leader left normally (it gave its place back itself).
    released: bool,
}

impl<W: BatchWork> Drop for LeaderGuard<W> {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        let mut queue = self.shared.lock();
        queue.leaders -= 1;
        if queue.leaders == 0 {
            queue.jobs.clear();
        }
    }
}

/// Most yields of a gathering leader between answering a batch and taking the next
/// ([`BatchLimits::gather`]).
pub const MAX_YIELDS: usize = 4;

async fn lead<W: BatchWork>(shared: Arc<Shared<W>>) {
    let mut guard = LeaderGuard {
        shared: shared.clone(),
        released: false,
    };
    loop {
        let batch: Vec<Job<W>> = {
            let mut queue = shared.lock();
            if queue.jobs.is_empty() {
                // Decide to stop under the lock that `submit` pushes under, so no request is left
                // behind without a leader.
                queue.leaders -= 1;
                guard.released = true;
                return;
            }
            let mut batch = Vec::new();
            let mut weight = 0;
            while let Some(job) = queue.jobs.front() {
                let w = W::weight(&job.request);
                if !batch.is_empty()
                    && (batch.len() >= shared.limits.max_requests
                        || weight + w > shared.limits.max_weight)
                {
                    break;
                }
                weight += w;
                if let Some(job) = queue.jobs.pop_front() {
                    batch.push(job);
                }
            }
            batch
        };
        let (requests, replies): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|j| (j.request, j.reply)).unzip();
        let answers = shared.work.serve(&requests).await;
        let mut answers = answers.into_iter();
        for reply in replies {
            let answer = answers.next().unwrap_or_else(|| {
                W::stopped(StoreError::Unavailable(
                    "the batch answered fewer requests than it took".into(),
                ))
            });
            // The caller may have stopped waiting; the work stands either way.
            let _ = reply.send(answer);
        }
        // Let the callers just answered run before looking at the queue again: under load each
        // of them asks again at once, and a leader that looked straight away would find the queue
        // empty or holding only the quickest, leaving the rest for a batch of their own one
        // commit later (batches alternating one and fifteen commits with sixteen writers). Only
        // after a batch of several: a lone caller (a hot stream's next batch) is not kept waiting
        // behind every task the runtime has ready.
        if !shared.limits.gather || requests.len() < 2 {
            continue;
        }
        let mut queued = 0;
        for _ in 0..MAX_YIELDS {
            tokio::task::yield_now().await;
            let now = shared.lock().jobs.len();
            if now == queued {
                break;
            }
            queued = now;
        }
    }
}

/// A backend's lookup of stream versions, for [`VersionReads`].
#[async_trait]
pub trait VersionSource: Send + Sync + 'static {
    /// `(stream_id, version)` of those of `ids` that have a stream row (in any order).
    async fn fetch_versions(&self, ids: &[&str]) -> Result<Vec<(String, i64)>, StoreError>;
}

/// Concurrent [`EventStore::stream_versions`] calls answered by one query for all of their
/// streams (decision 0040): the per-request access check asks for one or two versions on every
/// authenticated request, and was half of the statements PostgreSQL ran during an onsale.
///
/// [`EventStore::stream_versions`]: tessera_application::EventStore::stream_versions
pub struct VersionReads<S>(pub S);

#[async_trait]
impl<S: VersionSource> BatchWork for VersionReads<S> {
    /// The stream ids one caller asked about.
    type Request = Vec<String>;
    /// One version per asked id, in order (0: no such stream).
    type Answer = Result<Vec<u64>, StoreError>;

    fn weight(request: &Self::Request) -> usize {
        request.len()
    }

    async fn serve(&self, requests: &[Self::Request]) -> Vec<Self::Answer> {
        let mut ids: Vec<&str> = requests.iter().flatten().map(String::as_str).collect();
        ids.sort_unstable();
        ids.dedup();
        match self.0.fetch_versions(&ids).await {
            Ok(rows) => {
                let mut found = std::collections::HashMap::with_capacity(rows.len());
                for (stream, version) in rows {
                    found.insert(stream, version);
                }
                requests
                    .iter()
                    .map(|asked| {
                        asked
                            .iter()
                            .map(|id| {
                                crate::stored::non_negative(
                                    found.get(id).copied().unwrap_or(0),
                                    "version",
                                )
                            })
                            .collect()
                    })
                    .collect()
            }
            Err(e) => requests.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    fn stopped(error: StoreError) -> Self::Answer {
        Err(error)
    }
}

/// How many streams one coalesced version read asks about at most, and how many such reads run at
/// once.
pub const VERSION_READ_LIMITS: BatchLimits = BatchLimits {
    max_requests: 1_024,
    max_weight: 2_048,
    max_leaders: 1,
    gather: false,
};

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Counts calls, answers each request with its ids' lengths, and takes a while, so that
    /// requests arriving meanwhile queue.
    struct Slow {
        calls: AtomicUsize,
        largest: AtomicUsize,
    }

    #[async_trait]
    impl VersionSource for Slow {
        async fn fetch_versions(&self, ids: &[&str]) -> Result<Vec<(String, i64)>, StoreError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.largest.fetch_max(ids.len(), Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(ids
                .iter()
                .filter(|id| !id.starts_with("none"))
                .map(|id| (id.to_string(), id.len() as i64))
                .collect())
        }
    }

    #[tokio::test]
    async fn concurrent_reads_share_a_query_and_each_gets_its_own_versions() {
        let reads = Batcher::new(
            VersionReads(Slow {
                calls: AtomicUsize::new(0),
                largest: AtomicUsize::new(0),
            }),
            VERSION_READ_LIMITS,
        );
        let mut tasks = Vec::new();
        for i in 0..50 {
            let reads = reads.clone();
            tasks.push(tokio::spawn(async move {
                let asked = vec![
                    format!("user-{i}"),
                    "none-x".to_owned(),
                    "shared".to_owned(),
                ];
                (i, reads.submit(asked).await)
            }));
        }
        for t in tasks {
            let (i, got) = t.await.unwrap();
            assert_eq!(got.unwrap(), vec![format!("user-{i}").len() as u64, 0, 6]);
        }
        let calls = reads.work().0.calls.load(Ordering::SeqCst);
        assert!(calls < 50, "{calls} queries for 50 concurrent reads");
        // "shared" asked 50 times, fetched once per query.
        let largest = reads.work().0.largest.load(Ordering::SeqCst);
        assert!(largest <= 50 + 2, "ids not deduplicated: {largest}");
    }

    /// Records the size of every batch it serves, each taking a moment (a commit's flush).
    struct Sizes(Mutex<Vec<usize>>);

    #[async_trait]
    impl BatchWork for Sizes {
        type Request = usize;
        type Answer = usize;

        fn weight(_: &usize) -> usize {
            1
        }

        async fn serve(&self, requests: &[usize]) -> Vec<usize> {
            self.0.lock().unwrap().push(requests.len());
            tokio::time::sleep(Duration::from_millis(2)).await;
            requests.to_vec()
        }

        fn stopped(_: StoreError) -> usize {
            usize::MAX
        }
    }

    /// Sixteen callers that each ask again as soon as they are answered (the bench's writers, an
    /// onsale's sessions) stay in one batch: the leader lets them ask before it looks at the
    /// queue again. One worker thread, so the order tasks run in is the scheduler's, not chance.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn callers_that_ask_again_at_once_share_the_next_batch() {
        const CALLERS: usize = 16;
        const ROUNDS: usize = 20;
        let batcher = Batcher::new(
            Sizes(Mutex::new(Vec::new())),
            BatchLimits {
                max_requests: 256,
                max_weight: 10_000,
                max_leaders: 1,
                gather: true,
            },
        );
        let tasks: Vec<_> = (0..CALLERS)
            .map(|c| {
                let batcher = batcher.clone();
                tokio::spawn(async move {
                    for r in 0..ROUNDS {
                        assert_eq!(batcher.submit(c * ROUNDS + r).await, c * ROUNDS + r);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let sizes = batcher.work().0.lock().unwrap().clone();
        assert_eq!(sizes.iter().sum::<usize>(), CALLERS * ROUNDS);
        // The first round may split while the callers start; after it, one batch per round.
        assert!(
            sizes.len() <= ROUNDS + 2,
            "{} batches for {ROUNDS} rounds of {CALLERS} callers: {sizes:?}",
            sizes.len()
        );
    }

    struct Failing;

    #[async_trait]
    impl VersionSource for Failing {
        async fn fetch_versions(&self, _: &[&str]) -> Result<Vec<(String, i64)>, StoreError> {
            Err(StoreError::Unavailable("down".into()))
        }
    }

    #[tokio::test]
    async fn a_failed_query_is_every_callers_error() {
        let reads = Batcher::new(VersionReads(Failing), VERSION_READ_LIMITS);
        let (a, b) = tokio::join!(
            reads.submit(vec!["a".into()]),
            reads.submit(vec!["b".into()])
        );
        assert!(matches!(a, Err(StoreError::Unavailable(_))));
        assert!(matches!(b, Err(StoreError::Unavailable(_))));
    }
}
