//! Secrets and personal data (docs/decisions/0007-field-classification.md,
//! 0008-crypto-shredding.md), on SQLite and PostgreSQL over real HTTP:
//!
//! - every field of every stored event type of every aggregate has a class (read from the domain's
//!   source, cross-checked with what serde stores), so a new field without one fails here;
//! - exports (`tessera events export`, `/audit/*` CloudEvents) never show a password hash, and show
//!   personal data only until the subject is erased;
//! - after `tessera users erase`, no table of the database (events' raw data included), no export
//!   and no server log line holds the users' emails, phones or names; `tessera audit verify`
//!   still passes; the erased users cannot sign in; read models show `"[erased]"`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clap::Parser;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tessera_api::cli::{Cli, Outcome};
use tessera_domain::shared::classification;
use tessera_domain::{Decider, DomainEvent};
use tessera_tests::http::{Reply, TestServer, server_config};
use tessera_tests::{Backend, Suite, TestDb};

fn main() -> std::process::ExitCode {
    capture_logs();
    Suite::new()
        .case("every_event_field_is_classified", |_db| async {
            every_event_field_is_classified();
        })
        .case("erasure_leaves_no_personal_data", erasure)
        .run()
}

// ------------------------------------------------------------------------------ classification

/// Every stored event type the domain's aggregates can write (the list of
/// tests/tests/namespace.rs, whose `every_decider_of_the_domain_is_listed` keeps it complete).
fn stored_types() -> BTreeSet<&'static str> {
    use tessera_domain::{courtesy, identity, meeting, openticket, plans, shared, shop};
    fn types<D: Decider>() -> &'static [&'static str] {
        D::Event::stored_types()
    }
    [
        types::<identity::User>(),
        types::<identity::EmailClaim>(),
        types::<identity::RefreshFamily>(),
        types::<identity::sms::SmsChallenge>(),
        types::<identity::wechat::WechatAccount>(),
        types::<identity::oauth::OAuthIdentity>(),
        types::<shared::claim::IdentifierClaim>(),
        types::<openticket::venue::Venue>(),
        types::<openticket::event::Event>(),
        types::<openticket::seat_session::SeatSession>(),
        types::<openticket::order::Order>(),
        types::<openticket::ticket::Ticket>(),
        types::<meeting::Meeting>(),
        types::<meeting::order::MeetingOrder>(),
        types::<meeting::ticket::MeetingTicket>(),
        types::<shop::sequence::ShopSequence>(),
        types::<shop::catalog::ShopCatalog>(),
        types::<shop::product::ShopProduct>(),
        types::<shop::customer::ShopCustomer>(),
        types::<shop::order::ShopOrder>(),
        types::<shop::card::MembershipCard>(),
        types::<shop::card::CardHolder>(),
        types::<plans::user::PlansUser>(),
        types::<plans::company::Company>(),
        types::<plans::team_plan::TeamPlan>(),
        types::<plans::plan_payment::PlanPayment>(),
        types::<plans::plan_payment::PaymentDesk>(),
        types::<plans::recharge::Recharge>(),
        types::<courtesy::sequence::CourtesySequence>(),
        types::<courtesy::account::CourtesyAccount>(),
        types::<courtesy::resource::CourtesyResource>(),
        types::<plans::certification::Certification>(),
        types::<plans::certification::CertificationDesk>(),
        types::<courtesy::qr::CourtesyQrCode>(),
        types::<courtesy::card::CourtesyCard>(),
        types::<courtesy::news::CourtesyNewsDay>(),
        types::<plans::pictures::PictureShelf>(),
        types::<plans::order::PlanOrder>(),
        types::<plans::wallet::Wallet>(),
    ]
    .into_iter()
    .flatten()
    .copied()
    .collect()
}

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `rename = "X"` inside a `#[serde(...)]` line, if any.
fn serde_rename(line: &str) -> Option<String> {
    let line = line.trim();
    if !line.starts_with("#[serde(") {
        return None;
    }
    let rest = &line[line.find("rename = \"")? + "rename = \"".len()..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// Stored event types and their `data` fields, as serde writes them, read from Rust source: every
/// enum tagged `#[serde(tag = "type", content = "data", …)]` (the shape of every `DomainEvent`,
/// see domain/src/decider.rs), with `rename` on variants and fields and `rename_all_fields =
/// "camelCase"` applied.
fn events_in_source(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let l = line.trim();
        if !(l.starts_with("#[serde(tag = \"type\"") && l.contains("content = \"data\"")) {
            continue;
        }
        let camel_fields = l.contains("rename_all_fields = \"camelCase\"");
        // Up to the enum's opening line.
        for next in lines.by_ref() {
            if next.trim_start().starts_with("pub enum") || next.trim_start().starts_with("enum") {
                break;
            }
        }
        let mut depth = 1;
        let mut rename: Option<String> = None;
        let mut variant: Option<String> = None;
        for next in lines.by_ref() {
            let t = next.trim();
            if t.starts_with("//") || t.is_empty() {
                continue;
            }
            if t.starts_with("#[") {
                if let Some(r) = serde_rename(t) {
                    rename = Some(r);
                }
                continue;
            }
            if depth == 1 {
                if t == "}" {
                    break;
                }
                let name: String = t
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let stored = rename.take().unwrap_or(name);
                out.entry(stored.clone()).or_insert_with(BTreeSet::new);
                if t.ends_with('{') {
                    depth = 2;
                    variant = Some(stored);
                }
            } else {
                if t.starts_with('}') {
                    depth = 1;
                    variant = None;
                    rename = None;
                    continue;
                }
                let Some((field, _)) = t.split_once(':') else {
                    continue;
                };
                let field = field.trim().trim_start_matches("pub ").trim();
                let stored = rename.take().unwrap_or_else(|| {
                    if camel_fields {
                        camel(field)
                    } else {
                        field.to_owned()
                    }
                });
                if let Some(v) = &variant {
                    out.get_mut(v).unwrap().insert(stored);
                }
            }
        }
    }
    out
}

fn domain_events() -> BTreeMap<String, BTreeSet<String>> {
    fn scan(dir: &Path, out: &mut BTreeMap<String, BTreeSet<String>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                scan(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs")
                && path
                    .file_name()
                    .is_some_and(|n| n != "testing.rs" && n != "decider.rs")
            {
                out.extend(events_in_source(&std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    scan(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../domain/src"),
        &mut out,
    );
    out
}

/// Everything wrong between the events found and the registry; empty when all is classified.
fn unclassified(found: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut problems = Vec::new();
    for (event_type, fields) in found {
        let Some(classes) = classification::classes(event_type) else {
            problems.push(format!("{event_type}: not in the classification registry"));
            continue;
        };
        for f in fields {
            if classes.class_of(f).is_none() {
                problems.push(format!("{event_type}.{f}: no class"));
            }
        }
        for (f, _) in classes.fields {
            if !fields.contains(*f) {
                problems.push(format!("{event_type}.{f}: classified but not a field"));
            }
        }
    }
    for c in classification::REGISTRY {
        if !found.contains_key(c.event_type) {
            problems.push(format!("{}: classified but no event has it", c.event_type));
        }
    }
    problems
}

fn every_event_field_is_classified() {
    let found = domain_events();
    let parsed: BTreeSet<&str> = found.keys().map(String::as_str).collect();
    assert_eq!(
        parsed,
        stored_types(),
        "the source reader and serde disagree on the stored event types"
    );
    let problems = unclassified(&found);
    assert!(
        problems.is_empty(),
        "every field of every event needs a class in domain/src/shared/classification.rs \
         (docs/decisions/0007-field-classification.md):\n  {}",
        problems.join("\n  ")
    );

    // The reader itself sees renames, camelCase and a field without a class.
    let sample = r#"
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum UserEvent {
    /// doc
    PasswordChanged {
        /// doc
        password_hash: String,
        #[serde(rename = "when")]
        changed_at: DateTime<Utc>,
        nick_name: String,
    },
    #[serde(rename = "UserDisabled")]
    Off {},
    Unit,
}
"#;
    let found = events_in_source(sample);
    assert_eq!(
        found["PasswordChanged"],
        BTreeSet::from(["passwordHash".into(), "when".into(), "nickName".into()])
    );
    assert!(found.contains_key("UserDisabled") && found.contains_key("Unit"));
    let problems = unclassified(&found);
    for expected in [
        "PasswordChanged.when: no class",
        "PasswordChanged.nickName: no class",
        "PasswordChanged.changedAt: classified but not a field",
        "Unit: not in the classification registry",
    ] {
        assert!(
            problems.iter().any(|p| p == expected),
            "{expected:?} missing in {problems:#?}"
        );
    }
}

// ------------------------------------------------------------------------------ logs

/// Everything the process logs (all crates, DEBUG and up), for the log check.
fn log_buffer() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| Mutex::new(Vec::new()))
}

struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        log_buffer().lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Install the process's tracing subscriber before any server starts (the server's own
/// `telemetry::init` then keeps it). The development SMS sender's target is left out: printing
/// codes with their numbers is its whole purpose, and production refuses it (SECURITY.md).
fn capture_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug,tessera::sms=off"))
        .with_writer(|| LogWriter)
        .with_ansi(false)
        .try_init();
}

fn logs() -> String {
    String::from_utf8_lossy(&log_buffer().lock().unwrap()).into_owned()
}

// ------------------------------------------------------------------------------ erasure

async fn call(t: &TestServer, m: Method, path: &str, token: Option<&str>, body: Value) -> Reply {
    t.send(m, path, token, Some(body)).await
}

/// The personal data this case writes; different per backend, as both cases share the log.
struct Person {
    email: String,
    display_name: String,
    phone: String,
    wechat_id: String,
    attendee: String,
}

impl Person {
    fn for_backend(backend: Backend) -> Self {
        let n = match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 2,
        };
        Person {
            email: format!("ann.privacy{n}@example.com"),
            display_name: format!("Annabel Quimby{n}"),
            phone: format!("1370000777{n}"),
            wechat_id: format!("o-wx-privacy-{n}"),
            attendee: format!("Zhang Wuji{n}"),
        }
    }

    fn needles(&self) -> Vec<&str> {
        vec![
            &self.email,
            &self.display_name,
            &self.phone,
            &self.wechat_id,
            &self.attendee,
        ]
    }
}

/// Every (table, column, needle) where a text value of the database holds a needle.
async fn find_in_database(db: &TestDb, needles: &[&str]) -> Vec<String> {
    let mut hits = Vec::new();
    match db.backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            for table in tables {
                let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT name FROM pragma_table_info('{table}')"
                )))
                .fetch_all(&pool)
                .await
                .unwrap();
                for column in columns {
                    for needle in needles {
                        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                            "SELECT count(*) FROM \"{table}\" WHERE instr(CAST(\"{column}\" AS TEXT), $1) > 0"
                        )))
                        .bind(*needle)
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                        if n > 0 {
                            hits.push(format!("{table}.{column} holds {needle:?} ({n} rows)"));
                        }
                    }
                }
            }
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            let columns: Vec<(String, String)> = sqlx::query_as(
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = 'public'",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            assert!(columns.iter().any(|(t, _)| t == "events"));
            for (table, column) in columns {
                for needle in needles {
                    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT count(*) FROM \"{table}\" WHERE strpos(CAST(\"{column}\" AS TEXT), $1) > 0"
                    )))
                    .bind(*needle)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                    if n > 0 {
                        hits.push(format!("{table}.{column} holds {needle:?} ({n} rows)"));
                    }
                }
            }
            pool.close().await;
        }
    }
    hits
}

async fn export_text(db: &TestDb) -> String {
    let mut out = Vec::new();
    tessera_api::cli::export(&db.config(), None, None, &mut out)
        .await
        .unwrap();
    String::from_utf8(out).unwrap()
}

/// Every `/audit/events` page, as text.
async fn audit_text(t: &TestServer, token: &str) -> String {
    let mut all = String::new();
    let mut after = 0;
    loop {
        let r = t
            .get(
                &format!("/audit/events?after={after}&limit=1000"),
                Some(token),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        if r.body["data"].as_array().unwrap().is_empty() {
            break;
        }
        all.push_str(&r.body["data"].to_string());
        after = r.body["meta"]["nextAfter"].as_u64().unwrap();
    }
    all
}

async fn cli(db: &TestDb, args: &[&str]) -> Outcome {
    let mut argv = vec!["tessera", "--log", "warn", "--database-url", &db.url];
    let data_dir;
    if let Some(dir) = &db.config().data_dir {
        data_dir = dir.display().to_string();
        argv.extend(["--data-dir", data_dir.as_str()]);
    }
    argv.extend(args);
    tessera_api::cli::run(Cli::try_parse_from(argv).unwrap())
        .await
        .unwrap()
}

fn absent(what: &str, text: &str, needles: &[&str]) {
    for n in needles {
        let at = text.find(n).map(|i| {
            let start = text.floor_char_boundary(i.saturating_sub(300));
            let end = text.ceil_char_boundary((i + 100).min(text.len()));
            &text[start..end]
        });
        assert!(
            at.is_none(),
            "{what} still holds {n:?}: …{}…",
            at.unwrap_or("")
        );
    }
}

async fn erasure(db: Arc<TestDb>) {
    let person = Person::for_backend(db.backend);
    let t = TestServer::start_with(&db, server_config()).await;
    let admin = t.admin().await;

    // OpenTicket: an email account with a display name, signed in (a refresh family).
    let r = t
        .post(
            "/v1/auth/register",
            None,
            json!({"email": person.email, "password": "correct horse battery",
                   "displayName": person.display_name}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let email_user = r.data()["userId"].as_str().unwrap().to_owned();
    t.login(&person.email, "correct horse battery").await;

    // Meeting: a phone + WeChat account that buys a ticket and names its attendee.
    let r = call(
        &t,
        Method::POST,
        "/smsCodes",
        None,
        json!({"phone": person.phone}),
    )
    .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let wechat =
        json!({"wechatId": person.wechat_id, "wechatToken": format!("dev:{}", person.wechat_id)});
    let r = call(&t, Method::POST, "/wechat_tokens", None, wechat.clone()).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let code = t
        .server
        .services
        .console_sms
        .as_ref()
        .unwrap()
        .last_code(&person.phone)
        .unwrap();
    let r = call(
        &t,
        Method::POST,
        "/users",
        None,
        json!({"wechatId": person.wechat_id, "phone": person.phone, "smsCode": code}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let phone_user = r.body["id"].as_str().unwrap().to_owned();
    let mut sign_in = wechat.clone();
    sign_in["type"] = json!("wechat");
    let r = call(&t, Method::POST, "/tokens", None, sign_in.clone()).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let buyer = r.body["access_token"].as_str().unwrap().to_owned();

    let start = chrono::Utc::now() + chrono::Duration::days(7);
    let r = call(
        &t,
        Method::POST,
        "/meetings",
        Some(&admin),
        json!({"title": "Privacy day", "description": "d", "location": "Hall 1",
               "startTime": start.to_rfc3339(),
               "endTime": (start + chrono::Duration::hours(2)).to_rfc3339(),
               "ticketGrades": [{"name": "Standard", "price": 10, "stock": 5}],
               "status": "onSale"}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let meeting = r.body["id"].as_str().unwrap().to_owned();
    let grade = r.body["ticketGrades"][0]["id"].as_str().unwrap().to_owned();
    let r = call(
        &t,
        Method::POST,
        "/orders",
        Some(&buyer),
        json!({"items": [{"ticketGradeId": grade, "ticketPrice": 10, "ticketAmount": 1,
                          "meetingId": meeting}],
               "meetingId": meeting, "paymentMethodId": "mock"}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let order = r.body["id"].as_str().unwrap().to_owned();
    let r = call(
        &t,
        Method::POST,
        "/transactions",
        Some(&buyer),
        json!({"orderId": order}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = call(
        &t,
        Method::POST,
        "/third_party_transactions",
        Some(&buyer),
        json!({"orderId": order, "transactionId": "mock_1"}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let ticket = t
        .eventually(Duration::from_secs(20), || async {
            let r = t.get("/tickets", Some(&buyer)).await;
            r.body.as_array()?.first()?["id"]
                .as_str()
                .map(str::to_owned)
        })
        .await
        .expect("a ticket is issued");
    let r = call(
        &t,
        Method::PATCH,
        &format!("/tickets/{ticket}"),
        Some(&buyer),
        json!({"participant": {"name": person.attendee, "phone": person.phone}}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // Before erasure: exports show personal data to auditors, never a password or code hash.
    let export = export_text(&db).await;
    let audit = audit_text(&t, &admin).await;
    for (what, text) in [("events export", &export), ("/audit/events", &audit)] {
        assert!(
            text.contains(&person.email),
            "{what} shows the email to auditors"
        );
        assert!(text.contains("[secret]"), "{what} marks secret fields");
        assert!(!text.contains("$argon2"), "{what} shows a password hash");
        assert!(!text.contains("$sealed"), "{what} shows a sealed envelope");
    }
    let r = t
        .get(
            &format!("/audit/streams/user-{email_user}/events"),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"][0]["data"]["passwordHash"], "[secret]");
    assert_eq!(r.body["data"][0]["data"]["email"], person.email.as_str());
    // The log itself holds only ciphertext for them already.
    let raw = find_in_database(&db, &person.needles()).await;
    assert!(
        raw.iter().all(|h| !h.starts_with("events.")),
        "events hold personal data in clear: {raw:#?}"
    );

    // Erase both through the CLI, as an operator does.
    assert_eq!(
        cli(&db, &["users", "erase", "--email", &person.email]).await,
        Outcome::Success
    );
    assert_eq!(
        cli(&db, &["users", "erase", "--user-id", &phone_user]).await,
        Outcome::Success
    );
    // Erasing again is harmless.
    assert_eq!(
        cli(&db, &["users", "erase", "--user-id", &phone_user]).await,
        Outcome::Success
    );

    // Read models catch up with UserErased: the attendee shows as erased.
    let r = t
        .eventually(Duration::from_secs(20), || async {
            let r = t.get(&format!("/tickets/{ticket}"), Some(&admin)).await;
            (r.body["participant"]["name"] == classification::ERASED).then_some(r)
        })
        .await;
    assert!(r.is_some(), "the ticket's attendee is shown as erased");

    // The erased users can no longer sign in.
    let r = t
        .post(
            "/v1/auth/login",
            None,
            json!({"email": person.email, "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    let r = call(&t, Method::POST, "/tokens", None, sign_in).await;
    assert!(r.status.is_client_error(), "{:?}", r.body);
    let r = t.get("/tickets", Some(&buyer)).await;
    assert_eq!(
        r.status, 401,
        "the erased user's token is refused: {:?}",
        r.body
    );

    // Nothing personal anywhere: every table, every export, the log. Each projector applies
    // `UserErased` on its own schedule (the ticket above shows one of them), so the tables are
    // given the same time to catch up before the last look.
    let needles = person.needles();
    t.eventually(Duration::from_secs(20), || async {
        find_in_database(&db, &needles)
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    let hits = find_in_database(&db, &needles).await;
    assert!(
        hits.is_empty(),
        "personal data left in the database: {hits:#?}"
    );
    let export = export_text(&db).await;
    absent("events export", &export, &needles);
    assert!(!export.contains("$argon2"));
    assert!(export.contains(classification::ERASED));
    let audit = audit_text(&t, &admin).await;
    absent("/audit/events", &audit, &needles);
    for stream in [format!("user-{email_user}"), format!("user-{phone_user}")] {
        let r = t
            .get(&format!("/audit/streams/{stream}/events"), Some(&admin))
            .await;
        assert_eq!(r.status, 200);
        absent("/audit/streams", &r.body.to_string(), &needles);
    }
    absent("the server log", &logs(), &needles);

    // The hash chain covers the ciphertext, so the log still verifies.
    assert_eq!(cli(&db, &["audit", "verify"]).await, Outcome::Success);
    t.stop().await;
    // A rebuild of the read models from the log (server stopped) brings nothing back.
    assert_eq!(
        cli(&db, &["projections", "rebuild"]).await,
        Outcome::Success
    );
    let hits = find_in_database(&db, &needles).await;
    assert!(hits.is_empty(), "a rebuild brought data back: {hits:#?}");
    absent("the log of the whole run", &logs(), &needles);
}
