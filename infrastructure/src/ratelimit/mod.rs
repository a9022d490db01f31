//! Request rate limiting (seed 003 §9): a [`RateLimiter`] answers, for one key and one [`Quota`],
//! whether a request may go ahead and what the `X-RateLimit-*` headers say about it.
//!
//! Both backends run the same algorithm, GCRA (the generic cell rate algorithm, a token bucket kept
//! as one timestamp per key): a quota of `limit` requests per `window` admits `limit` requests at
//! once and then one more every `window / limit`. [`LocalRateLimiter`] keeps the state in this
//! process (the `governor` crate); [`RedisRateLimiter`] keeps it in Redis, updated by one atomic Lua
//! script per check, so several server processes share one budget per key
//! (docs/decisions/0030-rate-limits.md). Neither knows HTTP: which key and which quota a request
//! gets is the api crate's business.

mod local;
mod redis;

pub use local::LocalRateLimiter;
pub use redis::{RedisRateLimiter, RedisSettings};

use std::num::NonZeroU32;
use std::time::Duration;

/// How many requests one key may make per window: `limit` at once, then one more every
/// `window / limit` (GCRA), e.g. 5 per 60 s for seat locks (seed 003 §9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    /// Requests allowed in a full window (≥ 1); also the burst size.
    pub limit: NonZeroU32,
    /// The window, at least one millisecond.
    pub window: Duration,
}

impl Quota {
    /// `limit` requests per `window`; `None` for a zero limit or a window under 1 ms.
    pub fn new(limit: u32, window: Duration) -> Option<Self> {
        let limit = NonZeroU32::new(limit)?;
        (window >= Duration::from_millis(1)).then_some(Self { limit, window })
    }

    /// The time one request's token takes to come back: `window / limit`.
    pub fn interval(&self) -> Duration {
        self.window / self.limit.get()
    }
}

/// The outcome of one check, with what the `X-RateLimit-*` and `Retry-After` headers carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may go ahead (it has then used one token).
    pub allowed: bool,
    /// The quota's limit (`X-RateLimit-Limit`).
    pub limit: u32,
    /// Requests this key may still make at once after this one (`X-RateLimit-Remaining`); 0 when
    /// refused.
    pub remaining: u32,
    /// When the key's whole quota is available again, Unix seconds (UTC), rounded up
    /// (`X-RateLimit-Reset`).
    pub reset_unix_secs: u64,
    /// When refused: whole seconds, rounded up and at least 1, until one request is allowed again
    /// (`Retry-After`); 0 when allowed.
    pub retry_after_secs: u64,
}

/// Why a check could not be decided (the caller fails open: docs/decisions/0030-rate-limits.md).
#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    /// The shared store did not answer within the configured time.
    #[error("rate-limit store timed out after {0:?}")]
    Timeout(Duration),
    /// The shared store refused the connection or the script, or answered something unreadable.
    #[error("rate-limit store failed: {0}")]
    Store(String),
}

/// Checks and counts requests against quotas, per key.
#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync {
    /// Count one request of `key` against `quota` and say whether it may go ahead. A refused
    /// request uses no token. Keys of different quotas must differ (the caller puts the class in
    /// the key).
    ///
    /// Errors: [`RateLimitError`] when the backend could not decide (Redis down or slow); the local
    /// backend never fails.
    async fn check(&self, key: &str, quota: Quota) -> Result<Decision, RateLimitError>;

    /// A short name for logs and the ops endpoint: `local` or `redis`.
    fn backend(&self) -> &'static str;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// The Redis script's arithmetic in Rust, to check it by hand: the decision
    /// for a request at `now_us` given the key's stored theoretical arrival time `tat_us` (None when
    /// the key has no state), all in microseconds since the Unix epoch. Returns the decision and the
    /// new TAT to store (None when refused).
    fn gcra(now_us: u64, tat_us: Option<u64>, quota: Quota) -> (Decision, Option<u64>) {
        let window = u64::try_from(quota.window.as_micros()).unwrap_or(u64::MAX);
        let limit = u64::from(quota.limit.get());
        let interval = (window / limit).max(1);
        let tat = tat_us.unwrap_or(now_us).max(now_us);
        let new_tat = tat.saturating_add(interval);
        let allow_at = new_tat.saturating_sub(window);
        let up = |us: u64| us.div_ceil(1_000_000);
        if now_us < allow_at {
            let decision = Decision {
                allowed: false,
                limit: quota.limit.get(),
                remaining: 0,
                reset_unix_secs: up(tat),
                retry_after_secs: up(allow_at - now_us).max(1),
            };
            return (decision, None);
        }
        let remaining = (now_us + window).saturating_sub(new_tat) / interval;
        let decision = Decision {
            allowed: true,
            limit: quota.limit.get(),
            remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
            reset_unix_secs: up(new_tat),
            retry_after_secs: 0,
        };
        (decision, Some(new_tat))
    }

    #[test]
    fn gcra_allows_the_limit_at_once_then_one_per_interval() {
        let q = Quota::new(5, Duration::from_secs(60)).unwrap();
        let start = 1_700_000_000_000_000u64;
        let mut tat = None;
        for expected in (0..5).rev() {
            let (d, next) = gcra(start, tat, q);
            assert!(d.allowed);
            assert_eq!(d.remaining, expected);
            tat = next;
        }
        let (d, next) = gcra(start, tat, q);
        assert!(!d.allowed);
        assert_eq!(next, None);
        assert_eq!(d.retry_after_secs, 12, "one token every 60 s / 5");
        assert_eq!(d.reset_unix_secs, start / 1_000_000 + 60);
        // Twelve seconds later exactly one more goes through.
        let later = start + 12_000_000;
        let (d, next) = gcra(later, tat, q);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        let (d, _) = gcra(later, next, q);
        assert!(!d.allowed);
    }
}
