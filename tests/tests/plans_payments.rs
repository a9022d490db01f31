//! Team plans external payments and recharges (seed 004 "recharge", `PaimentMethod`; issue 13
//! part 3b) end to end over real HTTP, on SQLite and PostgreSQL, against local stand-ins for
//! WeChat Pay API v3 (tests/src/wechatpay.rs) and the Alipay gateway (tests/src/alipay.rs):
//! recharges through `wxpay`, `alipay` and `banktrans` complete; duplicate notifications and
//! double (also concurrent) confirmations charge once; forged WeChat Pay and Alipay notifications
//! (bad signature, wrong amount, unknown trade) change nothing; amount limits and tier selection;
//! paging; non-members 404, members 403, non-admins 403 on the confirm route; the same purpose and
//! method opened twice gives one payment and `balance` is refused; unpaid recharges expire (a
//! short configured TTL); a rebuild of the payment and recharge read models gives the same rows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tessera_api::ServerConfig;
use tessera_application::StreamId;
use tessera_application::plans::payments::PaymentRequest;
use tessera_domain::plans::ObjectId;
use tessera_domain::plans::payment::{PaymentMethod, PaymentPurpose};
use tessera_tests::alipay::FakeAlipay;
use tessera_tests::http::{Reply, TestServer, server_config};
use tessera_tests::wechatpay::{FakeWechatPay, transaction};
use tessera_tests::{Suite, TestDb};

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("recharge_limits_tiers_and_access", limits_and_access)
        .case("wxpay_recharge_and_forged_notifications", wxpay)
        .case("alipay_recharge_and_forged_notifications", alipay)
        .case("banktrans_confirmed_once", banktrans)
        .case("same_purpose_same_payment_and_expiry", reuse_and_expiry)
        .case("paging_and_rebuild", paging_and_rebuild)
        .run()
}

fn assert_error(r: &Reply, status: u16, code: &str, field: Option<&str>) {
    assert_eq!(r.status.as_u16(), status, "{code}: {:?}", r.body);
    assert_eq!(r.body["error"]["code"], code, "{:?}", r.body);
    if let Some(f) = field {
        assert_eq!(r.body["error"]["field"], f, "{:?}", r.body);
    }
}

/// Event types stored in `stream`, in order.
async fn types(t: &TestServer, stream: &str) -> Vec<String> {
    t.server
        .engine
        .events
        .read_stream(&StreamId::parse(stream).unwrap(), 0, 1000)
        .await
        .map(|es| es.into_iter().map(|e| e.event_type).collect())
        .unwrap_or_default()
}

/// A company of a new owner; returns (company id, owner token).
async fn owner_company(t: &TestServer, email: &str) -> (String, String) {
    let (_, owner) = t.customer(email).await;
    let r = t
        .post("/company", Some(&owner), json!({"name": "Pay Co"}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    (r.body["_id"].as_str().unwrap().to_owned(), owner)
}

async fn recharge(t: &TestServer, token: &str, company: &str, body: Value) -> Reply {
    t.post(
        &format!("/company/{company}/plan/recharge"),
        Some(token),
        body,
    )
    .await
}

/// The recharge `id` as `GET /plan/recharge` lists it.
async fn listed(t: &TestServer, token: &str, company: &str, id: &str) -> Value {
    let r = t
        .get(
            &format!("/company/{company}/plan/recharge?pagesize=100"),
            Some(token),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["_id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

async fn limits_and_access(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let (id, owner) = owner_company(&t, "limits@pay.test").await;
    let (_, member) = t.customer("member@pay.test").await;
    let (_, stranger) = t.customer("stranger@pay.test").await;
    let r = t
        .post(
            &format!("/company/{id}/members"),
            Some(&owner),
            json!({"email": "member@pay.test", "role": "member"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);

    let info = t
        .get(&format!("/company/{id}/plan/recharge/info"), Some(&member))
        .await;
    assert_eq!(info.status, 200, "{:?}", info.body);
    assert_eq!(
        info.body["limits"],
        json!({"amount": {"min": "100.00", "max": "50000.00"}})
    );
    let tiers = info.body["discounts"].as_array().unwrap();
    assert_eq!(tiers.len(), 3);
    for k in [
        "_id",
        "title",
        "amount",
        "extra_amount",
        "date_update",
        "date_create",
    ] {
        assert!(!tiers[0][k].is_null(), "{k}: {:?}", tiers[0]);
    }
    assert_eq!(tiers[0]["amount"], "1000.00");
    assert_eq!(tiers[0]["extra_amount"], "50.00");

    // Tier selection: the largest tier amount not above the recharge.
    for (amount, extra) in [
        (json!(100), "0.00"),
        (json!(999.99), "0.00"),
        (json!(1000), "50.00"),
        (json!("4999.50"), "50.00"),
        (json!(5000), "400.00"),
        (json!(50000), "1000.00"),
    ] {
        let r = recharge(
            &t,
            &owner,
            &id,
            json!({"amount": amount, "payment_method": "banktrans"}),
        )
        .await;
        assert_eq!(r.status, 201, "{amount}: {:?}", r.body);
        assert_eq!(r.body["extra_amount"], extra, "{amount}");
        assert_eq!(r.body["status"], "pending");
        assert!(r.body["code_url"].is_null(), "{:?}", r.body);
        assert_eq!(r.body["paymentId"].as_str().unwrap().len(), 24);
    }
    // Limits, decimals, methods: a 400 naming the field, nothing stored.
    for (body, field) in [
        (
            json!({"amount": 99.99, "payment_method": "banktrans"}),
            "amount",
        ),
        (
            json!({"amount": 50000.01, "payment_method": "banktrans"}),
            "amount",
        ),
        (
            json!({"amount": "100.001", "payment_method": "banktrans"}),
            "amount",
        ),
        (
            json!({"amount": "lots", "payment_method": "banktrans"}),
            "amount",
        ),
        (json!({"payment_method": "banktrans"}), "amount"),
        (
            json!({"amount": 500, "payment_method": "balance"}),
            "payment_method",
        ),
        (
            json!({"amount": 500, "payment_method": "cash"}),
            "payment_method",
        ),
        (json!({"amount": 500}), "payment_method"),
        // No WeChat Pay or Alipay configured on this server.
        (
            json!({"amount": 500, "payment_method": "wxpay"}),
            "payment_method",
        ),
        (
            json!({"amount": 500, "payment_method": "alipay"}),
            "payment_method",
        ),
    ] {
        let r = recharge(&t, &owner, &id, body.clone()).await;
        assert_error(&r, 400, "invalid_field", Some(field));
    }
    let all = t
        .get(&format!("/company/{id}/plan/recharge"), Some(&owner))
        .await;
    assert_eq!(all.body["totalrows"], 6, "refusals stored nothing");

    // Access: non-members 404 everywhere, members 403 on the write.
    for path in ["recharge/info", "recharge"] {
        let r = t
            .get(&format!("/company/{id}/plan/{path}"), Some(&stranger))
            .await;
        assert_error(&r, 404, "not_found", None);
        let r = t
            .get(&format!("/company/{id}/plan/{path}"), Some(&member))
            .await;
        assert_eq!(r.status, 200, "{path}");
    }
    let body = json!({"amount": 500, "payment_method": "banktrans"});
    assert_error(
        &recharge(&t, &stranger, &id, body.clone()).await,
        404,
        "not_found",
        None,
    );
    assert_error(
        &recharge(&t, &member, &id, body.clone()).await,
        403,
        "forbidden",
        None,
    );
    assert_eq!(
        t.get(&format!("/company/{id}/plan/recharge"), None)
            .await
            .status,
        401
    );
    t.stop().await;
}

async fn wx_notify(t: &TestServer, headers: &[(String, String)], body: Vec<u8>) -> Reply {
    let mut all = vec![("content-type", "application/json")];
    all.extend(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    t.send_raw(Method::POST, "/plans/wechatpay/notify", None, &all, body)
        .await
}

async fn wxpay(db: Arc<TestDb>) {
    let fake = FakeWechatPay::start().await;
    let mut config = server_config();
    fake.configure(&mut config);
    let t = TestServer::start_with(&db, config).await;
    let (id, owner) = owner_company(&t, "wx@pay.test").await;
    let r = recharge(
        &t,
        &owner,
        &id,
        json!({"amount": 1000, "payment_method": "wxpay"}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let rid = r.body["_id"].as_str().unwrap().to_owned();
    let pid = r.body["paymentId"].as_str().unwrap().to_owned();
    assert!(
        r.body["code_url"]
            .as_str()
            .unwrap()
            .starts_with("weixin://wxpay/bizpayurl?pr="),
        "{:?}",
        r.body
    );
    // The Native order WeChat Pay received.
    let sent = fake.orders.lock().unwrap().last().cloned().unwrap();
    assert_eq!(sent["out_trade_no"], pid.as_str());
    assert_eq!(sent["amount"]["total"], 100_000);
    assert!(
        sent["notify_url"]
            .as_str()
            .unwrap()
            .ends_with("/plans/wechatpay/notify")
    );

    let paid = |amount: i64, no: &str| transaction(no, "4200000001202612060001", json!(amount));
    // Forged: signed correctly, then the body changed (amount raised).
    let (h, body) = fake.notification("n-forged", &paid(100_000, &pid), Utc::now());
    let tampered = String::from_utf8(body)
        .unwrap()
        .replace("n-forged", "n-forgeD")
        .into_bytes();
    let r = wx_notify(&t, &h, tampered).await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    assert_eq!(r.body["code"], "FAIL");
    // Signed by another key.
    let mut bad = h.clone();
    bad[2].1 = "c2lnbmF0dXJl".into();
    let (_, body) = fake.notification("n-bad", &paid(100_000, &pid), Utc::now());
    assert_eq!(wx_notify(&t, &bad, body).await.status, 401);
    // Genuine but the wrong amount, or an unknown trade: acknowledged, nothing changes.
    let (h, body) = fake.notification("n-less", &paid(1, &pid), Utc::now());
    assert_eq!(wx_notify(&t, &h, body).await.body["code"], "SUCCESS");
    let unknown = ObjectId::from_parts(1, [9; 8]).to_string();
    let (h, body) = fake.notification("n-unknown", &paid(100_000, &unknown), Utc::now());
    assert_eq!(wx_notify(&t, &h, body).await.body["code"], "SUCCESS");
    assert_eq!(
        types(&t, &format!("plansPayment-{pid}")).await,
        ["PlansPaymentOpened"]
    );
    assert_eq!(listed(&t, &owner, &id, &rid).await["status"], "pending");

    // Paid; then WeChat Pay repeats the notification: charged once.
    for n in ["n-1", "n-1", "n-2"] {
        let (h, body) = fake.notification(n, &paid(100_000, &pid), Utc::now());
        let r = wx_notify(&t, &h, body).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["code"], "SUCCESS");
    }
    assert_eq!(
        types(&t, &format!("plansPayment-{pid}")).await,
        [
            "PlansPaymentOpened",
            "PlansPaymentSucceeded",
            "PlansPaymentDelivered"
        ]
    );
    assert_eq!(
        types(&t, &format!("plansRecharge-{rid}")).await,
        ["PlansRechargeCreated", "PlansRechargePaid"]
    );
    let row = listed(&t, &owner, &id, &rid).await;
    assert_eq!(row["status"], "paid", "{row:?}");
    assert_eq!(row["amount"], "1000.00");
    assert_eq!(row["extra_amount"], "50.00");
    t.stop().await;
}

async fn ali_notify(t: &TestServer, body: Vec<u8>) -> (u16, String) {
    let r = t
        .http
        .post(format!("{}/plans/alipay/notify", t.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn alipay(db: Arc<TestDb>) {
    let fake = FakeAlipay::start().await;
    let mut config = server_config();
    fake.configure(&mut config);
    let t = TestServer::start_with(&db, config).await;
    let (id, owner) = owner_company(&t, "ali@pay.test").await;
    let r = recharge(
        &t,
        &owner,
        &id,
        json!({"amount": "5000.5", "payment_method": "alipay"}),
    )
    .await;
    assert_eq!(
        r.status,
        201,
        "{:?} {:?}",
        r.body,
        fake.refused.lock().unwrap()
    );
    let rid = r.body["_id"].as_str().unwrap().to_owned();
    let pid = r.body["paymentId"].as_str().unwrap().to_owned();
    assert_eq!(
        r.body["code_url"],
        format!("https://qr.alipay.com/bax{pid}"),
        "the verified precreate answer's qr_code"
    );
    assert_eq!(r.body["extra_amount"], "400.00");
    let biz = fake.orders.lock().unwrap().last().cloned().unwrap();
    assert_eq!(biz["out_trade_no"], pid.as_str());
    assert_eq!(biz["total_amount"], "5000.50");
    assert!(fake.refused.lock().unwrap().is_empty());

    // Forged (another key), a wrong amount, an unknown trade, a trade not paid: nothing changes.
    assert_eq!(
        ali_notify(&t, fake.forged("a-forged", &pid, "5000.50")).await,
        (400, "failure".to_owned())
    );
    let unknown = ObjectId::from_parts(1, [8; 8]).to_string();
    for body in [
        fake.notification("a-less", &pid, "0.01", "TRADE_SUCCESS"),
        fake.notification("a-unknown", &unknown, "5000.50", "TRADE_SUCCESS"),
        fake.notification("a-wait", &pid, "5000.50", "WAIT_BUYER_PAY"),
    ] {
        assert_eq!(ali_notify(&t, body).await, (200, "success".to_owned()));
    }
    // A signed notification whose body was altered after signing.
    let tampered = String::from_utf8(fake.notification("a-t", &pid, "5000.50", "TRADE_SUCCESS"))
        .unwrap()
        .replace("total_amount=5000.50", "total_amount=5000.51")
        .into_bytes();
    assert_eq!(ali_notify(&t, tampered).await.0, 400);
    assert_eq!(
        types(&t, &format!("plansPayment-{pid}")).await,
        ["PlansPaymentOpened"]
    );
    assert_eq!(listed(&t, &owner, &id, &rid).await["status"], "pending");

    // Paid, repeated (Alipay retries until it reads `success`), then TRADE_FINISHED: once.
    for (n, status) in [
        ("a-1", "TRADE_SUCCESS"),
        ("a-1", "TRADE_SUCCESS"),
        ("a-2", "TRADE_FINISHED"),
    ] {
        let body = fake.notification(n, &pid, "5000.50", status);
        assert_eq!(ali_notify(&t, body).await, (200, "success".to_owned()));
    }
    assert_eq!(
        types(&t, &format!("plansPayment-{pid}")).await,
        [
            "PlansPaymentOpened",
            "PlansPaymentSucceeded",
            "PlansPaymentDelivered"
        ]
    );
    assert_eq!(listed(&t, &owner, &id, &rid).await["status"], "paid");
    t.stop().await;
}

async fn banktrans(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let (id, owner) = owner_company(&t, "bank@pay.test").await;
    let r = recharge(
        &t,
        &owner,
        &id,
        json!({"amount": 10000, "payment_method": "banktrans"}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let rid = r.body["_id"].as_str().unwrap().to_owned();
    let pid = r.body["paymentId"].as_str().unwrap().to_owned();
    let confirm = format!("/admin/plans/payments/{pid}/confirm");

    assert_error(
        &t.post(&confirm, Some(&owner), json!({})).await,
        403,
        "forbidden",
        None,
    );
    assert_eq!(t.post(&confirm, None, json!({})).await.status, 401);
    let unknown = ObjectId::from_parts(1, [7; 8]).to_string();
    assert_error(
        &t.post(
            &format!("/admin/plans/payments/{unknown}/confirm"),
            Some(&admin),
            json!({}),
        )
        .await,
        404,
        "not_found",
        None,
    );
    assert_error(
        &t.post(
            "/admin/plans/payments/nope/confirm",
            Some(&admin),
            json!({}),
        )
        .await,
        404,
        "not_found",
        None,
    );
    assert_eq!(listed(&t, &owner, &id, &rid).await["status"], "pending");

    // Five concurrent confirmations, then one more: succeeded and delivered once.
    let mut all = Vec::new();
    for _ in 0..5 {
        let (http, url, admin) = (
            t.http.clone(),
            format!("{}{confirm}", t.base),
            admin.clone(),
        );
        all.push(tokio::spawn(async move {
            let r = http.post(url).bearer_auth(admin).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }));
    }
    for h in all {
        let (status, body) = h.await.unwrap();
        assert_eq!(status, 200, "{body:?}");
        assert_eq!(body["status"], "succeeded");
    }
    let r = t.post(&confirm, Some(&admin), json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["delivered"], true, "{:?}", r.body);
    assert_eq!(r.body["amount"], "10000.00");
    assert_eq!(r.body["transaction_id"], format!("banktrans-{pid}"));
    assert_eq!(
        types(&t, &format!("plansPayment-{pid}")).await,
        [
            "PlansPaymentOpened",
            "PlansPaymentSucceeded",
            "PlansPaymentDelivered"
        ]
    );
    let row = listed(&t, &owner, &id, &rid).await;
    assert_eq!(row["status"], "paid");
    assert_eq!(row["extra_amount"], "1000.00");
    t.stop().await;
}

fn short_ttl() -> ServerConfig {
    let mut c = server_config();
    c.plans_payments.plans_payment_ttl_secs = 1;
    c
}

async fn reuse_and_expiry(db: Arc<TestDb>) {
    let t = TestServer::start_with(&db, short_ttl()).await;
    let (id, owner) = owner_company(&t, "reuse@pay.test").await;
    let company = ObjectId::parse(&id).unwrap();
    let plans = &t.server.services.plans;
    let purpose = PaymentPurpose::Order {
        order_id: ObjectId::from_parts(2, [3; 8]),
    };
    let meta = Default::default();
    let user = ObjectId::from_parts(2, [4; 8]);
    let open = |method| {
        plans.start_external_payment(
            &company,
            &user,
            PaymentRequest {
                purpose: purpose.clone(),
                amount_fen: 12_345,
                method,
                description: "order".into(),
            },
            &meta,
        )
    };
    let first = open(PaymentMethod::Banktrans).await.unwrap();
    let again = open(PaymentMethod::Banktrans).await.unwrap();
    assert_eq!(
        first.payment_id, again.payment_id,
        "same purpose and method: same payment"
    );
    let refused = open(PaymentMethod::Balance).await.unwrap_err();
    assert!(refused.to_string().contains("payment_method"), "{refused}");

    // An unpaid recharge expires with its payment (TTL 1 s, fired by the deadline scheduler).
    let r = recharge(
        &t,
        &owner,
        &id,
        json!({"amount": 200, "payment_method": "banktrans"}),
    )
    .await;
    let rid = r.body["_id"].as_str().unwrap().to_owned();
    let pid = r.body["paymentId"].as_str().unwrap().to_owned();
    let expired = t
        .eventually(Duration::from_secs(20), || async {
            let row = listed(&t, &owner, &id, &rid).await;
            (row["status"] == "expired").then_some(row)
        })
        .await;
    assert!(expired.is_some(), "the recharge expired");
    assert_eq!(
        types(&t, &format!("plansPayment-{pid}")).await,
        ["PlansPaymentOpened", "PlansPaymentClosed"]
    );
    // Money that arrives after the expiry still counts (staff confirm the late transfer).
    let admin = t.admin().await;
    let r = t
        .post(
            &format!("/admin/plans/payments/{pid}/confirm"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(listed(&t, &owner, &id, &rid).await["status"], "paid");
    // The expired first payment frees its slot: a new one is opened.
    let fresh = t
        .eventually(Duration::from_secs(20), || async {
            let p = open(PaymentMethod::Banktrans).await.unwrap();
            (p.payment_id != first.payment_id).then_some(p)
        })
        .await;
    assert!(fresh.is_some(), "a new payment after the first expired");
    t.stop().await;
}

async fn paging_and_rebuild(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let (id, owner) = owner_company(&t, "pages@pay.test").await;
    let mut ids = Vec::new();
    for amount in [100, 200, 300] {
        let r = recharge(
            &t,
            &owner,
            &id,
            json!({"amount": amount, "payment_method": "banktrans"}),
        )
        .await;
        ids.push((
            r.body["_id"].as_str().unwrap().to_owned(),
            r.body["paymentId"].as_str().unwrap().to_owned(),
        ));
    }
    let r = t
        .post(
            &format!("/admin/plans/payments/{}/confirm", ids[1].1),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    let page = |q: &'static str| {
        let (t, owner, id) = (&t, owner.clone(), id.clone());
        async move {
            t.get(&format!("/company/{id}/plan/recharge{q}"), Some(&owner))
                .await
        }
    };
    let p1 = page("?page=1&pagesize=2").await;
    assert_eq!(p1.status, 200, "{:?}", p1.body);
    assert_eq!(p1.body["totalrows"], 3);
    assert_eq!(p1.body["page"], 1);
    assert_eq!(p1.body["pagesize"], 2);
    let got: Vec<&str> = p1.body["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[2].0.as_str(), ids[1].0.as_str()], "newest first");
    let p2 = page("?page=2&pagesize=2").await;
    assert_eq!(p2.body["list"].as_array().unwrap().len(), 1);
    assert_eq!(p2.body["list"][0]["_id"], ids[0].0.as_str());
    assert_eq!(page("?page=9").await.body["list"], json!([]));
    assert_error(
        &page("?pagesize=0").await,
        400,
        "invalid_field",
        Some("pagesize"),
    );
    assert_error(&page("?page=x").await, 400, "invalid_field", Some("page"));

    let live = page("?pagesize=100").await.body;
    let payment = |pid: String| {
        let t = &t;
        async move {
            t.server
                .services
                .plans_payments_queries
                .payment(&pid)
                .await
                .unwrap()
        }
    };
    let live_payments = vec![
        payment(ids[0].1.clone()).await,
        payment(ids[1].1.clone()).await,
    ];
    assert_eq!(live_payments[1].as_ref().unwrap().status, "succeeded");
    t.stop().await;

    let engine = db.engine().await;
    for name in ["plans_payments", "plans_recharges"] {
        engine.runner.rebuild(name, |_, _| {}).await.unwrap();
    }
    drop(engine);
    let t = TestServer::start(&db).await;
    let owner = t.login("pages@pay.test", "correct horse battery").await;
    let again = t
        .get(
            &format!("/company/{id}/plan/recharge?pagesize=100"),
            Some(&owner),
        )
        .await;
    assert_eq!(again.body, live, "a rebuild gives the same rows");
    let mut rebuilt = Vec::new();
    for pid in [ids[0].1.clone(), ids[1].1.clone()] {
        rebuilt.push(
            t.server
                .services
                .plans_payments_queries
                .payment(&pid)
                .await
                .unwrap(),
        );
    }
    assert_eq!(rebuilt, live_payments);
    t.stop().await;
}
