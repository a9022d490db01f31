//! Wiring: open the engine (database, event store, projections, deadlines), build the router, and
//! serve it with graceful shutdown.

use crate::config::Role;
use crate::config::{Config, ConfigError, ServerConfig, TrustedProxy};
use crate::http::connections::ConnectionLimits;
use crate::http::errors::DocumentEdges;
use crate::routes;
use crate::services::{Services, ServicesError};
use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, header};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tessera_application::{
    Clock, DeadlineHandler, DeadlineScheduler, EventStore, SystemClock, UpcasterRegistry,
    UpcastingEventStore,
};
use tessera_infrastructure::{Database, InfraError, KeyStore, Privacy, PrivacyEventStore, Stores};
use tessera_projections::{
    EventTypeStatsProjector, ProcessStatus, ProjectionRunner, Projector, ReadModelDb,
};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower_http::CompressionLevel;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

/// Errors while starting.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Settings that cannot be served (production mode refusing, a bad CORS origin).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A `TESSERA_CORS_ALLOWED_ORIGINS` entry that is not an origin.
    #[error(
        "TESSERA_CORS_ALLOWED_ORIGINS: `{0}` is not an origin (scheme://host[:port], no path, no `*`)"
    )]
    CorsOrigin(String),
    /// Database connection, migration or store start-up.
    #[error(transparent)]
    Infra(#[from] InfraError),
    /// `TESSERA_RATE_LIMITS` or `TESSERA_REDIS_URL` cannot be used (the message names the member).
    #[error(transparent)]
    RateLimits(#[from] crate::http::rate_limit::PolicyError),
    /// Projection migrations or preparation.
    #[error("projections: {0}")]
    Projections(String),
    /// Keys or parameters of the services.
    #[error(transparent)]
    Services(#[from] ServicesError),
    /// Binding the listener.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// `TESSERA_BIND` as configured.
        addr: SocketAddr,
        /// The I/O error (address in use, permission denied for ports below 1024, …).
        source: std::io::Error,
    },
}

/// Every projector the system runs, in one place.
pub fn projectors() -> Vec<Arc<dyn Projector>> {
    let mut all: Vec<Arc<dyn Projector>> = vec![Arc::new(EventTypeStatsProjector)];
    all.extend(tessera_projections::openticket::projectors());
    all.extend(tessera_projections::meeting::projectors());
    all.extend(tessera_projections::shop::projectors());
    all.extend(tessera_projections::plans::projectors());
    all.extend(tessera_projections::courtesy::projectors());
    all
}

/// Every upcaster the system knows.
pub fn upcasters() -> UpcasterRegistry {
    let mut registry = UpcasterRegistry::new();
    registry.register(Arc::new(
        tessera_application::openticket::VenueSeatsAsArrays,
    ));
    registry
}

/// Every deadline handler, by kind. The engine itself schedules none; the API documents' issues
/// register theirs here.
pub fn deadline_handlers(_engine: &Engine) -> Vec<(String, Arc<dyn DeadlineHandler>)> {
    Vec::new()
}

/// The core of a running Tessera: the database, the event store and the projections.
pub struct Engine {
    /// The database the event store and the read models live in (one SQLite file or one
    /// PostgreSQL database).
    pub database: Database,
    /// The raw stores (auditors read these).
    pub stores: Stores,
    /// The event store the application uses: personal and secret fields sealed on append and
    /// opened on every read (docs/decisions/0008-crypto-shredding.md), then upcast.
    pub events: Arc<dyn EventStore>,
    /// The data-subject keys and the field classes: exports read through it, erasure destroys
    /// keys through it.
    pub privacy: Privacy,
    /// The read-model database.
    pub read_models: ReadModelDb,
    /// Runs every projector; its status answers read-your-writes waits and `/ready`.
    pub runner: Arc<ProjectionRunner>,
    /// Progress of the process managers this process runs (none until the server starts them),
    /// for read-your-writes that includes their effects.
    pub processes: ProcessStatus,
    /// Time for commands and deadlines (UTC; the system clock outside tests).
    pub clock: Arc<dyn Clock>,
}

impl Engine {
    /// Connect, run all migrations, open the stores and prepare the projections.
    pub async fn open(config: &Config) -> Result<Self, StartupError> {
        let database =
            Database::connect(&config.database_url, config.database_max_connections).await?;
        database.migrate().await?;
        let read_models = match &database {
            Database::Sqlite(p) => ReadModelDb::Sqlite {
                writer: p.writer.clone(),
                reader: p.reader.clone(),
            },
            Database::Postgres(p) => ReadModelDb::Postgres(p.clone()),
        };
        read_models
            .migrate()
            .await
            .map_err(|e| StartupError::Projections(e.to_string()))?;
        let stores = match config.event_store_url() {
            Some(url) => {
                let settings = tessera_infrastructure::kurrentdb::KurrentDbSettings::new(url);
                tessera_infrastructure::kurrentdb::open_on(&database, &settings).await?
            }
            None => database.stores().await?,
        };
        let privacy = Privacy::new(KeyStore::new(database.clone()));
        let sealed = Arc::new(PrivacyEventStore::new(
            stores.events.clone(),
            privacy.clone(),
        ));
        let events: Arc<dyn EventStore> =
            Arc::new(UpcastingEventStore::new(sealed, Arc::new(upcasters())));
        let runner = ProjectionRunner::new(read_models.clone(), events.clone(), projectors());
        runner
            .prepare()
            .await
            .map_err(|e| StartupError::Projections(e.to_string()))?;
        Ok(Self {
            database,
            stores,
            events,
            privacy,
            read_models,
            runner: Arc::new(runner),
            processes: ProcessStatus::default(),
            clock: Arc::new(SystemClock),
        })
    }

    /// A deadline scheduler with every registered handler plus `extra` ones.
    pub fn scheduler(&self, extra: Vec<(String, Arc<dyn DeadlineHandler>)>) -> DeadlineScheduler {
        let mut scheduler = DeadlineScheduler::new(self.stores.deadlines.clone());
        for (kind, handler) in deadline_handlers(self).into_iter().chain(extra) {
            scheduler.register(kind, handler);
        }
        scheduler
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Database, event store and projections, shared by every request.
    pub engine: Arc<Engine>,
    /// Server settings.
    pub server: Arc<ServerConfig>,
    /// Application services (identity, each document's services).
    pub services: Arc<Services>,
}

/// The CORS layer for the configured origins; `None` (no CORS headers at all) when none is set.
/// Credentials are not allowed: cross-origin clients send `Authorization: Bearer`.
pub fn cors_layer(origins: &[String]) -> Result<Option<CorsLayer>, StartupError> {
    let origins: Vec<&str> = origins
        .iter()
        .map(|o| o.trim().trim_end_matches('/'))
        .filter(|o| !o.is_empty())
        .collect();
    if origins.is_empty() {
        return Ok(None);
    }
    let mut values = Vec::with_capacity(origins.len());
    for origin in origins {
        let rest = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        let value = rest
            .filter(|host| !host.is_empty() && !host.contains(['/', '*', '?', '#']))
            .and_then(|_| HeaderValue::from_str(origin).ok())
            .ok_or_else(|| StartupError::CorsOrigin(origin.to_owned()))?;
        values.push(value);
    }
    let request_id = HeaderName::from_static("x-request-id");
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(values))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                request_id.clone(),
                HeaderName::from_static("idempotency-key"),
            ])
            // What browser clients of the documents read besides the body: paging (meeting's
            // 206), where an accepted write can be read (202), revalidation and retry hints.
            .expose_headers([
                request_id,
                crate::http::idempotency::IDEMPOTENT_REPLAYED,
                header::CONTENT_RANGE,
                header::LOCATION,
                header::ETAG,
                header::RETRY_AFTER,
                crate::http::rate_limit::LIMIT_HEADER,
                crate::http::rate_limit::REMAINING_HEADER,
                crate::http::rate_limit::RESET_HEADER,
                HeaderName::from_static(crate::openticket::seats::LOG_POSITION),
            ])
            .max_age(Duration::from_secs(600)),
    ))
}

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the nearest
/// `X-Forwarded-For` hop (read from the right) that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[TrustedProxy]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|t| t.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect::<Vec<_>>();
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        let hop = hop.trim();
        let Some(ip) = hop
            .parse::<IpAddr>()
            .ok()
            .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        else {
            // A hop we cannot read: stop believing the chain there.
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

/// Which document answers unknown paths, wrong methods, panics and axum's extractor rejections
/// under which path prefixes (each in its own error format); every other path gets the neutral
/// format. A document adds its prefixes here, one line.
pub fn document_edges() -> DocumentEdges {
    DocumentEdges::new()
        .document(&["/v1", "/hubs/tickets"], crate::openticket::error::edge)
        .document(
            &[
                "/users",
                "/tokens",
                "/wechat_tokens",
                "/smsCodes",
                "/meetings",
                "/orders",
                "/payment_methods",
                "/transactions",
                "/third_party_transactions",
                "/tickets",
                "/wechatpay",
                "/meeting",
            ],
            crate::meeting::edges::edge,
        )
        .document(
            &["/api", "/weixin-login", "/shop"],
            crate::shop::edges::edge,
        )
        .document(
            &["/company", "/plans", "/admin/plans"],
            crate::plans::edges::edge,
        )
        .document(
            &["/api/courtesy", "/upload", "/static"],
            crate::courtesy::edge,
        )
}

/// `router` with fallbacks for unknown paths (404) and known paths with another method (405, with
/// `Allow`), both marked for [`with_edge_answers`]. Call it after every route is added.
pub fn with_edge_fallbacks(router: Router) -> Router {
    router
        .fallback(crate::http::errors::no_route)
        .method_not_allowed_fallback(crate::http::errors::method_not_allowed)
}

/// `router` with panics caught and every marked answer rendered in the format of the document
/// whose path was hit (`crate::http::errors::answer_edges`). `router` is nested whole, so that the
/// middleware sees its answers as they leave it: axum adds a 405's `Allow` header only there.
pub fn with_edge_answers(router: Router, edges: DocumentEdges) -> Router {
    Router::new()
        .fallback_service(router.layer(CatchPanicLayer::custom(crate::http::panic::into_response)))
        .layer(axum::middleware::from_fn_with_state(
            edges,
            crate::http::errors::answer_edges,
        ))
}

/// The whole HTTP application (without serving it). `TESSERA_CORS_ALLOWED_ORIGINS` is checked by
/// [`RunningServer::start`]; here an unusable list means no CORS headers.
pub fn app(state: AppState) -> Router {
    // Install the metrics recorder before anything records (docs/operations.md).
    let _ = crate::http::metrics::handle();
    let cors = cors_layer(&state.server.cors_allowed_origins).unwrap_or_default();
    let trusted = Arc::new(state.server.trusted_proxies.clone());
    let idempotency = crate::http::idempotency::Idempotency::new(&state);
    let rate_limits = crate::http::rate_limit::RateLimits::for_app(
        &state.server,
        state.services.tokens.clone(),
        crate::openticket::error::rate_limited,
    );
    let router = Router::new()
        .merge(routes::health::router())
        .merge(routes::audit::router())
        .merge(crate::openticket::router())
        .merge(crate::meeting::router())
        .merge(crate::shop::router())
        .merge(crate::plans::router())
        .merge(crate::courtesy::router(&crate::courtesy::Limits::of(
            &state.server,
        )))
        .merge(crate::openapi::router())
        .merge(crate::http::rate_limit::ops_router(rate_limits.clone()))
        .route("/metrics", axum::routing::get(crate::http::metrics::render))
        // Request counts and latencies by route template (routed requests only).
        .route_layer(axum::middleware::from_fn(crate::http::metrics::track))
        .with_state(state)
        // The `Idempotency-Key` store, for the routes that adopt it (http::idempotency).
        .layer(axum::Extension(idempotency));
    let router = with_edge_fallbacks(router)
        // gzip or br as the client accepts, for bodies over 32 bytes that are not already
        // compressed (images) or streams; the big read models (session seats) shrink ~20×.
        .layer(CompressionLayer::new().quality(CompressionLevel::Precise(4)))
        // A default for every body extractor; routes that need more (venues) raise it themselves.
        .layer(axum::extract::DefaultBodyLimit::max(1024 * 1024));
    let router = with_edge_answers(router, document_edges())
        // Seed 003 §9: inside the request id's scope (a 429's `meta.requestId`) and the error log.
        .layer(axum::middleware::from_fn_with_state(
            rate_limits,
            crate::http::rate_limit::limit,
        ))
        .layer(axum::middleware::from_fn(crate::http::errors::log_errors))
        .layer(axum::middleware::from_fn(
            crate::http::request_id::scope_request_id,
        ))
        .layer(
            TraceLayer::new_for_http().make_span_with(move |req: &Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let client = req
                    .extensions()
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|c| client_ip(c.0.ip(), req.headers(), &trusted));
                let client = client.map_or_else(|| "-".to_owned(), |ip| ip.to_string());
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id, client_ip = %client)
            }),
        )
        // Outside tracing, logs and handlers, so that all of them see only the decided id.
        .layer(axum::middleware::from_fn(
            crate::http::request_id::assign_request_id,
        ));
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// The HTTP application of a `projections` process (`TESSERA_ROLE=projections`): `/health`,
/// `/ready` and `/metrics`, nothing else (404 in the engine's format).
pub fn health_app(state: AppState) -> Router {
    let _ = crate::http::metrics::handle();
    let router = Router::new()
        .merge(routes::health::router())
        .route("/metrics", axum::routing::get(crate::http::metrics::render))
        .route_layer(axum::middleware::from_fn(crate::http::metrics::track))
        .with_state(state);
    with_edge_fallbacks(router)
}

/// A server running in the background (tests and `serve`).
pub struct RunningServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The engine it serves.
    pub engine: Arc<Engine>,
    /// The services its routes use.
    pub services: Arc<Services>,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
}

impl RunningServer {
    /// Open the engine, bind, and start serving, following projections and firing deadlines.
    pub async fn start(config: &Config, server: ServerConfig) -> Result<Self, StartupError> {
        Self::start_with_handlers(config, server, Vec::new()).await
    }

    /// [`RunningServer::start`] with deadline handlers besides the built-in ones (tests, embedders).
    pub async fn start_with_handlers(
        config: &Config,
        server: ServerConfig,
        extra_handlers: Vec<(String, Arc<dyn DeadlineHandler>)>,
    ) -> Result<Self, StartupError> {
        // Before touching the database: production refuses here, development fills its secrets.
        let mut server = server.prepare(config)?;
        cors_layer(&server.cors_allowed_origins)?;
        crate::http::rate_limit::RateLimits::check_config(&server.rate_limits)?;
        let conveniences = server.development_conveniences(config);
        if conveniences.is_empty() {
            tracing::info!("production mode (TESSERA_ENV=production)");
        } else {
            tracing::warn!(
                "DEVELOPMENT MODE (TESSERA_ENV=development): do not deploy this. Conveniences on:\n  - {}\nSet TESSERA_ENV=production for a deployment (README.md, \"Production\").",
                conveniences.join("\n  - ")
            );
        }
        let engine = Arc::new(Engine::open(config).await?);
        let listener =
            TcpListener::bind(server.bind)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: server.bind,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: server.bind,
            source,
        })?;
        if server.public_url.is_none() {
            // Links to this server (the Mock payment page) use the port actually bound.
            server.public_url = Some(format!("http://{addr}"));
        }
        let services = Arc::new(Services::build(&engine, &server)?);
        let shutdown = CancellationToken::new();
        let role = server.role;
        let mut tasks = JoinSet::new();
        if role != Role::Projections {
            services.live.start(&mut tasks, shutdown.clone());
        }
        let managers: Vec<Arc<dyn tessera_application::ProcessManager>> = vec![
            Arc::new(tessera_application::openticket::Fulfilment(
                services.openticket.clone(),
            )),
            Arc::new(tessera_application::meeting::MeetingTicketIssuing(
                services.meetings.clone(),
            )),
        ];
        // Several processes on one PostgreSQL database (docs/decisions/0038-several-processes.md):
        // whichever runs the projections, every process follows their stored checkpoints, so that
        // read-your-writes and `/ready` hold here too.
        let remote = tessera_projections::remote_status::RemoteStatus {
            projections: engine.runner.status(),
            projectors: engine.runner.names(),
            processes: engine.processes.clone(),
            managers: managers.iter().map(|m| m.name()).collect(),
            store: engine.events.clone(),
        };
        if let Some(follower) = tessera_projections::remote_status::follow_checkpoints(
            &engine.read_models,
            remote,
            shutdown.clone(),
        ) {
            tasks.spawn(async move {
                let _ = follower.await;
            });
        }
        if role != Role::Api {
            // Projections and process managers run in one process at a time: the leader.
            let runner = engine.runner.clone();
            let read_models = engine.read_models.clone();
            let events = engine.events.clone();
            let processes = engine.processes.clone();
            let lead = tessera_projections::leadership::lead(
                engine.read_models.clone(),
                tessera_projections::leadership::PROJECTIONS_LOCK,
                tessera_projections::leadership::LeaderFlag::default(),
                shutdown.clone(),
                move |work| {
                    let mut tasks = runner.clone().spawn(work.clone());
                    let mut process_tasks = Arc::new(
                        tessera_projections::ProcessManagerRunner::new(
                            read_models.clone(),
                            events.clone(),
                            managers.clone(),
                        )
                        .with_status(processes.clone())
                        .with_reads(runner.reads()),
                    )
                    .spawn(work);
                    tasks.spawn(async move { while process_tasks.join_next().await.is_some() {} });
                    tasks
                },
            );
            tasks.spawn(async move {
                let _ = lead.await;
            });
        }

        let mut handlers = tessera_application::openticket::deadline_handlers(&services.openticket);
        handlers.push((
            tessera_application::meeting::MEETING_ORDER_EXPIRY.to_owned(),
            Arc::new(tessera_application::meeting::MeetingOrderExpiry(
                services.meetings.clone(),
            )),
        ));
        handlers.push((
            tessera_application::shop::SHOP_ORDER_EXPIRY.to_owned(),
            Arc::new(tessera_application::shop::ShopOrderExpiry(
                services.shop.clone(),
            )),
        ));
        handlers.extend(tessera_application::plans::deadline_handlers(
            &services.plans,
        ));
        handlers.extend(
            tessera_application::plans::payments::payment_deadline_handlers(&services.plans),
        );
        handlers.extend(extra_handlers);
        let scheduler = engine.scheduler(handlers);
        let clock = engine.clock.clone();
        let poll = Duration::from_millis(server.deadline_poll_ms.max(10));
        let token = shutdown.clone();
        // Deadlines are claimed per firing, so every process with this role may poll them.
        let fires_deadlines = role != Role::Api;
        tasks.spawn(async move {
            if !fires_deadlines {
                return;
            }
            while !token.is_cancelled() {
                if let Err(e) = scheduler.fire_due(clock.now()).await {
                    tracing::error!(error = %e, "deadline scheduler pass failed");
                }
                tokio::select! {
                    _ = token.cancelled() => {}
                    _ = tokio::time::sleep(poll) => {}
                }
            }
        });

        let state = AppState {
            engine: engine.clone(),
            server: Arc::new(server),
            services: services.clone(),
        };
        let limits = ConnectionLimits {
            // Zero would close every connection at once; a second is the least that works.
            header_read_timeout: Duration::from_secs(state.server.header_read_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(state.server.idle_timeout_secs.max(1)),
            max_connections: state.server.max_connections.max(1),
        };
        let router = match role {
            Role::Projections => health_app(state),
            Role::All | Role::Api => app(state),
        };
        let token = shutdown.clone();
        tasks.spawn(async move {
            crate::http::connections::serve(listener, router, limits, token.clone()).await;
            token.cancel();
        });
        tracing::info!(%addr, backend = ?engine.database.backend(), ?role, "tessera listening");
        Ok(Self {
            addr,
            engine,
            services,
            shutdown,
            tasks,
        })
    }

    /// A handle that stops the server when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stop accepting requests, let in-flight requests, the current projection batches and deadline
    /// firings finish (at most `grace`), then return.
    pub async fn stop(mut self, grace: Duration) {
        self.shutdown.cancel();
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!("shutdown grace period over; aborting remaining tasks");
            self.tasks.abort_all();
        }
    }

    /// Run until a shutdown signal (Ctrl-C or SIGTERM) or until stopped, then stop gracefully.
    pub async fn run_until_signal(self, grace: Duration) {
        let token = self.shutdown.clone();
        tokio::select! {
            _ = shutdown_signal() => tracing::info!("shutdown signal received"),
            _ = token.cancelled() => {}
        }
        self.stop(grace).await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::client_ip;
    use axum::http::HeaderMap;

    #[test]
    fn forwarded_for_is_believed_from_trusted_proxies_only() {
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "6.6.6.6, 203.0.113.9".parse().unwrap());
        h.append("x-forwarded-for", "10.0.0.2".parse().unwrap());
        let ip =
            |peer: &str, h: &HeaderMap| client_ip(peer.parse().unwrap(), h, &trusted).to_string();
        // An untrusted peer is the client, whatever it claims.
        assert_eq!(ip("198.51.100.1", &h), "198.51.100.1");
        // Through trusted proxies: the nearest hop that is not one; a spoofed left part is ignored.
        assert_eq!(ip("10.0.0.1", &h), "203.0.113.9");
        // No header: the proxy itself.
        assert_eq!(ip("10.0.0.1", &HeaderMap::new()), "10.0.0.1");
        // An unreadable hop ends the chain there.
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "203.0.113.9, garbage".parse().unwrap());
        assert_eq!(ip("10.0.0.1", &h), "10.0.0.1");
        // Nothing trusted: the header means nothing.
        assert_eq!(
            client_ip("10.0.0.1".parse().unwrap(), &h, &[]).to_string(),
            "10.0.0.1"
        );
    }
}
