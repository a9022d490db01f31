//! A printed QR code (`courtesyQrCode-{qrId}`, seed 001 "二维码业务逻辑 QRCode Workflow"): created by
//! an operator before anyone uses it, scanned any number of times, and bound to exactly one card.
//! Binding happens in the same atomic commit as the card's creation
//! ([`super::card::CourtesyCard`]), so the expected version of this stream decides which of two
//! racing cards wins.

use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Whether `id` has the seed's QR id shape: 32 lower-case hexadecimal characters
/// (`3a0137fbecf5a7bfbc25af10c27c54b4`).
pub fn is_qr_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The state of one QR code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CourtesyQrCode {
    created: Option<(String, u32, DateTime<Utc>)>,
    scan_count: u64,
    recorded: Option<(String, DateTime<Utc>)>,
}

impl CourtesyQrCode {
    /// Whether the code was generated.
    pub fn exists(&self) -> bool {
        self.created.is_some()
    }

    /// Its id (`unique_id` in answers), once generated.
    pub fn qr_id(&self) -> Option<&str> {
        self.created.as_ref().map(|(id, _, _)| id.as_str())
    }

    /// The channel it was printed for (0 when never generated).
    pub fn channel(&self) -> u32 {
        self.created.as_ref().map_or(0, |(_, c, _)| *c)
    }

    /// When it was generated.
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        self.created.as_ref().map(|(_, _, t)| *t)
    }

    /// How many `qr_query` scans were counted.
    pub fn scan_count(&self) -> u64 {
        self.scan_count
    }

    /// The token of the card bound to it and when it was bound, once recorded.
    pub fn recorded(&self) -> Option<(&str, DateTime<Utc>)> {
        self.recorded.as_ref().map(|(t, at)| (t.as_str(), *at))
    }
}

/// Commands for [`CourtesyQrCode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QrCommand {
    /// Create the code (operator command `tessera courtesy qr generate`).
    Generate {
        /// 32 lower-case hex (also the stream id).
        qr_id: String,
        /// The distribution channel it is printed for.
        channel: u32,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Count one scan (`qr_query`).
    Scan {
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Bind the card `card_token` (`card_create`).
    Record {
        /// The card's token.
        card_token: String,
        /// The card's author.
        author: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`CourtesyQrCode`] (docs/event-catalog.md, "Courtesy").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum QrEvent {
    /// An operator created the code.
    #[serde(rename = "CourtesyQrCodeGenerated")]
    Generated {
        /// Its id, 32 lower-case hex.
        qr_id: String,
        /// Its channel.
        channel: u32,
        /// When (UTC).
        generated_at: DateTime<Utc>,
    },
    /// Someone scanned it (`qr_query`).
    #[serde(rename = "CourtesyQrCodeScanned")]
    Scanned {
        /// When (UTC).
        scanned_at: DateTime<Utc>,
    },
    /// A card was bound to it, once and for ever.
    #[serde(rename = "CourtesyQrCodeRecorded")]
    Recorded {
        /// The card's token.
        card_token: String,
        /// The card's author (identity user).
        author: UserId,
        /// When (UTC).
        recorded_at: DateTime<Utc>,
    },
}

impl DomainEvent for QrEvent {}

/// Why a [`QrCommand`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    /// No code was generated under this id.
    #[error("no such QR code")]
    NotFound,
    /// The id is already taken by another code.
    #[error("the QR code exists already")]
    AlreadyGenerated,
    /// A card is already bound to it (seed code 424).
    #[error("the QR code is already recorded")]
    AlreadyRecorded,
}

impl Decider for CourtesyQrCode {
    const CATEGORY: &'static str = "courtesyQrCode";
    type Command = QrCommand;
    type Event = QrEvent;
    type Error = QrError;

    fn decide(&self, command: &QrCommand) -> Result<Vec<QrEvent>, QrError> {
        match command {
            QrCommand::Generate {
                qr_id,
                channel,
                now,
            } => {
                if self.exists() {
                    return Err(QrError::AlreadyGenerated);
                }
                Ok(vec![QrEvent::Generated {
                    qr_id: qr_id.clone(),
                    channel: *channel,
                    generated_at: *now,
                }])
            }
            QrCommand::Scan { now } => {
                if !self.exists() {
                    return Err(QrError::NotFound);
                }
                Ok(vec![QrEvent::Scanned { scanned_at: *now }])
            }
            QrCommand::Record {
                card_token,
                author,
                now,
            } => {
                if !self.exists() {
                    return Err(QrError::NotFound);
                }
                if self.recorded.is_some() {
                    return Err(QrError::AlreadyRecorded);
                }
                Ok(vec![QrEvent::Recorded {
                    card_token: card_token.clone(),
                    author: *author,
                    recorded_at: *now,
                }])
            }
        }
    }

    fn evolve(mut self, event: &QrEvent) -> Self {
        match event {
            QrEvent::Generated {
                qr_id,
                channel,
                generated_at,
            } => self.created = Some((qr_id.clone(), *channel, *generated_at)),
            QrEvent::Scanned { .. } => self.scan_count += 1,
            QrEvent::Recorded {
                card_token,
                recorded_at,
                ..
            } => {
                if self.recorded.is_none() {
                    self.recorded = Some((card_token.clone(), *recorded_at));
                }
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_code_is_bound_once_and_scans_are_counted() {
        let now = DateTime::UNIX_EPOCH;
        let author = UserId::from_uuid(uuid::Uuid::from_u128(1));
        let none = CourtesyQrCode::default();
        assert_eq!(
            none.decide(&QrCommand::Scan { now }),
            Err(QrError::NotFound)
        );
        let q = CourtesyQrCode::replay(
            &none
                .decide(&QrCommand::Generate {
                    qr_id: "a".repeat(32),
                    channel: 3,
                    now,
                })
                .unwrap(),
        );
        assert_eq!(q.channel(), 3);
        let q = q
            .clone()
            .evolve(&q.decide(&QrCommand::Scan { now }).unwrap()[0]);
        assert_eq!(q.scan_count(), 1);
        let record = |t: &str| QrCommand::Record {
            card_token: t.into(),
            author,
            now,
        };
        let q = q.clone().evolve(&q.decide(&record("one")).unwrap()[0]);
        assert_eq!(q.recorded().map(|(t, _)| t), Some("one"));
        assert_eq!(q.decide(&record("two")), Err(QrError::AlreadyRecorded));
        assert!(is_qr_id(&"0f".repeat(16)) && !is_qr_id(&"0F".repeat(16)));
    }
}
