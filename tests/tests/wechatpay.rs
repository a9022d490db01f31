//! The WeChat Pay API v3 adapter against a local server that speaks WeChat Pay's protocol: it
//! checks the merchant's `Authorization` signature with the merchant public key (401 `SIGN_ERROR`
//! otherwise), checks `appid`/`mchid` and the order fields, answers with WeChat Pay's JSON and
//! signs its replies with a platform key. Notifications are made both by the adapter's `simulate`
//! module and by hand here (independent AES-256-GCM and RSA code), so the two sides cannot share a
//! mistake unnoticed. Keys are RSA-2048 pairs generated for this run; the platform certificate is a
//! self-signed X.509 v3 certificate assembled in DER below.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_2048_8192_SHA256,
    RSA_PKCS1_SHA256, UnparsedPublicKey,
};
use aws_lc_rs::{aead, rand};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, TimeZone, Utc};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tessera_application::payments::wechatpay::{
    JsapiOrder, TradeState, WechatPay, WechatPayError, WechatPaySignatureHeaders,
};
use tessera_infrastructure::wechatpay::simulate::{self, PlatformSigner};
use tessera_infrastructure::wechatpay::{
    PlatformKeyKind, WechatPayClient, WechatPayConfig, WechatPayConfigError, WechatPaySecret,
    notification_failure_body,
};

const APP_ID: &str = "wx8888888888888888";
const MCH_ID: &str = "1900000109";
const MERCHANT_SERIAL: &str = "3775B6A45ACD588826D15E583A95F5DD00000001";
const API_V3_KEY: &str = "a7cde1ZJB1kG2e7VzKNY3SZhn6b9Q2wX";
const PUB_KEY_ID: &str = "PUB_KEY_ID_0119000001092026112300000000000001";
const NOTIFY_URL: &str = "https://tessera.test/wechatpay/notify";
const PREPAY_ID: &str = "wx201410272009395522657a690389285100";

// ---------------------------------------------------------------------------------------------
// Keys and certificates, made for this run.

struct TestKeys {
    merchant: RsaKeyPair,
    merchant_pem: String,
    /// A second RSA key, used as a wrong merchant key and as a forger's key.
    other: RsaKeyPair,
    other_pem: String,
    /// The platform key behind the certificate.
    cert_key: RsaKeyPair,
    cert_key_pem: String,
    cert_pem: String,
    cert_serial: String,
    /// The platform key known as `PUB_KEY_ID`.
    pub_key: RsaKeyPair,
    pub_key_private_pem: String,
    pub_key_pem: String,
}

fn keys() -> &'static TestKeys {
    static KEYS: OnceLock<TestKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let generate = || RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let private_pem = |k: &RsaKeyPair| pem("PRIVATE KEY", k.as_der().unwrap().as_ref());
        let (merchant, other, cert_key, pub_key) = (generate(), generate(), generate(), generate());
        let mut serial = [0u8; 20];
        rand::fill(&mut serial).unwrap();
        serial[0] = 0x40 | (serial[0] & 0x3f);
        let cert_der = self_signed_certificate(&cert_key, &serial);
        TestKeys {
            merchant_pem: private_pem(&merchant),
            other_pem: private_pem(&other),
            cert_key_pem: private_pem(&cert_key),
            cert_pem: pem("CERTIFICATE", &cert_der),
            cert_serial: hex::encode_upper(serial),
            pub_key_private_pem: private_pem(&pub_key),
            pub_key_pem: pem(
                "PUBLIC KEY",
                pub_key.public_key().as_der().unwrap().as_ref(),
            ),
            merchant,
            other,
            cert_key,
            pub_key,
        }
    })
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// One DER TLV.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

/// A `CN=…` distinguished name.
fn name(common_name: &str) -> Vec<u8> {
    let cn_oid = der(0x06, &[0x55, 0x04, 0x03]);
    let value = der(0x0c, common_name.as_bytes());
    let atv = seq(&[&cn_oid, &value]);
    seq(&[&der(0x31, &atv)])
}

/// A self-signed X.509 v3 certificate (RFC 5280) for `key` with serial number `serial`,
/// sha256WithRSAEncryption, valid 2025–2035, like a WeChat Pay platform certificate.
fn self_signed_certificate(key: &RsaKeyPair, serial: &[u8]) -> Vec<u8> {
    // 1.2.840.113549.1.1.11 sha256WithRSAEncryption, NULL parameters.
    let sha256_rsa = seq(&[
        &der(
            0x06,
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b],
        ),
        &[0x05, 0x00],
    ]);
    let version = der(0xa0, &der(0x02, &[0x02]));
    let validity = seq(&[&der(0x17, b"250101000000Z"), &der(0x17, b"351231235959Z")]);
    let spki = key.public_key().as_der().unwrap();
    let tbs = seq(&[
        &version,
        &der(0x02, serial),
        &sha256_rsa,
        &name("Tenpay.com Root CA"),
        &validity,
        &name(&format!("{MCH_ID} WeChat Pay platform")),
        spki.as_ref(),
    ]);
    let mut signature = vec![0u8; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &rand::SystemRandom::new(),
        &tbs,
        &mut signature,
    )
    .unwrap();
    let mut bits = vec![0u8];
    bits.extend_from_slice(&signature);
    seq(&[&tbs, &sha256_rsa, &der(0x03, &bits)])
}

fn rsa_sign(key: &RsaKeyPair, message: &[u8]) -> String {
    let mut signature = vec![0u8; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &rand::SystemRandom::new(),
        message,
        &mut signature,
    )
    .unwrap();
    B64.encode(signature)
}

fn rsa_verifies(key: &RsaKeyPair, message: &[u8], signature_b64: &str) -> bool {
    let Ok(signature) = B64.decode(signature_b64) else {
        return false;
    };
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public_key().as_ref())
        .verify(message, &signature)
        .is_ok()
}

/// WeChat Pay's reply/notification signature headers for `body`, made here without the adapter.
fn sign_as_platform(
    key: &RsaKeyPair,
    serial: &str,
    body: &[u8],
    timestamp: i64,
) -> WechatPaySignatureHeaders {
    let nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS".to_owned();
    let mut message = format!("{timestamp}\n{nonce}\n").into_bytes();
    message.extend_from_slice(body);
    message.push(b'\n');
    WechatPaySignatureHeaders {
        timestamp: timestamp.to_string(),
        nonce,
        signature: rsa_sign(key, &message),
        serial: serial.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// The fake WeChat Pay.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// Honest WeChat Pay, signing replies with the certificate key.
    WechatPay,
    /// Honest, signing replies with the `PUB_KEY_ID` public key's private key.
    SignsWithPublicKeyId,
    /// Refuses every order with 400 `PARAM_ERROR`.
    RejectsParams,
    /// 500 `SYSTEM_ERROR`.
    ServerError,
    /// Signs replies with a key that is not the platform key behind the serial it names.
    ForgedReplySignature,
    /// Sends replies without signature headers.
    UnsignedReply,
    /// Signs replies correctly but under a serial the merchant does not know.
    UnknownReplySerial,
    /// Answers after 2 seconds.
    Slow,
}

/// One request as the fake WeChat Pay saw it.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path_and_query: String,
    authorization: BTreeMap<String, String>,
    signature_valid: bool,
    accept: Option<String>,
    content_type: Option<String>,
    user_agent: Option<String>,
    body: String,
}

#[derive(Clone)]
struct Fake {
    behaviour: Behaviour,
    received: Arc<Mutex<Vec<Received>>>,
    /// out_trade_no → the transaction JSON the order query answers.
    orders: Arc<Mutex<HashMap<String, Value>>>,
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

/// Check the merchant's `Authorization` header as WeChat Pay does; returns its fields and whether
/// the signature verifies with the merchant public key.
fn check_authorization(
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    body: &str,
) -> (BTreeMap<String, String>, bool) {
    let mut fields = BTreeMap::new();
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return (fields, false);
    };
    let Some(rest) = value.strip_prefix("WECHATPAY2-SHA256-RSA2048 ") else {
        return (fields, false);
    };
    for part in rest.split(',') {
        if let Some((k, v)) = part.split_once('=') {
            fields.insert(k.trim().to_owned(), v.trim_matches('"').to_owned());
        }
    }
    let field = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let fresh = field("timestamp")
        .parse::<i64>()
        .is_ok_and(|t| (Utc::now().timestamp() - t).abs() <= 300);
    let message = format!(
        "{method}\n{}\n{}\n{}\n{body}\n",
        uri.path_and_query().map(|p| p.as_str()).unwrap_or(""),
        field("timestamp"),
        field("nonce_str"),
    );
    let valid = fresh
        && field("mchid") == MCH_ID
        && field("serial_no") == MERCHANT_SERIAL
        && !field("nonce_str").is_empty()
        && field("nonce_str").len() <= 32
        && rsa_verifies(&keys().merchant, message.as_bytes(), &field("signature"));
    (fields, valid)
}

impl Fake {
    fn record(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &str) -> bool {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (authorization, signature_valid) = check_authorization(headers, method, uri, body);
        self.received.lock().unwrap().push(Received {
            method: method.to_string(),
            path_and_query: uri.path_and_query().unwrap().to_string(),
            authorization,
            signature_valid,
            accept: header("accept"),
            content_type: header("content-type"),
            user_agent: header("user-agent"),
            body: body.to_owned(),
        });
        signature_valid
    }

    /// A 200 reply signed according to the behaviour.
    fn signed_reply(&self, body: &Value) -> Response {
        let body = serde_json::to_vec(body).unwrap();
        let k = keys();
        let now = Utc::now().timestamp();
        let signature = match self.behaviour {
            Behaviour::SignsWithPublicKeyId => {
                Some(sign_as_platform(&k.pub_key, PUB_KEY_ID, &body, now))
            }
            Behaviour::ForgedReplySignature => {
                Some(sign_as_platform(&k.other, &k.cert_serial, &body, now))
            }
            Behaviour::UnknownReplySerial => Some(sign_as_platform(
                &k.cert_key,
                "5157F09EFDC096DE15EBE81A47057A72FFFFFFFF",
                &body,
                now,
            )),
            Behaviour::UnsignedReply => None,
            _ => Some(sign_as_platform(&k.cert_key, &k.cert_serial, &body, now)),
        };
        let mut response = (StatusCode::OK, body).into_response();
        let h = response.headers_mut();
        h.insert("content-type", "application/json".parse().unwrap());
        h.insert(
            "request-id",
            "08F78BB5AF0610D302D21B5C7ECB".parse().unwrap(),
        );
        if let Some(s) = signature {
            h.insert("wechatpay-timestamp", s.timestamp.parse().unwrap());
            h.insert("wechatpay-nonce", s.nonce.parse().unwrap());
            h.insert("wechatpay-signature", s.signature.parse().unwrap());
            h.insert("wechatpay-serial", s.serial.parse().unwrap());
        }
        response
    }

    async fn common(&self) -> Option<Response> {
        match self.behaviour {
            Behaviour::ServerError => Some(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "SYSTEM_ERROR",
                "系统错误",
            )),
            Behaviour::Slow => {
                tokio::time::sleep(Duration::from_secs(2)).await;
                None
            }
            _ => None,
        }
    }
}

async fn jsapi(
    State(fake): State<Fake>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = String::from_utf8(body.to_vec()).unwrap();
    if !fake.record(&method, &uri, &headers, &body) {
        return error(StatusCode::UNAUTHORIZED, "SIGN_ERROR", "签名错误");
    }
    if let Some(r) = fake.common().await {
        return r;
    }
    if fake.behaviour == Behaviour::RejectsParams {
        return error(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "输入源“/body/payer/openid”映射到值字段“用户标识”字符串规则校验失败",
        );
    }
    let Ok(order) = serde_json::from_str::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "body is not JSON");
    };
    if order["appid"] != APP_ID || order["mchid"] != MCH_ID {
        return error(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "appid和mch_id不匹配",
        );
    }
    let complete = order["description"].is_string()
        && order["out_trade_no"].is_string()
        && order["notify_url"].is_string()
        && order["amount"]["total"].as_i64().is_some_and(|t| t > 0)
        && order["amount"]["currency"] == "CNY"
        && order["payer"]["openid"].is_string();
    if !complete {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "缺少参数");
    }
    let out_trade_no = order["out_trade_no"].as_str().unwrap().to_owned();
    fake.orders.lock().unwrap().insert(
        out_trade_no.clone(),
        json!({
            "appid": APP_ID,
            "mchid": MCH_ID,
            "out_trade_no": out_trade_no,
            "trade_state": "NOTPAY",
            "trade_state_desc": "订单未支付",
            "amount": {"total": order["amount"]["total"], "currency": "CNY"},
        }),
    );
    fake.signed_reply(&json!({ "prepay_id": PREPAY_ID }))
}

async fn query(
    State(fake): State<Fake>,
    Path(out_trade_no): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if !fake.record(&method, &uri, &headers, "") {
        return error(StatusCode::UNAUTHORIZED, "SIGN_ERROR", "签名错误");
    }
    if let Some(r) = fake.common().await {
        return r;
    }
    if uri.query() != Some(&format!("mchid={MCH_ID}")) {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "mchid is required");
    }
    let order = fake.orders.lock().unwrap().get(&out_trade_no).cloned();
    match order {
        Some(order) => fake.signed_reply(&order),
        None => error(StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "订单不存在"),
    }
}

/// A fake WeChat Pay on a random local port.
async fn fake_wechatpay(behaviour: Behaviour) -> (String, Fake) {
    let fake = Fake {
        behaviour,
        received: Arc::default(),
        orders: Arc::default(),
    };
    let app = Router::new()
        .route("/v3/pay/transactions/jsapi", post(jsapi))
        .route(
            "/v3/pay/transactions/out-trade-no/{out_trade_no}",
            get(query),
        )
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), fake)
}

// ---------------------------------------------------------------------------------------------
// The adapter under test.

fn settings(base: &str) -> WechatPayConfig {
    let k = keys();
    let mut config = WechatPayConfig::new(
        APP_ID,
        MCH_ID,
        MERCHANT_SERIAL,
        WechatPaySecret::new(k.merchant_pem.clone()),
        WechatPaySecret::new(API_V3_KEY),
        NOTIFY_URL,
    )
    .with_platform_key(k.cert_serial.clone(), k.cert_pem.clone())
    .with_platform_key(PUB_KEY_ID, k.pub_key_pem.clone());
    config.base_url = base.to_owned();
    config
}

fn client(base: &str) -> WechatPayClient {
    WechatPayClient::new(settings(base)).unwrap()
}

fn order(out_trade_no: &str) -> JsapiOrder {
    JsapiOrder {
        out_trade_no: out_trade_no.to_owned(),
        description: "Tessera 五月天 演唱会 × 2".to_owned(),
        amount_fen: 96_00,
        payer_openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".to_owned(),
        time_expire: Some(Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()),
        notify_url: None,
    }
}

fn received(fake: &Fake) -> Vec<Received> {
    fake.received.lock().unwrap().clone()
}

// ---------------------------------------------------------------------------------------------
// Orders.

#[tokio::test]
async fn a_jsapi_order_is_signed_sent_in_full_and_its_pay_params_verify() {
    let (base, fake) = fake_wechatpay(Behaviour::WechatPay).await;
    let wechatpay = client(&base);

    let params = wechatpay
        .create_jsapi_order(&order("T20261123000001"))
        .await
        .unwrap();

    let seen = received(&fake);
    assert_eq!(seen.len(), 1);
    let got = &seen[0];
    assert_eq!(got.method, "POST");
    assert_eq!(got.path_and_query, "/v3/pay/transactions/jsapi");
    assert!(got.signature_valid, "the server refused {got:?}");
    assert_eq!(got.authorization["mchid"], MCH_ID);
    assert_eq!(got.authorization["serial_no"], MERCHANT_SERIAL);
    assert_eq!(got.accept.as_deref(), Some("application/json"));
    assert_eq!(got.content_type.as_deref(), Some("application/json"));
    assert!(got.user_agent.as_deref().is_some_and(|ua| !ua.is_empty()));
    let body: Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(
        body,
        json!({
            "appid": APP_ID,
            "mchid": MCH_ID,
            "description": "Tessera 五月天 演唱会 × 2",
            "out_trade_no": "T20261123000001",
            "time_expire": "2026-11-23T20:00:00+08:00",
            "notify_url": NOTIFY_URL,
            "amount": {"total": 9600, "currency": "CNY"},
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        })
    );

    assert_eq!(wechatpay.app_id(), APP_ID);
    assert_eq!(params.app_id, APP_ID);
    assert_eq!(params.package, format!("prepay_id={PREPAY_ID}"));
    assert_eq!(params.sign_type, "RSA");
    assert!(!params.nonce_str.is_empty() && params.nonce_str.len() <= 32);
    let ts: i64 = params.time_stamp.parse().unwrap();
    assert!((Utc::now().timestamp() - ts).abs() < 60);
    let message = format!(
        "{APP_ID}\n{}\n{}\nprepay_id={PREPAY_ID}\n",
        params.time_stamp, params.nonce_str
    );
    assert!(rsa_verifies(
        &keys().merchant,
        message.as_bytes(),
        &params.pay_sign
    ));
    // The nonce is fresh each time.
    let again = wechatpay.pay_params(PREPAY_ID).unwrap();
    assert_ne!(again.nonce_str, params.nonce_str);
    // camelCase names for wx.requestPayment.
    let wire = serde_json::to_value(&params).unwrap();
    for key in [
        "appId",
        "timeStamp",
        "nonceStr",
        "package",
        "signType",
        "paySign",
    ] {
        assert!(wire.get(key).is_some(), "{key} missing in {wire}");
    }
}

#[tokio::test]
async fn an_order_without_expiry_omits_time_expire() {
    let (base, fake) = fake_wechatpay(Behaviour::WechatPay).await;
    let mut o = order("T20261123000002");
    o.time_expire = None;

    client(&base).create_jsapi_order(&o).await.unwrap();

    let body: Value = serde_json::from_str(&received(&fake)[0].body).unwrap();
    assert!(body.get("time_expire").is_none(), "{body}");
}

#[tokio::test]
async fn replies_signed_under_the_public_key_id_are_trusted_too() {
    let (base, _fake) = fake_wechatpay(Behaviour::SignsWithPublicKeyId).await;

    let params = client(&base)
        .create_jsapi_order(&order("T20261123000003"))
        .await
        .unwrap();

    assert_eq!(params.package, format!("prepay_id={PREPAY_ID}"));
}

#[tokio::test]
async fn a_param_error_is_rejected_with_wechat_pays_code_and_message() {
    let (base, fake) = fake_wechatpay(Behaviour::RejectsParams).await;

    let err = client(&base)
        .create_jsapi_order(&order("T20261123000004"))
        .await
        .unwrap_err();

    match err {
        WechatPayError::Rejected { code, message } => {
            assert_eq!(code, "PARAM_ERROR");
            assert!(message.contains("openid"), "{message}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(received(&fake)[0].signature_valid);
}

#[tokio::test]
async fn a_request_signed_with_the_wrong_merchant_key_gets_sign_error() {
    let (base, fake) = fake_wechatpay(Behaviour::WechatPay).await;
    let mut config = settings(&base);
    config.merchant_private_key_pem = WechatPaySecret::new(keys().other_pem.clone());
    let wechatpay = WechatPayClient::new(config).unwrap();

    let err = wechatpay
        .create_jsapi_order(&order("T20261123000005"))
        .await
        .unwrap_err();

    assert!(
        matches!(&err, WechatPayError::Rejected { code, .. } if code == "SIGN_ERROR"),
        "{err:?}"
    );
    assert!(!received(&fake)[0].signature_valid);
}

async fn assert_reply_not_trusted(behaviour: Behaviour) {
    let (base, fake) = fake_wechatpay(behaviour).await;

    let err = client(&base)
        .create_jsapi_order(&order("T20261123000006"))
        .await
        .unwrap_err();

    assert!(
        matches!(&err, WechatPayError::Unavailable(m) if m.contains("not trusted")),
        "{behaviour:?}: {err:?}"
    );
    assert!(received(&fake)[0].signature_valid);
}

#[tokio::test]
async fn a_reply_with_a_forged_signature_is_unavailable() {
    assert_reply_not_trusted(Behaviour::ForgedReplySignature).await;
}

#[tokio::test]
async fn an_unsigned_reply_is_unavailable() {
    assert_reply_not_trusted(Behaviour::UnsignedReply).await;
}

#[tokio::test]
async fn a_reply_signed_under_an_unknown_serial_is_unavailable() {
    assert_reply_not_trusted(Behaviour::UnknownReplySerial).await;
}

#[tokio::test]
async fn a_system_error_is_unavailable() {
    let (base, _fake) = fake_wechatpay(Behaviour::ServerError).await;

    let err = client(&base)
        .create_jsapi_order(&order("T20261123000007"))
        .await
        .unwrap_err();

    assert!(
        matches!(&err, WechatPayError::Unavailable(m) if m.contains("500") && m.contains("SYSTEM_ERROR")),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unreachable_or_slow_server_is_unavailable() {
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let err = client(&closed)
        .query_order("T20261123000008")
        .await
        .unwrap_err();
    assert!(matches!(err, WechatPayError::Unavailable(_)), "{err:?}");

    let (base, _fake) = fake_wechatpay(Behaviour::Slow).await;
    let mut config = settings(&base);
    config.timeout = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let err = WechatPayClient::new(config)
        .unwrap()
        .create_jsapi_order(&order("T20261123000008"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WechatPayError::Unavailable(m) if m.contains("in time")),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(1500));
}

// ---------------------------------------------------------------------------------------------
// Order queries.

#[tokio::test]
async fn a_paid_order_is_queried_with_a_signed_get() {
    let (base, fake) = fake_wechatpay(Behaviour::WechatPay).await;
    fake.orders.lock().unwrap().insert(
        "T20261123000010".to_owned(),
        json!({
            "appid": APP_ID,
            "mchid": MCH_ID,
            "out_trade_no": "T20261123000010",
            "transaction_id": "4200000000002026112300000001",
            "trade_type": "JSAPI",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "CMC",
            "success_time": "2026-11-23T18:30:05+08:00",
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {"total": 9600, "payer_total": 9500, "currency": "CNY", "payer_currency": "CNY"},
        }),
    );

    let tx = client(&base)
        .query_order("T20261123000010")
        .await
        .unwrap()
        .unwrap();

    assert_eq!(tx.out_trade_no, "T20261123000010");
    assert_eq!(
        tx.transaction_id.as_deref(),
        Some("4200000000002026112300000001")
    );
    assert_eq!(tx.trade_state, TradeState::Success);
    assert_eq!(tx.amount_fen, Some(9500));
    assert_eq!(
        tx.payer_openid.as_deref(),
        Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    );
    assert_eq!(
        tx.success_time,
        Some(Utc.with_ymd_and_hms(2026, 11, 23, 10, 30, 5).unwrap())
    );
    let seen = received(&fake);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(
        seen[0].path_and_query,
        format!("/v3/pay/transactions/out-trade-no/T20261123000010?mchid={MCH_ID}")
    );
    assert!(seen[0].signature_valid);
    assert!(seen[0].body.is_empty());
    assert_eq!(seen[0].accept.as_deref(), Some("application/json"));
}

#[tokio::test]
async fn an_opened_but_unpaid_order_is_notpay() {
    let (base, _fake) = fake_wechatpay(Behaviour::WechatPay).await;
    let wechatpay = client(&base);
    wechatpay
        .create_jsapi_order(&order("T20261123000011"))
        .await
        .unwrap();

    let tx = wechatpay
        .query_order("T20261123000011")
        .await
        .unwrap()
        .unwrap();

    assert_eq!(tx.trade_state, TradeState::NotPay);
    assert_eq!(tx.transaction_id, None);
    assert_eq!(tx.amount_fen, Some(9600));
    assert_eq!(tx.payer_openid, None);
    assert_eq!(tx.success_time, None);
}

#[tokio::test]
async fn an_unknown_order_is_none() {
    let (base, fake) = fake_wechatpay(Behaviour::WechatPay).await;

    let tx = client(&base).query_order("T20261123404404").await.unwrap();

    assert_eq!(tx, None);
    assert!(received(&fake)[0].signature_valid);
}

#[tokio::test]
async fn a_query_reply_with_a_forged_signature_is_unavailable() {
    let (base, fake) = fake_wechatpay(Behaviour::ForgedReplySignature).await;
    fake.orders.lock().unwrap().insert(
        "T20261123000012".to_owned(),
        json!({"mchid": MCH_ID, "out_trade_no": "T20261123000012", "trade_state": "SUCCESS"}),
    );

    let err = client(&base)
        .query_order("T20261123000012")
        .await
        .unwrap_err();

    assert!(matches!(err, WechatPayError::Unavailable(_)), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Notifications.

fn paid_transaction(out_trade_no: &str) -> Value {
    json!({
        "appid": APP_ID,
        "mchid": MCH_ID,
        "out_trade_no": out_trade_no,
        "transaction_id": "4200000000002026112300000099",
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "attach": "",
        "success_time": "2026-11-23T18:30:05+08:00",
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {"total": 9600, "payer_total": 9600, "currency": "CNY", "payer_currency": "CNY"},
    })
}

fn notification_client() -> WechatPayClient {
    client("http://127.0.0.1:9")
}

fn cert_signer() -> PlatformSigner {
    let k = keys();
    PlatformSigner::from_pem(&k.cert_key_pem, k.cert_serial.clone()).unwrap()
}

#[test]
fn a_notification_signed_under_the_certificate_serial_round_trips() {
    let now = Utc::now();
    let (headers, body) = cert_signer()
        .notification(
            API_V3_KEY.as_bytes(),
            "EV-2026112300000001",
            &paid_transaction("T20261123000020"),
            now,
        )
        .unwrap();

    let n = notification_client()
        .parse_notification(&headers, &body, now)
        .unwrap();

    assert_eq!(n.id, "EV-2026112300000001");
    assert_eq!(n.event_type, "TRANSACTION.SUCCESS");
    assert_eq!(n.transaction.out_trade_no, "T20261123000020");
    assert_eq!(n.transaction.trade_state, TradeState::Success);
    assert_eq!(
        n.transaction.transaction_id.as_deref(),
        Some("4200000000002026112300000099")
    );
    assert_eq!(n.transaction.amount_fen, Some(9600));
    assert_eq!(
        n.transaction.payer_openid.as_deref(),
        Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    );
    assert_eq!(
        n.transaction.success_time,
        Some(Utc.with_ymd_and_hms(2026, 11, 23, 10, 30, 5).unwrap())
    );
}

#[test]
fn a_notification_signed_under_the_public_key_id_round_trips() {
    let now = Utc::now();
    let (headers, body) = simulate::notification(
        &keys().pub_key_private_pem,
        PUB_KEY_ID,
        API_V3_KEY.as_bytes(),
        "EV-2026112300000002",
        &paid_transaction("T20261123000021"),
        now,
    )
    .unwrap();
    assert_eq!(headers.serial, PUB_KEY_ID);

    let n = notification_client()
        .parse_notification(&headers, &body, now)
        .unwrap();

    assert_eq!(n.transaction.out_trade_no, "T20261123000021");
}

/// Encrypt and sign by hand, without the adapter's code: the format is WeChat Pay's, not merely
/// self-consistent. Also checks that a resource without `associated_data` decrypts with an
/// empty AAD.
#[test]
fn a_notification_made_independently_is_accepted() {
    let k = keys();
    let now = Utc::now();
    for aad in [Some("transaction"), None] {
        let nonce = "fdasflkja484";
        let mut data = serde_json::to_vec(&paid_transaction("T20261123000022")).unwrap();
        let key = aead::LessSafeKey::new(
            aead::UnboundKey::new(&aead::AES_256_GCM, API_V3_KEY.as_bytes()).unwrap(),
        );
        key.seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce.as_bytes().try_into().unwrap()),
            aead::Aad::from(aad.unwrap_or("").as_bytes()),
            &mut data,
        )
        .unwrap();
        let mut resource = json!({
            "original_type": "transaction",
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": B64.encode(&data),
            "nonce": nonce,
        });
        if let Some(aad) = aad {
            resource["associated_data"] = json!(aad);
        }
        let body = serde_json::to_vec(&json!({
            "id": "EV-2018022511223320873",
            "create_time": "2026-11-23T18:30:06+08:00",
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": resource,
        }))
        .unwrap();
        let headers = sign_as_platform(&k.cert_key, &k.cert_serial, &body, now.timestamp());

        let n = notification_client()
            .parse_notification(&headers, &body, now)
            .unwrap();

        assert_eq!(n.id, "EV-2018022511223320873", "aad {aad:?}");
        assert_eq!(n.transaction.out_trade_no, "T20261123000022");
    }
}

fn signed_notification(now: DateTime<Utc>) -> (WechatPaySignatureHeaders, Vec<u8>) {
    cert_signer()
        .notification(
            API_V3_KEY.as_bytes(),
            "EV-2026112300000003",
            &paid_transaction("T20261123000023"),
            now,
        )
        .unwrap()
}

fn assert_bad_signature(result: Result<impl std::fmt::Debug, WechatPayError>) {
    assert!(
        matches!(result, Err(WechatPayError::BadSignature(_))),
        "{result:?}"
    );
}

#[test]
fn a_tampered_body_is_a_bad_signature() {
    let now = Utc::now();
    let (headers, body) = signed_notification(now);
    let tampered = String::from_utf8(body)
        .unwrap()
        .replace("EV-2026112300000003", "EV-2026112300000004")
        .into_bytes();

    assert_bad_signature(notification_client().parse_notification(&headers, &tampered, now));
}

#[test]
fn a_tampered_ciphertext_is_malformed_even_when_the_body_is_signed() {
    let now = Utc::now();
    let (_, body) = signed_notification(now);
    let mut envelope: Value = serde_json::from_slice(&body).unwrap();
    let mut ciphertext = B64
        .decode(envelope["resource"]["ciphertext"].as_str().unwrap())
        .unwrap();
    ciphertext[5] ^= 0x01;
    envelope["resource"]["ciphertext"] = json!(B64.encode(&ciphertext));
    let body = serde_json::to_vec(&envelope).unwrap();
    let headers = cert_signer().sign(&body, now.timestamp()).unwrap();

    let result = notification_client().parse_notification(&headers, &body, now);

    assert!(
        matches!(&result, Err(WechatPayError::Malformed(m)) if m.contains("decrypt")),
        "{result:?}"
    );
}

#[test]
fn a_resource_encrypted_with_another_apiv3_key_is_malformed() {
    let now = Utc::now();
    let (headers, body) = cert_signer()
        .notification(
            b"ANOTHERkeyANOTHERkeyANOTHERkey32",
            "EV-2026112300000005",
            &paid_transaction("T20261123000024"),
            now,
        )
        .unwrap();

    let result = notification_client().parse_notification(&headers, &body, now);

    assert!(
        matches!(result, Err(WechatPayError::Malformed(_))),
        "{result:?}"
    );
}

#[test]
fn a_signed_body_that_is_not_a_notification_is_malformed() {
    let now = Utc::now();
    for body in [
        &b"<xml>not json</xml>"[..],
        br#"{"id":"EV-1","event_type":"TRANSACTION.SUCCESS"}"#,
        br#"{"id":"EV-1","event_type":"TRANSACTION.SUCCESS","resource":{"algorithm":"AEAD_SM4_GCM","ciphertext":"","nonce":"abcdefghijkl"}}"#,
        br#"{"id":"EV-1","event_type":"TRANSACTION.SUCCESS","resource":{"algorithm":"AEAD_AES_256_GCM","ciphertext":"!!","nonce":"short"}}"#,
        br#"{"id":"EV-1","event_type":"TRANSACTION.SUCCESS","resource":{"algorithm":"AEAD_AES_256_GCM","ciphertext":"AAAA","nonce":"abcdefghijkl"}}"#,
    ] {
        let headers = cert_signer().sign(body, now.timestamp()).unwrap();

        let result = notification_client().parse_notification(&headers, body, now);

        assert!(
            matches!(result, Err(WechatPayError::Malformed(_))),
            "{}: {result:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn a_signature_by_another_key_is_a_bad_signature() {
    let k = keys();
    let now = Utc::now();
    let (_, body) = signed_notification(now);
    let forged = sign_as_platform(&k.other, &k.cert_serial, &body, now.timestamp());

    assert_bad_signature(notification_client().parse_notification(&forged, &body, now));

    // A valid signature of the public-key-id key presented under the certificate serial.
    let swapped = sign_as_platform(&k.pub_key, &k.cert_serial, &body, now.timestamp());
    assert_bad_signature(notification_client().parse_notification(&swapped, &body, now));

    // WeChat Pay's signature probe.
    let mut probe = sign_as_platform(&k.cert_key, &k.cert_serial, &body, now.timestamp());
    probe.signature = format!("WECHATPAY/SIGNTEST/{}", probe.signature);
    assert_bad_signature(notification_client().parse_notification(&probe, &body, now));
}

#[test]
fn an_unknown_serial_is_a_bad_signature() {
    let now = Utc::now();
    let (mut headers, body) = signed_notification(now);
    headers.serial = "PUB_KEY_ID_0000000000000000000000000000000000".to_owned();

    assert_bad_signature(notification_client().parse_notification(&headers, &body, now));
}

#[test]
fn missing_headers_are_a_bad_signature() {
    let now = Utc::now();
    let (_, body) = signed_notification(now);

    assert_bad_signature(notification_client().parse_notification(
        &WechatPaySignatureHeaders::default(),
        &body,
        now,
    ));
}

#[test]
fn timestamps_more_than_five_minutes_away_are_a_bad_signature() {
    let client = notification_client();
    let signed_at = Utc::now();
    let (headers, body) = signed_notification(signed_at);
    let later = |s: i64| signed_at + chrono::TimeDelta::seconds(s);

    assert!(
        client
            .parse_notification(&headers, &body, later(300))
            .is_ok()
    );
    assert!(
        client
            .parse_notification(&headers, &body, later(-300))
            .is_ok()
    );
    assert_bad_signature(client.parse_notification(&headers, &body, later(301)));
    assert_bad_signature(client.parse_notification(&headers, &body, later(-301)));

    let mut garbled = headers.clone();
    garbled.timestamp = "yesterday".to_owned();
    assert_bad_signature(client.parse_notification(&garbled, &body, signed_at));
}

#[test]
fn the_failure_reply_is_wechat_pays_fail_json() {
    let body: Value = serde_json::from_str(&notification_failure_body("签名错误 \"x\"")).unwrap();

    assert_eq!(body, json!({"code": "FAIL", "message": "签名错误 \"x\""}));
}

// ---------------------------------------------------------------------------------------------
// Configuration.

fn config_error(change: impl FnOnce(&mut WechatPayConfig)) -> WechatPayConfigError {
    let mut config = settings("https://api.mch.weixin.qq.com");
    change(&mut config);
    WechatPayClient::new(config).unwrap_err()
}

#[test]
fn a_good_configuration_lists_both_kinds_of_platform_key() {
    let wechatpay = client("https://api.mch.weixin.qq.com/");

    let mut expected = vec![
        (keys().cert_serial.clone(), PlatformKeyKind::Certificate),
        (PUB_KEY_ID.to_owned(), PlatformKeyKind::PublicKey),
    ];
    expected.sort();
    assert_eq!(wechatpay.platform_keys(), expected);
}

#[test]
fn secrets_never_print() {
    let config = settings("https://api.mch.weixin.qq.com");
    let wechatpay = WechatPayClient::new(config.clone()).unwrap();
    let merchant_body = keys().merchant_pem.lines().nth(1).unwrap().to_owned();

    for printed in [format!("{config:?}"), format!("{wechatpay:?}")] {
        assert!(!printed.contains(API_V3_KEY), "{printed}");
        assert!(!printed.contains("PRIVATE KEY"), "{printed}");
        assert!(!printed.contains(&merchant_body), "{printed}");
        assert!(printed.contains(MCH_ID), "{printed}");
    }
}

#[test]
fn bad_settings_are_typed_configuration_errors() {
    let k = keys();
    let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let ec_private = pem("PRIVATE KEY", ec.to_pkcs8v1().unwrap().as_ref());
    let ec_public = pem("PUBLIC KEY", ec.public_key().as_der().unwrap().as_ref());

    assert!(matches!(
        config_error(|c| c.merchant_private_key_pem = WechatPaySecret::new("not a key")),
        WechatPayConfigError::MerchantKeyPem(_)
    ));
    assert!(matches!(
        config_error(|c| c.merchant_private_key_pem = WechatPaySecret::new(k.cert_pem.clone())),
        WechatPayConfigError::MerchantKeyPem(_)
    ));
    assert!(matches!(
        config_error(|c| c.merchant_private_key_pem = WechatPaySecret::new(ec_private.clone())),
        WechatPayConfigError::MerchantKeyNotRsa(_)
    ));
    assert!(matches!(
        config_error(|c| c.api_v3_key = WechatPaySecret::new(&API_V3_KEY[..31])),
        WechatPayConfigError::ApiV3KeyLength(31)
    ));
    assert!(matches!(
        config_error(|c| c.platform_keys.clear()),
        WechatPayConfigError::NoPlatformKeys
    ));
    assert!(matches!(
        config_error(|c| {
            c.platform_keys.insert(PUB_KEY_ID.to_owned(), ec_public.clone());
        }),
        WechatPayConfigError::PlatformKeyNotRsa { serial } if serial == PUB_KEY_ID
    ));
    assert!(matches!(
        config_error(|c| {
            c.platform_keys
                .insert(PUB_KEY_ID.to_owned(), "garbage".to_owned());
        }),
        WechatPayConfigError::PlatformKey { .. }
    ));
    assert!(matches!(
        config_error(|c| {
            c.platform_keys
                .insert("0123456789ABCDEF".to_owned(), k.cert_pem.clone());
        }),
        WechatPayConfigError::CertificateSerialMismatch { certificate_serial, .. }
            if certificate_serial == k.cert_serial
    ));
    assert!(matches!(
        config_error(|c| c.base_url = "ftp://api.mch.weixin.qq.com".to_owned()),
        WechatPayConfigError::BadBaseUrl(_)
    ));
    assert!(matches!(
        config_error(|c| c.mch_id = String::new()),
        WechatPayConfigError::Missing("mch_id")
    ));
}

#[test]
fn a_certificate_serial_matches_case_insensitively() {
    let k = keys();
    let mut config = settings("https://api.mch.weixin.qq.com");
    config.platform_keys.clear();
    config
        .platform_keys
        .insert(k.cert_serial.to_lowercase(), k.cert_pem.clone());

    assert!(WechatPayClient::new(config).is_ok());
}

#[tokio::test]
async fn generated_key_pairs_work_as_merchant_keys() {
    let generated = simulate::generate_rsa_key_pair().unwrap();
    assert!(!format!("{generated:?}").contains(generated.private_key_pem.expose_secret()));
    let (base, fake) = fake_wechatpay(Behaviour::WechatPay).await;
    let mut config = settings(&base);
    config.merchant_private_key_pem = WechatPaySecret::from(generated.private_key_pem.clone());
    // The fake only trusts the test merchant key, so a generated one must be refused by it ...
    let err = WechatPayClient::new(config)
        .unwrap()
        .create_jsapi_order(&order("T20261123000030"))
        .await
        .unwrap_err();
    assert!(matches!(err, WechatPayError::Rejected { .. }), "{err:?}");
    assert!(!received(&fake)[0].signature_valid);
    // ... while its public half verifies what the private half signs.
    let signer =
        PlatformSigner::from_pem(generated.private_key_pem.expose_secret(), PUB_KEY_ID).unwrap();
    let now = Utc::now();
    let (headers, body) = signer
        .notification(
            API_V3_KEY.as_bytes(),
            "EV-2026112300000031",
            &paid_transaction("T20261123000031"),
            now,
        )
        .unwrap();
    let mut config = settings("https://api.mch.weixin.qq.com");
    config
        .platform_keys
        .insert(PUB_KEY_ID.to_owned(), generated.public_key_pem);
    let n = WechatPayClient::new(config)
        .unwrap()
        .parse_notification(&headers, &body, now)
        .unwrap();
    assert_eq!(n.transaction.out_trade_no, "T20261123000031");
}
