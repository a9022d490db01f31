//! Configuration: command-line flags, each also settable by an environment variable
//! (README.md has the table). Defaults run the embedded SQLite store on 127.0.0.1:8080.
//!
//! Secrets are `secrecy::SecretString`: `Debug` prints `[REDACTED]`, and `--help` shows neither
//! their environment values nor their defaults.

use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// Settings shared by the server and the command-line tools.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database URL: `sqlite://data/tessera.db` (embedded default; the folder is created) or
    /// `postgres://user@host:5432/db`. The backend follows the scheme.
    #[arg(
        long,
        env = "TESSERA_DATABASE_URL",
        default_value = "sqlite://data/tessera.db",
        global = true,
        // The URL may hold a password: `--help` must not echo it from the environment.
        hide_env_values = true
    )]
    pub database_url: String,

    /// Folder for files kept besides the database: the development secrets file (`secrets.json`).
    /// Default: the SQLite file's folder, or `./data` with PostgreSQL. Unused in production.
    #[arg(long, env = "TESSERA_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    /// Largest PostgreSQL connection pool.
    #[arg(
        long,
        env = "TESSERA_DATABASE_MAX_CONNECTIONS",
        default_value_t = 16,
        global = true
    )]
    pub database_max_connections: u32,

    /// Log filter (tracing `EnvFilter` syntax, e.g. `info` or `tessera=debug,info`).
    #[arg(
        long,
        env = "TESSERA_LOG",
        default_value = "info,sqlx=warn",
        global = true
    )]
    pub log: String,

    /// Log format: `text` or `json`.
    #[arg(
        long,
        env = "TESSERA_LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    pub log_format: String,
}

/// The public default of `TESSERA_MOCK_WEBHOOK_SECRET`, printed in README.md: production refuses it.
pub const DEFAULT_MOCK_WEBHOOK_SECRET: &str = "mock-webhook-secret";

/// What the server is run for (docs/decisions/0012-production-mode.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Environment {
    /// A developer's machine: Mock payments, the development WeChat verifier, SMS codes in the
    /// log, secrets generated once and kept under the data folder; a warning at start lists them.
    #[default]
    Development,
    /// A deployment: every secret must be configured (start fails naming each one missing or left
    /// at a default), development conveniences do not exist, cookies are `Secure`.
    Production,
}

/// Which parts of the server a process runs (docs/deployment.md,
/// docs/decisions/0038-several-processes.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Everything: the HTTP API, and the projections, process managers and deadlines (the
    /// projections and process managers only while this process leads them, on PostgreSQL).
    #[default]
    All,
    /// The HTTP API only; read-your-writes follows the checkpoints stored by the leader.
    Api,
    /// Projections, process managers and deadlines, with an HTTP listener for `/health`, `/ready`
    /// and `/metrics` only.
    Projections,
}

/// One entry of `TESSERA_TRUSTED_PROXIES`: an address (`10.0.0.7`) or a network in CIDR notation
/// (`10.0.0.0/8`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy {
    network: IpAddr,
    prefix: u8,
}

impl TrustedProxy {
    /// Whether `ip` is this address or inside this network (an IPv4-mapped IPv6 address counts as
    /// its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for TrustedProxy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (addr, prefix) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
        let network: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address or CIDR network"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}`: the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { network, prefix })
    }
}

impl Config {
    /// `TESSERA_EVENT_STORE_URL`: where the event log lives when it is not the database's own
    /// tables: `kurrentdb://host:2113?tls=false` (or `esdb://…`, `kurrentdb+discover://…`) puts it in
    /// KurrentDB, with `TESSERA_DATABASE_URL` (PostgreSQL) keeping read models, deadlines, keys and
    /// the position index (docs/decisions/0037-kurrentdb-event-store.md). Unset or empty: the
    /// database's event store. Read from the environment only (no flag), so that `Config` keeps
    /// its shape for every caller that builds one.
    pub fn event_store_url(&self) -> Option<String> {
        std::env::var("TESSERA_EVENT_STORE_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
    }

    /// The folder of the development secrets file: `TESSERA_DATA_DIR`, else the SQLite file's
    /// folder, else `./data` (PostgreSQL). `None` for an in-memory SQLite database.
    pub fn secrets_dir(&self) -> Option<PathBuf> {
        if let Some(dir) = &self.data_dir {
            return Some(dir.clone());
        }
        let Some(rest) = self.database_url.strip_prefix("sqlite:") else {
            return Some(PathBuf::from("data"));
        };
        let path = rest.trim_start_matches("//");
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        if path.is_empty() || path == ":memory:" {
            return None;
        }
        match Path::new(path).parent() {
            Some(p) if !p.as_os_str().is_empty() => Some(p.to_path_buf()),
            _ => Some(PathBuf::from(".")),
        }
    }
}

/// Settings of the HTTP server only.
#[derive(Debug, Clone, Args)]
pub struct ServerConfig {
    /// `development` (the default: conveniences on, listed in a warning at start) or `production`
    /// (refuses to start without every secret; no Mock payments, development WeChat verifier or
    /// console SMS; `Secure` cookies).
    #[arg(long = "env", env = "TESSERA_ENV", value_enum, default_value_t = Environment::Development)]
    pub environment: Environment,

    /// Origins (`https://app.example.com`, comma-separated) whose browsers may call the API
    /// cross-origin; none by default, so no CORS headers are sent.
    #[arg(long, env = "TESSERA_CORS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub cors_allowed_origins: Vec<String>,

    /// Reverse proxies (IPs or CIDR networks, comma-separated) whose `X-Forwarded-For` is believed
    /// for the client address logged with each request; none by default.
    #[arg(long, env = "TESSERA_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<TrustedProxy>,

    /// Rate limits of the OpenTicket API (seed 003 §9) and where they are counted.
    #[command(flatten)]
    pub rate_limits: RateLimitConfig,

    /// What this process runs: `all` (the default), `api` (HTTP only) or `projections`
    /// (projections, process managers and deadlines; `/health`, `/ready`, `/metrics` over HTTP).
    #[arg(long, env = "TESSERA_ROLE", value_enum, default_value_t = Role::All, global = true)]
    pub role: Role,

    /// Address to listen on.
    #[arg(long, env = "TESSERA_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Longest wait for a complete request head (request line and headers), in seconds; on a
    /// kept-alive connection the wait starts when the previous response is sent.
    #[arg(long, env = "TESSERA_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    pub header_read_timeout_secs: u64,

    /// A connection on which no byte moved either way for this long is closed, in seconds.
    #[arg(long, env = "TESSERA_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub idle_timeout_secs: u64,

    /// Most client connections served at once; further ones wait in the listen backlog until one
    /// closes.
    #[arg(long, env = "TESSERA_MAX_CONNECTIONS", default_value_t = 1_024)]
    pub max_connections: usize,

    /// How long an `Idempotency-Key` is remembered after its first use, in seconds (default 24 h):
    /// within it a retry with the same key replays the first answer
    /// (docs/decisions/0010-idempotency-keys.md).
    #[arg(long, env = "TESSERA_IDEMPOTENCY_TTL_SECS", default_value_t = 86_400)]
    pub idempotency_ttl_secs: u64,

    /// How long a request holding an `Idempotency-Key` keeps it before a retry may take it over,
    /// in seconds, should that request have died without an answer (a crash).
    #[arg(long, env = "TESSERA_IDEMPOTENCY_LEASE_SECS", default_value_t = 120)]
    pub idempotency_lease_secs: u64,

    /// `/ready` fails when any projection is more than this many events behind the log head.
    #[arg(long, env = "TESSERA_READY_MAX_LAG", default_value_t = 1_000)]
    pub ready_max_lag: u64,

    /// How often the deadline scheduler looks for due deadlines, in milliseconds.
    #[arg(long, env = "TESSERA_DEADLINE_POLL_MS", default_value_t = 500)]
    pub deadline_poll_ms: u64,

    /// Folder of the blob store shared by every document (Courtesy's avatars, banners and card
    /// resources, team plans' certification pictures), one file per SHA-256
    /// (docs/decisions/0024-blob-store.md). `TESSERA_COURTESY_BLOB_DIR`, its former name, is
    /// still accepted. Unset: `blobs` in the data folder (`TESSERA_DATA_DIR`, else the SQLite
    /// file's folder, else `./data`), set by [`ServerConfig::prepare`].
    #[arg(long, env = "TESSERA_BLOB_DIR")]
    pub blob_dir: Option<std::path::PathBuf>,

    // --- Courtesy (seed 001) -------------------------------------------------------------------
    /// Largest `POST /api/courtesy` body, in bytes (larger: error 400 in the body).
    #[arg(
        long,
        env = "TESSERA_COURTESY_JSON_MAX_BYTES",
        default_value_t = 1_048_576
    )]
    pub courtesy_json_max_bytes: usize,
    /// Largest avatar upload, in bytes (larger: error 422).
    #[arg(
        long,
        env = "TESSERA_COURTESY_AVATAR_MAX_BYTES",
        default_value_t = 5_242_880
    )]
    pub courtesy_avatar_max_bytes: usize,
    /// Largest banner upload, in bytes (larger: error 422).
    #[arg(
        long,
        env = "TESSERA_COURTESY_BANNER_MAX_BYTES",
        default_value_t = 10_485_760
    )]
    pub courtesy_banner_max_bytes: usize,
    /// Largest card resource upload, in bytes (larger: error 422).
    #[arg(
        long,
        env = "TESSERA_COURTESY_RES_MAX_BYTES",
        default_value_t = 52_428_800
    )]
    pub courtesy_res_max_bytes: usize,

    /// Longest time a shutdown waits for projection batches and deadlines in progress, in seconds.
    #[arg(long, env = "TESSERA_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,

    /// The URL clients reach this server at (no trailing slash); payment pages link back to it.
    /// Default: `http://{bind}`.
    #[arg(long, env = "TESSERA_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Key signing access tokens (HS256), at least 32 bytes. Without it a random key is made at
    /// start, so tokens do not survive a restart (fine for development only).
    #[arg(long, env = "TESSERA_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<SecretString>,

    /// Lifetime of access tokens, in seconds (OpenTicket `expiresIn`).
    #[arg(long, env = "TESSERA_ACCESS_TOKEN_TTL_SECS", default_value_t = 3_600)]
    pub access_token_ttl_secs: u64,

    /// Argon2id memory cost for password hashes, in KiB (OWASP's minimum is 19,456).
    #[arg(
        long,
        env = "TESSERA_PASSWORD_HASH_MEMORY_KIB",
        default_value_t = 19_456
    )]
    pub password_hash_memory_kib: u32,

    /// Argon2id iterations for password hashes.
    #[arg(long, env = "TESSERA_PASSWORD_HASH_ITERATIONS", default_value_t = 2)]
    pub password_hash_iterations: u32,

    /// Key signing ticket QR codes, at least 32 bytes. Without it a random key is made at start, so
    /// codes of earlier runs stop verifying (fine for development only).
    #[arg(long, env = "TESSERA_TICKET_CODE_SECRET", hide_env_values = true)]
    pub ticket_code_secret: Option<SecretString>,

    /// How long a seat lock holds, in seconds (OpenTicket `ttlSeconds`).
    #[arg(long, env = "TESSERA_SEAT_LOCK_TTL_SECS", default_value_t = 120)]
    pub seat_lock_ttl_secs: u64,

    /// How long an unpaid OpenTicket order lives before it expires and frees its seats, in seconds.
    #[arg(long, env = "TESSERA_ORDER_TTL_SECS", default_value_t = 600)]
    pub order_ttl_secs: u64,

    /// Most seats one lock request may ask for.
    #[arg(long, env = "TESSERA_MAX_SEATS_PER_LOCK", default_value_t = 10)]
    pub max_seats_per_lock: usize,

    /// Shared secret of the Mock payment provider's webhook (`X-Webhook-Signature: sha256=…`); a
    /// development default is built in.
    #[arg(
        long,
        env = "TESSERA_MOCK_WEBHOOK_SECRET",
        default_value = DEFAULT_MOCK_WEBHOOK_SECRET,
        hide_default_value = true,
        hide_env_values = true
    )]
    pub mock_webhook_secret: SecretString,

    /// Stripe API base URL (tests point it at a local server).
    #[arg(
        long,
        env = "TESSERA_STRIPE_API_BASE",
        default_value = "https://api.stripe.com"
    )]
    pub stripe_api_base: String,

    /// Stripe secret key (`sk_…`); without it the `Stripe` provider is not offered.
    #[arg(long, env = "TESSERA_STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<SecretString>,

    /// Stripe webhook signing secret (`whsec_…`), checked on `Stripe-Signature`, and also used for
    /// `X-Webhook-Signature` on the Stripe webhook route.
    #[arg(long, env = "TESSERA_STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    pub stripe_webhook_secret: Option<SecretString>,

    /// Google and Apple sign-in (seed 003 §2.2; docs/openticket.md, "OAuth sign-in").
    #[command(flatten)]
    pub oauth: OAuthConfig,

    /// The meeting-ticket system's settings (seed 000).
    #[command(flatten)]
    pub meeting: MeetingConfig,

    /// How long an unpaid shop order (seed 002) holds its stock before it expires, in seconds.
    #[arg(long, env = "TESSERA_SHOP_ORDER_TTL_SECS", default_value_t = 900)]
    pub shop_order_ttl_secs: u64,

    /// Where WeChat Pay posts the shop's payment notifications (seed 002 alias `WECHAT_NOTIFY_URL`);
    /// default `{public URL}/api/payment/wxpay/notify`.
    #[arg(long, env = "TESSERA_SHOP_WECHATPAY_NOTIFY_URL")]
    pub shop_wechatpay_notify_url: Option<String>,

    /// The team-plans settings (seed 004).
    #[command(flatten)]
    pub plans: PlansConfig,

    /// The team-plans external payments and recharge settings (seed 004; docs/alipay.md).
    #[command(flatten)]
    pub plans_payments: PlansPaymentsConfig,

    /// Traces over OTLP (docs/operations.md, "Traces"; docs/decisions/0036-traces-over-otlp.md).
    #[command(flatten)]
    pub traces: TracesConfig,
}

/// Where spans go besides the log: OTLP over HTTP with protobuf bodies, when an endpoint is set
/// (the OpenTelemetry SDKs' standard variables).
#[derive(Debug, Clone, Args)]
pub struct TracesConfig {
    /// Base URL of an OTLP/HTTP receiver (`http://collector:4318`); spans go to `{it}/v1/traces`
    /// (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, a full URL, wins when set). Unset: no traces.
    #[arg(long = "otlp-endpoint", env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// The `service.name` resource attribute of every span.
    #[arg(
        long = "otel-service-name",
        env = "OTEL_SERVICE_NAME",
        default_value = "tessera"
    )]
    pub service_name: String,
    /// The OTLP encoding; only `http/protobuf` is offered (gRPC would add a second HTTP/2 stack).
    #[arg(
        long = "otlp-protocol",
        env = "OTEL_EXPORTER_OTLP_PROTOCOL",
        default_value = "http/protobuf"
    )]
    pub protocol: String,
    /// Which spans are exported (tracing `EnvFilter` syntax, apart from `TESSERA_LOG`): by
    /// default the request spans and the DEBUG spans of command batches and projection batches.
    #[arg(long = "trace-filter", env = "TESSERA_TRACE_FILTER", default_value = DEFAULT_TRACE_FILTER)]
    pub filter: String,
}

/// `TESSERA_TRACE_FILTER`'s default.
pub const DEFAULT_TRACE_FILTER: &str = "info,tessera_application=debug,tessera_projections=debug,sqlx=warn,h2=warn,hyper=warn,reqwest=warn";

impl Default for TracesConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "tessera".to_owned(),
            protocol: "http/protobuf".to_owned(),
            filter: DEFAULT_TRACE_FILTER.to_owned(),
        }
    }
}

/// Settings of team plans (seed 004); docs/plans.md, "Configuration".
#[derive(Debug, Clone, Args)]
pub struct PlansConfig {
    /// A JSON plan catalogue (docs/plans.md, "Catalogue"); the built-in one when unset.
    #[arg(long, env = "TESSERA_PLANS_CATALOGUE")]
    pub plans_catalogue: Option<std::path::PathBuf>,
    /// How long a trial lasts, in seconds (default 15 days).
    #[arg(long, env = "TESSERA_PLANS_TRIAL_SECS", default_value_t = 1_296_000)]
    pub plans_trial_secs: u64,
    /// How long a paid period stays `overdue` after its end, in seconds (default 7 days).
    #[arg(long, env = "TESSERA_PLANS_GRACE_SECS", default_value_t = 604_800)]
    pub plans_grace_secs: u64,
    /// Largest certification picture (`POST /plan/auth/upload`, each file), in bytes (larger:
    /// 413 `payload_too_large`).
    #[arg(
        long,
        env = "TESSERA_PLANS_UPLOAD_MAX_BYTES",
        default_value_t = 10_485_760
    )]
    pub plans_upload_max_bytes: usize,
    /// Largest width and height of a certification picture, in pixels (larger: 400 `auth_pic`,
    /// refused from the image header before decoding).
    #[arg(long, env = "TESSERA_PLANS_UPLOAD_MAX_SIDE", default_value_t = 8_192)]
    pub plans_upload_max_side: u32,
    /// How long an unpaid plan order can be paid, in seconds (default 30 minutes); then it
    /// expires (a durable deadline).
    #[arg(long, env = "TESSERA_PLANS_ORDER_TTL_SECS", default_value_t = 1_800)]
    pub plans_order_ttl_secs: u64,
}

/// Google and Apple sign-in through OpenID Connect (`POST /v1/auth/oauth/{provider}`;
/// docs/decisions/0031-oauth-sign-in.md). A provider is offered only when its client id is set;
/// the URLs default to the real providers' documented endpoints (tests point them at a local
/// provider).
#[derive(Debug, Clone, Args)]
pub struct OAuthConfig {
    /// Google OAuth client id (`….apps.googleusercontent.com`); unset: Google sign-in answers 404.
    #[arg(long, env = "TESSERA_OAUTH_GOOGLE_CLIENT_ID")]
    pub oauth_google_client_id: Option<String>,
    /// Google OAuth client secret.
    #[arg(
        long,
        env = "TESSERA_OAUTH_GOOGLE_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub oauth_google_client_secret: Option<SecretString>,
    /// Google token endpoint.
    #[arg(long, env = "TESSERA_OAUTH_GOOGLE_TOKEN_URL", default_value = tessera_infrastructure::oidc::GOOGLE_TOKEN_URL)]
    pub oauth_google_token_url: String,
    /// Google's signing keys (JWKS).
    #[arg(long, env = "TESSERA_OAUTH_GOOGLE_JWKS_URL", default_value = tessera_infrastructure::oidc::GOOGLE_JWKS_URL)]
    pub oauth_google_jwks_url: String,
    /// Accepted `iss` values of Google ID tokens, comma-separated.
    #[arg(
        long,
        env = "TESSERA_OAUTH_GOOGLE_ISSUER",
        default_value = "https://accounts.google.com,accounts.google.com"
    )]
    pub oauth_google_issuer: String,
    /// Apple Services ID or bundle id (the `aud` of Apple ID tokens); unset: Apple sign-in
    /// answers 404.
    #[arg(long, env = "TESSERA_OAUTH_APPLE_CLIENT_ID")]
    pub oauth_apple_client_id: Option<String>,
    /// Apple developer team id (the client secret's `iss`).
    #[arg(long, env = "TESSERA_OAUTH_APPLE_TEAM_ID")]
    pub oauth_apple_team_id: Option<String>,
    /// Id of the Sign in with Apple key (the client secret's `kid`).
    #[arg(long, env = "TESSERA_OAUTH_APPLE_KEY_ID")]
    pub oauth_apple_key_id: Option<String>,
    /// File holding that key (Apple's `.p8`: PKCS#8 PEM, ECDSA P-256).
    #[arg(long, env = "TESSERA_OAUTH_APPLE_PRIVATE_KEY_FILE")]
    pub oauth_apple_private_key_file: Option<PathBuf>,
    /// Apple token endpoint.
    #[arg(long, env = "TESSERA_OAUTH_APPLE_TOKEN_URL", default_value = tessera_infrastructure::oidc::APPLE_TOKEN_URL)]
    pub oauth_apple_token_url: String,
    /// Apple's signing keys (JWKS).
    #[arg(long, env = "TESSERA_OAUTH_APPLE_JWKS_URL", default_value = tessera_infrastructure::oidc::APPLE_JWKS_URL)]
    pub oauth_apple_jwks_url: String,
    /// Accepted `iss` values of Apple ID tokens, comma-separated.
    #[arg(long, env = "TESSERA_OAUTH_APPLE_ISSUER", default_value = tessera_infrastructure::oidc::APPLE_ISSUER)]
    pub oauth_apple_issuer: String,
    /// Least time between two fetches of a provider's keys caused by an ID token naming an
    /// unknown key id, in seconds (the keys are fetched again hourly regardless).
    #[arg(long, env = "TESSERA_OAUTH_JWKS_REFETCH_SECS", default_value_t = 10)]
    pub oauth_jwks_refetch_secs: u64,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            oauth_google_client_id: None,
            oauth_google_client_secret: None,
            oauth_google_token_url: tessera_infrastructure::oidc::GOOGLE_TOKEN_URL.to_owned(),
            oauth_google_jwks_url: tessera_infrastructure::oidc::GOOGLE_JWKS_URL.to_owned(),
            oauth_google_issuer: "https://accounts.google.com,accounts.google.com".to_owned(),
            oauth_apple_client_id: None,
            oauth_apple_team_id: None,
            oauth_apple_key_id: None,
            oauth_apple_private_key_file: None,
            oauth_apple_token_url: tessera_infrastructure::oidc::APPLE_TOKEN_URL.to_owned(),
            oauth_apple_jwks_url: tessera_infrastructure::oidc::APPLE_JWKS_URL.to_owned(),
            oauth_apple_issuer: tessera_infrastructure::oidc::APPLE_ISSUER.to_owned(),
            oauth_jwks_refetch_secs: 10,
        }
    }
}

impl OAuthConfig {
    /// What production refuses: a provider configured halfway (a client id without the rest).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let missing_secret = self
            .oauth_google_client_secret
            .as_ref()
            .is_none_or(|s| s.expose_secret().trim().is_empty());
        if self.oauth_google_client_id.is_some() && missing_secret {
            problems.push(
                "TESSERA_OAUTH_GOOGLE_CLIENT_SECRET is not set although TESSERA_OAUTH_GOOGLE_CLIENT_ID is"
                    .into(),
            );
        }
        if self.oauth_apple_client_id.is_some() {
            for (name, set) in [
                (
                    "TESSERA_OAUTH_APPLE_TEAM_ID",
                    self.oauth_apple_team_id.is_some(),
                ),
                (
                    "TESSERA_OAUTH_APPLE_KEY_ID",
                    self.oauth_apple_key_id.is_some(),
                ),
                (
                    "TESSERA_OAUTH_APPLE_PRIVATE_KEY_FILE",
                    self.oauth_apple_private_key_file.is_some(),
                ),
            ] {
                if !set {
                    problems.push(format!(
                        "{name} is not set although TESSERA_OAUTH_APPLE_CLIENT_ID is"
                    ));
                }
            }
        }
        problems
    }
}

impl Default for PlansConfig {
    fn default() -> Self {
        Self {
            plans_catalogue: None,
            plans_trial_secs: 1_296_000,
            plans_grace_secs: 604_800,
            plans_upload_max_bytes: 10_485_760,
            plans_upload_max_side: 8_192,
            plans_order_ttl_secs: 1_800,
        }
    }
}

/// Rate limits of the OpenTicket API (seed 003 §9; docs/openticket.md, "Rate limits";
/// docs/decisions/0030-rate-limits.md).
#[derive(Debug, Clone, Args)]
pub struct RateLimitConfig {
    /// `on` (default: the seed's table per minute, per signed-in user or client address), `off`
    /// (no limits, for load tests and benchmarks; refused in production), a JSON policy
    /// (`{"window_secs", "limits", "overrides"}`), or the path of a JSON file holding one.
    #[arg(
        long = "rate-limits",
        env = "TESSERA_RATE_LIMITS",
        default_value = "on"
    )]
    pub limits: String,
    /// Redis that every server process of a deployment counts in (`redis://127.0.0.1:6379/0`);
    /// unset: each process counts on its own, in memory.
    #[arg(long, env = "TESSERA_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<SecretString>,
    /// Prefix of this deployment's rate-limit keys in Redis.
    #[arg(long, env = "TESSERA_REDIS_KEY_PREFIX", default_value = "tessera:rl:")]
    pub redis_key_prefix: String,
    /// Longest wait for Redis per request, in milliseconds; past it the request goes ahead
    /// unchecked (fail open, logged and counted at `GET /health/rate-limits`).
    #[arg(long, env = "TESSERA_REDIS_TIMEOUT_MS", default_value_t = 100)]
    pub redis_timeout_ms: u64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            limits: "on".to_owned(),
            redis_url: None,
            redis_key_prefix: "tessera:rl:".to_owned(),
            redis_timeout_ms: 100,
        }
    }
}

impl RateLimitConfig {
    /// Whether `TESSERA_RATE_LIMITS` turns the limits off.
    pub fn is_off(&self) -> bool {
        self.limits.trim().eq_ignore_ascii_case("off")
    }
}

/// Settings of the meeting-ticket system (seed 000): order expiry, SMS codes and gateway, the
/// WeChat app and WeChat Pay. docs/meeting-tickets.md explains each.
#[derive(Debug, Clone, Args)]
pub struct MeetingConfig {
    /// How long an unpaid meeting order holds its stock, in seconds.
    #[arg(long, env = "TESSERA_MEETING_ORDER_TTL_SECS", default_value_t = 900)]
    pub meeting_order_ttl_secs: u64,

    /// Offer the `mock` payment method (development; ids `mock_…` count as paid).
    #[arg(long, env = "TESSERA_MEETING_MOCK_PAYMENTS", default_value_t = true, action = clap::ArgAction::Set)]
    pub mock_payments: bool,

    /// HMAC key for stored SMS codes (≥ 32 bytes; random per run when unset).
    #[arg(long, env = "TESSERA_SMS_CODE_SECRET", hide_env_values = true)]
    pub sms_code_secret: Option<SecretString>,

    /// How long an SMS code is valid, in seconds.
    #[arg(long, env = "TESSERA_SMS_CODE_TTL_SECS", default_value_t = 300)]
    pub sms_code_ttl_secs: u64,

    /// Minimum time between two SMS codes for one phone, in seconds.
    #[arg(long, env = "TESSERA_SMS_COOLDOWN_SECS", default_value_t = 60)]
    pub sms_cooldown_secs: u64,

    /// Wrong attempts allowed per SMS code.
    #[arg(long, env = "TESSERA_SMS_MAX_ATTEMPTS", default_value_t = 5)]
    pub sms_max_attempts: u32,

    /// Tencent Cloud SMS `SecretId`; without it codes go to the log (console sender).
    #[arg(long, env = "TESSERA_TENCENT_SMS_SECRET_ID")]
    pub tencent_sms_secret_id: Option<String>,

    /// Tencent Cloud SMS `SecretKey`.
    #[arg(long, env = "TESSERA_TENCENT_SMS_SECRET_KEY", hide_env_values = true)]
    pub tencent_sms_secret_key: Option<SecretString>,

    /// Tencent Cloud SMS application id (`SmsSdkAppId`).
    #[arg(long, env = "TESSERA_TENCENT_SMS_SDK_APP_ID", default_value = "")]
    pub tencent_sms_sdk_app_id: String,

    /// Approved SMS signature (`SignName`).
    #[arg(long, env = "TESSERA_TENCENT_SMS_SIGN_NAME", default_value = "")]
    pub tencent_sms_sign_name: String,

    /// Approved template id (`TemplateId`) with parameters {1} code and {2} minutes.
    #[arg(long, env = "TESSERA_TENCENT_SMS_TEMPLATE_ID", default_value = "")]
    pub tencent_sms_template_id: String,

    /// Tencent Cloud SMS endpoint (tests point it at a local server).
    #[arg(
        long,
        env = "TESSERA_TENCENT_SMS_ENDPOINT",
        default_value = "https://sms.tencentcloudapi.com"
    )]
    pub tencent_sms_endpoint: String,

    /// WeChat app id; without it WeChat tokens are checked by the development verifier, which
    /// accepts exactly `dev:{wechatId}`.
    #[arg(long, env = "TESSERA_WECHAT_APP_ID")]
    pub wechat_app_id: Option<String>,

    /// WeChat app secret.
    #[arg(long, env = "TESSERA_WECHAT_APP_SECRET", hide_env_values = true)]
    pub wechat_app_secret: Option<SecretString>,

    /// WeChat API base URL (tests point it at a local server).
    #[arg(
        long,
        env = "TESSERA_WECHAT_API_BASE",
        default_value = "https://api.weixin.qq.com"
    )]
    pub wechat_api_base: String,

    /// WeChat Pay merchant id (`mchid`); without it WeChat Pay is not offered.
    #[arg(long, env = "TESSERA_WECHATPAY_MCH_ID")]
    pub wechatpay_mch_id: Option<String>,

    /// Serial number of the merchant API certificate.
    #[arg(long, env = "TESSERA_WECHATPAY_SERIAL_NO", default_value = "")]
    pub wechatpay_serial_no: String,

    /// File holding the merchant private key (PKCS#8 PEM).
    #[arg(long, env = "TESSERA_WECHATPAY_PRIVATE_KEY_FILE")]
    pub wechatpay_private_key_file: Option<std::path::PathBuf>,

    /// The APIv3 key (32 bytes).
    #[arg(long, env = "TESSERA_WECHATPAY_API_V3_KEY", hide_env_values = true)]
    pub wechatpay_api_v3_key: Option<SecretString>,

    /// WeChat Pay platform keys: `serial=path,serial=path` (certificate or `PUB_KEY_ID_…` public
    /// key PEM files).
    #[arg(long, env = "TESSERA_WECHATPAY_PLATFORM_KEYS", default_value = "")]
    pub wechatpay_platform_keys: String,

    /// WeChat Pay API base URL (tests point it at a local server).
    #[arg(
        long,
        env = "TESSERA_WECHATPAY_API_BASE",
        default_value = "https://api.mch.weixin.qq.com"
    )]
    pub wechatpay_api_base: String,

    /// The notification URL given to WeChat Pay; `{public URL}/wechatpay/notify` by default.
    #[arg(long, env = "TESSERA_WECHATPAY_NOTIFY_URL")]
    pub wechatpay_notify_url: Option<String>,
}

impl Default for MeetingConfig {
    fn default() -> Self {
        Self {
            meeting_order_ttl_secs: 900,
            mock_payments: true,
            sms_code_secret: None,
            sms_code_ttl_secs: 300,
            sms_cooldown_secs: 60,
            sms_max_attempts: 5,
            tencent_sms_secret_id: None,
            tencent_sms_secret_key: None,
            tencent_sms_sdk_app_id: String::new(),
            tencent_sms_sign_name: String::new(),
            tencent_sms_template_id: String::new(),
            tencent_sms_endpoint: "https://sms.tencentcloudapi.com".to_owned(),
            wechat_app_id: None,
            wechat_app_secret: None,
            wechat_api_base: "https://api.weixin.qq.com".to_owned(),
            wechatpay_mch_id: None,
            wechatpay_serial_no: String::new(),
            wechatpay_private_key_file: None,
            wechatpay_api_v3_key: None,
            wechatpay_platform_keys: String::new(),
            wechatpay_api_base: "https://api.mch.weixin.qq.com".to_owned(),
            wechatpay_notify_url: None,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            environment: Environment::Development,
            cors_allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            rate_limits: RateLimitConfig::default(),
            role: Role::All,
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 1_024,
            idempotency_ttl_secs: 86_400,
            idempotency_lease_secs: 120,
            ready_max_lag: 1_000,
            deadline_poll_ms: 500,
            blob_dir: None,
            courtesy_json_max_bytes: 1_048_576,
            courtesy_avatar_max_bytes: 5_242_880,
            courtesy_banner_max_bytes: 10_485_760,
            courtesy_res_max_bytes: 52_428_800,
            shutdown_grace_secs: 30,
            public_url: None,
            jwt_secret: None,
            access_token_ttl_secs: 3_600,
            password_hash_memory_kib: 19_456,
            password_hash_iterations: 2,
            ticket_code_secret: None,
            seat_lock_ttl_secs: 120,
            order_ttl_secs: 600,
            max_seats_per_lock: 10,
            mock_webhook_secret: SecretString::from(DEFAULT_MOCK_WEBHOOK_SECRET),
            stripe_api_base: "https://api.stripe.com".to_owned(),
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            oauth: OAuthConfig::default(),
            meeting: MeetingConfig::default(),
            shop_order_ttl_secs: 900,
            plans: PlansConfig::default(),
            plans_payments: PlansPaymentsConfig::default(),
            shop_wechatpay_notify_url: None,
            traces: TracesConfig::default(),
        }
    }
}

/// Why the server settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Production mode, with every setting that must change (one per line).
    #[error(
        "TESSERA_ENV=production refuses to start; fix these settings:\n  - {}",
        .0.join("\n  - ")
    )]
    Production(Vec<String>),
}

/// The secrets that production requires and development generates (and keeps) when unset.
const GENERATED_SECRETS: [&str; 3] = [
    "TESSERA_JWT_SECRET",
    "TESSERA_TICKET_CODE_SECRET",
    "TESSERA_SMS_CODE_SECRET",
];

impl ServerConfig {
    /// Whether this is production mode.
    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }

    fn generated_secret(&mut self, name: &str) -> &mut Option<SecretString> {
        match name {
            "TESSERA_JWT_SECRET" => &mut self.jwt_secret,
            "TESSERA_TICKET_CODE_SECRET" => &mut self.ticket_code_secret,
            _ => &mut self.meeting.sms_code_secret,
        }
    }

    /// Every setting production refuses: secrets missing or left at their public default, and
    /// providers configured halfway (an id without its secret). Empty in a usable configuration.
    pub fn production_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let missing = |v: &Option<SecretString>| {
            v.as_ref()
                .is_none_or(|s| s.expose_secret().trim().is_empty())
        };
        for (name, value) in [
            ("TESSERA_JWT_SECRET", &self.jwt_secret),
            ("TESSERA_TICKET_CODE_SECRET", &self.ticket_code_secret),
            ("TESSERA_SMS_CODE_SECRET", &self.meeting.sms_code_secret),
        ] {
            if missing(value) {
                problems.push(format!("{name} is not set (at least 32 random bytes)"));
            }
        }
        if self.mock_webhook_secret.expose_secret() == DEFAULT_MOCK_WEBHOOK_SECRET {
            problems.push(format!(
                "TESSERA_MOCK_WEBHOOK_SECRET is left at its public default `{DEFAULT_MOCK_WEBHOOK_SECRET}`"
            ));
        }
        if self.stripe_secret_key.is_some() && missing(&self.stripe_webhook_secret) {
            problems.push(
                "TESSERA_STRIPE_WEBHOOK_SECRET is not set although TESSERA_STRIPE_SECRET_KEY is"
                    .into(),
            );
        }
        if self.rate_limits.is_off() {
            problems.push(
                "TESSERA_RATE_LIMITS=off turns the OpenTicket rate limits off (load tests and benchmarks only)"
                    .into(),
            );
        }
        let m = &self.meeting;
        if m.tencent_sms_secret_id.is_some() && missing(&m.tencent_sms_secret_key) {
            problems.push(
                "TESSERA_TENCENT_SMS_SECRET_KEY is not set although TESSERA_TENCENT_SMS_SECRET_ID is"
                    .into(),
            );
        }
        if m.wechat_app_id.is_some() && missing(&m.wechat_app_secret) {
            problems.push(
                "TESSERA_WECHAT_APP_SECRET is not set although TESSERA_WECHAT_APP_ID is".into(),
            );
        }
        if m.wechatpay_mch_id.is_some() && missing(&m.wechatpay_api_v3_key) {
            problems.push(
                "TESSERA_WECHATPAY_API_V3_KEY is not set although TESSERA_WECHATPAY_MCH_ID is"
                    .into(),
            );
        }
        problems.extend(self.plans_payments.production_problems());
        problems.extend(self.oauth.problems());
        problems
    }

    /// Make the settings ready to serve. Production: refuse (naming every problem) unless
    /// [`ServerConfig::production_problems`] is empty. Development: fill each unset secret of
    /// [`GENERATED_SECRETS`] from `secrets.json` in [`Config::secrets_dir`], generating and
    /// saving (mode 0600) those not there yet, so tokens and ticket codes survive a restart.
    /// Both: an unset blob folder becomes `blobs` in the data folder.
    pub fn prepare(mut self, config: &Config) -> Result<ServerConfig, ConfigError> {
        self = self.with_seed_env(|name| std::env::var(name).ok());
        if self.blob_dir.is_none() {
            let data = config
                .secrets_dir()
                .unwrap_or_else(|| PathBuf::from("data"));
            self.blob_dir = Some(data.join("blobs"));
        }
        if self.is_production() {
            let problems = self.production_problems();
            return if problems.is_empty() {
                Ok(self)
            } else {
                Err(ConfigError::Production(problems))
            };
        }
        let unset: Vec<&str> = GENERATED_SECRETS
            .into_iter()
            .filter(|name| self.generated_secret(name).is_none())
            .collect();
        if unset.is_empty() {
            return Ok(self);
        }
        let Some(dir) = config.secrets_dir() else {
            return Ok(self);
        };
        let file = dir.join("secrets.json");
        let mut saved = read_secrets(&file);
        let mut changed = false;
        for name in unset {
            let value = saved.entry(name.to_owned()).or_insert_with(|| {
                changed = true;
                random_secret()
            });
            *self.generated_secret(name) = Some(SecretString::from(value.clone()));
        }
        if changed && let Err(e) = write_secrets(&dir, &file, &saved) {
            tracing::warn!(file = %file.display(), error = %e, "cannot save the generated development secrets: they last for this run only");
        }
        Ok(self)
    }

    /// The development conveniences that are on, one line each (empty in production).
    pub fn development_conveniences(&self, config: &Config) -> Vec<String> {
        if self.is_production() {
            return Vec::new();
        }
        let mut on = vec![
            "OpenTicket `Mock` payment provider and POST /v1/mock-payment/{id}/confirm (anyone holding a paymentId can pay)".to_owned(),
            "cookies are set without `Secure`".to_owned(),
        ];
        if self.mock_webhook_secret.expose_secret() == DEFAULT_MOCK_WEBHOOK_SECRET {
            on.push(format!(
                "Mock webhook secret is the public default `{DEFAULT_MOCK_WEBHOOK_SECRET}`"
            ));
        }
        if self.meeting.mock_payments {
            on.push("meeting `mock` payment method (ids `mock_…` count as paid)".to_owned());
        }
        if self.meeting.wechat_app_id.is_none() {
            on.push("development WeChat verifier (accepts `dev:{wechatId}` tokens)".to_owned());
        }
        if self.meeting.tencent_sms_secret_id.is_none() {
            on.push("console SMS sender (sign-in codes are written to the log)".to_owned());
        }
        if self.rate_limits.is_off() {
            on.push("OpenTicket rate limits are off (TESSERA_RATE_LIMITS=off)".to_owned());
        }
        if let Some(dir) = config.secrets_dir() {
            on.push(format!(
                "secrets not configured are generated and kept in {}",
                dir.join("secrets.json").display()
            ));
        }
        on
    }
}

/// 48 random bytes as hex.
fn random_secret() -> String {
    let mut bytes = [0u8; 48];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // Start-up only: without a random source no key can be made.
        tracing::error!("system random source failed");
    }
    hex::encode(bytes)
}

fn read_secrets(file: &Path) -> std::collections::BTreeMap<String, String> {
    match std::fs::read(file) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!(file = %file.display(), error = %e, "unreadable development secrets file: generating new secrets");
            Default::default()
        }),
        Err(_) => Default::default(),
    }
}

/// Write `secrets` to `file` atomically (a temporary file renamed over it), readable by the owner
/// only.
fn write_secrets(
    dir: &Path,
    file: &Path,
    secrets: &std::collections::BTreeMap<String, String>,
) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(".secrets.json.tmp");
    // A leftover from an interrupted write may have other permissions; `mode` applies on creation.
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(&tmp)?;
    out.write_all(&serde_json::to_vec_pretty(secrets).map_err(std::io::Error::other)?)?;
    out.sync_all()?;
    std::fs::rename(&tmp, file)
}

/// The environment variable names seed 002 and its usual deployments use for WeChat and WeChat Pay,
/// each with the setting it fills when Tessera's own name is not set (README.md lists both).
pub const SEED_ENV_ALIASES: [(&str, &str); 10] = [
    ("WECHAT_APPID", "TESSERA_WECHAT_APP_ID"),
    ("WECHAT_SECRET", "TESSERA_WECHAT_APP_SECRET"),
    ("WECHAT_APP_SECRET", "TESSERA_WECHAT_APP_SECRET"),
    ("WECHAT_MCHID", "TESSERA_WECHATPAY_MCH_ID"),
    ("WECHAT_API_V3_KEY", "TESSERA_WECHATPAY_API_V3_KEY"),
    ("WECHAT_SERIAL_NO", "TESSERA_WECHATPAY_SERIAL_NO"),
    (
        "WECHAT_PRIVATE_KEY_PATH",
        "TESSERA_WECHATPAY_PRIVATE_KEY_FILE",
    ),
    (
        "WECHAT_PLATFORM_CERT_SERIAL + WECHAT_PLATFORM_CERT_PATH",
        "TESSERA_WECHATPAY_PLATFORM_KEYS",
    ),
    (
        "WECHAT_PUBLIC_KEY_ID + WECHAT_PUBLIC_KEY_PATH",
        "TESSERA_WECHATPAY_PLATFORM_KEYS",
    ),
    ("WECHAT_NOTIFY_URL", "TESSERA_SHOP_WECHATPAY_NOTIFY_URL"),
];

impl ServerConfig {
    /// Fill every WeChat and WeChat Pay setting still unset from the seed's names
    /// ([`SEED_ENV_ALIASES`]) as `lookup` finds them (the process environment in
    /// [`ServerConfig::prepare`]). Tessera's own `TESSERA_*` names win; blank values count as
    /// unset. The platform key pairs are added to `TESSERA_WECHATPAY_PLATFORM_KEYS` only when that
    /// is empty.
    pub fn with_seed_env(mut self, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if self.blob_dir.is_none() {
            // The blob folder's former, Courtesy-only name.
            self.blob_dir = get("TESSERA_COURTESY_BLOB_DIR").map(PathBuf::from);
        }
        let m = &mut self.meeting;
        if m.wechat_app_id.is_none() {
            m.wechat_app_id = get("WECHAT_APPID");
        }
        if m.wechat_app_secret.is_none() {
            m.wechat_app_secret = get("WECHAT_SECRET")
                .or_else(|| get("WECHAT_APP_SECRET"))
                .map(SecretString::from);
        }
        if m.wechatpay_mch_id.is_none() {
            m.wechatpay_mch_id = get("WECHAT_MCHID");
        }
        if m.wechatpay_api_v3_key.is_none() {
            m.wechatpay_api_v3_key = get("WECHAT_API_V3_KEY").map(SecretString::from);
        }
        if m.wechatpay_serial_no.trim().is_empty()
            && let Some(serial) = get("WECHAT_SERIAL_NO")
        {
            m.wechatpay_serial_no = serial;
        }
        if m.wechatpay_private_key_file.is_none() {
            m.wechatpay_private_key_file = get("WECHAT_PRIVATE_KEY_PATH").map(PathBuf::from);
        }
        if m.wechatpay_platform_keys.trim().is_empty() {
            let pairs = [
                ("WECHAT_PLATFORM_CERT_SERIAL", "WECHAT_PLATFORM_CERT_PATH"),
                ("WECHAT_PUBLIC_KEY_ID", "WECHAT_PUBLIC_KEY_PATH"),
            ];
            m.wechatpay_platform_keys = pairs
                .iter()
                .filter_map(|(id, path)| Some(format!("{}={}", get(id)?, get(path)?)))
                .collect::<Vec<_>>()
                .join(",");
        }
        if self.shop_wechatpay_notify_url.is_none() {
            self.shop_wechatpay_notify_url = get("WECHAT_NOTIFY_URL");
        }
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use crate::cli::Cli;
    use clap::{CommandFactory, Parser};
    use secrecy::ExposeSecret;

    /// Every secret flag, with a value that must never be printed.
    const SECRETS: [(&str, &str); 9] = [
        ("--jwt-secret", "jwt-secret-value-0001"),
        ("--ticket-code-secret", "ticket-code-secret-value-0002"),
        ("--mock-webhook-secret", "mock-webhook-secret-value-0003"),
        ("--stripe-secret-key", "sk_test_secret-value-0004"),
        ("--stripe-webhook-secret", "whsec_secret-value-0005"),
        ("--sms-code-secret", "sms-code-secret-value-0006"),
        ("--tencent-sms-secret-key", "tencent-secret-value-0007"),
        ("--wechat-app-secret", "wechat-app-secret-value-0008"),
        ("--wechatpay-api-v3-key", "wechatpay-api-v3-key-value-0009"),
    ];

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        use super::TrustedProxy;
        let cli = Cli::try_parse_from([
            "tessera",
            "--env",
            "production",
            "--trusted-proxies",
            "10.0.0.0/8, 192.168.1.7,fd00::/8",
        ])
        .unwrap();
        assert!(cli.server.is_production());
        let t = &cli.server.trusted_proxies;
        assert_eq!(t.len(), 3);
        assert!(t[0].contains("10.200.3.4".parse().unwrap()));
        assert!(t[0].contains("::ffff:10.1.1.1".parse().unwrap()));
        assert!(!t[0].contains("11.0.0.1".parse().unwrap()));
        assert!(t[1].contains("192.168.1.7".parse().unwrap()));
        assert!(!t[1].contains("192.168.1.8".parse().unwrap()));
        assert!(t[2].contains("fd12::1".parse().unwrap()));
        assert!(!t[2].contains("10.0.0.1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "proxy.local", "fd00::/129", ""] {
            assert!(bad.parse::<TrustedProxy>().is_err(), "{bad}");
        }
        assert!(
            "0.0.0.0/0"
                .parse::<TrustedProxy>()
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        let cli = Cli::try_parse_from(["tessera"]).unwrap();
        assert!(!cli.server.is_production(), "development is the default");
    }

    #[test]
    fn secrets_folder_follows_the_database() {
        let dir = |url: &str| {
            let cli = Cli::try_parse_from(["tessera", "--database-url", url]).unwrap();
            cli.config.secrets_dir().map(|p| p.display().to_string())
        };
        assert_eq!(dir("sqlite://data/tessera.db").as_deref(), Some("data"));
        assert_eq!(
            dir("sqlite:///var/lib/t/x.db?mode=rwc").as_deref(),
            Some("/var/lib/t")
        );
        assert_eq!(dir("sqlite://x.db").as_deref(), Some("."));
        assert_eq!(dir("sqlite::memory:"), None);
        assert_eq!(dir("postgres://u@h/db").as_deref(), Some("data"));
    }

    #[test]
    fn debug_never_prints_a_secret() {
        let args = SECRETS.iter().flat_map(|(flag, value)| [*flag, *value]);
        let cli = Cli::try_parse_from(std::iter::once("tessera").chain(args)).unwrap();
        assert_eq!(
            cli.server.jwt_secret.as_ref().unwrap().expose_secret(),
            "jwt-secret-value-0001"
        );
        assert_eq!(
            cli.server.mock_webhook_secret.expose_secret(),
            "mock-webhook-secret-value-0003"
        );
        let printed = format!("{cli:?}");
        assert!(printed.contains("[REDACTED]"), "{printed}");
        for (flag, value) in SECRETS {
            assert!(!printed.contains(value), "{flag} printed: {printed}");
        }
    }

    #[test]
    fn help_shows_no_secret_default_or_environment_value() {
        let cli = Cli::try_parse_from(["tessera"]).unwrap();
        assert_eq!(
            cli.server.mock_webhook_secret.expose_secret(),
            "mock-webhook-secret"
        );
        let mut command = Cli::command();
        let help = command.render_long_help().to_string();
        assert!(!help.contains("default: mock-webhook-secret"), "{help}");
        let flags = SECRETS.iter().map(|(flag, _)| *flag);
        for flag in flags.chain(["--database-url"]) {
            let id = flag.trim_start_matches("--").replace('-', "_");
            let arg = command
                .get_arguments()
                .find(|a| a.get_id() == id.as_str())
                .unwrap_or_else(|| panic!("no argument {id}"));
            assert!(
                arg.is_hide_env_values_set(),
                "{flag} shows its environment value"
            );
        }
    }

    #[test]
    fn seed_environment_names_fill_unset_wechat_settings_only() {
        let env: std::collections::HashMap<&str, &str> = [
            ("WECHAT_APPID", "wx-seed"),
            ("WECHAT_MCHID", "1900000109"),
            ("WECHAT_API_V3_KEY", "k".repeat(32).leak()),
            ("WECHAT_SERIAL_NO", "ABC123"),
            ("WECHAT_PRIVATE_KEY_PATH", "/keys/apiclient_key.pem"),
            ("WECHAT_PUBLIC_KEY_ID", "PUB_KEY_ID_01"),
            ("WECHAT_PUBLIC_KEY_PATH", "/keys/pub_key.pem"),
            (
                "WECHAT_PLATFORM_CERT_SERIAL",
                "5157F09EFDC096DE15EBE81A47057A72",
            ),
            ("WECHAT_PLATFORM_CERT_PATH", "/keys/platform.pem"),
            (
                "WECHAT_NOTIFY_URL",
                "https://shop.example/api/payment/wxpay/notify",
            ),
            ("WECHAT_SECRET", " "),
        ]
        .into_iter()
        .collect();
        let lookup = |k: &str| env.get(k).map(|v| (*v).to_owned());
        let c = super::ServerConfig::default().with_seed_env(lookup);
        let m = &c.meeting;
        assert_eq!(m.wechat_app_id.as_deref(), Some("wx-seed"));
        assert_eq!(m.wechatpay_mch_id.as_deref(), Some("1900000109"));
        assert_eq!(
            m.wechatpay_api_v3_key.as_ref().unwrap().expose_secret(),
            "k".repeat(32)
        );
        assert_eq!(m.wechatpay_serial_no, "ABC123");
        assert_eq!(
            m.wechatpay_private_key_file.as_deref(),
            Some(std::path::Path::new("/keys/apiclient_key.pem"))
        );
        assert_eq!(
            m.wechatpay_platform_keys,
            "5157F09EFDC096DE15EBE81A47057A72=/keys/platform.pem,PUB_KEY_ID_01=/keys/pub_key.pem"
        );
        assert!(m.wechat_app_secret.is_none(), "a blank value is unset");
        assert_eq!(
            c.shop_wechatpay_notify_url.as_deref(),
            Some("https://shop.example/api/payment/wxpay/notify")
        );
        // Tessera's own settings win.
        let mut ours = super::ServerConfig::default();
        ours.meeting.wechat_app_id = Some("wx-ours".into());
        ours.meeting.wechatpay_platform_keys = "PUB_KEY_ID_X=/x.pem".into();
        let c = ours.with_seed_env(lookup);
        assert_eq!(c.meeting.wechat_app_id.as_deref(), Some("wx-ours"));
        assert_eq!(c.meeting.wechatpay_platform_keys, "PUB_KEY_ID_X=/x.pem");
    }

    #[test]
    fn former_courtesy_blob_dir_name_fills_only_an_unset_blob_dir() {
        let lookup = |k: &str| {
            (k == "TESSERA_COURTESY_BLOB_DIR").then(|| "/srv/tessera/old-blobs".to_owned())
        };
        let c = super::ServerConfig::default().with_seed_env(lookup);
        assert_eq!(
            c.blob_dir.as_deref(),
            Some(std::path::Path::new("/srv/tessera/old-blobs"))
        );
        let ours = super::ServerConfig {
            blob_dir: Some("/srv/tessera/blobs".into()),
            ..Default::default()
        };
        let c = ours.with_seed_env(lookup);
        assert_eq!(
            c.blob_dir.as_deref(),
            Some(std::path::Path::new("/srv/tessera/blobs"))
        );
    }

    #[test]
    fn production_refuses_oauth_providers_configured_halfway() {
        let mut c = super::ServerConfig::default();
        assert!(
            c.oauth.problems().is_empty(),
            "unconfigured providers are fine"
        );
        c.oauth.oauth_google_client_id = Some("id.apps.googleusercontent.com".into());
        c.oauth.oauth_apple_client_id = Some("io.openticket.web".into());
        c.oauth.oauth_apple_team_id = Some("TEAM123456".into());
        let problems = c.production_problems().join("\n");
        for name in [
            "TESSERA_OAUTH_GOOGLE_CLIENT_SECRET",
            "TESSERA_OAUTH_APPLE_KEY_ID",
            "TESSERA_OAUTH_APPLE_PRIVATE_KEY_FILE",
        ] {
            assert!(problems.contains(name), "{name} missing from {problems}");
        }
        assert!(
            !problems.contains("TESSERA_OAUTH_APPLE_TEAM_ID"),
            "{problems}"
        );
        c.oauth.oauth_google_client_secret = Some("s".into());
        c.oauth.oauth_apple_key_id = Some("KEY1".into());
        c.oauth.oauth_apple_private_key_file = Some("/keys/AuthKey.p8".into());
        assert!(c.oauth.problems().is_empty(), "{:?}", c.oauth.problems());
    }
}

/// Settings of team plans' external payments and recharges (seed 004; docs/plans.md,
/// "Payments and recharges"; docs/alipay.md).
#[derive(Debug, Clone, clap::Args)]
pub struct PlansPaymentsConfig {
    /// How long an external payment (and the recharge it pays for) stays payable, in seconds.
    #[arg(long, env = "TESSERA_PLANS_PAYMENT_TTL_SECS", default_value_t = 1_800)]
    pub plans_payment_ttl_secs: u64,
    /// A JSON recharge offer (limits and discount tiers; docs/plans.md); the built-in one when
    /// unset.
    #[arg(long, env = "TESSERA_PLANS_RECHARGE_OFFER")]
    pub plans_recharge_offer: Option<std::path::PathBuf>,
    /// Where WeChat Pay posts plans payment notifications; default
    /// `{public URL}/plans/wechatpay/notify`.
    #[arg(long, env = "TESSERA_PLANS_WECHATPAY_NOTIFY_URL")]
    pub plans_wechatpay_notify_url: Option<String>,
    /// The Alipay open-platform gateway.
    #[arg(
        long,
        env = "TESSERA_ALIPAY_GATEWAY",
        default_value = "https://openapi.alipay.com/gateway.do"
    )]
    pub alipay_gateway: String,
    /// The Alipay application's `app_id`; without it `alipay` is not offered.
    #[arg(long, env = "TESSERA_ALIPAY_APP_ID")]
    pub alipay_app_id: Option<String>,
    /// The application private key (PEM or bare Base64 PKCS#8), RSA2.
    #[arg(long, env = "TESSERA_ALIPAY_PRIVATE_KEY_FILE")]
    pub alipay_private_key_file: Option<std::path::PathBuf>,
    /// The Alipay public key (支付宝公钥; PEM or bare Base64).
    #[arg(long, env = "TESSERA_ALIPAY_PUBLIC_KEY_FILE")]
    pub alipay_public_key_file: Option<std::path::PathBuf>,
    /// Where Alipay posts notifications; default `{public URL}/plans/alipay/notify`.
    #[arg(long, env = "TESSERA_ALIPAY_NOTIFY_URL")]
    pub alipay_notify_url: Option<String>,
}

impl Default for PlansPaymentsConfig {
    fn default() -> Self {
        Self {
            plans_payment_ttl_secs: 1_800,
            plans_recharge_offer: None,
            plans_wechatpay_notify_url: None,
            alipay_gateway: "https://openapi.alipay.com/gateway.do".to_owned(),
            alipay_app_id: None,
            alipay_private_key_file: None,
            alipay_public_key_file: None,
            alipay_notify_url: None,
        }
    }
}

impl PlansPaymentsConfig {
    /// What production refuses: an Alipay app id without both key files, a gateway that is not
    /// `https://`, or Alipay's sandbox (`alipaydev.com`) or a local stand-in as the gateway.
    pub fn production_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.alipay_app_id.is_none() {
            return problems;
        }
        if self.alipay_private_key_file.is_none() || self.alipay_public_key_file.is_none() {
            problems.push(
                "TESSERA_ALIPAY_PRIVATE_KEY_FILE and TESSERA_ALIPAY_PUBLIC_KEY_FILE must both be set \
                 when TESSERA_ALIPAY_APP_ID is"
                    .into(),
            );
        }
        let gateway = self.alipay_gateway.to_ascii_lowercase();
        if !gateway.starts_with("https://")
            || gateway.contains("alipaydev.com")
            || gateway.contains("127.0.0.1")
            || gateway.contains("localhost")
        {
            problems.push(format!(
                "TESSERA_ALIPAY_GATEWAY `{}` is a development gateway (production needs Alipay's https gateway)",
                self.alipay_gateway
            ));
        }
        problems
    }
}
