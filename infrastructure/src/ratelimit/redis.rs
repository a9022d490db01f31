//! The shared backend: GCRA state in Redis, one theoretical arrival time (TAT) per key, read and
//! written by one Lua script per check. Redis runs a script atomically, and the script reads the
//! time from Redis itself (`TIME`), so any number of server processes, whatever their clocks, see
//! one budget per key.

use super::{Decision, Quota, RateLimitError, RateLimiter};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;

/// GCRA in microseconds. KEYS[1]: the key. ARGV[1]: limit, ARGV[2]: window (µs).
/// Returns {allowed (0/1), remaining, reset (Unix s, rounded up), retry after (s, rounded up)}.
/// Integers stay below 2^53, so Lua's doubles hold them exactly; `%d` writes the TAT without an
/// exponent. The key expires when its bucket is full again, so idle keys cost nothing.
const GCRA: &str = r"
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local interval = math.max(math.floor(window / limit), 1)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - window
if now < allow_at then
  local wait = math.max(math.ceil((allow_at - now) / 1000000), 1)
  return {0, 0, math.ceil(tat / 1000000), wait}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.max(math.ceil((new_tat - now) / 1000), 1))
local remaining = math.floor((now + window - new_tat) / interval)
return {1, remaining, math.ceil(new_tat / 1000000), 0}
";

/// Where and how to reach Redis.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://host:port/db` (or `rediss://` is refused: built without TLS).
    pub url: String,
    /// Prepended to every key, e.g. `tessera:rl:`; lets deployments (and tests) share one Redis.
    pub key_prefix: String,
    /// Longest wait for one check, connecting included; past it the check fails (open).
    pub timeout: Duration,
}

/// Rate limits shared through Redis by every process pointed at the same server and prefix.
pub struct RedisRateLimiter {
    connection: ConnectionManager,
    script: redis::Script,
    prefix: String,
    timeout: Duration,
}

impl RedisRateLimiter {
    /// A limiter for `settings`. Connects lazily (and reconnects by itself), so a Redis that is
    /// down at start only makes checks fail until it is back.
    ///
    /// Errors: [`RateLimitError::Store`] for a URL the client cannot use.
    pub fn new(settings: &RedisSettings) -> Result<Self, RateLimitError> {
        let client = redis::Client::open(settings.url.as_str())
            .map_err(|e| RateLimitError::Store(format!("TESSERA_REDIS_URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout))
            .set_response_timeout(Some(settings.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| RateLimitError::Store(e.to_string()))?;
        Ok(Self {
            connection,
            script: redis::Script::new(GCRA),
            prefix: settings.key_prefix.clone(),
            timeout: settings.timeout,
        })
    }
}

#[async_trait::async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(&self, key: &str, quota: Quota) -> Result<Decision, RateLimitError> {
        let mut connection = self.connection.clone();
        let window_us = u64::try_from(quota.window.as_micros()).unwrap_or(u64::MAX);
        let mut call = self.script.prepare_invoke();
        call.key(format!("{}{key}", self.prefix))
            .arg(quota.limit.get())
            .arg(window_us);
        let answer: Vec<u64> =
            match tokio::time::timeout(self.timeout, call.invoke_async(&mut connection)).await {
                Err(_) => return Err(RateLimitError::Timeout(self.timeout)),
                Ok(Err(e)) => return Err(RateLimitError::Store(e.to_string())),
                Ok(Ok(answer)) => answer,
            };
        let [allowed, remaining, reset, retry_after] = answer[..] else {
            return Err(RateLimitError::Store(format!(
                "unexpected script answer {answer:?}"
            )));
        };
        Ok(Decision {
            allowed: allowed == 1,
            limit: quota.limit.get(),
            remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
            reset_unix_secs: reset,
            retry_after_secs: retry_after,
        })
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}
