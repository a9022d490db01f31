//! Phone numbers as the meeting document and SMS sign-in know them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A mainland China mobile number: 11 digits starting with 1 and then 3–9 (no `+86`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

/// Why a phone number was refused; the message is the document's own wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("手机号应为11位数字")]
pub struct PhoneError;

impl Phone {
    /// Parse 11 ASCII digits starting `1[3-9]`, after trimming spaces.
    pub fn parse(raw: &str) -> Result<Self, PhoneError> {
        let s = raw.trim();
        let b = s.as_bytes();
        let ok = b.len() == 11
            && b.iter().all(u8::is_ascii_digit)
            && b[0] == b'1'
            && (b'3'..=b'9').contains(&b[1]);
        if ok {
            Ok(Phone(s.to_owned()))
        } else {
            Err(PhoneError)
        }
    }

    /// Whether this is the erased marker rather than a number (its subject was erased).
    pub fn is_erased(&self) -> bool {
        self.0 == crate::shared::classification::ERASED
    }

    /// The 11 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The stored form: 11 digits, or the erased marker
/// ([`crate::shared::classification::ERASED`]) read in place of an erased subject's number, so
/// erased history still replays. [`Phone::parse`] (every input path) never accepts the marker.
impl TryFrom<String> for Phone {
    type Error = PhoneError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value == crate::shared::classification::ERASED {
            return Ok(Phone(value));
        }
        Phone::parse(&value)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_eleven_digits_starting_1_3_to_9() {
        assert_eq!(
            Phone::parse(" 13800138000 ").map(|p| p.to_string()),
            Ok("13800138000".into())
        );
        for bad in [
            "",
            "1380013800",
            "138001380000",
            "12800138000",
            "23800138000",
            "1380013800a",
            "+8613800138000",
            "１３８００１３８０００",
        ] {
            assert_eq!(Phone::parse(bad), Err(PhoneError), "{bad:?}");
        }
    }

    #[test]
    fn only_stored_data_may_hold_the_erased_marker() {
        assert_eq!(Phone::parse("[erased]"), Err(PhoneError));
        let stored = serde_json::from_str::<Phone>("\"[erased]\"");
        assert!(stored.is_ok_and(|p| p.is_erased()));
        assert!(serde_json::from_str::<Phone>("\"[erased] \"").is_err());
    }
}
