//! A local WeChat Pay API v3 for the end-to-end suites that pay through it (the meeting's and the
//! shop's): per-run merchant and platform keys written to files, an HTTP server answering
//! `POST /v3/pay/transactions/jsapi` (remembering each order as sent) and the order query (paid
//! orders from [`FakeWechatPay::paid`]) with replies signed by the platform key, the settings that
//! point a Tessera server at it, and signed, encrypted payment notifications.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tessera_api::ServerConfig;
use tessera_infrastructure::wechatpay::simulate::{self, GeneratedKeyPair, PlatformSigner};

/// The app id the fake expects.
pub const APP_ID: &str = "wx8888888888888888";
/// The merchant id the fake expects.
pub const MCH_ID: &str = "1900000109";
/// The APIv3 key (32 bytes).
pub const API_V3_KEY: &str = "a7cde1ZJB1kG2e7VzKNY3SZhn6b9Q2wX";
/// The WeChat Pay public key id the fake signs under.
pub const PUB_KEY_ID: &str = "PUB_KEY_ID_0119000001092026112300000000000001";
/// The merchant certificate serial configured.
pub const MERCHANT_SERIAL: &str = "3775B6A45ACD588826D15E583A95F5DD00000001";

/// The fake's shared state (the axum state of its routes).
#[derive(Clone)]
struct FakeState {
    signer: Arc<PlatformSigner>,
    orders: Arc<Mutex<Vec<Value>>>,
    paid: Arc<Mutex<HashMap<String, String>>>,
}

/// A running fake WeChat Pay and its keys.
pub struct FakeWechatPay {
    /// The JSAPI orders received, as sent (JSON bodies), oldest first.
    pub orders: Arc<Mutex<Vec<Value>>>,
    /// Paid orders for the order query: `out_trade_no` → `transaction_id`.
    pub paid: Arc<Mutex<HashMap<String, String>>>,
    /// The merchant key pair Tessera signs with (its public half verifies `paySign`).
    pub merchant: RsaKeyPair,
    /// The platform key pair WeChat Pay signs replies and notifications with.
    pub platform: GeneratedKeyPair,
    /// `http://127.0.0.1:port`.
    pub base: String,
    dir: tempfile::TempDir,
}

fn signed(fake: &FakeState, status: StatusCode, body: Value) -> Response {
    let bytes = serde_json::to_vec(&body).unwrap();
    let h = fake.signer.sign(&bytes, Utc::now().timestamp()).unwrap();
    let mut r = (status, bytes).into_response();
    let headers = r.headers_mut();
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("wechatpay-timestamp", h.timestamp.parse().unwrap());
    headers.insert("wechatpay-nonce", h.nonce.parse().unwrap());
    headers.insert("wechatpay-signature", h.signature.parse().unwrap());
    headers.insert("wechatpay-serial", h.serial.parse().unwrap());
    r
}

async fn jsapi(
    State(fake): State<FakeState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    assert!(
        headers["authorization"]
            .to_str()
            .unwrap()
            .starts_with("WECHATPAY2-SHA256-RSA2048 ")
    );
    fake.orders.lock().unwrap().push(body.clone());
    let n = fake.orders.lock().unwrap().len();
    signed(
        &fake,
        StatusCode::OK,
        json!({"prepay_id": format!("wx2026112310000{n:020}")}),
    )
}

/// `POST /v3/pay/transactions/native`: checks the request is signed, remembers it with the JSAPI
/// orders and answers a signed `{code_url}`.
async fn native(
    State(fake): State<FakeState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    assert!(
        headers["authorization"]
            .to_str()
            .unwrap()
            .starts_with("WECHATPAY2-SHA256-RSA2048 ")
    );
    assert!(body.get("payer").is_none(), "a Native order has no payer");
    let no = body["out_trade_no"].as_str().unwrap_or_default().to_owned();
    fake.orders.lock().unwrap().push(body);
    signed(
        &fake,
        StatusCode::OK,
        json!({"code_url": format!("weixin://wxpay/bizpayurl?pr={no}")}),
    )
}

async fn query(State(fake): State<FakeState>, Path(no): Path<String>) -> Response {
    let paid = fake.paid.lock().unwrap().get(&no).cloned();
    let Some(txn) = paid else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"code": "ORDER_NOT_EXIST", "message": "订单不存在"})),
        )
            .into_response();
    };
    let amount = fake
        .orders
        .lock()
        .unwrap()
        .iter()
        .find(|o| o["out_trade_no"] == no.as_str())
        .map(|o| o["amount"]["total"].clone())
        .unwrap();
    signed(&fake, StatusCode::OK, transaction(&no, &txn, amount))
}

/// A successful JSAPI transaction resource as WeChat Pay describes it: order `no` paid `amount`
/// fen (a JSON number) in `txn` by `o-pay-1`.
pub fn transaction(no: &str, txn: &str, amount: Value) -> Value {
    json!({
        "appid": APP_ID, "mchid": MCH_ID, "out_trade_no": no, "transaction_id": txn,
        "trade_type": "JSAPI", "trade_state": "SUCCESS", "trade_state_desc": "支付成功",
        "success_time": Utc::now().to_rfc3339(),
        "payer": {"openid": "o-pay-1"},
        "amount": {"total": amount, "payer_total": amount, "currency": "CNY", "payer_currency": "CNY"},
    })
}

impl FakeWechatPay {
    /// Generate keys, write them to a temporary folder and serve the fake on a free port.
    pub async fn start() -> FakeWechatPay {
        let merchant = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let platform = simulate::generate_rsa_key_pair().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("apiclient_key.pem"),
            simulate::pem("PRIVATE KEY", merchant.as_der().unwrap().as_ref()),
        )
        .unwrap();
        std::fs::write(dir.path().join("pub_key.pem"), &platform.public_key_pem).unwrap();
        let state = FakeState {
            signer: Arc::new(
                PlatformSigner::from_pem(platform.private_key_pem.expose_secret(), PUB_KEY_ID)
                    .unwrap(),
            ),
            orders: Arc::default(),
            paid: Arc::default(),
        };
        let (orders, paid) = (state.orders.clone(), state.paid.clone());
        let app = Router::new()
            .route("/v3/pay/transactions/jsapi", post(jsapi))
            .route("/v3/pay/transactions/native", post(native))
            .route("/v3/pay/transactions/out-trade-no/{no}", get(query))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeWechatPay {
            orders,
            paid,
            merchant,
            platform,
            base,
            dir,
        }
    }

    /// Point `config`'s WeChat app and WeChat Pay settings at this fake.
    pub fn configure(&self, config: &mut ServerConfig) {
        let m = &mut config.meeting;
        m.wechat_app_id = Some(APP_ID.into());
        m.wechatpay_mch_id = Some(MCH_ID.into());
        m.wechatpay_serial_no = MERCHANT_SERIAL.into();
        m.wechatpay_private_key_file = Some(self.dir.path().join("apiclient_key.pem"));
        m.wechatpay_api_v3_key = Some(SecretString::from(API_V3_KEY));
        m.wechatpay_platform_keys = format!(
            "{PUB_KEY_ID}={}",
            self.dir.path().join("pub_key.pem").display()
        );
        m.wechatpay_api_base = self.base.clone();
    }

    /// A payment notification `id` for `transaction`, signed by the platform key at `at` and
    /// encrypted with [`API_V3_KEY`]: its `Wechatpay-*` headers (lower-case names) and body.
    pub fn notification(
        &self,
        id: &str,
        transaction: &Value,
        at: DateTime<Utc>,
    ) -> (Vec<(String, String)>, Vec<u8>) {
        let (h, body) = simulate::notification(
            self.platform.private_key_pem.expose_secret(),
            PUB_KEY_ID,
            API_V3_KEY.as_bytes(),
            id,
            transaction,
            at,
        )
        .unwrap();
        (
            vec![
                ("wechatpay-timestamp".into(), h.timestamp),
                ("wechatpay-nonce".into(), h.nonce),
                ("wechatpay-signature".into(), h.signature),
                ("wechatpay-serial".into(), h.serial),
            ],
            body,
        )
    }
}
