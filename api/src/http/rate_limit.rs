//! Rate limits of the OpenTicket API (seed 003 §9.1–9.2): which class a request falls in, whose
//! budget it spends (the signed-in user, else the client address), the middleware that counts it
//! and adds `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` to the answer,
//! and the policy read from `TESSERA_RATE_LIMITS` (docs/decisions/0030-rate-limits.md).
//!
//! The counting itself is `tessera_infrastructure::ratelimit` (in process, or shared through
//! Redis). A refusal is rendered by the function the document registers ([`RefusalRenderer`]), so
//! that this neutral module stays free of any document's format.

use crate::config::{RateLimitConfig, ServerConfig, TrustedProxy};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use secrecy::ExposeSecret;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tessera_application::identity::AccessTokens;
use tessera_infrastructure::ratelimit::{
    Decision, LocalRateLimiter, Quota, RateLimiter, RedisRateLimiter, RedisSettings,
};
use uuid::Uuid;

/// `X-RateLimit-Limit`: requests allowed per window in the request's class.
pub const LIMIT_HEADER: HeaderName = HeaderName::from_static("x-ratelimit-limit");
/// `X-RateLimit-Remaining`: requests the caller may still make at once in this class.
pub const REMAINING_HEADER: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
/// `X-RateLimit-Reset`: when the caller's whole budget is back, Unix seconds (UTC).
pub const RESET_HEADER: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// The path under which the limits apply (OpenTicket's base URL).
const PREFIX: &str = "/v1";

/// The rows of seed 003 §9.1, plus payment webhooks (which the document leaves in "other"; they
/// come from a provider's few addresses, so they get a class of their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// `/v1/auth/*`, any method: 10 a minute.
    Auth,
    /// `POST /v1/sessions/{id}/seats/lock`: 5 a minute. Releasing (`DELETE`) is "other", so that a
    /// limited caller can always give seats back.
    SeatLock,
    /// `POST /v1/orders`: 3 a minute.
    OrderCreate,
    /// `/v1/webhooks/*`: 1,000 a minute per sending address.
    Webhook,
    /// Every other `/v1` route: 100 a minute.
    Other,
}

impl Class {
    /// Every class, in the order of [`Limits`].
    pub const ALL: [Class; 5] = [
        Class::Auth,
        Class::SeatLock,
        Class::OrderCreate,
        Class::Webhook,
        Class::Other,
    ];

    /// The class of a request, or `None` outside `/v1` (the other documents are not limited:
    /// docs/decisions/0030-rate-limits.md).
    pub fn of(method: &Method, path: &str) -> Option<Class> {
        let rest = path.strip_prefix(PREFIX)?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        Some(match segments.as_slice() {
            ["auth", ..] => Class::Auth,
            ["webhooks", ..] => Class::Webhook,
            ["sessions", _, "seats", "lock"] if method == Method::POST => Class::SeatLock,
            ["orders"] if method == Method::POST => Class::OrderCreate,
            _ => Class::Other,
        })
    }

    /// The class's name in keys, logs, `details.class` and the policy's `limits` object.
    pub fn name(self) -> &'static str {
        match self {
            Class::Auth => "auth",
            Class::SeatLock => "seat_lock",
            Class::OrderCreate => "order_create",
            Class::Webhook => "webhook",
            Class::Other => "other",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Requests per window for each class; in an override, the classes left out keep the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// `/v1/auth/*`.
    pub auth: Option<u32>,
    /// `POST /v1/sessions/{id}/seats/lock`.
    pub seat_lock: Option<u32>,
    /// `POST /v1/orders`.
    pub order_create: Option<u32>,
    /// `/v1/webhooks/*`.
    pub webhook: Option<u32>,
    /// Every other `/v1` route.
    pub other: Option<u32>,
}

impl Limits {
    fn get(&self, class: Class) -> Option<u32> {
        match class {
            Class::Auth => self.auth,
            Class::SeatLock => self.seat_lock,
            Class::OrderCreate => self.order_create,
            Class::Webhook => self.webhook,
            Class::Other => self.other,
        }
    }
}

/// Seed 003 §9.1's numbers (and 1,000 for webhooks), per window.
pub const DEFAULT_LIMITS: [u32; 5] = [10, 5, 3, 1_000, 100];

/// The seed's window: one minute.
pub const DEFAULT_WINDOW_SECS: u64 = 60;

/// Whose budget an override raises (or lowers): a user, or every caller from a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partner {
    /// A signed-in user, by id.
    User(Uuid),
    /// Callers whose client address is in this network (anonymous or not).
    Client(TrustedProxy),
}

/// Other limits for one trusted partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// Who.
    pub partner: Partner,
    /// Their limits; classes left out keep the defaults.
    pub limits: Limits,
}

/// The limits in force, from `TESSERA_RATE_LIMITS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// No limits and no headers (`off`: load tests, benchmarks; refused in production).
    Off,
    /// Limits per class and per partner.
    On {
        /// The window every limit counts over.
        window: Duration,
        /// Limits by [`Class`] (in [`Class::ALL`] order).
        defaults: [u32; 5],
        /// Partners' limits; a user's override is looked up before a network's, and the first
        /// that matches wins.
        overrides: Vec<Override>,
    },
}

/// The JSON form of a policy (docs/openticket.md, "Rate limits").
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyJson {
    window_secs: Option<u64>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    overrides: Vec<OverrideJson>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideJson {
    user: Option<Uuid>,
    client: Option<String>,
    limits: Limits,
}

/// Why `TESSERA_RATE_LIMITS` cannot be used; the message names the offending member.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TESSERA_RATE_LIMITS: {0}")]
pub struct PolicyError(pub String);

impl Policy {
    /// Read `TESSERA_RATE_LIMITS`: empty or `on` for the seed's table, `off`, a JSON object
    /// (starting with `{`), or the path of a file holding one.
    ///
    /// Errors: [`PolicyError`] naming the member at fault (`limits.seat_lock`, `overrides[1].client`
    /// …), or the file that cannot be read.
    pub fn parse(setting: &str) -> Result<Policy, PolicyError> {
        let s = setting.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("on") {
            return Ok(Policy::seed());
        }
        if s.eq_ignore_ascii_case("off") {
            return Ok(Policy::Off);
        }
        let text = if s.starts_with('{') {
            s.to_owned()
        } else {
            std::fs::read_to_string(s)
                .map_err(|e| PolicyError(format!("cannot read the policy file `{s}`: {e}")))?
        };
        let json: PolicyJson =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(&text))
                .map_err(|e| PolicyError(format!("`{}`: {}", e.path(), e.inner())))?;
        Policy::from_json(json)
    }

    /// Seed 003 §9.1 as it stands.
    pub fn seed() -> Policy {
        Policy::On {
            window: Duration::from_secs(DEFAULT_WINDOW_SECS),
            defaults: DEFAULT_LIMITS,
            overrides: Vec::new(),
        }
    }

    fn from_json(json: PolicyJson) -> Result<Policy, PolicyError> {
        let window_secs = json.window_secs.unwrap_or(DEFAULT_WINDOW_SECS);
        if !(1..=86_400).contains(&window_secs) {
            return Err(PolicyError(
                "`window_secs` must be 1 to 86400 seconds".into(),
            ));
        }
        let positive = |limits: &Limits, at: &str| -> Result<(), PolicyError> {
            for class in Class::ALL {
                if limits.get(class) == Some(0) {
                    return Err(PolicyError(format!(
                        "`{at}.{}` must be at least 1 (leave a class out to keep its default)",
                        class.name()
                    )));
                }
            }
            Ok(())
        };
        positive(&json.limits, "limits")?;
        let mut defaults = DEFAULT_LIMITS;
        for class in Class::ALL {
            if let Some(n) = json.limits.get(class) {
                defaults[class.index()] = n;
            }
        }
        let mut overrides = Vec::with_capacity(json.overrides.len());
        for (i, o) in json.overrides.into_iter().enumerate() {
            let at = format!("overrides[{i}]");
            positive(&o.limits, &format!("{at}.limits"))?;
            let partner = match (o.user, o.client) {
                (Some(user), None) => Partner::User(user),
                (None, Some(client)) => Partner::Client(
                    client
                        .parse()
                        .map_err(|e| PolicyError(format!("`{at}.client`: {e}")))?,
                ),
                _ => {
                    return Err(PolicyError(format!(
                        "`{at}` needs exactly one of `user` (a user id) or `client` (an IP or CIDR network)"
                    )));
                }
            };
            overrides.push(Override {
                partner,
                limits: o.limits,
            });
        }
        // Users first, then networks, each in the order given.
        overrides.sort_by_key(|o| matches!(o.partner, Partner::Client(_)));
        Ok(Policy::On {
            window: Duration::from_secs(window_secs),
            defaults,
            overrides,
        })
    }

    /// The quota of `class` for a caller (`user` when signed in) at `client`; `None` when off.
    pub fn quota(&self, class: Class, user: Option<Uuid>, client: Option<IpAddr>) -> Option<Quota> {
        let Policy::On {
            window,
            defaults,
            overrides,
        } = self
        else {
            return None;
        };
        let partner = overrides.iter().find(|o| match &o.partner {
            Partner::User(id) => Some(*id) == user,
            Partner::Client(net) => client.is_some_and(|ip| net.contains(ip)),
        });
        let limit = partner
            .and_then(|o| o.limits.get(class))
            .unwrap_or(defaults[class.index()]);
        Quota::new(limit, *window)
    }
}

/// A refused request, for the document's renderer.
#[derive(Debug, Clone, Copy)]
pub struct Refusal {
    /// The class whose budget is spent.
    pub class: Class,
    /// The limiter's decision (limit, reset, retry after).
    pub decision: Decision,
}

/// Renders a [`Refusal`] as a 429 in the document's error format (the middleware adds the
/// headers).
pub type RefusalRenderer = fn(&Refusal) -> Response;

/// The limiter of one server: policy, backend, how callers are told apart, and the fail-open
/// counter.
pub struct RateLimits {
    policy: Policy,
    limiter: Option<Arc<dyn RateLimiter>>,
    tokens: Arc<dyn AccessTokens>,
    trusted: Vec<TrustedProxy>,
    refuse: RefusalRenderer,
    fail_open: AtomicU64,
    last_warning: AtomicU64,
}

impl RateLimits {
    /// The limits `config` asks for, told apart by `tokens` (the access-token verifier) and by the
    /// client address behind `trusted` proxies, refused through `refuse`. With
    /// `TESSERA_REDIS_URL` set the budgets live in Redis, otherwise in this process.
    ///
    /// Errors: [`PolicyError`] for an unusable `TESSERA_RATE_LIMITS` or Redis URL.
    pub fn new(
        config: &RateLimitConfig,
        tokens: Arc<dyn AccessTokens>,
        trusted: Vec<TrustedProxy>,
        refuse: RefusalRenderer,
    ) -> Result<Self, PolicyError> {
        let (policy, limiter) = Self::backend(config)?;
        Ok(Self {
            policy,
            limiter,
            tokens,
            trusted,
            refuse,
            fail_open: AtomicU64::new(0),
            last_warning: AtomicU64::new(0),
        })
    }

    /// [`RateLimits::new`] for a server's settings. [`RateLimits::check_config`] refused unusable
    /// settings at start; should they reach here anyway (an embedder calling `app` directly), the
    /// seed's table is counted in this process and the problem logged.
    pub fn for_app(
        server: &ServerConfig,
        tokens: Arc<dyn AccessTokens>,
        refuse: RefusalRenderer,
    ) -> Arc<Self> {
        let trusted = server.trusted_proxies.clone();
        let limits = Self::new(&server.rate_limits, tokens.clone(), trusted.clone(), refuse)
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "unusable rate-limit settings: counting the seed's table in this process");
                Self {
                    policy: Policy::seed(),
                    limiter: Some(Arc::new(LocalRateLimiter::new())),
                    tokens,
                    trusted,
                    refuse,
                    fail_open: AtomicU64::new(0),
                    last_warning: AtomicU64::new(0),
                }
            });
        Arc::new(limits)
    }

    /// Check the settings at start (before anything is served).
    ///
    /// Errors: [`PolicyError`] naming the member of `TESSERA_RATE_LIMITS` at fault, or the Redis
    /// URL the client cannot use.
    pub fn check_config(config: &RateLimitConfig) -> Result<(), PolicyError> {
        Self::backend(config).map(|_| ())
    }

    #[allow(clippy::type_complexity)]
    fn backend(
        config: &RateLimitConfig,
    ) -> Result<(Policy, Option<Arc<dyn RateLimiter>>), PolicyError> {
        let policy = Policy::parse(&config.limits)?;
        let limiter: Option<Arc<dyn RateLimiter>> = match (&policy, &config.redis_url) {
            (Policy::Off, _) => None,
            (_, Some(url)) if !url.expose_secret().trim().is_empty() => {
                let settings = RedisSettings {
                    url: url.expose_secret().trim().to_owned(),
                    key_prefix: config.redis_key_prefix.clone(),
                    timeout: Duration::from_millis(config.redis_timeout_ms.max(1)),
                };
                let redis =
                    RedisRateLimiter::new(&settings).map_err(|e| PolicyError(e.to_string()))?;
                Some(Arc::new(redis))
            }
            _ => Some(Arc::new(LocalRateLimiter::new())),
        };
        Ok((policy, limiter))
    }

    /// `off`, `local` or `redis`.
    pub fn mode(&self) -> &'static str {
        self.limiter.as_ref().map_or("off", |l| l.backend())
    }

    /// Requests let through unchecked because the backend could not decide (Redis down or slower
    /// than `TESSERA_REDIS_TIMEOUT_MS`) since the process started.
    pub fn fail_open_total(&self) -> u64 {
        self.fail_open.load(Ordering::Relaxed)
    }

    /// The signed-in user of a request, by its access token's signature and expiry alone (no
    /// store read: the handler still checks the session). An invalid token counts as anonymous.
    fn user(&self, request: &Request) -> Option<Uuid> {
        let value = request
            .headers()
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?;
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let claims = self.tokens.verify(token.trim(), chrono::Utc::now()).ok()?;
        Some(claims.user_id.as_uuid())
    }

    fn client(&self, request: &Request) -> Option<IpAddr> {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()?
            .0
            .ip();
        Some(crate::startup::client_ip(
            peer,
            request.headers(),
            &self.trusted,
        ))
    }

    /// Count the failure; warn at most once every 10 s, with the running total.
    fn failed_open(&self, class: Class, error: &dyn std::fmt::Display) {
        let total = self.fail_open.fetch_add(1, Ordering::Relaxed) + 1;
        metrics::counter!("tessera_rate_limit_fail_open_total", "class" => class.name())
            .increment(1);
        let now = chrono::Utc::now().timestamp().max(0).unsigned_abs();
        let last = self.last_warning.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 10
            && self
                .last_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                class = class.name(),
                error = %error,
                fail_open_total = total,
                "rate limits not checked: letting requests through (fail open)"
            );
        }
    }
}

fn put_headers(response: &mut Response, decision: &Decision) {
    let headers = response.headers_mut();
    headers.insert(LIMIT_HEADER, HeaderValue::from(decision.limit));
    headers.insert(REMAINING_HEADER, HeaderValue::from(decision.remaining));
    headers.insert(RESET_HEADER, HeaderValue::from(decision.reset_unix_secs));
    if !decision.allowed {
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from(decision.retry_after_secs),
        );
    }
}

/// Middleware (inside the request-id scope, outside the routes): count each `/v1` request against
/// its class's budget for its caller — the signed-in user, else the client address — and either
/// pass it on and add the `X-RateLimit-*` headers to the answer, or answer the document's 429 with
/// those headers and `Retry-After`. When the backend cannot decide, the request passes without
/// headers (fail open), and the counter at `GET /health/rate-limits` goes up.
pub async fn limit(
    State(limits): State<Arc<RateLimits>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = limits.limiter.clone() else {
        return next.run(request).await;
    };
    let Some(class) = Class::of(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let user = limits.user(&request);
    let client = limits.client(&request);
    let Some(quota) = limits.policy.quota(class, user, client) else {
        return next.run(request).await;
    };
    let key = match (user, client) {
        (Some(user), _) => format!("{}:user:{user}", class.name()),
        (None, Some(ip)) => format!("{}:ip:{ip}", class.name()),
        (None, None) => format!("{}:ip:unknown", class.name()),
    };
    match limiter.check(&key, quota).await {
        Ok(decision) if decision.allowed => {
            let mut response = next.run(request).await;
            put_headers(&mut response, &decision);
            response
        }
        Ok(decision) => {
            let mut response = (limits.refuse)(&Refusal { class, decision });
            put_headers(&mut response, &decision);
            response
        }
        Err(e) => {
            limits.failed_open(class, &e);
            next.run(request).await
        }
    }
}

/// `GET /health/rate-limits`: `{"mode": "off" | "local" | "redis", "failOpenTotal": n}` — the
/// counter operators watch for a Redis that fails (docs/openticket.md, "Rate limits").
pub fn ops_router<S: Clone + Send + Sync + 'static>(limits: Arc<RateLimits>) -> axum::Router<S> {
    axum::Router::new().route(
        "/health/rate-limits",
        axum::routing::get(move || {
            let limits = limits.clone();
            async move {
                axum::Json(serde_json::json!({
                    "mode": limits.mode(),
                    "failOpenTotal": limits.fail_open_total(),
                }))
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn classes_follow_the_seed_table() {
        let c = |m: Method, p: &str| Class::of(&m, p);
        assert_eq!(c(Method::POST, "/v1/auth/login"), Some(Class::Auth));
        assert_eq!(c(Method::GET, "/v1/auth"), Some(Class::Auth));
        assert_eq!(
            c(Method::POST, "/v1/sessions/abc/seats/lock"),
            Some(Class::SeatLock)
        );
        assert_eq!(
            c(Method::DELETE, "/v1/sessions/abc/seats/lock"),
            Some(Class::Other)
        );
        assert_eq!(c(Method::POST, "/v1/orders"), Some(Class::OrderCreate));
        assert_eq!(c(Method::POST, "/v1/orders/"), Some(Class::OrderCreate));
        assert_eq!(c(Method::GET, "/v1/orders"), Some(Class::Other));
        assert_eq!(c(Method::DELETE, "/v1/orders/x"), Some(Class::Other));
        assert_eq!(
            c(Method::POST, "/v1/webhooks/payment/stripe"),
            Some(Class::Webhook)
        );
        assert_eq!(c(Method::GET, "/v1/venues"), Some(Class::Other));
        assert_eq!(c(Method::GET, "/v10/venues"), None);
        assert_eq!(c(Method::GET, "/users"), None);
        assert_eq!(c(Method::GET, "/hubs/tickets"), None);
    }

    #[test]
    fn policies_parse_with_overrides_and_name_bad_members() {
        assert_eq!(Policy::parse("").unwrap(), Policy::seed());
        assert_eq!(Policy::parse("OFF").unwrap(), Policy::Off);
        let user = Uuid::now_v7();
        let p = Policy::parse(&format!(
            r#"{{"window_secs": 3600, "limits": {{"seat_lock": 2}},
                "overrides": [{{"client": "203.0.113.0/24", "limits": {{"other": 7}}}},
                              {{"user": "{user}", "limits": {{"seat_lock": 50}}}}]}}"#
        ))
        .unwrap();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let q = |class, u, c| p.quota(class, u, c).unwrap().limit.get();
        assert_eq!(q(Class::SeatLock, None, ip("198.51.100.1")), 2);
        assert_eq!(q(Class::Auth, None, None), 10);
        assert_eq!(q(Class::SeatLock, Some(user), ip("203.0.113.5")), 50);
        assert_eq!(q(Class::Other, Some(user), ip("203.0.113.5")), 100);
        assert_eq!(q(Class::Other, None, ip("203.0.113.5")), 7);
        assert_eq!(
            p.quota(Class::Other, None, None).unwrap().window,
            Duration::from_secs(3600)
        );
        for (bad, named) in [
            (r#"{"limits": {"seat_lock": 0}}"#, "limits.seat_lock"),
            (r#"{"limits": {"seat_locks": 1}}"#, "seat_locks"),
            (r#"{"limits": {"auth": -1}}"#, "limits.auth"),
            (r#"{"window_secs": 0}"#, "window_secs"),
            (
                r#"{"overrides": [{"client": "nope", "limits": {}}]}"#,
                "overrides[0].client",
            ),
            (r#"{"overrides": [{"limits": {}}]}"#, "overrides[0]"),
            ("/no/such/policy.json", "/no/such/policy.json"),
        ] {
            let e = Policy::parse(bad).unwrap_err().to_string();
            assert!(e.contains(named), "{bad}: {e}");
        }
    }
}
