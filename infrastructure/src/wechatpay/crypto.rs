//! The cryptography of WeChat Pay API v3, shared by the client and [`super::simulate`]: the signed
//! messages, RSA-SHA256 (PKCS#1 v1.5) signatures in Base64, and AES-256-GCM resources.

use aws_lc_rs::error::Unspecified;
use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, UnparsedPublicKey,
};
use aws_lc_rs::{aead, rand, rsa};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Length of the GCM tag WeChat Pay appends to a resource's ciphertext, in bytes.
pub(crate) const GCM_TAG_LEN: usize = 16;
/// Length of a resource nonce, in bytes (12 ASCII characters).
pub(crate) const GCM_NONCE_LEN: usize = 12;

/// A fresh random string of 32 upper-case hex characters (128 bits), for `nonce_str`.
pub(crate) fn random_nonce() -> Result<String, Unspecified> {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes)?;
    Ok(hex::encode_upper(bytes))
}

/// The message a merchant signs for a request ("签名生成"): method, path with query, timestamp,
/// nonce and body, each followed by `\n` (the body is empty for GET).
pub(crate) fn request_message(
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    nonce: &str,
    body: &str,
) -> String {
    format!("{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{body}\n")
}

/// The message WeChat Pay signs for a reply or a notification ("签名验证"): timestamp, nonce and
/// the body as received, each followed by `\n`.
pub(crate) fn response_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(timestamp.len() + nonce.len() + body.len() + 3);
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(nonce.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(body);
    message.push(b'\n');
    message
}

/// The message of a JSAPI `paySign` ("JSAPI调起支付"): app id, timestamp, nonce and package, each
/// followed by `\n`.
pub(crate) fn pay_sign_message(
    app_id: &str,
    time_stamp: &str,
    nonce_str: &str,
    package: &str,
) -> String {
    format!("{app_id}\n{time_stamp}\n{nonce_str}\n{package}\n")
}

/// Base64 RSA-SHA256 (PKCS#1 v1.5) signature of `message`.
pub(crate) fn sign(key: &RsaKeyPair, message: &[u8]) -> Result<String, Unspecified> {
    let rng = rand::SystemRandom::new();
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)?;
    Ok(STANDARD.encode(signature))
}

/// Whether `signature` (Base64) is `key`'s RSA-SHA256 (PKCS#1 v1.5) signature of `message`.
pub(crate) fn verify(key: &rsa::PublicKey, message: &[u8], signature: &str) -> bool {
    let Ok(signature) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.as_ref())
        .verify(message, &signature)
        .is_ok()
}

/// Decrypt a resource ("回调报文解密"): `ciphertext` is Base64 of the AES-256-GCM ciphertext with
/// its 16-byte tag appended, `nonce` 12 ASCII characters, `associated_data` the AAD.
///
/// Errors: a short description, for a bad nonce, bad Base64, or a ciphertext that does not
/// authenticate under the key.
pub(crate) fn decrypt(
    key: &[u8],
    nonce: &str,
    associated_data: &str,
    ciphertext: &str,
) -> Result<Vec<u8>, &'static str> {
    let nonce: [u8; GCM_NONCE_LEN] = nonce
        .as_bytes()
        .try_into()
        .map_err(|_| "the resource nonce is not 12 bytes")?;
    let mut data = STANDARD
        .decode(ciphertext)
        .map_err(|_| "the resource ciphertext is not Base64")?;
    if data.len() < GCM_TAG_LEN {
        return Err("the resource ciphertext is shorter than its tag");
    }
    let key = aead::UnboundKey::new(&aead::AES_256_GCM, key)
        .map_err(|_| "the APIv3 key is not an AES-256 key")?;
    let plain = aead::LessSafeKey::new(key)
        .open_in_place(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(associated_data.as_bytes()),
            &mut data,
        )
        .map_err(|_| "the resource does not decrypt under the APIv3 key")?;
    Ok(plain.to_vec())
}

/// Encrypt a resource as WeChat Pay does: Base64 of AES-256-GCM ciphertext with the tag appended.
pub(crate) fn encrypt(
    key: &[u8],
    nonce: &str,
    associated_data: &str,
    plaintext: &[u8],
) -> Result<String, &'static str> {
    let nonce: [u8; GCM_NONCE_LEN] = nonce
        .as_bytes()
        .try_into()
        .map_err(|_| "the resource nonce must be 12 bytes")?;
    let key = aead::UnboundKey::new(&aead::AES_256_GCM, key)
        .map_err(|_| "the APIv3 key must be 32 bytes")?;
    let mut data = plaintext.to_vec();
    aead::LessSafeKey::new(key)
        .seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(associated_data.as_bytes()),
            &mut data,
        )
        .map_err(|_| "AES-256-GCM encryption failed")?;
    Ok(STANDARD.encode(data))
}
