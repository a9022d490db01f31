//! Settings of the WeChat Pay adapter and the keys read from them.
//!
//! Keys are read once, at start-up, by [`Keys::load`]: a key that cannot be used fails there with a
//! [`WechatPayConfigError`] instead of on the first payment.

use aws_lc_rs::rsa;
use aws_lc_rs::signature::RsaKeyPair;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, SubjectPublicKeyInfoDer};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// WeChat Pay's production API host (WeChat Pay API v3, "API 域名": the main domain; the backup
/// `https://api2.mch.weixin.qq.com` can be configured instead).
pub const WECHATPAY_API_BASE: &str = "https://api.mch.weixin.qq.com";
/// How long one call to WeChat Pay may take (connect, send, answer) before it counts as
/// unavailable: 10 seconds.
pub const WECHATPAY_DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Smallest RSA modulus accepted for the merchant and platform keys, in bits (WeChat Pay issues
/// RSA 2048 keys).
pub const MIN_RSA_BITS: usize = 2048;
/// Length of the APIv3 key in bytes (the 32-character key set in the merchant platform, "APIv3
/// 密钥").
pub const API_V3_KEY_LEN: usize = 32;

/// A secret read from configuration (the merchant private key PEM, the APIv3 key).
/// Held by `secrecy`: `Debug` shows `[REDACTED]` and the text is zeroed on drop.
#[derive(Clone, Debug)]
pub struct WechatPaySecret(SecretString);

impl WechatPaySecret {
    /// Wrap a secret read from configuration.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(SecretString::from(secret.into()))
    }
}

impl From<SecretString> for WechatPaySecret {
    fn from(secret: SecretString) -> Self {
        Self(secret)
    }
}

impl ExposeSecret<str> for WechatPaySecret {
    /// The secret itself, for building the adapter only.
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Settings of the WeChat Pay API v3 adapter (a direct merchant, "普通商户").
///
/// Built with [`WechatPayConfig::new`] (production host, default timeout, no platform keys yet) and
/// completed with [`WechatPayConfig::with_platform_key`]; checked by
/// [`WechatPayClient::new`](super::WechatPayClient::new).
#[derive(Debug, Clone)]
pub struct WechatPayConfig {
    /// API base URL without a trailing slash: [`WECHATPAY_API_BASE`] in production, a local server
    /// speaking the same protocol in tests. A path prefix is kept and signed as sent.
    pub base_url: String,
    /// The app id the payments are for (`appid`: the mini-program's or official account's).
    pub app_id: String,
    /// The merchant id (`mchid`).
    pub mch_id: String,
    /// Serial number of the merchant API certificate (`serial_no` in the `Authorization` header),
    /// e.g. `3775B6A45ACD588826D15E583A95F5DD********`.
    pub merchant_serial_no: String,
    /// The merchant API private key (`apiclient_key.pem`): RSA, at least 2048 bits, PEM, PKCS#8
    /// (`BEGIN PRIVATE KEY`; PKCS#1 `BEGIN RSA PRIVATE KEY` is accepted too).
    pub merchant_private_key_pem: WechatPaySecret,
    /// The APIv3 key: exactly [`API_V3_KEY_LEN`] bytes, used as the AES-256-GCM key of
    /// notification resources.
    pub api_v3_key: WechatPaySecret,
    /// Where WeChat Pay sends payment notifications (`notify_url`): an `https://` URL without query
    /// string, reachable from the internet.
    pub notify_url: String,
    /// WeChat Pay's verification keys by serial (the `Wechatpay-Serial` of replies and
    /// notifications). Each value is a PEM, read by its label: a platform certificate
    /// (`BEGIN CERTIFICATE`, X.509, keyed by its serial number in hex) or a WeChat Pay public key
    /// (`BEGIN PUBLIC KEY`, SubjectPublicKeyInfo, keyed by its `PUB_KEY_ID_…` id). Several entries
    /// let keys rotate without downtime.
    pub platform_keys: BTreeMap<String, String>,
    /// Limit for one whole call; [`WECHATPAY_DEFAULT_TIMEOUT`] by default.
    pub timeout: Duration,
}

impl WechatPayConfig {
    /// Settings for the production host with the default timeout and no platform key yet.
    pub fn new(
        app_id: impl Into<String>,
        mch_id: impl Into<String>,
        merchant_serial_no: impl Into<String>,
        merchant_private_key_pem: WechatPaySecret,
        api_v3_key: WechatPaySecret,
        notify_url: impl Into<String>,
    ) -> Self {
        Self {
            base_url: WECHATPAY_API_BASE.to_owned(),
            app_id: app_id.into(),
            mch_id: mch_id.into(),
            merchant_serial_no: merchant_serial_no.into(),
            merchant_private_key_pem,
            api_v3_key,
            notify_url: notify_url.into(),
            platform_keys: BTreeMap::new(),
            timeout: WECHATPAY_DEFAULT_TIMEOUT,
        }
    }

    /// Add (or replace) the platform certificate or public key PEM known by `serial`.
    #[must_use]
    pub fn with_platform_key(mut self, serial: impl Into<String>, pem: impl Into<String>) -> Self {
        self.platform_keys.insert(serial.into(), pem.into());
        self
    }
}

/// Why the WeChat Pay adapter could not be built at start-up.
#[derive(Debug, thiserror::Error)]
pub enum WechatPayConfigError {
    /// The base URL is not an `http://` or `https://` URL.
    #[error("the WeChat Pay base URL must be an http(s) URL, got {0:?}")]
    BadBaseUrl(String),
    /// A required setting (named) is empty.
    #[error("the WeChat Pay setting {0} is empty")]
    Missing(&'static str),
    /// The merchant private key is not a PEM private key.
    #[error("the merchant private key is not a PEM private key: {0}")]
    MerchantKeyPem(String),
    /// The merchant private key is a PEM private key, but not an RSA key this adapter can use.
    #[error("the merchant private key is not a usable RSA key: {0}")]
    MerchantKeyNotRsa(String),
    /// The merchant RSA key is shorter than [`MIN_RSA_BITS`] (bits given).
    #[error("the merchant private key has {0} bits; WeChat Pay needs RSA 2048 or more")]
    MerchantKeyTooShort(usize),
    /// The APIv3 key is not [`API_V3_KEY_LEN`] bytes long (length given).
    #[error("the WeChat Pay APIv3 key must be 32 bytes, got {0}")]
    ApiV3KeyLength(usize),
    /// No platform certificate or public key is configured, so no reply could be trusted.
    #[error("no WeChat Pay platform certificate or public key is configured")]
    NoPlatformKeys,
    /// A platform key entry is not a PEM certificate or public key, or cannot be read.
    #[error("WeChat Pay platform key {serial}: {reason}")]
    PlatformKey {
        /// The serial the entry is configured under.
        serial: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A platform key entry holds a key that is not RSA of [`MIN_RSA_BITS`] bits or more.
    #[error("WeChat Pay platform key {serial} is not an RSA public key of 2048 bits or more")]
    PlatformKeyNotRsa {
        /// The serial the entry is configured under.
        serial: String,
    },
    /// A platform certificate is configured under a serial other than its own serial number.
    #[error(
        "the platform certificate configured as {serial} has serial number {certificate_serial}"
    )]
    CertificateSerialMismatch {
        /// The serial the entry is configured under.
        serial: String,
        /// The certificate's serial number, upper-case hex.
        certificate_serial: String,
    },
    /// The HTTP client could not be created (TLS set-up).
    #[error("cannot build the HTTP client for WeChat Pay: {0}")]
    Client(#[source] reqwest::Error),
}

/// How a platform key was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PlatformKeyKind {
    /// From a platform certificate (`BEGIN CERTIFICATE`).
    Certificate,
    /// A WeChat Pay public key (`BEGIN PUBLIC KEY`, id `PUB_KEY_ID_…`).
    PublicKey,
}

/// The keys read from a [`WechatPayConfig`].
pub(crate) struct Keys {
    pub(crate) merchant: RsaKeyPair,
    pub(crate) platform: HashMap<String, (PlatformKeyKind, rsa::PublicKey)>,
    pub(crate) api_v3_key: SecretBox<[u8; API_V3_KEY_LEN]>,
}

// Manual: platform serials in a stable order instead of aws-lc-rs's full public-key dumps.
impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut serials: Vec<_> = self.platform.iter().map(|(s, (k, _))| (s, k)).collect();
        serials.sort();
        f.debug_struct("Keys")
            .field("merchant", &"<redacted>")
            .field("platform", &serials)
            .field("api_v3_key", &self.api_v3_key)
            .finish()
    }
}

impl Keys {
    /// Read and check every key of `config`.
    pub(crate) fn load(config: &WechatPayConfig) -> Result<Self, WechatPayConfigError> {
        let merchant = merchant_key(config.merchant_private_key_pem.expose_secret())?;
        let api_v3_key = config.api_v3_key.expose_secret().as_bytes();
        let api_v3_key = SecretBox::try_init_with(|| {
            <[u8; API_V3_KEY_LEN]>::try_from(api_v3_key)
                .map_err(|_| WechatPayConfigError::ApiV3KeyLength(api_v3_key.len()))
        })?;
        if config.platform_keys.is_empty() {
            return Err(WechatPayConfigError::NoPlatformKeys);
        }
        let platform = config
            .platform_keys
            .iter()
            .map(|(serial, pem)| Ok((serial.clone(), platform_key(serial, pem)?)))
            .collect::<Result<_, WechatPayConfigError>>()?;
        Ok(Self {
            merchant,
            platform,
            api_v3_key,
        })
    }
}

fn merchant_key(pem_text: &str) -> Result<RsaKeyPair, WechatPayConfigError> {
    let der = PrivateKeyDer::from_pem_slice(pem_text.as_bytes())
        .map_err(|e| WechatPayConfigError::MerchantKeyPem(pem_error(&e)))?;
    let key = match &der {
        PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
        _ => {
            return Err(WechatPayConfigError::MerchantKeyNotRsa(
                "an elliptic-curve (SEC1) key".to_owned(),
            ));
        }
    }
    .map_err(|e| WechatPayConfigError::MerchantKeyNotRsa(e.to_string()))?;
    let bits = key.public_modulus_len() * 8;
    if bits < MIN_RSA_BITS {
        return Err(WechatPayConfigError::MerchantKeyTooShort(bits));
    }
    Ok(key)
}

fn platform_key(
    serial: &str,
    pem_text: &str,
) -> Result<(PlatformKeyKind, rsa::PublicKey), WechatPayConfigError> {
    let bad = |reason: String| WechatPayConfigError::PlatformKey {
        serial: serial.to_owned(),
        reason,
    };
    let (kind, spki) = match CertificateDer::from_pem_slice(pem_text.as_bytes()) {
        Ok(cert_der) => {
            let cert = webpki::EndEntityCert::try_from(&cert_der)
                .map_err(|e| bad(format!("not an X.509 v3 certificate: {e}")))?;
            let certificate_serial = hex::encode_upper(strip_leading_zeros(cert.serial()));
            if !certificate_serial
                .trim_start_matches('0')
                .eq_ignore_ascii_case(serial.trim_start_matches('0'))
            {
                return Err(WechatPayConfigError::CertificateSerialMismatch {
                    serial: serial.to_owned(),
                    certificate_serial,
                });
            }
            (
                PlatformKeyKind::Certificate,
                cert.subject_public_key_info().as_ref().to_vec(),
            )
        }
        Err(pem::Error::NoItemsFound) => {
            let spki =
                SubjectPublicKeyInfoDer::from_pem_slice(pem_text.as_bytes()).map_err(|e| {
                    bad(format!(
                        "neither a PEM certificate nor a PEM public key ({})",
                        pem_error(&e)
                    ))
                })?;
            (PlatformKeyKind::PublicKey, spki.as_ref().to_vec())
        }
        Err(e) => return Err(bad(pem_error(&e))),
    };
    let not_rsa = || WechatPayConfigError::PlatformKeyNotRsa {
        serial: serial.to_owned(),
    };
    let key = rsa::PublicKey::from_der(&spki).map_err(|_| not_rsa())?;
    if key.modulus_len() * 8 < MIN_RSA_BITS {
        return Err(not_rsa());
    }
    Ok((kind, key))
}

/// A PEM error without echoing the input (which may be a private key).
fn pem_error(e: &pem::Error) -> String {
    match e {
        pem::Error::NoItemsFound => "no PEM section of the expected kind".to_owned(),
        pem::Error::MissingSectionEnd { .. } => "a PEM section has no END line".to_owned(),
        pem::Error::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed".to_owned(),
        pem::Error::Base64Decode(_) => "a PEM section is not valid Base64".to_owned(),
        _ => "unreadable PEM".to_owned(),
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}
