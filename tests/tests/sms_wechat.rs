//! The SMS and WeChat sign-in adapters against local servers that speak the providers' documented
//! protocols over real HTTP:
//!
//! - a fake Tencent Cloud SMS API 3.0 (`SendSms`, 2021-01-11) that recomputes the TC3-HMAC-SHA256
//!   signature of every raw request with its own implementation below (written from Tencent's
//!   "Signature v3" page, not shared with the adapter) and answers `AuthFailure.SignatureFailure`
//!   when it does not match, as Tencent does;
//! - a fake WeChat API serving `/sns/auth` and `/sns/jscode2session` with WeChat's errcodes.
//!
//! Every case checks what the adapter returned and, where it matters, what the server received.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tessera_application::identity::ports::{
    SmsError, SmsSender, WechatAuth, WechatAuthError, WechatSession,
};
use tessera_infrastructure::identity::sms::{
    ConsoleSmsSender, Tc3Request, TencentSecretKey, TencentSmsConfig, TencentSmsConfigError,
    TencentSmsSender, console_sms_log_line,
};
use tessera_infrastructure::identity::wechat_api::{
    WechatApiClient, WechatApiConfig, WechatApiConfigError, WechatAppSecret,
};

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// A local address nothing listens on.
async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

// ---------------------------------------------------------------------------------------------
// TC3-HMAC-SHA256, the verifier's own implementation (Tencent Cloud API 3.0 "Signature v3").
// ---------------------------------------------------------------------------------------------

fn sha256(data: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data))
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    aws_lc_rs::hmac::sign(&key, message).as_ref().to_vec()
}

/// Checks the `Authorization` header of a received request the way the API gateway does: the
/// credential names `secret_id` and `{date of X-TC-Timestamp}/{service}/tc3_request`, the signed
/// headers include `content-type` and `host` and are present, and the signature recomputed from
/// the method, path, query, signed headers and raw body with `secret_key` matches. `now` (Unix
/// seconds), when given, must be within 5 minutes of `X-TC-Timestamp`.
///
/// `Err` carries the Tencent error code to answer with.
fn verify_tc3(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    (secret_id, secret_key, service): (&str, &str, &str),
    now: Option<i64>,
) -> Result<(), (&'static str, String)> {
    let failure = |why: String| ("AuthFailure.SignatureFailure", why);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let authorization = header("authorization")
        .ok_or_else(|| ("AuthFailure.SignatureFailure", "no Authorization".into()))?;
    let rest = authorization
        .strip_prefix("TC3-HMAC-SHA256 ")
        .ok_or_else(|| failure(format!("unknown algorithm in {authorization}")))?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(", ") {
        match part.split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed_headers = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => return Err(failure(format!("bad Authorization part {part:?}"))),
        }
    }
    let (credential, signed_headers, signature) = match (credential, signed_headers, signature) {
        (Some(c), Some(h), Some(s)) => (c, h, s),
        _ => return Err(failure("incomplete Authorization".into())),
    };

    let scope: Vec<&str> = credential.split('/').collect();
    let [id, date, scope_service, terminator] = scope[..] else {
        return Err(failure(format!("bad Credential {credential}")));
    };
    if id != secret_id {
        return Err(("AuthFailure.SecretIdNotFound", format!("unknown id {id}")));
    }
    if scope_service != service || terminator != "tc3_request" {
        return Err(failure(format!("bad scope {credential}")));
    }
    let timestamp: i64 = header("x-tc-timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| failure("no X-TC-Timestamp".into()))?;
    let utc_date = Utc
        .timestamp_opt(timestamp, 0)
        .single()
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    if utc_date != date {
        return Err(failure(format!("scope date {date} is not {utc_date}")));
    }
    if let Some(now) = now
        && (now - timestamp).abs() > 300
    {
        return Err(("AuthFailure.SignatureExpire", "timestamp too far".into()));
    }

    let names: Vec<&str> = signed_headers.split(';').collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    if names != sorted || !names.contains(&"content-type") || !names.contains(&"host") {
        return Err(failure(format!("bad SignedHeaders {signed_headers}")));
    }
    let mut canonical_headers = String::new();
    for name in &names {
        let value = header(name).ok_or_else(|| failure(format!("signed {name} not sent")))?;
        canonical_headers.push_str(&format!("{name}:{}\n", value.trim().to_lowercase()));
    }
    let canonical_request = [
        method.as_str(),
        uri.path(),
        uri.query().unwrap_or(""),
        &canonical_headers,
        signed_headers,
        &sha256(body),
    ]
    .join("\n");
    let string_to_sign = format!(
        "TC3-HMAC-SHA256\n{timestamp}\n{credential_scope}\n{hashed}",
        credential_scope = scope[1..].join("/"),
        hashed = sha256(canonical_request.as_bytes())
    );
    let k_date = hmac(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let k_service = hmac(&k_date, service.as_bytes());
    let k_signing = hmac(&k_service, b"tc3_request");
    let expected = hex::encode(hmac(&k_signing, string_to_sign.as_bytes()));
    aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_bytes(), signature.as_bytes())
        .map_err(|_| failure("signature mismatch".into()))
}

// ---------------------------------------------------------------------------------------------
// Fake Tencent Cloud SMS.
// ---------------------------------------------------------------------------------------------

const SECRET_ID: &str = "AKIDtesseraFAKE0001";
const SECRET_KEY: &str = "tessera-fake-secret-key-0001";
const APP_ID: &str = "1400009099";
const SIGN_NAME: &str = "Tessera";
const TEMPLATE_ID: &str = "449739";

/// How the fake answers a correctly signed `SendSms`.
#[derive(Debug, Clone)]
enum SmsBehaviour {
    /// `Code: "Ok"` for every number.
    Sends,
    /// `SendStatusSet` with this `Code` for every number.
    PerNumber(&'static str),
    /// `Response.Error` with this code.
    ApiError(&'static str),
    /// HTTP 500 with an HTML page.
    ServerError,
    /// HTTP 200 with a body that is not JSON.
    Garbage,
    /// Answers after this long.
    Slow(Duration),
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
struct SmsReceived {
    headers: HeaderMap,
    body: Value,
    verified: Result<(), (&'static str, String)>,
}

#[derive(Clone)]
struct FakeTencent {
    behaviour: SmsBehaviour,
    received: Arc<Mutex<Vec<SmsReceived>>>,
}

fn tencent_error(code: &str, message: &str) -> Response {
    Json(json!({"Response": {
        "Error": {"Code": code, "Message": message},
        "RequestId": "6b2c1c8e-0000-4000-8000-000000000001"
    }}))
    .into_response()
}

async fn send_sms(
    State(fake): State<FakeTencent>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let verified = verify_tc3(
        &method,
        &uri,
        &headers,
        &raw,
        (SECRET_ID, SECRET_KEY, "sms"),
        Some(Utc::now().timestamp()),
    );
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    fake.received.lock().unwrap().push(SmsReceived {
        headers: headers.clone(),
        body: body.clone(),
        verified: verified.clone(),
    });

    match &fake.behaviour {
        SmsBehaviour::ServerError => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "<html>502 Bad Gateway</html>",
            )
                .into_response();
        }
        SmsBehaviour::Garbage => return "<html>maintenance</html>".into_response(),
        SmsBehaviour::Slow(wait) => tokio::time::sleep(*wait).await,
        _ => {}
    }
    // The gateway checks the signature before anything else, with HTTP 200.
    if let Err((code, why)) = verified {
        return tencent_error(code, &why);
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("x-tc-action") != Some("SendSms") {
        return tencent_error("InvalidAction", "action not found");
    }
    if header("x-tc-version") != Some("2021-01-11") {
        return tencent_error("NoSuchVersion", "version not found");
    }
    if header("x-tc-region").is_none() {
        return tencent_error("MissingParameter", "X-TC-Region");
    }
    if let SmsBehaviour::ApiError(code) = fake.behaviour {
        return tencent_error(code, "the fake says no");
    }
    let status = |phone: &Value| match fake.behaviour {
        SmsBehaviour::PerNumber(code) => json!({
            "SerialNo": "", "PhoneNumber": phone, "Fee": 0, "SessionContext": "",
            "Code": code, "Message": "the number's daily limit is reached", "IsoCode": "CN"
        }),
        _ => json!({
            "SerialNo": "5000:1045710669157053657849499619", "PhoneNumber": phone, "Fee": 1,
            "SessionContext": "", "Code": "Ok", "Message": "send success", "IsoCode": "CN"
        }),
    };
    let phones = body["PhoneNumberSet"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    Json(json!({"Response": {
        "SendStatusSet": phones.iter().map(status).collect::<Vec<_>>(),
        "RequestId": "a0aabda6-cf91-4f3e-a2a0-6d82a0ae9e0d"
    }}))
    .into_response()
}

async fn fake_tencent(behaviour: SmsBehaviour) -> (String, Arc<Mutex<Vec<SmsReceived>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route("/", post(send_sms))
        .with_state(FakeTencent {
            behaviour,
            received: received.clone(),
        });
    (serve(app).await, received)
}

fn tencent_config(endpoint: &str, secret_key: &str) -> TencentSmsConfig {
    let mut config = TencentSmsConfig::new(
        SECRET_ID,
        TencentSecretKey::new(secret_key),
        APP_ID,
        SIGN_NAME,
        TEMPLATE_ID,
    );
    config.endpoint = endpoint.to_owned();
    config.timeout = Duration::from_secs(5);
    config
}

fn tencent_sender(endpoint: &str) -> TencentSmsSender {
    TencentSmsSender::new(tencent_config(endpoint, SECRET_KEY)).unwrap()
}

#[tokio::test]
async fn tencent_sends_a_signed_send_sms_with_e164_phone_and_template_params() {
    let (endpoint, received) = fake_tencent(SmsBehaviour::Sends).await;

    let result = tencent_sender(&endpoint)
        .send_code("13800138000", "123456", 5)
        .await;

    assert_eq!(result, Ok(()));
    let received = received.lock().unwrap();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(
        request.verified,
        Ok(()),
        "the fake re-derived the signature"
    );
    let header = |name: &str| request.headers.get(name).unwrap().to_str().unwrap();
    assert_eq!(header("x-tc-action"), "SendSms");
    assert_eq!(header("x-tc-version"), "2021-01-11");
    assert_eq!(header("x-tc-region"), "ap-guangzhou");
    assert_eq!(header("content-type"), "application/json; charset=utf-8");
    assert_eq!(header("host"), endpoint.trim_start_matches("http://"));
    let authorization = header("authorization");
    assert!(
        authorization.starts_with(&format!("TC3-HMAC-SHA256 Credential={SECRET_ID}/")),
        "{authorization}"
    );
    assert!(
        authorization
            .contains("/sms/tc3_request, SignedHeaders=content-type;host;x-tc-action, Signature=")
    );
    assert_eq!(
        request.body,
        json!({
            "PhoneNumberSet": ["+8613800138000"],
            "SmsSdkAppId": APP_ID,
            "SignName": SIGN_NAME,
            "TemplateId": TEMPLATE_ID,
            "TemplateParamSet": ["123456", "5"],
        })
    );
}

#[tokio::test]
async fn a_wrong_secret_key_is_rejected_with_signature_failure() {
    let (endpoint, received) = fake_tencent(SmsBehaviour::Sends).await;
    let sender = TencentSmsSender::new(tencent_config(&endpoint, "not-the-shared-secret")).unwrap();

    let result = sender.send_code("13800138000", "123456", 5).await;

    match result {
        Err(SmsError::Rejected { code, .. }) => assert_eq!(code, "AuthFailure.SignatureFailure"),
        other => panic!("expected a signature rejection, got {other:?}"),
    }
    let received = received.lock().unwrap();
    assert_eq!(received.len(), 1);
    assert!(received[0].verified.is_err());
}

#[tokio::test]
async fn a_per_number_failure_in_send_status_set_is_rejected() {
    let (endpoint, received) = fake_tencent(SmsBehaviour::PerNumber(
        "LimitExceeded.PhoneNumberDailyLimit",
    ))
    .await;

    let result = tencent_sender(&endpoint)
        .send_code("13800138000", "654321", 10)
        .await;

    assert_eq!(
        result,
        Err(SmsError::Rejected {
            code: "LimitExceeded.PhoneNumberDailyLimit".to_owned(),
            message: "the number's daily limit is reached".to_owned(),
        })
    );
    assert_eq!(received.lock().unwrap()[0].verified, Ok(()));
}

#[tokio::test]
async fn an_api_error_is_rejected_but_an_internal_error_is_unavailable() {
    let (endpoint, _) = fake_tencent(SmsBehaviour::ApiError(
        "FailedOperation.TemplateIncorrectOrUnapproved",
    ))
    .await;
    let result = tencent_sender(&endpoint)
        .send_code("13800138000", "111111", 5)
        .await;
    assert_eq!(
        result,
        Err(SmsError::Rejected {
            code: "FailedOperation.TemplateIncorrectOrUnapproved".to_owned(),
            message: "the fake says no".to_owned(),
        })
    );

    let (endpoint, _) = fake_tencent(SmsBehaviour::ApiError("InternalError.Timeout")).await;
    let result = tencent_sender(&endpoint)
        .send_code("13800138000", "111111", 5)
        .await;
    assert!(
        matches!(&result, Err(SmsError::Unavailable(m)) if m.contains("InternalError.Timeout")),
        "{result:?}"
    );
}

#[tokio::test]
async fn server_errors_garbage_timeouts_and_closed_ports_are_unavailable() {
    for behaviour in [
        SmsBehaviour::ServerError,
        SmsBehaviour::Garbage,
        SmsBehaviour::Slow(Duration::from_secs(3)),
    ] {
        let (endpoint, received) = fake_tencent(behaviour.clone()).await;
        let mut config = tencent_config(&endpoint, SECRET_KEY);
        config.timeout = Duration::from_millis(500);
        let result = TencentSmsSender::new(config)
            .unwrap()
            .send_code("13800138000", "222222", 5)
            .await;
        assert!(
            matches!(result, Err(SmsError::Unavailable(_))),
            "{behaviour:?}: {result:?}"
        );
        assert_eq!(received.lock().unwrap().len(), 1, "{behaviour:?}");
    }

    let result = tencent_sender(&closed_port().await)
        .send_code("13800138000", "222222", 5)
        .await;
    assert!(
        matches!(result, Err(SmsError::Unavailable(_))),
        "{result:?}"
    );
}

/// The worked example of Tencent Cloud's "Signature v3" page (CVM `DescribeInstances`, timestamp
/// 1551113065, headers `content-type;host`), with the published intermediate hashes and signature.
/// The page has shown two placeholder keys over time; both published signatures are checked.
#[test]
fn tc3_signing_matches_tencents_worked_example() {
    let payload = br#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
    let headers = [
        ("Content-Type", "application/json; charset=utf-8"),
        ("Host", "cvm.tencentcloudapi.com"),
    ];
    let request = Tc3Request {
        method: "POST",
        canonical_uri: "/",
        canonical_query: "",
        headers: &headers,
        payload,
        service: "cvm",
        time: DateTime::from_timestamp(1_551_113_065, 0).unwrap(),
    };

    assert_eq!(
        request.canonical_request(),
        "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\n\
         content-type;host\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    );
    assert_eq!(
        request.string_to_sign(),
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n\
         5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    );
    let example_key = TencentSecretKey::new("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE");
    let authorization = request.authorization("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", &example_key);
    assert_eq!(
        authorization,
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, \
         SignedHeaders=content-type;host, \
         Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    );
    assert_eq!(
        request.signature(&TencentSecretKey::new("Gu5t9xGARNpq86cd98joQYCN3*******")),
        "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
    );

    // The fake server's verifier accepts the published request too, and only with its key.
    let mut received = HeaderMap::new();
    received.insert("authorization", authorization.parse().unwrap());
    received.insert(
        "content-type",
        "application/json; charset=utf-8".parse().unwrap(),
    );
    received.insert("host", "cvm.tencentcloudapi.com".parse().unwrap());
    received.insert("x-tc-timestamp", "1551113065".parse().unwrap());
    let uri: Uri = "/".parse().unwrap();
    let ids = (
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        "cvm",
    );
    assert_eq!(
        verify_tc3(&Method::POST, &uri, &received, payload, ids, None),
        Ok(())
    );
    let wrong = (ids.0, "Gu5t9xGARNpq86cd98joQYCN3EXAMPLF", ids.2);
    assert!(verify_tc3(&Method::POST, &uri, &received, payload, wrong, None).is_err());
    let mut tampered = payload.to_vec();
    tampered[10] = b'2';
    assert!(verify_tc3(&Method::POST, &uri, &received, &tampered, ids, None).is_err());
}

#[test]
fn tencent_config_is_checked_and_the_secret_key_never_prints() {
    let config = tencent_config("https://sms.tencentcloudapi.com", "very-secret-key-value");
    assert!(!format!("{config:?}").contains("very-secret-key-value"));
    let sender = TencentSmsSender::new(config.clone()).unwrap();
    assert!(!format!("{sender:?}").contains("very-secret-key-value"));

    let mut with_path = config.clone();
    with_path.endpoint = "https://sms.tencentcloudapi.com/v3".to_owned();
    assert!(matches!(
        TencentSmsSender::new(with_path),
        Err(TencentSmsConfigError::BadEndpoint(_))
    ));
    let mut no_template = config;
    no_template.template_id = String::new();
    assert!(matches!(
        TencentSmsSender::new(no_template),
        Err(TencentSmsConfigError::Missing("template_id"))
    ));
}

// ---------------------------------------------------------------------------------------------
// Console sender.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_console_sender_remembers_the_last_code_per_phone() {
    let sender = ConsoleSmsSender::new();
    let app_side: Arc<dyn SmsSender> = Arc::new(sender.clone());

    app_side
        .send_code("13800138000", "111111", 5)
        .await
        .unwrap();
    app_side
        .send_code("13900139000", "222222", 5)
        .await
        .unwrap();
    app_side
        .send_code("13800138000", "333333", 5)
        .await
        .unwrap();

    assert_eq!(sender.last_code("13800138000").as_deref(), Some("333333"));
    assert_eq!(sender.last_code("13900139000").as_deref(), Some("222222"));
    assert_eq!(sender.last_code("13700137000"), None);
}

#[test]
fn the_console_log_line_is_the_documented_greppable_form() {
    assert_eq!(
        console_sms_log_line("13800138000", "123456", 5),
        "sms code sent phone=13800138000 code=123456 ttl_minutes=5"
    );
}

// ---------------------------------------------------------------------------------------------
// Fake WeChat API.
// ---------------------------------------------------------------------------------------------

const WX_APP_ID: &str = "wx1234567890abcdef";
const WX_SECRET: &str = "wechat-app-secret-0123456789abcd";

/// One request as the fake WeChat saw it: its path and query pairs, in order.
type WechatReceived = (String, Vec<(String, String)>);

#[derive(Clone, Default)]
struct FakeWechat {
    received: Arc<Mutex<Vec<WechatReceived>>>,
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let mut values = query.iter().filter(|(k, _)| k == name);
    let first = values.next().map(|(_, v)| v.as_str());
    assert!(values.next().is_none(), "{name} sent twice");
    first
}

fn errcode(code: i64, msg: &str) -> Response {
    Json(json!({"errcode": code, "errmsg": format!("{msg} rid: 65f0a1b2-1c2d3e4f-5a6b7c8d")}))
        .into_response()
}

async fn sns_auth(
    State(fake): State<FakeWechat>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    fake.received
        .lock()
        .unwrap()
        .push(("/sns/auth".to_owned(), query.clone()));
    if param(&query, "openid") != Some("o6_bmjrPTlm6_2sgVt7hMZOPfL2M") {
        return errcode(40003, "invalid openid");
    }
    match param(&query, "access_token") {
        Some("live-token") => errcode(0, "ok"),
        Some("expired-token") => errcode(42001, "access_token expired"),
        Some("busy-token") => errcode(-1, "system error"),
        Some("no-errcode") => Json(json!({"errmsg": "ok"})).into_response(),
        Some("http-500") => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        _ => errcode(
            40001,
            "invalid credential, access_token is invalid or not latest",
        ),
    }
}

async fn jscode2session(
    State(fake): State<FakeWechat>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    fake.received
        .lock()
        .unwrap()
        .push(("/sns/jscode2session".to_owned(), query.clone()));
    if param(&query, "appid") != Some(WX_APP_ID) || param(&query, "secret") != Some(WX_SECRET) {
        return errcode(40125, "invalid appsecret");
    }
    if param(&query, "grant_type") != Some("authorization_code") {
        return errcode(40002, "invalid grant_type");
    }
    // WeChat answers HTTP 200 whatever happens.
    match param(&query, "js_code") {
        Some("0a3+b/c&d=e 码") => Json(json!({
            "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
            "session_key": "tiihtNczf5v6AKRyjwEUhQ==",
            "unionid": "oGZUI0egBJY1zhBYw2KhdUfwVJJE"
        }))
        .into_response(),
        Some("code-no-union") => Json(json!({
            "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
            "session_key": "tiihtNczf5v6AKRyjwEUhQ=="
        }))
        .into_response(),
        Some("rate-limited") => errcode(45011, "api minute-quota reach limit"),
        Some("busy") => errcode(-1, "system error"),
        Some("garbage") => "<html><body>502 Bad Gateway</body></html>".into_response(),
        Some("no-openid") => Json(json!({"session_key": "x"})).into_response(),
        _ => errcode(40029, "invalid code"),
    }
}

async fn fake_wechat() -> (String, FakeWechat) {
    let fake = FakeWechat::default();
    let app = Router::new()
        .route("/sns/auth", get(sns_auth))
        .route("/sns/jscode2session", get(jscode2session))
        .with_state(fake.clone());
    (serve(app).await, fake)
}

fn wechat_client(base_url: &str) -> WechatApiClient {
    let mut config = WechatApiConfig::new(WX_APP_ID, WechatAppSecret::new(WX_SECRET));
    config.base_url = format!("{base_url}/");
    config.timeout = Duration::from_secs(5);
    WechatApiClient::new(config).unwrap()
}

const OPENID: &str = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M";

#[tokio::test]
async fn a_live_access_token_is_accepted() {
    let (base, fake) = fake_wechat().await;

    let result = wechat_client(&base)
        .verify_token(OPENID, "live-token")
        .await;

    assert_eq!(result, Ok(()));
    let received = fake.received.lock().unwrap();
    assert_eq!(received.len(), 1);
    let (path, query) = &received[0];
    assert_eq!(path, "/sns/auth");
    assert_eq!(param(query, "access_token"), Some("live-token"));
    assert_eq!(param(query, "openid"), Some(OPENID));
    assert_eq!(
        param(query, "secret"),
        None,
        "the app secret stays out of /sns/auth"
    );
}

#[tokio::test]
async fn expired_or_foreign_tokens_are_refused_with_wechats_errcode() {
    let (base, _) = fake_wechat().await;
    let client = wechat_client(&base);

    let expired = client.verify_token(OPENID, "expired-token").await;
    assert!(
        matches!(&expired, Err(WechatAuthError::Refused { errcode: 42001, errmsg }) if errmsg.starts_with("access_token expired")),
        "{expired:?}"
    );
    let wrong_user = client.verify_token("oSomeoneElse", "live-token").await;
    assert!(
        matches!(
            wrong_user,
            Err(WechatAuthError::Refused { errcode: 40003, .. })
        ),
        "{wrong_user:?}"
    );
}

#[tokio::test]
async fn busy_or_unreadable_token_checks_are_unavailable() {
    let (base, _) = fake_wechat().await;
    let client = wechat_client(&base);
    for token in ["busy-token", "no-errcode", "http-500"] {
        let result = client.verify_token(OPENID, token).await;
        assert!(
            matches!(result, Err(WechatAuthError::Unavailable(_))),
            "{token}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_login_code_becomes_a_session_with_unionid() {
    let (base, fake) = fake_wechat().await;
    // Characters that must be percent-encoded to arrive intact.
    let code = "0a3+b/c&d=e 码";

    let session = wechat_client(&base).code_to_session(code).await;

    assert_eq!(
        session,
        Ok(WechatSession {
            openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".to_owned(),
            session_key: "tiihtNczf5v6AKRyjwEUhQ==".to_owned(),
            unionid: Some("oGZUI0egBJY1zhBYw2KhdUfwVJJE".to_owned()),
        })
    );
    let received = fake.received.lock().unwrap();
    let (path, query) = &received[0];
    assert_eq!(path, "/sns/jscode2session");
    assert_eq!(param(query, "appid"), Some(WX_APP_ID));
    assert_eq!(param(query, "secret"), Some(WX_SECRET));
    assert_eq!(param(query, "js_code"), Some(code));
    assert_eq!(param(query, "grant_type"), Some("authorization_code"));
    assert_eq!(query.len(), 4);
}

#[tokio::test]
async fn a_session_without_unionid_has_none() {
    let (base, _) = fake_wechat().await;

    let session = wechat_client(&base)
        .code_to_session("code-no-union")
        .await
        .unwrap();

    assert_eq!(session.openid, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
    assert_eq!(session.unionid, None);
}

#[tokio::test]
async fn invalid_or_rate_limited_codes_are_refused() {
    let (base, _) = fake_wechat().await;
    let client = wechat_client(&base);

    let invalid = client.code_to_session("already-used").await;
    assert!(
        matches!(&invalid, Err(WechatAuthError::Refused { errcode: 40029, errmsg }) if errmsg.starts_with("invalid code")),
        "{invalid:?}"
    );
    let limited = client.code_to_session("rate-limited").await;
    assert!(
        matches!(
            limited,
            Err(WechatAuthError::Refused { errcode: 45011, .. })
        ),
        "{limited:?}"
    );
}

#[tokio::test]
async fn busy_garbage_or_incomplete_sessions_are_unavailable() {
    let (base, _) = fake_wechat().await;
    let client = wechat_client(&base);
    for code in ["busy", "garbage", "no-openid"] {
        let result = client.code_to_session(code).await;
        assert!(
            matches!(result, Err(WechatAuthError::Unavailable(_))),
            "{code}: {result:?}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_wechat_is_unavailable_without_leaking_the_secret() {
    let client = wechat_client(&closed_port().await);

    let result = client.code_to_session("any-code").await;

    match result {
        Err(WechatAuthError::Unavailable(message)) => {
            assert!(!message.contains(WX_SECRET), "{message}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    let token = client.verify_token(OPENID, "live-token").await;
    assert!(
        matches!(&token, Err(WechatAuthError::Unavailable(m)) if !m.contains("live-token")),
        "{token:?}"
    );
}

#[test]
fn wechat_config_is_checked_and_the_app_secret_never_prints() {
    let config = WechatApiConfig::new(WX_APP_ID, WechatAppSecret::new(WX_SECRET));
    assert_eq!(config.base_url, "https://api.weixin.qq.com");
    assert!(!format!("{config:?}").contains(WX_SECRET));
    let client = WechatApiClient::new(config.clone()).unwrap();
    assert!(!format!("{client:?}").contains(WX_SECRET));

    let mut bad = config.clone();
    bad.base_url = "api.weixin.qq.com".to_owned();
    assert!(matches!(
        WechatApiClient::new(bad),
        Err(WechatApiConfigError::BadBaseUrl(_))
    ));
    let mut no_secret = config;
    no_secret.app_secret = WechatAppSecret::new("");
    assert!(matches!(
        WechatApiClient::new(no_secret),
        Err(WechatApiConfigError::MissingAppSecret)
    ));
}
