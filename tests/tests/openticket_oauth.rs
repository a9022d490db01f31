//! OpenTicket's Google and Apple sign-in (seed 003 §2.2 `POST /v1/auth/oauth/{provider}`;
//! docs/decisions/0031-oauth-sign-in.md) over real HTTP on SQLite and PostgreSQL, against the
//! local OpenID provider of `tessera_tests::oidc` (token endpoint + JWKS; RS256 tokens for
//! "google", ES256 tokens and an ES256 client secret checked by the provider for "apple").
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use tessera_api::ServerConfig;
use tessera_tests::http::{Reply, TestServer, server_config};
use tessera_tests::oidc::{AppleAppKey, ClientAuth, Grant, LocalOidc, SigningKey};
use tessera_tests::{Suite, TestDb};

const GOOGLE_CLIENT: &str = "1234-web.apps.googleusercontent.com";
const GOOGLE_SECRET: &str = "GOCSPX-local-test-secret";
const APPLE_CLIENT: &str = "io.openticket.web";
const APPLE_TEAM: &str = "TEAM123456";
const APPLE_KEY_ID: &str = "KEYID12345";
const REDIRECT: &str = "https://app.openticket.io/callback";

fn main() -> std::process::ExitCode {
    Suite::new()
        .case(
            "a_new_google_user_is_created_and_signs_in_again_as_the_same_user",
            new_user_and_again,
        )
        .case(
            "a_verified_email_links_to_the_password_user",
            verified_email_links,
        )
        .case(
            "an_unverified_email_never_links_to_an_existing_account",
            unverified_email_does_not_link,
        )
        .case("bad_id_tokens_are_refused", bad_id_tokens_are_refused)
        .case(
            "the_nonce_is_checked_when_the_request_sends_one",
            nonce_is_checked,
        )
        .case(
            "codes_the_provider_refuses_are_401",
            provider_refusals_are_401,
        )
        .case("apple_checks_our_es256_client_secret", apple_client_secret)
        .case(
            "unconfigured_and_unknown_providers_are_404",
            unconfigured_providers_are_404,
        )
        .case(
            "an_unreachable_provider_is_503",
            unreachable_provider_is_503,
        )
        .case("bad_request_fields_are_400", bad_fields_are_400)
        .case(
            "rotated_provider_keys_are_fetched",
            rotated_keys_are_fetched,
        )
        .case(
            "two_first_sign_ins_at_once_make_one_user",
            concurrent_first_sign_ins,
        )
        .run()
}

/// A Google provider (RS256, client secret) and a server configured for it.
async fn google(db: &TestDb) -> (LocalOidc, TestServer) {
    let provider = LocalOidc::start(
        GOOGLE_CLIENT,
        SigningKey::rsa("g-key-1"),
        ClientAuth::Secret(GOOGLE_SECRET.into()),
    )
    .await;
    let mut config = server_config();
    with_google(&mut config, &provider);
    let server = TestServer::start_with(db, config).await;
    (provider, server)
}

fn with_google(config: &mut ServerConfig, provider: &LocalOidc) {
    let o = &mut config.oauth;
    o.oauth_google_client_id = Some(GOOGLE_CLIENT.into());
    o.oauth_google_client_secret = Some(SecretString::from(GOOGLE_SECRET));
    o.oauth_google_token_url = provider.token_url();
    o.oauth_google_jwks_url = provider.jwks_url();
    o.oauth_google_issuer = provider.issuer();
    o.oauth_jwks_refetch_secs = 0;
}

async fn sign_in(t: &TestServer, provider: &str, code: &str) -> Reply {
    t.post(
        &format!("/v1/auth/oauth/{provider}"),
        None,
        json!({"code": code, "redirectUri": REDIRECT}),
    )
    .await
}

/// The caller of `token` (`GET /v1/auth/me`).
async fn me(t: &TestServer, reply: &Reply) -> Value {
    assert_eq!(reply.status, 200, "sign-in: {:?}", reply.body);
    let token = reply.data()["accessToken"].as_str().unwrap();
    let r = t.get("/v1/auth/me", Some(token)).await;
    assert_eq!(r.status, 200, "me: {:?}", r.body);
    r.data().clone()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn assert_refused(r: &Reply, check: &str) {
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{check}: {:?}", r.body);
    assert_eq!(r.code(), "UNAUTHORIZED", "{check}: {:?}", r.body);
    assert_eq!(r.body["error"]["details"]["reason"], "invalid_id_token");
    assert_eq!(r.body["error"]["details"]["check"], check, "{:?}", r.body);
}

async fn new_user_and_again(db: Arc<TestDb>) {
    let (p, t) = google(&db).await;
    let mut claims = p.claims("110169484474386276334");
    claims["email"] = json!("Ann.Lee@Example.com");
    claims["email_verified"] = json!(true);
    claims["name"] = json!("Ann Lee");
    let first = sign_in(&t, "google", &p.code_for(REDIRECT, claims.clone())).await;
    let user = me(&t, &first).await;
    assert_eq!(user["email"], "ann.lee@example.com");
    assert_eq!(user["displayName"], "Ann Lee");

    // Exactly the token response of /auth/login.
    let (_, _) = t.customer("shape@example.com").await;
    let login = t
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "shape@example.com", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(keys(first.data()), keys(login.data()));
    assert_eq!(keys(&first.body), keys(&login.body));
    assert_eq!(first.data()["tokenType"], "Bearer");
    assert_eq!(first.data()["expiresIn"], 3600);

    // Second sign-in: the same user, not a new one.
    let again = sign_in(&t, "google", &p.code_for(REDIRECT, claims)).await;
    assert_eq!(me(&t, &again).await["userId"], user["userId"]);

    // The refresh token is a real session's.
    let refreshed = t
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refreshToken": again.data()["refreshToken"]}),
        )
        .await;
    assert_eq!(me(&t, &refreshed).await["userId"], user["userId"]);
    t.stop().await;
}

async fn verified_email_links(db: Arc<TestDb>) {
    let (p, t) = google(&db).await;
    let (user_id, _) = t.customer("pat@example.com").await;
    let mut claims = p.claims("sub-pat");
    claims["email"] = json!("Pat@Example.com");
    claims["email_verified"] = json!(true);
    let r = sign_in(&t, "google", &p.code_for(REDIRECT, claims.clone())).await;
    assert_eq!(me(&t, &r).await["userId"], user_id.as_str());
    // Linked by subject from now on, even when the provider no longer sends the email.
    let mut bare = p.claims("sub-pat");
    bare["email_verified"] = json!(false);
    let r = sign_in(&t, "google", &p.code_for(REDIRECT, bare)).await;
    assert_eq!(me(&t, &r).await["userId"], user_id.as_str());
    // The password still works.
    t.login("pat@example.com", "correct horse battery").await;
    t.stop().await;
}

async fn unverified_email_does_not_link(db: Arc<TestDb>) {
    let (p, t) = google(&db).await;
    let (victim, _) = t.customer("vic@example.com").await;
    for (sub, flag) in [
        ("sub-attacker-1", json!(false)),
        ("sub-attacker-2", json!("false")),
    ] {
        let mut claims = p.claims(sub);
        claims["email"] = json!("vic@example.com");
        claims["email_verified"] = flag;
        let r = sign_in(&t, "google", &p.code_for(REDIRECT, claims)).await;
        let user = me(&t, &r).await;
        assert_ne!(user["userId"], victim.as_str(), "{sub} took the account");
        assert_eq!(
            user["email"],
            Value::Null,
            "an unverified email is never attached"
        );
    }
    // No email at all: a new account as well.
    let r = sign_in(
        &t,
        "google",
        &p.code_for(REDIRECT, p.claims("sub-no-email")),
    )
    .await;
    assert_ne!(me(&t, &r).await["userId"], victim.as_str());
    t.login("vic@example.com", "correct horse battery").await;
    t.stop().await;
}

/// A change to an ID token's claims.
type Change = Box<dyn Fn(&mut Value) + Send + Sync>;

async fn bad_id_tokens_are_refused(db: Arc<TestDb>) {
    let (p, t) = google(&db).await;
    let now = chrono::Utc::now().timestamp();
    let cases: Vec<(&str, Change)> = vec![
        (
            "issuer",
            Box::new(|c| c["iss"] = json!("https://accounts.example.net")),
        ),
        (
            "audience",
            Box::new(|c| c["aud"] = json!("someone-else.apps.googleusercontent.com")),
        ),
        (
            "audience",
            Box::new(|c| c["aud"] = json!(["other-client", GOOGLE_CLIENT])),
        ),
        (
            "expired",
            Box::new(move |c| {
                c["iat"] = json!(now - 7_200);
                c["exp"] = json!(now - 3_600);
            }),
        ),
        (
            "issuedInFuture",
            Box::new(move |c| c["iat"] = json!(now + 3_600)),
        ),
        ("malformed", Box::new(|c| c["sub"] = json!(""))),
    ];
    for (check, change) in cases {
        let mut claims = p.claims("sub-bad");
        claims["email"] = json!("bad@example.com");
        claims["email_verified"] = json!(true);
        change(&mut claims);
        let r = sign_in(&t, "google", &p.code_for(REDIRECT, claims)).await;
        assert_refused(&r, check);
    }
    // Signed by a key the provider never published.
    let forged = p.issue_code(Grant {
        redirect_uri: REDIRECT.into(),
        claims: p.claims("sub-bad"),
        unpublished_kid: Some("forged-key".into()),
    });
    assert_refused(&sign_in(&t, "google", &forged).await, "unknownKey");
    // Signed by another key under the published key's id.
    let impostor = p.issue_code(Grant {
        redirect_uri: REDIRECT.into(),
        claims: p.claims("sub-bad"),
        unpublished_kid: Some("g-key-1".into()),
    });
    assert_refused(&sign_in(&t, "google", &impostor).await, "signature");
    // None of the refusals created or linked anything: the first good sign-in makes the user.
    let mut claims = p.claims("sub-bad");
    claims["email"] = json!("bad@example.com");
    claims["email_verified"] = json!(true);
    let r = sign_in(&t, "google", &p.code_for(REDIRECT, claims)).await;
    assert_eq!(me(&t, &r).await["email"], "bad@example.com");
    t.stop().await;
}

async fn nonce_is_checked(db: Arc<TestDb>) {
    let (p, t) = google(&db).await;
    let with_nonce = |nonce: Option<&str>| {
        let mut c = p.claims("sub-nonce");
        if let Some(n) = nonce {
            c["nonce"] = json!(n);
        }
        c
    };
    let post = |code: String, nonce: &str| {
        let t = &t;
        let nonce = nonce.to_owned();
        async move {
            t.post(
                "/v1/auth/oauth/google",
                None,
                json!({"code": code, "redirectUri": REDIRECT, "nonce": nonce}),
            )
            .await
        }
    };
    let r = post(p.code_for(REDIRECT, with_nonce(Some("n-2"))), "n-1").await;
    assert_refused(&r, "nonce");
    let r = post(p.code_for(REDIRECT, with_nonce(None)), "n-1").await;
    assert_refused(&r, "nonce");
    let r = post(p.code_for(REDIRECT, with_nonce(Some("n-1"))), "n-1").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    t.stop().await;
}

async fn provider_refusals_are_401(db: Arc<TestDb>) {
    let (p, t) = google(&db).await;
    let code = p.code_for(REDIRECT, p.claims("sub-once"));
    assert_eq!(sign_in(&t, "google", &code).await.status, 200);
    for code in [code, "never-issued".to_owned()] {
        let r = sign_in(&t, "google", &code).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
        assert_eq!(r.code(), "UNAUTHORIZED");
        assert_eq!(r.body["error"]["details"]["reason"], "invalid_grant");
        assert_eq!(r.body["error"]["details"]["provider"], "google");
    }
    // A code issued for another redirect URI.
    let code = p.code_for("https://elsewhere.example/cb", p.claims("sub-other"));
    let r = sign_in(&t, "google", &code).await;
    assert_eq!(r.body["error"]["details"]["reason"], "invalid_grant");
    t.stop().await;
}

async fn apple_provider(app_key: &AppleAppKey) -> LocalOidc {
    LocalOidc::start(
        APPLE_CLIENT,
        SigningKey::ec("a-key-1"),
        ClientAuth::AppleJwt {
            team_id: APPLE_TEAM.into(),
            key_id: APPLE_KEY_ID.into(),
            public: app_key.public.clone(),
        },
    )
    .await
}

fn with_apple(config: &mut ServerConfig, provider: &LocalOidc, key_file: &std::path::Path) {
    let o = &mut config.oauth;
    o.oauth_apple_client_id = Some(APPLE_CLIENT.into());
    o.oauth_apple_team_id = Some(APPLE_TEAM.into());
    o.oauth_apple_key_id = Some(APPLE_KEY_ID.into());
    o.oauth_apple_private_key_file = Some(key_file.to_path_buf());
    o.oauth_apple_token_url = provider.token_url();
    o.oauth_apple_jwks_url = provider.jwks_url();
    o.oauth_apple_issuer = provider.issuer();
}

async fn apple_client_secret(db: Arc<TestDb>) {
    let dir = tempfile::tempdir().unwrap();
    let app_key = AppleAppKey::generate();
    let p = apple_provider(&app_key).await;
    let key_file = dir.path().join("AuthKey.p8");
    std::fs::write(&key_file, &app_key.pem).unwrap();
    let mut config = server_config();
    with_apple(&mut config, &p, &key_file);
    let t = TestServer::start_with(&db, config).await;
    let mut claims = p.claims("001234.abcdef0123456789.0123");
    claims["email"] = json!("x7k2@privaterelay.appleid.com");
    claims["email_verified"] = json!("true");
    let r = sign_in(&t, "apple", &p.code_for(REDIRECT, claims)).await;
    let user = me(&t, &r).await;
    assert_eq!(user["email"], "x7k2@privaterelay.appleid.com");
    assert!(p.client_failures().is_empty(), "{:?}", p.client_failures());
    // Google is not configured on this server.
    assert_eq!(sign_in(&t, "google", "x").await.status, 404);
    t.stop().await;

    // A server holding another key: Apple refuses its client secret (invalid_client), which is
    // this server's fault, not the caller's.
    let other = AppleAppKey::generate();
    let wrong_file = dir.path().join("Other.p8");
    std::fs::write(&wrong_file, &other.pem).unwrap();
    let mut config = server_config();
    with_apple(&mut config, &p, &wrong_file);
    let t = TestServer::start_with(&db, config).await;
    let r = sign_in(&t, "apple", &p.code_for(REDIRECT, p.claims("001234.b"))).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    assert_eq!(r.body["error"]["details"]["provider"], "apple");
    assert_eq!(p.client_failures(), vec!["signature".to_owned()]);
    t.stop().await;
}

async fn unconfigured_providers_are_404(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    for provider in ["google", "apple"] {
        let r = sign_in(&t, provider, "some-code").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
        assert_eq!(r.code(), "NOT_FOUND");
        assert_eq!(r.body["error"]["details"]["reason"], "notConfigured");
        assert_eq!(r.body["error"]["details"]["id"], provider);
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("not configured"), "{message}");
        assert!(r.body["meta"]["requestId"].is_string());
    }
    let r = sign_in(&t, "github", "some-code").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["details"]["resource"], "oauthProvider");
    t.stop().await;
}

async fn unreachable_provider_is_503(db: Arc<TestDb>) {
    // A port that was just free: nothing listens there.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let mut config = server_config();
    let o = &mut config.oauth;
    o.oauth_google_client_id = Some(GOOGLE_CLIENT.into());
    o.oauth_google_client_secret = Some(SecretString::from(GOOGLE_SECRET));
    o.oauth_google_token_url = format!("{closed}/token");
    o.oauth_google_jwks_url = format!("{closed}/jwks");
    let t = TestServer::start_with(&db, config).await;
    let r = sign_in(&t, "google", "code").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    assert_eq!(r.code(), "SERVICE_UNAVAILABLE");
    assert_eq!(r.body["error"]["details"]["provider"], "google");
    t.stop().await;

    // The token endpoint answers, the key set cannot be fetched.
    let p = LocalOidc::start(
        GOOGLE_CLIENT,
        SigningKey::rsa("g-key-1"),
        ClientAuth::Secret(GOOGLE_SECRET.into()),
    )
    .await;
    let mut config = server_config();
    with_google(&mut config, &p);
    config.oauth.oauth_google_jwks_url = format!("{closed}/jwks");
    let t = TestServer::start_with(&db, config).await;
    let r = sign_in(&t, "google", &p.code_for(REDIRECT, p.claims("s"))).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    t.stop().await;
}

async fn bad_fields_are_400(db: Arc<TestDb>) {
    let (p, t) = google(&db).await;
    for (body, field) in [
        (json!({"redirectUri": REDIRECT}), "code"),
        (json!({"code": "", "redirectUri": REDIRECT}), "code"),
        (json!({"code": "c"}), "redirectUri"),
        (
            json!({"code": "c", "redirectUri": "callback"}),
            "redirectUri",
        ),
        (
            json!({"code": "c", "redirectUri": REDIRECT, "nonce": " "}),
            "nonce",
        ),
        (
            json!({"code": "x".repeat(3_000), "redirectUri": REDIRECT}),
            "code",
        ),
    ] {
        let r = t.post("/v1/auth/oauth/google", None, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{field}: {:?}", r.body);
        assert_eq!(r.code(), "VALIDATION_ERROR");
        assert_eq!(r.field(), field, "{:?}", r.body);
    }
    assert_eq!(p.token_calls(), 0, "bad requests never reach the provider");
    t.stop().await;
}

async fn rotated_keys_are_fetched(db: Arc<TestDb>) {
    let (p, t) = google(&db).await;
    let r = sign_in(&t, "google", &p.code_for(REDIRECT, p.claims("sub-rot"))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = sign_in(&t, "google", &p.code_for(REDIRECT, p.claims("sub-rot"))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(p.jwks_calls(), 1, "the key set is cached");
    p.rotate("g-key-2");
    let r = sign_in(&t, "google", &p.code_for(REDIRECT, p.claims("sub-rot"))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(p.jwks_calls(), 2, "an unknown kid fetches the keys again");
    t.stop().await;
}

async fn concurrent_first_sign_ins(db: Arc<TestDb>) {
    let (p, t) = google(&db).await;
    let mut claims = p.claims("sub-race");
    claims["email"] = json!("race@example.com");
    claims["email_verified"] = json!(true);
    let mut running = Vec::new();
    for _ in 0..4 {
        let (http, base) = (t.http.clone(), t.base.clone());
        let body = json!({"code": p.code_for(REDIRECT, claims.clone()), "redirectUri": REDIRECT});
        running.push(tokio::spawn(async move {
            let r = http
                .post(format!("{base}/v1/auth/oauth/google"))
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }));
    }
    let mut users = BTreeSet::new();
    for task in running {
        let (status, body) = task.await.unwrap();
        let reply = Reply { status, body };
        users.insert(me(&t, &reply).await["userId"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        users.len(),
        1,
        "one account for one provider subject: {users:?}"
    );
    t.stop().await;
}
