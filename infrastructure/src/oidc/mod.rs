//! The [`OidcProvider`] port over an OpenID Connect provider's token endpoint and published keys
//! (OpenID Connect Core 1.0 §3.1.3, RFC 6749 §4.1.3, RFC 7517), for Google and Apple sign-in
//! (seed 003 §2.2; docs/decisions/0031-oauth-sign-in.md).
//!
//! - **Code exchange**: `POST {token_url}` as `application/x-www-form-urlencoded` with
//!   `grant_type=authorization_code`, `code`, `redirect_uri`, `client_id`, `client_secret`. For
//!   Apple the client secret is a JWT this client signs ES256 with the app's key ([`apple`]).
//! - **Keys**: the JSON Web Key Set at `jwks_url`, cached for [`OidcClientConfig::jwks_ttl`] and
//!   fetched again when a token names a key id the cache lacks (providers rotate keys), but not
//!   more often than [`OidcClientConfig::jwks_refetch_min`], so tokens with made-up key ids cannot
//!   make this server hammer the provider.
//! - **ID token**: RS256 or ES256 only (never `none` or HMAC), signature by `jsonwebtoken` with
//!   the key of the header's `kid`, then `iss`, `aud` (and `azp` when there are several
//!   audiences), `exp` and `iat` against the caller's clock with [`OidcClientConfig::leeway`], and
//!   `nonce` when the request sent one.
//!
//! Codes, secrets and tokens are never logged.

pub mod apple;

use async_trait::async_trait;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use tessera_application::identity::oauth::{
    IdTokenProblem, OidcError, OidcIdentity, OidcProvider, OidcRequest,
};

pub use apple::{AppleClientSecret, AppleKeyError};

/// Google's token endpoint (Google Identity, "OpenID Connect": `token_endpoint` of
/// `https://accounts.google.com/.well-known/openid-configuration`).
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Google's signing keys (`jwks_uri` of the same discovery document).
pub const GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
/// Google's issuer; Google also issues tokens with the scheme-less `accounts.google.com`.
pub const GOOGLE_ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];
/// Apple's token endpoint (Sign in with Apple REST API, "Generate and validate tokens").
pub const APPLE_TOKEN_URL: &str = "https://appleid.apple.com/auth/token";
/// Apple's signing keys ("Fetch Apple's public key for verifying token signature").
pub const APPLE_JWKS_URL: &str = "https://appleid.apple.com/auth/keys";
/// Apple's issuer, also the `aud` of Apple client-secret JWTs.
pub const APPLE_ISSUER: &str = "https://appleid.apple.com";

/// How long one call to a provider may take before it counts as unavailable: 10 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Allowed clock difference for `exp` and `iat`: 60 seconds.
pub const DEFAULT_LEEWAY_SECS: i64 = 60;
/// How long a fetched key set is used before it is fetched again: 1 hour.
pub const DEFAULT_JWKS_TTL: Duration = Duration::from_secs(3_600);
/// Least time between two key-set fetches caused by unknown key ids: 10 seconds.
pub const DEFAULT_JWKS_REFETCH_MIN: Duration = Duration::from_secs(10);
/// Largest provider answer read, in bytes (token responses and key sets are a few KiB).
const MAX_BODY_BYTES: usize = 256 * 1024;

/// How this app proves itself at the token endpoint.
#[derive(Debug, Clone)]
pub enum ClientSecret {
    /// A fixed secret (Google's "client secret"). `Debug` shows `[REDACTED]`.
    Static(SecretString),
    /// A JWT signed per request with the app's key (Apple).
    Apple(AppleClientSecret),
}

/// Settings of one [`OidcClient`]. `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct OidcClientConfig {
    /// Name for logs and errors (`google`, `apple`).
    pub name: String,
    /// This app's client id at the provider: the `aud` its ID tokens must carry (Google's
    /// `….apps.googleusercontent.com`, Apple's Services ID or bundle id).
    pub client_id: String,
    /// How this app authenticates at the token endpoint.
    pub client_secret: ClientSecret,
    /// Token endpoint URL.
    pub token_url: String,
    /// JSON Web Key Set URL.
    pub jwks_url: String,
    /// Accepted `iss` values (exact match).
    pub issuers: Vec<String>,
    /// Limit for one whole call (connect, send, answer).
    pub timeout: Duration,
    /// Allowed clock difference for `exp` and `iat`, in seconds.
    pub leeway_secs: i64,
    /// How long a fetched key set is trusted before it is fetched again.
    pub jwks_ttl: Duration,
    /// Least time between two fetches caused by an unknown key id.
    pub jwks_refetch_min: Duration,
}

impl OidcClientConfig {
    /// Google's production endpoints with the default timings.
    pub fn google(client_id: impl Into<String>, client_secret: SecretString) -> Self {
        Self::with_defaults(
            "google",
            client_id.into(),
            ClientSecret::Static(client_secret),
            GOOGLE_TOKEN_URL,
            GOOGLE_JWKS_URL,
            GOOGLE_ISSUERS.iter().map(|s| (*s).to_owned()).collect(),
        )
    }

    /// Apple's production endpoints with the default timings.
    pub fn apple(client_id: impl Into<String>, secret: AppleClientSecret) -> Self {
        Self::with_defaults(
            "apple",
            client_id.into(),
            ClientSecret::Apple(secret),
            APPLE_TOKEN_URL,
            APPLE_JWKS_URL,
            vec![APPLE_ISSUER.to_owned()],
        )
    }

    fn with_defaults(
        name: &str,
        client_id: String,
        client_secret: ClientSecret,
        token_url: &str,
        jwks_url: &str,
        issuers: Vec<String>,
    ) -> Self {
        Self {
            name: name.to_owned(),
            client_id,
            client_secret,
            token_url: token_url.to_owned(),
            jwks_url: jwks_url.to_owned(),
            issuers,
            timeout: DEFAULT_TIMEOUT,
            leeway_secs: DEFAULT_LEEWAY_SECS,
            jwks_ttl: DEFAULT_JWKS_TTL,
            jwks_refetch_min: DEFAULT_JWKS_REFETCH_MIN,
        }
    }
}

/// Why an [`OidcClient`] could not be built at start-up.
#[derive(Debug, thiserror::Error)]
pub enum OidcConfigError {
    /// A URL is not an `http://` or `https://` URL.
    #[error("{name}: {what} must be an http(s) URL, got {url:?}")]
    BadUrl {
        /// The provider.
        name: String,
        /// `token URL` or `JWKS URL`.
        what: &'static str,
        /// The value.
        url: String,
    },
    /// A required setting is empty.
    #[error("{name}: the {what} is empty")]
    Missing {
        /// The provider.
        name: String,
        /// `client id`, `client secret` or `issuer`.
        what: &'static str,
    },
    /// The HTTP client could not be created (TLS set-up).
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// A fetched key set and when it was fetched.
#[derive(Default)]
struct KeyCache {
    keys: Vec<Jwk>,
    fetched: Option<Instant>,
}

/// The [`OidcProvider`] adapter for one provider.
pub struct OidcClient {
    http: reqwest::Client,
    config: OidcClientConfig,
    /// Held across a fetch, so concurrent sign-ins that miss the cache fetch once.
    keys: tokio::sync::Mutex<KeyCache>,
}

impl std::fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn check_url(name: &str, what: &'static str, url: &str) -> Result<(), OidcConfigError> {
    let ok = reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if ok {
        Ok(())
    } else {
        Err(OidcConfigError::BadUrl {
            name: name.to_owned(),
            what,
            url: url.to_owned(),
        })
    }
}

impl OidcClient {
    /// A client using `config`. Redirects are not followed.
    ///
    /// Errors: [`OidcConfigError`] for a bad URL, an empty client id, secret or issuer list, or
    /// an HTTP client that cannot be built.
    pub fn new(config: OidcClientConfig) -> Result<Self, OidcConfigError> {
        let missing = |what| OidcConfigError::Missing {
            name: config.name.clone(),
            what,
        };
        check_url(&config.name, "token URL", &config.token_url)?;
        check_url(&config.name, "JWKS URL", &config.jwks_url)?;
        if config.client_id.trim().is_empty() {
            return Err(missing("client id"));
        }
        if let ClientSecret::Static(s) = &config.client_secret
            && s.expose_secret().trim().is_empty()
        {
            return Err(missing("client secret"));
        }
        if config.issuers.iter().all(|i| i.trim().is_empty()) {
            return Err(missing("issuer"));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(OidcConfigError::Client)?;
        Ok(Self {
            http,
            config,
            keys: tokio::sync::Mutex::new(KeyCache::default()),
        })
    }

    fn unavailable(&self, what: &str, e: &reqwest::Error) -> OidcError {
        let kind = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "cannot connect"
        } else {
            "failed"
        };
        OidcError::Unavailable(format!("{} {what} {kind}: {e}", self.config.name))
    }

    /// Read a whole answer (at most [`MAX_BODY_BYTES`]).
    async fn body(&self, what: &str, response: reqwest::Response) -> Result<Vec<u8>, OidcError> {
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.unavailable(what, &e))?;
        if bytes.len() > MAX_BODY_BYTES {
            return Err(OidcError::Unavailable(format!(
                "{} {what}: answer over {MAX_BODY_BYTES} bytes",
                self.config.name
            )));
        }
        Ok(bytes.to_vec())
    }

    /// The token endpoint's `id_token` for the code.
    async fn exchange(&self, request: &OidcRequest<'_>) -> Result<String, OidcError> {
        let secret = match &self.config.client_secret {
            ClientSecret::Static(s) => s.expose_secret().to_owned(),
            ClientSecret::Apple(apple) => apple
                .sign(&self.config.client_id, request.now)
                .map_err(|e| OidcError::Unavailable(format!("apple client secret: {e}")))?,
        };
        let form = TokenForm {
            grant_type: "authorization_code",
            code: request.code,
            redirect_uri: request.redirect_uri,
            client_id: &self.config.client_id,
            client_secret: &secret,
        };
        let response = self
            .http
            .post(&self.config.token_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| self.unavailable("token endpoint", &e.without_url()))?;
        let status = response.status();
        let body = self.body("token endpoint", response).await?;
        if status.is_success() {
            let reply: TokenReply = serde_json::from_slice(&body).map_err(|e| {
                OidcError::Unavailable(format!(
                    "{} token endpoint answered unreadable JSON: {e}",
                    self.config.name
                ))
            })?;
            return reply.id_token.ok_or_else(|| {
                OidcError::Unavailable(format!(
                    "{} token endpoint answered without an id_token",
                    self.config.name
                ))
            });
        }
        // RFC 6749 §5.2: errors come as 400 (or 401 for client authentication) with `error`.
        if status.is_client_error()
            && let Ok(e) = serde_json::from_slice::<ErrorReply>(&body)
        {
            return Err(OidcError::Refused {
                error: e.error,
                description: e.error_description,
            });
        }
        Err(OidcError::Unavailable(format!(
            "{} token endpoint answered HTTP {}",
            self.config.name,
            status.as_u16()
        )))
    }

    /// Fetch the key set; keys of types this client cannot use are skipped.
    async fn fetch_keys(&self) -> Result<Vec<Jwk>, OidcError> {
        let response = self
            .http
            .get(&self.config.jwks_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| self.unavailable("JWKS", &e))?;
        let status = response.status();
        let body = self.body("JWKS", response).await?;
        if !status.is_success() {
            return Err(OidcError::Unavailable(format!(
                "{} JWKS answered HTTP {}",
                self.config.name,
                status.as_u16()
            )));
        }
        let set: RawKeySet = serde_json::from_slice(&body).map_err(|e| {
            OidcError::Unavailable(format!("{} JWKS is not a key set: {e}", self.config.name))
        })?;
        Ok(set
            .keys
            .into_iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k).ok())
            .collect())
    }

    /// The key named `kid` (or the only key, for a token without `kid`), fetching the set when
    /// the cache is empty or old, or lacks the key and was not fetched within
    /// [`OidcClientConfig::jwks_refetch_min`]. When a fetch fails, a cached key still serves.
    async fn key(&self, kid: Option<&str>) -> Result<Jwk, OidcError> {
        let mut cache = self.keys.lock().await;
        let age = cache.fetched.map(|t| t.elapsed());
        let fresh = age.is_some_and(|a| a < self.config.jwks_ttl);
        if fresh && let Some(key) = find_key(&cache.keys, kid) {
            return Ok(key);
        }
        let may_fetch = !fresh || age.is_none_or(|a| a >= self.config.jwks_refetch_min);
        if may_fetch {
            match self.fetch_keys().await {
                Ok(keys) => {
                    cache.keys = keys;
                    cache.fetched = Some(Instant::now());
                }
                Err(e) if cache.keys.is_empty() => return Err(e),
                Err(e) => {
                    tracing::warn!(provider = %self.config.name, error = %e, "cannot refresh the provider's keys; using the cached ones");
                }
            }
        }
        find_key(&cache.keys, kid).ok_or(OidcError::InvalidIdToken(IdTokenProblem::UnknownKey))
    }

    /// Verify `id_token` (module docs) and read the identity it carries.
    async fn verify(
        &self,
        id_token: &str,
        request: &OidcRequest<'_>,
    ) -> Result<OidcIdentity, OidcError> {
        let bad = OidcError::InvalidIdToken;
        let header =
            jsonwebtoken::decode_header(id_token).map_err(|_| bad(IdTokenProblem::Malformed))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(bad(IdTokenProblem::Algorithm));
        }
        let jwk = self.key(header.kid.as_deref()).await?;
        if !key_fits(&jwk, header.alg) {
            return Err(bad(IdTokenProblem::Algorithm));
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| bad(IdTokenProblem::Algorithm))?;
        // The signature alone here; the claims are checked below against the caller's clock.
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<IdTokenClaims>(id_token, &key, &validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::InvalidSignature => bad(IdTokenProblem::Signature),
                    ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                        bad(IdTokenProblem::Algorithm)
                    }
                    _ => bad(IdTokenProblem::Malformed),
                }
            })?
            .claims;
        check_claims(&claims, &self.config, request)?;
        Ok(OidcIdentity {
            subject: claims.sub,
            email: claims.email,
            email_verified: claims.email_verified.is_some_and(|v| v.is_true()),
            name: claims.name,
        })
    }
}

#[async_trait]
impl OidcProvider for OidcClient {
    /// Exchange the code, then verify the ID token.
    ///
    /// Errors: [`OidcError::Refused`] for an OAuth error from the token endpoint (`invalid_grant`
    /// …); [`OidcError::InvalidIdToken`] for a token that fails a check;
    /// [`OidcError::Unavailable`] for timeouts, connection failures, 5xx answers, unreadable
    /// answers and key sets that cannot be fetched.
    async fn authenticate(&self, request: &OidcRequest<'_>) -> Result<OidcIdentity, OidcError> {
        let id_token = self.exchange(request).await?;
        self.verify(&id_token, request).await
    }
}

/// The form of the token request (RFC 6749 §4.1.3, client credentials in the body).
#[derive(Serialize)]
struct TokenForm<'a> {
    grant_type: &'static str,
    code: &'a str,
    redirect_uri: &'a str,
    client_id: &'a str,
    client_secret: &'a str,
}

/// The parts of a successful token response this client reads.
#[derive(Deserialize)]
struct TokenReply {
    id_token: Option<String>,
}

/// An OAuth 2 error response (RFC 6749 §5.2).
#[derive(Deserialize)]
struct ErrorReply {
    error: String,
    error_description: Option<String>,
}

/// `{"keys": [...]}` with each key kept raw until parsed on its own.
#[derive(Deserialize)]
struct RawKeySet {
    keys: Vec<serde_json::Value>,
}

/// `aud`: one string or several.
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, id: &str) -> bool {
        match self {
            Audience::One(a) => a == id,
            Audience::Many(all) => all.iter().any(|a| a == id),
        }
    }
    fn several(&self) -> bool {
        matches!(self, Audience::Many(all) if all.len() > 1)
    }
}

/// `email_verified`: a boolean (Google) or the string `"true"`/`"false"` (Apple).
#[derive(Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Text(String),
}

impl Flag {
    fn is_true(&self) -> bool {
        match self {
            Flag::Bool(b) => *b,
            Flag::Text(t) => t.eq_ignore_ascii_case("true"),
        }
    }
}

/// The ID token claims read (OpenID Connect Core §2, plus the standard `email` and `name`).
#[derive(Deserialize)]
struct IdTokenClaims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: i64,
    iat: i64,
    azp: Option<String>,
    nonce: Option<String>,
    email: Option<String>,
    email_verified: Option<Flag>,
    name: Option<String>,
}

/// Longest `sub` accepted (OpenID Connect Core §2: at most 255 ASCII characters).
const MAX_SUBJECT_LEN: usize = 255;

fn check_claims(
    c: &IdTokenClaims,
    config: &OidcClientConfig,
    request: &OidcRequest<'_>,
) -> Result<(), OidcError> {
    let bad = |p| Err(OidcError::InvalidIdToken(p));
    if c.sub.is_empty() || c.sub.len() > MAX_SUBJECT_LEN || c.sub.chars().any(char::is_control) {
        return bad(IdTokenProblem::Malformed);
    }
    if !config.issuers.contains(&c.iss) {
        return bad(IdTokenProblem::Issuer);
    }
    if !c.aud.contains(&config.client_id)
        || (c.aud.several() && c.azp.as_deref() != Some(config.client_id.as_str()))
    {
        return bad(IdTokenProblem::Audience);
    }
    let now = request.now.timestamp();
    if now > c.exp.saturating_add(config.leeway_secs) {
        return bad(IdTokenProblem::Expired);
    }
    if c.iat > now.saturating_add(config.leeway_secs) {
        return bad(IdTokenProblem::IssuedInFuture);
    }
    if let Some(expected) = request.nonce
        && c.nonce.as_deref() != Some(expected)
    {
        return bad(IdTokenProblem::Nonce);
    }
    Ok(())
}

/// The signing key named `kid`; without `kid`, the set's only signing key.
fn find_key(keys: &[Jwk], kid: Option<&str>) -> Option<Jwk> {
    let signing = keys.iter().filter(|k| {
        k.common
            .public_key_use
            .as_ref()
            .is_none_or(|u| matches!(u, jsonwebtoken::jwk::PublicKeyUse::Signature))
    });
    match kid {
        Some(kid) => signing
            .into_iter()
            .find(|k| k.common.key_id.as_deref() == Some(kid))
            .cloned(),
        None => {
            let all: Vec<&Jwk> = signing.collect();
            (all.len() == 1).then(|| all[0].clone())
        }
    }
}

/// Whether `jwk` is a key for `alg`: RSA for RS256, P-256 for ES256, and its own `alg`, if any,
/// the same.
fn key_fits(jwk: &Jwk, alg: Algorithm) -> bool {
    let kind = match (&jwk.algorithm, alg) {
        (AlgorithmParameters::RSA(_), Algorithm::RS256) => true,
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => {
            ec.curve == EllipticCurve::P256
        }
        _ => false,
    };
    let named = jwk
        .common
        .key_algorithm
        .is_none_or(|k| Algorithm::try_from(k).is_ok_and(|a| a == alg));
    kind && named
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use chrono::{DateTime, Utc};

    fn config() -> OidcClientConfig {
        OidcClientConfig::google("app-1", SecretString::from("s"))
    }
    fn claims(json: serde_json::Value) -> IdTokenClaims {
        serde_json::from_value(json).unwrap()
    }
    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }
    fn request(now: i64, nonce: Option<&str>) -> OidcRequest<'_> {
        OidcRequest {
            code: "c",
            redirect_uri: "https://a/cb",
            nonce,
            now: at(now),
        }
    }
    fn base() -> serde_json::Value {
        serde_json::json!({
            "iss": "https://accounts.google.com", "sub": "1", "aud": "app-1",
            "exp": 2_000, "iat": 1_000, "nonce": "n-1",
            "email": "a@example.com", "email_verified": "true"
        })
    }
    fn problem(v: serde_json::Value, now: i64, nonce: Option<&str>) -> Option<IdTokenProblem> {
        match check_claims(&claims(v), &config(), &request(now, nonce)) {
            Ok(()) => None,
            Err(OidcError::InvalidIdToken(p)) => Some(p),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn claims_are_checked_with_leeway() {
        assert_eq!(problem(base(), 1_500, Some("n-1")), None);
        assert_eq!(problem(base(), 1_500, None), None);
        assert_eq!(problem(base(), 2_060, None), None);
        assert_eq!(problem(base(), 2_061, None), Some(IdTokenProblem::Expired));
        assert_eq!(
            problem(base(), 939, None),
            Some(IdTokenProblem::IssuedInFuture)
        );
        assert_eq!(
            problem(base(), 1_500, Some("n-2")),
            Some(IdTokenProblem::Nonce)
        );
        let mut v = base();
        v["iss"] = "https://evil.example".into();
        assert_eq!(problem(v, 1_500, None), Some(IdTokenProblem::Issuer));
        let mut v = base();
        v["iss"] = "accounts.google.com".into();
        assert_eq!(problem(v, 1_500, None), None);
        let mut v = base();
        v["aud"] = "app-2".into();
        assert_eq!(problem(v, 1_500, None), Some(IdTokenProblem::Audience));
        let mut v = base();
        v["aud"] = serde_json::json!(["app-2", "app-1"]);
        assert_eq!(
            problem(v.clone(), 1_500, None),
            Some(IdTokenProblem::Audience)
        );
        v["azp"] = "app-1".into();
        assert_eq!(problem(v, 1_500, None), None);
        let mut v = base();
        v["sub"] = "".into();
        assert_eq!(problem(v, 1_500, None), Some(IdTokenProblem::Malformed));
    }

    #[test]
    fn email_verified_reads_booleans_and_apple_strings() {
        for (v, want) in [
            (serde_json::json!(true), true),
            (serde_json::json!("true"), true),
            (serde_json::json!(false), false),
            (serde_json::json!("false"), false),
        ] {
            let mut c = base();
            c["email_verified"] = v;
            assert_eq!(claims(c).email_verified.unwrap().is_true(), want);
        }
    }
}
