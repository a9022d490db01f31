//! Shop orders (seed 002 "订单 API", issue 11 part 2) end to end over real HTTP, on SQLite and
//! PostgreSQL: every route and error; 60 buyers racing over three products with overlapping
//! multi-line orders (no oversell, no partial reservation; responses, read models and a replay of
//! the event store agree); expiry returning stock with a short TTL; an admin's cancel returning
//! stock and mark-paid stopping the expiry; late and repeated payments through
//! `ShopService::record_order_payment`; a rebuild giving the same order and item rows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tessera_application::StreamId;
use tessera_application::event_store::EventMetadata;
use tessera_application::shop::PaymentRecorded;
use tessera_domain::shared::{Currency, Money};
use tessera_domain::shop::order::{OrderStatus, PaidBy, RefundReason, ShopOrderId};
use tessera_domain::shop::product::{ProductEvent, ShopProduct};
use tessera_domain::{Decider, DomainEvent};
use tessera_tests::http::{Reply, TestServer, server_config};
use tessera_tests::shop::{assert_field, call, is_millis, message, wx_login as wx};
use tessera_tests::{Suite, TestDb, scalar_i64};

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("order_routes_and_errors", routes)
        .case("sixty_buyers_race_over_three_products", race)
        .case("expiry_returns_stock_and_paid_orders_stay", expiry)
        .case("rebuild_gives_same_order_rows", rebuild)
        .run()
}

/// A category and `products` (name, price, stock); returns their ids.
async fn catalogue(t: &TestServer, admin: &str, products: &[(&str, Value, u32)]) -> Vec<i64> {
    let r = t
        .post("/api/categories", Some(admin), json!({"name": "饮品"}))
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

async fn stock(t: &TestServer, product: i64) -> i64 {
    let r = t.get(&format!("/api/products/{product}"), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["stock"].as_i64().unwrap()
}

async fn place(t: &TestServer, token: &str, items: Value) -> Reply {
    t.post(
        "/api/orders",
        Some(token),
        json!({"items": items, "payment_method": "微信支付"}),
    )
    .await
}

/// The product as the event store's replay has it.
async fn replayed(t: &TestServer, product: i64) -> (ShopProduct, Vec<ProductEvent>) {
    let stream = StreamId::parse(format!("shopProduct-{product}")).unwrap();
    let events: Vec<ProductEvent> = t
        .server
        .engine
        .events
        .read_stream(&stream, 0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| ProductEvent::from_stored(&e.event_type, &e.data).unwrap())
        .collect();
    (ShopProduct::replay(&events), events)
}

async fn routes(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let ids = catalogue(
        &t,
        &admin,
        &[
            ("咖啡", json!(99.99), 10),
            ("茶", json!("12.50"), 3),
            ("水", json!(2), 5),
        ],
    )
    .await;
    let (coffee, tea, water) = (ids[0], ids[1], ids[2]);
    let (buyer, user) = wx(&t, "o-buyer").await;
    let (other, _) = wx(&t, "o-other").await;

    // Placing: the server prices every line (a client price is ignored); the same product twice
    // is one line; status 0; amounts strings with two decimals.
    let r = t
        .post(
            "/api/orders",
            Some(&buyer),
            json!({
                "items": [
                    {"product_id": coffee, "quantity": 2, "price": 0.01},
                    {"product_id": tea, "quantity": 1},
                    {"product_id": coffee, "quantity": 1}
                ],
                "payment_method": "微信支付"
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let order = r.body.clone();
    let id = order["order_id"].as_str().unwrap().to_owned();
    assert!(ShopOrderId::parse(&id).is_ok(), "{id}");
    assert_eq!(order["user_id"], user["user_id"]);
    assert_eq!(order["total_amount"], "312.47");
    assert_eq!(order["status"], 0);
    assert_eq!(order["payment_method"], "微信支付");
    assert!(order["payment_id"].is_null());
    assert!(is_millis(&order["created_at"]) && is_millis(&order["updated_at"]));
    let keys: BTreeSet<&str> = order
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "created_at",
            "order_id",
            "payment_id",
            "payment_method",
            "status",
            "total_amount",
            "updated_at",
            "user_id"
        ]),
        "the seed's shape"
    );
    assert_eq!(stock(&t, coffee).await, 7);
    assert_eq!(stock(&t, tea).await, 2);

    // Reading: the embedded user and orderItems[].product; the owner and an admin see it.
    let r = t.get(&format!("/api/orders/{id}"), Some(&buyer)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["user"]["user_id"], user["user_id"]);
    assert!(r.body["user"].as_object().unwrap().contains_key("nickname"));
    assert!(r.body["user"].as_object().unwrap().contains_key("email"));
    let items = r.body["orderItems"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0]["product_id"], coffee);
    assert_eq!(items[0]["order_id"], id.as_str());
    assert_eq!(items[0]["quantity"], 3);
    assert_eq!(items[0]["unit_price"], "99.99");
    assert_eq!(items[0]["total_price"], "299.97");
    assert_eq!(
        items[0]["product"],
        json!({"product_id": coffee, "name": "咖啡", "price": 99.99})
    );
    assert_eq!(items[1]["unit_price"], "12.50");
    assert!(
        items[0]["order_item_id"].as_i64().unwrap() < items[1]["order_item_id"].as_i64().unwrap()
    );
    assert_eq!(
        t.get(&format!("/api/orders/{id}"), Some(&admin))
            .await
            .status,
        200
    );
    // Another user's order is invisible: 404 and not in their list.
    let r = t.get(&format!("/api/orders/{id}"), Some(&other)).await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert!(!message(&r).is_empty());
    assert_eq!(
        t.get("/api/orders", Some(&other)).await.body,
        json!([]),
        "another user's list is empty"
    );
    let mine = t.get("/api/orders", Some(&buyer)).await;
    assert_eq!(mine.body.as_array().unwrap().len(), 1);
    assert_eq!(mine.body[0]["orderItems"].as_array().unwrap().len(), 2);
    for bad in ["ORDER1", "nope", "ORDER0000000000000000001"] {
        assert_eq!(
            t.get(&format!("/api/orders/{bad}"), Some(&admin))
                .await
                .status,
            404
        );
    }

    // Refusals name the field and reserve nothing.
    let before = (stock(&t, coffee).await, stock(&t, tea).await);
    for (items, field) in [
        (json!([]), "items"),
        (json!("x"), "items"),
        (json!([{"product_id": coffee}]), "items[0].quantity"),
        (
            json!([{"product_id": coffee, "quantity": 0}]),
            "items[0].quantity",
        ),
        (
            json!([{"product_id": coffee, "quantity": -1}]),
            "items[0].quantity",
        ),
        (
            json!([{"product_id": coffee, "quantity": 1.5}]),
            "items[0].quantity",
        ),
        (json!([{"quantity": 1}]), "items[0].product_id"),
        (
            json!([{"product_id": 999, "quantity": 1}]),
            "items[0].product_id",
        ),
        (
            json!([{"product_id": coffee, "quantity": 1}, {"product_id": tea, "quantity": 3}]),
            "items[1].quantity",
        ),
        (json!([5]), "items[0]"),
    ] {
        let r = place(&t, &buyer, items.clone()).await;
        assert_field(&r, field);
    }
    let r = t
        .post(
            "/api/orders",
            Some(&buyer),
            json!({"items": [{"product_id": coffee, "quantity": 1}]}),
        )
        .await;
    assert_field(&r, "payment_method");
    for method in ["支付宝", "银行卡"] {
        let r = t
            .post(
                "/api/orders",
                Some(&buyer),
                json!({"items": [{"product_id": coffee, "quantity": 1}], "payment_method": method}),
            )
            .await;
        assert_field(&r, "payment_method");
    }
    assert_eq!((stock(&t, coffee).await, stock(&t, tea).await), before);
    // Off sale, deleted: refused on the product.
    let r = call(
        &t,
        Method::PUT,
        &format!("/api/products/{water}"),
        Some(&admin),
        json!({"status": 0}),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = place(&t, &buyer, json!([{"product_id": water, "quantity": 1}])).await;
    assert_field(&r, "items[0].product_id");
    assert_eq!(
        t.delete(&format!("/api/products/{water}"), Some(&admin), None)
            .await
            .status,
        204
    );
    let r = place(&t, &buyer, json!([{"product_id": water, "quantity": 1}])).await;
    assert_field(&r, "items[0].product_id");
    // An identity user who never signed in to the shop has no user_id to order with.
    let r = place(&t, &admin, json!([{"product_id": coffee, "quantity": 1}])).await;
    assert_eq!(r.status, 403, "{:?}", r.body);

    // 401 without a token on every route; 403 for a user on the admin routes.
    let path = format!("/api/orders/{id}");
    for (m, p) in [
        (Method::GET, "/api/orders".to_owned()),
        (Method::POST, "/api/orders".to_owned()),
        (Method::GET, path.clone()),
        (Method::PUT, path.clone()),
        (Method::DELETE, path.clone()),
    ] {
        let r = call(&t, m.clone(), &p, None, json!({})).await;
        assert_eq!(r.status, 401, "{m} {p}: {:?}", r.body);
        assert!(!message(&r).is_empty());
    }
    for m in [Method::PUT, Method::DELETE] {
        let r = call(&t, m.clone(), &path, Some(&buyer), json!({"status": 2})).await;
        assert_eq!(r.status, 403, "{m}: {:?}", r.body);
    }
    assert_eq!(t.get(&path, Some(&buyer)).await.body["status"], 0);

    // Admin PUT: bad fields, impossible transitions, then cancel → stock back.
    for (body, field) in [
        (json!({"status": 7}), "status"),
        (json!({"status": null}), "status"),
        (json!({"status": "1"}), "status"),
        (json!({"payment_method": 5}), "payment_method"),
        (json!({"payment_method": "比特币"}), "payment_method"),
        (json!({"status": 4}), "status"),
        (json!({"status": 3}), "status"),
    ] {
        let r = call(&t, Method::PUT, &path, Some(&admin), body.clone()).await;
        assert_field(&r, field);
    }
    let r = call(
        &t,
        Method::PUT,
        "/api/orders/ORDER0000000000000000001",
        Some(&admin),
        json!({"status": 2}),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = call(&t, Method::PUT, &path, Some(&admin), json!({"status": 2})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], 2);
    assert_eq!(stock(&t, coffee).await, 10, "cancel returns the stock");
    assert_eq!(stock(&t, tea).await, 3);
    let r = call(&t, Method::PUT, &path, Some(&admin), json!({"status": 1})).await;
    assert_field(&r, "status");
    let r = call(&t, Method::PUT, &path, Some(&admin), json!({"status": 2})).await;
    assert_eq!(r.status, 200, "cancelling again changes nothing");
    assert_eq!(stock(&t, coffee).await, 10);

    // Mark paid with the seed's 支付宝 example; refund returns the stock.
    let r = place(&t, &buyer, json!([{"product_id": tea, "quantity": 2}])).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let paid = format!("/api/orders/{}", r.body["order_id"].as_str().unwrap());
    let r = call(
        &t,
        Method::PUT,
        &paid,
        Some(&admin),
        json!({"status": 1, "payment_method": "支付宝", "payment_id": "新交易号"}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (
            &r.body["status"],
            &r.body["payment_method"],
            &r.body["payment_id"]
        ),
        (&json!(1), &json!("支付宝"), &json!("新交易号"))
    );
    assert_eq!(
        t.get(&paid, Some(&buyer)).await.body["payment_id"],
        "新交易号"
    );
    assert_eq!(stock(&t, tea).await, 1);
    let r = call(&t, Method::PUT, &paid, Some(&admin), json!({"status": 2})).await;
    assert_field(&r, "status");
    let r = call(
        &t,
        Method::PUT,
        &paid,
        Some(&admin),
        json!({"payment_id": "改正的交易号"}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["payment_id"], "改正的交易号");
    assert_eq!(r.body["status"], 1);
    let r = call(&t, Method::PUT, &paid, Some(&admin), json!({"status": 4})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], 4);
    assert_eq!(stock(&t, tea).await, 3, "refund returns the stock");

    // The stored history names the admin on each change.
    let order_stream = StreamId::parse(format!(
        "shopOrder-{}",
        paid.trim_start_matches("/api/orders/")
    ))
    .unwrap();
    let history = t
        .server
        .engine
        .events
        .read_stream(&order_stream, 0, 100)
        .await
        .unwrap();
    let types: Vec<&str> = history.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "ShopOrderPlaced",
            "ShopOrderPaid",
            "ShopOrderPaymentChanged",
            "ShopOrderRefunded"
        ]
    );
    assert!(history[1].data["paidBy"].is_string(), "{}", history[1].data);

    // DELETE: 204, hidden (404, gone from lists), history stays; again 204; unknown 404.
    let r = t.delete(&path, Some(&admin), None).await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_null());
    assert_eq!(t.get(&path, Some(&admin)).await.status, 404);
    assert_eq!(t.get(&path, Some(&buyer)).await.status, 404);
    let all = t.get("/api/orders", Some(&admin)).await.body;
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .all(|o| o["order_id"] != id.as_str()),
        "{all}"
    );
    assert_eq!(t.delete(&path, Some(&admin), None).await.status, 204);
    assert_eq!(
        t.delete("/api/orders/ORDER0000000000000000001", Some(&admin), None)
            .await
            .status,
        404
    );
    let r = call(&t, Method::PUT, &path, Some(&admin), json!({"status": 2})).await;
    assert_eq!(r.status, 404);

    // The OpenAPI document lists the order routes.
    let doc = t.get("/shop/openapi.json", None).await.body;
    for p in ["/api/orders", "/api/orders/{id}"] {
        assert!(doc["paths"][p].is_object(), "{p}");
    }
    t.stop().await;
}

/// Initial stocks of the race's three products: small enough that they sell out.
const STOCKS: [u32; 3] = [12, 9, 7];

/// The lines buyer `i` asks for: overlapping two- and three-product orders.
fn race_items(i: usize, ids: &[i64]) -> Vec<(i64, i64)> {
    let q = 1 + (i % 2) as i64;
    match i % 4 {
        0 => vec![(ids[0], q), (ids[1], 1)],
        1 => vec![(ids[1], q), (ids[2], 1)],
        2 => vec![(ids[2], 1), (ids[0], q)],
        _ => vec![(ids[0], 1), (ids[1], 1), (ids[2], q)],
    }
}

async fn race(db: Arc<TestDb>) {
    let t = Arc::new(TestServer::start(&db).await);
    let admin = t.admin().await;
    let ids = catalogue(
        &t,
        &admin,
        &[
            ("甲", json!(1.5), STOCKS[0]),
            ("乙", json!(2), STOCKS[1]),
            ("丙", json!(0.99), STOCKS[2]),
        ],
    )
    .await;
    let mut logins = Vec::new();
    for i in 0..60 {
        let t = t.clone();
        logins.push(tokio::spawn(async move {
            wx(&t, &format!("o-racer-{i}")).await.0
        }));
    }
    let mut tokens = Vec::new();
    for l in logins {
        tokens.push(l.await.unwrap());
    }
    // All 60 start together.
    let gate = Arc::new(tokio::sync::Barrier::new(60));
    let mut tasks = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let (t, gate, ids) = (t.clone(), gate.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            let items = race_items(i, &ids);
            let body: Vec<Value> = items
                .iter()
                .map(|(p, q)| json!({"product_id": p, "quantity": q}))
                .collect();
            gate.wait().await;
            (i, place(&t, &token, json!(body)).await)
        }));
    }
    let mut accepted: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    let mut refused = 0;
    for task in tasks {
        let (i, r) = task.await.unwrap();
        match r.status.as_u16() {
            201 => {
                assert_eq!(r.body["status"], 0);
                accepted.insert(
                    r.body["order_id"].as_str().unwrap().to_owned(),
                    race_items(i, &ids),
                );
            }
            400 => {
                assert!(message(&r).contains("库存不足"), "{:?}", r.body);
                assert!(message(&r).starts_with("items["), "{:?}", r.body);
                refused += 1;
            }
            other => panic!("buyer {i}: {other} {:?}", r.body),
        }
    }
    assert!(
        !accepted.is_empty() && refused > 0,
        "{} accepted, {refused} refused",
        accepted.len()
    );

    // Per product: what accepted orders hold + what is left = the initial stock; never below 0.
    let mut sold_out = 0;
    for (k, product) in ids.iter().enumerate() {
        let held: i64 = accepted
            .values()
            .flat_map(|lines| lines.iter())
            .filter(|(p, _)| p == product)
            .map(|(_, q)| q)
            .sum();
        let api = stock(&t, *product).await;
        assert!(api >= 0);
        assert_eq!(
            held + api,
            i64::from(STOCKS[k]),
            "product {product}: no oversell"
        );
        // The event store's replay agrees with the read model, and every reservation belongs to
        // an accepted order, one per line (no partial reservation by a refused order).
        let (state, events) = replayed(&t, *product).await;
        assert_eq!(i64::from(state.stock()), api, "replay = read model");
        let reserved: Vec<(String, i64)> = events
            .iter()
            .filter_map(|e| match e {
                ProductEvent::StockReserved {
                    order_id, quantity, ..
                } => Some((order_id.clone(), i64::from(*quantity))),
                _ => None,
            })
            .collect();
        let expected: Vec<(String, i64)> = accepted
            .iter()
            .flat_map(|(id, lines)| {
                lines
                    .iter()
                    .filter(|(p, _)| p == product)
                    .map(move |(_, q)| (id.clone(), *q))
            })
            .collect();
        let (mut a, mut b) = (reserved.clone(), expected);
        a.sort();
        b.sort();
        assert_eq!(
            a, b,
            "product {product}: reservations are exactly the accepted lines"
        );
        let items_sum = scalar_i64(
            &db.url,
            &format!(
                "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM shop_order_items \
                 WHERE product_id = {product}"
            ),
        )
        .await;
        assert_eq!(items_sum, held, "shop_order_items agree");
        if api == 0 {
            sold_out += 1;
        }
    }
    assert!(sold_out > 0, "at least one product sold out");

    // Every accepted order holds all its lines in the read model; the list shows exactly them.
    let all = t.get("/api/orders", Some(&admin)).await.body;
    let listed: BTreeMap<String, usize> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["order_id"].as_str().unwrap().to_owned(),
                o["orderItems"].as_array().unwrap().len(),
            )
        })
        .collect();
    let wanted: BTreeMap<String, usize> = accepted
        .iter()
        .map(|(id, l)| (id.clone(), l.len()))
        .collect();
    assert_eq!(listed, wanted);
    let rows = scalar_i64(&db.url, "SELECT COUNT(*) FROM shop_orders").await;
    assert_eq!(rows, accepted.len() as i64);
    // Order-item numbers are dense: 1..=lines.
    let lines: usize = wanted.values().sum();
    assert_eq!(
        scalar_i64(&db.url, "SELECT MAX(order_item_id) FROM shop_order_items").await,
        lines as i64
    );
    Arc::try_unwrap(t).ok().unwrap().stop().await;
}

/// The product's stock once the read model shows what a replay of its stream gives (the
/// `shop_catalog` projector may still be applying a release the `shop_orders` one already showed).
async fn settled_stock(t: &TestServer, product: i64) -> i64 {
    t.eventually(Duration::from_secs(20), || async {
        let replay = i64::from(replayed(t, product).await.0.stock());
        (stock(t, product).await == replay).then_some(replay)
    })
    .await
    .expect("the read model catches up with the event store")
}

async fn status_of(t: &TestServer, token: &str, id: &str) -> i64 {
    t.get(&format!("/api/orders/{id}"), Some(token)).await.body["status"]
        .as_i64()
        .unwrap_or(-1)
}

async fn expiry(db: Arc<TestDb>) {
    let mut c = server_config();
    // Short enough to wait for by polling, long enough for the steps before it on a busy CI.
    c.shop_order_ttl_secs = 3;
    let t = TestServer::start_with(&db, c).await;
    let admin = t.admin().await;
    let ids = catalogue(
        &t,
        &admin,
        &[("限量", json!(10), 5), ("常规", json!(1), 50)],
    )
    .await;
    let (buyer, _) = wx(&t, "o-late").await;

    // B is marked paid by an admin at once; A stays unpaid; C is paid through the payment port;
    // D, placed last, unpaid, tells when every earlier deadline has fired.
    let r = place(&t, &buyer, json!([{"product_id": ids[0], "quantity": 2}])).await;
    let b = r.body["order_id"].as_str().unwrap().to_owned();
    let r = call(
        &t,
        Method::PUT,
        &format!("/api/orders/{b}"),
        Some(&admin),
        json!({"status": 1}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = place(
        &t,
        &buyer,
        json!([{"product_id": ids[0], "quantity": 3}, {"product_id": ids[1], "quantity": 4}]),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let a = r.body["order_id"].as_str().unwrap().to_owned();
    let r = place(&t, &buyer, json!([{"product_id": ids[1], "quantity": 1}])).await;
    let c_id = r.body["order_id"].as_str().unwrap().to_owned();
    let r = place(&t, &buyer, json!([{"product_id": ids[1], "quantity": 1}])).await;
    let d = r.body["order_id"].as_str().unwrap().to_owned();
    assert_eq!(
        stock(&t, ids[0]).await,
        0,
        "sold out while A holds its stock"
    );
    let r = place(&t, &buyer, json!([{"product_id": ids[0], "quantity": 1}])).await;
    assert_field(&r, "items[0].quantity");

    // C is paid through the payment port just in time; paying again with its id changes nothing.
    let shop = &t.server.services.shop;
    let c_order = ShopOrderId::parse(&c_id).unwrap();
    let one = Money::from_minor(100, Currency::CNY).unwrap();
    let meta = EventMetadata::default();
    let pay = |id: &'static str, amount: Money| {
        shop.record_order_payment(
            &c_order,
            None,
            id.to_owned(),
            amount,
            PaidBy::Channel("test".into()),
            &meta,
        )
    };
    // Money that cannot pay C (a wrong amount first, a second payment once paid) is recorded as
    // needing a refund, once per payment id, and leaves C as it was.
    let cent = Money::from_minor(1, Currency::CNY).unwrap();
    for expected in [
        PaymentRecorded::NeedsRefund(RefundReason::AmountMismatch),
        PaymentRecorded::AlreadyRecorded,
    ] {
        assert_eq!(pay("wx-c-wrong", cent).await.unwrap().0, expected);
    }
    assert_eq!(
        shop.order(&c_order).await.unwrap().status(),
        Some(OrderStatus::Unpaid),
        "the amount must be the total"
    );
    assert_eq!(pay("wx-c", one).await.unwrap().0, PaymentRecorded::Paid);
    assert_eq!(
        pay("wx-c", one).await.unwrap().0,
        PaymentRecorded::AlreadyRecorded
    );
    for expected in [
        PaymentRecorded::NeedsRefund(RefundReason::AlreadyPaid),
        PaymentRecorded::AlreadyRecorded,
    ] {
        assert_eq!(pay("wx-other", one).await.unwrap().0, expected);
    }
    let c_now = shop.order(&c_order).await.unwrap();
    assert_eq!(
        (c_now.status(), c_now.payment_id()),
        (Some(OrderStatus::Paid), Some("wx-c")),
        "a second payment id does not replace the first"
    );

    // A expires by its deadline (polled, no long sleep): its stock comes back.
    let expired = t
        .eventually(Duration::from_secs(20), || async {
            (status_of(&t, &buyer, &a).await == 3).then_some(())
        })
        .await;
    assert!(expired.is_some(), "order A expired");
    assert_eq!(
        settled_stock(&t, ids[0]).await,
        3,
        "A's 3 came back, B's 2 stay sold"
    );
    // D's deadline was due last: once D expired, B's and C's have fired too; they stay paid.
    let last = t
        .eventually(Duration::from_secs(20), || async {
            (status_of(&t, &buyer, &d).await == 3).then_some(())
        })
        .await;
    assert!(last.is_some(), "order D expired");
    assert_eq!(
        settled_stock(&t, ids[1]).await,
        49,
        "A's 4 and D's 1 came back, C's 1 stays sold"
    );
    assert_eq!(status_of(&t, &buyer, &b).await, 1);
    assert_eq!(status_of(&t, &buyer, &c_id).await, 1);
    assert_eq!(stock(&t, ids[0]).await, 3);

    // A payment arriving after the expiry is recorded as needing a refund; stock untouched, once.
    let a_order = ShopOrderId::parse(&a).unwrap();
    let total = Money::from_minor(3400, Currency::CNY).unwrap();
    for expected in [
        PaymentRecorded::NeedsRefund(RefundReason::NotPayable),
        PaymentRecorded::AlreadyRecorded,
    ] {
        let (what, _) = shop
            .record_order_payment(
                &a_order,
                Some("微信支付".into()),
                "wx-late".into(),
                total,
                PaidBy::Channel("test".into()),
                &meta,
            )
            .await
            .unwrap();
        assert_eq!(what, expected);
    }
    assert_eq!(status_of(&t, &buyer, &a).await, 3);
    assert_eq!(stock(&t, ids[0]).await, 3);
    let a_stream = StreamId::parse(format!("shopOrder-{a}")).unwrap();
    let types: Vec<String> = t
        .server
        .engine
        .events
        .read_stream(&a_stream, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        types,
        [
            "ShopOrderPlaced",
            "ShopOrderExpired",
            "ShopOrderPaymentNeedsRefund"
        ]
    );
    // C's two refunds due (0.01 + 1.00) in the read model; A's late 34.00.
    for (id, fen) in [(&c_id, 101), (&a, 3400)] {
        let sql = format!("SELECT refund_due_fen FROM shop_orders WHERE order_id = '{id}'");
        let due = t
            .eventually(Duration::from_secs(10), || async {
                (scalar_i64(&db.url, &sql).await == fen).then_some(())
            })
            .await;
        assert!(due.is_some(), "{id}: refund_due_fen {fen}");
    }
    t.stop().await;
}

/// What an admin reads of every order, plus the raw item rows.
async fn orders_snapshot(t: &TestServer, db: &TestDb, admin: &str) -> (Value, i64, i64) {
    let list = t.get("/api/orders", Some(admin)).await;
    assert_eq!(list.status, 200);
    let items = scalar_i64(&db.url, "SELECT COUNT(*) FROM shop_order_items").await;
    let fen = scalar_i64(
        &db.url,
        "SELECT CAST(COALESCE(SUM(total_price_fen * order_item_id), 0) AS BIGINT) \
         FROM shop_order_items",
    )
    .await;
    (list.body, items, fen)
}

async fn rebuild(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let ids = catalogue(&t, &admin, &[("一", json!(3.3), 20), ("二", json!(4), 20)]).await;
    let (buyer, _) = wx(&t, "o-rebuild").await;
    let mut orders = Vec::new();
    for n in 1..=4 {
        let r = place(
            &t,
            &buyer,
            json!([{"product_id": ids[0], "quantity": n}, {"product_id": ids[1], "quantity": 1}]),
        )
        .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        orders.push(r.body["order_id"].as_str().unwrap().to_owned());
    }
    for (id, body) in [
        (&orders[0], json!({"status": 2})),
        (&orders[1], json!({"status": 1, "payment_id": "p-1"})),
    ] {
        let path = format!("/api/orders/{id}");
        let r = call(&t, Method::PUT, &path, Some(&admin), body).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    assert_eq!(
        t.delete(&format!("/api/orders/{}", orders[2]), Some(&admin), None)
            .await
            .status,
        204
    );
    let live = orders_snapshot(&t, &db, &admin).await;
    let products = t.get("/api/products", None).await.body;
    assert_eq!(live.0.as_array().unwrap().len(), 3);
    t.stop().await;

    let engine = db.engine().await;
    for name in ["shop_orders", "shop_catalog"] {
        engine.runner.rebuild(name, |_, _| {}).await.unwrap();
    }
    drop(engine);
    let t = TestServer::start(&db).await;
    assert_eq!(
        orders_snapshot(&t, &db, &admin).await,
        live,
        "a rebuild gives the same order rows and ids"
    );
    assert_eq!(
        t.get("/api/products", None).await.body,
        products,
        "same stock"
    );
    t.stop().await;
}
