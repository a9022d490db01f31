//! The application services every route shares, built once at start from the engine and the
//! server settings: identity (users, tokens) now; each API document adds its own.

use crate::config::ServerConfig;
use crate::startup::Engine;
use std::collections::HashMap;
use std::sync::Arc;
use tessera_application::identity::{AccessTokens, IdentityService};
use tessera_application::payments::{PaymentGateway, TicketCodes};
use tessera_application::ticketing::{TicketingService, TicketingSettings};
use tessera_infrastructure::auth::{
    Argon2PasswordHasher, AuthConfigError, JwtAccessTokens, RandomSecrets,
};
use tessera_infrastructure::payments::{
    MockGateway, StripeConfig, StripeConfigError, StripeGateway, StripeSecretKey,
};
use tessera_infrastructure::ticket_codes::{HmacTicketCodes, TicketKeyError};
use tessera_projections::openticket::OpenTicketQueries;

/// Services shared by the routes of all documents.
#[derive(Clone)]
pub struct Services {
    /// Users, sign-in, refresh tokens, roles (one identity for all five documents).
    pub identity: IdentityService,
    /// Access-token verification (also inside `identity`; kept here for extractors).
    pub tokens: Arc<dyn AccessTokens>,
    /// OpenTicket commands (seed 003), its deadlines and its fulfilment process manager.
    pub ticketing: Arc<TicketingService>,
    /// OpenTicket read models (seed 003 §3–§7 queries).
    pub openticket_queries: OpenTicketQueries,
    /// Signs and checks the codes printed on OpenTicket tickets.
    pub ticket_codes: Arc<dyn TicketCodes>,
    /// Payment providers by the name clients send as `paymentProvider` (`Mock`, `Stripe`).
    pub gateways: HashMap<String, Arc<dyn PaymentGateway>>,
    /// Secret of `X-Webhook-Signature` per webhook provider path segment (`mock`, `stripe`).
    pub webhook_secrets: HashMap<String, String>,
    /// Stripe's webhook signing secret (`whsec_…`) for `Stripe-Signature`, when configured.
    pub stripe_webhook_secret: Option<String>,
    /// Where clients reach this server (no trailing slash).
    pub public_url: String,
}

/// Why the services could not be built from the settings.
#[derive(Debug, thiserror::Error)]
pub enum ServicesError {
    /// A key or a hashing parameter is unusable.
    #[error("authentication settings: {0}")]
    Auth(#[from] AuthConfigError),
    /// The ticket code key is unusable.
    #[error("ticket code key: {0}")]
    TicketKey(#[from] TicketKeyError),
    /// The Stripe settings are unusable.
    #[error("Stripe settings: {0}")]
    Stripe(#[from] StripeConfigError),
}

/// `configured` when set, else 48 random bytes as text (base64url), with a warning: keys made up at
/// start do not survive a restart.
fn key_or_random(configured: Option<&str>, what: &str) -> String {
    match configured {
        Some(key) => key.to_owned(),
        None => {
            tracing::warn!(
                setting = what,
                "no key configured: using a random one for this run only (set it in production)"
            );
            let mut bytes = [0u8; 48];
            if aws_lc_rs::rand::fill(&mut bytes).is_err() {
                // The system random source failing is not recoverable in any useful way.
                tracing::error!("system random source failed");
            }
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        }
    }
}

impl Services {
    /// Build every service over `engine` with `config`.
    pub fn build(engine: &Engine, config: &ServerConfig) -> Result<Services, ServicesError> {
        let jwt_key = key_or_random(
            config.jwt_secret.as_ref().map(|s| s.expose()),
            "TESSERA_JWT_SECRET",
        );
        let tokens: Arc<dyn AccessTokens> = Arc::new(
            JwtAccessTokens::new(jwt_key.as_bytes())?
                .with_ttl_secs(config.access_token_ttl_secs)?,
        );
        let hasher = Arc::new(Argon2PasswordHasher::with_params(
            config.password_hash_memory_kib,
            config.password_hash_iterations,
            1,
        )?);
        let identity = IdentityService::new(
            engine.events.clone(),
            engine.clock.clone(),
            hasher,
            tokens.clone(),
            Arc::new(RandomSecrets),
        );
        let code_key = key_or_random(
            config.ticket_code_secret.as_ref().map(|s| s.expose()),
            "TESSERA_TICKET_CODE_SECRET",
        );
        let ticket_codes: Arc<dyn TicketCodes> =
            Arc::new(HmacTicketCodes::new(code_key.as_bytes())?);
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", config.bind))
            .trim_end_matches('/')
            .to_owned();
        let mut gateways: HashMap<String, Arc<dyn PaymentGateway>> = HashMap::new();
        gateways.insert(
            "Mock".into(),
            Arc::new(MockGateway::new(public_url.clone())),
        );
        let mut webhook_secrets = HashMap::new();
        webhook_secrets.insert(
            "mock".to_owned(),
            config.mock_webhook_secret.expose().to_owned(),
        );
        if let Some(key) = &config.stripe_secret_key {
            let mut stripe = StripeConfig::new(
                StripeSecretKey::new(key.expose()),
                format!(
                    "{public_url}/v1/payments/stripe/success?session_id={{CHECKOUT_SESSION_ID}}"
                ),
                format!("{public_url}/v1/payments/stripe/cancel"),
            );
            stripe.api_base = config.stripe_api_base.clone();
            gateways.insert("Stripe".into(), Arc::new(StripeGateway::new(stripe)?));
        }
        let stripe_webhook_secret = config
            .stripe_webhook_secret
            .as_ref()
            .map(|s| s.expose().to_owned());
        if let Some(secret) = &stripe_webhook_secret {
            webhook_secrets.insert("stripe".to_owned(), secret.clone());
        }
        let ticketing = Arc::new(TicketingService::new(
            engine.events.clone(),
            engine.clock.clone(),
            gateways.clone(),
            TicketingSettings {
                lock_ttl: chrono::Duration::seconds(config.seat_lock_ttl_secs as i64),
                order_ttl: chrono::Duration::seconds(config.order_ttl_secs as i64),
                max_seats_per_lock: config.max_seats_per_lock,
            },
        ));
        Ok(Services {
            identity,
            ticketing,
            tokens,
            openticket_queries: OpenTicketQueries::new(engine.read_models.clone()),
            ticket_codes,
            gateways,
            webhook_secrets,
            stripe_webhook_secret,
            public_url,
        })
    }
}
