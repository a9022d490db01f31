//! Team plans (seed 004, part 1) end to end over real HTTP, on SQLite and PostgreSQL: companies and
//! members (owner, member, non-member: 404 for non-members on every route, 403 for members on every
//! write), the member limit under concurrent adds, the plan list's shape, the status before and
//! after trials, the trial rules (not twice, trial over trial, trial over a paid period started
//! through the domain's seam), a trial's end firing after a short configured length and across a
//! restart of the server, a rebuild of the plans projections giving the same rows, and the edges in
//! the document's error shape `{"error": {"code", "message", "field"?}}`. Part 2: certification
//! applications (every rule, the staff review, access on every route, masking in the read model,
//! concurrent applications, a rebuild of the certification read model), and certification pictures
//! (upload and serving with access on both, images only, size and dimension limits, nothing
//! stored on a refusal, concurrent uploads, applications naming only the company's pictures).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tessera_api::ServerConfig;
use tessera_application::StreamId;
use tessera_domain::plans::{ObjectId, PlanType};
use tessera_tests::http::{Reply, TestServer, server_config};
use tessera_tests::{Suite, TestDb};

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("companies_members_and_access", companies)
        .case("member_limit_under_concurrency", member_limit)
        .case("plan_list_and_status_and_trials", trials)
        .case("trial_over_paid_resumes_paid", trial_over_paid)
        .case("trial_end_fires_after_restart", trial_end_after_restart)
        .case("rebuild_gives_same_rows", rebuild)
        .case("edges_in_plans_format", edges)
        .case("certification_rules", certification_rules)
        .case(
            "certification_concurrent_applications",
            certification_concurrency,
        )
        .case("certification_access_masking_rebuild", certification_access)
        .case("certification_pictures", certification_pictures)
        .run()
}

fn short_trials(secs: u64) -> ServerConfig {
    let mut c = server_config();
    c.plans.plans_trial_secs = secs;
    c
}

async fn call(t: &TestServer, m: Method, path: &str, token: Option<&str>, body: Value) -> Reply {
    t.send(m, path, token, Some(body)).await
}

fn is_oid(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| ObjectId::parse(s).is_ok() && s.len() == 24)
}

/// The document's error shape with `status` and `code` (and `field` when given).
fn assert_error(r: &Reply, status: u16, code: &str, field: Option<&str>) {
    assert_eq!(r.status.as_u16(), status, "{code}: {:?}", r.body);
    let e = &r.body["error"];
    assert_eq!(e["code"], code, "{:?}", r.body);
    assert!(
        !e["message"].as_str().unwrap_or("").is_empty(),
        "{:?}",
        r.body
    );
    assert_eq!(
        r.body.as_object().unwrap().len(),
        1,
        "only `error`: {:?}",
        r.body
    );
    match field {
        Some(f) => assert_eq!(e["field"], f, "{:?}", r.body),
        None => assert!(e.get("field").is_none(), "{:?}", r.body),
    }
}

/// Create a company as `token`; returns (company id, owner's user_id).
async fn company(t: &TestServer, token: &str, name: &str) -> (String, String) {
    let r = t.post("/company", Some(token), json!({"name": name})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    (
        r.body["_id"].as_str().unwrap().to_owned(),
        r.body["owner_id"].as_str().unwrap().to_owned(),
    )
}

async fn add(t: &TestServer, token: &str, company: &str, email: &str, role: &str) -> Reply {
    t.post(
        &format!("/company/{company}/members"),
        Some(token),
        json!({"email": email, "role": role}),
    )
    .await
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

async fn companies(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let (_, owner) = t.customer("owner@plans.test").await;
    let (_, member) = t.customer("member@plans.test").await;
    let (_, stranger) = t.customer("stranger@plans.test").await;
    t.customer("third@plans.test").await;

    let r = t
        .post("/company", Some(&owner), json!({"name": "  Acme  "}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(
        is_oid(&r.body["_id"]) && is_oid(&r.body["owner_id"]),
        "{:?}",
        r.body
    );
    assert_eq!(r.body["name"], "Acme");
    assert!(r.body["date_create"].as_str().unwrap().ends_with('Z'));
    let id = r.body["_id"].as_str().unwrap().to_owned();
    let owner_id = r.body["owner_id"].as_str().unwrap().to_owned();
    // A second company of the same owner: the same user_id (assigned once, in an event).
    let (_, again) = company(&t, &owner, "Acme 2").await;
    assert_eq!(again, owner_id);
    assert_eq!(
        types(&t, &format!("plansCompany-{id}")).await,
        ["PlansCompanyCreated"]
    );

    assert_error(
        &t.post("/company", Some(&owner), json!({})).await,
        400,
        "invalid_field",
        Some("name"),
    );
    assert_error(
        &t.post("/company", Some(&owner), json!({"name": 5})).await,
        400,
        "invalid_field",
        Some("name"),
    );
    assert_error(
        &t.post("/company", None, json!({"name": "x"})).await,
        401,
        "unauthorized",
        None,
    );

    let r = add(&t, &owner, &id, "MEMBER@plans.test", "member").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["role"], "member");
    assert!(is_oid(&r.body["user_id"]));
    let member_id = r.body["user_id"].as_str().unwrap().to_owned();
    assert_error(
        &add(&t, &owner, &id, "member@plans.test", "owner").await,
        409,
        "conflict",
        None,
    );
    assert_error(
        &add(&t, &owner, &id, "nobody@plans.test", "member").await,
        400,
        "invalid_field",
        Some("email"),
    );
    assert_error(
        &add(&t, &owner, &id, "not an email", "member").await,
        400,
        "invalid_field",
        Some("email"),
    );
    assert_error(
        &add(&t, &owner, &id, "third@plans.test", "boss").await,
        400,
        "invalid_field",
        Some("role"),
    );

    let r = t.get(&format!("/company/{id}"), Some(&member)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["_id"], id.as_str());
    assert_eq!(r.body["owner_id"], owner_id.as_str());
    let r = t
        .get(&format!("/company/{id}/members"), Some(&member))
        .await;
    assert_eq!(r.status, 200);
    let listed: Vec<(String, String)> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user_id"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (owner_id.clone(), "owner".to_owned()),
            (member_id.clone(), "member".to_owned())
        ]
    );

    // Every company and plan route: a non-member gets 404 (as if the company did not exist),
    // the member 403 on the owner-only writes, nobody signed in 401.
    let routes = [
        (Method::GET, format!("/company/{id}"), false, json!({})),
        (
            Method::GET,
            format!("/company/{id}/members"),
            false,
            json!({}),
        ),
        (
            Method::POST,
            format!("/company/{id}/members"),
            true,
            json!({"email": "third@plans.test", "role": "member"}),
        ),
        (
            Method::DELETE,
            format!("/company/{id}/members/{owner_id}"),
            true,
            json!({}),
        ),
        (
            Method::GET,
            format!("/company/{id}/plan/list"),
            false,
            json!({}),
        ),
        (
            Method::GET,
            format!("/company/{id}/plan/status"),
            false,
            json!({}),
        ),
        (
            Method::POST,
            format!("/company/{id}/plan/trial"),
            true,
            json!({"plan": "pro"}),
        ),
    ];
    for (m, p, write, body) in &routes {
        let r = call(&t, m.clone(), p, Some(&stranger), body.clone()).await;
        assert_error(&r, 404, "not_found", None);
        let r = call(&t, m.clone(), p, None, body.clone()).await;
        assert_error(&r, 401, "unauthorized", None);
        let r = call(&t, m.clone(), p, Some(&member), body.clone()).await;
        if *write {
            assert_error(&r, 403, "forbidden", None);
        } else {
            assert_eq!(r.status, 200, "{m} {p}: {:?}", r.body);
        }
    }
    // The member's refused writes changed nothing.
    assert_eq!(
        types(&t, &format!("plansCompany-{id}")).await,
        ["PlansCompanyCreated", "PlansMemberAdded"]
    );
    assert!(types(&t, &format!("plansTeamPlan-{id}")).await.is_empty());
    // Unknown and malformed company ids: 404 too.
    let r = t
        .get("/company/ffffffffffffffffffffffff", Some(&owner))
        .await;
    assert_error(&r, 404, "not_found", None);
    let r = t.get("/company/not-an-id/plan/status", Some(&owner)).await;
    assert_error(&r, 404, "not_found", None);

    // Removing: the last owner stays; a member goes and then sees nothing.
    let r = t
        .delete(
            &format!("/company/{id}/members/{owner_id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_error(&r, 409, "conflict", None);
    let r = t
        .delete(
            &format!("/company/{id}/members/ffffffffffffffffffffffff"),
            Some(&owner),
            None,
        )
        .await;
    assert_error(&r, 404, "not_found", None);
    let r = t
        .delete(
            &format!("/company/{id}/members/{member_id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_error(
        &t.get(&format!("/company/{id}"), Some(&member)).await,
        404,
        "not_found",
        None,
    );
    let r = t.get(&format!("/company/{id}/members"), Some(&owner)).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    // Added back as owner, they may write; then the first owner may leave.
    let r = add(&t, &owner, &id, "member@plans.test", "owner").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        r.body["user_id"],
        member_id.as_str(),
        "the same user_id again"
    );
    let r = t
        .delete(
            &format!("/company/{id}/members/{owner_id}"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    t.stop().await;
}

async fn member_limit(db: Arc<TestDb>) {
    let t = Arc::new(TestServer::start(&db).await);
    let (_, owner) = t.customer("limit-owner@plans.test").await;
    let (id, _) = company(&t, &owner, "Limited").await;
    for i in 0..7 {
        t.customer(&format!("m{i}@plans.test")).await;
    }
    // The free plan allows 5 members, the owner included: of 7 concurrent adds, 4 land.
    let mut tasks = Vec::new();
    for i in 0..7 {
        let (t, owner, id) = (t.clone(), owner.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            add(&t, &owner, &id, &format!("m{i}@plans.test"), "member").await
        }));
    }
    let mut created = 0;
    for task in tasks {
        let r = task.await.unwrap();
        match r.status.as_u16() {
            201 => created += 1,
            _ => assert_error(&r, 409, "member_limit", None),
        }
    }
    assert_eq!(created, 4);
    // Response, read model and a replay of the log agree.
    let listed = t.get(&format!("/company/{id}/members"), Some(&owner)).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 5);
    let added = types(&t, &format!("plansCompany-{id}"))
        .await
        .into_iter()
        .filter(|e| e == "PlansMemberAdded")
        .count();
    assert_eq!(added, 4);
    let (state, _) = t
        .server
        .services
        .plans
        .team_plan(&ObjectId::parse(&id).unwrap())
        .await
        .map(|p| (p, ()))
        .unwrap();
    assert_eq!(t.server.services.plans.member_limit(&state), 5);
    // A pro trial allows pro's 50: the next add lands.
    let r = t
        .post(
            &format!("/company/{id}/plan/trial"),
            Some(&owner),
            json!({"plan": "pro"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let mut more = 0;
    for i in 0..7 {
        if add(&t, &owner, &id, &format!("m{i}@plans.test"), "member")
            .await
            .status
            == 201
        {
            more += 1;
        }
    }
    assert_eq!(
        more, 3,
        "the three refused before; the four added are members already"
    );
    Arc::try_unwrap(t).ok().unwrap().stop().await;
}

async fn trials(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let (_, owner) = t.customer("trial-owner@plans.test").await;
    let (id, owner_id) = company(&t, &owner, "Trials").await;

    let r = t
        .get(&format!("/company/{id}/plan/list"), Some(&owner))
        .await;
    assert_eq!(r.status, 200);
    let plans = r.body.as_array().unwrap();
    let kinds: Vec<&str> = plans.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["free", "pro", "ent"]);
    for p in plans {
        for k in ["name", "description", "ext_info"] {
            assert!(p[k].is_string(), "{k}: {p}");
        }
        assert!(
            p["store"].as_u64().unwrap() >= 1 && p["member"].as_u64().unwrap() >= 1,
            "{p}"
        );
        for product in p["products"].as_array().unwrap() {
            assert!(is_oid(&product["_id"]), "{product}");
            assert_eq!(product["plan"], p["type"]);
            assert!(product["product_no"].is_string() && product["title"].is_string());
            let price = product["price"].as_str().unwrap();
            assert!(
                price.parse::<f64>().is_ok() && price.split('.').nth(1).unwrap().len() == 2,
                "{price}"
            );
        }
    }
    assert!(plans[0]["products"].as_array().unwrap().is_empty());
    assert_eq!(plans[1]["products"][0]["price"], "30.00");

    let status_path = format!("/company/{id}/plan/status");
    let s = status_of(&t, &status_path, &owner).await;
    assert_eq!(s["company_id"], id.as_str());
    assert!(s["current"].is_null(), "{s}");
    assert_eq!(s["viable"]["trial"], json!(["pro", "ent"]));
    assert_eq!(s["viable"]["paid"], json!([]));
    assert!(s["certified"].is_null() && s["degrade"].is_null(), "{s}");

    let path = format!("/company/{id}/plan/trial");
    assert_error(
        &t.post(&path, Some(&owner), json!({"plan": "free"})).await,
        400,
        "invalid_field",
        Some("plan"),
    );
    assert_error(
        &t.post(&path, Some(&owner), json!({"plan": "gold"})).await,
        400,
        "invalid_field",
        Some("plan"),
    );
    assert_error(
        &t.post(&path, Some(&owner), json!({})).await,
        400,
        "invalid_field",
        Some("plan"),
    );

    // The seed's `[TeamPlanPaid]` shape is accepted too.
    let r = t.post(&path, Some(&owner), json!({"plan": ["pro"]})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["type"], "trial");
    assert_eq!(r.body["plan"], "pro");
    assert_eq!(r.body["status"], "actived");
    assert_eq!(r.body["user_id"], owner_id.as_str());
    let pro_trial = r.body["_id"].as_str().unwrap().to_owned();
    let start =
        chrono::DateTime::parse_from_rfc3339(r.body["date_start"].as_str().unwrap()).unwrap();
    let end = chrono::DateTime::parse_from_rfc3339(r.body["date_end"].as_str().unwrap()).unwrap();
    assert_eq!(
        end - start,
        chrono::Duration::days(15),
        "the default trial length"
    );
    let s = status_of(&t, &status_path, &owner).await;
    assert_eq!(s["current"], r.body, "status shows what the trial answered");
    assert_eq!(s["viable"]["trial"], json!(["ent"]));

    // Not twice.
    assert_error(
        &t.post(&path, Some(&owner), json!({"plan": "pro"})).await,
        409,
        "conflict",
        None,
    );
    // A trial over a trial ends the first.
    let r = t.post(&path, Some(&owner), json!({"plan": "ent"})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let s = status_of(&t, &status_path, &owner).await;
    assert_eq!(s["current"]["plan"], "ent");
    assert_eq!(s["viable"]["trial"], json!([]));
    assert_eq!(
        types(&t, &format!("plansTeamPlan-{id}")).await,
        ["PlansTrialStarted", "PlansTrialEnded", "PlansTrialStarted"]
    );
    let ended = t
        .server
        .engine
        .events
        .read_stream(
            &StreamId::parse(format!("plansTeamPlan-{id}")).unwrap(),
            2,
            1,
        )
        .await
        .unwrap();
    assert_eq!(ended[0].data["trialId"], pro_trial.as_str());
    assert_eq!(ended[0].data["reason"], "superseded");
    assert_error(
        &t.post(&path, Some(&owner), json!({"plan": "ent"})).await,
        409,
        "conflict",
        None,
    );
    t.stop().await;
}

async fn status_of(t: &TestServer, path: &str, token: &str) -> Value {
    t.get(path, Some(token)).await.body
}

async fn trial_over_paid(db: Arc<TestDb>) {
    let t = TestServer::start_with(&db, short_trials(2)).await;
    let (_, owner) = t.customer("paid-owner@plans.test").await;
    let (id, owner_id) = company(&t, &owner, "Paid").await;
    let plans = &t.server.services.plans;
    // A paid pro period through the domain's seam (orders arrive with a later part).
    let (period, position) = plans
        .start_paid_period(
            &ObjectId::parse(&id).unwrap(),
            &ObjectId::parse(&owner_id).unwrap(),
            PlanType::Pro,
            12,
            1,
            &Default::default(),
        )
        .await
        .unwrap();
    t.server
        .engine
        .runner
        .status()
        .wait_for(position.unwrap(), Duration::from_secs(5))
        .await;
    let status_path = format!("/company/{id}/plan/status");
    let paid = t.get(&status_path, Some(&owner)).await.body;
    assert_eq!(paid["current"]["type"], "paid");
    assert_eq!(paid["current"]["_id"], period.as_str());
    assert_eq!(paid["current"]["status"], "actived");
    assert_eq!(paid["current"]["member_count"], 12);
    assert_eq!(paid["viable"]["trial"], json!(["ent"]), "pro was bought");
    let end = chrono::DateTime::parse_from_rfc3339(paid["current"]["date_end"].as_str().unwrap())
        .unwrap();
    // A calendar month in Asia/Shanghai: it ends at local midnight (16:00 UTC).
    assert_eq!(end.naive_utc().format("%H:%M:%S").to_string(), "16:00:00");
    // Pro was bought: no pro trial; an ent trial runs over it and pauses nothing.
    let path = format!("/company/{id}/plan/trial");
    assert_error(
        &t.post(&path, Some(&owner), json!({"plan": "pro"})).await,
        409,
        "conflict",
        None,
    );
    let r = t.post(&path, Some(&owner), json!({"plan": "ent"})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        t.get(&status_path, Some(&owner)).await.body["current"]["plan"],
        "ent"
    );
    // When the (2-second) trial ends, the paid plan is current again with its end unmoved.
    let resumed = t
        .eventually(Duration::from_secs(20), || async {
            let s = t.get(&status_path, Some(&owner)).await.body;
            let fired = types(&t, &format!("plansTeamPlan-{id}"))
                .await
                .contains(&"PlansTrialEnded".to_owned());
            (fired && s["current"]["type"] == "paid").then_some(s)
        })
        .await
        .expect("the trial ended and the paid plan resumed");
    assert_eq!(resumed["current"], paid["current"]);
    t.stop().await;
}

async fn trial_end_after_restart(db: Arc<TestDb>) {
    let t = TestServer::start_with(&db, short_trials(2)).await;
    let (_, owner) = t.customer("restart-owner@plans.test").await;
    let (id, _) = company(&t, &owner, "Restart").await;
    let r = t
        .post(
            &format!("/company/{id}/plan/trial"),
            Some(&owner),
            json!({"plan": "pro"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    t.stop().await;
    let stream = format!("plansTeamPlan-{id}");
    let (_, stores) = db.stores().await;
    let before: Vec<String> = stores
        .events
        .read_stream(&StreamId::parse(stream.clone()).unwrap(), 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        before,
        ["PlansTrialStarted"],
        "stopped before the trial ended"
    );
    drop(stores);

    let t = TestServer::start_with(&db, short_trials(2)).await;
    let fired = t
        .eventually(Duration::from_secs(20), || async {
            let ts = types(&t, &stream).await;
            (ts.len() == 2).then_some(ts)
        })
        .await
        .expect("the trial's deadline fired after the restart");
    assert_eq!(fired, ["PlansTrialStarted", "PlansTrialEnded"]);
    let ended = t
        .server
        .engine
        .events
        .read_stream(&StreamId::parse(stream).unwrap(), 2, 1)
        .await
        .unwrap();
    assert_eq!(ended[0].data["reason"], "expired");
    let s = t
        .get(&format!("/company/{id}/plan/status"), Some(&owner))
        .await
        .body;
    assert!(s["current"].is_null(), "{s}");
    assert_eq!(s["viable"]["trial"], json!(["ent"]));
    t.stop().await;
}

/// What the plans read models show of `id`, through the routes.
async fn read_all(t: &TestServer, token: &str, id: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for p in ["", "/members", "/plan/status"] {
        let r = t.get(&format!("/company/{id}{p}"), Some(token)).await;
        assert_eq!(r.status, 200, "{p}: {:?}", r.body);
        out.push(r.body);
    }
    out
}

async fn rebuild(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let (_, owner) = t.customer("rebuild-owner@plans.test").await;
    t.customer("rebuild-member@plans.test").await;
    t.customer("rebuild-gone@plans.test").await;
    let (id, owner_id) = company(&t, &owner, "Rebuilt").await;
    add(&t, &owner, &id, "rebuild-member@plans.test", "member").await;
    let gone = add(&t, &owner, &id, "rebuild-gone@plans.test", "owner").await;
    let gone = gone.body["user_id"].as_str().unwrap().to_owned();
    t.delete(&format!("/company/{id}/members/{gone}"), Some(&owner), None)
        .await;
    t.post(
        &format!("/company/{id}/plan/trial"),
        Some(&owner),
        json!({"plan": "pro"}),
    )
    .await;
    t.post(
        &format!("/company/{id}/plan/trial"),
        Some(&owner),
        json!({"plan": "ent"}),
    )
    .await;
    let (_, position) = t
        .server
        .services
        .plans
        .start_paid_period(
            &ObjectId::parse(&id).unwrap(),
            &ObjectId::parse(&owner_id).unwrap(),
            PlanType::Pro,
            3,
            2,
            &Default::default(),
        )
        .await
        .unwrap();
    t.server
        .engine
        .runner
        .status()
        .wait_for(position.unwrap(), Duration::from_secs(5))
        .await;
    let live = read_all(&t, &owner, &id).await;
    assert_eq!(live[1].as_array().unwrap().len(), 2);
    assert_eq!(live[2]["current"]["plan"], "ent");
    t.stop().await;

    let engine = db.engine().await;
    for name in ["plans_companies", "plans_status"] {
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

async fn edges(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let (_, owner) = t.customer("edges@plans.test").await;
    let (id, _) = company(&t, &owner, "Edges").await;
    // Unknown routes under the mount point: the document's 404 (orders and the wallet are
    // served since part 3a, tests/tests/plans_orders.rs).
    let r = t
        .get(&format!("/company/{id}/plan/no-such-route"), Some(&owner))
        .await;
    assert_error(&r, 404, "not_found", None);
    let r = t
        .get(
            &format!("/company/{id}/plan/order/pending/extra"),
            Some(&owner),
        )
        .await;
    assert_error(&r, 404, "not_found", None);
    let r = call(
        &t,
        Method::PUT,
        &format!("/company/{id}/plan/status"),
        Some(&owner),
        json!({}),
    )
    .await;
    assert_error(&r, 405, "method_not_allowed", None);
    let r = t
        .send_raw(
            Method::POST,
            "/company",
            Some(&owner),
            &[("content-type", "application/json")],
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], "invalid_field");
    let r = t.post("/company", Some(&owner), json!(["x"])).await;
    assert_error(&r, 400, "invalid_field", Some("body"));
    // The OpenAPI document is served and lists the routes.
    let r = t.get("/plans/openapi.json", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["openapi"].as_str().unwrap().get(..3), Some("3.1"));
    // Every route of docs/plans.md, with its methods, and the one error shape.
    let c = "/company/{companyId}";
    let routes: Vec<(String, &[&str])> = vec![
        ("/company".into(), &["post"]),
        (c.into(), &["get"]),
        (format!("{c}/members"), &["get", "post"]),
        (format!("{c}/members/{{userId}}"), &["delete"]),
        (format!("{c}/plan/list"), &["get"]),
        (format!("{c}/plan/status"), &["get"]),
        (format!("{c}/plan/trial"), &["post"]),
        (format!("{c}/plan/auth"), &["post", "put"]),
        (format!("{c}/plan/auth/status"), &["get", "put"]),
        (format!("{c}/plan/auth/item/{{authId}}"), &["get"]),
        (format!("{c}/plan/auth/upload"), &["post"]),
        (format!("{c}/plan/auth/upload/{{pictureId}}"), &["get"]),
        ("/admin/plans/auth".into(), &["get"]),
        ("/admin/plans/auth/{authId}/accept".into(), &["post"]),
        ("/admin/plans/auth/{authId}/reject".into(), &["post"]),
        (format!("{c}/plan/order/prepare"), &["post"]),
        (format!("{c}/plan/order"), &["get", "post"]),
        (format!("{c}/plan/order/pending"), &["get"]),
        (format!("{c}/plan/order/{{orderId}}"), &["get"]),
        (format!("{c}/plan/order/{{orderId}}/pay"), &["post"]),
        (format!("{c}/plan/order/pending/pay"), &["post"]),
        (format!("{c}/plan/degrade"), &["delete"]),
        (format!("{c}/plan/wallet"), &["get"]),
        (format!("{c}/plan/charge"), &["get"]),
        (format!("{c}/plan/recharge/info"), &["get"]),
        (format!("{c}/plan/recharge"), &["get", "post"]),
        (
            "/admin/plans/companies/{companyId}/wallet/grant".into(),
            &["post"],
        ),
        (
            "/admin/plans/payments/{paymentId}/confirm".into(),
            &["post"],
        ),
        ("/plans/wechatpay/notify".into(), &["post"]),
        ("/plans/alipay/notify".into(), &["post"]),
    ];
    for (p, methods) in &routes {
        for m in *methods {
            assert!(r.body["paths"][p][m].is_object(), "{m} {p}");
        }
    }
    assert_eq!(
        r.body["paths"].as_object().unwrap().len(),
        routes.len(),
        "no route undocumented here"
    );
    assert!(r.body["components"]["schemas"]["ErrorBody"].is_object());
    t.stop().await;
}

// ---- certification (part 2) ----

const PHOTO: &str = "65000000abababababababab";

fn pro_body() -> Value {
    json!({
        "contact": {"realname": "张三", "gender": "M", "phone": "13800138000",
            "realname_ext": {"idcard": "11010519491231002X", "idcard_photo": [PHOTO]}},
        "team": {"team_name": "Acme", "scale": "1-10",
            "location": {"country": "CN", "city": "Shanghai"}}
    })
}

fn ent_body() -> Value {
    json!({
        "contact": {"realname": "李四", "gender": "F", "phone": "13900139000", "position": "CEO"},
        "enterprise": {"team_name": "Acme Ltd", "certificate_type": "license",
            "certificate_pic": [PHOTO]}
    })
}

async fn apply(t: &TestServer, token: &str, id: &str, plan: &str, body: Value) -> Reply {
    let body = with_photos(t, token, id, body).await;
    t.post(
        &format!("/company/{id}/plan/auth?plan={plan}"),
        Some(token),
        body,
    )
    .await
}

async fn auth_status(t: &TestServer, token: &str, id: &str) -> Value {
    let r = t
        .get(&format!("/company/{id}/plan/auth/status"), Some(token))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

async fn item(t: &TestServer, token: &str, id: &str, auth: &str) -> Reply {
    t.get(&format!("/company/{id}/plan/auth/item/{auth}"), Some(token))
        .await
}

async fn certification_rules(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let (_, owner) = t.customer("cert-owner@plans.test").await;
    let (id, owner_id) = company(&t, &owner, "Certified").await;
    let s = auth_status(&t, &owner, &id).await;
    assert_eq!(s, json!({"certified": null, "pending": null}));

    // Validation names the missing field, per plan.
    let mut no_idcard = pro_body();
    no_idcard["contact"]["realname_ext"]
        .as_object_mut()
        .unwrap()
        .remove("idcard");
    assert_error(
        &apply(&t, &owner, &id, "pro", no_idcard).await,
        400,
        "invalid_field",
        Some("contact.realname_ext.idcard"),
    );
    assert_error(
        &apply(&t, &owner, &id, "ent", pro_body()).await,
        400,
        "invalid_field",
        Some("contact.position"),
    );
    let mut no_pic = ent_body();
    no_pic["enterprise"]
        .as_object_mut()
        .unwrap()
        .remove("certificate_pic");
    assert_error(
        &apply(&t, &owner, &id, "ent", no_pic).await,
        400,
        "invalid_field",
        Some("enterprise.certificate_pic"),
    );
    assert_error(
        &apply(&t, &owner, &id, "free", pro_body()).await,
        400,
        "invalid_field",
        Some("plan"),
    );
    assert_error(
        &t.post(
            &format!("/company/{id}/plan/auth"),
            Some(&owner),
            pro_body(),
        )
        .await,
        400,
        "invalid_field",
        Some("plan"),
    );

    // Apply for pro: posted, with the data and the log.
    let r = apply(&t, &owner, &id, "pro", pro_body()).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let pro1 = r.body["_id"].as_str().unwrap().to_owned();
    assert!(is_oid(&r.body["_id"]));
    assert_eq!(r.body["status"], "posted");
    assert_eq!(r.body["user_id"], owner_id.as_str());
    assert_eq!(r.body["company_id"], id.as_str());
    assert_eq!(
        r.body["nearest_data"]["contact"]["realname_ext"]["idcard"],
        "11010519491231002X"
    );
    assert_eq!(r.body["history_data"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["log"][0]["action"], "posted");
    let s = auth_status(&t, &owner, &id).await;
    assert_eq!(s["pending"]["_id"], pro1.as_str());
    assert_eq!(s["pending"]["status"], "posted");
    assert!(s["certified"].is_null());

    // A second pro application while pro is pending (not rejected): refused.
    assert_error(
        &apply(&t, &owner, &id, "pro", pro_body()).await,
        409,
        "conflict",
        None,
    );
    // Resubmit only after a rejection.
    let put = |body: Value| {
        let t = &t;
        let owner = owner.clone();
        let id = id.clone();
        async move {
            let body = with_photos(t, &owner, &id, body).await;
            t.send(
                Method::PUT,
                &format!("/company/{id}/plan/auth?plan=pro"),
                Some(&owner),
                Some(body),
            )
            .await
        }
    };
    assert_error(&put(pro_body()).await, 409, "conflict", None);
    // Staff reject (a reason is required), then the owner resubmits: reposted, two versions.
    assert_error(
        &t.post(
            &format!("/admin/plans/auth/{pro1}/reject"),
            Some(&admin),
            json!({}),
        )
        .await,
        400,
        "invalid_field",
        Some("reason"),
    );
    let r = t
        .post(
            &format!("/admin/plans/auth/{pro1}/reject"),
            Some(&admin),
            json!({"reason": "photo unreadable"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "rejected");
    assert_eq!(r.body["log"][1]["reason"], "photo unreadable");
    assert_eq!(
        auth_status(&t, &owner, &id).await["pending"]["status"],
        "rejected"
    );
    let mut second = pro_body();
    second["team"]["team_name"] = json!("Acme 2");
    let r = put(second).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "reposted");
    assert_eq!(r.body["history_data"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["nearest_data"]["team"]["team_name"], "Acme 2");
    assert_eq!(r.body["history_data"][0]["team"]["team_name"], "Acme");
    let actions: Vec<&str> = r.body["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["posted", "rejected", "reposted"]);

    // The seed's `PUT /auth` names no plan: the pending (rejected) application is meant.
    let reject = |reason: &'static str| {
        let (t, admin, pro1) = (&t, admin.clone(), pro1.clone());
        async move {
            let r = t
                .post(
                    &format!("/admin/plans/auth/{pro1}/reject"),
                    Some(&admin),
                    json!({"reason": reason}),
                )
                .await;
            assert_eq!(r.status, 200, "{:?}", r.body);
        }
    };
    reject("still unreadable").await;
    let body = with_photos(&t, &owner, &id, pro_body()).await;
    let r = t
        .send(
            Method::PUT,
            &format!("/company/{id}/plan/auth"),
            Some(&owner),
            Some(body),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["_id"], pro1.as_str());
    assert_eq!(r.body["status"], "reposted");
    assert_eq!(r.body["history_data"].as_array().unwrap().len(), 3);
    reject("unreadable again").await;

    // Rejected again: a new pro application supersedes the rejected one: expired.
    let r = apply(&t, &owner, &id, "pro", pro_body()).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let pro2 = r.body["_id"].as_str().unwrap().to_owned();
    assert_eq!(item(&t, &owner, &id, &pro1).await.body["status"], "expired");
    // An ent application supersedes the pending pro one.
    let r = apply(&t, &owner, &id, "ent", ent_body()).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let ent1 = r.body["_id"].as_str().unwrap().to_owned();
    let old = item(&t, &owner, &id, &pro2).await;
    assert_eq!(old.body["status"], "expired");
    assert_eq!(old.body["log"][1]["by"], ent1.as_str());
    // Cancel: the pending ent; not the expired pro (not pending).
    assert_error(
        &t.send(
            Method::PUT,
            &format!("/company/{id}/plan/auth/status"),
            Some(&owner),
            Some(json!({"plan": "pro", "status": "cancelled"})),
        )
        .await,
        404,
        "not_found",
        None,
    );
    assert_error(
        &t.send(
            Method::PUT,
            &format!("/company/{id}/plan/auth/status"),
            Some(&owner),
            Some(json!({"plan": "ent", "status": "accepted"})),
        )
        .await,
        400,
        "invalid_field",
        Some("status"),
    );
    let r = t
        .send(
            Method::PUT,
            &format!("/company/{id}/plan/auth/status"),
            Some(&owner),
            Some(json!({"plan": "ent", "status": "cancelled"})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "cancelled");
    assert!(auth_status(&t, &owner, &id).await["pending"].is_null());

    // pro accepted → certified pro, viable.paid [pro]; ent may still be applied for.
    let pro3 = apply(&t, &owner, &id, "pro", pro_body()).await.body["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t
        .post(
            &format!("/admin/plans/auth/{pro3}/accept"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "accepted");
    assert_error(
        &t.post(
            &format!("/admin/plans/auth/{pro3}/accept"),
            Some(&admin),
            json!({}),
        )
        .await,
        409,
        "conflict",
        None,
    );
    // Cancel is refused once accepted (it is no longer pending).
    assert_error(
        &t.send(
            Method::PUT,
            &format!("/company/{id}/plan/auth/status"),
            Some(&owner),
            Some(json!({"plan": "pro", "status": "cancelled"})),
        )
        .await,
        404,
        "not_found",
        None,
    );
    let s = status_of(&t, &format!("/company/{id}/plan/status"), &owner).await;
    assert_eq!(s["certified"], "pro");
    assert_eq!(s["viable"]["paid"], json!(["pro"]));
    assert_eq!(
        auth_status(&t, &owner, &id).await["certified"]["_id"],
        pro3.as_str()
    );
    assert_error(
        &apply(&t, &owner, &id, "pro", pro_body()).await,
        409,
        "conflict",
        None,
    );
    let ent2 = apply(&t, &owner, &id, "ent", ent_body()).await;
    assert_eq!(
        ent2.status, 201,
        "pro certified allows ent: {:?}",
        ent2.body
    );
    let ent2 = ent2.body["_id"].as_str().unwrap().to_owned();
    t.post(
        &format!("/admin/plans/auth/{ent2}/accept"),
        Some(&admin),
        json!({}),
    )
    .await;
    let s = status_of(&t, &format!("/company/{id}/plan/status"), &owner).await;
    assert_eq!(s["certified"], "ent");
    assert_eq!(s["viable"]["paid"], json!(["pro", "ent"]));
    // ent certified → pro (and ent) cannot be applied for.
    assert_error(
        &apply(&t, &owner, &id, "pro", pro_body()).await,
        409,
        "conflict",
        None,
    );
    assert_error(
        &apply(&t, &owner, &id, "ent", ent_body()).await,
        409,
        "conflict",
        None,
    );
    assert_eq!(
        types(&t, &format!("plansCertification-{ent2}")).await,
        ["PlansCertificationSubmitted", "PlansCertificationAccepted"]
    );
    t.stop().await;
}

async fn certification_concurrency(db: Arc<TestDb>) {
    let t = Arc::new(TestServer::start(&db).await);
    let (_, owner) = t.customer("cert-race@plans.test").await;
    let (id, _) = company(&t, &owner, "Racing").await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (t, owner, id) = (t.clone(), owner.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            apply(&t, &owner, &id, "pro", pro_body()).await
        }));
    }
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    let created: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    assert_eq!(created.len(), 1, "one application wins: {replies:?}");
    for r in replies.iter().filter(|r| r.status != 201) {
        assert_error(r, 409, "conflict", None);
    }
    let winner = created[0].body["_id"].as_str().unwrap();
    let s = auth_status(&t, &owner, &id).await;
    assert_eq!(s["pending"]["_id"], winner);
    // The guard's stream and the replay agree: one application opened.
    assert_eq!(
        types(&t, &format!("plansCertifications-{id}")).await,
        ["PlansCertificationTracked"]
    );
    Arc::try_unwrap(t).ok().unwrap().stop().await;
}

/// What the certification read models show, through the routes.
async fn cert_reads(t: &TestServer, admin: &str, owner: &str, id: &str) -> Vec<Value> {
    vec![
        t.get("/admin/plans/auth", Some(admin)).await.body,
        auth_status(t, owner, id).await,
        status_of(t, &format!("/company/{id}/plan/status"), owner).await,
    ]
}

async fn certification_access(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let admin = t.admin().await;
    let (_, owner) = t.customer("cert-acc-owner@plans.test").await;
    let (_, member) = t.customer("cert-acc-member@plans.test").await;
    let (_, stranger) = t.customer("cert-acc-stranger@plans.test").await;
    let (id, _) = company(&t, &owner, "Guarded").await;
    add(&t, &owner, &id, "cert-acc-member@plans.test", "member").await;
    let auth = apply(&t, &owner, &id, "pro", pro_body()).await.body["_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let routes: Vec<(Method, String, Value)> = vec![
        (
            Method::POST,
            format!("/company/{id}/plan/auth?plan=ent"),
            ent_body(),
        ),
        (
            Method::PUT,
            format!("/company/{id}/plan/auth?plan=pro"),
            pro_body(),
        ),
        (
            Method::PUT,
            format!("/company/{id}/plan/auth/status"),
            json!({"plan": "pro", "status": "cancelled"}),
        ),
        (
            Method::GET,
            format!("/company/{id}/plan/auth/item/{auth}"),
            Value::Null,
        ),
    ];
    for (m, path, body) in &routes {
        let body = (!body.is_null()).then(|| body.clone());
        assert_error(
            &t.send(m.clone(), path, Some(&member), body.clone()).await,
            403,
            "forbidden",
            None,
        );
        assert_error(
            &t.send(m.clone(), path, Some(&stranger), body).await,
            404,
            "not_found",
            None,
        );
    }
    // Status: members read it (no personal data); strangers get 404.
    assert_eq!(
        auth_status(&t, &member, &id).await["pending"]["_id"],
        auth.as_str()
    );
    assert_error(
        &t.get(&format!("/company/{id}/plan/auth/status"), Some(&stranger))
            .await,
        404,
        "not_found",
        None,
    );
    // The item under another company: 404.
    let (other, _) = company(&t, &stranger, "Other").await;
    assert_error(
        &item(&t, &stranger, &other, &auth).await,
        404,
        "not_found",
        None,
    );
    // Staff routes: admins only.
    for token in [&owner, &member] {
        assert_error(
            &t.get("/admin/plans/auth?status=posted", Some(token)).await,
            403,
            "forbidden",
            None,
        );
        assert_error(
            &t.post(
                &format!("/admin/plans/auth/{auth}/accept"),
                Some(token),
                json!({}),
            )
            .await,
            403,
            "forbidden",
            None,
        );
        assert_error(
            &t.post(
                &format!("/admin/plans/auth/{auth}/reject"),
                Some(token),
                json!({"reason": "x"}),
            )
            .await,
            403,
            "forbidden",
            None,
        );
    }
    assert_error(
        &t.get("/admin/plans/auth", None).await,
        401,
        "unauthorized",
        None,
    );
    assert_error(
        &t.post(
            &format!("/admin/plans/auth/{PHOTO}/accept"),
            Some(&admin),
            json!({}),
        )
        .await,
        404,
        "not_found",
        None,
    );
    // Admins read the item in full (they review it).
    let full = item(&t, &admin, &id, &auth).await;
    assert_eq!(full.status, 200, "{:?}", full.body);
    assert_eq!(
        full.body["nearest_data"]["contact"]["realname_ext"]["idcard"],
        "11010519491231002X"
    );
    // The staff list (read model) masks the ID data.
    let list = t.get("/admin/plans/auth?status=posted", Some(&admin)).await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    let mine: Vec<&Value> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["_id"] == auth.as_str())
        .collect();
    assert_eq!(mine.len(), 1, "{:?}", list.body);
    let contact = &mine[0]["contact"];
    assert_eq!(contact["realname_ext"]["idcard"], "**************002X");
    assert_eq!(contact["realname_ext"]["idcard_photos"], 1);
    assert!(contact["realname_ext"].get("idcard_photo").is_none());
    assert_eq!(contact["realname"], "张*");
    assert_eq!(contact["phone"], "*******8000");
    assert!(!list.body.to_string().contains("11010519491231002X"));
    assert!(!list.body.to_string().contains("13800138000"));
    assert_error(
        &t.get("/admin/plans/auth?status=nope", Some(&admin)).await,
        400,
        "invalid_field",
        Some("status"),
    );
    // Steps for the rebuild: reject, resubmit, accept.
    t.post(
        &format!("/admin/plans/auth/{auth}/reject"),
        Some(&admin),
        json!({"reason": "blurred"}),
    )
    .await;
    t.send(
        Method::PUT,
        &format!("/company/{id}/plan/auth?plan=pro"),
        Some(&owner),
        Some(with_photos(&t, &owner, &id, pro_body()).await),
    )
    .await;
    let r = t
        .post(
            &format!("/admin/plans/auth/{auth}/accept"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let live = cert_reads(&t, &admin, &owner, &id).await;
    assert_eq!(live[2]["certified"], "pro");
    t.stop().await;
    let engine = db.engine().await;
    engine
        .runner
        .rebuild("plans_certifications", |_, _| {})
        .await
        .unwrap();
    drop(engine);
    let t = TestServer::start(&db).await;
    assert_eq!(
        cert_reads(&t, &admin, &owner, &id).await,
        live,
        "a rebuild gives the same rows"
    );
    t.stop().await;
}

// ---- certification pictures ----

/// A PNG of `w`×`h` px; `noise` makes it compress badly (a large file).
fn png(w: u32, h: u32, noise: bool) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let n = if noise {
            (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)).wrapping_mul(97)
        } else {
            x + y
        };
        image::Rgb([(n >> 3) as u8, (n >> 11) as u8, (n >> 19) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, _| image::Rgb([x as u8, 80, 160]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// `POST /company/{id}/plan/auth/upload?{query}` with one multipart part per file, named `field`.
async fn upload_as(
    t: &TestServer,
    token: Option<&str>,
    id: &str,
    query: &str,
    field: &str,
    files: &[Vec<u8>],
) -> Reply {
    let boundary = "plans-test-boundary-9QZ3xkTrZu0gW";
    let mut body = Vec::new();
    for (i, f) in files.iter().enumerate() {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; \
                 filename=\"p{i}.png\"\r\nContent-Type: image/png\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(f);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    t.send_raw(
        Method::POST,
        &format!("/company/{id}/plan/auth/upload?{query}"),
        token,
        &[(
            "content-type",
            &format!("multipart/form-data; boundary={boundary}"),
        )],
        body,
    )
    .await
}

async fn upload(t: &TestServer, token: &str, id: &str, files: &[Vec<u8>]) -> Reply {
    upload_as(t, Some(token), id, "plan=pro", "auth_pic", files).await
}

/// `body` with every [`PHOTO`] replaced by a picture uploaded now as `token` (left as it is when
/// the caller may not upload: the route refuses them before looking at pictures).
async fn with_photos(t: &TestServer, token: &str, id: &str, body: Value) -> Value {
    let text = body.to_string();
    if !text.contains(PHOTO) {
        return body;
    }
    let r = upload(t, token, id, &[png(40, 30, false)]).await;
    if r.status != 201 {
        return body;
    }
    let photo = r.body[0]["_id"].as_str().unwrap();
    serde_json::from_str(&text.replace(PHOTO, photo)).unwrap()
}

/// GET a picture: status, content type, bytes.
async fn fetch(t: &TestServer, url: &str, token: Option<&str>) -> (u16, String, Vec<u8>) {
    let mut req = t.http.get(url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, ct, resp.bytes().await.unwrap().to_vec())
}

/// Files under the blob folder, recursively (temporary files included).
fn blob_files(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(blob_files(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out.sort();
    out
}

async fn certification_pictures(db: Arc<TestDb>) {
    let mut config = server_config();
    config.plans.plans_upload_max_bytes = 30_000;
    config.plans.plans_upload_max_side = 512;
    let t = Arc::new(TestServer::start_with(&db, config).await);
    let blobs = db.config().secrets_dir().unwrap().join("blobs");
    let admin = t.admin().await;
    let (_, owner) = t.customer("pic-owner@plans.test").await;
    let (_, member) = t.customer("pic-member@plans.test").await;
    let (_, stranger) = t.customer("pic-stranger@plans.test").await;
    let (id, _) = company(&t, &owner, "Pictured").await;
    add(&t, &owner, &id, "pic-member@plans.test", "member").await;
    let (other, _) = company(&t, &stranger, "Elsewhere").await;
    let shelf = format!("plansCertificationPictures-{id}");

    // Access: owners only.
    let small = png(40, 30, false);
    assert_error(
        &upload(&t, &member, &id, std::slice::from_ref(&small)).await,
        403,
        "forbidden",
        None,
    );
    assert_error(
        &upload(&t, &stranger, &id, std::slice::from_ref(&small)).await,
        404,
        "not_found",
        None,
    );
    let r = upload_as(
        &t,
        None,
        &id,
        "plan=pro",
        "auth_pic",
        std::slice::from_ref(&small),
    )
    .await;
    assert_error(&r, 401, "unauthorized", None);

    // Refusals store nothing: not an image (also next to a good one), too many pixels, too
    // large, no plan, no file, another field.
    let before = blob_files(&blobs);
    let refused = [
        (
            upload(&t, &owner, &id, &[b"%PDF-1.4 not a picture".to_vec()]).await,
            400,
            Some("auth_pic[0]"),
        ),
        (
            upload(
                &t,
                &owner,
                &id,
                &[small.clone(), b"\x89PNG\r\n\x1a\nbroken".to_vec()],
            )
            .await,
            400,
            Some("auth_pic[1]"),
        ),
        (
            upload(&t, &owner, &id, &[png(513, 10, false)]).await,
            400,
            Some("auth_pic[0]"),
        ),
        (
            upload(&t, &owner, &id, &[small.clone(), png(200, 200, true)]).await,
            413,
            None,
        ),
        (
            upload_as(
                &t,
                Some(&owner),
                &id,
                "",
                "auth_pic",
                std::slice::from_ref(&small),
            )
            .await,
            400,
            Some("plan"),
        ),
        (
            upload_as(
                &t,
                Some(&owner),
                &id,
                "plan=free",
                "auth_pic",
                std::slice::from_ref(&small),
            )
            .await,
            400,
            Some("plan"),
        ),
        (upload(&t, &owner, &id, &[]).await, 400, Some("auth_pic")),
        (
            upload_as(
                &t,
                Some(&owner),
                &id,
                "plan=pro",
                "avatar",
                std::slice::from_ref(&small),
            )
            .await,
            400,
            Some("body"),
        ),
    ];
    for (r, status, field) in &refused {
        let code = match status {
            413 => "payload_too_large",
            _ => "invalid_field",
        };
        assert_error(r, *status, code, *field);
    }
    assert!(png(200, 200, true).len() > 30_000);
    assert_eq!(blob_files(&blobs), before, "no blob written");
    assert!(types(&t, &shelf).await.is_empty(), "no event written");

    // Two pictures in one upload (PNG and JPEG): 201 `[{_id, url}]`, served back as uploaded to
    // owners and admins only.
    let photo = jpeg(64, 48);
    let r = upload(&t, &owner, &id, &[small.clone(), photo.clone()]).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let list = r.body.as_array().unwrap();
    assert_eq!(list.len(), 2);
    for (entry, (bytes, media)) in list
        .iter()
        .zip([(&small, "image/png"), (&photo, "image/jpeg")])
    {
        assert!(is_oid(&entry["_id"]), "{entry}");
        let url = entry["url"].as_str().unwrap();
        assert_eq!(
            url,
            format!(
                "{}/company/{id}/plan/auth/upload/{}",
                t.base,
                entry["_id"].as_str().unwrap()
            )
        );
        for token in [&owner, &admin] {
            let (status, ct, got) = fetch(&t, url, Some(token)).await;
            assert_eq!((status, ct.as_str()), (200, media));
            assert_eq!(&got, bytes);
        }
        for token in [Some(member.as_str()), Some(stranger.as_str())] {
            assert_eq!(fetch(&t, url, token).await.0, 404);
        }
        assert_eq!(fetch(&t, url, None).await.0, 401);
        // Not under another company's path either.
        let elsewhere = url.replace(&id, &other);
        assert_eq!(fetch(&t, &elsewhere, Some(&admin)).await.0, 404);
    }
    assert_eq!(blob_files(&blobs).len(), before.len() + 2);

    // Concurrent uploads all land, each with its own id.
    let mut tasks = Vec::new();
    for i in 0..4 {
        let (t, owner, id) = (t.clone(), owner.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            upload(&t, &owner, &id, &[png(20 + i, 20, false)]).await
        }));
    }
    let mut ids: Vec<String> = list
        .iter()
        .map(|e| e["_id"].as_str().unwrap().to_owned())
        .collect();
    for task in tasks {
        let r = task.await.unwrap();
        assert_eq!(r.status, 201, "{:?}", r.body);
        ids.push(r.body[0]["_id"].as_str().unwrap().to_owned());
    }
    // The replay agrees with the answers: one event per picture, the ids answered.
    let events = t
        .server
        .engine
        .events
        .read_stream(&StreamId::parse(&shelf).unwrap(), 0, 1000)
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .all(|e| e.event_type == "PlansCertificationPictureUploaded")
    );
    let mut stored: Vec<String> = events
        .iter()
        .map(|e| e.data["pictureId"].as_str().unwrap().to_owned())
        .collect();
    stored.sort();
    ids.sort();
    assert_eq!(stored, ids);

    // Applications may name only this company's pictures.
    let foreign = upload(&t, &stranger, &other, std::slice::from_ref(&small))
        .await
        .body[0]["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut unknown = pro_body();
    unknown["contact"]["realname_ext"]["idcard_photo"] = json!([ids[0], PHOTO]);
    let post = |plan: &'static str, body: Value| {
        let (t, owner, id) = (t.clone(), owner.clone(), id.clone());
        async move {
            t.post(
                &format!("/company/{id}/plan/auth?plan={plan}"),
                Some(&owner),
                body,
            )
            .await
        }
    };
    assert_error(
        &post("pro", unknown).await,
        400,
        "invalid_field",
        Some("contact.realname_ext.idcard_photo[1]"),
    );
    let mut stolen = ent_body();
    stolen["enterprise"]["certificate_pic"] = json!([foreign]);
    assert_error(
        &post("ent", stolen).await,
        400,
        "invalid_field",
        Some("enterprise.certificate_pic[0]"),
    );
    assert!(
        types(&t, &format!("plansCertifications-{id}"))
            .await
            .is_empty()
    );
    let mut good = pro_body();
    good["contact"]["realname_ext"]["idcard_photo"] = json!([ids[0], ids[1]]);
    let r = post("pro", good.clone()).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let auth = r.body["_id"].as_str().unwrap().to_owned();
    // A resubmission is checked too.
    let r = t
        .post(
            &format!("/admin/plans/auth/{auth}/reject"),
            Some(&admin),
            json!({"reason": "blurred"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mut resubmitted = good.clone();
    resubmitted["contact"]["realname_ext"]["idcard_photo"] = json!([foreign]);
    let put = |body: Value| {
        let (t, owner, id) = (t.clone(), owner.clone(), id.clone());
        async move {
            t.send(
                Method::PUT,
                &format!("/company/{id}/plan/auth?plan=pro"),
                Some(&owner),
                Some(body),
            )
            .await
        }
    };
    assert_error(
        &put(resubmitted).await,
        400,
        "invalid_field",
        Some("contact.realname_ext.idcard_photo[0]"),
    );
    let r = put(good).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "reposted");
    Arc::try_unwrap(t).ok().unwrap().stop().await;
}
