//! Helpers shared by the shop suites (seed 002: tests/tests/shop*.rs): sign-in with the
//! development WeChat verifier and checks of the shop's `{"message"}` error format.

use crate::http::{Reply, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

/// Any method with a JSON body.
pub async fn call(
    t: &TestServer,
    m: Method,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> Reply {
    t.send(m, path, token, Some(body)).await
}

/// `POST /weixin-login` with `dev:{openid}`; returns the access token and the `user` answered.
///
/// Panics unless the answer is 200.
pub async fn wx_login(t: &TestServer, openid: &str) -> (String, Value) {
    let r = t
        .post(
            "/weixin-login",
            None,
            json!({"code": format!("dev:{openid}")}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    (
        r.body["token"].as_str().unwrap_or_default().to_owned(),
        r.body["user"].clone(),
    )
}

/// The `message` of a shop error body (`""` when there is none).
pub fn message(r: &Reply) -> &str {
    r.body["message"].as_str().unwrap_or("")
}

/// A 400 whose message begins with `field:`, and nothing but `message` in the body.
pub fn assert_field(r: &Reply, field: &str) {
    assert_eq!(r.status, 400, "{field}: {:?}", r.body);
    assert!(
        message(r).starts_with(&format!("{field}:")),
        "{field}: {:?}",
        r.body
    );
    assert_eq!(
        r.body.as_object().map(|o| o.len()),
        Some(1),
        "only `message`: {:?}",
        r.body
    );
}

/// An ISO 8601 UTC instant with milliseconds, as the seed writes them (`2023-09-15T08:00:00.000Z`).
pub fn is_millis(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[19] == b'.'
}
