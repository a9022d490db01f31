//! Access tokens at the edge, over real HTTP on SQLite and PostgreSQL: a token is accepted only
//! from its `nbf` on, only for a user who exists and is not disabled, and only while the sign-in
//! session (refresh family) it was issued for has not been ended by logout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde_json::{Value, json};
use std::sync::Arc;
use tessera_domain::UserId;
use tessera_tests::http::{Reply, TestServer};
use tessera_tests::{Suite, TestDb};

/// The JWT secret of `tessera_tests::http::server_config`.
const SERVER_SECRET: &[u8] = b"test-jwt-secret-of-at-least-32-bytes!!";

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("a_token_before_its_nbf_is_refused", future_nbf)
        .case("a_token_of_an_unknown_user_is_refused", unknown_user)
        .case("a_disabled_users_token_is_refused", disabled_user)
        .case(
            "logout_ends_that_sessions_access_tokens_only",
            logout_revokes,
        )
        .run()
}

/// The claims of a compact JWT.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("json")
}

/// An HS256 JWT over `claims`, signed with `key` (as the server signs).
fn sign(claims: &Value, key: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{body}");
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key),
        input.as_bytes(),
    );
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// Sign in over HTTP; returns (access token, refresh token).
async fn sign_in(t: &TestServer, email: &str) -> (String, String) {
    let r = t
        .post(
            "/v1/auth/login",
            None,
            json!({"email": email, "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(r.status, 200, "login: {:?}", r.body);
    (
        r.data()["accessToken"].as_str().unwrap().to_owned(),
        r.data()["refreshToken"].as_str().unwrap().to_owned(),
    )
}

/// An OpenTicket route any signed-in caller may use (the caller's tickets).
async fn my_tickets(t: &TestServer, token: &str) -> Reply {
    t.get("/v1/tickets", Some(token)).await
}

fn assert_ot_unauthorized(r: &Reply, what: &str) {
    assert_eq!(r.status, 401, "{what}: {:?}", r.body);
    assert_eq!(r.code(), "UNAUTHORIZED", "{what}: {:?}", r.body);
}

async fn future_nbf(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let (_, token) = t.customer("nbf@example.com").await;
    let claims = claims_of(&token);
    assert_eq!(
        claims["nbf"], claims["iat"],
        "issued tokens carry nbf = iat"
    );
    // The same claims re-signed are accepted: only `nbf` differs below.
    assert_eq!(
        my_tickets(&t, &sign(&claims, SERVER_SECRET)).await.status,
        200
    );

    let mut early = claims.clone();
    early["nbf"] = json!(Utc::now().timestamp() + 600);
    let r = my_tickets(&t, &sign(&early, SERVER_SECRET)).await;
    assert_ot_unauthorized(&r, "nbf in ten minutes");

    let mut past = claims;
    past["nbf"] = json!(Utc::now().timestamp() - 5);
    assert_eq!(
        my_tickets(&t, &sign(&past, SERVER_SECRET)).await.status,
        200,
        "nbf in the past"
    );
    t.stop().await;
}

async fn unknown_user(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let (_, token) = t.customer("known@example.com").await;
    let mut claims = claims_of(&token);
    claims["sub"] = json!(uuid::Uuid::now_v7().to_string());
    // Without a session id too: tokens of the phone and WeChat sign-ins carry none.
    claims.as_object_mut().unwrap().remove("sid");
    let forged = sign(&claims, SERVER_SECRET);
    assert_ot_unauthorized(&my_tickets(&t, &forged).await, "unknown user, tickets");
    assert_ot_unauthorized(
        &t.get("/v1/auth/me", Some(&forged)).await,
        "unknown user, me",
    );
    // The meeting document answers in its own format.
    let r = t.get("/orders", Some(&forged)).await;
    assert_eq!(r.status, 401, "meeting: {:?}", r.body);
    assert_eq!(r.body["type"], "Unauthorized");
    t.stop().await;
}

async fn disabled_user(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let (user_id, token) = t.customer("soon-gone@example.com").await;
    let (_, other) = t.customer("stays@example.com").await;
    assert_eq!(my_tickets(&t, &token).await.status, 200);
    // The meeting document's own list of the caller's orders.
    assert_eq!(t.get("/orders", Some(&token)).await.status, 200);

    // No HTTP route disables a user yet; the admin's use case is the service call.
    let user_id: UserId = user_id.parse().unwrap();
    t.server
        .services
        .identity
        .disable_user(None, user_id)
        .await
        .unwrap();

    assert_ot_unauthorized(&my_tickets(&t, &token).await, "disabled user");
    let r = t.get("/orders", Some(&token)).await;
    assert_eq!(r.status, 401, "meeting: {:?}", r.body);
    assert_eq!(r.body["type"], "Unauthorized");
    assert_eq!(my_tickets(&t, &other).await.status, 200, "other users");
    t.stop().await;
}

async fn logout_revokes(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let email = "two-devices@example.com";
    let (_, _) = t.customer(email).await;
    let (phone_access, phone_refresh) = sign_in(&t, email).await;
    let (laptop_access, _) = sign_in(&t, email).await;
    assert_eq!(my_tickets(&t, &phone_access).await.status, 200);
    assert_eq!(my_tickets(&t, &laptop_access).await.status, 200);
    assert_ne!(
        claims_of(&phone_access)["sid"],
        claims_of(&laptop_access)["sid"],
        "each sign-in is its own session"
    );

    // A refresh keeps the session: the new access token and the older one both work.
    let r = t
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refreshToken": phone_refresh}),
        )
        .await;
    assert_eq!(r.status, 200, "refresh: {:?}", r.body);
    let phone_access_2 = r.data()["accessToken"].as_str().unwrap().to_owned();
    let phone_refresh_2 = r.data()["refreshToken"].as_str().unwrap().to_owned();
    assert_eq!(
        claims_of(&phone_access_2)["sid"],
        claims_of(&phone_access)["sid"]
    );
    assert_eq!(my_tickets(&t, &phone_access_2).await.status, 200);
    // The meeting document's "who am I" sees the same sign-in.
    assert_eq!(
        t.get("/users/current", Some(&phone_access_2)).await.status,
        200
    );

    let r = t
        .post(
            "/v1/auth/logout",
            None,
            json!({"refreshToken": phone_refresh_2}),
        )
        .await;
    assert_eq!(r.status, 200, "logout: {:?}", r.body);

    // At once, every access token of that session stops working …
    assert_ot_unauthorized(&my_tickets(&t, &phone_access).await, "logged out, first");
    assert_ot_unauthorized(
        &my_tickets(&t, &phone_access_2).await,
        "logged out, refreshed",
    );
    let r = t.get("/users/current", Some(&phone_access_2)).await;
    assert_eq!(r.status, 401, "meeting, logged out: {:?}", r.body);
    assert_eq!(r.body["type"], "Unauthorized");
    // … and the other sign-in of the same user keeps working.
    assert_eq!(my_tickets(&t, &laptop_access).await.status, 200);
    assert_eq!(t.get("/v1/auth/me", Some(&laptop_access)).await.status, 200);
    assert_eq!(
        t.get("/users/current", Some(&laptop_access)).await.status,
        200
    );
    t.stop().await;
}
