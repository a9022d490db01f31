//! Shop membership cards and member transactions (seed 002 "会员卡 API") end to end over real
//! HTTP, on SQLite and PostgreSQL: every card and transaction route with its errors (401, 403,
//! 404 for another user's card, field 400s), one open card per user, a balance `PUT` recorded as
//! an adjustment transaction, frozen cards refusing top-ups and spends, closing only an empty
//! card, Luhn-valid unique card numbers, 50 concurrent spends against one card (never negative;
//! responses, read model and a replay of the event store agree), and a rebuild of the card
//! projection giving the same rows and ids.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use tessera_application::StreamId;
use tessera_domain::DomainEvent;
use tessera_domain::shop::card::{CardEvent, luhn_valid};
use tessera_tests::http::{Reply, TestServer};
use tessera_tests::shop::{assert_field, call, is_millis, message, wx_login};
use tessera_tests::{Suite, TestDb, scalar_i64};

/// `POST /weixin-login` with `dev:{openid}`; returns (token, shop `user_id`).
async fn wx(t: &TestServer, openid: &str) -> (String, i64) {
    let (token, user) = wx_login(t, openid).await;
    (token, user["user_id"].as_i64().unwrap())
}

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("card_routes_and_errors", routes)
        .case(
            "balance_put_is_an_adjustment_and_frozen_refuses",
            adjust_and_freeze,
        )
        .case("fifty_concurrent_spends_never_overdraw", concurrent_spends)
        .case("rebuild_gives_same_card_rows_and_ids", rebuild)
        .run()
}

async fn issue(t: &TestServer, admin: &str, user_id: i64) -> Value {
    let r = t
        .post(
            "/api/membership/cards",
            Some(admin),
            json!({"user_id": user_id}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body
}

async fn transact(t: &TestServer, admin: &str, card: i64, kind: u8, amount: Value) -> Reply {
    t.post(
        "/api/membership/transactions",
        Some(admin),
        json!({"card_id": card, "type": kind, "amount": amount, "description": format!("type {kind}")}),
    )
    .await
}

/// The card's events as stored, decoded.
async fn card_events(t: &TestServer, card: i64) -> Vec<CardEvent> {
    t.server
        .engine
        .events
        .read_stream(
            &StreamId::parse(format!("shopMembershipCard-{card}")).unwrap(),
            0,
            10_000,
        )
        .await
        .unwrap()
        .into_iter()
        .map(|e| CardEvent::from_stored(&e.event_type, &e.data).unwrap())
        .collect()
}

/// Fen of an amount string with two decimals (`"50.00"` → 5000); panics on any other shape.
fn fen(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    let (yuan, cents) = s.split_once('.').unwrap();
    assert_eq!(cents.len(), 2, "{s}");
    yuan.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap()
}

async fn routes(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let (alice, alice_id) = wx(&t, "o-card-alice").await;
    let (bob, bob_id) = wx(&t, "o-card-bob").await;

    // Admin routes: 401 without a token, 403 for a user.
    for (m, path, body) in [
        (
            Method::POST,
            "/api/membership/cards",
            json!({"user_id": alice_id}),
        ),
        (Method::PUT, "/api/membership/cards/1", json!({"status": 0})),
        (Method::DELETE, "/api/membership/cards/1", json!({})),
        (
            Method::POST,
            "/api/membership/transactions",
            json!({"card_id": 1, "type": 1, "amount": "1.00"}),
        ),
    ] {
        let r = call(&t, m.clone(), path, None, body.clone()).await;
        assert_eq!(r.status, 401, "{m} {path}: {:?}", r.body);
        assert!(!message(&r).is_empty());
        let r = call(&t, m.clone(), path, Some(&alice), body).await;
        assert_eq!(r.status, 403, "{m} {path}: {:?}", r.body);
    }
    for path in [
        "/api/membership/cards",
        "/api/membership/cards/1",
        "/api/membership/transactions",
    ] {
        assert_eq!(t.get(path, None).await.status, 401, "{path}");
    }

    // Issue: the seed's shape, balance "0.00", status 1, a Luhn-valid number.
    let card = issue(&t, &admin, alice_id).await;
    let keys: Vec<&str> = card
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys.len(),
        7,
        "card_id, user_id, card_number, balance, status, created_at, updated_at: {card}"
    );
    assert_eq!(card["card_id"], 1);
    assert_eq!(card["user_id"], alice_id);
    assert_eq!(card["balance"], "0.00");
    assert_eq!(card["status"], 1);
    assert!(is_millis(&card["created_at"]) && is_millis(&card["updated_at"]));
    assert!(luhn_valid(card["card_number"].as_str().unwrap()), "{card}");
    let bob_card = issue(&t, &admin, bob_id).await;
    assert_eq!(bob_card["card_id"], 2);

    // Field errors and one open card per user.
    for body in [
        json!({}),
        json!({"user_id": "x"}),
        json!({"user_id": 0}),
        json!({"user_id": 999}),
    ] {
        let r = t.post("/api/membership/cards", Some(&admin), body).await;
        assert_field(&r, "user_id");
    }
    let r = t
        .post(
            "/api/membership/cards",
            Some(&admin),
            json!({"user_id": alice_id}),
        )
        .await;
    assert_field(&r, "user_id");
    let r = t
        .post("/api/membership/cards", Some(&admin), json!([1]))
        .await;
    assert_field(&r, "body");

    // Reads: admin all with the embedded user; a user their own; another's card is a 404.
    let all = t.get("/api/membership/cards", Some(&admin)).await;
    assert_eq!(all.status, 200);
    assert_eq!(all.body.as_array().unwrap().len(), 2);
    assert_eq!(
        all.body[0]["user"],
        json!({"user_id": alice_id, "nickname": null, "email": null, "phone": null})
    );
    let own = t.get("/api/membership/cards", Some(&alice)).await;
    assert_eq!(own.body.as_array().unwrap().len(), 1, "{:?}", own.body);
    assert_eq!(own.body[0]["card_id"], 1);
    let r = t.get("/api/membership/cards/1", Some(&alice)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["card_number"], card["card_number"]);
    assert_eq!(r.body["user"]["user_id"], alice_id);
    let r = t.get("/api/membership/cards/2", Some(&alice)).await;
    assert_eq!(r.status, 404, "another user's card: {:?}", r.body);
    assert_eq!(r.body.as_object().unwrap().len(), 1);
    assert_eq!(
        t.get("/api/membership/cards/1", Some(&bob)).await.status,
        404
    );
    assert_eq!(
        t.get("/api/membership/cards/2", Some(&bob)).await.status,
        200
    );
    for path in ["/api/membership/cards/99", "/api/membership/cards/abc"] {
        assert_eq!(t.get(path, Some(&admin)).await.status, 404, "{path}");
    }
    let (stranger, _) = wx(&t, "o-card-stranger").await;
    let r = t.get("/api/membership/cards", Some(&stranger)).await;
    assert_eq!(r.body, json!([]));

    // Transactions: the seed's shape and field errors.
    let r = transact(&t, &admin, 1, 1, json!("50.00")).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["transaction_id"], 1);
    assert_eq!(r.body["card_id"], 1);
    assert_eq!(r.body["type"], 1);
    assert_eq!(r.body["amount"], "50.00");
    assert_eq!(r.body["balance_after"], "50.00");
    assert_eq!(r.body["description"], "type 1");
    assert!(is_millis(&r.body["created_at"]) && is_millis(&r.body["updated_at"]));
    let r = transact(&t, &admin, 1, 2, json!(12.5)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["amount"], "12.50");
    assert_eq!(r.body["balance_after"], "37.50");
    for (body, field) in [
        (json!({"type": 1, "amount": "1.00"}), "card_id"),
        (
            json!({"card_id": 99, "type": 1, "amount": "1.00"}),
            "card_id",
        ),
        (json!({"card_id": 1, "amount": "1.00"}), "type"),
        (json!({"card_id": 1, "type": 9, "amount": "1.00"}), "type"),
        (json!({"card_id": 1, "type": 1}), "amount"),
        (json!({"card_id": 1, "type": 1, "amount": "0.00"}), "amount"),
        (
            json!({"card_id": 1, "type": 1, "amount": "-1.00"}),
            "amount",
        ),
        (
            json!({"card_id": 1, "type": 1, "amount": "1.001"}),
            "amount",
        ),
        (
            json!({"card_id": 1, "type": 2, "amount": "37.51"}),
            "amount",
        ),
        (
            json!({"card_id": 1, "type": 4, "amount": "1.00"}),
            "description",
        ),
        (
            json!({"card_id": 1, "type": 1, "amount": "1.00", "description": 5}),
            "description",
        ),
    ] {
        let r = t
            .post("/api/membership/transactions", Some(&admin), body.clone())
            .await;
        assert_field(&r, field);
    }
    // Listing: admin all, a user their own cards', `?card_id=` narrows.
    transact(&t, &admin, 2, 1, json!("5")).await;
    let r = t.get("/api/membership/transactions", Some(&admin)).await;
    assert_eq!(r.body.as_array().unwrap().len(), 3, "{:?}", r.body);
    let r = t
        .get("/api/membership/transactions?card_id=2", Some(&admin))
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let r = t.get("/api/membership/transactions", Some(&alice)).await;
    let ids: Vec<i64> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["transaction_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 2], "alice sees her card's only");
    let r = t
        .get("/api/membership/transactions?card_id=2", Some(&alice))
        .await;
    assert_eq!(r.body, json!([]));
    let r = t
        .get("/api/membership/transactions?card_id=x", Some(&admin))
        .await;
    assert_field(&r, "card_id");

    // Close: not with money on it; after zeroing it, 204, then gone; a new card may be issued.
    let r = t
        .delete("/api/membership/cards/1", Some(&admin), None)
        .await;
    assert_field(&r, "balance");
    let r = call(
        &t,
        Method::PUT,
        "/api/membership/cards/1",
        Some(&admin),
        json!({"balance": "0.00", "reason": "注销前清零"}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = t
        .delete("/api/membership/cards/1", Some(&admin), None)
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(r.body, Value::Null);
    assert_eq!(
        t.get("/api/membership/cards/1", Some(&admin)).await.status,
        404
    );
    assert_eq!(
        t.delete("/api/membership/cards/1", Some(&admin), None)
            .await
            .status,
        404
    );
    let r = call(
        &t,
        Method::PUT,
        "/api/membership/cards/1",
        Some(&admin),
        json!({"status": 0}),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = transact(&t, &admin, 1, 1, json!("1.00")).await;
    assert_field(&r, "card_id");
    assert_eq!(
        t.get("/api/membership/cards", Some(&alice)).await.body,
        json!([])
    );
    let again = issue(&t, &admin, alice_id).await;
    assert_eq!(again["card_id"], 3);

    // Every number issued is Luhn-valid and unique (more cards for more users).
    for i in 0..5 {
        let (_, id) = wx(&t, &format!("o-card-more-{i}")).await;
        issue(&t, &admin, id).await;
    }
    let mut numbers: Vec<String> = Vec::new();
    for card in 1..=8 {
        let events = card_events(&t, card).await;
        let Some(CardEvent::Issued { card_number, .. }) = events.first() else {
            panic!("card {card}: {events:?}");
        };
        assert!(luhn_valid(card_number), "{card_number}");
        numbers.push(card_number.clone());
    }
    let mut unique = numbers.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), numbers.len(), "{numbers:?}");

    // The OpenAPI document lists the card routes.
    let r = t.get("/shop/openapi.json", None).await;
    for p in [
        "/api/membership/cards",
        "/api/membership/cards/{id}",
        "/api/membership/transactions",
    ] {
        assert!(r.body["paths"][p].is_object(), "{p}");
    }
    t.stop().await;
}

async fn adjust_and_freeze(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let (_, user) = wx(&t, "o-adjust").await;
    let card = issue(&t, &admin, user).await["card_id"].as_i64().unwrap();
    assert_eq!(
        transact(&t, &admin, card, 1, json!("100.00")).await.status,
        201
    );

    // The seed's PUT: balance and status; the answer is the card after both.
    let r = call(
        &t,
        Method::PUT,
        &format!("/api/membership/cards/{card}"),
        Some(&admin),
        json!({"balance": "200.00", "status": 0}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["balance"], "200.00");
    assert_eq!(r.body["status"], 0);
    assert_eq!(r.body.as_object().unwrap().len(), 7, "{:?}", r.body);
    // Never an overwrite: an adjustment of the difference naming the admin, in the list.
    let list = t
        .get(
            &format!("/api/membership/transactions?card_id={card}"),
            Some(&admin),
        )
        .await;
    let last = list.body.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["type"], 4, "{last}");
    assert_eq!(last["amount"], "100.00");
    assert_eq!(last["balance_after"], "200.00");
    assert_eq!(last["description"], "管理员修改余额");
    let events = card_events(&t, card).await;
    assert!(
        events.iter().any(|e| matches!(
            e,
            CardEvent::TransactionRecorded {
                kind: tessera_domain::shop::card::TransactionKind::AdjustmentUp,
                ..
            }
        )),
        "{events:?}"
    );
    assert!(
        matches!(events.last(), Some(CardEvent::Frozen { .. })),
        "{events:?}"
    );

    // Frozen: spends and top-ups refused (400, nothing written), refunds and adjustments pass.
    let before = card_events(&t, card).await.len();
    for kind in [2, 1] {
        let r = transact(&t, &admin, card, kind, json!("1.00")).await;
        assert_field(&r, "card_id");
    }
    assert_eq!(
        card_events(&t, card).await.len(),
        before,
        "a refusal writes nothing"
    );
    let r = transact(&t, &admin, card, 3, json!("1.00")).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["balance_after"], "201.00");
    // Down, with a reason; then unfreeze and spend again.
    let r = call(
        &t,
        Method::PUT,
        &format!("/api/membership/cards/{card}"),
        Some(&admin),
        json!({"balance": 50, "reason": "盘点更正", "status": 1}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (r.body["balance"].as_str(), r.body["status"].as_i64()),
        (Some("50.00"), Some(1))
    );
    let list = t
        .get(
            &format!("/api/membership/transactions?card_id={card}"),
            Some(&admin),
        )
        .await;
    let last = list.body.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (
            last["type"].as_i64(),
            last["amount"].as_str(),
            last["description"].as_str()
        ),
        (Some(5), Some("151.00"), Some("盘点更正"))
    );
    assert_eq!(
        transact(&t, &admin, card, 2, json!("50.00")).await.status,
        201
    );
    // The same balance again records nothing; bad fields are 400s naming them.
    let n = card_events(&t, card).await.len();
    let r = call(
        &t,
        Method::PUT,
        &format!("/api/membership/cards/{card}"),
        Some(&admin),
        json!({"balance": "0.00"}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(card_events(&t, card).await.len(), n);
    for (body, field) in [
        (json!({"balance": "-1.00"}), "balance"),
        (json!({"balance": "1.234"}), "balance"),
        (json!({"balance": null}), "balance"),
        (json!({"status": 2}), "status"),
        (json!({"status": "0"}), "status"),
        (json!({"balance": "1.00", "reason": 3}), "reason"),
    ] {
        let r = call(
            &t,
            Method::PUT,
            &format!("/api/membership/cards/{card}"),
            Some(&admin),
            body,
        )
        .await;
        assert_field(&r, field);
    }
    t.stop().await;
}

async fn concurrent_spends(db: Arc<TestDb>) {
    let t = Arc::new(TestServer::start(&db).await);
    let admin = t.admin().await;
    let (_, user) = wx(&t, "o-spender").await;
    let card = issue(&t, &admin, user).await["card_id"].as_i64().unwrap();
    assert_eq!(
        transact(&t, &admin, card, 1, json!("100.00")).await.status,
        201
    );

    // 50 spends of 3.00 race for 100.00: exactly 33 can pass.
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (t, admin) = (t.clone(), admin.clone());
        tasks.push(tokio::spawn(async move {
            transact(&t, &admin, card, 2, json!("3.00")).await
        }));
    }
    let mut accepted = Vec::new();
    let mut refused = 0;
    for task in tasks {
        let r = task.await.unwrap();
        match r.status.as_u16() {
            201 => accepted.push(r.body),
            400 => {
                assert_field(&r, "amount");
                refused += 1;
            }
            other => panic!("{other}: {:?}", r.body),
        }
    }
    assert_eq!((accepted.len(), refused), (33, 17));
    let mut after: Vec<i64> = accepted.iter().map(|b| fen(&b["balance_after"])).collect();
    after.sort_unstable();
    let expected: Vec<i64> = (0..33).map(|i| 100 + 300 * i).collect();
    assert_eq!(after, expected, "each accepted spend saw the one before it");

    // The replayed sum of the card's transactions in the event store ...
    let mut replayed = 0i64;
    let mut balance_after = Vec::new();
    for e in card_events(&t, card).await {
        if let CardEvent::TransactionRecorded {
            kind,
            amount,
            balance_after: b,
            ..
        } = e
        {
            let a = amount.to_minor().unwrap();
            replayed += if kind.is_credit() { a } else { -a };
            assert!(replayed >= 0, "never negative along the history");
            assert_eq!(b.to_minor().unwrap(), replayed);
            balance_after.push(replayed);
        }
    }
    assert_eq!(replayed, 100);
    // ... equals the read model and the route.
    let r = t
        .get(&format!("/api/membership/cards/{card}"), Some(&admin))
        .await;
    assert_eq!(r.body["balance"], "1.00");
    assert_eq!(
        scalar_i64(
            &db.url,
            &format!("SELECT balance_fen FROM shop_membership_cards WHERE card_id = {card}")
        )
        .await,
        replayed
    );
    assert_eq!(
        scalar_i64(&db.url, &format!("SELECT CAST(SUM(change_fen) AS BIGINT) FROM shop_member_transactions WHERE card_id = {card}")).await,
        replayed
    );
    let list = t
        .get(
            &format!("/api/membership/transactions?card_id={card}"),
            Some(&admin),
        )
        .await;
    assert_eq!(list.body.as_array().unwrap().len(), 34);
    let ids: Vec<i64> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["transaction_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, (1..=34).collect::<Vec<i64>>(), "dense transaction ids");
    Arc::try_unwrap(t).ok().unwrap().stop().await;
}

async fn read_all(t: &TestServer, admin: &str) -> (Value, Value) {
    (
        t.get("/api/membership/cards", Some(admin)).await.body,
        t.get("/api/membership/transactions", Some(admin))
            .await
            .body,
    )
}

async fn rebuild(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let (_, a) = wx(&t, "o-rb-a").await;
    let (_, b) = wx(&t, "o-rb-b").await;
    let ca = issue(&t, &admin, a).await["card_id"].as_i64().unwrap();
    let cb = issue(&t, &admin, b).await["card_id"].as_i64().unwrap();
    transact(&t, &admin, ca, 1, json!("10.00")).await;
    transact(&t, &admin, cb, 1, json!("20.00")).await;
    transact(&t, &admin, ca, 2, json!("2.50")).await;
    call(
        &t,
        Method::PUT,
        &format!("/api/membership/cards/{cb}"),
        Some(&admin),
        json!({"balance": "0.00", "status": 0}),
    )
    .await;
    let r = t
        .delete(&format!("/api/membership/cards/{cb}"), Some(&admin), None)
        .await;
    assert_eq!(r.status, 204);
    let live = read_all(&t, &admin).await;
    assert_eq!(live.0.as_array().unwrap().len(), 1);
    assert_eq!(live.1.as_array().unwrap().len(), 2);
    let rows = scalar_i64(&db.url, "SELECT COUNT(*) FROM shop_member_transactions").await;
    assert_eq!(rows, 4);
    t.stop().await;

    let engine = db.engine().await;
    engine
        .runner
        .rebuild("shop_cards", |_, _| {})
        .await
        .unwrap();
    drop(engine);
    let t = TestServer::start(&db).await;
    assert_eq!(
        read_all(&t, &admin).await,
        live,
        "a rebuild gives the same rows and ids"
    );
    assert_eq!(
        scalar_i64(&db.url, "SELECT COUNT(*) FROM shop_member_transactions").await,
        rows
    );
    assert_eq!(
        scalar_i64(
            &db.url,
            "SELECT COUNT(*) FROM shop_membership_cards WHERE closed"
        )
        .await,
        1
    );
    t.stop().await;
}
