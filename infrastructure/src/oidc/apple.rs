//! Apple's client secret: a JWT the app signs with its Sign in with Apple key (Apple developer
//! documentation, "Creating a client secret"): header `{"alg": "ES256", "kid": <key id>}`, claims
//! `iss` = team id, `iat`, `exp` (at most six months later; this client uses
//! [`APPLE_SECRET_TTL_SECS`]), `aud` = `https://appleid.apple.com`, `sub` = the client id.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use serde::Serialize;

/// Lifetime of each client secret made, in seconds (5 minutes: one is made per sign-in).
pub const APPLE_SECRET_TTL_SECS: i64 = 300;

/// Why the Apple key settings are unusable.
#[derive(Debug, thiserror::Error)]
pub enum AppleKeyError {
    /// The team id or key id is empty.
    #[error("the Apple {0} is empty")]
    Missing(&'static str),
    /// The key is not a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, Apple's `.p8` file).
    #[error("the Apple private key is not a PKCS#8 PEM private key")]
    NotPem,
    /// The key is not an ECDSA P-256 key.
    #[error("the Apple private key is not an ECDSA P-256 key")]
    NotP256,
    /// Signing failed.
    #[error("signing the Apple client secret failed: {0}")]
    Sign(String),
}

/// The app's Sign in with Apple key and the ids that go with it. `Debug` shows the ids only.
#[derive(Clone)]
pub struct AppleClientSecret {
    team_id: String,
    key_id: String,
    key: EncodingKey,
}

impl std::fmt::Debug for AppleClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppleClientSecret")
            .field("team_id", &self.team_id)
            .field("key_id", &self.key_id)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

/// The client secret's claims.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: i64,
    exp: i64,
    aud: &'a str,
    sub: &'a str,
}

impl AppleClientSecret {
    /// From the team id (10 characters), the key id and the key file's text (the `.p8` PEM Apple
    /// hands out once).
    ///
    /// Errors: [`AppleKeyError::Missing`], [`AppleKeyError::NotPem`], [`AppleKeyError::NotP256`].
    pub fn from_pem(
        team_id: impl Into<String>,
        key_id: impl Into<String>,
        pem: &str,
    ) -> Result<Self, AppleKeyError> {
        let (team_id, key_id) = (team_id.into(), key_id.into());
        if team_id.trim().is_empty() {
            return Err(AppleKeyError::Missing("team id"));
        }
        if key_id.trim().is_empty() {
            return Err(AppleKeyError::Missing("key id"));
        }
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|_| AppleKeyError::NotPem)?;
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der.secret_pkcs8_der())
            .map_err(|_| AppleKeyError::NotP256)?;
        Ok(Self {
            team_id: team_id.trim().to_owned(),
            key_id: key_id.trim().to_owned(),
            key: EncodingKey::from_ec_der(der.secret_pkcs8_der()),
        })
    }

    /// A client secret for `client_id`, issued at `now` (UTC) and valid
    /// [`APPLE_SECRET_TTL_SECS`].
    ///
    /// Errors: [`AppleKeyError::Sign`].
    pub fn sign(&self, client_id: &str, now: DateTime<Utc>) -> Result<String, AppleKeyError> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        let iat = now.timestamp();
        let claims = Claims {
            iss: &self.team_id,
            iat,
            exp: iat + APPLE_SECRET_TTL_SECS,
            aud: super::APPLE_ISSUER,
            sub: client_id,
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| AppleKeyError::Sign(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, KeyPair, UnparsedPublicKey};
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    fn pem_of(pair: &EcdsaKeyPair) -> String {
        let der = pair.to_pkcs8v1().unwrap();
        let body = STANDARD.encode(der.as_ref());
        format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n")
    }

    #[test]
    fn the_secret_is_an_es256_jwt_apple_can_verify() {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let secret = AppleClientSecret::from_pem("TEAM123456", "KEY1", &pem_of(&pair)).unwrap();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let jwt = secret.sign("io.openticket.web", now).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], "KEY1");
        assert_eq!(claims["iss"], "TEAM123456");
        assert_eq!(claims["sub"], "io.openticket.web");
        assert_eq!(claims["aud"], "https://appleid.apple.com");
        assert_eq!(claims["iat"], 1_800_000_000);
        assert_eq!(claims["exp"], 1_800_000_300);
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, pair.public_key().as_ref());
        let signed = format!("{}.{}", parts[0], parts[1]);
        public
            .verify(
                signed.as_bytes(),
                &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
            )
            .unwrap();
    }

    #[test]
    fn unusable_keys_are_refused() {
        assert!(matches!(
            AppleClientSecret::from_pem("T", "K", "not a pem"),
            Err(AppleKeyError::NotPem)
        ));
        assert!(matches!(
            AppleClientSecret::from_pem("", "K", "x"),
            Err(AppleKeyError::Missing("team id"))
        ));
    }
}
