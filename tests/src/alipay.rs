//! A local Alipay open-platform gateway for the plans payment suite: per-run keys (ours, the
//! application's, and Alipay's own) written to files, an HTTP server at `POST /gateway.do` that
//! checks each request's common parameters and its RSA2 `sign` against **our public key** with
//! its own implementation of the signing rules (so a mistake in the client is caught here), and
//! answers `alipay.trade.precreate` signed with **its own key** over the response object as sent;
//! plus signed (and forged) asynchronous notifications as Alipay posts them.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{
    KeyPair as _, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, UnparsedPublicKey,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tessera_api::ServerConfig;
use tessera_infrastructure::wechatpay::simulate;

/// The app id the stand-in knows.
pub const APP_ID: &str = "2021000000000042";

/// Alipay's side: the precreate requests it accepted (biz_content as JSON), in order.
#[derive(Clone)]
struct GatewayState {
    alipay: Arc<KeyPair>,
    app_public: Arc<Vec<u8>>,
    orders: Arc<Mutex<Vec<Value>>>,
    refused: Arc<Mutex<Vec<String>>>,
}

/// A running stand-in and its keys.
pub struct FakeAlipay {
    /// `biz_content` of every precreate accepted, oldest first.
    pub orders: Arc<Mutex<Vec<Value>>>,
    /// Why requests were refused (bad signature, missing common parameter …), oldest first.
    pub refused: Arc<Mutex<Vec<String>>>,
    /// `http://127.0.0.1:port/gateway.do`.
    pub gateway: String,
    alipay: Arc<KeyPair>,
    dir: tempfile::TempDir,
}

/// Decode a form body (the stand-in's own decoder).
fn decode_form(body: &[u8]) -> Vec<(String, String)> {
    fn dec(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).unwrap()
    }
    String::from_utf8(body.to_vec())
        .unwrap()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (dec(k), dec(v))
        })
        .collect()
}

/// Alipay's signing rule, written again here: drop `sign` (and `sign_type` for notifications)
/// and empty values, sort by name, `k=v` joined by `&`.
fn content(params: &[(String, String)], drop_sign_type: bool) -> String {
    let mut kept: Vec<&(String, String)> = params
        .iter()
        .filter(|(k, v)| k != "sign" && !(drop_sign_type && k == "sign_type") && !v.is_empty())
        .collect();
    kept.sort_by(|a, b| a.0.cmp(&b.0));
    kept.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn sign(key: &KeyPair, text: &str) -> String {
    let mut sig = vec![0; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        text.as_bytes(),
        &mut sig,
    )
    .unwrap();
    STANDARD.encode(sig)
}

async fn gateway(State(s): State<GatewayState>, body: Bytes) -> String {
    let params = decode_form(&body);
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut problem = None;
    for (k, want) in [
        ("app_id", APP_ID),
        ("charset", "utf-8"),
        ("sign_type", "RSA2"),
        ("version", "1.0"),
        ("method", "alipay.trade.precreate"),
    ] {
        if get(k) != want {
            problem = Some(format!("{k} is {:?}", get(k)));
        }
    }
    if get("timestamp").len() != 19 || get("notify_url").is_empty() {
        problem = Some("timestamp or notify_url missing".into());
    }
    let signed = STANDARD.decode(get("sign")).unwrap_or_default();
    let ok = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, s.app_public.as_slice())
        .verify(content(&params, false).as_bytes(), &signed)
        .is_ok();
    if !ok {
        problem = Some("sign does not verify with the app public key".into());
    }
    if let Some(p) = problem {
        s.refused.lock().unwrap().push(p);
        return json!({"error_response": {"code": "40002", "msg": "Invalid Arguments",
            "sub_code": "isv.invalid-signature", "sub_msg": "验签出错"}})
        .to_string();
    }
    let biz: Value = serde_json::from_str(&get("biz_content")).unwrap();
    s.orders.lock().unwrap().push(biz.clone());
    let object = json!({
        "code": "10000", "msg": "Success",
        "out_trade_no": biz["out_trade_no"],
        "qr_code": format!("https://qr.alipay.com/bax{}", biz["out_trade_no"].as_str().unwrap()),
    })
    .to_string();
    format!(
        "{{\"alipay_trade_precreate_response\":{object},\"sign\":\"{}\"}}",
        sign(&s.alipay, &object)
    )
}

impl FakeAlipay {
    /// Generate both key pairs, write them to a temporary folder and serve on a free port.
    pub async fn start() -> FakeAlipay {
        let app = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let alipay = Arc::new(KeyPair::generate(KeySize::Rsa2048).unwrap());
        let dir = tempfile::tempdir().unwrap();
        // Ours as bare Base64 PKCS#8 (as Alipay's key tool prints it); Alipay's as PEM.
        std::fs::write(
            dir.path().join("app_private_key.txt"),
            STANDARD.encode(app.as_der().unwrap().as_ref()),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("alipay_public_key.pem"),
            simulate::pem("PUBLIC KEY", alipay.public_key().as_der().unwrap().as_ref()),
        )
        .unwrap();
        let state = GatewayState {
            alipay: alipay.clone(),
            app_public: Arc::new(app.public_key().as_ref().to_vec()),
            orders: Arc::default(),
            refused: Arc::default(),
        };
        let (orders, refused) = (state.orders.clone(), state.refused.clone());
        let router = Router::new()
            .route("/gateway.do", post(gateway))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway = format!("http://{}/gateway.do", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        FakeAlipay {
            orders,
            refused,
            gateway,
            alipay,
            dir,
        }
    }

    /// Point `config`'s Alipay settings at this stand-in.
    pub fn configure(&self, config: &mut ServerConfig) {
        let p = &mut config.plans_payments;
        p.alipay_gateway = self.gateway.clone();
        p.alipay_app_id = Some(APP_ID.into());
        p.alipay_private_key_file = Some(self.dir.path().join("app_private_key.txt"));
        p.alipay_public_key_file = Some(self.dir.path().join("alipay_public_key.pem"));
    }

    /// An asynchronous notification as Alipay posts it (form body), signed with Alipay's key:
    /// `out_trade_no` paid `total_amount` (yuan text) with `trade_status`.
    pub fn notification(
        &self,
        notify_id: &str,
        out_trade_no: &str,
        total_amount: &str,
        trade_status: &str,
    ) -> Vec<u8> {
        self.signed_by(
            &self.alipay,
            notify_id,
            out_trade_no,
            total_amount,
            trade_status,
        )
    }

    /// The same notification signed by a key that is not Alipay's (a forgery).
    pub fn forged(&self, notify_id: &str, out_trade_no: &str, total_amount: &str) -> Vec<u8> {
        let other = KeyPair::generate(KeySize::Rsa2048).unwrap();
        self.signed_by(
            &other,
            notify_id,
            out_trade_no,
            total_amount,
            "TRADE_SUCCESS",
        )
    }

    fn signed_by(
        &self,
        key: &KeyPair,
        notify_id: &str,
        out_trade_no: &str,
        total_amount: &str,
        trade_status: &str,
    ) -> Vec<u8> {
        let mut params: Vec<(String, String)> = [
            ("notify_time", "2026-12-06 12:00:00"),
            ("notify_type", "trade_status_sync"),
            ("notify_id", notify_id),
            ("app_id", APP_ID),
            ("charset", "utf-8"),
            ("version", "1.0"),
            ("trade_no", &format!("2026120622001{out_trade_no}")),
            ("out_trade_no", out_trade_no),
            ("trade_status", trade_status),
            ("total_amount", total_amount),
            ("receipt_amount", total_amount),
            ("subject", "钱包充值 & more"),
            ("gmt_payment", "2026-12-06 11:59:58"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let signature = sign(key, &content(&params, true));
        params.push(("sign".into(), signature));
        params.push(("sign_type".into(), "RSA2".into()));
        tessera_infrastructure::alipay::form_encode(
            params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .into_bytes()
    }
}
