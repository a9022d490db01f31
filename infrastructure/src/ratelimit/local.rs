//! The in-process backend: one `governor` keyed GCRA limiter per distinct quota.

use super::{Decision, Quota, RateLimitError, RateLimiter};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type Keyed = governor::RateLimiter<
    String,
    DefaultKeyedStateStore<String>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// How many checks pass between two sweeps of keys whose buckets are full again (they carry no
/// information, so forgetting them bounds memory by the number of recently active keys).
const SWEEP_EVERY: u64 = 4_096;

/// Rate limits kept in this process's memory: exact for one process, unaware of others.
#[derive(Default)]
pub struct LocalRateLimiter {
    limiters: RwLock<HashMap<Quota, Arc<Keyed>>>,
    checks: AtomicU64,
}

impl LocalRateLimiter {
    /// An empty limiter (every key starts with its full quota).
    pub fn new() -> Self {
        Self::default()
    }

    fn limiter(&self, quota: Quota) -> Arc<Keyed> {
        if let Some(l) = self
            .limiters
            .read()
            .ok()
            .and_then(|m| m.get(&quota).cloned())
        {
            return l;
        }
        let mut map = match self.limiters.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(quota)
            .or_insert_with(|| {
                let q = governor::Quota::with_period(quota.interval())
                    .unwrap_or_else(|| governor::Quota::per_second(quota.limit))
                    .allow_burst(quota.limit);
                Arc::new(governor::RateLimiter::keyed(q).with_middleware())
            })
            .clone()
    }

    fn sweep(&self) {
        let all: Vec<Arc<Keyed>> = match self.limiters.read() {
            Ok(m) => m.values().cloned().collect(),
            Err(_) => return,
        };
        for l in all {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

fn unix_secs_after(wait: Duration) -> u64 {
    let at = SystemTime::now() + wait;
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    since.as_secs() + u64::from(since.subsec_nanos() > 0)
}

fn whole_secs_up(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[async_trait::async_trait]
impl RateLimiter for LocalRateLimiter {
    async fn check(&self, key: &str, quota: Quota) -> Result<Decision, RateLimitError> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep();
        }
        let limiter = self.limiter(quota);
        let limit = quota.limit.get();
        let interval = quota.interval();
        Ok(match limiter.check_key(&key.to_owned()) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity().min(limit);
                // The bucket is full again once the tokens used so far have come back.
                let refill = interval * (limit - remaining);
                Decision {
                    allowed: true,
                    limit,
                    remaining,
                    reset_unix_secs: unix_secs_after(refill),
                    retry_after_secs: 0,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(limiter.clock().now());
                Decision {
                    allowed: false,
                    limit,
                    remaining: 0,
                    reset_unix_secs: unix_secs_after(wait + interval * (limit - 1)),
                    retry_after_secs: whole_secs_up(wait).max(1),
                }
            }
        })
    }

    fn backend(&self) -> &'static str {
        "local"
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[tokio::test]
    async fn five_per_minute_then_refused_per_key() {
        let l = LocalRateLimiter::new();
        let q = Quota::new(5, Duration::from_secs(60)).unwrap();
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        for expected in (0..5).rev() {
            let d = l.check("seat_lock:user:a", q).await.unwrap();
            assert!(d.allowed);
            assert_eq!((d.limit, d.remaining), (5, expected));
            assert!(d.reset_unix_secs > before && d.reset_unix_secs <= before + 61);
        }
        let d = l.check("seat_lock:user:a", q).await.unwrap();
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert!((1..=12).contains(&d.retry_after_secs), "{d:?}");
        assert!(d.reset_unix_secs >= before + 59, "{d:?}");
        // Another key has its own budget; another quota its own limiter.
        assert!(l.check("seat_lock:user:b", q).await.unwrap().allowed);
        let big = Quota::new(100, Duration::from_secs(60)).unwrap();
        assert_eq!(l.check("other:user:a", big).await.unwrap().remaining, 99);
    }
}
