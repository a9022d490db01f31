//! The OpenAPI document of the OpenTicket API over real HTTP: `GET /v1/openapi.json` is OpenAPI
//! 3.1; it lists exactly the routes the seed document and docs/openticket.md say Tessera serves,
//! each with its success and error responses; every `$ref` resolves; the bearer scheme is declared
//! and required exactly where the server asks for a token; Swagger UI at `/docs` loads; and the
//! real responses of a whole flow (and the requests that produced them) match the documented
//! schemas, with no property the schemas do not declare.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration as ChronoDuration, FixedOffset, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tessera_tests::http::TestServer;
use tessera_tests::openapi::{
    check_operations, check_response, deref, errors_of, fill, operations, path_params, resolve_ref,
    response_schema,
};
use tessera_tests::{Suite, TestDb};

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("document_is_openapi_3_1_json", document_is_openapi_3_1)
        .case("every_route_is_documented_and_nothing_else", every_route)
        .case("documented_operations_are_served", operations_are_served)
        .case(
            "operations_list_success_and_error_responses",
            responses_listed,
        )
        .case("every_ref_resolves_within_components", refs_resolve)
        .case("bearer_scheme_declared_and_required_where_needed", bearer)
        .case("swagger_ui_page_and_assets_load", swagger_ui)
        .case("real_requests_and_responses_match_the_schemas", conformance)
        .run()
}

// ---------------------------------------------------------------------------------- expectations

/// Who may call a route, as seed 003 and docs/openticket.md say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Anyone, no token.
    Public,
    /// Any signed-in user (bearer token).
    SignedIn,
    /// A role (admin, organizer or staff): bearer token, 403 without the role.
    Role,
    /// A payment provider: a signature header, no bearer token.
    Signed,
}

/// Every operation Tessera serves under `/v1`, written from the seed document's routes (§2–§7,
/// §10, with its `{venueId}`-style names) plus Tessera's additions in docs/openticket.md
/// (register, logout, me, roles, the Mock payment page, Stripe Checkout's return pages). Not from the code under test.
///
/// Left out on purpose: the SignalR hub of §8, which is not under `/v1`. The seed's
/// `POST /auth/oauth/{provider}` is served (docs/openticket.md, "OAuth sign-in");
/// [`operations_are_served`] checks an unconfigured provider is a documented 404, not a router one.
const EXPECTED: &[(&str, &str, Access)] = &[
    ("POST", "/v1/auth/register", Access::Public),
    ("POST", "/v1/auth/login", Access::Public),
    ("POST", "/v1/auth/refresh", Access::Public),
    ("POST", "/v1/auth/logout", Access::Public),
    ("GET", "/v1/auth/me", Access::SignedIn),
    ("POST", "/v1/auth/oauth/{provider}", Access::Public),
    ("POST", "/v1/admin/users/{userId}/roles", Access::Role),
    (
        "DELETE",
        "/v1/admin/users/{userId}/roles/{role}",
        Access::Role,
    ),
    ("GET", "/v1/venues", Access::Public),
    ("GET", "/v1/venues/{venueId}", Access::Public),
    ("POST", "/v1/venues", Access::Role),
    ("GET", "/v1/events", Access::Public),
    ("GET", "/v1/events/{eventId}", Access::Public),
    ("POST", "/v1/events", Access::Role),
    ("GET", "/v1/sessions/{sessionId}/seats", Access::Public),
    (
        "GET",
        "/v1/sessions/{sessionId}/seats/{seatId}",
        Access::Public,
    ),
    (
        "POST",
        "/v1/sessions/{sessionId}/seats/lock",
        Access::SignedIn,
    ),
    (
        "DELETE",
        "/v1/sessions/{sessionId}/seats/lock",
        Access::SignedIn,
    ),
    ("POST", "/v1/orders", Access::SignedIn),
    ("GET", "/v1/orders", Access::SignedIn),
    ("GET", "/v1/orders/{orderId}", Access::SignedIn),
    ("DELETE", "/v1/orders/{orderId}", Access::SignedIn),
    ("GET", "/v1/tickets", Access::SignedIn),
    ("GET", "/v1/tickets/{ticketId}", Access::SignedIn),
    ("POST", "/v1/tickets/{ticketId}/verify", Access::Role),
    ("POST", "/v1/webhooks/payment/{provider}", Access::Signed),
    ("GET", "/v1/mock-payment/{paymentId}", Access::Public),
    (
        "POST",
        "/v1/mock-payment/{paymentId}/confirm",
        Access::Public,
    ),
    (
        "POST",
        "/v1/mock-payment/{paymentId}/decline",
        Access::Public,
    ),
    ("GET", "/v1/payments/stripe/success", Access::Public),
    ("GET", "/v1/payments/stripe/cancel", Access::Public),
];

/// Whether an answer is the router's own: 405, or the 404 of the `/v1` fallback
/// (`details.resource == "route"`, docs/decisions/0013-errors-at-the-edges.md), as opposed to a
/// handler's 404 for a missing resource.
fn unrouted(status: u16, body: &Value) -> bool {
    status == 405 || (status == 404 && body["error"]["details"]["resource"] == "route")
}

fn access_of(method: &str, path: &str) -> Access {
    EXPECTED
        .iter()
        .find(|(m, p, _)| m.eq_ignore_ascii_case(method) && *p == path)
        .map(|e| e.2)
        .unwrap_or_else(|| panic!("{method} {path} is not an expected operation"))
}

/// A value for a path parameter in probes, by name.
fn sample_param(name: &str) -> &'static str {
    match name {
        "userId" | "venueId" | "eventId" | "sessionId" | "orderId" | "ticketId" | "paymentId" => {
            "00000000-0000-0000-0000-000000000000"
        }
        "seatId" => "A-001",
        "role" => "organizer",
        "provider" => "mock",
        other => panic!("no sample value for path parameter {other}: add one"),
    }
}

// ------------------------------------------------------------------------------------- fetching

async fn fetch_document(t: &TestServer) -> Value {
    let resp = t
        .http
        .get(format!("{}/v1/openapi.json", t.base))
        .send()
        .await
        .expect("GET /v1/openapi.json");
    assert_eq!(resp.status(), StatusCode::OK);
    let ct = content_type(&resp);
    assert!(ct.starts_with("application/json"), "content type {ct}");
    resp.json().await.expect("the document is JSON")
}

fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

fn is_bearer(op: &Value) -> bool {
    op["security"]
        .as_array()
        .is_some_and(|reqs| reqs.iter().any(|r| r.get("bearerAuth").is_some()))
}

// ------------------------------------------------------------------------------------ validator

/// The validator itself must be able to fail, or the conformance case proves nothing.
fn validator_rejects_what_it_should(doc: &Value) {
    let user = json!({"$ref": "#/components/schemas/User"});
    let good = json!({"userId": "0190c9a4-e0b8-7d21-a1f3-c2b4d5e6f708", "email": "a@b.c",
                      "displayName": null, "roles": ["customer"],
                      "registeredAt": "2025-01-20T10:00:00Z"});
    assert!(
        errors_of(doc, &user, &good).is_empty(),
        "{:?}",
        errors_of(doc, &user, &good)
    );
    let mut extra = good.clone();
    extra["password"] = json!("leaked");
    assert!(
        !errors_of(doc, &user, &extra).is_empty(),
        "undeclared property accepted"
    );
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("email");
    assert!(
        !errors_of(doc, &user, &missing).is_empty(),
        "missing property accepted"
    );
    let mut wrong = good.clone();
    wrong["roles"] = json!(["emperor"]);
    assert!(
        !errors_of(doc, &user, &wrong).is_empty(),
        "unknown enum value accepted"
    );
    let mut bad_id = good;
    bad_id["userId"] = json!("not-a-uuid");
    assert!(
        !errors_of(doc, &user, &bad_id).is_empty(),
        "bad uuid accepted"
    );
}

// ----------------------------------------------------------------------------------------- cases

async fn document_is_openapi_3_1(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let doc = fetch_document(&t).await;
    let version = doc["openapi"].as_str().unwrap_or("");
    assert!(version.starts_with("3.1"), "openapi = {version:?}");
    assert_eq!(doc["info"]["title"], "Tessera OpenTicket API");
    assert!(
        doc["info"]["version"]
            .as_str()
            .is_some_and(|v| !v.is_empty()),
        "info.version"
    );
    assert!(
        doc["servers"].as_array().is_some_and(|s| !s.is_empty()),
        "servers"
    );
    assert!(
        doc["paths"].as_object().is_some_and(|p| !p.is_empty()),
        "paths"
    );
    // Public: no token needed, whatever the caller sends.
    let r = t.get("/v1/openapi.json", Some("garbage")).await;
    assert_eq!(r.status, 200);
    t.stop().await;
}

async fn every_route(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let doc = fetch_document(&t).await;
    let expected: BTreeSet<(String, String)> = EXPECTED
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    check_operations(&doc, &expected);
    t.stop().await;
}

/// Each documented operation answers (no router 404 or 405), with a status the document lists for
/// it and a body that matches the documented schema; the OAuth route of a provider without
/// settings answers its own 404.
async fn operations_are_served(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let doc = fetch_document(&t).await;
    let mut problems = Vec::new();
    for (m, template, op) in operations(&doc) {
        let path = fill(&template, |name| sample_param(name).to_owned());
        let method = Method::from_bytes(m.as_bytes()).unwrap();
        let mut req = t.http.request(method, format!("{}{path}", t.base));
        if op.get("requestBody").is_some() {
            req = req.json(&json!({}));
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if unrouted(status, &body) {
            problems.push(format!("{m} {path}: not routed ({status})"));
            continue;
        }
        if op["responses"].get(status.to_string()).is_none() {
            problems.push(format!(
                "{m} {path}: answered {status}, which is not documented"
            ));
            continue;
        }
        if let Some(schema) = response_schema(&doc, &op, status) {
            match serde_json::from_str::<Value>(&text) {
                Ok(body) => {
                    for e in errors_of(&doc, schema, &body) {
                        problems.push(format!("{m} {path} {status}: {e}"));
                    }
                }
                Err(_) => problems.push(format!("{m} {path} {status}: body is not JSON: {text}")),
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");

    let r = t
        .http
        .post(format!("{}/v1/auth/oauth/google", t.base))
        .json(&json!({"code": "x", "redirectUri": "https://app.example/cb"}))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert!(
        status == StatusCode::NOT_FOUND
            && !unrouted(404, &body)
            && body["error"]["details"]["reason"] == "notConfigured",
        "unconfigured OAuth provider: {status} {body}"
    );
    t.stop().await;
}

async fn responses_listed(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let doc = fetch_document(&t).await;
    let mut problems = Vec::new();
    for (m, p, op) in operations(&doc) {
        let access = access_of(&m, &p);
        let responses = op["responses"].as_object().cloned().unwrap_or_default();
        let statuses: BTreeSet<u16> = responses.keys().filter_map(|s| s.parse().ok()).collect();
        let mut need = |status: u16, why: &str| {
            if !statuses.contains(&status) {
                problems.push(format!("{m} {p}: no {status} response ({why})"));
            }
        };
        need(500, "every route can fail");
        need(503, "every route can meet a failing store");
        let has_input = op.get("requestBody").is_some()
            || op["parameters"].as_array().is_some_and(|ps| !ps.is_empty());
        if has_input {
            need(400, "it takes input");
        }
        if !path_params(&doc, &op).is_empty() {
            need(404, "it names a resource");
        }
        match access {
            Access::SignedIn => need(401, "it needs a token"),
            Access::Role => {
                need(401, "it needs a token");
                need(403, "it needs a role");
            }
            Access::Signed => need(401, "it needs a signature"),
            Access::Public => {}
        }
        if !statuses.iter().any(|s| (200..300).contains(s)) {
            problems.push(format!("{m} {p}: no 2xx response"));
        }
        for (status, response) in &responses {
            let response = deref(&doc, response);
            if response["description"]
                .as_str()
                .is_none_or(|d| d.is_empty())
            {
                problems.push(format!("{m} {p} {status}: no description"));
            }
            let code: u16 = status.parse().unwrap_or(0);
            let schema = response["content"]["application/json"]["schema"].clone();
            // Errors are the error body; only a 413 may be plain text alone (refused from
            // `Content-Length` before any route runs).
            if code >= 400 && !(code == 413 && schema.is_null()) {
                if schema.get("$ref").and_then(Value::as_str)
                    != Some("#/components/schemas/ErrorBody")
                {
                    problems.push(format!("{m} {p} {status}: not the error body: {schema}"));
                }
            } else if (200..300).contains(&code) {
                let content = response["content"].as_object().cloned().unwrap_or_default();
                if content.is_empty() {
                    problems.push(format!("{m} {p} {status}: no content"));
                }
                if !schema.is_null() {
                    // JSON successes are the `{"data", "meta"}` envelope.
                    let body = deref(&doc, &schema);
                    let required: Vec<&str> = body["required"]
                        .as_array()
                        .map(|r| r.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    if !(required.contains(&"data") && required.contains(&"meta")) {
                        problems.push(format!("{m} {p} {status}: not a data/meta envelope"));
                    }
                }
            }
        }
        if m == "POST"
            && p != "/v1/mock-payment/{paymentId}/confirm"
            && p != "/v1/mock-payment/{paymentId}/decline"
            && op["requestBody"]["content"]["application/json"]["schema"].is_null()
        {
            problems.push(format!("{m} {p}: no JSON request body"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    t.stop().await;
}

async fn refs_resolve(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let doc = fetch_document(&t).await;
    fn walk(doc: &Value, v: &Value, at: &str, refs: &mut usize, bad: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    if k == "$ref" {
                        *refs += 1;
                        let ok = child
                            .as_str()
                            .is_some_and(|r| resolve_ref(doc, r).is_some());
                        if !ok {
                            bad.push(format!("{at}: {child}"));
                        }
                    } else {
                        walk(doc, child, &format!("{at}/{k}"), refs, bad);
                    }
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(doc, child, &format!("{at}/{i}"), refs, bad);
                }
            }
            _ => {}
        }
    }
    let mut refs = 0;
    let mut bad = Vec::new();
    walk(&doc, &doc, "#", &mut refs, &mut bad);
    assert!(
        bad.is_empty(),
        "$refs that do not resolve in components: {bad:#?}"
    );
    assert!(
        refs > 50,
        "only {refs} $refs: schemas are inlined or missing"
    );

    // The tree is closed: every component schema is reachable, and its own refs resolve too
    // (checked above); a response schema naming a type not in components would have failed.
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for name in [
        "ErrorBody",
        "Meta",
        "Money",
        "Pagination",
        "OrderDetail",
        "TicketDetail",
    ] {
        assert!(
            schemas.contains_key(name),
            "components.schemas.{name} missing"
        );
    }
    t.stop().await;
}

async fn bearer(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let doc = fetch_document(&t).await;
    let scheme = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");
    assert_eq!(scheme["bearerFormat"], "JWT", "{scheme}");

    let mut problems = Vec::new();
    for (m, p, op) in operations(&doc) {
        let access = access_of(&m, &p);
        let wants_token = matches!(access, Access::SignedIn | Access::Role);
        if is_bearer(&op) != wants_token {
            problems.push(format!(
                "{m} {p}: security {} but access is {access:?}",
                op["security"]
            ));
        }
        // What the server does without a token agrees with the document.
        let path = fill(&p, |name| sample_param(name).to_owned());
        let mut req = t.http.request(
            Method::from_bytes(m.as_bytes()).unwrap(),
            format!("{}{path}", t.base),
        );
        if op.get("requestBody").is_some() {
            req = req.json(&json!({}));
        }
        let status = req.send().await.unwrap().status();
        let refused = status == StatusCode::UNAUTHORIZED;
        let expect_refused = access != Access::Public;
        if refused != expect_refused {
            problems.push(format!(
                "{m} {p}: without a token the server answered {status}"
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    t.stop().await;
}

async fn swagger_ui(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    // `/docs` itself, and the slash form it redirects to.
    let resp = t.http.get(format!("{}/docs", t.base)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let page_url = resp.url().clone();
    assert!(content_type(&resp).starts_with("text/html"));
    let html = resp.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "not Swagger UI: {html}");

    let mut assets = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = html.as_str();
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            let end = rest.find('"').unwrap();
            assets.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    assert!(
        assets.iter().any(|a| a.ends_with(".js")),
        "no script: {assets:?}"
    );
    assert!(
        assets.iter().any(|a| a.ends_with(".css")),
        "no stylesheet: {assets:?}"
    );
    let mut initializer = None;
    for asset in &assets {
        let url = page_url.join(asset).unwrap();
        let resp = t.http.get(url.clone()).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        let body = resp.bytes().await.unwrap();
        assert!(!body.is_empty(), "{url} is empty");
        if asset.contains("swagger-initializer") {
            initializer = Some(String::from_utf8_lossy(&body).into_owned());
        }
    }
    let initializer = initializer.expect("the page loads swagger-initializer.js");
    assert!(
        initializer.contains("/v1/openapi.json"),
        "Swagger UI is not pointed at the document: {initializer}"
    );
    // A path under /docs that is no asset is not a 200 page of something else.
    let r = t
        .http
        .get(format!("{}/docs/no-such-asset.js", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    t.stop().await;
}

// ---------------------------------------------------------------------------------- conformance

/// A client that checks every exchange against the document.
struct Checked {
    t: TestServer,
    doc: Value,
    /// No redirects: the 303 of a form post is itself a documented response.
    http: reqwest::Client,
    problems: Vec<String>,
    seen: BTreeMap<(String, String), BTreeSet<u16>>,
}

struct Answer {
    status: u16,
    body: Value,
}

impl Answer {
    fn data(&self) -> &Value {
        &self.body["data"]
    }
}

impl Checked {
    /// Send `method concrete_path` for the operation at `template`, validating the request body
    /// against its request schema, and the status and response body against its responses.
    async fn call(
        &mut self,
        method: Method,
        template: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let key = (method.as_str().to_owned(), template.to_owned());
        let op = self.doc["paths"][template][method.as_str().to_ascii_lowercase()].clone();
        if op.is_null() {
            panic!("{method} {template} is not in the document");
        }
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.t.base));
        let mut request_errors = Vec::new();
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = &body {
            match op["requestBody"]["content"]["application/json"].get("schema") {
                Some(schema) => request_errors = errors_of(&self.doc, schema, b),
                None => self.problems.push(format!(
                    "request {method} {template}: no JSON body documented"
                )),
            }
            let raw = serde_json::to_vec(b).unwrap();
            req = req.header("content-type", "application/json").body(raw);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        // The request schema and the server agree: a body the document rejects is a 400, and a
        // body it accepts is never refused for its shape (a 400 then names a value, not a type).
        if !request_errors.is_empty() && status != 400 {
            self.problems.push(format!(
                "request {method} {template}: the document rejects it ({request_errors:?}) \
                 but the server answered {status}"
            ));
        }
        let ct = content_type(&resp);
        let text = resp.text().await.unwrap_or_default();
        let parsed = serde_json::from_str(&text).unwrap_or(Value::Null);
        let reason = parsed["error"]["details"]["reason"].as_str().unwrap_or("");
        if body.is_some()
            && request_errors.is_empty()
            && status == 400
            && (reason.contains("invalid type") || reason.contains("missing field"))
        {
            self.problems.push(format!(
                "request {method} {template}: the document accepts it but the server refused \
                 its shape: {text}"
            ));
        }
        self.seen.entry(key).or_default().insert(status);
        check_response(
            &self.doc,
            &op,
            &format!("{method} {path}"),
            status,
            &ct,
            &text,
            &parsed,
            &mut self.problems,
        );
        Answer {
            status,
            body: parsed,
        }
    }

    async fn get(&mut self, template: &str, path: &str, token: Option<&str>) -> Answer {
        self.call(Method::GET, template, path, token, None, &[])
            .await
    }

    async fn post(
        &mut self,
        template: &str,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> Answer {
        self.call(Method::POST, template, path, token, Some(body), &[])
            .await
    }
}

fn venue_body() -> Value {
    let seats = |area: &str, n: usize| -> Vec<Value> {
        (1..=n)
            .map(|i| {
                json!({"seatId": format!("{area}-{i:03}"), "row": "1", "number": i,
                       "x": 10 * i, "y": 0, "type": "Normal"})
            })
            .collect()
    };
    json!({
        "name": "台北小巨蛋",
        "address": {"country": "TW", "city": "台北市", "street": "南京東路四段2號", "postalCode": "105"},
        "capacity": 30,
        "seatMap": {"areas": [
            {"areaId": "VIP", "name": "VIP 區", "seats": seats("VIP", 10)},
            {"areaId": "A", "name": "A 區", "seats": seats("A", 10)},
            {"areaId": "B", "name": "B 區", "seats": seats("B", 10)},
        ]},
    })
}

fn event_body(venue_id: &str) -> Value {
    let tz = FixedOffset::east_opt(8 * 3600).unwrap();
    let now = Utc::now().with_timezone(&tz);
    let t = |d: ChronoDuration| (now + d).to_rfc3339();
    json!({
        "name": "五月天演唱會",
        "description": "2025 巡迴演唱會",
        "venueId": venue_id,
        "sessions": [{
            "startTime": t(ChronoDuration::days(2)),
            "endTime": t(ChronoDuration::days(2) + ChronoDuration::hours(3)),
            "saleStartTime": t(-ChronoDuration::hours(1)),
            "saleEndTime": t(ChronoDuration::days(1)),
        }],
        "priceCategories": [
            {"categoryId": "VIP", "name": "VIP 區", "areaIds": ["VIP"], "price": {"amount": 6800, "currency": "TWD"}},
            {"categoryId": "A", "name": "A 區", "areaIds": ["A"], "price": {"amount": "4800", "currency": "TWD"}},
        ],
    })
}

fn sign_mock(body: &[u8]) -> String {
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b"mock-webhook-secret"),
        body,
    );
    format!("sha256={}", hex::encode(tag))
}

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

/// A whole OpenTicket flow, successes and failures, every exchange checked against the document;
/// then every operation must have had a 2xx checked.
async fn conformance(db: Arc<TestDb>) {
    // A local OpenID provider for `POST /v1/auth/oauth/{provider}` (tessera_tests::oidc).
    let google = tessera_tests::oidc::LocalOidc::start(
        "client-1.apps.googleusercontent.com",
        tessera_tests::oidc::SigningKey::rsa("k1"),
        tessera_tests::oidc::ClientAuth::Secret("secret-1".into()),
    )
    .await;
    let mut config = tessera_tests::http::server_config();
    config.oauth.oauth_google_client_id = Some("client-1.apps.googleusercontent.com".into());
    config.oauth.oauth_google_client_secret = Some("secret-1".into());
    config.oauth.oauth_google_token_url = google.token_url();
    config.oauth.oauth_google_jwks_url = google.jwks_url();
    config.oauth.oauth_google_issuer = google.issuer();
    let t = TestServer::start_with(&db, config).await;
    let doc = fetch_document(&t).await;
    validator_rejects_what_it_should(&doc);
    let admin = t.admin().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut c = Checked {
        t,
        doc,
        http,
        problems: Vec::new(),
        seen: BTreeMap::new(),
    };

    // --- identity
    let r = c
        .post(
            "/v1/auth/register",
            "/v1/auth/register",
            None,
            json!({"email": "org@example.com", "password": "correct horse battery", "displayName": "Org"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let organizer_id = s(&r.data()["userId"]);
    let r = c
        .post(
            "/v1/auth/register",
            "/v1/auth/register",
            None,
            json!({"email": "org@example.com", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(r.status, 409);
    let r = c
        .post(
            "/v1/auth/register",
            "/v1/auth/register",
            None,
            json!({"email": 5}),
        )
        .await;
    assert_eq!(r.status, 400);
    for email in ["staff@example.com", "buyer@example.com"] {
        let r = c
            .post(
                "/v1/auth/register",
                "/v1/auth/register",
                None,
                json!({"email": email, "password": "correct horse battery"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let login = |email: &'static str| json!({"email": email, "password": "correct horse battery"});
    let oauth = "/v1/auth/oauth/{provider}";
    let mut claims = google.claims("google-sub-1");
    claims["email"] = json!("oauth@example.com");
    claims["email_verified"] = json!(true);
    let code = google.code_for("https://app.example/cb", claims);
    let body = json!({"code": code, "redirectUri": "https://app.example/cb"});
    let r = c
        .post(oauth, "/v1/auth/oauth/google", None, body.clone())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .post(oauth, "/v1/auth/oauth/google", None, body.clone())
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = c
        .post(oauth, "/v1/auth/oauth/apple", None, body.clone())
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = c
        .post(oauth, "/v1/auth/oauth/google", None, json!({"code": 1}))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = c
        .post(
            "/v1/auth/login",
            "/v1/auth/login",
            None,
            login("buyer@example.com"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let buyer = s(&r.data()["accessToken"]);
    let refresh_token = s(&r.data()["refreshToken"]);
    let r = c
        .post(
            "/v1/auth/login",
            "/v1/auth/login",
            None,
            json!({"email": "buyer@example.com", "password": "wrong"}),
        )
        .await;
    assert_eq!(r.status, 401);
    // Over the server's 1 MiB limit: refused up front, as documented.
    let big = json!({"email": "a".repeat(1_100_000), "password": "x"});
    let r = c.post("/v1/auth/login", "/v1/auth/login", None, big).await;
    assert_eq!(r.status, 413);
    let r = c
        .post(
            "/v1/auth/refresh",
            "/v1/auth/refresh",
            None,
            json!({"refreshToken": refresh_token}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let newer = s(&r.data()["refreshToken"]);
    let r = c
        .post(
            "/v1/auth/refresh",
            "/v1/auth/refresh",
            None,
            json!({"refreshToken": "nonsense"}),
        )
        .await;
    assert_eq!(r.status, 401);
    let r = c
        .post(
            "/v1/auth/logout",
            "/v1/auth/logout",
            None,
            json!({"refreshToken": newer}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Signing out ends the session's access tokens too; the buyer signs in again for the rest.
    let r = c.get("/v1/auth/me", "/v1/auth/me", Some(&buyer)).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = c
        .post(
            "/v1/auth/login",
            "/v1/auth/login",
            None,
            login("buyer@example.com"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let buyer = s(&r.data()["accessToken"]);
    let r = c.get("/v1/auth/me", "/v1/auth/me", Some(&buyer)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c.get("/v1/auth/me", "/v1/auth/me", None).await;
    assert_eq!(r.status, 401);

    let roles = "/v1/admin/users/{userId}/roles";
    let r = c
        .post(
            roles,
            &format!("/v1/admin/users/{organizer_id}/roles"),
            Some(&admin),
            json!({"role": "organizer"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .post(
            roles,
            &format!("/v1/admin/users/{organizer_id}/roles"),
            Some(&buyer),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = c
        .post(
            roles,
            "/v1/admin/users/00000000-0000-0000-0000-000000000000/roles",
            Some(&admin),
            json!({"role": "staff"}),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = c
        .post(
            roles,
            "/v1/admin/users/nope/roles",
            Some(&admin),
            json!({"role": "staff"}),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = c
        .post(
            "/v1/auth/login",
            "/v1/auth/login",
            None,
            login("staff@example.com"),
        )
        .await;
    let staff_id = {
        let me = c
            .get(
                "/v1/auth/me",
                "/v1/auth/me",
                Some(&s(&r.data()["accessToken"])),
            )
            .await;
        s(&me.data()["userId"])
    };
    for role in ["staff", "auditor"] {
        let r = c
            .post(
                roles,
                &format!("/v1/admin/users/{staff_id}/roles"),
                Some(&admin),
                json!({ "role": role }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = c
        .call(
            Method::DELETE,
            "/v1/admin/users/{userId}/roles/{role}",
            &format!("/v1/admin/users/{staff_id}/roles/auditor"),
            Some(&admin),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let organizer = s(&c
        .post(
            "/v1/auth/login",
            "/v1/auth/login",
            None,
            login("org@example.com"),
        )
        .await
        .data()["accessToken"]);
    let staff = s(&c
        .post(
            "/v1/auth/login",
            "/v1/auth/login",
            None,
            login("staff@example.com"),
        )
        .await
        .data()["accessToken"]);

    // --- venues and events
    let r = c
        .post("/v1/venues", "/v1/venues", Some(&admin), venue_body())
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let venue_id = s(&r.data()["venueId"]);
    let r = c
        .post("/v1/venues", "/v1/venues", Some(&organizer), venue_body())
        .await;
    assert_eq!(r.status, 403);
    let r = c.post("/v1/venues", "/v1/venues", None, venue_body()).await;
    assert_eq!(r.status, 401);
    let r = c
        .get(
            "/v1/venues",
            "/v1/venues?page=1&pageSize=5&city=台北市",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c.get("/v1/venues", "/v1/venues?pageSize=1000", None).await;
    assert_eq!(r.status, 400);
    let r = c
        .get(
            "/v1/venues/{venueId}",
            &format!("/v1/venues/{venue_id}"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .get(
            "/v1/venues/{venueId}",
            "/v1/venues/00000000-0000-0000-0000-000000000000",
            None,
        )
        .await;
    assert_eq!(r.status, 404);

    let r = c
        .post(
            "/v1/events",
            "/v1/events",
            Some(&organizer),
            event_body(&venue_id),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let event_id = s(&r.data()["eventId"]);
    let session_id = s(&r.data()["sessions"][0]["sessionId"]);
    let mut bad_event = event_body(&venue_id);
    bad_event["sessions"][0]["startTime"] = json!("tomorrow");
    let r = c
        .post("/v1/events", "/v1/events", Some(&organizer), bad_event)
        .await;
    assert_eq!(r.status, 400);
    let r = c
        .post(
            "/v1/events",
            "/v1/events",
            Some(&organizer),
            event_body("00000000-0000-0000-0000-000000000000"),
        )
        .await;
    assert_eq!(
        r.status, 400,
        "an unknown venue is a bad `venueId`: {}",
        r.body
    );
    let r = c
        .get(
            "/v1/events",
            &format!("/v1/events?venueId={venue_id}&status=OnSale&startDate=2000-01-01"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.data()["items"].as_array().map(Vec::len), Some(1));
    let r = c.get("/v1/events", "/v1/events?status=Sold", None).await;
    assert_eq!(r.status, 400);
    let r = c
        .get(
            "/v1/events/{eventId}",
            &format!("/v1/events/{event_id}"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // --- seats
    let seats_t = "/v1/sessions/{sessionId}/seats";
    let lock_t = "/v1/sessions/{sessionId}/seats/lock";
    let lock_p = format!("/v1/sessions/{session_id}/seats/lock");
    let r = c
        .get(seats_t, &format!("/v1/sessions/{session_id}/seats"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .post(
            lock_t,
            &lock_p,
            Some(&buyer),
            json!({"seatIds": ["VIP-001", "A-001", "A-002"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .post(
            lock_t,
            &lock_p,
            Some(&admin),
            json!({"seatIds": ["VIP-001"]}),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["error"]["code"], "SEAT_UNAVAILABLE");
    let r = c
        .post(lock_t, &lock_p, Some(&buyer), json!({"seatIds": "VIP-002"}))
        .await;
    assert_eq!(r.status, 400);
    let r = c
        .call(
            Method::DELETE,
            lock_t,
            &lock_p,
            Some(&buyer),
            Some(json!({"seatIds": ["A-002"]})),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .get(
            "/v1/sessions/{sessionId}/seats",
            &format!("/v1/sessions/{session_id}/seats"),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    // A locked seat (no price shown), a free one, and one in an unpriced area (price null).
    for seat in ["VIP-001", "A-003", "B-001"] {
        let r = c
            .get(
                "/v1/sessions/{sessionId}/seats/{seatId}",
                &format!("/v1/sessions/{session_id}/seats/{seat}"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = c
        .get(
            "/v1/sessions/{sessionId}/seats/{seatId}",
            &format!("/v1/sessions/{session_id}/seats/Z-999"),
            None,
        )
        .await;
    assert_eq!(r.status, 404);

    // --- orders, payments, tickets
    let place = |seats: &[&str]| json!({"sessionId": session_id, "seatIds": seats, "paymentProvider": "Mock"});
    let r = c
        .post(
            "/v1/orders",
            "/v1/orders",
            Some(&buyer),
            place(&["VIP-001"]),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let paid_order = r.data().clone();
    let r = c
        .post("/v1/orders", "/v1/orders", Some(&buyer), place(&["A-001"]))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let cancelled_order = s(&r.data()["orderId"]);
    let r = c
        .post("/v1/orders", "/v1/orders", Some(&buyer), place(&["A-009"]))
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let r = c
        .post(
            "/v1/orders",
            "/v1/orders",
            Some(&buyer),
            json!({"sessionId": session_id, "seatIds": ["A-005"], "paymentProvider": "Cash"}),
        )
        .await;
    assert_eq!(r.status, 400);

    // Decline then confirm on the page, as a browser would (303) and as a script would (JSON).
    let payment_id = s(&paid_order["payment"]["paymentId"]);
    let page_t = "/v1/mock-payment/{paymentId}";
    let r = c
        .get(page_t, &format!("/v1/mock-payment/{payment_id}"), None)
        .await;
    assert_eq!(r.status, 200);
    // Stripe Checkout's return pages (HTML, like the Mock page).
    for page in ["/v1/payments/stripe/success", "/v1/payments/stripe/cancel"] {
        let r = c
            .get(page, &format!("{page}?session_id=cs_test_1"), None)
            .await;
        assert_eq!(r.status, 200, "{page}");
    }
    let r = c
        .call(
            Method::POST,
            "/v1/mock-payment/{paymentId}/decline",
            &format!("/v1/mock-payment/{payment_id}/decline"),
            None,
            None,
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_eq!(r.status, 303);
    let r = c
        .call(
            Method::POST,
            "/v1/mock-payment/{paymentId}/decline",
            &format!("/v1/mock-payment/{payment_id}/decline"),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .call(
            Method::POST,
            "/v1/mock-payment/{paymentId}/confirm",
            &format!("/v1/mock-payment/{payment_id}/confirm"),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .call(
            Method::POST,
            "/v1/mock-payment/{paymentId}/confirm",
            "/v1/mock-payment/00000000-0000-0000-0000-000000000000/confirm",
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 404);

    // A duplicate webhook for the paid order (accepted), an unknown type (ignored), a forged one.
    let order_id = s(&paid_order["orderId"]);
    let hook_t = "/v1/webhooks/payment/{provider}";
    let event = json!({"id": "evt_conformance", "type": "payment.succeeded",
                       "data": {"orderId": order_id, "paymentId": payment_id}});
    let raw = serde_json::to_vec(&event).unwrap();
    let sig = sign_mock(&raw);
    let r = c
        .call(
            Method::POST,
            hook_t,
            "/v1/webhooks/payment/mock",
            None,
            Some(event.clone()),
            &[("x-webhook-signature", &sig)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .call(
            Method::POST,
            hook_t,
            "/v1/webhooks/payment/mock",
            None,
            Some(event.clone()),
            &[("x-webhook-signature", "sha256=00")],
        )
        .await;
    assert_eq!(r.status, 401);
    let r = c
        .call(
            Method::POST,
            hook_t,
            "/v1/webhooks/payment/paypal",
            None,
            Some(event),
            &[],
        )
        .await;
    assert_eq!(r.status, 404);

    let path = format!("/v1/orders/{order_id}");
    let mut completed = Value::Null;
    for _ in 0..300 {
        let r = c.get("/v1/orders/{orderId}", &path, Some(&buyer)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        if r.data()["status"] == "Completed" {
            completed = r.data().clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        completed["status"], "Completed",
        "the paid order never completed"
    );
    let r = c.get("/v1/orders/{orderId}", &path, Some(&organizer)).await;
    assert_eq!(r.status, 404, "someone else's order");
    let r = c
        .get(
            "/v1/orders",
            "/v1/orders?page=1&pageSize=10&status=Completed",
            Some(&buyer),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c.get("/v1/orders", "/v1/orders", Some(&buyer)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .get("/v1/orders", "/v1/orders?status=Lost", Some(&buyer))
        .await;
    assert_eq!(r.status, 400);

    let cancel_t = "/v1/orders/{orderId}";
    let r = c
        .call(
            Method::DELETE,
            cancel_t,
            &format!("/v1/orders/{cancelled_order}"),
            Some(&buyer),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .get(
            cancel_t,
            &format!("/v1/orders/{cancelled_order}"),
            Some(&buyer),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .call(Method::DELETE, cancel_t, &path, Some(&buyer), None, &[])
        .await;
    assert_eq!(
        r.status, 409,
        "a paid order cannot be cancelled: {}",
        r.body
    );

    let ticket_id = s(&completed["items"][0]["ticketId"]);
    let r = c
        .get("/v1/tickets", "/v1/tickets?pageSize=5", Some(&buyer))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .get(
            "/v1/tickets/{ticketId}",
            &format!("/v1/tickets/{ticket_id}"),
            Some(&buyer),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let qr_code = s(&r.data()["qrCode"]);
    let r = c
        .get(
            "/v1/tickets/{ticketId}",
            &format!("/v1/tickets/{ticket_id}"),
            Some(&staff),
        )
        .await;
    assert_eq!(r.status, 404, "someone else's ticket");
    let verify_t = "/v1/tickets/{ticketId}/verify";
    let verify_p = format!("/v1/tickets/{ticket_id}/verify");
    let r = c
        .post(
            verify_t,
            &verify_p,
            Some(&buyer),
            json!({"qrCode": qr_code}),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = c
        .post(
            verify_t,
            &verify_p,
            Some(&staff),
            json!({"qrCode": "OPENTICKET-forged"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.data()["valid"], false);
    let r = c
        .post(
            verify_t,
            &verify_p,
            Some(&staff),
            json!({"qrCode": qr_code}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .post(
            verify_t,
            &verify_p,
            Some(&staff),
            json!({"qrCode": qr_code}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.data()["reason"], "ALREADY_USED");
    let r = c
        .get(
            "/v1/tickets/{ticketId}",
            &format!("/v1/tickets/{ticket_id}"),
            Some(&buyer),
        )
        .await;
    assert_eq!(r.status, 200, "a used ticket: {}", r.body);

    // Every operation had a documented success checked against its schema.
    let mut unchecked = Vec::new();
    for (m, p, _) in EXPECTED {
        let ok = c
            .seen
            .get(&((*m).to_owned(), (*p).to_owned()))
            .is_some_and(|statuses| statuses.iter().any(|s| (200..300).contains(s)));
        if !ok {
            unchecked.push(format!("{m} {p}"));
        }
    }
    let Checked { t, problems, .. } = c;
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(unchecked.is_empty(), "no success checked for {unchecked:?}");
    t.stop().await;
}
