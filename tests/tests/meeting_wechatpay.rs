//! Meeting tickets paid with WeChat Pay, end to end over real HTTP on SQLite and PostgreSQL: Tessera
//! is configured with a merchant key and a platform public key and talks to a local server that
//! answers WeChat Pay API v3 (`/v3/pay/transactions/jsapi`, the order query) with signed replies.
//! The test checks the `paySign` the order response carries, delivers signed and encrypted payment
//! notifications (twice, and tampered), and has the client report a transaction that WeChat Pay
//! confirms or does not know.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{Duration as ChronoDuration, Utc};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tessera_tests::http::{Reply, TestServer, server_config};
use tessera_tests::wechatpay::{APP_ID, FakeWechatPay, MCH_ID, transaction};
use tessera_tests::{Suite, TestDb};

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("wechatpay_order_notify_and_client_report", flow)
        .case("wechatpay_sandbox_pays_an_order", sandbox)
        .run()
}

async fn call(t: &TestServer, m: Method, path: &str, token: Option<&str>, body: Value) -> Reply {
    t.send(m, path, token, Some(body)).await
}

async fn notify(t: &TestServer, headers: &[(&str, &str)], body: Vec<u8>) -> u16 {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    t.send_raw(Method::POST, "/wechatpay/notify", None, &all, body)
        .await
        .status
        .as_u16()
}

/// A WeChat user `o-pay-1` (development WeChat verifier: no app secret configured); its token.
async fn wechat_user(t: &TestServer) -> String {
    let r = call(
        t,
        Method::POST,
        "/smsCodes",
        None,
        json!({"phone": "13800000001"}),
    )
    .await;
    assert_eq!(r.status, 202);
    let code = t
        .server
        .services
        .console_sms
        .as_ref()
        .unwrap()
        .last_code("13800000001")
        .unwrap();
    let token_body = json!({"wechatId": "o-pay-1", "wechatToken": "dev:o-pay-1"});
    assert_eq!(
        call(t, Method::POST, "/wechat_tokens", None, token_body.clone())
            .await
            .status,
        201
    );
    let r = call(
        t,
        Method::POST,
        "/users",
        None,
        json!({"wechatId": "o-pay-1", "phone": "13800000001", "smsCode": code}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let mut login = token_body.clone();
    login["type"] = json!("wechat");
    let r = call(t, Method::POST, "/tokens", None, login).await;
    r.body["access_token"].as_str().unwrap().to_owned()
}

/// A meeting on sale with one grade at 0.01 yuan × 10; (meeting id, grade id).
async fn meeting_on_sale(t: &TestServer, admin: &str) -> (String, String) {
    let start = Utc::now() + ChronoDuration::days(3);
    let r = call(
        t,
        Method::POST,
        "/meetings",
        Some(admin),
        json!({"title": "支付测试会", "startTime": start.to_rfc3339(),
               "endTime": (start + ChronoDuration::hours(2)).to_rfc3339(),
               "ticketGrades": [{"name": "普通票", "price": 0.01, "stock": 10}], "status": "onSale"}),
    )
    .await;
    let meeting = r.body["id"].as_str().unwrap().to_owned();
    let grade = r.body["ticketGrades"][0]["id"].as_str().unwrap().to_owned();
    (meeting, grade)
}

/// `tessera wechatpay-sandbox` (the walkthrough's WeChat Pay stand-in) pays an order end to end:
/// Tessera configured with the settings it writes, the sandbox's notification accepted.
async fn sandbox(db: Arc<TestDb>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prepared = tessera_api::sandbox::prepare(dir.path(), addr).unwrap();
    tokio::spawn(async move { axum::serve(listener, prepared.router).await });
    let env: HashMap<String, String> = prepared.env.into_iter().collect();
    assert!(
        std::fs::read_to_string(dir.path().join("env"))
            .unwrap()
            .contains("TESSERA_WECHATPAY_API_BASE=http://")
    );
    let mut config = server_config();
    let m = &mut config.meeting;
    m.wechat_app_id = Some(env["TESSERA_WECHAT_APP_ID"].clone());
    m.wechatpay_mch_id = Some(env["TESSERA_WECHATPAY_MCH_ID"].clone());
    m.wechatpay_serial_no = env["TESSERA_WECHATPAY_SERIAL_NO"].clone();
    m.wechatpay_private_key_file = Some(env["TESSERA_WECHATPAY_PRIVATE_KEY_FILE"].clone().into());
    m.wechatpay_api_v3_key = Some(SecretString::from(
        env["TESSERA_WECHATPAY_API_V3_KEY"].clone(),
    ));
    m.wechatpay_platform_keys = env["TESSERA_WECHATPAY_PLATFORM_KEYS"].clone();
    m.wechatpay_api_base = env["TESSERA_WECHATPAY_API_BASE"].clone();
    let t = TestServer::start_with(&db, config).await;
    let admin = t.admin().await;
    let buyer = wechat_user(&t).await;
    let (meeting, grade) = meeting_on_sale(&t, &admin).await;
    let r = call(&t, Method::POST, "/orders", Some(&buyer), json!({
        "items": [{"ticketGradeId": grade, "ticketPrice": 0.01, "ticketAmount": 1, "meetingId": meeting}],
        "meetingId": meeting, "paymentMethodId": "wechatpay",
    })).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(r.body["transaction"]["thirdPartyTransactionInfo"]["paySign"].is_string());
    let order = r.body["id"].as_str().unwrap().to_owned();
    // Not paid yet: the order query says NOTPAY, so a client report is refused.
    let report = |txn: &str| json!({"orderId": order, "transactionId": txn});
    let r = call(
        &t,
        Method::POST,
        "/third_party_transactions",
        Some(&buyer),
        report("4200000000"),
    )
    .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let paid: Value = t
        .http
        .post(format!(
            "http://{addr}/sandbox/pay/{}",
            order.replace('-', "")
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(paid["notifyStatus"], 204, "{paid}");
    let r = t.get(&format!("/orders/{order}"), Some(&buyer)).await;
    assert_eq!(r.body["status"], "已支付");
    assert_eq!(r.body["transactionId"], paid["transactionId"]);
    let r = call(
        &t,
        Method::POST,
        "/third_party_transactions",
        Some(&buyer),
        report(paid["transactionId"].as_str().unwrap()),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    t.stop().await;
}

async fn flow(db: Arc<TestDb>) {
    let fake = FakeWechatPay::start().await;
    let mut config = server_config();
    fake.configure(&mut config);
    let t = TestServer::start_with(&db, config).await;
    let admin = t.admin().await;

    let buyer = wechat_user(&t).await;
    let (meeting, grade) = meeting_on_sale(&t, &admin).await;
    let r = t.get("/payment_methods", Some(&buyer)).await;
    let ids: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["wechatpay", "mock"]);

    let order_body = json!({
        "items": [{"ticketGradeId": grade, "ticketPrice": 0.01, "ticketAmount": 2, "meetingId": meeting}],
        "meetingId": meeting, "paymentMethodId": "wechatpay",
    });
    let r = call(
        &t,
        Method::POST,
        "/orders",
        Some(&buyer),
        order_body.clone(),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let order = r.body["id"].as_str().unwrap().to_owned();
    let info = r.body["transaction"]["thirdPartyTransactionInfo"].clone();
    // WeChat Pay was asked for exactly this order, amount in fen, for the buyer's openid.
    let sent = fake.orders.lock().unwrap()[0].clone();
    let out_trade_no = order.replace('-', "");
    assert_eq!(sent["out_trade_no"], out_trade_no.as_str());
    assert_eq!(sent["amount"]["total"], 2);
    assert_eq!(sent["payer"]["openid"], "o-pay-1");
    assert_eq!(sent["mchid"], MCH_ID);
    // The client's paySign verifies with the merchant public key over the documented message.
    assert_eq!(info["appId"], APP_ID);
    assert_eq!(info["signType"], "RSA");
    assert!(info["package"].as_str().unwrap().starts_with("prepay_id="));
    let message = format!(
        "{}\n{}\n{}\n{}\n",
        info["appId"].as_str().unwrap(),
        info["timeStamp"].as_str().unwrap(),
        info["nonceStr"].as_str().unwrap(),
        info["package"].as_str().unwrap()
    );
    let sig = B64.decode(info["paySign"].as_str().unwrap()).unwrap();
    UnparsedPublicKey::new(
        &RSA_PKCS1_2048_8192_SHA256,
        fake.merchant.public_key().as_ref(),
    )
    .verify(message.as_bytes(), &sig)
    .expect("paySign verifies");

    // A tampered notification changes nothing.
    let paid_txn = transaction(&out_trade_no, "4200000001202611230000000001", json!(2));
    let (h, body) = fake.notification("notify-1", &paid_txn, Utc::now());
    let headers: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| *b == b'"').unwrap();
    tampered.insert(at, b' ');
    assert_eq!(notify(&t, &headers, tampered).await, 401);
    let mut wrong_serial = headers.clone();
    wrong_serial[3] = ("wechatpay-serial", "PUB_KEY_ID_unknown");
    assert_eq!(notify(&t, &wrong_serial, body.clone()).await, 401);
    let r = t.get(&format!("/orders/{order}"), Some(&buyer)).await;
    assert_eq!(r.body["status"], "待支付");

    // The genuine notification pays the order; delivered again, it changes nothing more.
    assert_eq!(notify(&t, &headers, body.clone()).await, 204);
    assert_eq!(notify(&t, &headers, body).await, 204);
    let r = t.get(&format!("/orders/{order}"), Some(&buyer)).await;
    assert_eq!(r.body["status"], "已支付", "{:?}", r.body);
    assert_eq!(r.body["transactionId"], "4200000001202611230000000001");
    let tickets = t
        .eventually(Duration::from_secs(10), || async {
            let n = t
                .get("/tickets", Some(&buyer))
                .await
                .body
                .as_array()
                .map_or(0, Vec::len);
            (n == 2).then_some(n)
        })
        .await;
    assert_eq!(tickets, Some(2));
    let r = t.get(&format!("/meetings/{meeting}"), None).await;
    assert_eq!(r.body["ticketGrades"][0]["sold"], 2);

    // The client's report counts only when WeChat Pay's order query confirms it.
    let r = call(&t, Method::POST, "/orders", Some(&buyer), order_body).await;
    let second = r.body["id"].as_str().unwrap().to_owned();
    let report = json!({"orderId": second, "transactionId": "4200000001202611230000000002"});
    let r = call(
        &t,
        Method::POST,
        "/third_party_transactions",
        Some(&buyer),
        report.clone(),
    )
    .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(r.body["errors"]["transactionId"].is_string());
    fake.paid.lock().unwrap().insert(
        second.replace('-', ""),
        "4200000001202611230000000002".into(),
    );
    let r = call(
        &t,
        Method::POST,
        "/third_party_transactions",
        Some(&buyer),
        report.clone(),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["status"], "已支付");
    let r = call(
        &t,
        Method::POST,
        "/third_party_transactions",
        Some(&buyer),
        report,
    )
    .await;
    assert_eq!(r.status, 201, "reported twice is harmless");
    let r = call(
        &t,
        Method::POST,
        "/transactions",
        Some(&buyer),
        json!({"orderId": second}),
    )
    .await;
    assert_eq!(r.status, 400, "a paid order needs no transaction");
    t.stop().await;
}
