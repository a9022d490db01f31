//! The [`WechatAuth`] port over the WeChat server API (`api.weixin.qq.com`): checking a web
//! authorisation access token (`GET /sns/auth`, Official Accounts "Web authorisation" guide) and
//! exchanging a mini-program login code for a session (`GET /sns/jscode2session`, Mini Program
//! server API `code2Session`). See docs/sms-and-wechat-login.md for the errcode mapping.
//!
//! Both calls carry secrets in the query string (the access token, the app secret), so request
//! URLs are never logged and transport errors are stripped of their URL.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;
use tessera_application::identity::ports::{WechatAuth, WechatAuthError, WechatSession};

/// The WeChat server API's production base URL.
pub const WECHAT_API_BASE: &str = "https://api.weixin.qq.com";
/// How long one call may take before it counts as unavailable: 10 seconds.
pub const WECHAT_DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// WeChat's "system busy, try again" errcode, the one error worth retrying.
const ERRCODE_BUSY: i64 = -1;

/// A WeChat app secret (`AppSecret`).
/// Held by `secrecy`: `Debug` shows `[REDACTED]` and the text is zeroed on drop.
#[derive(Clone, Debug)]
pub struct WechatAppSecret(SecretString);

impl WechatAppSecret {
    /// Wrap a secret read from configuration.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(SecretString::from(secret.into()))
    }
}

impl From<SecretString> for WechatAppSecret {
    fn from(secret: SecretString) -> Self {
        Self(secret)
    }
}

impl ExposeSecret<str> for WechatAppSecret {
    /// The secret itself, for the `jscode2session` query only.
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Settings of [`WechatApiClient`]. `Debug` shows everything but the app secret.
#[derive(Debug, Clone)]
pub struct WechatApiConfig {
    /// API base URL, e.g. [`WECHAT_API_BASE`] (a local fake in tests); a trailing `/` is ignored.
    pub base_url: String,
    /// The mini-program's `AppID` (`wx…`), sent as `appid`.
    pub app_id: String,
    /// The mini-program's `AppSecret`, sent as `secret`.
    pub app_secret: WechatAppSecret,
    /// Limit for one whole call (connect, send, answer); [`WECHAT_DEFAULT_TIMEOUT`] by default.
    pub timeout: Duration,
}

impl WechatApiConfig {
    /// Settings for the production API with the default timeout.
    pub fn new(app_id: impl Into<String>, app_secret: WechatAppSecret) -> Self {
        Self {
            base_url: WECHAT_API_BASE.to_owned(),
            app_id: app_id.into(),
            app_secret,
            timeout: WECHAT_DEFAULT_TIMEOUT,
        }
    }
}

/// Why [`WechatApiClient`] could not be built at start-up.
#[derive(Debug, thiserror::Error)]
pub enum WechatApiConfigError {
    /// The base URL is not an `http://` or `https://` URL without query or fragment.
    #[error("the WeChat API base URL must be an http(s) URL, got {0:?}")]
    BadBaseUrl(String),
    /// The app id is empty.
    #[error("the WeChat app id is empty")]
    MissingAppId,
    /// The app secret is empty.
    #[error("the WeChat app secret is empty")]
    MissingAppSecret,
    /// The HTTP client could not be created (TLS set-up).
    #[error("cannot build the HTTP client for the WeChat API: {0}")]
    Client(#[source] reqwest::Error),
}

/// The [`WechatAuth`] adapter for the WeChat server API.
#[derive(Debug, Clone)]
pub struct WechatApiClient {
    client: reqwest::Client,
    /// The base URL without a trailing `/`.
    base: String,
    config: WechatApiConfig,
}

impl WechatApiClient {
    /// A client using `config`. Redirects are not followed.
    ///
    /// Errors: [`WechatApiConfigError`] for a bad base URL, an empty app id or secret, or a client
    /// that cannot be built.
    pub fn new(config: WechatApiConfig) -> Result<Self, WechatApiConfigError> {
        let base = config.base_url.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base)
            .map_err(|_| WechatApiConfigError::BadBaseUrl(config.base_url.clone()))?;
        if !matches!(parsed.scheme(), "http" | "https")
            || parsed.query().is_some()
            || parsed.fragment().is_some()
        {
            return Err(WechatApiConfigError::BadBaseUrl(config.base_url.clone()));
        }
        if config.app_id.trim().is_empty() {
            return Err(WechatApiConfigError::MissingAppId);
        }
        if config.app_secret.expose_secret().trim().is_empty() {
            return Err(WechatApiConfigError::MissingAppSecret);
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(WechatApiConfigError::Client)?;
        Ok(Self {
            client,
            base,
            config,
        })
    }

    /// `GET {base}{path}?{params}` (params percent-encoded), the reply's body if HTTP 2xx.
    async fn get(&self, path: &str, params: &[(&str, &str)]) -> Result<Vec<u8>, WechatAuthError> {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.base), params)
            .map_err(|e| WechatAuthError::Unavailable(format!("cannot build the URL: {e}")))?;
        let response = self.client.get(url).send().await.map_err(|e| {
            // The URL holds the access token or app secret: drop it from the message.
            let e = e.without_url();
            if e.is_timeout() {
                WechatAuthError::Unavailable(format!("WeChat did not answer in time: {e}"))
            } else if e.is_connect() {
                WechatAuthError::Unavailable(format!("cannot connect to WeChat: {e}"))
            } else {
                WechatAuthError::Unavailable(format!("request to WeChat failed: {e}"))
            }
        })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| {
            WechatAuthError::Unavailable(format!(
                "reading WeChat's answer failed: {}",
                e.without_url()
            ))
        })?;
        if !status.is_success() {
            return Err(WechatAuthError::Unavailable(format!(
                "WeChat answered HTTP {}",
                status.as_u16()
            )));
        }
        Ok(body.to_vec())
    }
}

/// `/sns/auth` reply: `{"errcode": 0, "errmsg": "ok"}`.
#[derive(Deserialize)]
struct AuthReply {
    errcode: Option<i64>,
    #[serde(default)]
    errmsg: String,
}

/// `/sns/jscode2session` reply: the session, or `errcode`/`errmsg`.
#[derive(Deserialize)]
struct SessionReply {
    openid: Option<String>,
    session_key: Option<String>,
    unionid: Option<String>,
    errcode: Option<i64>,
    #[serde(default)]
    errmsg: String,
}

/// Maps a non-zero `errcode`: -1 (busy) is [`WechatAuthError::Unavailable`], the rest
/// [`WechatAuthError::Refused`].
fn refusal(errcode: i64, errmsg: String) -> WechatAuthError {
    if errcode == ERRCODE_BUSY {
        WechatAuthError::Unavailable(format!("WeChat is busy (-1): {errmsg}"))
    } else {
        WechatAuthError::Refused { errcode, errmsg }
    }
}

#[async_trait]
impl WechatAuth for WechatApiClient {
    /// `GET {base}/sns/auth?access_token=…&openid=…`.
    ///
    /// Errors: [`WechatAuthError::Refused`] for any non-zero `errcode` but -1 (40001 / 40003 /
    /// 42001: bad or expired token, wrong openid …); [`WechatAuthError::Unavailable`] for -1,
    /// HTTP errors, timeouts, connection failures and replies without an `errcode`.
    #[tracing::instrument(skip_all)]
    async fn verify_token(&self, openid: &str, access_token: &str) -> Result<(), WechatAuthError> {
        let body = self
            .get(
                "/sns/auth",
                &[("access_token", access_token), ("openid", openid)],
            )
            .await?;
        let reply: AuthReply = serde_json::from_slice(&body).map_err(|e| {
            WechatAuthError::Unavailable(format!("WeChat's /sns/auth answer is unreadable: {e}"))
        })?;
        match reply.errcode {
            Some(0) => Ok(()),
            Some(errcode) => {
                tracing::debug!(errcode, errmsg = %reply.errmsg, "WeChat refused the access token");
                Err(refusal(errcode, reply.errmsg))
            }
            None => Err(WechatAuthError::Unavailable(
                "WeChat's /sns/auth answer has no errcode".to_owned(),
            )),
        }
    }

    /// `GET {base}/sns/jscode2session?appid=…&secret=…&js_code=…&grant_type=authorization_code`.
    /// WeChat answers HTTP 200 for errors too, so the `errcode` decides.
    ///
    /// Errors: [`WechatAuthError::Refused`] for a non-zero `errcode` but -1 (40029 invalid code,
    /// 40163 code already used, 45011 rate limited …); [`WechatAuthError::Unavailable`] for -1,
    /// HTTP errors, timeouts, connection failures and replies without `openid` and `session_key`.
    #[tracing::instrument(skip_all)]
    async fn code_to_session(&self, js_code: &str) -> Result<WechatSession, WechatAuthError> {
        let body = self
            .get(
                "/sns/jscode2session",
                &[
                    ("appid", self.config.app_id.as_str()),
                    ("secret", self.config.app_secret.expose_secret()),
                    ("js_code", js_code),
                    ("grant_type", "authorization_code"),
                ],
            )
            .await?;
        let reply: SessionReply = serde_json::from_slice(&body).map_err(|e| {
            WechatAuthError::Unavailable(format!(
                "WeChat's jscode2session answer is unreadable: {e}"
            ))
        })?;
        if let Some(errcode) = reply.errcode.filter(|c| *c != 0) {
            tracing::debug!(errcode, errmsg = %reply.errmsg, "WeChat refused the login code");
            return Err(refusal(errcode, reply.errmsg));
        }
        match (reply.openid, reply.session_key) {
            (Some(openid), Some(session_key)) if !openid.is_empty() && !session_key.is_empty() => {
                Ok(WechatSession {
                    openid,
                    session_key,
                    unionid: reply.unionid.filter(|u| !u.is_empty()),
                })
            }
            _ => Err(WechatAuthError::Unavailable(
                "WeChat's jscode2session answer has no openid or session_key".to_owned(),
            )),
        }
    }
}

/// A development stand-in for WeChat when no WeChat app is configured: it vouches for exactly the
/// token `dev:{openid}` and refuses everything else with errcode 40001, and `code_to_session`
/// turns the login code `dev:{openid}` into that openid. The server logs a warning at start when
/// it is in use; configure `TESSERA_WECHAT_APP_ID` to talk to WeChat instead.
#[derive(Debug, Clone, Copy, Default)]
pub struct DevWechatAuth;

impl DevWechatAuth {
    fn openid_of(token: &str) -> Option<&str> {
        token.strip_prefix("dev:").filter(|id| !id.is_empty())
    }
}

#[async_trait]
impl WechatAuth for DevWechatAuth {
    async fn verify_token(&self, openid: &str, access_token: &str) -> Result<(), WechatAuthError> {
        match Self::openid_of(access_token) {
            Some(id) if id == openid => Ok(()),
            _ => Err(WechatAuthError::Refused {
                errcode: 40001,
                errmsg: "invalid credential (development verifier expects dev:{openid})".into(),
            }),
        }
    }

    async fn code_to_session(&self, js_code: &str) -> Result<WechatSession, WechatAuthError> {
        let openid = Self::openid_of(js_code).ok_or(WechatAuthError::Refused {
            errcode: 40029,
            errmsg: "invalid code (development verifier expects dev:{openid})".into(),
        })?;
        Ok(WechatSession {
            openid: openid.to_owned(),
            session_key: String::new(),
            unionid: None,
        })
    }
}
