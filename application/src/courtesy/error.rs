//! Why a Courtesy use case failed; the api answers each with the seed's numeric code.

use super::BlobError;
use crate::command::EngineError;
use crate::identity::IdentityError;
use tessera_domain::shared::FieldError;

/// Why a Courtesy use case failed.
#[derive(Debug, thiserror::Error)]
pub enum CourtesyError {
    /// A field is invalid (seed code 401 with `field`).
    #[error(transparent)]
    Field(#[from] FieldError),
    /// The email belongs to another user of the shared identity (405, `field: email`).
    #[error("the email address is already registered")]
    EmailTaken,
    /// Unknown email or wrong password, alike (406).
    #[error("wrong email or password")]
    InvalidCredentials,
    /// The password matched a disabled user (407).
    #[error("the account is banned")]
    Banned,
    /// No live session (403).
    #[error("not signed in")]
    NotSignedIn,
    /// Nothing stored under what was asked (404).
    #[error("not found")]
    NotFound,
    /// An image of the wrong dimensions, size or format (422).
    #[error("image refused: {0}")]
    ImageRefused(String),
    /// A conflict on the named field (405): a card token already used.
    #[error("{0} is taken")]
    Conflict(&'static str),
    /// The QR code already has a card (424, with its `qr_info`).
    #[error("the QR code is already recorded")]
    QrRecorded(super::QrInfo),
    /// Not the card's author, or the card is no longer editable (425).
    #[error("no privilege on this card")]
    NoPrivilege,
    /// The card is banned (426).
    #[error("the card is banned")]
    CardBanned,
    /// The engine failed (503).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The identity failed for a reason that is not the client's (503).
    #[error(transparent)]
    Identity(IdentityError),
    /// The blob store failed (503).
    #[error(transparent)]
    Blob(#[from] BlobError),
}

impl From<IdentityError> for CourtesyError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::EmailTaken => CourtesyError::EmailTaken,
            IdentityError::InvalidCredentials => CourtesyError::InvalidCredentials,
            IdentityError::Disabled => CourtesyError::Banned,
            IdentityError::Validation { field, reason } => FieldError::new(field, reason).into(),
            other => CourtesyError::Identity(other),
        }
    }
}
