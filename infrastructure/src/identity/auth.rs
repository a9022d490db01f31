//! Identity adapters: Argon2id password hashing, HS256 access tokens (JWT) and refresh-token
//! secrets, implementing the ports of `tessera_application::identity`.
//!
//! Randomness (salts, refresh tokens) and SHA-256 come from aws-lc-rs, the crypto library already
//! in the build through rustls; JWT signing goes through jsonwebtoken's aws-lc-rs backend.

use argon2::password_hash::PasswordHasher as _;
use argon2::{
    Algorithm as Argon2Algorithm, Argon2, Params, PasswordHash, PasswordVerifier, Version,
};
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tessera_application::identity::{
    AccessClaims, AccessTokens, IdentityError, IssuedToken, PasswordHasher, Secrets, TokenError,
};
use tessera_domain::UserId;
use tessera_domain::identity::Role;
use uuid::Uuid;

/// The `aud` and `iss` of every access token.
pub const TOKEN_AUDIENCE: &str = "tessera";

/// The `iss` of every access token.
pub const TOKEN_ISSUER: &str = "tessera";

/// Default access-token lifetime, in seconds (one hour).
pub const DEFAULT_ACCESS_TTL_SECS: u64 = 3600;

/// Longest configurable access-token lifetime, in seconds (one day): a token stolen while its
/// session stays signed in works until it expires, so it must stay short.
pub const MAX_ACCESS_TTL_SECS: u64 = 24 * 3600;

/// Shortest accepted HS256 secret, in bytes (RFC 7518 §3.2: at least the hash size).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// Bytes of salt per password hash (the PHC recommendation).
const SALT_BYTES: usize = 16;

/// Random bytes per refresh token (256 bits).
const REFRESH_TOKEN_BYTES: usize = 32;

/// A setting of these adapters that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthConfigError {
    /// The JWT secret is shorter than [`MIN_JWT_SECRET_BYTES`].
    #[error("the JWT secret must be at least {min} bytes, got {actual}")]
    SecretTooShort {
        /// Minimum length, in bytes.
        min: usize,
        /// Given length, in bytes.
        actual: usize,
    },
    /// The access-token lifetime is 0 or above [`MAX_ACCESS_TTL_SECS`].
    #[error("the access-token lifetime must be 1..={max} seconds, got {actual}")]
    InvalidTtl {
        /// Largest allowed, in seconds.
        max: u64,
        /// Given, in seconds.
        actual: u64,
    },
    /// Argon2 refused the cost parameters.
    #[error("invalid Argon2 parameters: {0}")]
    Argon2Params(String),
}

// ---------------------------------------------------------------------------------------------
// Passwords
// ---------------------------------------------------------------------------------------------

/// Argon2id (v19) password hashing into PHC strings, with a 16-byte random salt per hash.
///
/// Verification reads the cost parameters from the stored PHC string, so hashes made with other
/// parameters (e.g. before a cost increase) keep verifying.
#[derive(Debug, Clone)]
pub struct Argon2PasswordHasher {
    params: Params,
}

impl Argon2PasswordHasher {
    /// The argon2 crate's defaults (OWASP's minimum: 19 MiB memory, 2 passes, 1 lane).
    pub fn new() -> Self {
        Self {
            params: Params::DEFAULT,
        }
    }

    /// Custom costs: memory in KiB, number of passes, degree of parallelism. Low values make
    /// tests fast; production uses [`Argon2PasswordHasher::new`] or stronger.
    ///
    /// Errors: [`AuthConfigError::Argon2Params`] when argon2 refuses them (e.g. memory below
    /// 8 KiB per lane).
    pub fn with_params(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Result<Self, AuthConfigError> {
        let params = Params::new(m_cost_kib, t_cost, p_cost, None)
            .map_err(|e| AuthConfigError::Argon2Params(e.to_string()))?;
        Ok(Self { params })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(
            Argon2Algorithm::Argon2id,
            Version::V0x13,
            self.params.clone(),
        )
    }
}

impl Default for Argon2PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordHasher for Argon2PasswordHasher {
    fn hash(&self, password: &str) -> Result<String, IdentityError> {
        let mut salt = [0u8; SALT_BYTES];
        aws_lc_rs::rand::fill(&mut salt)
            .map_err(|_| IdentityError::Hashing("the random source failed".into()))?;
        self.argon2()
            .hash_password_with_salt(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| IdentityError::Hashing(e.to_string()))
    }

    fn verify(&self, password: &str, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        // The output comparison inside is constant-time.
        self.argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    }
}

// ---------------------------------------------------------------------------------------------
// Access tokens
// ---------------------------------------------------------------------------------------------

/// The JWT claims set. Times are seconds since the Unix epoch (UTC).
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    roles: Vec<Role>,
    aud: String,
    iss: String,
    iat: i64,
    /// Absent in tokens issued before `nbf` was added; those are valid from `iat` on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    exp: i64,
    jti: String,
    /// The refresh family (sign-in session); absent for sign-ins without refresh tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
}

/// HS256 access tokens (RFC 7519) over jsonwebtoken.
///
/// Claims: `sub` (user id), `roles` (lower-case names), `aud` and `iss` = `"tessera"`, `iat`,
/// `nbf` (= `iat`) and `exp` (seconds since the Unix epoch, UTC), `jti` (random UUID) and, for
/// sign-ins with a refresh token, `sid` (the refresh family id). Verification accepts HS256 only
/// (so `alg: none` and RS/ES tokens fail), requires `sub`, `aud`, `iss` and `exp`, and checks `exp`
/// and `nbf` (when present) against the `now` it is given with no leeway, as RFC 7519 §4.1.4–5
/// words them: a token is expired from second `exp` on and valid from second `nbf` on.
///
/// `Debug` is derived: jsonwebtoken's keys print `[redacted]` in place of the secret.
#[derive(Debug)]
pub struct JwtAccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: u64,
}

impl JwtAccessTokens {
    /// Tokens signed with `secret` (from configuration, at least [`MIN_JWT_SECRET_BYTES`]) and a
    /// lifetime of [`DEFAULT_ACCESS_TTL_SECS`].
    ///
    /// Errors: [`AuthConfigError::SecretTooShort`].
    pub fn new(secret: &[u8]) -> Result<Self, AuthConfigError> {
        if secret.len() < MIN_JWT_SECRET_BYTES {
            return Err(AuthConfigError::SecretTooShort {
                min: MIN_JWT_SECRET_BYTES,
                actual: secret.len(),
            });
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = 0;
        // jsonwebtoken checks expiry against the system clock; ours uses the `now` passed in.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = true;
        validation.set_audience(&[TOKEN_AUDIENCE]);
        validation.set_issuer(&[TOKEN_ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "aud", "iss"]);
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl_secs: DEFAULT_ACCESS_TTL_SECS,
        })
    }

    /// Use another lifetime, in seconds (1 to [`MAX_ACCESS_TTL_SECS`]).
    ///
    /// Errors: [`AuthConfigError::InvalidTtl`].
    pub fn with_ttl_secs(mut self, ttl_secs: u64) -> Result<Self, AuthConfigError> {
        if ttl_secs == 0 || ttl_secs > MAX_ACCESS_TTL_SECS {
            return Err(AuthConfigError::InvalidTtl {
                max: MAX_ACCESS_TTL_SECS,
                actual: ttl_secs,
            });
        }
        self.ttl_secs = ttl_secs;
        Ok(self)
    }

    /// The lifetime of issued tokens, in seconds.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }
}

impl AccessTokens for JwtAccessTokens {
    fn issue(
        &self,
        user: UserId,
        roles: &[Role],
        session: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, IdentityError> {
        let iat = now.timestamp();
        // `ttl_secs` is at most MAX_ACCESS_TTL_SECS, so it fits; `saturating_add` keeps far-future
        // clocks from overflowing and `from_timestamp` below rejects them.
        let ttl = i64::try_from(self.ttl_secs)
            .map_err(|_| IdentityError::Crypto("access-token lifetime out of range".into()))?;
        let exp = iat.saturating_add(ttl);
        let expires_at = DateTime::from_timestamp(exp, 0)
            .ok_or_else(|| IdentityError::Crypto("access-token expiry out of range".into()))?;
        let claims = Claims {
            sub: user.to_string(),
            roles: roles.to_vec(),
            aud: TOKEN_AUDIENCE.to_owned(),
            iss: TOKEN_ISSUER.to_owned(),
            iat,
            nbf: Some(iat),
            exp,
            jti: Uuid::new_v4().to_string(),
            sid: session.map(|s| s.to_string()),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| IdentityError::Crypto(e.to_string()))?;
        Ok(IssuedToken {
            token,
            expires_at,
            expires_in_secs: self.ttl_secs,
        })
    }

    fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Malformed,
            })?;
        let claims = data.claims;
        if now.timestamp() >= claims.exp {
            return Err(TokenError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| now.timestamp() < nbf) {
            return Err(TokenError::NotYetValid);
        }
        Ok(AccessClaims {
            user_id: claims.sub.parse().map_err(|_| TokenError::Malformed)?,
            roles: claims.roles,
            expires_at: DateTime::from_timestamp(claims.exp, 0).ok_or(TokenError::Malformed)?,
            token_id: Uuid::try_parse(&claims.jti).map_err(|_| TokenError::Malformed)?,
            session_id: claims
                .sid
                .map(|sid| Uuid::try_parse(&sid).map_err(|_| TokenError::Malformed))
                .transpose()?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Refresh-token secrets
// ---------------------------------------------------------------------------------------------

/// Refresh-token randomness and digests from aws-lc-rs: 32 random bytes as base64url without
/// padding (43 characters), and SHA-256 as lower-case hex (64 characters).
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomSecrets;

impl Secrets for RandomSecrets {
    fn new_refresh_token(&self) -> Result<String, IdentityError> {
        let mut bytes = [0u8; REFRESH_TOKEN_BYTES];
        aws_lc_rs::rand::fill(&mut bytes)
            .map_err(|_| IdentityError::Crypto("the random source failed".into()))?;
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    fn digest(&self, token: &str) -> String {
        hex::encode(digest::digest(&digest::SHA256, token.as_bytes()))
    }
}

// ---------------------------------------------------------------------------------------------
// SMS sign-in codes
// ---------------------------------------------------------------------------------------------

/// SMS sign-in codes (seed 000 §3): 6 uniformly random digits from aws-lc-rs, stored as
/// HMAC-SHA256(key, `"{phone}:{code}"`) in lower-case hex, so the event log does not reveal codes.
///
/// `Debug` is derived: aws-lc-rs prints only the algorithm of an HMAC key.
#[derive(Debug)]
pub struct HmacSignInCodes {
    key: aws_lc_rs::hmac::Key,
}

impl HmacSignInCodes {
    /// Codes keyed with `secret` (at least [`MIN_JWT_SECRET_BYTES`] bytes).
    ///
    /// Errors: [`AuthConfigError`] when the secret is too short.
    pub fn new(secret: &[u8]) -> Result<Self, AuthConfigError> {
        if secret.len() < MIN_JWT_SECRET_BYTES {
            return Err(AuthConfigError::SecretTooShort {
                min: MIN_JWT_SECRET_BYTES,
                actual: secret.len(),
            });
        }
        Ok(Self {
            key: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret),
        })
    }
}

impl tessera_application::identity::phone_signin::SignInCodes for HmacSignInCodes {
    fn new_code(&self) -> Result<String, tessera_application::identity::phone_signin::SignInError> {
        // Rejection sampling below the largest multiple of 10^6 keeps every code equally likely.
        const LIMIT: u32 = 4_294_000_000;
        loop {
            let mut bytes = [0u8; 4];
            aws_lc_rs::rand::fill(&mut bytes).map_err(|_| {
                tessera_application::identity::phone_signin::SignInError::Crypto(
                    "the random source failed".into(),
                )
            })?;
            let n = u32::from_le_bytes(bytes);
            if n < LIMIT {
                return Ok(format!("{:06}", n % 1_000_000));
            }
        }
    }

    fn hash(&self, phone: &str, code: &str) -> String {
        hex::encode(aws_lc_rs::hmac::sign(
            &self.key,
            format!("{phone}:{code}").as_bytes(),
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 20, 10, 0, 0).unwrap()
    }

    fn user() -> UserId {
        UserId::from_uuid(Uuid::from_u128(42))
    }

    fn session() -> Uuid {
        Uuid::from_u128(7)
    }

    fn tokens() -> JwtAccessTokens {
        JwtAccessTokens::new(SECRET).unwrap()
    }

    fn b64(value: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    fn hs256(header: &serde_json::Value, claims: &serde_json::Value, secret: &[u8]) -> String {
        let signing_input = format!("{}.{}", b64(header), b64(claims));
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
        let tag = aws_lc_rs::hmac::sign(&key, signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    fn claims_json(aud: &str, exp: i64) -> serde_json::Value {
        json!({
            "sub": user().to_string(),
            "roles": ["customer"],
            "aud": aud,
            "iss": "tessera",
            "iat": now().timestamp(),
            "exp": exp,
            "jti": Uuid::new_v4().to_string(),
        })
    }

    #[test]
    fn issued_tokens_verify_with_their_claims() {
        let t = tokens();
        let issued = t
            .issue(
                user(),
                &[Role::Customer, Role::Admin],
                Some(session()),
                now(),
            )
            .unwrap();
        assert_eq!(issued.expires_in_secs, 3600);
        assert_eq!(issued.expires_at, now() + chrono::Duration::seconds(3600));
        let claims = t.verify(&issued.token, now()).unwrap();
        assert_eq!(claims.user_id, user());
        assert_eq!(claims.roles, vec![Role::Customer, Role::Admin]);
        assert_eq!(claims.expires_at, issued.expires_at);
        assert!(claims.has_role(Role::Admin));

        // The payload carries the documented claims.
        let payload = issued.token.split('.').nth(1).unwrap();
        let payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(payload["aud"], "tessera");
        assert_eq!(payload["iss"], "tessera");
        assert_eq!(payload["sub"], user().to_string());
        assert_eq!(payload["iat"], now().timestamp());
        assert_eq!(payload["nbf"], now().timestamp());
        assert_eq!(payload["exp"], now().timestamp() + 3600);
        assert_eq!(payload["sid"], session().to_string());
        assert_eq!(claims.session_id, Some(session()));
        assert_eq!(payload["roles"], json!(["customer", "admin"]));
        assert_eq!(payload["jti"], claims.token_id.to_string());
    }

    #[test]
    fn a_hand_made_hs256_token_verifies() {
        // Guards the negative tests below: their tokens differ from this one in one aspect only.
        let token = hs256(
            &json!({"alg": "HS256", "typ": "JWT"}),
            &claims_json("tessera", now().timestamp() + 60),
            SECRET,
        );
        assert!(tokens().verify(&token, now()).is_ok());
    }

    #[test]
    fn a_flipped_signature_byte_is_rejected() {
        let t = tokens();
        let token = t
            .issue(user(), &[Role::Customer], None, now())
            .unwrap()
            .token;
        let (input, signature) = token.rsplit_once('.').unwrap();
        let mut sig = URL_SAFE_NO_PAD.decode(signature).unwrap();
        sig[0] ^= 0x01;
        let tampered = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig));
        assert_eq!(t.verify(&tampered, now()), Err(TokenError::BadSignature));
        let other = JwtAccessTokens::new(b"another secret of at least 32 bytes!").unwrap();
        assert_eq!(other.verify(&token, now()), Err(TokenError::BadSignature));
    }

    #[test]
    fn alg_none_is_rejected() {
        let claims = claims_json("tessera", now().timestamp() + 60);
        let unsigned = format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            b64(&claims)
        );
        assert_eq!(
            tokens().verify(&unsigned, now()),
            Err(TokenError::Malformed)
        );
        // With a signature tacked on it is still refused: the algorithm is pinned to HS256.
        let signed_none = hs256(&json!({"alg": "none"}), &claims, SECRET);
        assert_eq!(
            tokens().verify(&signed_none, now()),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn other_algorithms_are_rejected() {
        let claims = claims_json("tessera", now().timestamp() + 60);
        for alg in ["RS256", "ES256", "HS512", "EdDSA"] {
            let token = hs256(&json!({"alg": alg, "typ": "JWT"}), &claims, SECRET);
            assert_eq!(
                tokens().verify(&token, now()),
                Err(TokenError::Malformed),
                "{alg}"
            );
        }
    }

    #[test]
    fn a_wrong_audience_is_rejected() {
        let token = hs256(
            &json!({"alg": "HS256", "typ": "JWT"}),
            &claims_json("someone-else", now().timestamp() + 60),
            SECRET,
        );
        assert_eq!(
            tokens().verify(&token, now()),
            Err(TokenError::WrongAudience)
        );
    }

    #[test]
    fn a_wrong_issuer_or_missing_claim_is_rejected() {
        let mut claims = claims_json("tessera", now().timestamp() + 60);
        claims["iss"] = json!("evil");
        let token = hs256(&json!({"alg": "HS256"}), &claims, SECRET);
        assert_eq!(tokens().verify(&token, now()), Err(TokenError::Malformed));
        let mut claims = claims_json("tessera", now().timestamp() + 60);
        claims.as_object_mut().unwrap().remove("exp");
        let token = hs256(&json!({"alg": "HS256"}), &claims, SECRET);
        assert_eq!(tokens().verify(&token, now()), Err(TokenError::Malformed));
        assert_eq!(
            tokens().verify("not.a.jwt", now()),
            Err(TokenError::Malformed)
        );
        assert_eq!(tokens().verify("", now()), Err(TokenError::Malformed));
    }

    #[test]
    fn expiry_follows_the_given_clock_without_leeway() {
        let t = tokens().with_ttl_secs(60).unwrap();
        let issued = t.issue(user(), &[Role::Customer], None, now()).unwrap();
        let at = |secs| now() + chrono::Duration::seconds(secs);
        assert!(t.verify(&issued.token, at(59)).is_ok());
        assert_eq!(t.verify(&issued.token, at(60)), Err(TokenError::Expired));
        assert_eq!(t.verify(&issued.token, at(3600)), Err(TokenError::Expired));
        // A token jsonwebtoken would deem long expired (system clock) is judged by `now` alone.
        let old = now() - chrono::Duration::days(3650);
        let ancient = t.issue(user(), &[Role::Customer], None, old).unwrap();
        assert!(t.verify(&ancient.token, old).is_ok());
    }

    #[test]
    fn not_before_follows_the_given_clock_without_leeway() {
        let t = tokens();
        let at = |secs| now() + chrono::Duration::seconds(secs);
        let mut claims = claims_json("tessera", now().timestamp() + 600);
        claims["nbf"] = json!(now().timestamp() + 60);
        let token = hs256(&json!({"alg": "HS256"}), &claims, SECRET);
        assert_eq!(t.verify(&token, now()), Err(TokenError::NotYetValid));
        assert_eq!(t.verify(&token, at(59)), Err(TokenError::NotYetValid));
        assert!(t.verify(&token, at(60)).is_ok());
        // Tokens issued before `nbf` existed carry none and stay valid.
        let old = hs256(
            &json!({"alg": "HS256"}),
            &claims_json("tessera", now().timestamp() + 60),
            SECRET,
        );
        assert_eq!(t.verify(&old, now()).unwrap().session_id, None);
        // An issued token is valid from the second it was issued.
        let issued = t.issue(user(), &[Role::Customer], None, now()).unwrap();
        assert!(t.verify(&issued.token, now()).is_ok());
        assert_eq!(
            t.verify(&issued.token, at(-1)),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn a_malformed_session_id_is_rejected() {
        let mut claims = claims_json("tessera", now().timestamp() + 60);
        claims["sid"] = json!("not-a-uuid");
        let token = hs256(&json!({"alg": "HS256"}), &claims, SECRET);
        assert_eq!(tokens().verify(&token, now()), Err(TokenError::Malformed));
    }

    #[test]
    fn configuration_is_checked() {
        assert_eq!(
            JwtAccessTokens::new(b"short").err(),
            Some(AuthConfigError::SecretTooShort { min: 32, actual: 5 })
        );
        assert!(tokens().with_ttl_secs(0).is_err());
        assert!(tokens().with_ttl_secs(MAX_ACCESS_TTL_SECS + 1).is_err());
        assert!(Argon2PasswordHasher::with_params(1, 1, 1).is_err());
        assert!(!format!("{:?}", tokens()).contains("0123456789abcdef"));
    }

    #[test]
    fn sign_in_codes_debug_hides_the_key() {
        let codes = HmacSignInCodes::new(SECRET).unwrap();
        assert!(!format!("{codes:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn argon2_round_trip_and_wrong_password() {
        let hasher = Argon2PasswordHasher::with_params(64, 1, 1).unwrap();
        let phc = hasher.hash("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(hasher.verify("correct horse battery", &phc));
        assert!(!hasher.verify("correct horse batterY", &phc));
        assert!(!hasher.verify("correct horse battery", "not a phc string"));
        assert_ne!(
            phc,
            hasher.hash("correct horse battery").unwrap(),
            "fresh salt"
        );
        // Hashes made with other costs still verify: parameters come from the PHC string.
        let stronger = Argon2PasswordHasher::with_params(128, 2, 1).unwrap();
        assert!(stronger.verify("correct horse battery", &phc));
    }

    #[test]
    fn default_argon2_parameters() {
        let phc = Argon2PasswordHasher::new().hash("pässwörd-123").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(Argon2PasswordHasher::default().verify("pässwörd-123", &phc));
    }

    #[test]
    fn refresh_secrets_are_random_and_digested_as_hex() {
        let s = RandomSecrets;
        let a = s.new_refresh_token().unwrap();
        let b = s.new_refresh_token().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(
            s.digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
