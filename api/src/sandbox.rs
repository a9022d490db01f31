//! `tessera wechatpay-sandbox`: a local stand-in for WeChat Pay API v3 for development and the
//! meeting-ticket walkthrough (examples/meeting_walkthrough.py), where the real WeChat Pay cannot
//! be reached.
//!
//! It makes (once, in `--dir`) a merchant key, a platform key known as [`SANDBOX_PUB_KEY_ID`] and an
//! APIv3 key, writes the `TESSERA_WECHAT*` settings that point a Tessera server at it into
//! `{dir}/env`, and serves:
//! - `POST /v3/pay/transactions/jsapi` → `{prepay_id}` (the order is remembered);
//! - `POST /v3/pay/transactions/native` → `{code_url}` (the order is remembered; team plans'
//!   `wxpay`);
//! - `GET /v3/pay/transactions/out-trade-no/{no}` → `SUCCESS` once paid, else `NOTPAY`;
//! - `POST /sandbox/pay/{out_trade_no}` → marks the order paid and delivers the payment
//!   notification to the order's `notify_url`, signed with the platform key and encrypted with the
//!   APIv3 key exactly as WeChat Pay does; answers `{transactionId, notifyStatus}`.
//!
//! Every reply is signed (`Wechatpay-Signature` …) like WeChat Pay's. The sandbox does not check
//! the merchant's request signature (the adapter's own tests do that against a stricter server).

use anyhow::Context;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};
use tessera_infrastructure::wechatpay::simulate::{self, PlatformSigner};

/// The platform public key id the sandbox signs as.
pub const SANDBOX_PUB_KEY_ID: &str = "PUB_KEY_ID_0000000000SANDBOX";
/// The sandbox's merchant id.
pub const SANDBOX_MCH_ID: &str = "1900000109";
/// The sandbox's app id.
pub const SANDBOX_APP_ID: &str = "wxsandbox00000000";

/// `tessera wechatpay-sandbox` options.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Where the keys and the `env` file live (created if missing; keys are kept across runs).
    #[arg(long, default_value = "data/wechatpay-sandbox")]
    pub dir: PathBuf,
    /// Where the sandbox listens.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
}

/// A JSAPI order as sent, and its transaction id once paid.
type SandboxOrder = (Value, Option<String>);

#[derive(Clone)]
struct Sandbox {
    signer: Arc<PlatformSigner>,
    api_v3_key: Arc<String>,
    /// out_trade_no → (JSAPI order as sent, transaction id once paid).
    orders: Arc<Mutex<HashMap<String, SandboxOrder>>>,
    http: reqwest::Client,
}

fn read_or_make(
    dir: &FsPath,
    name: &str,
    make: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<String> {
    let path = dir.join(name);
    if let Ok(text) = std::fs::read_to_string(&path) {
        return Ok(text);
    }
    let text = make()?;
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    Ok(text)
}

/// A prepared sandbox: its routes and the settings that point Tessera at it.
pub struct PreparedSandbox {
    /// The sandbox's routes (serve them at the address given to [`prepare`]).
    pub router: Router,
    /// `(variable, value)` pairs of the `TESSERA_WECHAT*` settings, also written to `{dir}/env`.
    pub env: Vec<(String, String)>,
}

/// Make or load the keys in `dir`, write `{dir}/env` for a sandbox served at `listen`, and
/// return its routes.
///
/// Errors: the folder cannot be written or the keys cannot be made.
pub fn prepare(dir: &FsPath, listen: SocketAddr) -> anyhow::Result<PreparedSandbox> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = std::fs::canonicalize(dir)?;
    let merchant = simulate::generate_rsa_key_pair()?;
    read_or_make(&dir, "merchant_key.pem", || {
        Ok(merchant.private_key_pem.expose_secret().to_owned())
    })?;
    let platform = simulate::generate_rsa_key_pair()?;
    let platform_private = read_or_make(&dir, "platform_key.pem", || {
        Ok(platform.private_key_pem.expose_secret().to_owned())
    })?;
    read_or_make(&dir, "platform_public.pem", || {
        Ok(platform.public_key_pem.clone())
    })?;
    let api_v3_key = read_or_make(&dir, "api_v3.key", || {
        let mut bytes = [0u8; 16];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| anyhow::anyhow!("no randomness"))?;
        Ok(hex::encode(bytes))
    })?;
    let env: Vec<(String, String)> = [
        ("TESSERA_WECHAT_APP_ID", SANDBOX_APP_ID.to_owned()),
        ("TESSERA_WECHATPAY_MCH_ID", SANDBOX_MCH_ID.to_owned()),
        (
            "TESSERA_WECHATPAY_SERIAL_NO",
            "5A4D0B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5E6F70".to_owned(),
        ),
        (
            "TESSERA_WECHATPAY_PRIVATE_KEY_FILE",
            dir.join("merchant_key.pem").display().to_string(),
        ),
        ("TESSERA_WECHATPAY_API_V3_KEY", api_v3_key.clone()),
        (
            "TESSERA_WECHATPAY_PLATFORM_KEYS",
            format!(
                "{SANDBOX_PUB_KEY_ID}={}",
                dir.join("platform_public.pem").display()
            ),
        ),
        ("TESSERA_WECHATPAY_API_BASE", format!("http://{listen}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let text: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(dir.join("env"), text)?;
    let sandbox = Sandbox {
        signer: Arc::new(PlatformSigner::from_pem(
            &platform_private,
            SANDBOX_PUB_KEY_ID,
        )?),
        api_v3_key: Arc::new(api_v3_key),
        orders: Arc::default(),
        http: reqwest::Client::new(),
    };
    let router = Router::new()
        .route("/v3/pay/transactions/jsapi", post(jsapi))
        .route("/v3/pay/transactions/native", post(native))
        .route("/v3/pay/transactions/out-trade-no/{no}", get(query))
        .route("/sandbox/pay/{no}", post(pay))
        .with_state(sandbox);
    Ok(PreparedSandbox { router, env })
}

/// `tessera wechatpay-sandbox`: [`prepare`], print the settings, and serve until interrupted.
///
/// Errors: as [`prepare`], or the address is taken.
pub async fn run(args: SandboxArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let prepared = prepare(&args.dir, args.listen)?;
    let text: String = prepared
        .env
        .iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    eprintln!(
        "WeChat Pay sandbox on http://{}; start Tessera with these settings (also in {}/env):\n\n{text}",
        args.listen,
        args.dir.display()
    );
    axum::serve(listener, prepared.router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

fn signed(s: &Sandbox, status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let Ok(h) = s.signer.sign(&bytes, chrono::Utc::now().timestamp()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    (
        status,
        [
            ("content-type", "application/json".to_owned()),
            ("wechatpay-timestamp", h.timestamp),
            ("wechatpay-nonce", h.nonce),
            ("wechatpay-signature", h.signature),
            ("wechatpay-serial", h.serial),
        ],
        bytes,
    )
        .into_response()
}

async fn jsapi(State(s): State<Sandbox>, Json(order): Json<Value>) -> Response {
    let Some(no) = order["out_trade_no"].as_str().map(str::to_owned) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"code": "PARAM_ERROR", "message": "out_trade_no is required"})),
        )
            .into_response();
    };
    let prepay_id = format!("wxsandbox{}", &no[..no.len().min(24)]);
    if let Ok(mut orders) = s.orders.lock() {
        orders.entry(no).or_insert((order, None));
    }
    signed(&s, StatusCode::OK, &json!({ "prepay_id": prepay_id }))
}

async fn native(State(s): State<Sandbox>, Json(order): Json<Value>) -> Response {
    let Some(no) = order["out_trade_no"].as_str().map(str::to_owned) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"code": "PARAM_ERROR", "message": "out_trade_no is required"})),
        )
            .into_response();
    };
    let code_url = format!(
        "weixin://wxpay/bizpayurl?pr=sandbox{}",
        &no[..no.len().min(24)]
    );
    if let Ok(mut orders) = s.orders.lock() {
        orders.entry(no).or_insert((order, None));
    }
    signed(&s, StatusCode::OK, &json!({ "code_url": code_url }))
}

fn transaction(no: &str, order: &Value, txn: Option<&str>) -> Value {
    let total = order["amount"]["total"].clone();
    json!({
        "appid": order["appid"], "mchid": order["mchid"], "out_trade_no": no,
        "transaction_id": txn, "trade_type": "JSAPI",
        "trade_state": if txn.is_some() { "SUCCESS" } else { "NOTPAY" },
        "trade_state_desc": if txn.is_some() { "支付成功" } else { "订单未支付" },
        "success_time": txn.map(|_| chrono::Utc::now().to_rfc3339()),
        "payer": {"openid": order["payer"]["openid"]},
        "amount": {"total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY"},
    })
}

async fn query(State(s): State<Sandbox>, Path(no): Path<String>) -> Response {
    let found = s.orders.lock().ok().and_then(|o| o.get(&no).cloned());
    match found {
        Some((order, txn)) => signed(
            &s,
            StatusCode::OK,
            &transaction(&no, &order, txn.as_deref()),
        ),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"code": "ORDER_NOT_EXIST", "message": "订单不存在"})),
        )
            .into_response(),
    }
}

async fn pay(State(s): State<Sandbox>, Path(no): Path<String>) -> Response {
    let txn = format!(
        "42000{}",
        &no.chars().filter(char::is_ascii_digit).collect::<String>()
    );
    let txn: String = txn.chars().take(28).collect();
    let order = match s.orders.lock() {
        Ok(mut orders) => orders.get_mut(&no).map(|(order, paid)| {
            *paid = Some(txn.clone());
            order.clone()
        }),
        Err(_) => None,
    };
    let Some(order) = order else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "unknown out_trade_no"})),
        )
            .into_response();
    };
    let resource = transaction(&no, &order, Some(&txn));
    let Ok((h, body)) = s.signer.notification(
        s.api_v3_key.as_bytes(),
        &uuid::Uuid::new_v4().to_string(),
        &resource,
        chrono::Utc::now(),
    ) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let url = order["notify_url"].as_str().unwrap_or_default().to_owned();
    let sent = s
        .http
        .post(&url)
        .header("content-type", "application/json")
        .header("wechatpay-timestamp", h.timestamp)
        .header("wechatpay-nonce", h.nonce)
        .header("wechatpay-signature", h.signature)
        .header("wechatpay-serial", h.serial)
        .body(body)
        .send()
        .await;
    let status = sent.map(|r| r.status().as_u16()).unwrap_or(0);
    Json(json!({ "transactionId": txn, "notifyUrl": url, "notifyStatus": status })).into_response()
}
