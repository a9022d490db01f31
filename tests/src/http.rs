//! Real HTTP against a real server: start Tessera on a random port over a test database and talk to
//! it with reqwest, as a client app would.

use crate::TestDb;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::time::Duration;
use tessera_api::{RunningServer, ServerConfig};

/// Server settings for tests: random port, fast deadlines, fixed keys, cheap password hashing.
pub fn server_config() -> ServerConfig {
    ServerConfig {
        bind: "127.0.0.1:0".parse().expect("address"),
        deadline_poll_ms: 50,
        jwt_secret: Some(SecretString::from("test-jwt-secret-of-at-least-32-bytes!!")),
        ticket_code_secret: Some(SecretString::from("test-ticket-code-secret-32-bytes-long!")),
        password_hash_memory_kib: 1024,
        password_hash_iterations: 1,
        // Suites make bursts of requests as one user; tests/tests/rate_limits.rs turns them on.
        rate_limits: tessera_api::config::RateLimitConfig {
            limits: "off".into(),
            ..Default::default()
        },
        ..ServerConfig::default()
    }
}

/// A running server and a client for it.
pub struct TestServer {
    /// The server.
    pub server: RunningServer,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The client.
    pub http: reqwest::Client,
}

/// A response: status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Parsed body.
    pub body: Value,
}

impl Reply {
    /// `body.data`.
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
    /// `body.error.code`.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    /// `body.error.details.field`.
    pub fn field(&self) -> &str {
        self.body["error"]["details"]["field"]
            .as_str()
            .unwrap_or("")
    }
}

impl TestServer {
    /// Start on `db` with `config`.
    pub async fn start_with(db: &TestDb, config: ServerConfig) -> TestServer {
        let server = RunningServer::start(&db.config(), config)
            .await
            .expect("start server");
        let base = format!("http://{}", server.addr);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        TestServer { server, base, http }
    }

    /// Start on `db` with [`server_config`].
    pub async fn start(db: &TestDb) -> TestServer {
        Self::start_with(db, server_config()).await
    }

    /// Stop gracefully.
    pub async fn stop(self) {
        self.server.stop(Duration::from_secs(10)).await;
    }

    /// Send a request with an optional bearer token and JSON body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, body }
    }

    /// Send raw bytes with headers (webhooks, malformed JSON).
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// GET.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::GET, path, token, None).await
    }

    /// POST JSON.
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::POST, path, token, Some(body)).await
    }

    /// DELETE, with an optional JSON body.
    pub async fn delete(&self, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        self.send(Method::DELETE, path, token, body).await
    }

    /// Register a user through the API and sign in; returns (user id, access token).
    pub async fn customer(&self, email: &str) -> (String, String) {
        let r = self
            .post(
                "/v1/auth/register",
                None,
                json!({"email": email, "password": "correct horse battery"}),
            )
            .await;
        assert_eq!(r.status, 201, "register {email}: {:?}", r.body);
        let user_id = r.data()["userId"].as_str().expect("userId").to_owned();
        (user_id, self.login(email, "correct horse battery").await)
    }

    /// Sign in; returns the access token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let r = self
            .post(
                "/v1/auth/login",
                None,
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(r.status, 200, "login {email}: {:?}", r.body);
        r.data()["accessToken"]
            .as_str()
            .expect("accessToken")
            .to_owned()
    }

    /// Create an admin the way an operator does (`tessera users create-admin`) and sign in.
    pub async fn admin(&self) -> String {
        let email = "admin@tessera.test";
        self.server
            .services
            .identity
            .create_admin(email, "admin password 123")
            .await
            .expect("create admin");
        self.login(email, "admin password 123").await
    }

    /// A user holding `role` (granted by an admin over HTTP); returns (user id, fresh token).
    pub async fn with_role(&self, admin: &str, email: &str, role: &str) -> (String, String) {
        let (user_id, _) = self.customer(email).await;
        let r = self
            .post(
                &format!("/v1/admin/users/{user_id}/roles"),
                Some(admin),
                json!({"role": role}),
            )
            .await;
        assert_eq!(r.status, 200, "grant {role}: {:?}", r.body);
        (user_id, self.login(email, "correct horse battery").await)
    }

    /// Poll `check` every 50 ms until it returns `Some`, at most `within`.
    pub async fn eventually<T, F, Fut>(&self, within: Duration, mut check: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(v) = check().await {
                return Some(v);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
