//! The seed's `ObjectId`: 24 lower-case hex digits (12 bytes, MongoDB's layout: a 4-byte
//! big-endian Unix time in seconds, then 8 bytes the caller supplies at random). Made outside the
//! domain (the application draws the random part) and carried in events, so a rebuild of the read
//! models gives every row the same id (docs/decisions/0025-plans-ids-and-catalogue.md).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A 24-hex-digit id, lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectId(String);

/// Why a string is not an [`ObjectId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be 24 hexadecimal digits")]
pub struct ObjectIdError;

impl ObjectId {
    /// Build from its parts: `secs` (Unix time, seconds, big-endian) and 8 more bytes.
    pub fn from_parts(secs: u32, rest: [u8; 8]) -> Self {
        let mut s = String::with_capacity(24);
        for b in secs.to_be_bytes().iter().chain(rest.iter()) {
            s.push_str(&format!("{b:02x}"));
        }
        ObjectId(s)
    }

    /// Parse 24 hex digits (either case; kept lower case).
    ///
    /// Errors: [`ObjectIdError`] for anything else.
    pub fn parse(s: &str) -> Result<Self, ObjectIdError> {
        if s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(ObjectId(s.to_ascii_lowercase()))
        } else {
            Err(ObjectIdError)
        }
    }

    /// The 24 lower-case hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ObjectId {
    type Error = ObjectIdError;
    fn try_from(value: String) -> Result<Self, ObjectIdError> {
        ObjectId::parse(&value)
    }
}

impl From<ObjectId> for String {
    fn from(id: ObjectId) -> String {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_give_24_hex_digits_time_first() {
        let id = ObjectId::from_parts(0x6500_0000, [0xab; 8]);
        assert_eq!(id.as_str(), "65000000abababababababab");
        assert_eq!(ObjectId::parse("65000000ABABABABABABABAB"), Ok(id));
        assert!(ObjectId::parse("65000000abababababababa").is_err());
        assert!(ObjectId::parse("65000000abababababababag").is_err());
        assert!(serde_json::from_str::<ObjectId>("\"xyz\"").is_err());
    }
}
