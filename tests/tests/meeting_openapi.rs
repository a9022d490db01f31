//! The OpenAPI document of the meeting-ticket API (seed 000) over real HTTP, on SQLite and
//! PostgreSQL: `GET /meeting/openapi.json` is OpenAPI 3.1; it lists exactly the routes seed 000
//! names plus the additions docs/meeting-tickets.md records, each with its success and error
//! responses; every `$ref` resolves; the bearer scheme (and the `access_token` cookie) is declared
//! and required exactly where the server asks for a token; `/docs` lists this document beside
//! OpenTicket's; and the real requests and responses of a whole flow (SMS code, WeChat token, user,
//! tokens, meetings and grades, orders paid by Mock and by the WeChat Pay sandbox, transactions,
//! tickets and claims, and their 4xx) match the documented schemas, with no property the schemas
//! do not declare. The schemas are validated the way tests/tests/openapi.rs validates OpenTicket's
//! (`tessera_tests::openapi`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration as ChronoDuration, Utc};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tessera_tests::http::{TestServer, server_config};
use tessera_tests::openapi::{
    check_operations, check_response, deref, errors_of, fill, operations, params_in, path_params,
    refs, requires, response_schema,
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
        .case("bearer_security_exactly_on_protected_routes", bearer)
        .case("docs_lists_both_documents", docs_lists_both)
        .case("real_requests_and_responses_match_the_schemas", conformance)
        .run()
}

// ---------------------------------------------------------------------------------- expectations

const DOCUMENT: &str = "/meeting/openapi.json";

/// Who may call a route, as seed 000 and docs/meeting-tickets.md say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Anyone, no token ("除了前六个API 其余的都需要权限验证": sign-in and reading meetings).
    Public,
    /// `GET /users/current`: a bearer token, the `access_token` cookie or the `wechatToken`
    /// cookie; 401 with none.
    Current,
    /// Any signed-in user ("以下API全部需要在header中有Authorization"; the `access_token` cookie
    /// works too).
    SignedIn,
    /// An organizer of the meeting or an admin: token, and 403 without the role.
    Organizer,
    /// WeChat Pay: signed by `Wechatpay-*` headers, no token.
    WechatPay,
}

/// Every operation Tessera serves for seed 000, written from the seed document's routes (§1–§8,
/// with `{id}` for its `:id`) plus Tessera's additions in docs/meeting-tickets.md (the organizer's
/// writes and WeChat Pay's notification). Not from the code under test.
const EXPECTED: &[(&str, &str, Access)] = &[
    ("POST", "/users", Access::Public),
    ("GET", "/users/current", Access::Current),
    ("POST", "/tokens", Access::Public),
    ("POST", "/wechat_tokens", Access::Public),
    ("POST", "/smsCodes", Access::Public),
    ("GET", "/meetings/{id}", Access::Public),
    ("GET", "/meetings", Access::Public),
    ("POST", "/orders", Access::SignedIn),
    ("GET", "/orders", Access::SignedIn),
    ("GET", "/orders/{id}", Access::SignedIn),
    ("PATCH", "/orders/{id}", Access::SignedIn),
    ("GET", "/payment_methods", Access::SignedIn),
    ("POST", "/transactions", Access::SignedIn),
    ("POST", "/third_party_transactions", Access::SignedIn),
    ("GET", "/tickets", Access::SignedIn),
    ("GET", "/tickets/{id}", Access::SignedIn),
    ("PATCH", "/tickets/{id}", Access::SignedIn),
    // docs/meeting-tickets.md: the organizer's writes and WeChat Pay's notify_url.
    ("POST", "/meetings", Access::Organizer),
    ("PATCH", "/meetings/{id}", Access::Organizer),
    ("POST", "/meetings/{id}/ticket_grades", Access::Organizer),
    (
        "PATCH",
        "/meetings/{id}/ticket_grades/{gradeId}",
        Access::Organizer,
    ),
    ("POST", "/wechatpay/notify", Access::WechatPay),
];

/// Operations that never read or write the store, so they cannot answer 503.
const NO_STORE: &[(&str, &str)] = &[("GET", "/payment_methods"), ("POST", "/wechatpay/notify")];

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
        "id" | "gradeId" => "00000000-0000-0000-0000-000000000000",
        other => panic!("no sample value for path parameter {other}: add one"),
    }
}

// ------------------------------------------------------------------------------------- fetching

fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

async fn fetch(t: &TestServer, path: &str) -> Value {
    let resp = t
        .http
        .get(format!("{}{path}", t.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(resp.status(), StatusCode::OK, "GET {path}");
    let ct = content_type(&resp);
    assert!(
        ct.starts_with("application/json"),
        "{path}: content type {ct}"
    );
    resp.json().await.expect("the document is JSON")
}

async fn fetch_document(t: &TestServer) -> Value {
    fetch(t, DOCUMENT).await
}

/// Send `method path` with no credentials and, when the operation takes one, an empty JSON body.
async fn probe(t: &TestServer, method: &str, template: &str, op: &Value) -> (u16, String) {
    let path = fill(template, |name| sample_param(name).to_owned());
    let mut req = t.http.request(
        Method::from_bytes(method.as_bytes()).unwrap(),
        format!("{}{path}", t.base),
    );
    if op.get("requestBody").is_some() {
        req = req.json(&json!({}));
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

/// The validator itself must be able to fail, or the conformance case proves nothing.
fn validator_rejects_what_it_should(doc: &Value) {
    let order = json!({"$ref": "#/components/schemas/Order"});
    let good = json!({
        "id": "0190c9a4-e0b8-7d21-a1f3-c2b4d5e6f708", "userId": "0190c9a4-e0b8-7d21-a1f3-c2b4d5e6f709",
        "items": [{"ticketGradeId": "0190c9a4-e0b8-7d21-a1f3-c2b4d5e6f70a", "ticketGradeName": "普通票",
                   "ticketPrice": 99.5, "ticketAmount": 2, "meetingId": "0190c9a4-e0b8-7d21-a1f3-c2b4d5e6f70b"}],
        "meetingId": "0190c9a4-e0b8-7d21-a1f3-c2b4d5e6f70b", "paymentMethodId": "mock",
        "duyPayment": 199, "status": "待支付", "expiresAt": "2025-03-01T02:15:00Z",
        "createdAt": "2025-03-01T02:00:00Z", "paidAt": null, "transactionId": null,
        "transaction": {"thirdPartyTransactionInfo": null}, "refund": null,
    });
    assert!(
        errors_of(doc, &order, &good).is_empty(),
        "{:?}",
        errors_of(doc, &order, &good)
    );
    let mut extra = good.clone();
    extra["secret"] = json!("leaked");
    assert!(
        !errors_of(doc, &order, &extra).is_empty(),
        "undeclared property accepted"
    );
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("refund");
    assert!(
        !errors_of(doc, &order, &missing).is_empty(),
        "missing property accepted"
    );
    let mut wrong = good.clone();
    wrong["status"] = json!("paid");
    assert!(
        !errors_of(doc, &order, &wrong).is_empty(),
        "unknown status accepted"
    );
    let mut fen = good.clone();
    fen["duyPayment"] = json!("199.00");
    assert!(
        !errors_of(doc, &order, &fen).is_empty(),
        "money as a string accepted"
    );
    let mut params = good;
    params["transaction"]["thirdPartyTransactionInfo"] = json!({"prepay": "x"});
    assert!(
        !errors_of(doc, &order, &params).is_empty(),
        "payment parameters that are not WeChat Pay's accepted"
    );
}

// ----------------------------------------------------------------------------------------- cases

async fn document_is_openapi_3_1(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let doc = fetch_document(&t).await;
    let version = doc["openapi"].as_str().unwrap_or("");
    assert!(version.starts_with("3.1"), "openapi = {version:?}");
    assert_eq!(doc["info"]["title"], "Tessera meeting-ticket API");
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
    // Public: no token needed, whatever the caller sends.
    let r = t.get(DOCUMENT, Some("garbage")).await;
    assert_eq!(r.status, 200);
    // OpenTicket's document is still where it was, and holds none of the meeting routes.
    let ot = fetch(&t, "/v1/openapi.json").await;
    assert_eq!(ot["info"]["title"], "Tessera OpenTicket API");
    assert!(
        ot["paths"]
            .as_object()
            .unwrap()
            .keys()
            .all(|p| p.starts_with("/v1/")),
        "OpenTicket's document lists other routes"
    );
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
/// it and a body that matches the documented schema.
async fn operations_are_served(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let doc = fetch_document(&t).await;
    let mut problems = Vec::new();
    for (m, template, op) in operations(&doc) {
        let (status, text) = probe(&t, &m, &template, &op).await;
        // The router's own answers: 405, or the fallback's 404 naming the route in `errors.route`
        // (docs/decisions/0013-errors-at-the-edges.md); a handler's 404 has no `errors`.
        let routed_404 = serde_json::from_str::<Value>(&text)
            .map(|b| b["errors"]["route"].is_null())
            .unwrap_or(true);
        if status == 405 || (status == 404 && !routed_404) {
            problems.push(format!("{m} {template}: not routed ({status})"));
            continue;
        }
        if op["responses"].get(status.to_string()).is_none() {
            problems.push(format!(
                "{m} {template}: answered {status}, which is not documented: {text}"
            ));
            continue;
        }
        if let Some(schema) = response_schema(&doc, &op, status) {
            match serde_json::from_str::<Value>(&text) {
                Ok(body) => {
                    for e in errors_of(&doc, schema, &body) {
                        problems.push(format!("{m} {template} {status}: {e}"));
                    }
                }
                Err(_) => {
                    problems.push(format!("{m} {template} {status}: body is not JSON: {text}"))
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
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
        if !NO_STORE.contains(&(m.as_str(), p.as_str())) {
            need(
                503,
                "every route that reads or writes can meet a failing store",
            );
        }
        let has_input =
            op.get("requestBody").is_some() || !params_in(&doc, &op, "query").is_empty();
        if has_input {
            need(400, "it takes input");
        }
        if !path_params(&doc, &op).is_empty() {
            need(404, "it names a resource");
        }
        match access {
            Access::Current | Access::SignedIn => need(401, "it needs a token"),
            Access::Organizer => {
                need(401, "it needs a token");
                need(403, "it needs the organizer role");
            }
            Access::WechatPay => need(401, "it needs a signature"),
            Access::Public => {}
        }
        if !statuses.iter().any(|s| (200..300).contains(s)) {
            problems.push(format!("{m} {p}: no 2xx response"));
        }
        let error_body = if access == Access::WechatPay {
            "#/components/schemas/WechatPayAck"
        } else {
            "#/components/schemas/ErrorBody"
        };
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
            if code == 500 && access != Access::WechatPay {
                // The body of an unexpected failure is not the document's (the panic handler's).
                continue;
            }
            if code >= 400 {
                if schema.get("$ref").and_then(Value::as_str) != Some(error_body) {
                    problems.push(format!("{m} {p} {status}: not {error_body}: {schema}"));
                }
            } else if (200..300).contains(&code) && code != 204 && schema.is_null() {
                problems.push(format!("{m} {p} {status}: no JSON body"));
            }
        }
        if (m == "POST" || m == "PATCH")
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
    let (count, bad) = refs(&doc);
    assert!(
        bad.is_empty(),
        "$refs that do not resolve in components: {bad:#?}"
    );
    assert!(
        count > 40,
        "only {count} $refs: schemas are inlined or missing"
    );
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for name in [
        "ErrorBody",
        "Meeting",
        "TicketGrade",
        "Order",
        "OrderItem",
        "Ticket",
        "User",
        "Yuan",
        "WechatPayParams",
    ] {
        assert!(
            schemas.contains_key(name),
            "components.schemas.{name} missing"
        );
    }
    // Seed 000's error shape, exactly.
    let error = &schemas["ErrorBody"];
    let mut props: Vec<&str> = error["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    props.sort();
    assert_eq!(props, ["errors", "message", "payload", "type"]);
    t.stop().await;
}

async fn bearer(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let doc = fetch_document(&t).await;
    let schemes = &doc["components"]["securitySchemes"];
    let scheme = &schemes["bearerAuth"];
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");
    assert_eq!(scheme["bearerFormat"], "JWT", "{scheme}");
    for (name, cookie) in [
        ("accessTokenCookie", "access_token"),
        ("wechatTokenCookie", "wechatToken"),
    ] {
        let s = &schemes[name];
        assert_eq!(
            (&s["type"], &s["in"], &s["name"]),
            (&json!("apiKey"), &json!("cookie"), &json!(cookie)),
            "{name}: {s}"
        );
    }

    let mut problems = Vec::new();
    for (m, p, op) in operations(&doc) {
        let access = access_of(&m, &p);
        let wants_token = matches!(
            access,
            Access::Current | Access::SignedIn | Access::Organizer
        );
        if requires(&op, "bearerAuth") != wants_token {
            problems.push(format!(
                "{m} {p}: security {} but access is {access:?}",
                op["security"]
            ));
        }
        if requires(&op, "accessTokenCookie") != wants_token {
            problems.push(format!(
                "{m} {p}: the access_token cookie: security {}",
                op["security"]
            ));
        }
        if requires(&op, "wechatTokenCookie") != (access == Access::Current) {
            problems.push(format!(
                "{m} {p}: the wechatToken cookie: security {}",
                op["security"]
            ));
        }
        // What the server does without a token agrees with the document.
        let (status, text) = probe(&t, &m, &p, &op).await;
        match access {
            Access::Public if status == 401 => {
                problems.push(format!("{m} {p}: public, but answered 401: {text}"))
            }
            Access::Current | Access::SignedIn | Access::Organizer if status != 401 => problems
                .push(format!(
                    "{m} {p}: without a token the server answered {status}: {text}"
                )),
            Access::WechatPay if (200..300).contains(&status) => problems.push(format!(
                "{m} {p}: an unsigned notification was accepted ({status})"
            )),
            _ => {}
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");

    // The token works from the `access_token` cookie too, and a bad bearer token is refused.
    let admin = t.admin().await;
    let r = t
        .http
        .get(format!("{}/orders", t.base))
        .header("cookie", format!("access_token={admin}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(t.get("/orders", Some("garbage")).await.status, 401);
    t.stop().await;
}

async fn docs_lists_both(db: Arc<TestDb>) {
    let t = TestServer::start(&db).await;
    let resp = t.http.get(format!("{}/docs", t.base)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let page_url = resp.url().clone();
    assert!(content_type(&resp).starts_with("text/html"));
    let html = resp.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "not Swagger UI: {html}");
    let script = html
        .split("src=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .find(|s| s.contains("swagger-initializer"))
        .expect("the page loads swagger-initializer.js");
    let initializer = t
        .http
        .get(page_url.join(script).unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (name, path) in [
        ("OpenTicket (seed 003)", "/v1/openapi.json"),
        ("Meeting tickets (seed 000)", DOCUMENT),
    ] {
        assert!(
            initializer.contains(path) && initializer.contains(name),
            "Swagger UI does not list {name} at {path}: {initializer}"
        );
        // And the listed document is served there.
        let doc = fetch(&t, path).await;
        assert!(doc["openapi"].as_str().unwrap_or("").starts_with("3.1"));
    }
    assert!(
        initializer.contains("\"urls\""),
        "Swagger UI shows one document only: {initializer}"
    );
    t.stop().await;
}

// ---------------------------------------------------------------------------------- conformance

/// How a request authenticates.
#[derive(Clone, Copy)]
enum Auth<'a> {
    None,
    Bearer(&'a str),
    Cookie(&'a str),
}

/// A client that checks every exchange against the document.
struct Checked {
    t: TestServer,
    doc: Value,
    problems: Vec<String>,
    seen: BTreeMap<(String, String), BTreeSet<u16>>,
}

struct Answer {
    status: u16,
    body: Value,
}

impl Checked {
    /// Send `method path` for the operation at `template`, validating the request body against
    /// its request schema, and the status and response body against its responses.
    async fn call(
        &mut self,
        method: Method,
        template: &str,
        path: &str,
        auth: Auth<'_>,
        body: Option<Value>,
    ) -> Answer {
        let key = (method.as_str().to_owned(), template.to_owned());
        let op = self.doc["paths"][template][method.as_str().to_ascii_lowercase()].clone();
        if op.is_null() {
            panic!("{method} {template} is not in the document");
        }
        let mut req = self
            .t
            .http
            .request(method.clone(), format!("{}{path}", self.t.base));
        match auth {
            Auth::None => {}
            Auth::Bearer(token) => req = req.bearer_auth(token),
            Auth::Cookie(cookie) => req = req.header("cookie", cookie),
        }
        let mut request_errors = Vec::new();
        if let Some(b) = &body {
            match op["requestBody"]["content"]["application/json"].get("schema") {
                Some(schema) => request_errors = errors_of(&self.doc, schema, b),
                None => self.problems.push(format!(
                    "request {method} {template}: no JSON body documented"
                )),
            }
            req = req.json(b);
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
        let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let shape_refused = parsed["errors"].as_object().is_some_and(|errors| {
            errors.values().filter_map(Value::as_str).any(|m| {
                m.contains("invalid type")
                    || m.contains("missing field")
                    || m.contains("unknown field")
            })
        });
        if body.is_some() && request_errors.is_empty() && status == 400 && shape_refused {
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
        let auth = token.map_or(Auth::None, Auth::Bearer);
        self.call(Method::GET, template, path, auth, None).await
    }

    async fn post(&mut self, path: &str, token: Option<&str>, body: Value) -> Answer {
        let auth = token.map_or(Auth::None, Auth::Bearer);
        self.call(Method::POST, path, path, auth, Some(body)).await
    }

    async fn send(
        &mut self,
        method: Method,
        template: &str,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> Answer {
        let auth = token.map_or(Auth::None, Auth::Bearer);
        self.call(method, template, path, auth, Some(body)).await
    }

    fn last_code(&self, phone: &str) -> String {
        self.t
            .server
            .services
            .console_sms
            .as_ref()
            .expect("console SMS sender")
            .last_code(phone)
            .expect("a code was sent")
    }
}

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

/// A server configured with the WeChat Pay sandbox (`tessera wechatpay-sandbox`) beside Mock, a
/// 2 s SMS cool-down, and the development WeChat verifier (`dev:{wechatId}`).
async fn server_with_sandbox(db: &TestDb) -> (TestServer, std::net::SocketAddr, tempfile::TempDir) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prepared = tessera_api::sandbox::prepare(dir.path(), addr).unwrap();
    tokio::spawn(async move { axum::serve(listener, prepared.router).await });
    let env: HashMap<String, String> = prepared.env.into_iter().collect();
    let mut config = server_config();
    let m = &mut config.meeting;
    m.sms_cooldown_secs = 2;
    m.wechat_app_id = Some(env["TESSERA_WECHAT_APP_ID"].clone());
    m.wechatpay_mch_id = Some(env["TESSERA_WECHATPAY_MCH_ID"].clone());
    m.wechatpay_serial_no = env["TESSERA_WECHATPAY_SERIAL_NO"].clone();
    m.wechatpay_private_key_file = Some(env["TESSERA_WECHATPAY_PRIVATE_KEY_FILE"].clone().into());
    m.wechatpay_api_v3_key = Some(SecretString::from(
        env["TESSERA_WECHATPAY_API_V3_KEY"].clone(),
    ));
    m.wechatpay_platform_keys = env["TESSERA_WECHATPAY_PLATFORM_KEYS"].clone();
    m.wechatpay_api_base = env["TESSERA_WECHATPAY_API_BASE"].clone();
    (TestServer::start_with(db, config).await, addr, dir)
}

/// A whole seed 000 flow, successes and failures, every exchange checked against the document;
/// then every operation must have had a 2xx checked.
async fn conformance(db: Arc<TestDb>) {
    let (t, sandbox, _dir) = server_with_sandbox(&db).await;
    let doc = fetch_document(&t).await;
    validator_rejects_what_it_should(&doc);
    let admin = t.admin().await;
    let mut c = Checked {
        t,
        doc,
        problems: Vec::new(),
        seen: BTreeMap::new(),
    };
    let (p1, p2, p3) = ("13800000011", "13800000012", "13800000013");

    // --- §3 SMS codes, §2.1 WeChat tokens, §1 users
    let r = c.post("/smsCodes", None, json!({ "phone": p1 })).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let r = c.post("/smsCodes", None, json!({ "phone": p1 })).await;
    assert_eq!(r.status, 429, "within the cool-down: {}", r.body);
    let r = c.post("/smsCodes", None, json!({"phone": "123"})).await;
    assert_eq!(r.status, 400);
    let r = c
        .post("/smsCodes", None, json!({"phone": 13800000011u64}))
        .await;
    assert_eq!(r.status, 400);
    for id in ["o-oa-1", "o-oa-2", "o-new"] {
        let r = c
            .post(
                "/wechat_tokens",
                None,
                json!({"wechatId": id, "wechatToken": format!("dev:{id}")}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = c
        .post(
            "/wechat_tokens",
            None,
            json!({"wechatId": "o-oa-1", "wechatToken": "forged"}),
        )
        .await;
    assert_eq!(r.status, 400);
    let code = c.last_code(p1);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = c
        .post(
            "/users",
            None,
            json!({"wechatId": "o-oa-1", "phone": p1, "smsCode": wrong}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["payload"]["phone"], p1, "the submitted user");
    let r = c
        .post(
            "/users",
            None,
            json!({"wechatId": "o-oa-1", "phone": p1, "smsCode": code}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let buyer_id = s(&r.body["id"]);
    c.post("/smsCodes", None, json!({ "phone": p2 })).await;
    let code = c.last_code(p2);
    let r = c
        .post(
            "/users",
            None,
            json!({"wechatId": "o-oa-1", "phone": p2, "smsCode": code}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.body["type"], "Duplicated Wechat Id");
    c.post("/smsCodes", None, json!({ "phone": p3 })).await;
    let code = c.last_code(p3);
    let r = c
        .post(
            "/users",
            None,
            json!({"wechatId": "o-oa-2", "phone": p3, "smsCode": code}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = c
        .post("/users", None, json!({"wechatId": "o-oa-3", "phone": p3}))
        .await;
    assert_eq!(r.status, 400, "smsCode is required");

    // --- §2 tokens, §1.1 the current user
    let wechat =
        |id: &str, token: &str| json!({"type": "wechat", "wechatId": id, "wechatToken": token});
    let r = c
        .post("/tokens", None, wechat("o-oa-1", "dev:o-oa-1"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let buyer = s(&r.body["access_token"]);
    let r = c
        .post("/tokens", None, wechat("o-oa-2", "dev:o-oa-2"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let other = s(&r.body["access_token"]);
    let r = c.post("/tokens", None, wechat("o-oa-1", "stolen")).await;
    assert_eq!(r.status, 401);
    let r = c.post("/tokens", None, wechat("o-new", "dev:o-new")).await;
    assert_eq!(r.status, 404);
    let r = c.post("/tokens", None, json!({ "phone": p1 })).await;
    assert_eq!(r.status, 400, "smsCode is missing");
    let r = c.post("/tokens", None, json!({"type": "password"})).await;
    assert_eq!(r.status, 400);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = c.post("/smsCodes", None, json!({ "phone": p1 })).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let code = c.last_code(p1);
    let r = c
        .post("/tokens", None, json!({"phone": p1, "smsCode": code}))
        .await;
    assert_eq!(r.status, 201, "SMS sign-in: {}", r.body);
    assert_eq!(r.body["user"]["id"], buyer_id.as_str());

    let current = "/users/current";
    let r = c.get(current, current, None).await;
    assert_eq!(r.status, 401);
    let r = c.get(current, current, Some(&buyer)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c.get(current, current, Some(&admin)).await;
    assert_eq!(
        r.status, 200,
        "a user with an e-mail and no phone: {}",
        r.body
    );
    let cookie = format!("access_token={buyer}");
    let r = c
        .call(Method::GET, current, current, Auth::Cookie(&cookie), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .call(
            Method::GET,
            current,
            current,
            Auth::Cookie("wechatToken=dev:o-new"),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "a WeChat user without an account");

    // --- §4 meetings and the organizer's writes
    let start = Utc::now() + ChronoDuration::days(7);
    let meeting_body = json!({
        "title": "2026 开发者大会", "description": "年度技术会议", "location": "上海国际会议中心",
        "startTime": start.to_rfc3339(), "endTime": (start + ChronoDuration::hours(8)).to_rfc3339(),
        "ticketGrades": [{"name": "普通票", "price": 99.5, "stock": 5}, {"name": "学生票", "price": 0.01, "stock": 3}],
        "status": "onSale",
    });
    let r = c
        .post("/meetings", Some(&admin), meeting_body.clone())
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let meeting_id = s(&r.body["id"]);
    let grade = s(&r.body["ticketGrades"][0]["id"]);
    let r = c
        .post("/meetings", Some(&buyer), meeting_body.clone())
        .await;
    assert_eq!(r.status, 403);
    let r = c.post("/meetings", None, meeting_body.clone()).await;
    assert_eq!(r.status, 401);
    let mut backwards = meeting_body.clone();
    backwards["endTime"] = json!((start - ChronoDuration::hours(1)).to_rfc3339());
    let r = c.post("/meetings", Some(&admin), backwards).await;
    assert_eq!(r.status, 400);
    let mut bad_grade = meeting_body.clone();
    bad_grade["ticketGrades"][0]["price"] = json!(1.234);
    let r = c.post("/meetings", Some(&admin), bad_grade).await;
    assert_eq!(r.status, 400);
    let r = c
        .post("/meetings", Some(&admin), json!({"title": "x"}))
        .await;
    assert_eq!(r.status, 400, "startTime is required");

    let r = c.get("/meetings", "/meetings", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .get(
            "/meetings",
            "/meetings?status=onSale&page=1&pageSize=5",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A page that is not the whole list: 206 with Content-Range (past the end here: no items).
    let r = c
        .get("/meetings", "/meetings?page=1000&pageSize=100", None)
        .await;
    assert_eq!(r.status, 206, "{}", r.body);
    let r = c.get("/meetings", "/meetings?pageSize=0", None).await;
    assert_eq!(r.status, 400);
    let r = c.get("/meetings", "/meetings?status=sold", None).await;
    assert_eq!(r.status, 400);
    let one = "/meetings/{id}";
    let meeting_path = format!("/meetings/{meeting_id}");
    let r = c.get(one, &meeting_path, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c.get(one, "/meetings/nope", None).await;
    assert_eq!(r.status, 404);
    for (token, status, expected) in [
        (&admin, "closed", 200),
        (&admin, "onSale", 200),
        (&admin, "draft", 400),
        (&buyer, "closed", 403),
    ] {
        let r = c
            .send(
                Method::PATCH,
                one,
                &meeting_path,
                Some(token),
                json!({ "status": status }),
            )
            .await;
        assert_eq!(r.status, expected, "{status}: {}", r.body);
    }
    let r = c
        .send(
            Method::PATCH,
            one,
            "/meetings/00000000-0000-0000-0000-000000000000",
            Some(&admin),
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(r.status, 404);
    let grades = "/meetings/{id}/ticket_grades";
    let grades_path = format!("{meeting_path}/ticket_grades");
    let r = c
        .send(
            Method::POST,
            grades,
            &grades_path,
            Some(&admin),
            json!({"name": "VIP", "price": 999.99, "stock": 2}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = c
        .send(
            Method::POST,
            grades,
            &grades_path,
            Some(&admin),
            json!({"name": "VIP", "price": -1, "stock": 2}),
        )
        .await;
    assert_eq!(r.status, 400);
    let grade_t = "/meetings/{id}/ticket_grades/{gradeId}";
    let r = c
        .send(
            Method::PATCH,
            grade_t,
            &format!("{grades_path}/{grade}"),
            Some(&admin),
            json!({"stock": 10, "name": "早鸟票"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .send(
            Method::PATCH,
            grade_t,
            &format!("{grades_path}/{}", uuid::Uuid::now_v7()),
            Some(&admin),
            json!({"stock": 1}),
        )
        .await;
    assert_eq!(r.status, 404);

    // --- §6 payment methods
    let r = c
        .get("/payment_methods", "/payment_methods", Some(&buyer))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let methods: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(methods, ["wechatpay", "mock"]);
    let r = c.get("/payment_methods", "/payment_methods", None).await;
    assert_eq!(r.status, 401);

    // --- §5 orders
    let order = |amount: i64, price: Value, method: &str| {
        json!({
            "items": [{"ticketGradeId": grade, "ticketPrice": price, "ticketAmount": amount, "meetingId": meeting_id}],
            "meetingId": meeting_id, "paymentMethodId": method,
        })
    };
    let r = c
        .post("/orders", Some(&buyer), order(1, json!(88), "mock"))
        .await;
    assert_eq!(r.status, 400, "a stale price");
    let r = c
        .post("/orders", Some(&buyer), order(11, json!(99.5), "mock"))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["type"], "No Stock", "{}", r.body);
    let r = c
        .post("/orders", Some(&buyer), order(0, json!(99.5), "mock"))
        .await;
    assert_eq!(r.status, 400);
    let r = c
        .post("/orders", Some(&buyer), json!({"meetingId": meeting_id}))
        .await;
    assert_eq!(r.status, 400);
    let r = c.post("/orders", None, order(1, json!(99.5), "mock")).await;
    assert_eq!(r.status, 401);
    let r = c
        .post("/orders", Some(&buyer), order(2, json!(99.50), "mock"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let cancelled = s(&r.body["id"]);
    let r = c
        .post("/orders", Some(&buyer), order(1, json!(99.5), "mock"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let mock_order = s(&r.body["id"]);
    let r = c
        .post("/orders", Some(&buyer), order(1, json!(99.5), "wechatpay"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(
        r.body["transaction"]["thirdPartyTransactionInfo"]["paySign"].is_string(),
        "{}",
        r.body
    );
    let wechat_order = s(&r.body["id"]);

    let r = c.get("/orders", "/orders", Some(&buyer)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body.as_array().map(Vec::len), Some(3));
    let r = c
        .get("/orders", "/orders?status=待支付", Some(&buyer))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c.get("/orders", "/orders?status=lost", Some(&buyer)).await;
    assert_eq!(r.status, 400);
    let one_order = "/orders/{id}";
    let r = c
        .get(one_order, &format!("/orders/{mock_order}"), Some(&buyer))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .get(one_order, &format!("/orders/{mock_order}"), Some(&other))
        .await;
    assert_eq!(r.status, 404, "another user's order");
    let cancel_path = format!("/orders/{cancelled}");
    let r = c
        .send(
            Method::PATCH,
            one_order,
            &cancel_path,
            Some(&buyer),
            json!({"status": "已支付"}),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = c
        .send(
            Method::PATCH,
            one_order,
            &cancel_path,
            Some(&buyer),
            json!({"status": "已取消"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "已取消");

    // --- §7 transactions
    let r = c
        .post(
            "/transactions",
            Some(&buyer),
            json!({ "orderId": mock_order }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["amount"], json!(99.5));
    let r = c
        .post(
            "/transactions",
            Some(&buyer),
            json!({ "orderId": wechat_order }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = c
        .post(
            "/transactions",
            Some(&buyer),
            json!({ "orderId": uuid::Uuid::now_v7() }),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = c
        .post("/transactions", Some(&buyer), json!({"orderId": "nope"}))
        .await;
    assert_eq!(r.status, 400);
    let report = |order: &str, txn: &str| json!({"orderId": order, "transactionId": txn});
    let r = c
        .post(
            "/third_party_transactions",
            Some(&buyer),
            report(&mock_order, "not-mock"),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = c
        .post(
            "/third_party_transactions",
            Some(&buyer),
            report(&mock_order, "mock_1"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "已支付");

    // WeChat Pay's notification: an unsigned one is refused; the sandbox's signed one is handled
    // (it reports the status Tessera answered it with).
    let r = c
        .call(
            Method::POST,
            "/wechatpay/notify",
            "/wechatpay/notify",
            Auth::None,
            Some(json!({"id": "forged", "event_type": "TRANSACTION.SUCCESS"})),
        )
        .await;
    assert!(
        r.status == 401 || r.status == 400,
        "{} {}",
        r.status,
        r.body
    );
    let paid: Value =
        c.t.http
            .post(format!(
                "http://{sandbox}/sandbox/pay/{}",
                wechat_order.replace('-', "")
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(paid["notifyStatus"], 204, "{paid}");
    c.seen
        .entry(("POST".into(), "/wechatpay/notify".into()))
        .or_default()
        .insert(204);
    let r = c
        .get(one_order, &format!("/orders/{wechat_order}"), Some(&buyer))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "已支付", "{}", r.body);

    // --- §8 tickets
    let mut tickets = Vec::new();
    for _ in 0..200 {
        let r = c.get("/tickets", "/tickets", Some(&buyer)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        tickets = r.body.as_array().cloned().unwrap_or_default();
        if tickets.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(tickets.len(), 2, "one ticket per paid order");
    let a = s(&tickets[0]["id"]);
    let b = s(&tickets[1]["id"]);
    let one_ticket = "/tickets/{id}";
    let r = c
        .get(one_ticket, &format!("/tickets/{a}"), Some(&buyer))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .get(one_ticket, &format!("/tickets/{a}"), Some(&other))
        .await;
    assert_eq!(r.status, 404, "someone else's ticket");
    let person = |name: &str, phone: &str| json!({"participant": {"name": name, "phone": phone}});
    let unknown = uuid::Uuid::now_v7().to_string();
    for (id, token, body, expected) in [
        (&a, &buyer, person("", "1"), 400),
        (&a, &buyer, person("张三", "13900000001"), 200),
        (&a, &other, person("李四", "13900000002"), 404),
        (&a, &buyer, person("李四", "13900000002"), 410),
        (&b, &buyer, person("张三", "13900000001"), 409),
        (&unknown, &buyer, person("王五", "13900000003"), 404),
        (&b, &buyer, person("王五", p3), 200),
        (&b, &other, person("王五", p3), 403),
    ] {
        let r = c
            .send(
                Method::PATCH,
                one_ticket,
                &format!("/tickets/{id}"),
                Some(token),
                body,
            )
            .await;
        assert_eq!(r.status, expected, "{}", r.body);
    }
    let r = c
        .get(one_ticket, &format!("/tickets/{b}"), Some(&other))
        .await;
    assert_eq!(r.status, 200, "the participant sees it: {}", r.body);

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
