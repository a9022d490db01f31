//! Configuration: command-line flags, each also settable by an environment variable
//! (README.md has the table). Defaults run the embedded SQLite store on 127.0.0.1:8080.
//!
//! Secrets are `secrecy::SecretString`: `Debug` prints `[REDACTED]`, and `--help` shows neither
//! their environment values nor their defaults.

use clap::Args;
use secrecy::SecretString;
use std::net::SocketAddr;

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

/// Settings of the HTTP server only.
#[derive(Debug, Clone, Args)]
pub struct ServerConfig {
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

    /// `/ready` fails when any projection is more than this many events behind the log head.
    #[arg(long, env = "TESSERA_READY_MAX_LAG", default_value_t = 1_000)]
    pub ready_max_lag: u64,

    /// How often the deadline scheduler looks for due deadlines, in milliseconds.
    #[arg(long, env = "TESSERA_DEADLINE_POLL_MS", default_value_t = 500)]
    pub deadline_poll_ms: u64,

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
        default_value = "mock-webhook-secret",
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

    /// The meeting-ticket system's settings (seed 000).
    #[command(flatten)]
    pub meeting: MeetingConfig,
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
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 1_024,
            ready_max_lag: 1_000,
            deadline_poll_ms: 500,
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
            mock_webhook_secret: SecretString::from("mock-webhook-secret"),
            stripe_api_base: "https://api.stripe.com".to_owned(),
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            meeting: MeetingConfig::default(),
        }
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
}
