//! What Courtesy keeps about a user of the shared identity (`courtesyAccount-{userId}`, the
//! identity user's UUID): the integer `user_id` of the seed, when the user last signed in, the
//! profile, and the avatars and banners the user uploaded (their hashes, never their bytes).

use super::profile::{Profile, ProfileChange};
use crate::shared::FieldError;
use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// An uploaded avatar or banner kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ImageKind {
    /// `POST /upload/avatar`.
    Avatar,
    /// `POST /upload/banner`.
    Banner,
}

/// One stored file of an uploaded image: the original or a resized variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageFile {
    /// The suffix it is served under after the image id: `.png` (full size) or `_300.png`.
    pub suffix: String,
    /// SHA-256 of its bytes, lower-case hex: where the blob store keeps it.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type (`image/png`).
    pub media_type: String,
}

/// An image upload as decided by the caller after decoding and resizing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUpload {
    /// Avatar or banner.
    pub kind: ImageKind,
    /// The new image's id (32 hex).
    pub image_id: String,
    /// SHA-256 of the bytes as uploaded.
    pub sha256: String,
    /// Uploaded size in bytes.
    pub size: u64,
    /// Media type of the upload as decoded (`image/png`, `image/jpeg`).
    pub media_type: String,
    /// Decoded width in pixels.
    pub width: u32,
    /// Decoded height in pixels.
    pub height: u32,
    /// The files served for it.
    pub files: Vec<ImageFile>,
}

/// The Courtesy account of one identity user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CourtesyAccount {
    user_id: Option<u64>,
    opened_at: Option<DateTime<Utc>>,
    last_login_at: Option<DateTime<Utc>>,
    profile: Option<Profile>,
    avatars: BTreeSet<String>,
}

impl CourtesyAccount {
    /// The seed's integer `user_id`, once opened.
    pub fn user_id(&self) -> Option<u64> {
        self.user_id
    }

    /// When the account was opened (UTC).
    pub fn opened_at(&self) -> Option<DateTime<Utc>> {
        self.opened_at
    }

    /// The latest sign-in (UTC), if any.
    pub fn last_login_at(&self) -> Option<DateTime<Utc>> {
        self.last_login_at
    }

    /// The profile, once edited at least once (`has_profile`).
    pub fn profile(&self) -> Option<&Profile> {
        self.profile.as_ref()
    }

    /// Whether `id` is an avatar this user uploaded.
    pub fn has_avatar(&self, id: &str) -> bool {
        self.avatars.contains(id)
    }
}

/// Commands for [`CourtesyAccount`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountCommand {
    /// Open the account with its number; opening again changes nothing.
    Open {
        /// Taken from `courtesySequence-user` in the same commit.
        user_id: u64,
        /// The identity user (also the stream id).
        account_id: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Record a sign-in.
    SignIn {
        /// The session started (refresh family id).
        session_id: uuid::Uuid,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Edit the profile.
    EditProfile {
        /// The fields to change.
        change: ProfileChange,
        /// Current time (UTC); its date in Asia/Shanghai bounds the birthday.
        now: DateTime<Utc>,
    },
    /// Record an uploaded avatar or banner.
    UploadImage {
        /// What was stored.
        upload: ImageUpload,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`CourtesyAccount`] (docs/event-catalog.md, "Courtesy").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum AccountEvent {
    /// The user got a Courtesy account and its number (at `user_register`).
    #[serde(rename = "CourtesyAccountOpened")]
    Opened {
        /// The seed's integer `user_id`.
        user_id: u64,
        /// The identity user.
        account_id: UserId,
        /// When (UTC).
        opened_at: DateTime<Utc>,
    },
    /// The user signed in (`user_login`); the source of `last_login_at`.
    #[serde(rename = "CourtesyAccountSignedIn")]
    SignedIn {
        /// The session started (the identity refresh family).
        session_id: uuid::Uuid,
        /// When (UTC).
        signed_in_at: DateTime<Utc>,
    },
    /// The profile after an edit, whole.
    #[serde(rename = "CourtesyProfileEdited")]
    ProfileEdited {
        /// Every field after the edit.
        profile: Profile,
        /// When (UTC).
        edited_at: DateTime<Utc>,
    },
    /// An avatar or banner was stored.
    #[serde(rename = "CourtesyImageUploaded")]
    ImageUploaded {
        /// Avatar or banner.
        kind: ImageKind,
        /// Its id (32 hex), in the answer and the served paths.
        image_id: String,
        /// SHA-256 of the uploaded bytes.
        sha256: String,
        /// Uploaded size in bytes.
        size: u64,
        /// Media type of the upload.
        media_type: String,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// The files served for it (full size and variants).
        files: Vec<ImageFile>,
        /// When (UTC).
        uploaded_at: DateTime<Utc>,
    },
}

impl DomainEvent for AccountEvent {}

/// Why an [`AccountCommand`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// A profile field is invalid.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// The user has no Courtesy account.
    #[error("the user has no Courtesy account")]
    NotOpened,
}

impl Decider for CourtesyAccount {
    const CATEGORY: &'static str = "courtesyAccount";
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Error = AccountError;

    fn decide(&self, command: &AccountCommand) -> Result<Vec<AccountEvent>, AccountError> {
        if let AccountCommand::Open {
            user_id,
            account_id,
            now,
        } = command
        {
            return Ok(if self.user_id.is_some() {
                Vec::new()
            } else {
                vec![AccountEvent::Opened {
                    user_id: *user_id,
                    account_id: *account_id,
                    opened_at: *now,
                }]
            });
        }
        if self.user_id.is_none() {
            return Err(AccountError::NotOpened);
        }
        Ok(match command {
            AccountCommand::Open { .. } => Vec::new(),
            AccountCommand::SignIn { session_id, now } => vec![AccountEvent::SignedIn {
                session_id: *session_id,
                signed_in_at: *now,
            }],
            AccountCommand::EditProfile { change, now } => {
                let current = self.profile.clone().unwrap_or_default();
                let profile =
                    change.apply(&current, super::local_date(*now), |id| self.has_avatar(id))?;
                if self.profile.as_ref() == Some(&profile) {
                    Vec::new()
                } else {
                    vec![AccountEvent::ProfileEdited {
                        profile,
                        edited_at: *now,
                    }]
                }
            }
            AccountCommand::UploadImage { upload, now } => vec![AccountEvent::ImageUploaded {
                kind: upload.kind,
                image_id: upload.image_id.clone(),
                sha256: upload.sha256.clone(),
                size: upload.size,
                media_type: upload.media_type.clone(),
                width: upload.width,
                height: upload.height,
                files: upload.files.clone(),
                uploaded_at: *now,
            }],
        })
    }

    fn evolve(mut self, event: &AccountEvent) -> Self {
        match event {
            AccountEvent::Opened {
                user_id, opened_at, ..
            } => {
                self.user_id = Some(*user_id);
                self.opened_at = Some(*opened_at);
            }
            AccountEvent::SignedIn { signed_in_at, .. } => {
                self.last_login_at = Some(*signed_in_at);
            }
            AccountEvent::ProfileEdited { profile, .. } => self.profile = Some(profile.clone()),
            AccountEvent::ImageUploaded { kind, image_id, .. } => {
                if *kind == ImageKind::Avatar {
                    self.avatars.insert(image_id.clone());
                }
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_once_then_records_sign_ins_and_profiles() {
        let now = DateTime::UNIX_EPOCH + chrono::Duration::days(20_000);
        let account = UserId::from_uuid(uuid::Uuid::from_u128(1));
        let open = |n| AccountCommand::Open {
            user_id: n,
            account_id: account,
            now,
        };
        let sign_in = AccountCommand::SignIn {
            session_id: uuid::Uuid::from_u128(2),
            now,
        };
        assert_eq!(
            CourtesyAccount::default().decide(&sign_in),
            Err(AccountError::NotOpened)
        );
        let a = CourtesyAccount::replay(&CourtesyAccount::default().decide(&open(3)).unwrap());
        assert_eq!(a.decide(&open(4)), Ok(Vec::new()));
        let a = CourtesyAccount::replay(
            CourtesyAccount::default()
                .decide(&open(3))
                .unwrap()
                .iter()
                .chain(&a.decide(&sign_in).unwrap()),
        );
        assert_eq!(a.last_login_at(), Some(now));
        let edit = |nick: &str| AccountCommand::EditProfile {
            change: ProfileChange {
                nick: Some(nick.into()),
                ..Default::default()
            },
            now,
        };
        let events = a.decide(&edit("i_82")).unwrap();
        assert_eq!(events.len(), 1);
        let edited = events.iter().fold(a.clone(), |s, e| s.evolve(e));
        assert_eq!(edited.decide(&edit("i_82")), Ok(Vec::new()));
        assert!(
            matches!(a.decide(&edit(&"x".repeat(33))), Err(AccountError::Field(f)) if f.field == "nick")
        );
    }
}
