//! Shop payments (seed 002 "支付 API", issue 11 part 4) end to end over real HTTP, on SQLite and
//! PostgreSQL, against the local WeChat Pay of `tessera_tests::wechatpay`:
//! - `POST /api/payment/wxpay`: the JSAPI order WeChat Pay receives (out_trade_no = order id, fen,
//!   openid, the shop's notify_url), a `paySign` that verifies, and its errors (401, 404 for
//!   another user's order, 400 naming `order_id` for a malformed, paid or cancelled order);
//! - the notify route: genuine (paid once), duplicated and delivered concurrently (charged once),
//!   tampered, forged and stale (nothing changes) — each checked in the event store and the read
//!   model; a payment after expiry recorded as needing a refund without overselling;
//! - paying from a membership card: success (the spend and the paid order in one commit),
//!   insufficient balance and a frozen card (nothing changes: balance, order, event store),
//!   another user's order and card, and concurrent double payment of one order charged once;
//!   without WeChat Pay configured, 503 and a 404 `FAIL`;
//! - WeChat Pay money that cannot pay its order — the order already paid from the card (the
//!   notification repeated and delivered concurrently), or an amount other than the total —
//!   acknowledged and recorded once as `ShopOrderPaymentNeedsRefund` with its `reason`, in
//!   `refund_due_fen`, the order and the card untouched.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{Duration as ChronoDuration, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tessera_application::StreamId;
use tessera_domain::shared::Money;
use tessera_infrastructure::wechatpay::simulate;
use tessera_tests::http::{Reply, TestServer, server_config};
use tessera_tests::shop::{assert_field, message, wx_login};
use tessera_tests::wechatpay::{APP_ID, FakeWechatPay, PUB_KEY_ID, transaction};
use tessera_tests::{Suite, TestDb, scalar_i64};

/// `POST /weixin-login` with `dev:{openid}`; returns (token, shop `user_id`).
async fn wx(t: &TestServer, openid: &str) -> (String, i64) {
    let (token, user) = wx_login(t, openid).await;
    (token, user["user_id"].as_i64().unwrap())
}

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("wxpay_route_and_notifications", wxpay)
        .case("late_wxpay_payment_needs_refund_never_oversells", late)
        .case("card_payments_and_wxpay_not_configured", card)
        .case("wxpay_money_that_cannot_pay_needs_refund", refund_due)
        .run()
}

/// A category and products (name, price, stock); their ids.
async fn catalogue(t: &TestServer, admin: &str, products: &[(&str, Value, u32)]) -> Vec<i64> {
    let r = t
        .post("/api/categories", Some(admin), json!({"name": "日用"}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let cat = r.body["category_id"].as_i64().unwrap();
    let mut ids = Vec::new();
    for (name, price, stock) in products {
        let r = t
            .post(
                "/api/products",
                Some(admin),
                json!({"category_id": cat, "name": name, "price": price, "stock": stock}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        ids.push(r.body["product_id"].as_i64().unwrap());
    }
    ids
}

async fn place(t: &TestServer, token: &str, items: Value, method: &str) -> String {
    let r = t
        .post(
            "/api/orders",
            Some(token),
            json!({"items": items, "payment_method": method}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["order_id"].as_str().unwrap().to_owned()
}

/// The order's event types in the event store.
async fn order_events(t: &TestServer, id: &str) -> Vec<String> {
    t.server
        .engine
        .events
        .read_stream(
            &StreamId::parse(format!("shopOrder-{id}")).unwrap(),
            0,
            1000,
        )
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect()
}

async fn order_read(t: &TestServer, token: &str, id: &str) -> Value {
    let r = t.get(&format!("/api/orders/{id}"), Some(token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

async fn notify(t: &TestServer, headers: &[(String, String)], body: Vec<u8>) -> Reply {
    let mut all = vec![("content-type", "application/json")];
    all.extend(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    t.send_raw(Method::POST, "/api/payment/wxpay/notify", None, &all, body)
        .await
}

fn assert_fail(r: &Reply, status: u16) {
    assert_eq!(r.status.as_u16(), status, "{:?}", r.body);
    assert_eq!(r.body["code"], "FAIL", "{:?}", r.body);
    assert!(r.body["message"].is_string());
}

fn assert_success(r: &Reply) {
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"code": "SUCCESS", "message": "成功"}));
}

async fn wxpay(db: Arc<TestDb>) {
    let fake = FakeWechatPay::start().await;
    let mut config = server_config();
    fake.configure(&mut config);
    let t = TestServer::start_with(&db, config).await;
    let admin = t.admin().await;
    let ids = catalogue(
        &t,
        &admin,
        &[("毛巾", json!("12.34"), 100), ("牙刷", json!(0.5), 100)],
    )
    .await;
    let (buyer, _) = wx(&t, "o-pay-1").await;
    let (other, _) = wx(&t, "o-other").await;
    let items =
        json!([{"product_id": ids[0], "quantity": 2}, {"product_id": ids[1], "quantity": 1}]);
    let order = place(&t, &buyer, items.clone(), "微信支付").await;

    // Errors first: nothing is sent to WeChat Pay.
    let body = json!({"order_id": order});
    assert_eq!(
        t.post("/api/payment/wxpay", None, body.clone())
            .await
            .status,
        401
    );
    let r = t
        .post("/api/payment/wxpay", Some(&other), body.clone())
        .await;
    assert_eq!(r.status, 404, "another user's order: {:?}", r.body);
    assert_field(
        &t.post("/api/payment/wxpay", Some(&buyer), json!({})).await,
        "order_id",
    );
    assert_field(
        &t.post(
            "/api/payment/wxpay",
            Some(&buyer),
            json!({"order_id": "x1"}),
        )
        .await,
        "order_id",
    );
    let r = t
        .post(
            "/api/payment/wxpay",
            Some(&buyer),
            json!({"order_id": "ORDER000000000000000001"}),
        )
        .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert!(fake.orders.lock().unwrap().is_empty());

    // The JSAPI order: our id, fen, the buyer's openid, the shop's own notify route.
    let r = t
        .post("/api/payment/wxpay", Some(&buyer), body.clone())
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let keys: Vec<&String> = r.body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["nonceStr", "package", "paySign", "signType", "timeStamp"]
    );
    assert_eq!(r.body["signType"], "RSA");
    let sent = fake.orders.lock().unwrap()[0].clone();
    assert_eq!(sent["out_trade_no"], order.as_str());
    assert_eq!(sent["amount"]["total"], 2518);
    assert_eq!(sent["payer"]["openid"], "o-pay-1");
    assert_eq!(sent["description"], "毛巾 等2件商品");
    assert_eq!(
        sent["notify_url"],
        format!("{}/api/payment/wxpay/notify", t.base)
    );
    let signed_text = format!(
        "{APP_ID}\n{}\n{}\n{}\n",
        r.body["timeStamp"].as_str().unwrap(),
        r.body["nonceStr"].as_str().unwrap(),
        r.body["package"].as_str().unwrap()
    );
    let sig = B64.decode(r.body["paySign"].as_str().unwrap()).unwrap();
    UnparsedPublicKey::new(
        &RSA_PKCS1_2048_8192_SHA256,
        fake.merchant.public_key().as_ref(),
    )
    .verify(signed_text.as_bytes(), &sig)
    .expect("paySign verifies with the merchant key");

    // Tampered (body changed after signing), forged (another key), stale (signed 6 minutes ago):
    // refused, nothing recorded.
    let txn = "4200000001202611230000000101";
    let paid = transaction(&order, txn, json!(2518));
    let (headers, genuine) = fake.notification("n-1", &paid, Utc::now());
    let mut tampered = genuine.clone();
    let at = tampered.iter().position(|b| *b == b'"').unwrap();
    tampered.insert(at, b' ');
    assert_fail(&notify(&t, &headers, tampered).await, 401);
    let stranger = simulate::generate_rsa_key_pair().unwrap();
    let (forged_headers, forged) = simulate::notification(
        secrecy::ExposeSecret::expose_secret(&stranger.private_key_pem),
        PUB_KEY_ID,
        tessera_tests::wechatpay::API_V3_KEY.as_bytes(),
        "n-forged",
        &paid,
        Utc::now(),
    )
    .unwrap();
    let forged_headers: Vec<(String, String)> = [
        ("wechatpay-timestamp", forged_headers.timestamp),
        ("wechatpay-nonce", forged_headers.nonce),
        ("wechatpay-signature", forged_headers.signature),
        ("wechatpay-serial", forged_headers.serial),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_fail(&notify(&t, &forged_headers, forged).await, 401);
    let (stale_headers, stale) =
        fake.notification("n-stale", &paid, Utc::now() - ChronoDuration::seconds(360));
    assert_fail(&notify(&t, &stale_headers, stale).await, 401);
    assert_fail(&notify(&t, &headers, b"{}".to_vec()).await, 401);
    assert_fail(&notify(&t, &[], genuine.clone()).await, 401);
    assert_eq!(order_events(&t, &order).await, ["ShopOrderPlaced"]);
    let read = order_read(&t, &buyer, &order).await;
    assert_eq!(read["status"], 0);
    assert!(read["payment_id"].is_null());

    // Genuine: paid with WeChat Pay's transaction id; repeated, nothing more.
    assert_success(&notify(&t, &headers, genuine.clone()).await);
    assert_success(&notify(&t, &headers, genuine).await);
    let (again_headers, again) = fake.notification("n-1-retry", &paid, Utc::now());
    assert_success(&notify(&t, &again_headers, again).await);
    assert_eq!(
        order_events(&t, &order).await,
        ["ShopOrderPlaced", "ShopOrderPaid"]
    );
    let read = order_read(&t, &buyer, &order).await;
    assert_eq!(read["status"], 1, "{read}");
    assert_eq!(read["payment_id"], txn);
    assert_eq!(read["payment_method"], "微信支付");
    let r = t.post("/api/payment/wxpay", Some(&buyer), body).await;
    assert_field(&r, "order_id");
    assert!(message(&r).contains("已支付"), "{:?}", r.body);

    // The same notification delivered 8 times at once pays a second order exactly once.
    let second = place(
        &t,
        &buyer,
        json!([{"product_id": ids[1], "quantity": 3}]),
        "wxpay",
    )
    .await;
    let r = t
        .post(
            "/api/payment/wxpay",
            Some(&buyer),
            json!({"order_id": second}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let txn2 = "4200000001202611230000000102";
    let (h2, b2) = fake.notification("n-2", &transaction(&second, txn2, json!(150)), Utc::now());
    let answers = futures_join(&t, &h2, &b2, 8).await;
    for a in &answers {
        assert_success(a);
    }
    assert_eq!(
        order_events(&t, &second).await,
        ["ShopOrderPlaced", "ShopOrderPaid"]
    );
    let read = order_read(&t, &buyer, &second).await;
    assert_eq!(
        (read["status"].clone(), read["payment_id"].clone()),
        (json!(1), json!(txn2))
    );
    // Placed as `wxpay`, it keeps the text as written.
    assert_eq!(read["payment_method"], "wxpay");
    assert_eq!(
        scalar_i64(
            &db.url,
            &format!("SELECT COUNT(*) FROM shop_orders WHERE status = 1 AND order_id IN ('{order}', '{second}')")
        )
        .await,
        2
    );

    // A cancelled order cannot be paid.
    let third = place(
        &t,
        &buyer,
        json!([{"product_id": ids[1], "quantity": 1}]),
        "微信支付",
    )
    .await;
    let r = t
        .send(
            Method::PUT,
            &format!("/api/orders/{third}"),
            Some(&admin),
            Some(json!({"status": 2})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = t
        .post(
            "/api/payment/wxpay",
            Some(&buyer),
            json!({"order_id": third}),
        )
        .await;
    assert_field(&r, "order_id");
    assert!(message(&r).contains("已取消"), "{:?}", r.body);
    t.stop().await;
}

/// `n` concurrent deliveries of one notification.
async fn futures_join(
    t: &TestServer,
    headers: &[(String, String)],
    body: &[u8],
    n: usize,
) -> Vec<Reply> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (base, http) = (t.base.clone(), t.http.clone());
        let (headers, body) = (headers.to_vec(), body.to_vec());
        set.spawn(async move {
            let mut req = http
                .post(format!("{base}/api/payment/wxpay/notify"))
                .header("content-type", "application/json")
                .body(body);
            for (k, v) in &headers {
                req = req.header(k, v);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status();
            let body = resp.json().await.unwrap_or(Value::Null);
            Reply { status, body }
        });
    }
    set.join_all().await
}

async fn late(db: Arc<TestDb>) {
    let fake = FakeWechatPay::start().await;
    let mut config = server_config();
    fake.configure(&mut config);
    config.shop_order_ttl_secs = 2;
    let t = TestServer::start_with(&db, config).await;
    let admin = t.admin().await;
    let ids = catalogue(&t, &admin, &[("限量版", json!(5), 1)]).await;
    let (buyer, _) = wx(&t, "o-pay-1").await;
    let (rival, _) = wx(&t, "o-rival").await;
    let order = place(
        &t,
        &buyer,
        json!([{"product_id": ids[0], "quantity": 1}]),
        "微信支付",
    )
    .await;
    let r = t
        .post(
            "/api/payment/wxpay",
            Some(&buyer),
            json!({"order_id": order}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // The buyer pays at WeChat Pay, but the notification arrives after the order expired and its
    // one unit was sold to someone else.
    let expired = t
        .eventually(Duration::from_secs(20), || async {
            (order_read(&t, &buyer, &order).await["status"] == 3).then_some(())
        })
        .await;
    assert!(expired.is_some(), "the order expired");
    let r = t
        .post(
            "/api/payment/wxpay",
            Some(&buyer),
            json!({"order_id": order}),
        )
        .await;
    assert_field(&r, "order_id");
    assert!(message(&r).contains("已过期"), "{:?}", r.body);
    let sold = t
        .eventually(Duration::from_secs(10), || async {
            let r = t
                .post(
                    "/api/orders",
                    Some(&rival),
                    json!({"items": [{"product_id": ids[0], "quantity": 1}], "payment_method": "微信支付"}),
                )
                .await;
            (r.status == 201).then_some(())
        })
        .await;
    assert!(sold.is_some(), "the returned unit sells again");
    let txn = "4200000001202611230000000201";
    let (h, b) = fake.notification("n-late", &transaction(&order, txn, json!(500)), Utc::now());
    assert_success(&notify(&t, &h, b.clone()).await);
    assert_success(&notify(&t, &h, b).await);
    assert_eq!(
        order_events(&t, &order).await,
        [
            "ShopOrderPlaced",
            "ShopOrderExpired",
            "ShopOrderPaymentNeedsRefund"
        ]
    );
    let read = order_read(&t, &buyer, &order).await;
    assert_eq!(read["status"], 3);
    assert_eq!(
        scalar_i64(
            &db.url,
            &format!("SELECT refund_due_fen FROM shop_orders WHERE order_id = '{order}'")
        )
        .await,
        500
    );
    let r = t.get(&format!("/api/products/{}", ids[0]), None).await;
    assert_eq!(r.body["stock"], 0, "never oversold: {:?}", r.body);
    t.stop().await;
}

async fn card_balance(t: &TestServer, token: &str, card: i64) -> String {
    let r = t
        .get(&format!("/api/membership/cards/{card}"), Some(token))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["balance"].as_str().unwrap().to_owned()
}

async fn events_total(db: &TestDb) -> i64 {
    scalar_i64(&db.url, "SELECT COUNT(*) FROM events").await
}

async fn card(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let ids = catalogue(&t, &admin, &[("咖啡豆", json!("49.99"), 100)]).await;
    let (buyer, buyer_id) = wx(&t, "o-card-1").await;
    let (other, other_id) = wx(&t, "o-card-2").await;

    // Without WeChat Pay configured: 503 naming it, and the notify route refuses as WeChat expects.
    let order = place(
        &t,
        &buyer,
        json!([{"product_id": ids[0], "quantity": 2}]),
        "会员卡",
    )
    .await;
    let r = t
        .post(
            "/api/payment/wxpay",
            Some(&buyer),
            json!({"order_id": order}),
        )
        .await;
    assert_eq!(r.status, 503, "{:?}", r.body);
    assert!(message(&r).contains("微信支付未开通"), "{:?}", r.body);
    assert_fail(&notify(&t, &[], b"{}".to_vec()).await, 404);

    // No card yet: 400 on card_id.
    let pay = |token: &str, body: Value| {
        let token = token.to_owned();
        let t = &t;
        async move { t.post("/api/payment/card", Some(&token), body).await }
    };
    assert_field(&pay(&buyer, json!({"order_id": order})).await, "card_id");
    let r = t
        .post(
            "/api/membership/cards",
            Some(&admin),
            json!({"user_id": buyer_id}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let card = r.body["card_id"].as_i64().unwrap();
    let r = t
        .post(
            "/api/membership/cards",
            Some(&admin),
            json!({"user_id": other_id}),
        )
        .await;
    let other_card = r.body["card_id"].as_i64().unwrap();
    let r = t
        .post(
            "/api/membership/transactions",
            Some(&admin),
            json!({"card_id": card, "type": 1, "amount": "60.00", "description": "充值"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);

    // Insufficient balance (60.00 < 99.98): 400, nothing changes anywhere.
    let before = events_total(&db).await;
    let r = pay(&buyer, json!({"order_id": order})).await;
    assert_field(&r, "amount");
    assert_eq!(events_total(&db).await, before);
    assert_eq!(card_balance(&t, &buyer, card).await, "60.00");
    assert_eq!(order_read(&t, &buyer, &order).await["status"], 0);
    assert_eq!(order_events(&t, &order).await, ["ShopOrderPlaced"]);

    // Someone else's order or card: 404; no token: 401; a malformed order id: 400.
    assert_eq!(pay(&other, json!({"order_id": order})).await.status, 404);
    assert_eq!(
        pay(&buyer, json!({"order_id": order, "card_id": other_card}))
            .await
            .status,
        404
    );
    assert_eq!(
        t.post("/api/payment/card", None, json!({"order_id": order}))
            .await
            .status,
        401
    );
    assert_field(&pay(&buyer, json!({"order_id": 7})).await, "order_id");
    assert_field(
        &pay(&buyer, json!({"order_id": order, "card_id": "x"})).await,
        "card_id",
    );

    // A frozen card refuses; nothing changes.
    let card_path = format!("/api/membership/cards/{card}");
    let freeze = |status: u8| {
        t.send(
            Method::PUT,
            &card_path,
            Some(&admin),
            Some(json!({"status": status})),
        )
    };
    assert_eq!(freeze(0).await.status, 200);
    let r = t
        .post(
            "/api/membership/transactions",
            Some(&admin),
            json!({"card_id": card, "type": 4, "amount": "100.00", "description": "补差"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let before = events_total(&db).await;
    assert_field(&pay(&buyer, json!({"order_id": order})).await, "card_id");
    assert_eq!(events_total(&db).await, before);
    assert_eq!(freeze(1).await.status, 200);

    // Eight concurrent payments of one order (balance 160.00, total 99.98): one succeeds, the
    // card is charged once.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (base, http, token, order) =
            (t.base.clone(), t.http.clone(), buyer.clone(), order.clone());
        set.spawn(async move {
            let resp = http
                .post(format!("{base}/api/payment/card"))
                .bearer_auth(token)
                .json(&json!({"order_id": order, "card_id": card}))
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        });
    }
    let answers = set.join_all().await;
    let ok: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(ok.len(), 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*status, 400, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("order_id: 订单已支付"),
            "{body}"
        );
    }
    let paid = ok[0];
    assert_eq!(paid["status"], 1);
    assert_eq!(paid["order_id"], order.as_str());
    assert_eq!(paid["card_id"], card);
    assert_eq!(paid["balance_after"], "60.02");
    assert_eq!(paid["payment_method"], "会员卡");
    let transaction_id = paid["transaction_id"].as_i64().unwrap();
    assert_eq!(paid["payment_id"], transaction_id.to_string());

    // Response, read models and the event store agree.
    assert_eq!(card_balance(&t, &buyer, card).await, "60.02");
    let read = order_read(&t, &buyer, &order).await;
    assert_eq!(read["status"], 1);
    assert_eq!(read["payment_id"], transaction_id.to_string());
    let r = t
        .get(
            &format!("/api/membership/transactions?card_id={card}"),
            Some(&buyer),
        )
        .await;
    let spends: Vec<&Value> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["type"] == 2)
        .collect();
    assert_eq!(spends.len(), 1, "{:?}", r.body);
    assert_eq!(spends[0]["transaction_id"], transaction_id);
    assert_eq!(spends[0]["amount"], "99.98");
    assert_eq!(spends[0]["order_id"], order.as_str());
    assert_eq!(
        order_events(&t, &order).await,
        ["ShopOrderPlaced", "ShopOrderPaid"]
    );
    let spends_stored: Vec<Value> = t
        .server
        .engine
        .events
        .read_stream(
            &StreamId::parse(format!("shopMembershipCard-{card}")).unwrap(),
            0,
            1000,
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "ShopMemberTransactionRecorded" && e.data["kind"] == "spend")
        .map(|e| e.data)
        .collect();
    assert_eq!(spends_stored.len(), 1, "one spend event: {spends_stored:?}");
    assert_eq!(spends_stored[0]["orderId"], order.as_str());
    assert_eq!(
        scalar_i64(
            &db.url,
            &format!("SELECT balance_fen FROM shop_membership_cards WHERE card_id = {card}")
        )
        .await,
        6002
    );

    // Paid: a second payment is a 400.
    assert_field(&pay(&buyer, json!({"order_id": order})).await, "order_id");
    t.stop().await;
}

/// `ShopOrderPaymentNeedsRefund` events of `id` in the event store: (reason, paymentId, amount in
/// fen).
async fn refunds_stored(t: &TestServer, id: &str) -> Vec<(Value, Value, i64)> {
    t.server
        .engine
        .events
        .read_stream(
            &StreamId::parse(format!("shopOrder-{id}")).unwrap(),
            0,
            1000,
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "ShopOrderPaymentNeedsRefund")
        .map(|e| {
            (
                e.data["reason"].clone(),
                e.data["paymentId"].clone(),
                serde_json::from_value::<Money>(e.data["amount"].clone())
                    .unwrap()
                    .to_minor()
                    .unwrap(),
            )
        })
        .collect()
}

/// How many events `stream` holds.
async fn stream_len(t: &TestServer, stream: &str) -> usize {
    t.server
        .engine
        .events
        .read_stream(&StreamId::parse(stream).unwrap(), 0, 1000)
        .await
        .unwrap()
        .len()
}

/// `refund_due_fen` of `id` once the read model shows `want` (the last value read otherwise).
async fn refund_due_fen(t: &TestServer, db: &TestDb, id: &str, want: i64) -> i64 {
    let sql = format!("SELECT refund_due_fen FROM shop_orders WHERE order_id = '{id}'");
    t.eventually(Duration::from_secs(10), || async {
        (scalar_i64(&db.url, &sql).await == want).then_some(())
    })
    .await;
    scalar_i64(&db.url, &sql).await
}

async fn refund_due(db: Arc<TestDb>) {
    let fake = FakeWechatPay::start().await;
    let mut config = server_config();
    fake.configure(&mut config);
    let t = TestServer::start_with(&db, config).await;
    let admin = t.admin().await;
    let ids = catalogue(&t, &admin, &[("茶叶", json!("25.00"), 10)]).await;
    let (buyer, buyer_id) = wx(&t, "o-refund-1").await;
    let r = t
        .post(
            "/api/membership/cards",
            Some(&admin),
            json!({"user_id": buyer_id}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let card = r.body["card_id"].as_i64().unwrap();
    let r = t
        .post(
            "/api/membership/transactions",
            Some(&admin),
            json!({"card_id": card, "type": 1, "amount": "100.00", "description": "充值"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);

    // The buyer opens a WeChat Pay payment, then pays from the card instead; WeChat Pay's payment
    // of 50.00 goes through too.
    let order = place(
        &t,
        &buyer,
        json!([{"product_id": ids[0], "quantity": 2}]),
        "微信支付",
    )
    .await;
    let r = t
        .post(
            "/api/payment/wxpay",
            Some(&buyer),
            json!({"order_id": order}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = t
        .post(
            "/api/payment/card",
            Some(&buyer),
            json!({"order_id": order}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let card_txn = r.body["transaction_id"].as_i64().unwrap().to_string();
    let card_stream = format!("shopMembershipCard-{card}");
    let card_events_before = stream_len(&t, &card_stream).await;

    // Genuine, repeated, redelivered under another notification id and delivered 4 times at
    // once: SUCCESS each time, one refund due (alreadyPaid), still paid from the card.
    let txn = "4200000001202611230000000301";
    let paid = transaction(&order, txn, json!(5000));
    let (h, b) = fake.notification("n-r-1", &paid, Utc::now());
    assert_success(&notify(&t, &h, b.clone()).await);
    assert_success(&notify(&t, &h, b.clone()).await);
    let (h2, b2) = fake.notification("n-r-1-retry", &paid, Utc::now());
    assert_success(&notify(&t, &h2, b2).await);
    for a in &futures_join(&t, &h, &b, 4).await {
        assert_success(a);
    }
    assert_eq!(
        order_events(&t, &order).await,
        [
            "ShopOrderPlaced",
            "ShopOrderPaid",
            "ShopOrderPaymentNeedsRefund"
        ]
    );
    assert_eq!(
        refunds_stored(&t, &order).await,
        [(json!("alreadyPaid"), json!(txn), 5000)]
    );
    assert_eq!(refund_due_fen(&t, &db, &order, 5000).await, 5000);
    let read = order_read(&t, &buyer, &order).await;
    assert_eq!(read["status"], 1, "{read}");
    assert_eq!(read["payment_id"], card_txn.as_str(), "{read}");
    assert_eq!(read["payment_method"], "会员卡", "{read}");
    // The card is not touched: no event, balance 100.00 − 50.00.
    assert_eq!(stream_len(&t, &card_stream).await, card_events_before);
    assert_eq!(card_balance(&t, &buyer, card).await, "50.00");
    assert_eq!(
        scalar_i64(
            &db.url,
            &format!("SELECT balance_fen FROM shop_membership_cards WHERE card_id = {card}")
        )
        .await,
        5000
    );

    // An amount other than the total (0.50 for 25.00): SUCCESS, one refund due
    // (amountMismatch), the order stays unpaid and can still be paid with the right amount.
    let second = place(
        &t,
        &buyer,
        json!([{"product_id": ids[0], "quantity": 1}]),
        "微信支付",
    )
    .await;
    let wrong_txn = "4200000001202611230000000302";
    let (h, b) = fake.notification(
        "n-r-2",
        &transaction(&second, wrong_txn, json!(50)),
        Utc::now(),
    );
    assert_success(&notify(&t, &h, b.clone()).await);
    assert_success(&notify(&t, &h, b).await);
    assert_eq!(
        order_events(&t, &second).await,
        ["ShopOrderPlaced", "ShopOrderPaymentNeedsRefund"]
    );
    assert_eq!(
        refunds_stored(&t, &second).await,
        [(json!("amountMismatch"), json!(wrong_txn), 50)]
    );
    assert_eq!(refund_due_fen(&t, &db, &second, 50).await, 50);
    let read = order_read(&t, &buyer, &second).await;
    assert_eq!(read["status"], 0, "{read}");
    assert!(read["payment_id"].is_null(), "{read}");
    let right_txn = "4200000001202611230000000303";
    let (h, b) = fake.notification(
        "n-r-3",
        &transaction(&second, right_txn, json!(2500)),
        Utc::now(),
    );
    assert_success(&notify(&t, &h, b).await);
    let read = order_read(&t, &buyer, &second).await;
    assert_eq!(
        (read["status"].clone(), read["payment_id"].clone()),
        (json!(1), json!(right_txn))
    );
    assert_eq!(refund_due_fen(&t, &db, &second, 50).await, 50);
    // The stock was taken once per order: 10 − 2 − 1.
    let r = t.get(&format!("/api/products/{}", ids[0]), None).await;
    assert_eq!(r.body["stock"], 7, "{:?}", r.body);
    t.stop().await;
}
