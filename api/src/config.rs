//! Configuration: command-line flags, each also settable by an environment variable
//! (README.md has the table). Defaults run the embedded SQLite store on 127.0.0.1:8080.

use clap::Args;
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
        global = true
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

    /// Serve `/audit/...` (raw event history). Off by default until the identity issue puts them
    /// behind the `auditor` and `admin` roles.
    #[arg(long, env = "TESSERA_AUDIT_API", default_value_t = false)]
    pub audit_api: bool,

    /// `/ready` fails when any projection is more than this many events behind the log head.
    #[arg(long, env = "TESSERA_READY_MAX_LAG", default_value_t = 1_000)]
    pub ready_max_lag: u64,

    /// How often the deadline scheduler looks for due deadlines, in milliseconds.
    #[arg(long, env = "TESSERA_DEADLINE_POLL_MS", default_value_t = 500)]
    pub deadline_poll_ms: u64,

    /// Longest time a shutdown waits for projection batches and deadlines in progress, in seconds.
    #[arg(long, env = "TESSERA_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            audit_api: false,
            ready_max_lag: 1_000,
            deadline_poll_ms: 500,
            shutdown_grace_secs: 30,
        }
    }
}
