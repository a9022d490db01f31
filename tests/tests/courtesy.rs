//! Courtesy (seed 001) part 1 end to end over real HTTP, on SQLite and PostgreSQL, with the
//! `sessionid` cookie carried by hand like a cookie jar: the one action endpoint and its edges
//! (malformed JSON, missing or unknown action, GET, a 10 MB body — all HTTP 200 in the body
//! format), accounts on the shared identity (every code of register, login, logout, info, profile
//! edits; a logged-out cookie refused; a banned account 407), uploads (avatar, banner, card
//! resources; a wrong-size image 422 storing nothing), ten concurrent uploads of one resource
//! (one blob, one id), concurrent registrations (one per email, consecutive numbers), and a
//! rebuild giving the same rows; and, over the real stores with a clock moved by hand, sessions that
//! end 30 days after the sign-in. Every `/api/courtesy` and upload answer is checked against the
//! published OpenAPI document.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clap::Parser as _;
use image::{ImageFormat, RgbImage};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tessera_api::ServerConfig;
use tessera_api::config::Environment;
use tessera_tests::http::{TestServer, server_config};
use tessera_tests::openapi::{check_operations, errors_of};
use tessera_tests::{Suite, TestDb};

fn main() -> std::process::ExitCode {
    Suite::new()
        .case("protocol_edges_in_body_format", edges)
        .case("register_login_logout_info", accounts)
        .case("profile_fields", profile)
        .case("banned_account_and_secure_cookie", banned)
        .case("avatar_and_banner_uploads", images)
        .case("card_resources_and_res_query", resources)
        .case("ten_concurrent_same_resource_uploads", concurrent_resources)
        .case("concurrent_registrations", concurrent_registrations)
        .case("rebuild_gives_same_rows", rebuild)
        .case("sessions_end_after_30_days", session_expiry)
        .case("qr_codes_cards_and_news", cards)
        .case("twenty_clients_race_for_one_qr_code", qr_race)
        .case("twenty_concurrent_first_reads", first_read_race)
        .case("cards_rebuild_gives_same_rows", cards_rebuild)
        .run()
}

/// The MD5 hex the iOS client sends for the password `password`.
const PWD: &str = "5f4dcc3b5aa765d61d8327deb882cf99";

/// A server, its OpenAPI document and its blob folder.
struct Cx {
    t: TestServer,
    doc: Value,
    blobs: PathBuf,
}

/// An HTTP answer: status, `Set-Cookie` header, JSON body.
struct Answer {
    status: StatusCode,
    set_cookie: Option<String>,
    content_type: String,
    nosniff: Option<String>,
    bytes: Vec<u8>,
    body: Value,
}

impl Cx {
    async fn start(db: &TestDb) -> Cx {
        Self::start_with(db, server_config()).await
    }

    async fn start_with(db: &TestDb, config: ServerConfig) -> Cx {
        let t = TestServer::start_with(db, config).await;
        let doc = t.get("/courtesy/openapi.json", None).await.body;
        assert!(doc["paths"].is_object(), "the document is served: {doc}");
        // The default blob folder: `blobs` in the data folder.
        let blobs = db.config().secrets_dir().unwrap().join("blobs");
        Cx { t, doc, blobs }
    }

    async fn stop(self) {
        self.t.stop().await;
    }

    async fn raw(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        let mut req = self
            .t
            .http
            .request(method, format!("{}{path}", self.t.base))
            .body(body);
        if let Some(c) = cookie {
            req = req.header("cookie", format!("sessionid={c}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let set_cookie = header("set-cookie");
        let content_type = header("content-type").unwrap_or_default();
        let nosniff = header("x-content-type-options");
        let bytes = resp.bytes().await.unwrap_or_default().to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            set_cookie,
            content_type,
            nosniff,
            bytes,
            body,
        }
    }

    /// Check a body-format answer: HTTP 200, JSON, a time, and valid against `schema` of the
    /// document.
    fn checked(&self, a: &Answer, schema: &str, what: &str) {
        assert_eq!(a.status, 200, "{what}: HTTP 200 always: {:?}", a.body);
        assert!(
            a.content_type.starts_with("application/json"),
            "{what}: {}",
            a.content_type
        );
        assert!(
            a.body["timestamp"].is_i64() || a.body["time"].is_i64(),
            "{what}: a time: {}",
            a.body
        );
        let errors = errors_of(
            &self.doc,
            &json!({"$ref": format!("#/components/schemas/{schema}")}),
            &a.body,
        );
        assert!(errors.is_empty(), "{what}: {} {errors:?}", a.body);
    }

    /// `POST /api/courtesy` with raw bytes.
    async fn post_raw(&self, cookie: Option<&str>, body: &[u8]) -> Answer {
        let a = self
            .raw(
                Method::POST,
                "/api/courtesy",
                cookie,
                &[("content-type", "application/json")],
                body.to_vec(),
            )
            .await;
        self.checked(&a, "CourtesyAnswer", &String::from_utf8_lossy(body));
        a
    }

    /// `POST /api/courtesy` with `body`; the whole answer.
    async fn act_full(&self, cookie: Option<&str>, body: Value) -> Answer {
        self.post_raw(cookie, &serde_json::to_vec(&body).unwrap())
            .await
    }

    /// `POST /api/courtesy` with `body`; the answer's body.
    async fn act(&self, cookie: Option<&str>, body: Value) -> Value {
        self.act_full(cookie, body).await.body
    }

    async fn register(&self, email: &str) -> Value {
        self.act(
            None,
            json!({"action": "user_register", "version": 2, "account": {"email": email, "pwd": PWD}}),
        )
        .await
    }

    /// Sign in; the `sessionid` cookie's value.
    async fn login(&self, email: &str) -> String {
        let a = self
            .act_full(
                None,
                json!({"action": "user_login", "version": 2, "account": {"email": email, "pwd": PWD}}),
            )
            .await;
        assert_eq!(a.body["error"], 0, "login {email}: {}", a.body);
        let cookie = a.set_cookie.expect("Set-Cookie");
        cookie_value(&cookie).expect("sessionid")
    }

    /// `POST {path}` with one multipart file part.
    async fn upload(
        &self,
        path: &str,
        cookie: Option<&str>,
        field: &str,
        media: &str,
        bytes: &[u8],
    ) -> Value {
        let boundary = "courtesy-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"f\"\r\n\
             Content-Type: {media}\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let a = self
            .raw(
                Method::POST,
                path,
                cookie,
                &[(
                    "content-type",
                    &format!("multipart/form-data; boundary={boundary}"),
                )],
                body,
            )
            .await;
        self.checked(&a, "UploadResult", path);
        a.body
    }

    async fn events(&self) -> Vec<tessera_application::RecordedEvent> {
        self.t
            .server
            .engine
            .events
            .read_all(0, 100_000)
            .await
            .unwrap()
    }
}

/// The value of `sessionid=…` in a `Set-Cookie` header.
fn cookie_value(header: &str) -> Option<String> {
    header
        .split(';')
        .next()?
        .trim()
        .strip_prefix("sessionid=")
        .map(str::to_owned)
}

fn code(v: &Value) -> i64 {
    v["error"].as_i64().unwrap_or(-1)
}

/// A refusal with `code` and, when given, `field`.
#[track_caller]
fn refused(v: &Value, code_: i64, field: Option<&str>) {
    assert_eq!(code(v), code_, "{v}");
    match field {
        Some(f) => assert_eq!(v["field"], f, "{v}"),
        None => assert!(v.get("field").is_none(), "{v}"),
    }
}

/// A PNG of `w`×`h`; `noise` makes it incompressible (large).
fn png(w: u32, h: u32, noise: bool) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| {
        if noise {
            let n = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)).wrapping_mul(97);
            image::Rgb([(n >> 3) as u8, (n >> 11) as u8, (n >> 19) as u8])
        } else {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Every file under `dir` (none when it does not exist).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

async fn edges(db: Arc<TestDb>) {
    let c = Cx::start(&db).await;

    // The document: one operation for the actions, the uploads and the files; listed on /docs.
    let expected: BTreeSet<(String, String)> = [
        ("POST", "/api/courtesy"),
        ("POST", "/upload/avatar"),
        ("POST", "/upload/banner"),
        ("POST", "/upload/card_res"),
        ("GET", "/static/avatar/{name}"),
        ("GET", "/static/banner/{name}"),
        ("GET", "/static/res/{id}"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_owned(), p.to_owned()))
    .collect();
    check_operations(&c.doc, &expected);
    let actions: Vec<&str> = c.doc["components"]["schemas"]["CourtesyRequest"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["properties"]["action"]["enum"][0].as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "user_register",
            "user_login",
            "user_logout",
            "user_info",
            "user_edit_profile",
            "res_query",
            "qr_query",
            "card_create_query",
            "card_create",
            "card_query",
            "card_edit",
            "card_delete",
            "news_query",
        ]
    );
    let docs = c
        .raw(
            Method::GET,
            "/docs/swagger-initializer.js",
            None,
            &[],
            vec![],
        )
        .await;
    assert!(
        String::from_utf8_lossy(&docs.bytes).contains("/courtesy/openapi.json"),
        "listed on /docs: {}",
        String::from_utf8_lossy(&docs.bytes)
    );

    // Malformed JSON, JSON that is not an object, an empty body: 400.
    for body in [&b"{\"action\": "[..], b"[1, 2]", b"", b"\"user_info\""] {
        refused(&c.post_raw(None, body).await.body, 400, None);
    }
    // No action, a null one: 402 action; not a string: 401 action; unknown: 404.
    refused(
        &c.act(None, json!({"version": 2})).await,
        402,
        Some("action"),
    );
    refused(
        &c.act(None, json!({"action": null})).await,
        402,
        Some("action"),
    );
    refused(
        &c.act(None, json!({"action": 7})).await,
        401,
        Some("action"),
    );
    refused(
        &c.act(None, json!({"action": "card_star"})).await,
        404,
        None,
    );
    refused(
        &c.act(None, json!({"action": "USER_INFO"})).await,
        404,
        None,
    );

    // A GET (and a PUT) on the endpoint: 400 ("Not POST"), HTTP 200, body format.
    for m in [Method::GET, Method::PUT, Method::DELETE] {
        let a = c.raw(m.clone(), "/api/courtesy", None, &[], vec![]).await;
        c.checked(&a, "ErrorAnswer", &format!("{m} /api/courtesy"));
        refused(&a.body, 400, None);
    }
    // A GET on an upload path: 400 too; unknown paths under the prefixes: 404.
    let a = c
        .raw(Method::GET, "/upload/avatar", None, &[], vec![])
        .await;
    c.checked(&a, "ErrorAnswer", "GET /upload/avatar");
    refused(&a.body, 400, None);
    for p in [
        "/upload/nothing",
        "/static/avatar/x/y",
        "/api/courtesy/more",
    ] {
        let a = c.raw(Method::POST, p, None, &[], vec![]).await;
        c.checked(&a, "ErrorAnswer", p);
        refused(&a.body, 404, None);
    }
    let a = c
        .raw(Method::GET, "/static/avatar/0123.png", None, &[], vec![])
        .await;
    refused(&a.body, 404, None);

    // A 10 MB body (over the 1 MiB default): 400 in the body format, HTTP 200, nothing stored.
    let before = c.events().await.len();
    let mut big =
        br#"{"action": "user_register", "account": {"email": "big@x.cn", "pwd": ""#.to_vec();
    big.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
    big.extend_from_slice(b"\"}}");
    refused(&c.post_raw(None, &big).await.body, 400, None);
    assert_eq!(c.events().await.len(), before);
    c.stop().await;
}

async fn accounts(db: Arc<TestDb>) {
    let c = Cx::start(&db).await;
    let reg = |account: Value| json!({"action": "user_register", "version": 2, "account": account});

    // Register: each missing or invalid field named.
    refused(
        &c.act(None, json!({"action": "user_register"})).await,
        402,
        Some("account"),
    );
    refused(
        &c.act(None, json!({"action": "user_register", "account": "x"}))
            .await,
        401,
        Some("account"),
    );
    refused(
        &c.act(None, reg(json!({"pwd": PWD}))).await,
        402,
        Some("email"),
    );
    refused(
        &c.act(None, reg(json!({"email": "a@b.cn"}))).await,
        402,
        Some("pwd"),
    );
    refused(
        &c.act(None, reg(json!({"email": 5, "pwd": PWD}))).await,
        401,
        Some("email"),
    );
    refused(
        &c.act(None, reg(json!({"email": "not-an-email", "pwd": PWD})))
            .await,
        401,
        Some("email"),
    );
    let long = format!("{}@x.cn", "a".repeat(260));
    refused(
        &c.act(None, reg(json!({"email": long, "pwd": PWD}))).await,
        401,
        Some("email"),
    );
    for pwd in [
        "password",
        "5f4dcc3b5aa765d61d8327deb882cf9",
        "5f4dcc3b5aa765d61d8327deb882cf9z",
    ] {
        refused(
            &c.act(None, reg(json!({"email": "a@b.cn", "pwd": pwd})))
                .await,
            401,
            Some("pwd"),
        );
    }
    assert!(c.events().await.is_empty(), "refusals store nothing");

    let ok = c.register("i.82@qq.com").await;
    assert_eq!(ok["error"], 0, "{ok}");
    assert_eq!(
        ok.as_object().unwrap().len(),
        2,
        "{{error, timestamp}}: {ok}"
    );
    // Taken, also in another case; also when another document registered it (one identity).
    refused(&c.register("i.82@qq.com").await, 405, Some("email"));
    refused(&c.register("I.82@QQ.com").await, 405, Some("email"));
    c.t.customer("shared@tessera.test").await;
    refused(&c.register("shared@tessera.test").await, 405, Some("email"));
    // Only an Argon2id hash of the client's MD5 is stored, never the MD5 itself.
    let stored =
        serde_json::to_string(&c.events().await.iter().map(|e| &e.data).collect::<Vec<_>>())
            .unwrap();
    assert!(!stored.contains(PWD), "the MD5 is not stored");

    // Login: unknown email and wrong password alike 406; malformed fields 401.
    let login = |email: &str, pwd: &str| json!({"action": "user_login", "version": 2, "account": {"email": email, "pwd": pwd}});
    refused(&c.act(None, login("nobody@qq.com", PWD)).await, 406, None);
    refused(
        &c.act(None, login("i.82@qq.com", &"0".repeat(32))).await,
        406,
        None,
    );
    refused(
        &c.act(None, login("i.82@qq.com", "short")).await,
        401,
        Some("pwd"),
    );
    refused(
        &c.act(None, json!({"action": "user_login"})).await,
        402,
        Some("account"),
    );

    // Signed out: 403 on what needs a session.
    for action in ["user_info", "user_logout", "user_edit_profile"] {
        refused(
            &c.act(None, json!({"action": action, "profile": {}})).await,
            403,
            None,
        );
        refused(
            &c.act(Some("garbage"), json!({"action": action, "profile": {}}))
                .await,
            403,
            None,
        );
    }

    // Login sets an HttpOnly cookie (no `Secure` in development) and records the sign-in.
    let a = c
        .act_full(None, login("I.82@qq.com", &PWD.to_uppercase()))
        .await;
    assert_eq!(a.body["error"], 0, "{}", a.body);
    let set = a.set_cookie.clone().unwrap();
    assert!(set.contains("HttpOnly") && set.contains("Path=/"), "{set}");
    assert!(!set.contains("Secure"), "{set}");
    let cookie = cookie_value(&set).unwrap();
    let signed_in: Vec<_> = c
        .events()
        .await
        .into_iter()
        .filter(|e| e.event_type == "CourtesyAccountSignedIn")
        .collect();
    assert_eq!(signed_in.len(), 1);

    let info = c
        .act(Some(&cookie), json!({"action": "user_info", "version": 2}))
        .await;
    let i = &info["account_info"];
    assert_eq!(i["user_id"], 1, "{info}");
    assert_eq!(i["email"], "i.82@qq.com");
    assert_eq!(i["card_count"], 0);
    assert_eq!(i["has_profile"], false);
    assert_eq!(i["profile"]["nick"], "");
    let registered = i["registered_at"].as_i64().unwrap();
    let last = i["last_login_at"].as_i64().unwrap();
    assert!(
        registered <= last && last <= info["timestamp"].as_i64().unwrap(),
        "{info}"
    );
    assert_eq!(
        signed_in[0].data["signedInAt"]
            .as_str()
            .map(|s| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp()),
        Some(last)
    );

    // A second account gets the next number; its session is its own.
    assert_eq!(c.register("second@qq.com").await["error"], 0);
    let second = c.login("second@qq.com").await;
    let info2 = c.act(Some(&second), json!({"action": "user_info"})).await;
    assert_eq!(info2["account_info"]["user_id"], 2, "{info2}");
    assert!(info2["account_info"]["last_login_at"].is_i64(), "{info2}");

    // Logout ends the session server side: the same cookie (a copy) is refused from then on.
    let copy = cookie.clone();
    let out = c
        .act_full(
            Some(&cookie),
            json!({"action": "user_logout", "version": 2}),
        )
        .await;
    assert_eq!(out.body["error"], 0, "{}", out.body);
    let cleared = out.set_cookie.unwrap();
    assert!(
        cleared.starts_with("sessionid=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    refused(
        &c.act(Some(&copy), json!({"action": "user_info"})).await,
        403,
        None,
    );
    refused(
        &c.act(Some(&copy), json!({"action": "user_logout"})).await,
        403,
        None,
    );
    // The other session lives on; signing in again works.
    assert_eq!(
        c.act(Some(&second), json!({"action": "user_info"})).await["error"],
        0
    );
    let again = c.login("i.82@qq.com").await;
    assert_ne!(again, copy);
    assert_eq!(
        c.act(Some(&again), json!({"action": "user_info"})).await["error"],
        0
    );
    c.stop().await;
}

async fn profile(db: Arc<TestDb>) {
    let c = Cx::start(&db).await;
    c.register("p@qq.com").await;
    let s = c.login("p@qq.com").await;
    let edit = |p: Value| json!({"action": "user_edit_profile", "version": 2, "profile": p});

    refused(
        &c.act(Some(&s), json!({"action": "user_edit_profile"}))
            .await,
        402,
        Some("profile"),
    );
    refused(
        &c.act(
            Some(&s),
            json!({"action": "user_edit_profile", "profile": []}),
        )
        .await,
        401,
        Some("profile"),
    );
    let before = c.events().await.len();
    for (field, bad) in [
        ("nick", json!("n".repeat(33))),
        ("nick", json!("a\u{0007}b")),
        ("nick", json!(5)),
        ("mobile", json!("1380013800")),
        ("mobile", json!("23800138000")),
        ("mobile", json!("1380013800a")),
        ("birthday", json!("1972-02-30")),
        ("birthday", json!("1899-12-31")),
        ("birthday", json!("2999-01-01")),
        ("birthday", json!("1972/03/21")),
        ("gender", json!(3)),
        ("gender", json!(-1)),
        ("gender", json!("1")),
        ("province", json!("省".repeat(33))),
        ("city", json!("c".repeat(33))),
        ("area", json!("a\nb")),
        ("introduction", json!("i".repeat(501))),
        ("avatar", json!("0123456789abcdef0123456789abcdef")),
        (
            "avatar",
            json!("\\static\\avatar\\0123456789abcdef0123456789abcdef_300.png"),
        ),
    ] {
        let r = c.act(Some(&s), edit(json!({ field: bad }))).await;
        refused(&r, 401, Some(field));
    }
    assert_eq!(
        c.events().await.len(),
        before,
        "refused edits store nothing"
    );

    let full = json!({
        "nick": "我叫 i_82",
        "mobile": "13800138000",
        "birthday": "1972-03-21",
        "gender": 1,
        "province": "江苏",
        "city": "南京",
        "area": "邗江区",
        "introduction": "第一行\n第二行"
    });
    assert_eq!(c.act(Some(&s), edit(full.clone())).await["error"], 0);
    let info = c.act(Some(&s), json!({"action": "user_info"})).await;
    assert_eq!(info["account_info"]["has_profile"], true, "{info}");
    let mut expected = full;
    expected["avatar"] = json!("");
    assert_eq!(info["account_info"]["profile"], expected);
    // A partial edit keeps the other fields; limits are inclusive.
    let nick = "n".repeat(32);
    assert_eq!(
        c.act(Some(&s), edit(json!({"nick": nick, "mobile": ""})))
            .await["error"],
        0
    );
    let p =
        c.act(Some(&s), json!({"action": "user_info"})).await["account_info"]["profile"].clone();
    assert_eq!(p["nick"], nick);
    assert_eq!(p["mobile"], "");
    assert_eq!(p["city"], "南京");
    let edits = c
        .events()
        .await
        .into_iter()
        .filter(|e| e.event_type == "CourtesyProfileEdited")
        .count();
    assert_eq!(edits, 2, "each edit is an event");
    c.stop().await;
}

async fn banned(db: Arc<TestDb>) {
    let c = Cx::start(&db).await;
    c.register("ban@qq.com").await;
    let s = c.login("ban@qq.com").await;
    let user =
        c.t.server
            .services
            .identity
            .user_by_email("ban@qq.com")
            .await
            .unwrap();
    c.t.server
        .services
        .identity
        .disable_user(None, user.user_id)
        .await
        .unwrap();
    // Banned: 407 with the right password only (a wrong one stays 406); the live session ends.
    let login =
        |pwd: &str| json!({"action": "user_login", "account": {"email": "ban@qq.com", "pwd": pwd}});
    refused(&c.act(None, login(PWD)).await, 407, None);
    refused(&c.act(None, login(&"1".repeat(32))).await, 406, None);
    refused(
        &c.act(Some(&s), json!({"action": "user_info"})).await,
        403,
        None,
    );
    c.t.server
        .services
        .identity
        .enable_user(None, user.user_id)
        .await
        .unwrap();
    assert_eq!(
        c.act(Some(&s), json!({"action": "user_info"})).await["error"],
        0
    );
    c.stop().await;

    // Production: the cookie is `Secure`.
    let mut config = server_config();
    config.environment = Environment::Production;
    // Production refuses the test settings' `TESSERA_RATE_LIMITS=off`.
    config.rate_limits.limits = "on".into();
    config.mock_webhook_secret = "mock-webhook-secret-of-this-deployment".to_owned().into();
    config.meeting.sms_code_secret = Some("test-sms-code-secret-32-bytes-long!!".to_owned().into());
    let c = Cx::start_with(&db, config).await;
    let a = c
        .act_full(
            None,
            json!({"action": "user_login", "account": {"email": "ban@qq.com", "pwd": PWD}}),
        )
        .await;
    assert_eq!(a.body["error"], 0, "{}", a.body);
    let set = a.set_cookie.unwrap();
    assert!(
        set.contains("; Secure") && set.contains("HttpOnly"),
        "{set}"
    );
    c.stop().await;
}

async fn images(db: Arc<TestDb>) {
    let mut config = server_config();
    config.courtesy_avatar_max_bytes = 60_000;
    let c = Cx::start_with(&db, config).await;
    c.register("img@qq.com").await;
    let s = c.login("img@qq.com").await;
    let avatar = png(300, 300, false);

    // Signed out: 403 on every upload.
    for (path, field) in [
        ("/upload/avatar", "avater"),
        ("/upload/banner", "banner"),
        ("/upload/card_res", "res"),
    ] {
        refused(
            &c.upload(path, None, field, "image/png", &avatar).await,
            403,
            None,
        );
    }

    // Wrong sizes, not an image, too large, no file: refused, nothing stored at all.
    let events = c.events().await.len();
    let stored = files(&c.blobs);
    for (bytes, why) in [
        (png(300, 200, false), "not square"),
        (png(40, 40, false), "too small"),
        (b"GIF89a not really".to_vec(), "not PNG or JPEG"),
        (png(200, 200, true), "over 60000 bytes"),
        (png(230, 230, true), "over the body limit"),
    ] {
        let r = c
            .upload("/upload/avatar", Some(&s), "avater", "image/png", &bytes)
            .await;
        assert_eq!(code(&r), 422, "{why}: {r}");
    }
    let r = c
        .upload(
            "/upload/banner",
            Some(&s),
            "banner",
            "image/png",
            &png(300, 600, false),
        )
        .await;
    assert_eq!(code(&r), 422, "portrait banner: {r}");
    refused(
        &c.upload("/upload/avatar", Some(&s), "file", "image/png", &avatar)
            .await,
        402,
        Some("avater"),
    );
    assert_eq!(files(&c.blobs), stored, "no blob written");
    assert_eq!(c.events().await.len(), events, "no event written");

    // An avatar, as the seed spells the field: an id, files at every size.
    let r = c
        .upload("/upload/avatar", Some(&s), "avater", "image/png", &avatar)
        .await;
    assert_eq!(r["error"], 0, "{r}");
    assert!(r["time"].is_i64() && r.get("timestamp").is_none(), "{r}");
    let id = r["id"].as_str().unwrap().to_owned();
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    for (suffix, size) in [
        (".png", 300),
        ("_60.png", 60),
        ("_150.png", 150),
        ("_300.png", 300),
    ] {
        let a = c
            .raw(
                Method::GET,
                &format!("/static/avatar/{id}{suffix}"),
                None,
                &[],
                vec![],
            )
            .await;
        assert_eq!(a.status, 200);
        assert_eq!(a.content_type, "image/png");
        let img = image::load_from_memory(&a.bytes).unwrap();
        assert_eq!((img.width(), img.height()), (size, size), "{suffix}");
    }
    refused(
        &c.raw(
            Method::GET,
            &format!("/static/avatar/{id}_61.png"),
            None,
            &[],
            vec![],
        )
        .await
        .body,
        404,
        None,
    );
    refused(
        &c.raw(
            Method::GET,
            &format!("/static/banner/{id}.png"),
            None,
            &[],
            vec![],
        )
        .await
        .body,
        404,
        None,
    );
    // Here the full-size PNG and the 300 px variant are the uploaded bytes themselves, so
    // content addressing keeps 3 files for 5 names.
    assert_eq!(files(&c.blobs).len(), 3, "{:?}", files(&c.blobs));
    // The field as the iOS client spells it is accepted too, and a JPEG.
    let mut jpeg = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(RgbImage::from_pixel(200, 200, image::Rgb([9, 99, 199])))
        .write_to(&mut jpeg, ImageFormat::Jpeg)
        .unwrap();
    let r2 = c
        .upload(
            "/upload/avatar",
            Some(&s),
            "avatar",
            "image/jpeg",
            jpeg.get_ref(),
        )
        .await;
    assert_eq!(r2["error"], 0, "{r2}");
    assert_ne!(r2["id"], r["id"]);

    // The avatar goes in the profile by id, or by the path the seed shows.
    let edit = |avatar: &str| json!({"action": "user_edit_profile", "profile": {"avatar": avatar}});
    let path = format!("\\static\\avatar\\{id}_300.png");
    assert_eq!(c.act(Some(&s), edit(&path)).await["error"], 0);
    let info = c.act(Some(&s), json!({"action": "user_info"})).await;
    assert_eq!(
        info["account_info"]["profile"]["avatar"],
        id.as_str(),
        "{info}"
    );
    // Someone else's avatar is not yours.
    c.register("other@qq.com").await;
    let o = c.login("other@qq.com").await;
    refused(&c.act(Some(&o), edit(&id)).await, 401, Some("avatar"));

    // A banner: full size and 750 px wide.
    let r = c
        .upload(
            "/upload/banner",
            Some(&s),
            "banner",
            "image/png",
            &png(1000, 400, false),
        )
        .await;
    assert_eq!(r["error"], 0, "{r}");
    let bid = r["id"].as_str().unwrap();
    let a = c
        .raw(
            Method::GET,
            &format!("/static/banner/{bid}_750.png"),
            None,
            &[],
            vec![],
        )
        .await;
    let img = image::load_from_memory(&a.bytes).unwrap();
    assert_eq!(img.width(), 750, "{}×{}", img.width(), img.height());
    let a = c
        .raw(
            Method::GET,
            &format!("/static/banner/{bid}.png"),
            None,
            &[],
            vec![],
        )
        .await;
    assert_eq!(image::load_from_memory(&a.bytes).unwrap().width(), 1000);
    c.stop().await;
}

async fn resources(db: Arc<TestDb>) {
    let mut config = server_config();
    config.courtesy_res_max_bytes = 100_000;
    let c = Cx::start_with(&db, config).await;
    c.register("res@qq.com").await;
    let s = c.login("res@qq.com").await;
    let bytes = b"an audio clip, say".to_vec();
    let hash = hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        &bytes,
    ));

    let q = |h: Value| json!({"action": "res_query", "hash": h});
    refused(&c.act(None, q(json!(hash))).await, 404, None);
    refused(
        &c.act(None, json!({"action": "res_query"})).await,
        402,
        Some("hash"),
    );
    refused(&c.act(None, q(json!("xyz"))).await, 401, Some("hash"));
    refused(&c.act(None, q(json!(12))).await, 401, Some("hash"));

    let r = c
        .upload("/upload/card_res", Some(&s), "res", "audio/mp4", &bytes)
        .await;
    assert_eq!(r["error"], 0, "{r}");
    let id = r["id"].as_str().unwrap().to_owned();
    // Queried by its SHA-256 (upper case too): its id; answered with `time` like the seed.
    for h in [hash.clone(), hash.to_uppercase()] {
        let a = c.act(None, q(json!(h))).await;
        assert_eq!(a["error"], 0, "{a}");
        assert_eq!(a["res"], json!({"sha_256": hash, "id": id}));
        assert!(a["time"].is_i64());
    }
    // Served back with its media type; the blob is named by its hash.
    let a = c
        .raw(Method::GET, &format!("/static/res/{id}"), None, &[], vec![])
        .await;
    assert_eq!(a.bytes, bytes);
    assert_eq!(a.content_type, "audio/mp4");
    assert_eq!(a.nosniff.as_deref(), Some("nosniff"));
    assert_eq!(
        files(&c.blobs)
            .iter()
            .filter(|p| p.ends_with(&hash))
            .count(),
        1,
        "{:?}",
        files(&c.blobs)
    );
    refused(
        &c.raw(
            Method::GET,
            "/static/res/0123456789abcdef0123456789abcdef",
            None,
            &[],
            vec![],
        )
        .await
        .body,
        404,
        None,
    );

    // The same bytes again: the same id, nothing stored twice.
    let events = c.events().await.len();
    let r2 = c
        .upload("/upload/card_res", Some(&s), "res", "audio/mp4", &bytes)
        .await;
    assert_eq!(r2["id"], id.as_str());
    assert_eq!(c.events().await.len(), events, "no second event");
    // Too large (over the configured 100000 bytes) or empty: 422; no field: 402 res.
    refused(
        &c.upload(
            "/upload/card_res",
            Some(&s),
            "res",
            "audio/mp4",
            &vec![7; 100_001],
        )
        .await,
        422,
        None,
    );
    refused(
        &c.upload("/upload/card_res", Some(&s), "res", "audio/mp4", b"")
            .await,
        422,
        None,
    );
    refused(
        &c.upload("/upload/card_res", Some(&s), "file", "audio/mp4", &bytes)
            .await,
        402,
        Some("res"),
    );
    // A file of exactly the limit is accepted.
    let r = c
        .upload(
            "/upload/card_res",
            Some(&s),
            "res",
            "application/octet-stream",
            &vec![8; 100_000],
        )
        .await;
    assert_eq!(r["error"], 0, "{r}");
    c.stop().await;
}

async fn concurrent_resources(db: Arc<TestDb>) {
    let c = Arc::new(Cx::start(&db).await);
    let mut sessions = Vec::new();
    for i in 0..10 {
        let email = format!("c{i}@qq.com");
        c.register(&email).await;
        sessions.push(c.login(&email).await);
    }
    let bytes: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let hash = hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        &bytes,
    ));
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let mut tasks = Vec::new();
    for s in sessions {
        let (c, bytes, barrier) = (c.clone(), bytes.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let r = c
                .upload("/upload/card_res", Some(&s), "res", "image/webp", &bytes)
                .await;
            assert_eq!(r["error"], 0, "{r}");
            r["id"].as_str().unwrap().to_owned()
        }));
    }
    let mut ids = BTreeSet::new();
    for t in tasks {
        ids.insert(t.await.unwrap());
    }
    assert_eq!(ids.len(), 1, "one id: {ids:?}");
    let id = ids.into_iter().next().unwrap();
    // One blob (no temporary file left), one event, one row, the id res_query answers.
    let blobs = files(&c.blobs);
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    assert!(blobs[0].ends_with(&hash));
    let stored: Vec<_> = c
        .events()
        .await
        .into_iter()
        .filter(|e| e.event_type == "CourtesyResourceStored")
        .collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].stream_id.as_str(),
        format!("courtesyResource-{hash}")
    );
    let a = c
        .act(None, json!({"action": "res_query", "hash": hash}))
        .await;
    assert_eq!(a["res"]["id"], id.as_str());
    let rows = tessera_tests::scalar_i64(&db.url, "SELECT COUNT(*) FROM courtesy_resources").await;
    assert_eq!(rows, 1);
    Arc::try_unwrap(c).ok().unwrap().stop().await;
}

async fn concurrent_registrations(db: Arc<TestDb>) {
    let c = Arc::new(Cx::start(&db).await);
    // Five clients register one address at once: one account; ten different addresses at once:
    // ten accounts numbered 1 to 11 with the first, none twice.
    let mut tasks = Vec::new();
    for i in 0..15 {
        let c = c.clone();
        let email = if i < 5 {
            "same@qq.com".to_owned()
        } else {
            format!("u{i}@qq.com")
        };
        tasks.push(tokio::spawn(async move {
            (email.clone(), code(&c.register(&email).await))
        }));
    }
    let mut same = Vec::new();
    for t in tasks {
        let (email, code) = t.await.unwrap();
        if email == "same@qq.com" {
            same.push(code);
        } else {
            assert_eq!(code, 0, "{email}");
        }
    }
    same.sort_unstable();
    assert_eq!(same, [0, 405, 405, 405, 405]);
    let mut numbers = Vec::new();
    for i in 0..15 {
        let email = if i == 0 {
            "same@qq.com".to_owned()
        } else if i < 5 {
            continue;
        } else {
            format!("u{i}@qq.com")
        };
        let s = c.login(&email).await;
        let info = c.act(Some(&s), json!({"action": "user_info"})).await;
        numbers.push(info["account_info"]["user_id"].as_i64().unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=11).collect::<Vec<i64>>());
    Arc::try_unwrap(c).ok().unwrap().stop().await;
}

/// Every row of the Courtesy tables, as text, in key order.
async fn rows(url: &str) -> Vec<String> {
    let t = |c: &str| format!("COALESCE(CAST({c} AS TEXT), '~')");
    let table = |name: &str, cols: &[&str], key: &str| {
        let cols: Vec<String> = cols.iter().map(|c| t(c)).collect();
        format!(
            "SELECT '{name}|' || {} FROM {name} ORDER BY {key}",
            cols.join(" || '|' || ")
        )
    };
    let queries = [
        table(
            "courtesy_accounts",
            &[
                "account_id",
                "user_id",
                "registered_at",
                "last_login_at",
                "has_profile",
                "nick",
                "avatar",
                "mobile",
                "birthday",
                "gender",
                "province",
                "city",
                "area",
                "introduction",
                "card_count",
                "erased",
            ],
            "account_id",
        ),
        table(
            "courtesy_resources",
            &[
                "sha256",
                "resource_id",
                "size",
                "media_type",
                "uploaded_by",
                "stored_at",
            ],
            "sha256",
        ),
        table(
            "courtesy_images",
            &[
                "image_id",
                "suffix",
                "kind",
                "account_id",
                "sha256",
                "media_type",
                "uploaded_at",
            ],
            "image_id, suffix",
        ),
    ];
    let mut out = Vec::new();
    for q in queries {
        let got: Vec<String> = if url.starts_with("sqlite:") {
            use sqlx::Connection;
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(q))
                .fetch_all(&mut conn)
                .await
                .unwrap()
        } else {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(q))
                .fetch_all(&mut conn)
                .await
                .unwrap()
        };
        out.extend(got);
    }
    out
}

async fn rebuild(db: Arc<TestDb>) {
    let c = Cx::start(&db).await;
    for e in ["r1@qq.com", "r2@qq.com"] {
        c.register(e).await;
    }
    let s = c.login("r1@qq.com").await;
    c.login("r2@qq.com").await;
    let r = c
        .upload(
            "/upload/avatar",
            Some(&s),
            "avater",
            "image/png",
            &png(64, 64, false),
        )
        .await;
    let id = r["id"].as_str().unwrap().to_owned();
    c.upload(
        "/upload/banner",
        Some(&s),
        "banner",
        "image/png",
        &png(640, 200, false),
    )
    .await;
    c.upload(
        "/upload/card_res",
        Some(&s),
        "res",
        "text/plain",
        b"resource",
    )
    .await;
    let r = c
        .act(Some(&s), json!({"action": "user_edit_profile", "profile": {"nick": "一", "avatar": id, "gender": 2}}))
        .await;
    assert_eq!(r["error"], 0, "{r}");
    // The second account edits its profile, then is erased: its row is blanked, and the log
    // holds its profile only sealed (the nick reads as the erased marker once the key is gone).
    let s2 = c.login("r2@qq.com").await;
    let r = c
        .act(
            Some(&s2),
            json!({"action": "user_edit_profile", "profile": {"nick": "二号用户", "mobile": "13900139000"}}),
        )
        .await;
    assert_eq!(r["error"], 0, "{r}");
    let identity = &c.t.server.services.identity;
    let r2 = identity.user_by_email("r2@qq.com").await.unwrap().user_id;
    identity
        .erase_user(None, r2, c.t.server.engine.privacy.keys())
        .await
        .unwrap();
    refused(
        &c.act(Some(&s2), json!({"action": "user_info"})).await,
        403,
        None,
    );
    // The erasure was not answered over HTTP: wait for the projection to apply it.
    let erased_row = |rows: &[String]| {
        rows.iter()
            .find(|r| r.contains(&r2.to_string()))
            .filter(|r| r.ends_with("|0|1") || r.ends_with("|0|true"))
            .cloned()
    };
    let live =
        c.t.eventually(std::time::Duration::from_secs(10), || async {
            let live = rows(&db.url).await;
            erased_row(&live).map(|_| live)
        })
        .await
        .expect("the erasure reaches the read model");
    assert_eq!(live.len(), 2 + 1 + 4 + 2, "{live:#?}");
    let erased = erased_row(&live).unwrap();
    assert!(
        !erased.contains("二号用户") && !erased.contains("13900139000"),
        "{erased}"
    );
    assert!(
        erased.ends_with("|0|1") || erased.ends_with("|0|true"),
        "erased: {erased}"
    );
    let log = serde_json::to_string(&c.events().await.iter().map(|e| &e.data).collect::<Vec<_>>())
        .unwrap();
    assert!(
        !log.contains("二号用户") && !log.contains("13900139000"),
        "sealed and shredded"
    );
    c.stop().await;

    let engine = db.engine().await;
    engine.runner.rebuild("courtesy", |_, _| {}).await.unwrap();
    drop(engine);
    assert_eq!(rows(&db.url).await, live, "a rebuild gives the same rows");
}

/// A clock the test moves by hand.
struct TestClock(std::sync::Mutex<chrono::DateTime<chrono::Utc>>);

impl tessera_application::Clock for TestClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        *self.0.lock().unwrap()
    }
}

/// The session behind the cookie lasts 30 days from the sign-in, to the second, on the real
/// stores and the real identity (a clock moved by hand instead of waiting).
async fn session_expiry(db: Arc<TestDb>) {
    use tessera_application::courtesy::{CourtesyError, CourtesyPorts, CourtesyService};
    use tessera_application::identity::IdentityService;
    use tessera_infrastructure::identity::auth::{
        Argon2PasswordHasher, JwtAccessTokens, RandomSecrets,
    };

    let (_db, stores) = db.stores().await;
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-01T08:00:00Z")
        .unwrap()
        .to_utc();
    let clock = Arc::new(TestClock(std::sync::Mutex::new(start)));
    let identity = IdentityService::new(
        stores.events.clone(),
        clock.clone(),
        Arc::new(Argon2PasswordHasher::with_params(64, 1, 1).unwrap()),
        Arc::new(JwtAccessTokens::new(b"courtesy-test-secret-of-32-bytes!!").unwrap()),
        Arc::new(RandomSecrets),
    );
    let blobs = tempfile::tempdir().unwrap();
    let courtesy = CourtesyService::new(CourtesyPorts {
        runner: tessera_application::CommandRunner::new(stores.events.clone()),
        clock: clock.clone(),
        identity,
        blobs: Arc::new(tessera_infrastructure::blobs::FsBlobStore::new(
            blobs.path(),
        )),
    });
    let meta = tessera_application::EventMetadata::default();
    courtesy.register("t@qq.com", PWD, &meta).await.unwrap();
    let signed_in = courtesy.login("t@qq.com", PWD, &meta).await.unwrap();
    let token = signed_in.session.unwrap();
    assert_eq!(
        signed_in.session_expires_at,
        Some(start + chrono::Duration::days(30))
    );
    let user = courtesy.authorize(&token).await.unwrap();
    assert_eq!(user, signed_in.account_id);

    // Using the session does not extend it.
    *clock.0.lock().unwrap() = start + chrono::Duration::days(30) - chrono::Duration::seconds(1);
    assert_eq!(courtesy.authorize(&token).await.unwrap(), user);
    *clock.0.lock().unwrap() = start + chrono::Duration::days(30);
    assert!(matches!(
        courtesy.authorize(&token).await,
        Err(CourtesyError::NotSignedIn)
    ));
    assert!(matches!(
        courtesy.logout(&token).await,
        Err(CourtesyError::NotSignedIn)
    ));
    // A tampered token names the same session but is refused.
    let tamper = |t: &str| {
        let last = if t.ends_with('x') { 'y' } else { 'x' };
        format!("{}{last}", &t[..t.len() - 1])
    };
    let forged = tamper(&token);
    let fresh = courtesy.login("t@qq.com", PWD, &meta).await.unwrap();
    let fresh_token = fresh.session.unwrap();
    let forged_fresh = tamper(&fresh_token);
    assert!(courtesy.authorize(&fresh_token).await.is_ok());
    for t in [forged, forged_fresh] {
        assert!(matches!(
            courtesy.authorize(&t).await,
            Err(CourtesyError::NotSignedIn)
        ));
    }
}

/// `tessera courtesy qr generate` through the CLI function, on the test's database: the new ids
/// (one a line) and, with `--out`, the sheet's bytes.
async fn generate(db: &TestDb, count: u32, channel: u32) -> (Vec<String>, Vec<u8>) {
    let dir = db.config().secrets_dir().unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("sheet-{}.png", uuid::Uuid::now_v7()));
    let cli = tessera_api::cli::Cli::try_parse_from([
        "tessera",
        "courtesy",
        "qr",
        "generate",
        "--count",
        &count.to_string(),
        "--channel",
        &channel.to_string(),
        "--out",
        file.to_str().unwrap(),
    ])
    .unwrap();
    let Some(tessera_api::cli::Command::Courtesy { command }) = cli.command else {
        panic!("parsed as courtesy");
    };
    let mut out = Vec::new();
    tessera_api::cli::courtesy(&db.config(), &server_config(), command, &mut out)
        .await
        .unwrap();
    let ids = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    (ids, std::fs::read(&file).unwrap())
}

async fn publish_news(db: &TestDb, args: &[&str]) -> String {
    let mut argv = vec!["tessera", "courtesy", "news", "publish"];
    argv.extend_from_slice(args);
    let cli = tessera_api::cli::Cli::try_parse_from(argv).unwrap();
    let Some(tessera_api::cli::Command::Courtesy { command }) = cli.command else {
        panic!("parsed as courtesy");
    };
    let mut out = Vec::new();
    tessera_api::cli::courtesy(&db.config(), &server_config(), command, &mut out)
        .await
        .unwrap();
    String::from_utf8(out).unwrap().trim().to_owned()
}

fn card_body(action: &str, token: &str, qr: &str, template: Value) -> Value {
    json!({"action": action, "version": 2, "card_info": {
        "token": token, "qr_id": qr, "local_template": template,
        "is_editable": true, "is_public": true, "visible_at": "1999-02-02 00:00:00"}})
}

async fn cards(db: Arc<TestDb>) {
    let c = Cx::start(&db).await;
    for e in ["author@qq.com", "reader@qq.com", "third@qq.com"] {
        c.register(e).await;
    }
    let a = c.login("author@qq.com").await;
    let r = c.login("reader@qq.com").await;
    let t = c.login("third@qq.com").await;

    // The CLI prints unique 32-hex ids and writes a decodable PNG sheet.
    let (ids, png) = generate(&db, 5, 7).await;
    assert_eq!(ids.len(), 5);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 5);
    assert!(
        ids.iter().all(|i| i.len() == 32
            && i.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())),
        "{ids:?}"
    );
    let sheet = image::load_from_memory_with_format(&png, ImageFormat::Png).unwrap();
    assert!(sheet.width() > 100 && sheet.height() > 100);
    let qr = ids[0].clone();

    // qr_query: counts scans; unknown 404; missing 402.
    let q = |id: &str| json!({"action": "qr_query", "qr_id": id});
    let a1 = c.act(None, q(&qr)).await;
    assert_eq!(a1["error"], 0, "{a1}");
    assert_eq!(a1["qr_info"]["is_recorded"], false);
    assert_eq!(a1["qr_info"]["scan_count"], 1);
    assert_eq!(a1["qr_info"]["channel"], 7);
    assert_eq!(a1["qr_info"]["unique_id"], qr.as_str());
    assert_eq!(a1["qr_info"]["card_token"], Value::Null);
    assert_eq!(a1["card_info"], Value::Null);
    assert_eq!(c.act(None, q(&qr)).await["qr_info"]["scan_count"], 2);
    refused(&c.act(None, q(&"0".repeat(32))).await, 404, None);
    refused(
        &c.act(None, json!({"action": "qr_query"})).await,
        402,
        Some("qr_id"),
    );

    // A resource for the template: res_query 404 before, 0 after the upload.
    let bytes = b"a picture for the card".to_vec();
    let hash = hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        &bytes,
    ));
    refused(
        &c.act(None, json!({"action": "res_query", "hash": hash}))
            .await,
        404,
        None,
    );
    let template = json!({"content": "说点什么吧", "fontSize": 16, "attachments_hashes": [hash]});
    let token = "8FF5D3B4-FDC4-4326-9D75-CEACFD700EA3";
    // Not uploaded yet: the attachment is refused by both the check and the creation.
    for action in ["card_create_query", "card_create"] {
        refused(
            &c.act(Some(&a), card_body(action, token, &qr, template.clone()))
                .await,
            401,
            Some("attachments_hashes"),
        );
    }
    let up = c
        .upload("/upload/card_res", Some(&a), "res", "image/png", &bytes)
        .await;
    assert_eq!(up["error"], 0, "{up}");
    assert_eq!(
        c.act(None, json!({"action": "res_query", "hash": hash}))
            .await["error"],
        0
    );

    // card_create_query: every check, nothing changed.
    refused(
        &c.act(
            None,
            card_body("card_create_query", token, &qr, template.clone()),
        )
        .await,
        403,
        None,
    );
    refused(
        &c.act(Some(&a), json!({"action": "card_create_query"}))
            .await,
        402,
        Some("card_info"),
    );
    refused(
        &c.act(
            Some(&a),
            card_body("card_create_query", "bad token!", &qr, template.clone()),
        )
        .await,
        401,
        Some("token"),
    );
    refused(
        &c.act(
            Some(&a),
            card_body(
                "card_create_query",
                token,
                &"0".repeat(32),
                template.clone(),
            ),
        )
        .await,
        404,
        None,
    );
    refused(
        &c.act(
            Some(&a),
            card_body("card_create_query", token, &qr, json!(12)),
        )
        .await,
        401,
        Some("local_template"),
    );
    let mut bad_time = card_body("card_create_query", token, &qr, template.clone());
    bad_time["card_info"]["visible_at"] = json!("1999-13-02 00:00:00");
    refused(&c.act(Some(&a), bad_time).await, 401, Some("visible_at"));
    let before = c.events().await.len();
    let ok = c
        .act(
            Some(&a),
            card_body("card_create_query", token, &qr, template.clone()),
        )
        .await;
    assert_eq!(
        (ok["error"].clone(), ok["token"].clone()),
        (json!(0), json!(token)),
        "{ok}"
    );
    assert!(ok["time"].is_i64());
    assert_eq!(
        c.events().await.len(),
        before,
        "card_create_query changes nothing"
    );

    // card_create: the template comes back exactly as sent; the QR code is bound.
    let created = c
        .act(
            Some(&a),
            card_body("card_create", token, &qr, template.clone()),
        )
        .await;
    assert_eq!(created["error"], 0, "{created}");
    let ci = &created["card_info"];
    assert_eq!(ci["local_template"], template);
    assert_eq!(ci["token"], token);
    assert_eq!(
        (
            ci["view_count"].clone(),
            ci["edited_count"].clone(),
            ci["stars"].clone()
        ),
        (json!(0), json!(0), json!(0))
    );
    assert_eq!(ci["read_by"], Value::Null);
    assert_eq!(ci["author"]["email"], "author@qq.com");
    assert_eq!(ci["author"]["card_count"], 1);
    // 1999-02-02 00:00:00 in Shanghai is 1999-02-01 16:00:00 UTC.
    assert_eq!(ci["visible_at"], 917_884_800);
    let info = c.act(Some(&a), json!({"action": "user_info"})).await;
    assert_eq!(info["account_info"]["card_count"], 1, "{info}");
    // A second card on that QR code: 424 with qr_info, also for the check; the same token: 405.
    let second = c
        .act(
            Some(&t),
            card_body("card_create", "another-token", &qr, json!("x")),
        )
        .await;
    assert_eq!(code(&second), 424, "{second}");
    assert_eq!(second["qr_info"]["card_token"], token);
    assert_eq!(second["qr_info"]["is_recorded"], true);
    assert_eq!(
        code(
            &c.act(
                Some(&t),
                card_body("card_create_query", "another-token", &qr, json!("x"))
            )
            .await
        ),
        424
    );
    refused(
        &c.act(
            Some(&t),
            card_body("card_create", token, &ids[1], json!("x")),
        )
        .await,
        405,
        Some("token"),
    );
    let scanned = c.act(None, q(&qr)).await;
    assert_eq!(scanned["qr_info"]["is_recorded"], true);
    assert_eq!(scanned["card_info"]["token"], token);

    // card_query: the author's view is counted and is no read; anonymous neither; the reader is.
    let cq = |tk: &str| json!({"action": "card_query", "token": tk});
    let v = c.act(Some(&a), cq(token)).await;
    assert_eq!(
        (
            v["card_info"]["view_count"].clone(),
            v["card_info"]["read_by"].clone()
        ),
        (json!(1), Value::Null),
        "{v}"
    );
    assert_eq!(
        c.act(None, cq(token)).await["card_info"]["read_by"],
        Value::Null
    );
    let v = c.act(Some(&r), cq(token)).await;
    assert_eq!(v["card_info"]["read_by"]["email"], "reader@qq.com", "{v}");
    assert!(v["card_info"]["first_read_at"].is_i64());
    assert_eq!(v["card_info"]["view_count"], 3);
    let v = c.act(Some(&t), cq(token)).await;
    assert_eq!(
        v["card_info"]["read_by"]["email"], "reader@qq.com",
        "the first reader stays"
    );
    assert_eq!(v["card_info"]["local_template"], template, "public");
    refused(&c.act(None, cq("no-such-card")).await, 404, None);
    refused(
        &c.act(None, json!({"action": "card_query"})).await,
        402,
        Some("token"),
    );

    // card_edit: 403, 425 for another user; the author makes it private and visible in the future.
    let edit = |body: Value| json!({"action": "card_edit", "token": token, "card_info": body});
    refused(
        &c.act(None, edit(json!({"is_public": false}))).await,
        403,
        None,
    );
    refused(
        &c.act(Some(&t), edit(json!({"is_public": false}))).await,
        425,
        None,
    );
    refused(
        &c.act(Some(&a), edit(json!({"is_public": "no"}))).await,
        401,
        Some("is_public"),
    );
    let e = c
        .act(
            Some(&a),
            edit(json!({"is_public": false, "local_template": "%xml_data%"})),
        )
        .await;
    assert_eq!(e["error"], 0, "{e}");
    assert_eq!(e["card_info"]["edited_count"], 1);
    assert_eq!(e["card_info"]["local_template"], "%xml_data%");
    assert!(e["card_info"]["modified_at"].as_i64() >= e["card_info"]["created_at"].as_i64());
    // Private: the author and the first reader see the template, a third user does not.
    assert_eq!(
        c.act(Some(&r), cq(token)).await["card_info"]["local_template"],
        "%xml_data%"
    );
    assert_eq!(
        c.act(Some(&t), cq(token)).await["card_info"]["local_template"],
        Value::Null
    );
    assert_eq!(
        c.act(None, cq(token)).await["card_info"]["local_template"],
        Value::Null
    );
    // Visible only in 2999: nobody sees it; then no longer editable: 425.
    let e = c.act(Some(&a), edit(json!({"is_public": true, "visible_at": "2999-01-01 00:00:00", "is_editable": false}))).await;
    assert_eq!(e["card_info"]["local_template"], Value::Null, "{e}");
    assert_eq!(
        c.act(Some(&r), cq(token)).await["card_info"]["local_template"],
        Value::Null
    );
    refused(
        &c.act(Some(&a), edit(json!({"is_public": true}))).await,
        425,
        None,
    );

    // card_delete: 403, 425 for another user; then banned: 426 for query, edit and delete; the
    // QR code stays bound.
    let del = json!({"action": "card_delete", "token": token});
    refused(&c.act(None, del.clone()).await, 403, None);
    refused(&c.act(Some(&t), del.clone()).await, 425, None);
    let d = c.act(Some(&a), del.clone()).await;
    assert_eq!(
        (d["error"].clone(), d["token"].clone()),
        (json!(0), json!(token)),
        "{d}"
    );
    refused(&c.act(Some(&a), cq(token)).await, 426, None);
    refused(
        &c.act(Some(&a), edit(json!({"is_public": true}))).await,
        426,
        None,
    );
    refused(&c.act(Some(&a), del).await, 426, None);
    let after = c.act(None, q(&qr)).await;
    assert_eq!(after["qr_info"]["card_token"], token);
    assert_eq!(after["card_info"], Value::Null);
    let info = c.act(Some(&a), json!({"action": "user_info"})).await;
    assert_eq!(
        info["account_info"]["card_count"], 0,
        "a banned card is not counted: {info}"
    );

    // news_query: the items the CLI published for that day, in order; other days empty.
    let n1 = publish_news(
        &db,
        &[
            "--date",
            "2016-03-28",
            "--text",
            "News Card",
            "--image",
            "f5f31fe7306de68436e07ef0fd0a47ee",
        ],
    )
    .await;
    let n2 = publish_news(
        &db,
        &[
            "--date",
            "2016-03-28",
            "--text",
            "Link Card",
            "--type",
            "1",
            "--style-id",
            "1",
            "--style-name",
            "black",
            "--url",
            "https://82flex.com",
        ],
    )
    .await;
    assert_ne!(n1, n2);
    let news = c
        .act(
            None,
            json!({"action": "news_query", "s_date": "2016-03-28"}),
        )
        .await;
    assert_eq!(news["error"], 0, "{news}");
    assert_eq!(
        news["news"],
        json!([
            {"style": {"style_id": 0, "style_name": "white"}, "string": "News Card",
             "image": {"sha256": "", "rid": "f5f31fe7306de68436e07ef0fd0a47ee"}, "video": null,
             "date": "2016-03-28", "audio": null, "url": null, "type": 0},
            {"style": {"style_id": 1, "style_name": "black"}, "string": "Link Card", "image": null,
             "video": null, "date": "2016-03-28", "audio": null, "url": "https://82flex.com", "type": 1},
        ])
    );
    assert_eq!(
        c.act(
            None,
            json!({"action": "news_query", "s_date": "2016-03-29"})
        )
        .await["news"],
        json!([])
    );
    refused(
        &c.act(
            None,
            json!({"action": "news_query", "s_date": "28/03/2016"}),
        )
        .await,
        401,
        Some("s_date"),
    );
    refused(
        &c.act(None, json!({"action": "news_query"})).await,
        402,
        Some("s_date"),
    );
    c.stop().await;
}

/// 20 clients, each its own account and token, create a card on one QR code at once: exactly one
/// wins; every other gets 424 with the winner's token in `qr_info`; the log holds one binding.
async fn qr_race(db: Arc<TestDb>) {
    let c = Arc::new(Cx::start(&db).await);
    let (ids, _) = generate(&db, 1, 0).await;
    let qr = ids[0].clone();
    let mut sessions = Vec::new();
    for i in 0..20 {
        let e = format!("racer{i}@qq.com");
        c.register(&e).await;
        sessions.push(c.login(&e).await);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let mut tasks = Vec::new();
    for (i, s) in sessions.into_iter().enumerate() {
        let (c, qr, barrier) = (c.clone(), qr.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            c.act(
                Some(&s),
                card_body("card_create", &format!("race-{i}"), &qr, json!("hi")),
            )
            .await
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let winners: Vec<&Value> = answers.iter().filter(|a| code(a) == 0).collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    let token = winners[0]["card_info"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for a in answers.iter().filter(|a| code(a) != 0) {
        assert_eq!(code(a), 424, "{a}");
        assert_eq!(a["qr_info"]["card_token"], token.as_str());
    }
    let events = c.events().await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == "CourtesyQrCodeRecorded")
            .count(),
        1
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == "CourtesyCardCreated")
            .count(),
        1
    );
    Arc::try_unwrap(c).ok().unwrap().stop().await;
}

/// 20 signed-in users read a fresh card at once: exactly one becomes `read_by`, every answer
/// names that one, and all 20 views are counted.
async fn first_read_race(db: Arc<TestDb>) {
    let c = Arc::new(Cx::start(&db).await);
    let (ids, _) = generate(&db, 1, 0).await;
    c.register("writer@qq.com").await;
    let w = c.login("writer@qq.com").await;
    let created = c
        .act(
            Some(&w),
            card_body("card_create", "read-race", &ids[0], json!({"a": 1})),
        )
        .await;
    assert_eq!(created["error"], 0, "{created}");
    let mut sessions = Vec::new();
    for i in 0..20 {
        let e = format!("fan{i}@qq.com");
        c.register(&e).await;
        sessions.push(c.login(&e).await);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let mut tasks = Vec::new();
    for s in sessions {
        let (c, barrier) = (c.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            c.act(
                Some(&s),
                json!({"action": "card_query", "token": "read-race"}),
            )
            .await
        }));
    }
    let mut readers = BTreeSet::new();
    for t in tasks {
        let a = t.await.unwrap();
        assert_eq!(a["error"], 0, "{a}");
        readers.insert(a["card_info"]["read_by"]["user_id"].as_i64().unwrap());
    }
    assert_eq!(readers.len(), 1, "{readers:?}");
    let v = c
        .act(
            Some(&w),
            json!({"action": "card_query", "token": "read-race"}),
        )
        .await;
    assert_eq!(v["card_info"]["view_count"], 21);
    let events = c.events().await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == "CourtesyCardFirstRead")
            .count(),
        1
    );
    Arc::try_unwrap(c).ok().unwrap().stop().await;
}

/// Every row of the part 2 tables, as text, in key order.
async fn card_rows(url: &str) -> Vec<String> {
    let queries = [
        "SELECT qr_id || '|' || channel || '|' || CAST(created_at AS TEXT) || '|' || scan_count || '|' || COALESCE(card_token, '~') || '|' || COALESCE(author_id, '~') || '|' || COALESCE(CAST(recorded_at AS TEXT), '~') FROM courtesy_qr_codes ORDER BY qr_id",
        "SELECT token || '|' || qr_id || '|' || author_id || '|' || CAST(is_editable AS TEXT) || '|' || CAST(is_public AS TEXT) || '|' || COALESCE(CAST(visible_at AS TEXT), '~') || '|' || attachments || '|' || view_count || '|' || edited_count || '|' || COALESCE(read_by, '~') || '|' || COALESCE(CAST(first_read_at AS TEXT), '~') || '|' || CAST(banned AS TEXT) || '|' || CAST(created_at AS TEXT) || '|' || CAST(modified_at AS TEXT) FROM courtesy_cards ORDER BY token",
        "SELECT news_id || '|' || news_date || '|' || position || '|' || kind || '|' || text || '|' || style_id || '|' || style_name || '|' || COALESCE(image_rid, '~') || '|' || COALESCE(url, '~') || '|' || CAST(published_at AS TEXT) FROM courtesy_news ORDER BY news_id",
        "SELECT account_id || '|' || card_count FROM courtesy_accounts ORDER BY account_id",
    ];
    let mut out = Vec::new();
    for q in queries {
        let got: Vec<String> = if url.starts_with("sqlite:") {
            use sqlx::Connection;
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(q))
                .fetch_all(&mut conn)
                .await
                .unwrap()
        } else {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(q))
                .fetch_all(&mut conn)
                .await
                .unwrap()
        };
        out.extend(got);
    }
    out
}

async fn cards_rebuild(db: Arc<TestDb>) {
    let c = Cx::start(&db).await;
    let (ids, _) = generate(&db, 3, 1).await;
    c.register("rb1@qq.com").await;
    c.register("rb2@qq.com").await;
    let a = c.login("rb1@qq.com").await;
    let b = c.login("rb2@qq.com").await;
    for (i, qr) in ids.iter().take(2).enumerate() {
        let r = c
            .act(
                Some(&a),
                card_body("card_create", &format!("rb-{i}"), qr, json!("t")),
            )
            .await;
        assert_eq!(r["error"], 0, "{r}");
    }
    c.act(None, json!({"action": "qr_query", "qr_id": ids[2]}))
        .await;
    c.act(Some(&b), json!({"action": "card_query", "token": "rb-0"}))
        .await;
    c.act(
        Some(&a),
        json!({"action": "card_edit", "token": "rb-0", "card_info": {"is_public": false}}),
    )
    .await;
    c.act(Some(&a), json!({"action": "card_delete", "token": "rb-1"}))
        .await;
    publish_news(&db, &["--date", "2020-01-01", "--text", "hello"]).await;
    // The news was not written over HTTP: wait for the read model to hold it.
    let live =
        c.t.eventually(std::time::Duration::from_secs(10), || async {
            let live = card_rows(&db.url).await;
            (live.iter().filter(|r| r.contains("|2020-01-01|")).count() == 1).then_some(live)
        })
        .await
        .expect("the news reaches the read model");
    assert_eq!(live.len(), 3 + 2 + 1 + 2, "{live:#?}");
    assert!(
        live.iter()
            .any(|r| r.starts_with("rb-0|") && r.contains("|1|1|")),
        "{live:#?}"
    );
    c.stop().await;
    let engine = db.engine().await;
    engine.runner.rebuild("courtesy", |_, _| {}).await.unwrap();
    drop(engine);
    assert_eq!(
        card_rows(&db.url).await,
        live,
        "a rebuild gives the same rows"
    );
}
