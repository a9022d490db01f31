//! What WeChat Pay's servers do, for tests and local development: sign replies and notifications
//! with a platform key, encrypt notification resources with the merchant's APIv3 key, and make RSA
//! key pairs in PEM. Never needed in production, where WeChat Pay does all of this.
//!
//! The formats are those of WeChat Pay API v3 ("签名验证", "回调报文解密", "支付通知"), so what these
//! functions produce is accepted by [`WechatPayClient`](super::WechatPayClient) configured with the
//! matching platform public key (or certificate) and APIv3 key, and by nothing else.

use super::crypto;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use secrecy::SecretString;
use tessera_application::payments::wechatpay::WechatPaySignatureHeaders;

/// Why a simulated WeChat Pay message could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimulateError {
    /// The platform private key is not a PEM RSA private key (PKCS#8 or PKCS#1).
    #[error("the platform private key is not a PEM RSA private key: {0}")]
    Key(String),
    /// Random generation, signing or encryption failed (e.g. an APIv3 key that is not 32 bytes).
    #[error("{0}")]
    Crypto(&'static str),
}

/// An RSA key pair in PEM, like a merchant's `apiclient_key.pem` or WeChat Pay's platform key.
#[derive(Clone, Debug)]
pub struct GeneratedKeyPair {
    /// The private key, PKCS#8 PEM (`BEGIN PRIVATE KEY`), held by `secrecy` so `Debug` hides it.
    pub private_key_pem: SecretString,
    /// The public key, SubjectPublicKeyInfo PEM (`BEGIN PUBLIC KEY`), as WeChat Pay hands out its
    /// `PUB_KEY_ID_…` public keys.
    pub public_key_pem: String,
}

/// A fresh RSA-2048 key pair (a few tens of milliseconds).
///
/// Errors: [`SimulateError::Crypto`] if the system cannot generate or encode the key.
pub fn generate_rsa_key_pair() -> Result<GeneratedKeyPair, SimulateError> {
    let key = KeyPair::generate(KeySize::Rsa2048)
        .map_err(|_| SimulateError::Crypto("RSA key generation failed"))?;
    let private = key
        .as_der()
        .map_err(|_| SimulateError::Crypto("cannot encode the RSA private key"))?;
    let public = key
        .public_key()
        .as_der()
        .map_err(|_| SimulateError::Crypto("cannot encode the RSA public key"))?;
    Ok(GeneratedKeyPair {
        private_key_pem: pem("PRIVATE KEY", private.as_ref()).into(),
        public_key_pem: pem("PUBLIC KEY", public.as_ref()),
    })
}

/// `der` as a PEM section with `label` (`CERTIFICATE`, `PUBLIC KEY`, `PRIVATE KEY` …), Base64 in
/// lines of 64 characters.
pub fn pem(label: &str, der: &[u8]) -> String {
    let encoded = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// WeChat Pay's side of signing: a platform private key and the serial it is known by
/// (`Wechatpay-Serial`: a platform certificate serial or a `PUB_KEY_ID_…`).
pub struct PlatformSigner {
    key: KeyPair,
    serial: String,
}

// Manual: aws-lc-rs would print the whole public key; the serial says which key this is.
impl std::fmt::Debug for PlatformSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformSigner")
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

impl PlatformSigner {
    /// A signer from a PEM RSA private key (PKCS#8 or PKCS#1) and its serial.
    ///
    /// Errors: [`SimulateError::Key`] when the PEM holds no usable RSA private key.
    pub fn from_pem(
        private_key_pem: &str,
        serial: impl Into<String>,
    ) -> Result<Self, SimulateError> {
        let der = PrivateKeyDer::from_pem_slice(private_key_pem.as_bytes())
            .map_err(|_| SimulateError::Key("no PEM private key".into()))?;
        let key = match &der {
            PrivateKeyDer::Pkcs8(k) => KeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => KeyPair::from_der(k.secret_pkcs1_der()),
            _ => return Err(SimulateError::Key("not an RSA key".into())),
        }
        .map_err(|e| SimulateError::Key(e.to_string()))?;
        Ok(Self {
            key,
            serial: serial.into(),
        })
    }

    /// The serial this signer signs as.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The headers WeChat Pay sends with `body` (a reply or a notification), signed at `timestamp`
    /// (Unix seconds) with a fresh 32-character nonce: `signature` is Base64 RSA-SHA256 over
    /// `timestamp\nnonce\nbody\n`.
    ///
    /// Errors: [`SimulateError::Crypto`] if randomness or signing fails.
    pub fn sign(
        &self,
        body: &[u8],
        timestamp: i64,
    ) -> Result<WechatPaySignatureHeaders, SimulateError> {
        let nonce = crypto::random_nonce().map_err(|_| SimulateError::Crypto("no randomness"))?;
        let timestamp = timestamp.to_string();
        let message = crypto::response_message(&timestamp, &nonce, body);
        let signature = crypto::sign(&self.key, &message)
            .map_err(|_| SimulateError::Crypto("RSA signing failed"))?;
        Ok(WechatPaySignatureHeaders {
            timestamp,
            nonce,
            signature,
            serial: self.serial.clone(),
        })
    }

    /// A complete `TRANSACTION.SUCCESS` payment notification at `now`, as WeChat Pay posts it to
    /// `notify_url`: [`notification_body`] (resource encrypted with `api_v3_key`, AAD
    /// `transaction`) and its signed headers. `transaction` is the plain resource, e.g.
    /// `{"appid", "mchid", "out_trade_no", "transaction_id", "trade_state": "SUCCESS",
    /// "success_time", "payer": {"openid"}, "amount": {"total", "payer_total", "currency"}}`
    /// (amounts in fen).
    ///
    /// Errors: [`SimulateError::Crypto`] for an APIv3 key that is not 32 bytes, or failed
    /// randomness or signing.
    pub fn notification(
        &self,
        api_v3_key: &[u8],
        notification_id: &str,
        transaction: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<(WechatPaySignatureHeaders, Vec<u8>), SimulateError> {
        let plain = serde_json::to_vec(transaction)
            .map_err(|_| SimulateError::Crypto("cannot encode the transaction"))?;
        let body = notification_body(
            api_v3_key,
            notification_id,
            "TRANSACTION.SUCCESS",
            "transaction",
            &plain,
            now,
        )?;
        let headers = self.sign(&body, now.timestamp())?;
        Ok((headers, body))
    }
}

/// Sign and encrypt a payment notification in one call: [`PlatformSigner::notification`] with the
/// platform key `platform_private_key_pem` known as `serial`.
///
/// Errors: [`SimulateError::Key`] for an unusable key, [`SimulateError::Crypto`] as
/// [`PlatformSigner::notification`].
pub fn notification(
    platform_private_key_pem: &str,
    serial: &str,
    api_v3_key: &[u8],
    notification_id: &str,
    transaction: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(WechatPaySignatureHeaders, Vec<u8>), SimulateError> {
    PlatformSigner::from_pem(platform_private_key_pem, serial)?.notification(
        api_v3_key,
        notification_id,
        transaction,
        now,
    )
}

/// A notification body (unsigned): `{id, create_time (UTC+8), resource_type: "encrypt-resource",
/// event_type, summary, resource: {original_type, algorithm: "AEAD_AES_256_GCM", ciphertext,
/// associated_data, nonce}}`, the resource being `plaintext` encrypted by [`encrypt_resource`] with
/// a fresh 12-character nonce and `associated_data` as AAD.
///
/// Errors: [`SimulateError::Crypto`] for an APIv3 key that is not 32 bytes or failed randomness.
pub fn notification_body(
    api_v3_key: &[u8],
    notification_id: &str,
    event_type: &str,
    associated_data: &str,
    plaintext: &[u8],
    create_time: DateTime<Utc>,
) -> Result<Vec<u8>, SimulateError> {
    let mut nonce_bytes = [0u8; crypto::GCM_NONCE_LEN / 2];
    aws_lc_rs::rand::fill(&mut nonce_bytes).map_err(|_| SimulateError::Crypto("no randomness"))?;
    let nonce = hex::encode_upper(nonce_bytes);
    let ciphertext = encrypt_resource(api_v3_key, &nonce, associated_data, plaintext)?;
    let body = serde_json::json!({
        "id": notification_id,
        "create_time": super::china_time(create_time),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": "支付成功",
        "resource": {
            "original_type": "transaction",
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext,
            "associated_data": associated_data,
            "nonce": nonce,
        },
    });
    serde_json::to_vec(&body).map_err(|_| SimulateError::Crypto("cannot encode the notification"))
}

/// Encrypt a notification resource as WeChat Pay does: AES-256-GCM with `api_v3_key` (32 bytes),
/// `nonce` (12 bytes), `associated_data` as AAD; returns Base64 of the ciphertext with the 16-byte
/// tag appended.
///
/// Errors: [`SimulateError::Crypto`] for a key that is not 32 bytes or a nonce that is not 12.
pub fn encrypt_resource(
    api_v3_key: &[u8],
    nonce: &str,
    associated_data: &str,
    plaintext: &[u8],
) -> Result<String, SimulateError> {
    crypto::encrypt(api_v3_key, nonce, associated_data, plaintext).map_err(SimulateError::Crypto)
}
