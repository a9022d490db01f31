//! Ticket codes: the signed text printed as a QR code on every ticket (OpenTicket seed 003 §7.2
//! `qrCode`), and the PNG image of it served as `qrCodeImage`.
//!
//! A code is `OPENTICKET-<id>.<sig>` where `<id>` is the ticket id as 32 upper-case hex digits (no
//! hyphens) and `<sig>` is the URL-safe, unpadded Base64 of the first 16 bytes of
//! HMAC-SHA256(key, `"ticket:" + <ticket id, hyphenated lower-case>`). Gate staff can therefore tell
//! a genuine code from a forged one offline, and nobody without the key can mint one for another id.

use aws_lc_rs::{constant_time, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder, Luma};
use qrcode::{EcLevel, QrCode};
use tessera_application::openticket::ports::{TicketCodeError, TicketCodes};
use uuid::Uuid;

/// What every code starts with.
const PREFIX: &str = "OPENTICKET-";
/// Bytes of the HMAC tag kept in a code (128 bits: short enough for a small QR, far beyond guessing).
const SIGNATURE_BYTES: usize = 16;
/// Length of the Base64url (no padding) text of [`SIGNATURE_BYTES`] bytes.
const SIGNATURE_CHARS: usize = 22;
/// Length of a ticket id written as hex without hyphens.
const ID_CHARS: usize = 32;

/// The shortest key [`HmacTicketCodes`] accepts, in bytes (the HMAC-SHA256 block-size guidance for
/// a full-strength key).
pub const MIN_TICKET_KEY_BYTES: usize = 32;

/// Why a ticket-code key was refused at start-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketKeyError {
    /// The key is shorter than [`MIN_TICKET_KEY_BYTES`].
    #[error("the ticket code key must be at least {min} bytes, got {actual}")]
    TooShort {
        /// The minimum, in bytes.
        min: usize,
        /// The configured key's length, in bytes.
        actual: usize,
    },
}

/// [`TicketCodes`] signed with HMAC-SHA256 under a secret key from configuration.
///
/// `Debug` never shows the key.
pub struct HmacTicketCodes {
    key: hmac::Key,
}

// Manual: states `<redacted>` (checked below) rather than relying on what aws-lc-rs's `Key` prints.
impl std::fmt::Debug for HmacTicketCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HmacTicketCodes")
            .field("key", &"<redacted>")
            .finish()
    }
}

impl HmacTicketCodes {
    /// Codes signed with `key` (raw bytes, at least [`MIN_TICKET_KEY_BYTES`]).
    ///
    /// Errors: [`TicketKeyError::TooShort`].
    pub fn new(key: &[u8]) -> Result<Self, TicketKeyError> {
        if key.len() < MIN_TICKET_KEY_BYTES {
            return Err(TicketKeyError::TooShort {
                min: MIN_TICKET_KEY_BYTES,
                actual: key.len(),
            });
        }
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        })
    }

    fn tag(&self, ticket_id: Uuid) -> hmac::Tag {
        hmac::sign(&self.key, format!("ticket:{ticket_id}").as_bytes())
    }
}

impl TicketCodes for HmacTicketCodes {
    fn sign(&self, ticket_id: Uuid) -> String {
        let tag = self.tag(ticket_id);
        let truncated = &tag.as_ref()[..SIGNATURE_BYTES];
        format!(
            "{PREFIX}{:X}.{}",
            ticket_id.simple(),
            URL_SAFE_NO_PAD.encode(truncated)
        )
    }

    /// Only the exact form [`sign`](TicketCodes::sign) produces is accepted: upper-case hex id,
    /// canonical Base64url signature, no surrounding text. The comparison is constant-time.
    fn verify(&self, code: &str) -> Result<Uuid, TicketCodeError> {
        let rest = code
            .strip_prefix(PREFIX)
            .ok_or(TicketCodeError::Malformed)?;
        let (id_hex, signature) = rest.split_once('.').ok_or(TicketCodeError::Malformed)?;
        if id_hex.len() != ID_CHARS
            || !id_hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        {
            return Err(TicketCodeError::Malformed);
        }
        let ticket_id = Uuid::try_parse(id_hex).map_err(|_| TicketCodeError::Malformed)?;
        if signature.len() != SIGNATURE_CHARS {
            return Err(TicketCodeError::Malformed);
        }
        let given = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TicketCodeError::Malformed)?;
        let expected = self.tag(ticket_id);
        constant_time::verify_slices_are_equal(&given, &expected.as_ref()[..SIGNATURE_BYTES])
            .map_err(|_| TicketCodeError::BadSignature)?;
        Ok(ticket_id)
    }
}

/// Side of one QR module in the image, in pixels.
const MODULE_PIXELS: u32 = 4;

/// Why a QR image could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    /// The text does not fit in the largest QR code at error-correction level M.
    #[error("the text is too long for a QR code")]
    TooLong,
    /// The QR encoder or the PNG encoder failed.
    #[error("cannot render the QR code: {0}")]
    Render(String),
}

/// The QR code of `text` as a `data:image/png;base64,…` URI (seed 003 §7 `qrCode`/`qrCodeImage`).
///
/// Error correction level M (about 15 % of the code may be damaged), black modules of 4×4 pixels on
/// white, with the standard quiet zone of 4 modules; an 8-bit grey-scale PNG. A ticket code (66
/// characters) gives a 180×180 image of well under 2 KB.
///
/// Errors: [`QrError::TooLong`] when `text` exceeds QR capacity, [`QrError::Render`] otherwise.
pub fn qr_png_data_uri(text: &str) -> Result<String, QrError> {
    let code =
        QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| match e {
            qrcode::types::QrError::DataTooLong => QrError::TooLong,
            other => QrError::Render(other.to_string()),
        })?;
    let image = code
        .render::<Luma<u8>>()
        .quiet_zone(true)
        .module_dimensions(MODULE_PIXELS, MODULE_PIXELS)
        .build();
    let mut png = Vec::new();
    PngEncoder::new_with_quality(&mut png, CompressionType::Best, FilterType::NoFilter)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            ExtendedColorType::L8,
        )
        .map_err(|e| QrError::Render(e.to_string()))?;
    Ok(format!("data:image/png;base64,{}", STANDARD.encode(png)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef-ticket-key";
    const OTHER_KEY: &[u8] = b"fedcba9876543210fedcba9876543210-other-key!";

    fn codes() -> HmacTicketCodes {
        HmacTicketCodes::new(KEY).unwrap()
    }

    fn ticket() -> Uuid {
        Uuid::parse_str("cc0e8400-e29b-41d4-a716-446655440000").unwrap()
    }

    #[test]
    fn short_keys_are_refused() {
        assert_eq!(
            HmacTicketCodes::new(&[7; 31]).unwrap_err(),
            TicketKeyError::TooShort {
                min: 32,
                actual: 31
            }
        );
        assert!(HmacTicketCodes::new(&[7; 32]).is_ok());
    }

    #[test]
    fn debug_hides_the_key() {
        let shown = format!("{:?}", codes());
        assert!(shown.contains("redacted"));
        assert!(!shown.contains("0123456789abcdef"));
    }

    #[test]
    fn sign_has_the_documented_shape_and_verifies() {
        let code = codes().sign(ticket());
        let (head, sig) = code.split_once('.').unwrap();
        assert_eq!(head, "OPENTICKET-CC0E8400E29B41D4A716446655440000");
        assert_eq!(sig.len(), 22);
        assert!(
            sig.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let full = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, KEY),
            b"ticket:cc0e8400-e29b-41d4-a716-446655440000",
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(sig).unwrap(), &full.as_ref()[..16]);
        assert_eq!(codes().verify(&code), Ok(ticket()));
    }

    #[test]
    fn round_trip_for_many_ids() {
        let c = codes();
        for _ in 0..50 {
            let id = Uuid::new_v4();
            assert_eq!(c.verify(&c.sign(id)), Ok(id));
        }
    }

    #[test]
    fn an_altered_id_is_refused() {
        let code = codes().sign(ticket());
        // Swap one hex digit of the id, keep the signature.
        let altered = code.replacen("CC0E8400", "CC0E8401", 1);
        assert_ne!(altered, code);
        assert_eq!(codes().verify(&altered), Err(TicketCodeError::BadSignature));
        // A valid signature of another ticket does not carry over.
        let other = codes().sign(Uuid::new_v4());
        let (_, other_sig) = other.split_once('.').unwrap();
        let (head, _) = code.split_once('.').unwrap();
        assert_eq!(
            codes().verify(&format!("{head}.{other_sig}")),
            Err(TicketCodeError::BadSignature)
        );
    }

    #[test]
    fn an_altered_signature_is_refused() {
        let code = codes().sign(ticket());
        let (head, sig) = code.split_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(sig).unwrap();
        bytes[0] ^= 1;
        let altered = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&bytes));
        assert_eq!(codes().verify(&altered), Err(TicketCodeError::BadSignature));
    }

    #[test]
    fn a_code_from_another_key_is_refused() {
        let foreign = HmacTicketCodes::new(OTHER_KEY).unwrap().sign(ticket());
        assert_eq!(codes().verify(&foreign), Err(TicketCodeError::BadSignature));
    }

    #[test]
    fn garbage_is_malformed() {
        let good = codes().sign(ticket());
        let (head, sig) = good.split_once('.').unwrap();
        let lower = format!(
            "OPENTICKET-{}.{sig}",
            head.trim_start_matches(PREFIX).to_lowercase()
        );
        let hyphenated = format!("OPENTICKET-{}.{sig}", ticket());
        for bad in [
            "",
            "OPENTICKET-",
            "hello",
            "OPENTICKET-CC0E8400E29B41D4A716446655440000",
            &format!("{head}."),
            &format!("{head}.{sig}x"),
            &format!("{head}.{}", &sig[..21]),
            &format!("{head}.{}=", &sig[..21]),
            &format!("{head}.{}", sig.replace(|_: char| true, "+")),
            &format!(" {good}"),
            &format!("{good}\n"),
            &good.replacen("OPENTICKET", "OPENTICKEX", 1),
            &lower,
            &hyphenated,
            &format!("OPENTICKET-ZZ0E8400E29B41D4A716446655440000.{sig}"),
        ] {
            assert_eq!(
                codes().verify(bad),
                Err(TicketCodeError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_qr_data_uri_is_a_small_png_of_the_code() {
        let text = codes().sign(ticket());
        let uri = qr_png_data_uri(&text).unwrap();
        let b64 = uri.strip_prefix("data:image/png;base64,").unwrap();
        let png = STANDARD.decode(b64).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(png.len() < 4096, "PNG is {} bytes", png.len());

        let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
            .unwrap()
            .to_luma8();
        let qr = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).unwrap();
        let side = (qr.width() as u32 + 8) * MODULE_PIXELS;
        assert_eq!((img.width(), img.height()), (side, side));
        assert!((100..=400).contains(&side), "side {side}");
        // Quiet zone is white; every module is drawn where the code says.
        assert_eq!(img.get_pixel(0, 0).0[0], 255);
        let colors = qr.to_colors();
        let w = qr.width();
        for y in 0..w {
            for x in 0..w {
                let px = img
                    .get_pixel(
                        (x as u32 + 4) * MODULE_PIXELS + 1,
                        (y as u32 + 4) * MODULE_PIXELS + 1,
                    )
                    .0[0];
                let dark = colors[y * w + x] == qrcode::Color::Dark;
                assert_eq!(px == 0, dark, "module ({x},{y})");
            }
        }
    }

    #[test]
    fn oversized_text_is_too_long() {
        let huge = "x".repeat(5000);
        assert_eq!(qr_png_data_uri(&huge), Err(QrError::TooLong));
    }
}
