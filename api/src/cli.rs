//! The `tessera` command line: the server (default) and the operator and auditor tools.

use crate::config::{Config, ServerConfig};
use crate::startup::{Engine, RunningServer};
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;
use tessera_infrastructure::{to_cloud_events, verify};

/// Tessera: event-sourced ticketing and commerce backend.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
pub struct Cli {
    /// Shared settings.
    #[command(flatten)]
    pub config: Config,
    /// Server settings (used by `serve`, the default command).
    #[command(flatten)]
    pub server: ServerConfig,
    /// What to do; without one, `serve`.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Create or update the database schema, then exit.
    Migrate,
    /// Projection maintenance.
    Projections {
        /// What to do.
        #[command(subcommand)]
        command: ProjectionsCommand,
    },
    /// Auditor tools.
    Audit {
        /// What to do.
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// User administration.
    Users {
        /// What to do.
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Event log tools.
    Events {
        /// What to do.
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Courtesy (seed 001) operator tools: QR codes and news.
    Courtesy {
        /// What to do.
        #[command(subcommand)]
        command: CourtesyCommand,
    },
    /// Run a local WeChat Pay API v3 stand-in for development (docs/meeting-tickets.md).
    WechatpaySandbox(crate::sandbox::SandboxArgs),
}

/// `tessera projections …`
#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Drop a projection's rows and rebuild it from position 0 (all projections without NAME).
    Rebuild {
        /// Projection name (see `tessera projections status`).
        name: Option<String>,
    },
    /// Show each projection's checkpoint and the log head.
    Status,
}

/// `tessera courtesy …`
#[derive(Debug, Subcommand)]
pub enum CourtesyCommand {
    /// QR codes.
    Qr {
        /// What to do.
        #[command(subcommand)]
        command: CourtesyQrCommand,
    },
    /// News (`news_query`).
    News {
        /// What to do.
        #[command(subcommand)]
        command: CourtesyNewsCommand,
    },
}

/// `tessera courtesy qr …`
#[derive(Debug, Subcommand)]
pub enum CourtesyQrCommand {
    /// Create COUNT new QR codes (random 32-hex ids) for CHANNEL; prints each id on its own line
    /// on stdout and, with `--out`, writes a printable PNG sheet of the codes.
    Generate {
        /// How many (1 to 10,000).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        count: u32,
        /// The distribution channel (`channel` in `qr_info`).
        #[arg(long, default_value_t = 0)]
        channel: u32,
        /// Where to write the PNG sheet.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

/// `tessera courtesy news …`
#[derive(Debug, Subcommand)]
pub enum CourtesyNewsCommand {
    /// Publish a news item for DATE; prints its id.
    Publish {
        /// The day it is listed under, `YYYY-MM-DD`.
        #[arg(long)]
        date: chrono::NaiveDate,
        /// The text shown (`string`).
        #[arg(long)]
        text: String,
        /// `type`: 0 news card, 1 link card.
        #[arg(long = "type", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=1))]
        kind: u8,
        /// `style.style_id`.
        #[arg(long, default_value_t = 0)]
        style_id: u32,
        /// `style.style_name`.
        #[arg(long, default_value = "white")]
        style_name: String,
        /// A card resource id for `image`.
        #[arg(long)]
        image: Option<String>,
        /// A card resource id for `audio`.
        #[arg(long)]
        audio: Option<String>,
        /// A card resource id for `video`.
        #[arg(long)]
        video: Option<String>,
        /// The link (`url`) of a link card.
        #[arg(long)]
        url: Option<String>,
    },
}

/// `tessera users …`
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create the first admin (or make an existing user of that email an admin, after checking its
    /// password). The password is read from standard input, never from the command line.
    CreateAdmin {
        /// The admin's email address.
        #[arg(long)]
        email: String,
        /// Read the password from standard input (required: passwords never go in arguments).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Disable a user: sign-in, refresh and every access token stop working from the next request.
    Disable(UserSelector),
    /// Enable a disabled user again (refused for an erased user).
    Enable(UserSelector),
    /// Erase a user's personal data (crypto-shredding, docs/decisions/0008-crypto-shredding.md):
    /// records `UserErased`, then destroys the keys sealing the user's email, phone, WeChat id,
    /// names and password hash. Irreversible; the account can never sign in again.
    Erase(UserSelector),
    /// Grant a role (customer, organizer, staff, auditor, admin) to the user with this email.
    GrantRole {
        /// The user's email address.
        #[arg(long)]
        email: String,
        /// Role to grant: `customer`, `organizer`, `staff`, `auditor` or `admin`.
        #[arg(long)]
        role: String,
    },
}

/// Which user a `tessera users` command acts on: exactly one of `--email` and `--user-id`
/// (users who signed up by phone have no email).
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct UserSelector {
    /// The user's email address.
    #[arg(long)]
    pub email: Option<String>,
    /// The user's id (a UUID).
    #[arg(long)]
    pub user_id: Option<uuid::Uuid>,
}

/// `tessera audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every stream's hash chain and the global positions. Exits 1 naming the first altered,
    /// removed or reordered event.
    Verify,
}

/// `tessera events …`
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Write the log to stdout as JSON lines, one CloudEvents 1.0 event per line.
    Export {
        /// First global position to include (inclusive; default 1).
        #[arg(long)]
        from: Option<u64>,
        /// Only this stream (e.g. `order-…`).
        #[arg(long)]
        stream: Option<String>,
    },
}

/// How a command ended (besides errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done; exit 0.
    Success,
    /// Ran, and found a problem (e.g. a tampered log); exit 1.
    Failure,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Failure => ExitCode::FAILURE,
        }
    }
}

/// Run the command line.
pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let telemetry =
        crate::telemetry::init_with(&cli.config.log, &cli.config.log_format, &cli.server.traces);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let grace = Duration::from_secs(cli.server.shutdown_grace_secs);
            let server = RunningServer::start(&cli.config, cli.server).await?;
            server.run_until_signal(grace).await;
            // Spans still queued are sent before the process exits.
            telemetry.shutdown().await;
            Ok(Outcome::Success)
        }
        Command::Migrate => {
            Engine::open(&cli.config).await?;
            eprintln!("migrations applied to {}", redact(&cli.config.database_url));
            Ok(Outcome::Success)
        }
        Command::Projections { command } => projections(&cli.config, command).await,
        Command::Users { command } => users(&cli.config, &cli.server, command).await,
        Command::Audit {
            command: AuditCommand::Verify,
        } => audit_verify(&cli.config).await,
        Command::Events {
            command: EventsCommand::Export { from, stream },
        } => {
            let mut out = std::io::BufWriter::new(std::io::stdout());
            export(&cli.config, from, stream, &mut out).await?;
            out.flush()?;
            Ok(Outcome::Success)
        }
        Command::Courtesy { command } => {
            let mut out = std::io::stdout();
            courtesy(&cli.config, &cli.server, command, &mut out).await?;
            Ok(Outcome::Success)
        }
        Command::WechatpaySandbox(args) => {
            crate::sandbox::run(args).await?;
            Ok(Outcome::Success)
        }
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn progress_bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:40}] {pos}/{len} events · {per_sec} · {msg} · eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(what.to_owned());
    bar
}

async fn projections(config: &Config, command: ProjectionsCommand) -> anyhow::Result<Outcome> {
    let engine = Engine::open(config).await?;
    let runner = &engine.runner;
    let head = engine.events.head_position().await?;
    match command {
        ProjectionsCommand::Status => {
            println!("log head: {head}");
            for name in runner.names() {
                let cp = runner.checkpoint(name).await?;
                println!(
                    "{name}: position {} (version {}, {} behind)",
                    cp.position,
                    cp.version,
                    head.saturating_sub(cp.position)
                );
            }
        }
        ProjectionsCommand::Rebuild { name } => {
            // One named projection is rebuilt alone; without a name every projection is rebuilt
            // in one lane: the log is read once and each batch committed once for all of them
            // (docs/decisions/0035-projection-transactions.md).
            let names: Vec<&str> = match &name {
                Some(n) => {
                    if !runner.names().contains(&n.as_str()) {
                        bail!(
                            "no projection named {n}; known: {}",
                            runner.names().join(", ")
                        );
                    }
                    vec![n.as_str()]
                }
                None => runner.names(),
            };
            let what = match &name {
                Some(n) => n.clone(),
                None => format!("{} projections", names.len()),
            };
            let bar = progress_bar(head, &what);
            let started = std::time::Instant::now();
            let position = runner
                .rebuild_together(&names, |pos, total| {
                    bar.set_length(total);
                    bar.set_position(pos);
                    bar.set_message(format!("{} remaining", total.saturating_sub(pos)));
                })
                .await
                .with_context(|| format!("rebuilding {what}"))?;
            bar.finish();
            let secs = started.elapsed().as_secs_f64().max(1e-9);
            eprintln!(
                "{what}: rebuilt up to position {position} in {secs:.2}s ({:.0} events/s)",
                position as f64 / secs
            );
        }
    }
    Ok(Outcome::Success)
}

/// `tessera courtesy …`: writes the new ids (one a line) to `out`.
///
/// Errors: settings, store and file failures.
pub async fn courtesy(
    config: &Config,
    server: &ServerConfig,
    command: CourtesyCommand,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let server = server.clone().prepare(config)?;
    let engine = Engine::open(config).await?;
    let services = crate::services::Services::build(&engine, &server)?;
    let meta = tessera_application::event_store::EventMetadata::default();
    match command {
        CourtesyCommand::Qr {
            command:
                CourtesyQrCommand::Generate {
                    count,
                    channel,
                    out: file,
                },
        } => {
            let ids = services
                .courtesy
                .generate_qr_codes(count, channel, &meta)
                .await?;
            for id in &ids {
                writeln!(out, "{id}")?;
            }
            if let Some(file) = file {
                let png = crate::courtesy::sheet::sheet_png(&ids).map_err(anyhow::Error::msg)?;
                std::fs::write(&file, png)
                    .with_context(|| format!("writing {}", file.display()))?;
                eprintln!(
                    "{} QR codes; sheet written to {}",
                    ids.len(),
                    file.display()
                );
            }
        }
        CourtesyCommand::News {
            command:
                CourtesyNewsCommand::Publish {
                    date,
                    text,
                    kind,
                    style_id,
                    style_name,
                    image,
                    audio,
                    video,
                    url,
                },
        } => {
            use tessera_domain::courtesy::news::{NewsItem, NewsMedia};
            let media = |rid: Option<String>| {
                rid.map(|rid| NewsMedia {
                    rid,
                    sha256: String::new(),
                })
            };
            let id = services
                .courtesy
                .publish_news(
                    NewsItem {
                        news_id: String::new(),
                        date,
                        kind,
                        text,
                        style_id,
                        style_name,
                        image: media(image),
                        audio: media(audio),
                        video: media(video),
                        url,
                    },
                    &meta,
                )
                .await?;
            writeln!(out, "{id}")?;
        }
    }
    out.flush()?;
    Ok(())
}

async fn users(
    config: &Config,
    server: &ServerConfig,
    command: UsersCommand,
) -> anyhow::Result<Outcome> {
    // The same secrets as the server (development file or production settings), so that what
    // this command writes matches what the server checks.
    let server = server.clone().prepare(config)?;
    let engine = Engine::open(config).await?;
    let services = crate::services::Services::build(&engine, &server)?;
    let identity = &services.identity;
    match command {
        UsersCommand::CreateAdmin { email, .. } => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            let user = identity.create_admin(&email, password).await?;
            println!(
                "admin {} ({})",
                user.email.as_ref().map_or("-", |e| e.as_str()),
                user.user_id
            );
        }
        UsersCommand::Disable(who) => {
            let user_id = select_user(identity, &who).await?;
            identity.disable_user(None, user_id).await?;
            println!("user {user_id} disabled");
        }
        UsersCommand::Enable(who) => {
            let user_id = select_user(identity, &who).await?;
            identity.enable_user(None, user_id).await?;
            println!("user {user_id} enabled");
        }
        UsersCommand::Erase(who) => {
            let user_id = select_user(identity, &who).await?;
            let destroyed = identity
                .erase_user(None, user_id, engine.privacy.keys())
                .await?;
            // Kept `Idempotency-Key` answers can hold the user's personal data (decision 0010).
            let answers =
                tessera_infrastructure::idempotency::IdempotencyStore::new(engine.database.clone())
                    .forget_caller(&format!("user:{user_id}"))
                    .await?;
            println!(
                "user {user_id} erased ({destroyed} key(s) destroyed, {answers} kept answer(s) deleted)"
            );
        }
        UsersCommand::GrantRole { email, role } => {
            let role = role.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let user = identity.user_by_email(&email).await?;
            let user = identity.grant_role(None, user.user_id, role).await?;
            let roles: Vec<String> = user.roles.iter().map(ToString::to_string).collect();
            println!(
                "{} now has roles {}",
                user.email.as_ref().map_or("-", |e| e.as_str()),
                roles.join(", ")
            );
        }
    }
    Ok(Outcome::Success)
}

/// The id of the user `who` names (the email looked up through its guard stream). Messages name
/// the id, never the email.
async fn select_user(
    identity: &tessera_application::identity::IdentityService,
    who: &UserSelector,
) -> anyhow::Result<tessera_domain::UserId> {
    match (&who.email, who.user_id) {
        (_, Some(id)) => Ok(tessera_domain::UserId::from_uuid(id)),
        (Some(email), None) => Ok(identity
            .user_by_email(email)
            .await
            .map_err(|e| anyhow::anyhow!("no user with that email: {e}"))?
            .user_id),
        (None, None) => bail!("give --email or --user-id"),
    }
}

async fn audit_verify(config: &Config) -> anyhow::Result<Outcome> {
    let engine = Engine::open(config).await?;
    let head = engine.events.head_position().await?;
    let bar = progress_bar(head, "verify");
    let report = verify(engine.stores.audit.as_ref(), |n| {
        bar.set_position(n);
        bar.set_message(format!("{} remaining", head.saturating_sub(n)));
    })
    .await?;
    bar.finish_and_clear();
    match report.findings.first() {
        None => {
            println!(
                "OK: {} events in {} streams verified; hash chains, positions and stream heads intact",
                report.events_checked, report.streams_checked
            );
            Ok(Outcome::Success)
        }
        Some(first) => {
            println!(
                "TAMPERED: {:?} event at position {} (stream {}, version {}): {}",
                first.kind, first.position, first.stream_id, first.stream_version, first.detail
            );
            println!(
                "{} problem(s) found in {} events; the first is the one above",
                report.findings.len(),
                report.events_checked
            );
            for f in report.findings.iter().skip(1).take(20) {
                println!(
                    "  also: {:?} at position {} (stream {}, version {}): {}",
                    f.kind, f.position, f.stream_id, f.stream_version, f.detail
                );
            }
            Ok(Outcome::Failure)
        }
    }
}

/// Write the log (from position `from`, inclusive; or one stream) as CloudEvents JSON lines, with
/// `data` as auditors may see it (secret fields `"[secret]"`, personal ones opened or
/// `"[erased]"`; docs/decisions/0007-field-classification.md).
pub async fn export(
    config: &Config,
    from: Option<u64>,
    stream: Option<String>,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let engine = Engine::open(config).await?;
    let audit = engine.stores.audit.clone();
    let from = from.unwrap_or(1).max(1);
    if let Some(stream) = stream {
        let events: Vec<_> = audit
            .read_raw_stream(&stream)
            .await?
            .into_iter()
            .filter(|e| e.global_position >= from)
            .collect();
        for e in to_cloud_events(&engine.privacy, &events).await? {
            writeln!(out, "{e}")?;
        }
    } else {
        let mut after = from - 1;
        loop {
            let batch = audit.read_raw(after, 5_000).await?;
            let Some(last) = batch.last() else { break };
            after = last.global_position;
            for e in to_cloud_events(&engine.privacy, &batch).await? {
                writeln!(out, "{e}")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    fn no_subcommand_means_serve_with_defaults() {
        let cli = Cli::try_parse_from(["tessera"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.server.bind.to_string(), "127.0.0.1:8080");
        let cli = Cli::try_parse_from(["tessera", "events", "export", "--from", "5"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Events {
                command: EventsCommand::Export {
                    from: Some(5),
                    stream: None
                }
            })
        ));
    }
}
