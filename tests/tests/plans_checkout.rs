//! Team plans checkout end to end (issue 13 part 3, orders and payments together) over real HTTP,
//! on SQLite and PostgreSQL, against the local WeChat Pay and Alipay stand-ins: a plan order paid by
//! WeChat Pay Native, by Alipay and by a confirmed bank transfer takes effect once (duplicate
//! notifications change nothing; buying ends a running trial); a second external payment of an already paid order lands in the
//! wallet as paid credit instead of paying twice; a recharge credits the wallet (paid credit plus
//! the tier's granted credit, once), and the wallet then pays an order, granted credit first.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use tessera_tests::alipay::FakeAlipay;
use tessera_tests::http::{Reply, TestServer, server_config};
use tessera_tests::plans::{certified_company, fen, line, order, pay, status, wallet};
use tessera_tests::wechatpay::{FakeWechatPay, transaction};
use tessera_tests::{Suite, TestDb};

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("orders_paid_by_wxpay_alipay_banktrans", paid_externally)
        .case("second_payment_of_a_paid_order_goes_to_wallet", paid_twice)
        .case(
            "recharge_credits_wallet_which_pays_an_order",
            recharge_then_balance,
        )
        .run()
}

/// A pending `newly` pro order for 3 members, 1 month (90.00 CNY); its `_id`.
async fn pro_order(t: &TestServer, owner: &str, id: &str) -> String {
    let r = order(
        t,
        owner,
        id,
        json!({"plan": "pro", "order_type": "newly", "times": 1, "products": line("pro", 3)}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["amount"], "90.00");
    r.body["_id"].as_str().unwrap().to_owned()
}

async fn order_status(t: &TestServer, owner: &str, id: &str, oid: &str) -> Value {
    let r = t
        .get(&format!("/company/{id}/plan/order/{oid}"), Some(owner))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["status"].clone()
}

/// Pay `oid` with an external `method`: the payment id and the QR content (if any).
async fn open_payment(
    t: &TestServer,
    owner: &str,
    id: &str,
    oid: &str,
    method: &str,
) -> (String, Option<String>) {
    let r = pay(t, owner, id, oid, method).await;
    assert!(r.status.is_success(), "{method}: {:?}", r.body);
    assert_eq!(r.body["payment_method"], method);
    assert_eq!(r.body["amount"], "90.00");
    (
        r.body["paymentId"].as_str().unwrap().to_owned(),
        r.body["code_url"].as_str().map(str::to_owned),
    )
}

async fn wx_notify(t: &TestServer, fake: &FakeWechatPay, n: &str, pid: &str, fen: i64) -> Reply {
    let tx = transaction(pid, &format!("4200000001{n}"), json!(fen));
    let (headers, body) = fake.notification(n, &tx, Utc::now());
    let mut all = vec![("content-type", "application/json")];
    all.extend(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    t.send_raw(Method::POST, "/plans/wechatpay/notify", None, &all, body)
        .await
}

async fn ali_notify(t: &TestServer, body: Vec<u8>) -> String {
    let r = t
        .http
        .post(format!("{}/plans/alipay/notify", t.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

async fn confirm(t: &TestServer, admin: &str, pid: &str) {
    let r = t
        .post(
            &format!("/admin/plans/payments/{pid}/confirm"),
            Some(admin),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn paid_externally(db: Arc<TestDb>) {
    let wx = FakeWechatPay::start().await;
    let ali = FakeAlipay::start().await;
    let mut config = server_config();
    wx.configure(&mut config);
    ali.configure(&mut config);
    let t = TestServer::start_with(&db, config).await;
    let admin = t.admin().await;

    // WeChat Pay Native: the order stays pending until the notification, which counts once.
    let (_, owner) = t.customer("wx@checkout.test").await;
    let id = certified_company(&t, &admin, &owner, "微信团队").await;
    // A pro trial runs; buying the plan ends it (reason `purchased`), so the paid plan shows.
    let r = t
        .post(
            &format!("/company/{id}/plan/trial"),
            Some(&owner),
            json!({"plan": "pro"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(status(&t, &owner, &id).await["current"]["type"], "trial");
    let oid = pro_order(&t, &owner, &id).await;
    let (pid, code_url) = open_payment(&t, &owner, &id, &oid, "wxpay").await;
    assert!(code_url.unwrap().starts_with("weixin://"));
    assert_eq!(order_status(&t, &owner, &id, &oid).await, "pending");
    for n in ["w-1", "w-1", "w-2"] {
        let r = wx_notify(&t, &wx, n, &pid, 9_000).await;
        assert_eq!(r.body["code"], "SUCCESS", "{:?}", r.body);
    }
    assert_eq!(order_status(&t, &owner, &id, &oid).await, "paid");
    let s = status(&t, &owner, &id).await;
    assert_eq!(s["current"]["type"], "paid", "{s:?}");
    assert_eq!(s["current"]["plan"], "pro");
    assert_eq!(wallet(&t, &owner, &id).await["balance"], "0.00");

    // Alipay precreate, then its signed notification.
    let (_, owner) = t.customer("ali@checkout.test").await;
    let id = certified_company(&t, &admin, &owner, "支付宝团队").await;
    let oid = pro_order(&t, &owner, &id).await;
    let (pid, code_url) = open_payment(&t, &owner, &id, &oid, "alipay").await;
    assert_eq!(code_url.unwrap(), format!("https://qr.alipay.com/bax{pid}"));
    // A forged notification changes nothing.
    let r = t
        .http
        .post(format!("{}/plans/alipay/notify", t.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(ali.forged("f-1", &pid, "90.00"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(order_status(&t, &owner, &id, &oid).await, "pending");
    for n in ["a-1", "a-1"] {
        let body = ali.notification(n, &pid, "90.00", "TRADE_SUCCESS");
        assert_eq!(ali_notify(&t, body).await, "success");
    }
    assert_eq!(order_status(&t, &owner, &id, &oid).await, "paid");
    assert_eq!(status(&t, &owner, &id).await["current"]["plan"], "pro");

    // Bank transfer: pending until staff confirm it.
    let (_, owner) = t.customer("bank@checkout.test").await;
    let id = certified_company(&t, &admin, &owner, "银行团队").await;
    let oid = pro_order(&t, &owner, &id).await;
    let (pid, code_url) = open_payment(&t, &owner, &id, &oid, "banktrans").await;
    assert_eq!(code_url, None);
    assert_eq!(order_status(&t, &owner, &id, &oid).await, "pending");
    confirm(&t, &admin, &pid).await;
    confirm(&t, &admin, &pid).await;
    assert_eq!(order_status(&t, &owner, &id, &oid).await, "paid");
    assert_eq!(status(&t, &owner, &id).await["current"]["type"], "paid");
    assert_eq!(wallet(&t, &owner, &id).await["balance"], "0.00");
    t.stop().await;
}

async fn paid_twice(db: Arc<TestDb>) {
    let wx = FakeWechatPay::start().await;
    let mut config = server_config();
    wx.configure(&mut config);
    let t = TestServer::start_with(&db, config).await;
    let admin = t.admin().await;
    let (_, owner) = t.customer("twice@checkout.test").await;
    let id = certified_company(&t, &admin, &owner, "两次团队").await;
    let oid = pro_order(&t, &owner, &id).await;
    // Two payments open on one order: a bank transfer and WeChat Pay.
    let (bank, _) = open_payment(&t, &owner, &id, &oid, "banktrans").await;
    let (wxp, _) = open_payment(&t, &owner, &id, &oid, "wxpay").await;
    assert_ne!(bank, wxp);
    let r = wx_notify(&t, &wx, "t-1", &wxp, 9_000).await;
    assert_eq!(r.body["code"], "SUCCESS", "{:?}", r.body);
    assert_eq!(order_status(&t, &owner, &id, &oid).await, "paid");
    // The transfer arrives too: the order is not paid twice, the money is kept as paid credit.
    confirm(&t, &admin, &bank).await;
    let w = wallet(&t, &owner, &id).await;
    assert_eq!(w["paid_credit"], "90.00", "{w:?}");
    assert_eq!(w["granted_credit"], "0.00");
    let r = t
        .get(&format!("/company/{id}/plan/order"), Some(&owner))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let paid: Vec<_> = r.body["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["status"] == "paid")
        .collect();
    assert_eq!(paid.len(), 1, "{:?}", r.body);
    t.stop().await;
}

async fn recharge_then_balance(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let (_, owner) = t.customer("topup@checkout.test").await;
    let id = certified_company(&t, &admin, &owner, "充值团队").await;
    let r = t
        .post(
            &format!("/company/{id}/plan/recharge"),
            Some(&owner),
            json!({"amount": 1000, "payment_method": "banktrans"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["extra_amount"], "50.00");
    let pid = r.body["paymentId"].as_str().unwrap().to_owned();
    assert_eq!(wallet(&t, &owner, &id).await["balance"], "0.00");
    confirm(&t, &admin, &pid).await;
    confirm(&t, &admin, &pid).await;
    let w = wallet(&t, &owner, &id).await;
    assert_eq!(
        (
            w["balance"].clone(),
            w["paid_credit"].clone(),
            w["granted_credit"].clone()
        ),
        (json!("1050.00"), json!("1000.00"), json!("50.00")),
        "credited once: {w:?}"
    );

    // The wallet pays a 90.00 order: the 50.00 granted credit first, then 40.00 paid credit.
    let oid = pro_order(&t, &owner, &id).await;
    let r = pay(&t, &owner, &id, &oid, "balance").await;
    assert!(r.status.is_success(), "{:?}", r.body);
    assert_eq!(order_status(&t, &owner, &id, &oid).await, "paid");
    let w = wallet(&t, &owner, &id).await;
    assert_eq!(w["granted_credit"], "0.00", "{w:?}");
    assert_eq!(w["paid_credit"], "960.00", "{w:?}");
    assert_eq!(fen(&w["balance"]), 96_000);

    // Every credit and charge is listed, and they sum to the balance.
    let r = t
        .get(&format!("/company/{id}/plan/charge"), Some(&owner))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let list = r.body["list"].as_array().unwrap();
    assert!(list.len() >= 2, "{:?}", r.body);
    let sum: i64 = list.iter().map(|e| fen(&e["amount"])).sum();
    assert_eq!(sum, 96_000, "{:?}", r.body);
    t.stop().await;
}
