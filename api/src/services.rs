//! The application services every route shares, built once at start from the engine and the
//! server settings: identity (users, tokens) now; each API document adds its own.

use crate::config::{MeetingConfig, ServerConfig};
use crate::startup::Engine;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::sync::Arc;
use tessera_application::identity::phone_signin::{PhoneSignIn, SignInPorts, SignInSettings};
use tessera_application::identity::ports::{
    SmsError, SmsSender, WechatAuth, WechatAuthError, WechatSession,
};
use tessera_application::identity::{AccessTokens, IdentityService};
use tessera_application::meeting::{MeetingService, MeetingSettings};
use tessera_application::openticket::ports::TicketCodes;
use tessera_application::openticket::{OpenTicketService, OpenTicketSettings};
use tessera_application::payments::PaymentGateway;
use tessera_application::payments::wechatpay::WechatPay;
use tessera_application::plans::{PlansService, PlansSettings};
use tessera_application::shop::{ShopPorts, ShopService};
use tessera_domain::plans::catalogue::Catalogue;
use tessera_infrastructure::identity::auth::HmacSignInCodes;
use tessera_infrastructure::identity::auth::{
    Argon2PasswordHasher, AuthConfigError, JwtAccessTokens, RandomSecrets,
};
use tessera_infrastructure::identity::sms::{
    ConsoleSmsSender, TencentSecretKey, TencentSmsConfig, TencentSmsConfigError, TencentSmsSender,
};
use tessera_infrastructure::identity::wechat_api::{
    DevWechatAuth, WechatApiClient, WechatApiConfig, WechatApiConfigError, WechatAppSecret,
};
use tessera_infrastructure::openticket::ticket_codes::{HmacTicketCodes, TicketKeyError};
use tessera_infrastructure::payments::{
    MockGateway, StripeConfig, StripeConfigError, StripeGateway, StripeSecretKey,
};
use tessera_infrastructure::wechatpay::{
    WechatPayClient, WechatPayConfig, WechatPayConfigError, WechatPaySecret,
};
use tessera_projections::meeting::MeetingQueries;
use tessera_projections::openticket::OpenTicketQueries;
use tessera_projections::plans::PlansQueries;
use tessera_projections::shop::ShopQueries;

/// Services shared by the routes of all documents.
#[derive(Clone)]
pub struct Services {
    /// Users, sign-in, refresh tokens, roles (one identity for all five documents).
    pub identity: IdentityService,
    /// Access-token signing and signature checks (also inside `identity`). Signed-in requests go
    /// through `identity.authorize`, which also checks the user and the session in the log.
    pub tokens: Arc<dyn AccessTokens>,
    /// OpenTicket commands (seed 003), its deadlines and its fulfilment process manager.
    pub openticket: Arc<OpenTicketService>,
    /// OpenTicket read models (seed 003 §3–§7 queries).
    pub openticket_queries: OpenTicketQueries,
    /// Signs and checks the codes printed on OpenTicket tickets.
    pub ticket_codes: Arc<dyn TicketCodes>,
    /// Payment providers by the name clients send as `paymentProvider` (`Mock`, `Stripe`).
    pub gateways: HashMap<String, Arc<dyn PaymentGateway>>,
    /// Secret of `X-Webhook-Signature` per webhook provider path segment (`mock`, `stripe`).
    pub webhook_secrets: HashMap<String, String>,
    /// Stripe's webhook signing secret (`whsec_…`) for `Stripe-Signature`, when configured.
    pub stripe_webhook_secret: Option<String>,
    /// Where clients reach this server (no trailing slash).
    pub public_url: String,
    /// Seed 000 sign-in: SMS codes, WeChat tokens, phone users, their access tokens.
    pub phone_signin: PhoneSignIn,
    /// Seed 000 commands: meetings, orders, payments, tickets.
    pub meetings: Arc<MeetingService>,
    /// Seed 000 read models.
    pub meeting_queries: MeetingQueries,
    /// WeChat Pay, when configured (verifies notifications).
    pub wechat_pay: Option<Arc<dyn WechatPay>>,
    /// The console SMS sender, when no SMS gateway is configured (its last code per phone).
    pub console_sms: Option<ConsoleSmsSender>,
    /// Seed 002 commands: WeChat login, users, categories, products, orders, cards, payments.
    pub shop: Arc<ShopService>,
    /// Seed 002 read models.
    pub shop_queries: ShopQueries,
    /// Seed 004 commands: companies, members, trials (and their deadlines).
    pub plans: Arc<PlansService>,
    /// Seed 004 read models.
    pub plans_queries: PlansQueries,
    /// Plans payments and recharges read models (`plans_payments`, `plans_recharges`).
    pub plans_payments_queries: tessera_projections::plans::PaymentsQueries,
    /// Seed 001 commands: accounts, sessions, profiles, uploads.
    pub courtesy: Arc<tessera_application::courtesy::CourtesyService>,
    /// Seed 001 read models.
    pub courtesy_queries: tessera_projections::courtesy::CourtesyQueries,
    /// Seed 003 §2.2 Google and Apple sign-in (`POST /v1/auth/oauth/{provider}`).
    pub oauth: tessera_application::identity::oauth::OAuthSignIn,
    /// Seed 003 §8: the live feed of seat and order changes, the SignalR hub and the seat stream.
    pub live: Arc<crate::openticket::live::Live>,
}

/// Why the services could not be built from the settings.
#[derive(Debug, thiserror::Error)]
pub enum ServicesError {
    /// A key or a hashing parameter is unusable.
    #[error("authentication settings: {0}")]
    Auth(#[from] AuthConfigError),
    /// The ticket code key is unusable.
    #[error("ticket code key: {0}")]
    TicketKey(#[from] TicketKeyError),
    /// The Stripe settings are unusable.
    #[error("Stripe settings: {0}")]
    Stripe(#[from] StripeConfigError),
    /// The Tencent Cloud SMS settings are unusable.
    #[error("Tencent Cloud SMS settings: {0}")]
    Sms(#[from] TencentSmsConfigError),
    /// The WeChat app settings are unusable.
    #[error("WeChat settings: {0}")]
    Wechat(#[from] WechatApiConfigError),
    /// The WeChat Pay settings are unusable.
    #[error("WeChat Pay settings: {0}")]
    WechatPay(#[from] WechatPayConfigError),
    /// The plan catalogue file is unreadable or invalid (`TESSERA_PLANS_CATALOGUE`).
    #[error("plan catalogue {path}: {reason}")]
    PlansCatalogue {
        /// The file, or `built-in`.
        path: String,
        /// What is wrong (the JSON path at fault).
        reason: String,
    },
    /// The Alipay settings are unusable.
    #[error("Alipay settings: {0}")]
    Alipay(#[from] tessera_infrastructure::alipay::AlipayConfigError),
    /// The recharge offer file is unreadable or invalid (`TESSERA_PLANS_RECHARGE_OFFER`).
    #[error("recharge offer {path}: {reason}")]
    PlansRechargeOffer {
        /// The file.
        path: String,
        /// What is wrong (the JSON path at fault).
        reason: String,
    },
    /// A Google or Apple sign-in setting is unusable (`TESSERA_OAUTH_*`).
    #[error("OAuth sign-in settings: {0}")]
    OAuth(#[from] tessera_infrastructure::oidc::OidcConfigError),
    /// The Apple sign-in key or its ids are unusable (`TESSERA_OAUTH_APPLE_*`).
    #[error("Apple sign-in key: {0}")]
    AppleKey(#[from] tessera_infrastructure::oidc::AppleKeyError),
    /// A key file could not be read.
    #[error("cannot read {path}: {source}")]
    KeyFile {
        /// The key file's path as configured (e.g. `TESSERA_WECHATPAY_PRIVATE_KEY_FILE`).
        path: String,
        /// The I/O error reading it (missing, unreadable).
        source: std::io::Error,
    },
}

fn read_key(path: &std::path::Path) -> Result<String, ServicesError> {
    std::fs::read_to_string(path).map_err(|source| ServicesError::KeyFile {
        path: path.display().to_string(),
        source,
    })
}

/// The SMS gateway of a production server without Tencent Cloud SMS settings: every send fails
/// (502 to the client), so SMS sign-in is plainly not offered instead of codes going to a log.
struct NoSmsGateway;

#[async_trait::async_trait]
impl SmsSender for NoSmsGateway {
    async fn send_code(
        &self,
        _phone: &str,
        _code: &str,
        _ttl_minutes: u32,
    ) -> Result<(), SmsError> {
        Err(SmsError::Unavailable(
            "SMS sign-in is not offered by this server (no SMS gateway configured)".into(),
        ))
    }
}

/// The WeChat API of a production server without a WeChat app: nothing is vouched for, so WeChat
/// sign-in is not offered (and `dev:{wechatId}` tokens mean nothing).
struct NoWechatApp;

#[async_trait::async_trait]
impl WechatAuth for NoWechatApp {
    async fn verify_token(&self, _openid: &str, _token: &str) -> Result<(), WechatAuthError> {
        Err(WechatAuthError::Unavailable(
            "WeChat sign-in is not offered by this server (no WeChat app configured)".into(),
        ))
    }

    async fn code_to_session(&self, _js_code: &str) -> Result<WechatSession, WechatAuthError> {
        Err(WechatAuthError::Unavailable(
            "WeChat sign-in is not offered by this server (no WeChat app configured)".into(),
        ))
    }
}

/// The SMS gateway: Tencent Cloud SMS when its `SecretId` is set, else the console sender (also
/// returned, so tests and tools can read the codes it sent) in development, or none in production.
fn sms_sender(
    m: &MeetingConfig,
    production: bool,
) -> Result<(Arc<dyn SmsSender>, Option<ConsoleSmsSender>), ServicesError> {
    match (&m.tencent_sms_secret_id, &m.tencent_sms_secret_key) {
        (Some(id), Some(key)) => {
            let mut c = TencentSmsConfig::new(
                id.clone(),
                TencentSecretKey::from(key.clone()),
                m.tencent_sms_sdk_app_id.clone(),
                m.tencent_sms_sign_name.clone(),
                m.tencent_sms_template_id.clone(),
            );
            c.endpoint = m.tencent_sms_endpoint.clone();
            Ok((Arc::new(TencentSmsSender::new(c)?), None))
        }
        _ if production => Ok((Arc::new(NoSmsGateway), None)),
        _ => {
            let console = ConsoleSmsSender::new();
            Ok((Arc::new(console.clone()), Some(console)))
        }
    }
}

/// The WeChat API: the real one when an app id is set, else the development verifier in
/// development, or none in production.
fn wechat_auth(m: &MeetingConfig, production: bool) -> Result<Arc<dyn WechatAuth>, ServicesError> {
    match (&m.wechat_app_id, &m.wechat_app_secret) {
        (Some(app), Some(secret)) => {
            let mut c = WechatApiConfig::new(app.clone(), WechatAppSecret::from(secret.clone()));
            c.base_url = m.wechat_api_base.clone();
            Ok(Arc::new(WechatApiClient::new(c)?))
        }
        _ if production => Ok(Arc::new(NoWechatApp)),
        _ => Ok(Arc::new(DevWechatAuth)),
    }
}

/// A WeChat Pay client and its merchant id.
type WechatPayWithPayee = (Arc<dyn WechatPay>, String);

/// WeChat Pay with its merchant id, when a merchant id is set.
fn wechat_pay(
    m: &MeetingConfig,
    public_url: &str,
) -> Result<Option<WechatPayWithPayee>, ServicesError> {
    let Some(mch_id) = &m.wechatpay_mch_id else {
        return Ok(None);
    };
    let key = match &m.wechatpay_private_key_file {
        Some(p) => read_key(p)?,
        None => String::new(),
    };
    let mut c = WechatPayConfig::new(
        m.wechat_app_id.clone().unwrap_or_default(),
        mch_id.clone(),
        m.wechatpay_serial_no.clone(),
        WechatPaySecret::new(key),
        WechatPaySecret::from(m.wechatpay_api_v3_key.clone().unwrap_or_default()),
        m.wechatpay_notify_url
            .clone()
            .unwrap_or_else(|| format!("{public_url}/wechatpay/notify")),
    );
    c.base_url = m.wechatpay_api_base.clone();
    for entry in m
        .wechatpay_platform_keys
        .split(',')
        .filter(|e| !e.trim().is_empty())
    {
        let (serial, path) = entry.split_once('=').unwrap_or((entry, ""));
        c = c.with_platform_key(serial.trim(), read_key(std::path::Path::new(path.trim()))?);
    }
    let client: Arc<dyn WechatPay> = Arc::new(WechatPayClient::new(c)?);
    Ok(Some((client, mch_id.clone())))
}

/// `configured` when set, else 48 random bytes as text (hex), with a warning: keys made up at
/// start do not survive a restart. [`ServerConfig::prepare`] fills these before a server starts
/// (from the development secrets file) or refuses production without them; this is the fallback
/// of callers that build services from raw settings.
fn key_or_random(configured: Option<&SecretString>, what: &str) -> SecretString {
    match configured {
        Some(key) => key.clone(),
        None => {
            tracing::warn!(
                setting = what,
                "no key configured: using a random one for this run only (set it in production)"
            );
            let mut bytes = [0u8; 48];
            if aws_lc_rs::rand::fill(&mut bytes).is_err() {
                // The system random source failing is not recoverable in any useful way.
                tracing::error!("system random source failed");
            }
            hex::encode(bytes).into()
        }
    }
}

/// The OpenID Connect clients of the configured providers (`TESSERA_OAUTH_*`): a provider is
/// offered when its client id is set.
fn oidc_providers(
    c: &crate::config::OAuthConfig,
) -> Result<
    std::collections::BTreeMap<
        tessera_domain::identity::oauth::OAuthProvider,
        Arc<dyn tessera_application::identity::oauth::OidcProvider>,
    >,
    ServicesError,
> {
    use tessera_domain::identity::oauth::OAuthProvider;
    use tessera_infrastructure::oidc::{AppleClientSecret, OidcClient, OidcClientConfig};
    let issuers = |list: &str| -> Vec<String> {
        list.split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let refetch = std::time::Duration::from_secs(c.oauth_jwks_refetch_secs);
    let mut providers: std::collections::BTreeMap<
        OAuthProvider,
        Arc<dyn tessera_application::identity::oauth::OidcProvider>,
    > = std::collections::BTreeMap::new();
    if let Some(client_id) = &c.oauth_google_client_id {
        let secret = c.oauth_google_client_secret.clone().unwrap_or_default();
        let mut config = OidcClientConfig::google(client_id.clone(), secret);
        config.token_url = c.oauth_google_token_url.clone();
        config.jwks_url = c.oauth_google_jwks_url.clone();
        config.issuers = issuers(&c.oauth_google_issuer);
        config.jwks_refetch_min = refetch;
        providers.insert(OAuthProvider::Google, Arc::new(OidcClient::new(config)?));
    }
    if let Some(client_id) = &c.oauth_apple_client_id {
        let pem = match &c.oauth_apple_private_key_file {
            Some(path) => read_key(path)?,
            None => String::new(),
        };
        let secret = AppleClientSecret::from_pem(
            c.oauth_apple_team_id.clone().unwrap_or_default(),
            c.oauth_apple_key_id.clone().unwrap_or_default(),
            &pem,
        )?;
        let mut config = OidcClientConfig::apple(client_id.clone(), secret);
        config.token_url = c.oauth_apple_token_url.clone();
        config.jwks_url = c.oauth_apple_jwks_url.clone();
        config.issuers = issuers(&c.oauth_apple_issuer);
        config.jwks_refetch_min = refetch;
        providers.insert(OAuthProvider::Apple, Arc::new(OidcClient::new(config)?));
    }
    Ok(providers)
}

/// The plans settings: the catalogue file (or the built-in one), trial length, grace period.
fn plans_settings(c: &crate::config::PlansConfig) -> Result<PlansSettings, ServicesError> {
    let (path, catalogue) = match &c.plans_catalogue {
        Some(p) => (p.display().to_string(), Catalogue::from_json(&read_key(p)?)),
        None => ("built-in".to_owned(), Catalogue::builtin()),
    };
    let catalogue = catalogue.map_err(|e| ServicesError::PlansCatalogue {
        path,
        reason: e.to_string(),
    })?;
    Ok(PlansSettings {
        catalogue: Arc::new(catalogue),
        trial_length: chrono::Duration::seconds(c.plans_trial_secs.max(1) as i64),
        grace: chrono::Duration::seconds(c.plans_grace_secs as i64),
        order_ttl: chrono::Duration::seconds(c.plans_order_ttl_secs.max(1) as i64),
    })
}

/// The plans payment ports (docs/decisions/0028-plans-external-payments.md): the shared WeChat Pay
/// merchant client with the plans notify route, an Alipay client when `TESSERA_ALIPAY_APP_ID` is
/// set, the payment TTL and the recharge offer.
fn plans_payment_ports(
    c: &crate::config::PlansPaymentsConfig,
    wechat_pay: Option<Arc<dyn WechatPay>>,
    public_url: &str,
) -> Result<tessera_application::plans::payments::PaymentPorts, ServicesError> {
    use tessera_infrastructure::alipay::{ALIPAY_DEFAULT_TIMEOUT, AlipayClient, AlipayConfig};
    let alipay_notify_url = c
        .alipay_notify_url
        .clone()
        .unwrap_or_else(|| format!("{public_url}/plans/alipay/notify"));
    let alipay: Option<Arc<dyn tessera_application::payments::alipay::Alipay>> = match &c
        .alipay_app_id
    {
        Some(app_id) => {
            let key_file = |f: &Option<std::path::PathBuf>, name: &'static str| match f {
                Some(p) => read_key(p),
                None => Err(ServicesError::Alipay(
                    tessera_infrastructure::alipay::AlipayConfigError::Missing(name),
                )),
            };
            Some(Arc::new(AlipayClient::new(AlipayConfig {
                gateway_url: c.alipay_gateway.clone(),
                app_id: app_id.clone(),
                app_private_key: key_file(&c.alipay_private_key_file, "private key file")?.into(),
                alipay_public_key: key_file(&c.alipay_public_key_file, "public key file")?,
                notify_url: alipay_notify_url.clone(),
                timeout: ALIPAY_DEFAULT_TIMEOUT,
            })?))
        }
        None => None,
    };
    let recharge_offer = match &c.plans_recharge_offer {
        Some(p) => Some(Arc::new(
            tessera_domain::plans::recharge::RechargeOffer::from_json(&read_key(p)?).map_err(
                |e| ServicesError::PlansRechargeOffer {
                    path: p.display().to_string(),
                    reason: e.to_string(),
                },
            )?,
        )),
        None => None,
    };
    Ok(tessera_application::plans::payments::PaymentPorts {
        wechat_pay,
        wechatpay_notify_url: Some(
            c.plans_wechatpay_notify_url
                .clone()
                .unwrap_or_else(|| format!("{public_url}/plans/wechatpay/notify")),
        ),
        alipay,
        alipay_notify_url: Some(alipay_notify_url),
        ttl: chrono::Duration::seconds(
            i64::try_from(c.plans_payment_ttl_secs.max(1))
                .unwrap_or(i64::MAX)
                .min(10 * 365 * 86_400),
        ),
        recharge_offer,
    })
}

impl Services {
    /// Build every service over `engine` with `config`.
    pub fn build(engine: &Engine, config: &ServerConfig) -> Result<Services, ServicesError> {
        let jwt_key = key_or_random(config.jwt_secret.as_ref(), "TESSERA_JWT_SECRET");
        let tokens: Arc<dyn AccessTokens> = Arc::new(
            JwtAccessTokens::new(jwt_key.expose_secret().as_bytes())?
                .with_ttl_secs(config.access_token_ttl_secs)?,
        );
        let hasher = Arc::new(Argon2PasswordHasher::with_params(
            config.password_hash_memory_kib,
            config.password_hash_iterations,
            1,
        )?);
        let identity = IdentityService::new(
            engine.events.clone(),
            engine.clock.clone(),
            hasher,
            tokens.clone(),
            Arc::new(RandomSecrets),
        );
        let code_key = key_or_random(
            config.ticket_code_secret.as_ref(),
            "TESSERA_TICKET_CODE_SECRET",
        );
        let ticket_codes: Arc<dyn TicketCodes> =
            Arc::new(HmacTicketCodes::new(code_key.expose_secret().as_bytes())?);
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", config.bind))
            .trim_end_matches('/')
            .to_owned();
        let production = config.is_production();
        let mut gateways: HashMap<String, Arc<dyn PaymentGateway>> = HashMap::new();
        let mut webhook_secrets = HashMap::new();
        // Production has no Mock provider at all: not offered, no payment page, no webhook.
        if !production {
            gateways.insert(
                "Mock".into(),
                Arc::new(MockGateway::new(public_url.clone())),
            );
            webhook_secrets.insert(
                "mock".to_owned(),
                config.mock_webhook_secret.expose_secret().to_owned(),
            );
        }
        if let Some(key) = &config.stripe_secret_key {
            let mut stripe = StripeConfig::new(
                StripeSecretKey::from(key.clone()),
                format!(
                    "{public_url}/v1/payments/stripe/success?session_id={{CHECKOUT_SESSION_ID}}"
                ),
                format!("{public_url}/v1/payments/stripe/cancel"),
            );
            stripe.api_base = config.stripe_api_base.clone();
            gateways.insert("Stripe".into(), Arc::new(StripeGateway::new(stripe)?));
        }
        let stripe_webhook_secret = config
            .stripe_webhook_secret
            .as_ref()
            .map(|s| s.expose_secret().to_owned());
        if let Some(secret) = &stripe_webhook_secret {
            webhook_secrets.insert("stripe".to_owned(), secret.clone());
        }
        let openticket = Arc::new(OpenTicketService::new(
            tessera_application::CommandRunner::new(engine.events.clone()),
            engine.clock.clone(),
            gateways.clone(),
            OpenTicketSettings {
                lock_ttl: chrono::Duration::seconds(config.seat_lock_ttl_secs as i64),
                order_ttl: chrono::Duration::seconds(config.order_ttl_secs as i64),
                max_seats_per_lock: config.max_seats_per_lock,
            },
        ));
        let m = &config.meeting;
        let code_key = key_or_random(m.sms_code_secret.as_ref(), "TESSERA_SMS_CODE_SECRET");
        let (sms, console_sms) = sms_sender(m, production)?;
        let wechat = wechat_auth(m, production)?;
        let phone_signin = PhoneSignIn::new(
            SignInPorts {
                store: engine.events.clone(),
                clock: engine.clock.clone(),
                sms,
                wechat: wechat.clone(),
                tokens: tokens.clone(),
                secrets: Arc::new(RandomSecrets),
                codes: Arc::new(HmacSignInCodes::new(code_key.expose_secret().as_bytes())?),
            },
            SignInSettings {
                sms_ttl: chrono::Duration::seconds(m.sms_code_ttl_secs as i64),
                sms_cooldown: chrono::Duration::seconds(m.sms_cooldown_secs as i64),
                sms_max_attempts: m.sms_max_attempts.max(1),
                ..SignInSettings::default()
            },
        );
        let pay = wechat_pay(m, &public_url)?;
        let wechat_pay_port = pay.as_ref().map(|(p, _)| p.clone());
        let meetings = Arc::new(MeetingService::new(
            engine.events.clone(),
            engine.clock.clone(),
            pay,
            MeetingSettings {
                order_ttl: chrono::Duration::seconds(m.meeting_order_ttl_secs as i64),
                // `TESSERA_MEETING_MOCK_PAYMENTS` cannot turn it on in production.
                mock_payments: m.mock_payments && !production,
            },
        ));
        let shop = Arc::new(ShopService::new(ShopPorts {
            runner: tessera_application::CommandRunner::new(engine.events.clone()),
            clock: engine.clock.clone(),
            wechat,
            tokens: tokens.clone(),
            identity: identity.clone(),
        }));
        // Shop orders (issue 11 part 2): how long an unpaid order holds its stock.
        let order_ttl = i64::try_from(config.shop_order_ttl_secs)
            .unwrap_or(i64::MAX)
            .min(10 * 365 * 86_400);
        let shop = Arc::new(
            ShopService::clone(&shop).with_order_ttl(chrono::Duration::seconds(order_ttl)),
        );
        // The blob store every document's uploads share (decision 0024; `TESSERA_BLOB_DIR`).
        let blobs: Arc<dyn tessera_application::blobs::BlobStore> =
            Arc::new(tessera_infrastructure::blobs::FsBlobStore::new(
                config
                    .blob_dir
                    .clone()
                    .unwrap_or_else(|| std::path::PathBuf::from("data/blobs")),
            ));
        let plans = Arc::new(
            PlansService::new(
                tessera_application::CommandRunner::new(engine.events.clone()),
                engine.clock.clone(),
                identity.clone(),
                plans_settings(&config.plans)?,
            )
            .with_blobs(blobs.clone()),
        );
        let courtesy = Arc::new(tessera_application::courtesy::CourtesyService::new(
            tessera_application::courtesy::CourtesyPorts {
                runner: tessera_application::CommandRunner::new(engine.events.clone()),
                clock: engine.clock.clone(),
                identity: identity.clone(),
                blobs,
            },
        ));
        // Plans external payments and recharges (issue 13 part 3b): WeChat Pay Native through the
        // shared merchant client, Alipay, bank transfers.
        let plans = Arc::new(
            PlansService::clone(&plans).with_payment_ports(plans_payment_ports(
                &config.plans_payments,
                wechat_pay_port.clone(),
                &public_url,
            )?),
        );
        // Shop payments (issue 11 part 4): the merchant's WeChat Pay, notifications to the shop's
        // own route (`TESSERA_SHOP_WECHATPAY_NOTIFY_URL` / `WECHAT_NOTIFY_URL`).
        let shop = match &wechat_pay_port {
            Some(pay) => Arc::new(
                ShopService::clone(&shop).with_wechat_pay(
                    pay.clone(),
                    config
                        .shop_wechatpay_notify_url
                        .clone()
                        .unwrap_or_else(|| format!("{public_url}/api/payment/wxpay/notify")),
                ),
            ),
            None => shop,
        };
        // Google and Apple sign-in (seed 003 §2.2; decision 0031).
        let oauth = tessera_application::identity::oauth::OAuthSignIn::new(
            engine.events.clone(),
            engine.clock.clone(),
            identity.clone(),
            tokens.clone(),
            oidc_providers(&config.oauth)?,
        );
        Ok(Services {
            oauth,
            plans,
            plans_queries: PlansQueries::new(engine.read_models.clone()),
            plans_payments_queries: tessera_projections::plans::PaymentsQueries::new(
                engine.read_models.clone(),
            ),
            courtesy,
            courtesy_queries: tessera_projections::courtesy::CourtesyQueries::new(
                engine.read_models.clone(),
            ),
            shop,
            shop_queries: ShopQueries::new(engine.read_models.clone()),
            phone_signin,
            meetings,
            meeting_queries: MeetingQueries::new(engine.read_models.clone()),
            wechat_pay: wechat_pay_port,
            console_sms,
            identity,
            openticket,
            tokens,
            openticket_queries: OpenTicketQueries::new(engine.read_models.clone()),
            ticket_codes,
            gateways,
            webhook_secrets,
            stripe_webhook_secret,
            public_url,
            live: Arc::new(crate::openticket::live::Live::new(engine.events.clone())),
        })
    }
}
