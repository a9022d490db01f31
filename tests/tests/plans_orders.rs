//! Team plans (seed 004, part 3a) end to end over real HTTP, on SQLite and PostgreSQL: plan orders
//! (newly/new, renewal, upgrade with its proration to the cent, degrade scheduled, blocking new
//! orders, cancelled and firing at the period's end, patch of an expired plan), prepare storing
//! nothing, certification and field rules, balance payments from the wallet (granted credit
//! first; 30 concurrent spends never negative and the ledger summing to the balance; a concurrent
//! double payment charged once), order expiry after a short configured TTL, the non-balance
//! unknown methods' clean 400, access (non-members 404, members 403) on
//! every new route, and a rebuild of the orders and wallet read models giving the same rows.
//!
//! Period ends are reached by firing the stored deadlines with a scheduler at a later instant
//! (`fire_due(at)`), never by sleeping through a period.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tessera_api::ServerConfig;
use tessera_application::StreamId;
use tessera_domain::plans::ObjectId;
use tessera_domain::plans::payment::PaymentMethod;
use tessera_tests::http::{Reply, TestServer, server_config};
use tessera_tests::plans::{certified_company, fen, grant, line, order, pay, status, wallet};
use tessera_tests::{Suite, TestDb};

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("newly_renewal_upgrade_patch_by_balance", order_types)
        .case("degrade_scheduled_blocks_cancels_fires", degrade)
        .case("prepare_stores_nothing_and_rules", rules)
        .case("thirty_concurrent_spends_and_double_pay", concurrency)
        .case("unpaid_orders_expire", expiry)
        .case("access_on_every_route", access)
        .case("rebuild_gives_same_rows", rebuild)
        .case("catalogue_versions_keep_sold_prices", catalogue_versions)
        .run()
}

/// The document's error shape with `status` and `code` (and `field` when given).
fn assert_error(r: &Reply, status: u16, code: &str, field: Option<&str>) {
    assert_eq!(r.status.as_u16(), status, "{code}: {:?}", r.body);
    assert_eq!(r.body["error"]["code"], code, "{:?}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    match field {
        Some(f) => assert_eq!(r.body["error"]["field"], f, "{:?}", r.body),
        None => assert!(r.body["error"].get("field").is_none(), "{:?}", r.body),
    }
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

async fn types(t: &TestServer, stream: &str) -> Vec<String> {
    t.server
        .engine
        .events
        .read_stream(&StreamId::parse(stream).unwrap(), 0, 1000)
        .await
        .map(|es| es.into_iter().map(|e| e.event_type).collect())
        .unwrap_or_default()
}

/// Fire every deadline due at `at` (a later instant than now), as the server's scheduler would
/// then.
async fn fire_at(t: &TestServer, at: DateTime<Utc>) {
    let handlers = tessera_application::plans::deadline_handlers(&t.server.services.plans);
    let report = t
        .server
        .engine
        .scheduler(handlers)
        .fire_due(at)
        .await
        .unwrap();
    let _ = report;
}

async fn settle(t: &TestServer) {
    // Wait until the read models caught up with everything written so far.
    let head = t.server.engine.events.head_position().await.unwrap_or(0);
    t.server
        .engine
        .runner
        .status()
        .wait_for(head, Duration::from_secs(10))
        .await;
}

async fn order_types(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let (_, owner) = t.customer("types-owner@orders.test").await;
    let id = certified_company(&t, &admin, &owner, "Types").await;
    grant(&t, &admin, &id, "10000.00").await;
    // Paid credit through the recharge seam (once per reference).
    let plans = &t.server.services.plans;
    let company = ObjectId::parse(&id).unwrap();
    let recharge = ObjectId::parse("65000000cdcdcdcdcdcdcdcd").unwrap();
    for _ in 0..2 {
        plans
            .credit_wallet(&company, &recharge, 50_000, 0, &Default::default())
            .await
            .unwrap();
    }

    // newly (spelled `new`, as the seed also writes): pro, 10 members, 3 months = 900.00.
    let r = order(
        &t,
        &owner,
        &id,
        json!({"order_type": "new", "plan": "pro", "times": 3, "products": line("pro", 10)}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["order_type"], "newly");
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["amount"], "900.00");
    assert_eq!(r.body["products"][0]["price"], "30.00");
    assert_eq!(r.body["catalogue_version"], "2026-01");
    let newly = r.body["_id"].as_str().unwrap().to_owned();
    let r = t
        .get(&format!("/company/{id}/plan/order/pending"), Some(&owner))
        .await;
    assert_eq!(r.body["_id"], newly.as_str());
    let r = t
        .post(
            &format!("/company/{id}/plan/order/pending/pay"),
            Some(&owner),
            json!({"payment_method": "balance"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["order"]["status"], "paid");
    assert_eq!(r.body["order"]["payment_method"], "balance");
    assert!(r.body["paymentId"].is_null());
    // Paying again: 409, nothing charged.
    assert_error(
        &pay(&t, &owner, &id, &newly, "balance").await,
        409,
        "already_paid",
        None,
    );
    settle(&t).await;
    let w = wallet(&t, &owner, &id).await;
    assert_eq!(w["balance"], "9600.00");
    assert_eq!(
        w["granted_credit"], "9100.00",
        "granted credit is spent first"
    );
    assert_eq!(w["paid_credit"], "500.00");
    let s = status(&t, &owner, &id).await;
    assert_eq!(s["current"]["type"], "paid");
    assert_eq!(s["current"]["plan"], "pro");
    assert_eq!(s["current"]["member_count"], 10);
    let start = time(&s["current"]["date_start"]);
    let end3 = time(&s["current"]["date_end"]);
    assert_eq!(
        Some(end3),
        tessera_domain::plans::period::period_end(start, 3),
        "three calendar months in Asia/Shanghai"
    );
    // newly again while a period runs: 409.
    assert_error(
        &order(
            &t,
            &owner,
            &id,
            json!({"order_type": "newly", "plan": "pro", "times": 1, "products": line("pro", 10)}),
        )
        .await,
        409,
        "conflict",
        None,
    );

    // renewal: 2 more months of the same plan and members, counted from the start.
    let r = order(
        &t,
        &owner,
        &id,
        json!({"order_type": "renewal", "times": 2}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["amount"], "600.00");
    let renewal = r.body["_id"].as_str().unwrap().to_owned();
    assert_eq!(pay(&t, &owner, &id, &renewal, "balance").await.status, 200);
    let s = status(&t, &owner, &id).await;
    assert_eq!(
        Some(time(&s["current"]["date_end"])),
        tessera_domain::plans::period::period_end(start, 5)
    );
    assert_eq!(s["current"]["status"], "actived");

    // upgrade: ent with 12 members for the rest of the 5-month period, pro rata to the cent.
    let r = order(
        &t,
        &owner,
        &id,
        json!({"order_type": "upgrade", "plan": "ent", "products": line("ent", 12)}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let p = &r.body["proration"];
    assert_eq!(p["from_plan"], "pro");
    assert_eq!(p["from_member_count"], 10);
    assert_eq!(p["period_months"], 5);
    let end5 = time(&s["current"]["date_end"]);
    let placed = time(&r.body["date_create"]);
    assert_eq!(p["period_secs"], (end5 - start).num_seconds());
    assert_eq!(p["remaining_secs"], (end5 - placed).num_seconds());
    // (60.00 × 12 − 30.00 × 10) × 5 × remaining / period, half up to the fen.
    let diff = i128::from(6_000 * 12 - 3_000 * 10);
    let (rem, per) = (
        i128::from(p["remaining_secs"].as_i64().unwrap()),
        i128::from(p["period_secs"].as_i64().unwrap()),
    );
    let expected = (2 * diff * 5 * rem + per) / (2 * per);
    assert_eq!(i128::from(fen(&r.body["amount"])), expected, "{:?}", r.body);
    let upgrade = r.body["_id"].as_str().unwrap().to_owned();
    assert_eq!(pay(&t, &owner, &id, &upgrade, "balance").await.status, 200);
    let s = status(&t, &owner, &id).await;
    assert_eq!(s["current"]["plan"], "ent");
    assert_eq!(s["current"]["member_count"], 12);
    assert_eq!(time(&s["current"]["date_end"]), end5, "the end stays");
    settle(&t).await;
    let w = wallet(&t, &owner, &id).await;
    assert_eq!(
        i128::from(fen(&w["balance"])),
        1_050_000 - 90_000 - 60_000 - expected
    );

    // The period's end (local midnight): its deadline makes it `overdue` for the grace period;
    // a second before, nothing happens. Overdue, it can be renewed but not upgraded.
    let stream = format!("plansTeamPlan-{id}");
    fire_at(&t, end5 - chrono::Duration::seconds(1)).await;
    assert!(
        !types(&t, &stream)
            .await
            .contains(&"PlansPaidPeriodOverdue".to_owned())
    );
    fire_at(&t, end5).await;
    assert!(
        types(&t, &stream)
            .await
            .contains(&"PlansPaidPeriodOverdue".to_owned())
    );
    settle(&t).await;
    let s = status(&t, &owner, &id).await;
    assert_eq!(s["current"]["status"], "overdue", "{s}");
    assert_eq!(s["current"]["plan"], "ent");
    assert_eq!(time(&s["current"]["date_end"]), end5);
    let prepare = |body: Value| {
        let path = format!("/company/{id}/plan/order/prepare");
        let (t, owner) = (&t, owner.clone());
        async move { t.post(&path, Some(&owner), body).await.body }
    };
    let r = prepare(json!({"order_type": "renewal", "times": 1})).await;
    assert_eq!(r["isValid"], true, "{r}");
    let r =
        prepare(json!({"order_type": "upgrade", "plan": "ent", "products": line("ent", 20)})).await;
    assert_eq!(r["isValid"], false, "{r}");

    // patch: once the period expired (its deadlines fired after the grace period), buy it again.
    let grace_end = end5 + chrono::Duration::days(7);
    fire_at(&t, grace_end + chrono::Duration::seconds(1)).await;
    assert!(
        types(&t, &stream)
            .await
            .contains(&"PlansPaidPeriodExpired".to_owned())
    );
    assert_error(
        &order(
            &t,
            &owner,
            &id,
            json!({"order_type": "renewal", "times": 1}),
        )
        .await,
        409,
        "conflict",
        None,
    );
    let r = order(&t, &owner, &id, json!({"order_type": "patch", "times": 1})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["plan"], "ent");
    assert_eq!(r.body["member_count"], 12);
    assert_eq!(r.body["amount"], "720.00");
    let patch = r.body["_id"].as_str().unwrap().to_owned();
    // Paid by an external payment delivered twice (the payments' seam): paid once; a second
    // payment for the paid order goes to the wallet as paid credit.
    let before = fen(&wallet(&t, &owner, &id).await["paid_credit"]);
    let (patch_id, payment, other) = (
        ObjectId::parse(&patch).unwrap(),
        ObjectId::parse("65000000efefefefefefefef").unwrap(),
        ObjectId::parse("65000000fafafafafafafafa").unwrap(),
    );
    for p in [&payment, &payment, &other, &other] {
        plans
            .settle_order_payment(
                &company,
                &patch_id,
                p,
                72_000,
                PaymentMethod::Wxpay,
                &Default::default(),
            )
            .await
            .unwrap();
    }
    let r = t
        .get(&format!("/company/{id}/plan/order/{patch}"), Some(&owner))
        .await;
    assert_eq!(r.body["status"], "paid");
    assert_eq!(r.body["payment_method"], "wxpay");
    assert_eq!(r.body["paymentId"], payment.as_str());
    settle(&t).await;
    assert_eq!(
        fen(&wallet(&t, &owner, &id).await["paid_credit"]),
        before + 72_000,
        "the second payment was credited once"
    );
    let s = status(&t, &owner, &id).await;
    assert_eq!(s["current"]["status"], "actived");
    assert_eq!(s["current"]["plan"], "ent");

    // The order list: newest first, paged.
    settle(&t).await;
    let r = t
        .get(
            &format!("/company/{id}/plan/order?page=1&pagesize=2"),
            Some(&owner),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["totalrows"], 4);
    assert_eq!(r.body["list"].as_array().unwrap().len(), 2);
    let charges = t
        .get(
            &format!("/company/{id}/plan/charge?pagesize=100"),
            Some(&owner),
        )
        .await;
    let kinds: Vec<&str> = charges.body["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["refund", "order", "order", "order", "recharge", "grant"]
    );
    assert_eq!(r.body["list"][0]["_id"], patch.as_str());
    assert_eq!(r.body["list"][1]["_id"], upgrade.as_str());
    let r = t
        .get(&format!("/company/{id}/plan/order/{newly}"), Some(&owner))
        .await;
    assert_eq!(r.body["status"], "paid");
    t.stop().await;
}

async fn degrade(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let (_, owner) = t.customer("degrade-owner@orders.test").await;
    t.customer("degrade-member@orders.test").await;
    let id = certified_company(&t, &admin, &owner, "Degrade").await;
    t.post(
        &format!("/company/{id}/members"),
        Some(&owner),
        json!({"email": "degrade-member@orders.test", "role": "member"}),
    )
    .await;
    grant(&t, &admin, &id, "5000.00").await;
    let r = order(
        &t,
        &owner,
        &id,
        json!({"order_type": "newly", "plan": "ent", "times": 1, "products": line("ent", 20)}),
    )
    .await;
    let first = r.body["_id"].as_str().unwrap().to_owned();
    assert_eq!(pay(&t, &owner, &id, &first, "balance").await.status, 200);
    let end = time(&status(&t, &owner, &id).await["current"]["date_end"]);

    // Below the company's 2 members: refused, naming the quantity.
    assert_error(
        &order(
            &t,
            &owner,
            &id,
            json!({"order_type": "degrade", "plan": "pro", "products": line("pro", 1)}),
        )
        .await,
        400,
        "invalid_field",
        Some("products[0].quantity"),
    );
    let r = order(
        &t,
        &owner,
        &id,
        json!({"order_type": "degrade", "plan": "pro", "products": line("pro", 5)}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["status"], "scheduled");
    assert_eq!(r.body["amount"], "0.00");
    assert_eq!(time(&r.body["effective_at"]), end);
    let scheduled = r.body["_id"].as_str().unwrap().to_owned();
    settle(&t).await;
    let s = status(&t, &owner, &id).await;
    assert_eq!(s["degrade"]["order"]["_id"], scheduled.as_str());
    assert_eq!(s["degrade"]["order"]["plan"], "pro");
    assert_eq!(s["degrade"]["order"]["member_count"], "5");
    assert_eq!(s["degrade"]["status"], "actived");
    assert_eq!(time(&s["degrade"]["time"]), end);
    // Every new order is refused while it is scheduled; prepare says so too.
    for body in [
        json!({"order_type": "renewal", "times": 1}),
        json!({"order_type": "upgrade", "plan": "ent", "products": line("ent", 30)}),
        json!({"order_type": "degrade", "plan": "pro", "products": line("pro", 3)}),
    ] {
        let r = order(&t, &owner, &id, body.clone()).await;
        assert_error(&r, 409, "degrade_scheduled", None);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("cancel")
        );
        let r = t
            .post(
                &format!("/company/{id}/plan/order/prepare"),
                Some(&owner),
                body,
            )
            .await;
        assert_eq!(r.body["isValid"], false);
        assert_eq!(r.body["code"], "degrade_scheduled");
    }
    // Cancel; a second cancel is 404; orders are possible again.
    let path = format!("/company/{id}/plan/degrade");
    assert_eq!(t.delete(&path, Some(&owner), None).await.status, 204);
    assert_error(
        &t.delete(&path, Some(&owner), None).await,
        404,
        "not_found",
        None,
    );
    settle(&t).await;
    assert!(status(&t, &owner, &id).await["degrade"].is_null());
    let r = t
        .get(
            &format!("/company/{id}/plan/order/{scheduled}"),
            Some(&owner),
        )
        .await;
    assert_eq!(r.body["status"], "cancelled");

    // Schedule again; it fires at the period's end: pro with 5 members from then on.
    let r = order(
        &t,
        &owner,
        &id,
        json!({"order_type": "degrade", "plan": "pro", "products": line("pro", 5)}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let again = r.body["_id"].as_str().unwrap().to_owned();
    fire_at(&t, end - chrono::Duration::seconds(1)).await;
    assert!(
        !types(&t, &format!("plansTeamPlan-{id}"))
            .await
            .contains(&"PlansDegradeApplied".to_owned()),
        "not before the period's end"
    );
    fire_at(&t, end).await;
    assert!(
        types(&t, &format!("plansTeamPlan-{id}"))
            .await
            .contains(&"PlansDegradeApplied".to_owned())
    );
    settle(&t).await;
    let s = status(&t, &owner, &id).await;
    assert_eq!(s["current"]["plan"], "pro");
    assert_eq!(s["current"]["member_count"], 5);
    assert!(s["degrade"].is_null());
    let r = t
        .get(&format!("/company/{id}/plan/order/{again}"), Some(&owner))
        .await;
    assert_eq!(r.body["status"], "completed");
    t.stop().await;
}

async fn rules(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let (_, owner) = t.customer("rules-owner@orders.test").await;
    // Not certified: paid plans are refused (prepare says the same and stores nothing).
    let r = t
        .post("/company", Some(&owner), json!({"name": "Plain"}))
        .await;
    let plain = r.body["_id"].as_str().unwrap().to_owned();
    let body =
        json!({"order_type": "newly", "plan": "pro", "times": 1, "products": line("pro", 3)});
    assert_error(
        &order(&t, &owner, &plain, body.clone()).await,
        409,
        "not_certified",
        None,
    );
    let r = t
        .post(
            &format!("/company/{plain}/plan/order/prepare"),
            Some(&owner),
            body,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["isValid"], false);
    assert_eq!(r.body["code"], "not_certified");

    let id = certified_company(&t, &admin, &owner, "Rules").await;
    let prepare = |body: Value| {
        let path = format!("/company/{id}/plan/order/prepare");
        let t = &t;
        let owner = owner.clone();
        async move { t.post(&path, Some(&owner), body).await }
    };
    let r = prepare(
        json!({"order_type": "newly", "plan": "ent", "times": 2, "products": line("ent", 4)}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["isValid"], true);
    assert!(r.body["error"].is_null());
    assert_eq!(r.body["limits"]["member_count"], 500);
    assert_eq!(r.body["limits"]["member_min"], 1);
    assert_eq!(r.body["order"]["amount"], "480.00");
    assert!(r.body["order"]["_id"].is_null());
    settle(&t).await;
    assert!(
        types(&t, &format!("plansTeamPlan-{id}")).await.is_empty(),
        "prepare stores nothing"
    );
    let r = t
        .get(&format!("/company/{id}/plan/order"), Some(&owner))
        .await;
    assert_eq!(r.body["totalrows"], 0);
    assert_error(
        &t.get(&format!("/company/{id}/plan/order/pending"), Some(&owner))
            .await,
        404,
        "not_found",
        None,
    );

    for (body, field) in [
        (json!({}), "order_type"),
        (json!({"order_type": "buy"}), "order_type"),
        (
            json!({"order_type": "newly", "plan": "free", "times": 1, "products": line("pro", 1)}),
            "plan",
        ),
        (
            json!({"order_type": "newly", "plan": "pro", "products": line("pro", 1)}),
            "times",
        ),
        (
            json!({"order_type": "newly", "plan": "pro", "times": 0, "products": line("pro", 1)}),
            "times",
        ),
        (
            json!({"order_type": "newly", "plan": "pro", "times": 37, "products": line("pro", 1)}),
            "times",
        ),
        (
            json!({"order_type": "newly", "plan": "pro", "times": 1}),
            "products",
        ),
        (
            json!({"order_type": "newly", "plan": "pro", "times": 1, "products": line("ent", 1)}),
            "products[0].product_no",
        ),
        (
            json!({"order_type": "newly", "plan": "pro", "times": 1, "products": line("pro", 0)}),
            "products[0].quantity",
        ),
        (
            json!({"order_type": "newly", "plan": "pro", "times": 1, "products": line("pro", 51)}),
            "products[0].quantity",
        ),
        (
            json!({"order_type": "newly", "plan": "pro", "times": 1, "products": line("pro", 2), "coupon": "65000000abababababababab"}),
            "coupon",
        ),
    ] {
        assert_error(
            &order(&t, &owner, &id, body.clone()).await,
            400,
            "invalid_field",
            Some(field),
        );
        let r = prepare(body).await;
        assert_eq!(r.body["isValid"], false, "{:?}", r.body);
        assert_eq!(r.body["field"], field);
    }
    // Nothing to renew, upgrade, degrade or patch yet.
    for body in [
        json!({"order_type": "renewal", "times": 1}),
        json!({"order_type": "upgrade", "plan": "ent", "products": line("ent", 9)}),
        json!({"order_type": "degrade", "plan": "pro", "products": line("pro", 1)}),
        json!({"order_type": "patch"}),
    ] {
        assert_error(&order(&t, &owner, &id, body).await, 409, "conflict", None);
    }
    // A newer order supersedes the pending one.
    let a = order(
        &t,
        &owner,
        &id,
        json!({"order_type": "newly", "plan": "pro", "times": 1, "products": line("pro", 2)}),
    )
    .await;
    let a = a.body["_id"].as_str().unwrap().to_owned();
    let b = order(
        &t,
        &owner,
        &id,
        json!({"order_type": "newly", "plan": "pro", "times": 1, "products": line("pro", 3)}),
    )
    .await;
    let b = b.body["_id"].as_str().unwrap().to_owned();
    let r = t
        .get(&format!("/company/{id}/plan/order/{a}"), Some(&owner))
        .await;
    assert_eq!(r.body["status"], "cancelled");
    let r = t
        .get(&format!("/company/{id}/plan/order/pending"), Some(&owner))
        .await;
    assert_eq!(r.body["_id"], b.as_str());
    assert_error(
        &pay(&t, &owner, &id, &a, "balance").await,
        409,
        "not_payable",
        None,
    );
    // An empty wallet: 409 and nothing changes.
    assert_error(
        &pay(&t, &owner, &id, &b, "balance").await,
        409,
        "insufficient_balance",
        None,
    );
    // The seed's `POST /order/pending/pay?`: the method in the query string, no body.
    for path in [
        format!("/company/{id}/plan/order/pending/pay?payment_method=balance"),
        format!("/company/{id}/plan/order/{b}/pay?payment_method=balance"),
    ] {
        let r = t.send(Method::POST, &path, Some(&owner), None).await;
        assert_error(&r, 409, "insufficient_balance", None);
    }
    let r = t
        .send(
            Method::POST,
            &format!("/company/{id}/plan/order/pending/pay"),
            Some(&owner),
            None,
        )
        .await;
    assert_error(&r, 400, "invalid_field", Some("payment_method"));
    // An unknown method (the seed's comment says `wechat`) is a clean 400 (external methods are
    // exercised in tests/tests/plans_checkout.rs).
    for method in ["wechat", "cash"] {
        assert_error(
            &pay(&t, &owner, &id, &b, method).await,
            400,
            "invalid_field",
            Some("payment_method"),
        );
    }
    assert_error(
        &t.post(
            &format!("/company/{id}/plan/order/{b}/pay"),
            Some(&owner),
            json!({}),
        )
        .await,
        400,
        "invalid_field",
        Some("payment_method"),
    );
    let r = t
        .get(&format!("/company/{id}/plan/order/{b}"), Some(&owner))
        .await;
    assert_eq!(r.body["status"], "pending");
    assert_error(
        &t.get(
            &format!("/company/{id}/plan/order/65000000abababababababab"),
            Some(&owner),
        )
        .await,
        404,
        "not_found",
        None,
    );
    // Grants: admins only, positive amounts, a reason.
    let path = format!("/admin/plans/companies/{id}/wallet/grant");
    assert_error(
        &t.post(&path, Some(&owner), json!({"amount": "1", "reason": "x"}))
            .await,
        403,
        "forbidden",
        None,
    );
    assert_error(
        &t.post(&path, Some(&admin), json!({"amount": "-1", "reason": "x"}))
            .await,
        400,
        "invalid_field",
        Some("amount"),
    );
    assert_error(
        &t.post(
            &path,
            Some(&admin),
            json!({"amount": "1.001", "reason": "x"}),
        )
        .await,
        400,
        "invalid_field",
        Some("amount"),
    );
    assert_error(
        &t.post(&path, Some(&admin), json!({"amount": 5})).await,
        400,
        "invalid_field",
        Some("reason"),
    );
    assert_error(
        &t.post(
            "/admin/plans/companies/65000000abababababababab/wallet/grant",
            Some(&admin),
            json!({"amount": 5, "reason": "x"}),
        )
        .await,
        404,
        "not_found",
        None,
    );
    t.stop().await;
}

async fn concurrency(db: Arc<TestDb>) {
    let t = Arc::new(TestServer::start(&db).await);
    let admin = t.admin().await;
    let (_, owner) = t.customer("spend-owner@orders.test").await;
    let id = certified_company(&t, &admin, &owner, "Spend").await;
    // 7 renewals' worth after the first month (pro, 2 members: 60.00 a month).
    grant(&t, &admin, &id, "480.00").await;
    let r = order(
        &t,
        &owner,
        &id,
        json!({"order_type": "newly", "plan": "pro", "times": 1, "products": line("pro", 2)}),
    )
    .await;
    let first = r.body["_id"].as_str().unwrap().to_owned();

    // A concurrent double (×8) payment of one order: charged once.
    let pays: Vec<_> = (0..8)
        .map(|_| {
            let (t, owner, id, first) = (t.clone(), owner.clone(), id.clone(), first.clone());
            tokio::spawn(async move { pay(&t, &owner, &id, &first, "balance").await })
        })
        .collect();
    let mut ok = 0;
    for p in pays {
        let r = p.await.unwrap();
        match r.status.as_u16() {
            200 => ok += 1,
            _ => assert_error(&r, 409, "already_paid", None),
        }
    }
    assert_eq!(ok, 1);
    settle(&t).await;
    assert_eq!(wallet(&t, &owner, &id).await["balance"], "420.00");

    // 30 concurrent renew-and-pay attempts: never more spent than the wallet holds.
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let (t, owner, id) = (t.clone(), owner.clone(), id.clone());
            tokio::spawn(async move {
                let r = order(
                    &t,
                    &owner,
                    &id,
                    json!({"order_type": "renewal", "times": 1}),
                )
                .await;
                assert_eq!(r.status, 201, "{:?}", r.body);
                let o = r.body["_id"].as_str().unwrap().to_owned();
                let r = pay(&t, &owner, &id, &o, "balance").await;
                match r.status.as_u16() {
                    200 => true,
                    409 => {
                        let code = r.body["error"]["code"].as_str().unwrap().to_owned();
                        assert!(
                            ["not_payable", "insufficient_balance"].contains(&code.as_str()),
                            "{:?}",
                            r.body
                        );
                        false
                    }
                    _ => panic!("{:?}", r.body),
                }
            })
        })
        .collect();
    let mut paid = 0i64;
    for task in tasks {
        if task.await.unwrap() {
            paid += 1;
        }
    }
    assert!(paid <= 7, "{paid} renewals paid from 420.00");
    settle(&t).await;
    let w = wallet(&t, &owner, &id).await;
    let balance = fen(&w["balance"]);
    assert!(balance >= 0);
    assert_eq!(balance, 42_000 - paid * 6_000);
    // The ledger sums to the balance.
    let r = t
        .get(
            &format!("/company/{id}/plan/charge?pagesize=100"),
            Some(&owner),
        )
        .await;
    let entries = r.body["list"].as_array().unwrap();
    assert_eq!(r.body["totalrows"].as_i64().unwrap(), 2 + paid);
    assert_eq!(
        entries.iter().map(|e| fen(&e["amount"])).sum::<i64>(),
        balance
    );
    assert_eq!(fen(&entries[0]["balance"]), balance);
    // The period grew by exactly the renewals paid.
    let s = status(&t, &owner, &id).await;
    let start = time(&s["current"]["date_start"]);
    assert_eq!(
        Some(time(&s["current"]["date_end"])),
        tessera_domain::plans::period::period_end(start, 1 + paid as u32)
    );
    Arc::try_unwrap(t).ok().unwrap().stop().await;
}

async fn expiry(db: Arc<TestDb>) {
    let mut config: ServerConfig = server_config();
    config.plans.plans_order_ttl_secs = 1;
    let t = TestServer::start_with(&db, config).await;
    let admin = t.admin().await;
    let (_, owner) = t.customer("expiry-owner@orders.test").await;
    let id = certified_company(&t, &admin, &owner, "Expiry").await;
    grant(&t, &admin, &id, "100.00").await;
    let r = order(
        &t,
        &owner,
        &id,
        json!({"order_type": "newly", "plan": "pro", "times": 1, "products": line("pro", 1)}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let o = r.body["_id"].as_str().unwrap().to_owned();
    let stream = format!("plansOrder-{o}");
    // Its deadline fires (the server's scheduler, 1 s TTL).
    t.eventually(Duration::from_secs(20), || async {
        types(&t, &stream)
            .await
            .contains(&"PlansOrderExpired".to_owned())
            .then_some(())
    })
    .await
    .expect("the unpaid order expired");
    assert_error(
        &t.get(&format!("/company/{id}/plan/order/pending"), Some(&owner))
            .await,
        404,
        "not_found",
        None,
    );
    assert_error(
        &pay(&t, &owner, &id, &o, "balance").await,
        409,
        "not_payable",
        None,
    );
    settle(&t).await;
    assert_eq!(wallet(&t, &owner, &id).await["balance"], "100.00");
    let r = t
        .get(&format!("/company/{id}/plan/order/{o}"), Some(&owner))
        .await;
    assert_eq!(r.body["status"], "expired");
    t.stop().await;
}

async fn access(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let (_, owner) = t.customer("access-owner@orders.test").await;
    let (_, member) = t.customer("access-member@orders.test").await;
    let (_, stranger) = t.customer("access-stranger@orders.test").await;
    let id = certified_company(&t, &admin, &owner, "Access").await;
    t.post(
        &format!("/company/{id}/members"),
        Some(&owner),
        json!({"email": "access-member@orders.test", "role": "member"}),
    )
    .await;
    let r = order(
        &t,
        &owner,
        &id,
        json!({"order_type": "newly", "plan": "pro", "times": 1, "products": line("pro", 2)}),
    )
    .await;
    let o = r.body["_id"].as_str().unwrap().to_owned();
    let body =
        json!({"order_type": "newly", "plan": "pro", "times": 1, "products": line("pro", 2)});
    let pay_body = json!({"payment_method": "balance"});
    let reads = [
        format!("/company/{id}/plan/order"),
        format!("/company/{id}/plan/order/pending"),
        format!("/company/{id}/plan/order/{o}"),
        format!("/company/{id}/plan/wallet"),
        format!("/company/{id}/plan/charge"),
    ];
    let writes = [
        (
            Method::POST,
            format!("/company/{id}/plan/order/prepare"),
            Some(body.clone()),
        ),
        (
            Method::POST,
            format!("/company/{id}/plan/order"),
            Some(body.clone()),
        ),
        (
            Method::POST,
            format!("/company/{id}/plan/order/{o}/pay"),
            Some(pay_body.clone()),
        ),
        (
            Method::POST,
            format!("/company/{id}/plan/order/pending/pay"),
            Some(pay_body.clone()),
        ),
        (Method::DELETE, format!("/company/{id}/plan/degrade"), None),
    ];
    for path in &reads {
        assert_error(&t.get(path, Some(&stranger)).await, 404, "not_found", None);
        assert_error(&t.get(path, None).await, 401, "unauthorized", None);
        assert_eq!(t.get(path, Some(&member)).await.status, 200, "{path}");
    }
    for (m, path, b) in &writes {
        assert_error(
            &t.send(m.clone(), path, Some(&stranger), b.clone()).await,
            404,
            "not_found",
            None,
        );
        assert_error(
            &t.send(m.clone(), path, Some(&member), b.clone()).await,
            403,
            "forbidden",
            None,
        );
        assert_error(
            &t.send(m.clone(), path, None, b.clone()).await,
            401,
            "unauthorized",
            None,
        );
    }
    let r = t
        .post(
            &format!("/admin/plans/companies/{id}/wallet/grant"),
            Some(&member),
            json!({"amount": 1, "reason": "x"}),
        )
        .await;
    assert_error(&r, 403, "forbidden", None);
    // The order is untouched by all of it.
    let r = t
        .get(&format!("/company/{id}/plan/order/{o}"), Some(&owner))
        .await;
    assert_eq!(r.body["status"], "pending");
    // The OpenAPI document lists every new operation.
    let doc = t.get("/plans/openapi.json", None).await.body;
    for p in [
        "/company/{companyId}/plan/order",
        "/company/{companyId}/plan/order/prepare",
        "/company/{companyId}/plan/order/pending",
        "/company/{companyId}/plan/order/{orderId}",
        "/company/{companyId}/plan/order/{orderId}/pay",
        "/company/{companyId}/plan/order/pending/pay",
        "/company/{companyId}/plan/degrade",
        "/company/{companyId}/plan/wallet",
        "/company/{companyId}/plan/charge",
        "/admin/plans/companies/{companyId}/wallet/grant",
    ] {
        assert!(doc["paths"][p].is_object(), "{p}");
    }
    t.stop().await;
}

async fn read_all(t: &TestServer, token: &str, id: &str) -> Vec<Value> {
    vec![
        t.get(
            &format!("/company/{id}/plan/order?pagesize=100"),
            Some(token),
        )
        .await
        .body,
        t.get(&format!("/company/{id}/plan/wallet"), Some(token))
            .await
            .body,
        t.get(
            &format!("/company/{id}/plan/charge?pagesize=100"),
            Some(token),
        )
        .await
        .body,
        t.get(&format!("/company/{id}/plan/status"), Some(token))
            .await
            .body,
    ]
}

async fn rebuild(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let (_, owner) = t.customer("rebuild-owner@orders.test").await;
    let id = certified_company(&t, &admin, &owner, "Rebuild").await;
    grant(&t, &admin, &id, "3000.00").await;
    let r = order(
        &t,
        &owner,
        &id,
        json!({"order_type": "newly", "plan": "pro", "times": 2, "products": line("pro", 4)}),
    )
    .await;
    let o = r.body["_id"].as_str().unwrap().to_owned();
    pay(&t, &owner, &id, &o, "balance").await;
    let r = order(
        &t,
        &owner,
        &id,
        json!({"order_type": "upgrade", "plan": "pro", "products": line("pro", 6)}),
    )
    .await;
    let up = r.body["_id"].as_str().unwrap().to_owned();
    pay(&t, &owner, &id, &up, "balance").await;
    order(
        &t,
        &owner,
        &id,
        json!({"order_type": "renewal", "times": 1}),
    )
    .await;
    order(
        &t,
        &owner,
        &id,
        json!({"order_type": "degrade", "plan": "pro", "products": line("pro", 3)}),
    )
    .await;
    settle(&t).await;
    let live = read_all(&t, &owner, &id).await;
    assert_eq!(live[0]["totalrows"], 4);
    assert!(live[3]["degrade"].is_object());
    t.stop().await;

    let engine = db.engine().await;
    for name in ["plans_orders", "plans_wallet", "plans_status"] {
        engine.runner.rebuild(name, |_, _| {}).await.unwrap();
    }
    drop(engine);
    let t = TestServer::start(&db).await;
    assert_eq!(
        read_all(&t, &owner, &id).await,
        live,
        "a rebuild gives the same rows"
    );
    t.stop().await;
}

/// The catalogue is configuration read at start (`TESSERA_PLANS_CATALOGUE`) and versioned: after a
/// restart on a new catalogue, an order placed before keeps the prices and version it was placed
/// with and is paid at that price, while new orders use the new one; a broken file stops the
/// start, naming the JSON path at fault.
async fn catalogue_versions(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let (_, owner) = t.customer("catalogue-owner@orders.test").await;
    let id = certified_company(&t, &admin, &owner, "Catalogue").await;
    grant(&t, &admin, &id, "1000.00").await;
    let r = order(
        &t,
        &owner,
        &id,
        json!({"order_type": "newly", "plan": "pro", "times": 2, "products": line("pro", 3)}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["amount"], "180.00");
    let sold = r.body.clone();
    let old = sold["_id"].as_str().unwrap().to_owned();
    t.stop().await;

    // A new catalogue: pro at 45.00 a member a month, version 2026-07.
    let dir = tempfile::tempdir().unwrap();
    let mut catalogue: Value = serde_json::from_str(include_str!(
        "../../domain/src/plans/default_catalogue.json"
    ))
    .unwrap();
    catalogue["version"] = json!("2026-07");
    catalogue["plans"][1]["products"][0]["price"] = json!("45.00");
    let path = dir.path().join("catalogue.json");
    std::fs::write(&path, serde_json::to_vec(&catalogue).unwrap()).unwrap();
    let mut config = server_config();
    config.plans.plans_catalogue = Some(path);
    let t = TestServer::start_with(&db, config).await;
    let r = t
        .get(&format!("/company/{id}/plan/list"), Some(&owner))
        .await;
    assert_eq!(r.body[1]["products"][0]["price"], "45.00", "{:?}", r.body);
    // The order placed before is unchanged, and paid at the price it was sold at.
    let r = t
        .get(&format!("/company/{id}/plan/order/{old}"), Some(&owner))
        .await;
    assert_eq!(r.body, sold, "an order keeps what it was sold at");
    assert_eq!(r.body["catalogue_version"], "2026-01");
    assert_eq!(r.body["products"][0]["price"], "30.00");
    let r = pay(&t, &owner, &id, &old, "balance").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["order"]["amount"], "180.00");
    settle(&t).await;
    assert_eq!(wallet(&t, &owner, &id).await["balance"], "820.00");
    // A new order is priced from the new catalogue.
    let r = order(
        &t,
        &owner,
        &id,
        json!({"order_type": "renewal", "times": 1}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["amount"], "135.00");
    assert_eq!(r.body["catalogue_version"], "2026-07");
    assert_eq!(r.body["products"][0]["price"], "45.00");
    t.stop().await;

    // A price with three decimals: the server does not start.
    catalogue["plans"][1]["products"][0]["price"] = json!("45.001");
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, serde_json::to_vec(&catalogue).unwrap()).unwrap();
    let mut config = server_config();
    config.plans.plans_catalogue = Some(broken);
    match tessera_api::RunningServer::start(&db.config(), config).await {
        Ok(server) => {
            server.stop(Duration::from_secs(10)).await;
            panic!("a broken catalogue was accepted");
        }
        Err(e) => assert!(e.to_string().contains("plans[1].products[0].price"), "{e}"),
    }
}
