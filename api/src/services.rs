//! The application services every route shares, built once at start from the engine and the
//! server settings: identity (users, tokens) now; each API document adds its own.

use crate::config::ServerConfig;
use crate::startup::Engine;
use std::sync::Arc;
use tessera_application::identity::{AccessTokens, IdentityService};
use tessera_infrastructure::auth::{
    Argon2PasswordHasher, AuthConfigError, JwtAccessTokens, RandomSecrets,
};

/// Services shared by the routes of all documents.
#[derive(Clone)]
pub struct Services {
    /// Users, sign-in, refresh tokens, roles (one identity for all five documents).
    pub identity: IdentityService,
    /// Access-token verification (also inside `identity`; kept here for extractors).
    pub tokens: Arc<dyn AccessTokens>,
}

/// Why the services could not be built from the settings.
#[derive(Debug, thiserror::Error)]
pub enum ServicesError {
    /// A key or a hashing parameter is unusable.
    #[error("authentication settings: {0}")]
    Auth(#[from] AuthConfigError),
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
        Ok(Services { identity, tokens })
    }
}
