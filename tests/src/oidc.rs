//! A local OpenID Connect provider for the OAuth sign-in suite: a token endpoint (authorization
//! code grant, RFC 6749 §4.1.3) and a JSON Web Key Set, signing ID tokens with keys made per run:
//! RS256 as Google does, ES256 for the "apple" stand-in. As Apple's does, the "apple" token
//! endpoint authenticates the client by its ES256 client-secret JWT, checked against the app's
//! public key. The JWS signing here is written against aws-lc-rs directly, independently of the
//! `jsonwebtoken` code under test.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    RSA_PKCS1_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The `aud` of Apple client secrets.
pub const APPLE_AUDIENCE: &str = "https://appleid.apple.com";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A key that signs ID tokens, with its key id.
pub enum SigningKey {
    /// RSA 2048, RS256.
    Rsa {
        /// `kid`.
        kid: String,
        /// The key pair.
        pair: RsaKeyPair,
    },
    /// ECDSA P-256, ES256.
    Ec {
        /// `kid`.
        kid: String,
        /// The key pair.
        pair: EcdsaKeyPair,
    },
}

impl SigningKey {
    /// A fresh RS256 key.
    pub fn rsa(kid: &str) -> Self {
        SigningKey::Rsa {
            kid: kid.to_owned(),
            pair: RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key"),
        }
    }

    /// A fresh ES256 key.
    pub fn ec(kid: &str) -> Self {
        SigningKey::Ec {
            kid: kid.to_owned(),
            pair: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC key"),
        }
    }

    /// The same kind of key, freshly made, under `kid`.
    pub fn another(&self, kid: &str) -> Self {
        match self {
            SigningKey::Rsa { .. } => SigningKey::rsa(kid),
            SigningKey::Ec { .. } => SigningKey::ec(kid),
        }
    }

    /// `kid`.
    pub fn kid(&self) -> &str {
        match self {
            SigningKey::Rsa { kid, .. } | SigningKey::Ec { kid, .. } => kid,
        }
    }

    /// Its public JWK.
    pub fn jwk(&self) -> Value {
        match self {
            SigningKey::Rsa { kid, pair } => {
                let c = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": b64(&c.n), "e": b64(&c.e)})
            }
            SigningKey::Ec { kid, pair } => {
                let point = pair.public_key().as_ref();
                json!({"kty": "EC", "use": "sig", "alg": "ES256", "crv": "P-256", "kid": kid,
                       "x": b64(&point[1..33]), "y": b64(&point[33..65])})
            }
        }
    }

    /// A compact JWS of `claims`, header `{alg, kid, typ: JWT}`.
    pub fn sign(&self, claims: &Value) -> String {
        let alg = match self {
            SigningKey::Rsa { .. } => "RS256",
            SigningKey::Ec { .. } => "ES256",
        };
        let header = json!({"alg": alg, "kid": self.kid(), "typ": "JWT"});
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = match self {
            SigningKey::Rsa { pair, .. } => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    input.as_bytes(),
                    &mut sig,
                )
                .expect("RSA sign");
                sig
            }
            SigningKey::Ec { pair, .. } => pair
                .sign(&SystemRandom::new(), input.as_bytes())
                .expect("EC sign")
                .as_ref()
                .to_vec(),
        };
        format!("{input}.{}", b64(&signature))
    }
}

/// The app's Sign in with Apple key: its `.p8` PEM for the server's settings and the public half
/// the stand-in checks client secrets with.
pub struct AppleAppKey {
    /// PKCS#8 PEM of the private key (what Apple hands out as `AuthKey_{kid}.p8`).
    pub pem: String,
    /// The uncompressed public point.
    pub public: Vec<u8>,
}

impl AppleAppKey {
    /// A fresh key.
    pub fn generate() -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC key");
        let der = pair.to_pkcs8v1().expect("pkcs8");
        let body = STANDARD.encode(der.as_ref());
        let lines: Vec<String> = body
            .as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        AppleAppKey {
            pem: format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                lines.join("\n")
            ),
            public: pair.public_key().as_ref().to_vec(),
        }
    }
}

/// How the token endpoint authenticates the client.
pub enum ClientAuth {
    /// `client_secret` must equal this (Google).
    Secret(String),
    /// `client_secret` must be an ES256 JWT by the app key (Apple).
    AppleJwt {
        /// Expected `iss`.
        team_id: String,
        /// Expected header `kid`.
        key_id: String,
        /// The app key's public point.
        public: Vec<u8>,
    },
}

/// One authorization code's grant: the ID token it yields and what the exchange must present.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The redirect URI the code was issued for.
    pub redirect_uri: String,
    /// The ID token's claims (complete: `iss`, `aud`, `exp` … as the test wants them).
    pub claims: Value,
    /// Sign with a key that is not published, under this `kid` (a forged token).
    pub unpublished_kid: Option<String>,
}

struct Shared {
    client_id: String,
    auth: ClientAuth,
    keys: Mutex<Vec<SigningKey>>,
    codes: Mutex<HashMap<String, Grant>>,
    next: AtomicUsize,
    token_calls: AtomicUsize,
    jwks_calls: AtomicUsize,
    /// Why client authentication failed, per refused exchange (for assertions).
    client_failures: Mutex<Vec<String>>,
}

/// A running local provider.
#[derive(Clone)]
pub struct LocalOidc {
    /// `http://127.0.0.1:port`; also the issuer.
    pub base: String,
    shared: Arc<Shared>,
}

impl LocalOidc {
    /// A provider whose ID tokens are signed by `key`, for `client_id`, authenticating the client
    /// by `auth`.
    pub async fn start(client_id: &str, key: SigningKey, auth: ClientAuth) -> LocalOidc {
        let shared = Arc::new(Shared {
            client_id: client_id.to_owned(),
            auth,
            keys: Mutex::new(vec![key]),
            codes: Mutex::new(HashMap::new()),
            next: AtomicUsize::new(1),
            token_calls: AtomicUsize::new(0),
            jwks_calls: AtomicUsize::new(0),
            client_failures: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/token", post(token))
            .route("/jwks", get(jwks))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        LocalOidc { base, shared }
    }

    /// The token endpoint URL.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base)
    }

    /// The key set URL.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.base)
    }

    /// The issuer (`iss`) its tokens carry by default.
    pub fn issuer(&self) -> String {
        self.base.clone()
    }

    /// Claims of a good ID token for `sub`, issued now and valid ten minutes; the test adds or
    /// changes members.
    pub fn claims(&self, sub: &str) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": self.issuer(),
            "aud": self.shared.client_id,
            "sub": sub,
            "iat": now,
            "exp": now + 600,
        })
    }

    /// A new authorization code for `grant`, valid once.
    pub fn issue_code(&self, grant: Grant) -> String {
        let n = self.shared.next.fetch_add(1, Ordering::SeqCst);
        let code = format!("code-{n}-{}", uuid::Uuid::new_v4().simple());
        self.shared
            .codes
            .lock()
            .unwrap()
            .insert(code.clone(), grant);
        code
    }

    /// A code yielding `claims`, for `redirect_uri`.
    pub fn code_for(&self, redirect_uri: &str, claims: Value) -> String {
        self.issue_code(Grant {
            redirect_uri: redirect_uri.to_owned(),
            claims,
            unpublished_kid: None,
        })
    }

    /// Publish a new signing key and sign with it from now on (the old one stays published).
    pub fn rotate(&self, kid: &str) {
        let mut keys = self.shared.keys.lock().unwrap();
        let fresh = keys[0].another(kid);
        keys.insert(0, fresh);
    }

    /// Token endpoint calls so far.
    pub fn token_calls(&self) -> usize {
        self.shared.token_calls.load(Ordering::SeqCst)
    }

    /// Key set fetches so far.
    pub fn jwks_calls(&self) -> usize {
        self.shared.jwks_calls.load(Ordering::SeqCst)
    }

    /// Why client authentication failed, per refused exchange.
    pub fn client_failures(&self) -> Vec<String> {
        self.shared.client_failures.lock().unwrap().clone()
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// Check an Apple client secret: ES256 by the app key, `kid`, `iss`, `sub`, `aud`, times.
fn check_apple_secret(
    jwt: &str,
    client_id: &str,
    team_id: &str,
    key_id: &str,
    public: &[u8],
) -> Result<(), String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return Err("not a compact JWS".into());
    }
    let decode = |p: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD.decode(p).map_err(|e| e.to_string())?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    };
    let header = decode(parts[0])?;
    let claims = decode(parts[1])?;
    if header["alg"] != "ES256" {
        return Err(format!("alg {}", header["alg"]));
    }
    if header["kid"] != key_id {
        return Err(format!("kid {}", header["kid"]));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(parts[2])
        .map_err(|e| e.to_string())?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public)
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .map_err(|_| "signature".to_owned())?;
    if claims["iss"] != team_id {
        return Err(format!("iss {}", claims["iss"]));
    }
    if claims["sub"] != client_id {
        return Err(format!("sub {}", claims["sub"]));
    }
    if claims["aud"] != APPLE_AUDIENCE {
        return Err(format!("aud {}", claims["aud"]));
    }
    let now = chrono::Utc::now().timestamp();
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap_or(i64::MAX),
        claims["exp"].as_i64().unwrap_or(0),
    );
    if iat > now + 5 || exp <= now || exp - iat > 15_777_000 {
        return Err(format!("times iat {iat} exp {exp}"));
    }
    Ok(())
}

async fn token(
    State(s): State<Arc<Shared>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    s.token_calls.fetch_add(1, Ordering::SeqCst);
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    if field("grant_type") != "authorization_code" {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "");
    }
    let client_ok = if field("client_id") != s.client_id {
        Err(format!("client_id {}", field("client_id")))
    } else {
        match &s.auth {
            ClientAuth::Secret(secret) if field("client_secret") == *secret => Ok(()),
            ClientAuth::Secret(_) => Err("wrong client_secret".to_owned()),
            ClientAuth::AppleJwt {
                team_id,
                key_id,
                public,
            } => check_apple_secret(
                &field("client_secret"),
                &s.client_id,
                team_id,
                key_id,
                public,
            ),
        }
    };
    if let Err(why) = client_ok {
        s.client_failures.lock().unwrap().push(why);
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    let grant = s.codes.lock().unwrap().remove(&field("code"));
    let Some(grant) = grant else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown or used code",
        );
    };
    if grant.redirect_uri != field("redirect_uri") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri mismatch",
        );
    }
    let id_token = match &grant.unpublished_kid {
        Some(kid) => {
            let forged = s.keys.lock().unwrap()[0].another(kid);
            forged.sign(&grant.claims)
        }
        None => s.keys.lock().unwrap()[0].sign(&grant.claims),
    };
    Json(json!({
        "access_token": "ya29.local-access-token",
        "expires_in": 3599,
        "token_type": "Bearer",
        "scope": "openid email profile",
        "id_token": id_token,
    }))
    .into_response()
}

async fn jwks(State(s): State<Arc<Shared>>) -> Json<Value> {
    s.jwks_calls.fetch_add(1, Ordering::SeqCst);
    let keys: Vec<Value> = s.keys.lock().unwrap().iter().map(SigningKey::jwk).collect();
    Json(json!({ "keys": keys }))
}
