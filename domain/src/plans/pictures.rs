//! Certification pictures (seed 004 `POST /auth/upload`): [`PictureShelf`]
//! (`plansCertificationPictures-{companyId}`), the pictures a company uploaded for its
//! certification applications (ID card photos, business licences). The files themselves live in
//! the blob store under their SHA-256; the events record the hash, the size and the media type.
//!
//! Rules (docs/plans.md, "Certification pictures"):
//! - a company keeps at most [`MAX_PICTURES`] pictures (an upload that would pass it is refused
//!   whole, naming `auth_pic`);
//! - an application (`POST`/`PUT /auth`) may only name pictures of its own company's shelf
//!   ([`PictureShelf::unknown_picture`], checked inside the application's atomic commit).
//!
//! The pictures show ID documents: the hash (the only link to the file) is personal data with the
//! uploader as subject (classification.rs), so erasing the uploader unlinks the file.

use super::certification::{CertificationError, Submission};
use super::{ObjectId, PlanType};
use crate::shared::FieldError;
use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Most pictures one company keeps.
pub const MAX_PICTURES: usize = 500;

/// One stored picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    /// Its id (24 hex), what applications name.
    pub picture_id: ObjectId,
    /// The plan it was uploaded for (`?plan=`).
    pub plan: PlanType,
    /// SHA-256 of the file (lower-case hex): its name in the blob store.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// `image/png` or `image/jpeg`, as decoded.
    pub media_type: String,
    /// The identity user (an owner) who uploaded it.
    pub uploaded_by: UserId,
    /// When (UTC).
    pub uploaded_at: DateTime<Utc>,
}

/// A file checked by the caller (decoded as an image) and stored in the blob store, to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPicture {
    /// The id assigned to it.
    pub picture_id: ObjectId,
    /// SHA-256 of the file (lower-case hex).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// `image/png` or `image/jpeg`.
    pub media_type: String,
}

/// A company's certification pictures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PictureShelf {
    pictures: BTreeMap<ObjectId, Picture>,
}

impl PictureShelf {
    /// Picture `id`, if this company uploaded it.
    pub fn get(&self, id: &ObjectId) -> Option<&Picture> {
        self.pictures.get(id)
    }

    /// How many pictures the company keeps.
    pub fn len(&self) -> usize {
        self.pictures.len()
    }

    /// Whether the company uploaded none.
    pub fn is_empty(&self) -> bool {
        self.pictures.is_empty()
    }

    /// The first picture id of `submission` (`contact.realname_ext.idcard_photo`,
    /// `enterprise.certificate_pic`) this company did not upload, as a [`FieldError`] naming it
    /// (`enterprise.certificate_pic[0]`); `None` when every id is on the shelf.
    pub fn unknown_picture(&self, submission: &Submission) -> Option<FieldError> {
        let lists = [
            (
                "contact.realname_ext.idcard_photo",
                submission
                    .contact
                    .get("realname_ext")
                    .and_then(|e| e.get("idcard_photo")),
            ),
            (
                "enterprise.certificate_pic",
                submission.enterprise.get("certificate_pic"),
            ),
        ];
        for (field, list) in lists {
            let Some(Value::Array(ids)) = list else {
                continue;
            };
            for (i, id) in ids.iter().enumerate() {
                let known = id
                    .as_str()
                    .and_then(|s| ObjectId::parse(s).ok())
                    .is_some_and(|id| self.pictures.contains_key(&id));
                if !known {
                    return Some(FieldError::new(
                        format!("{field}[{i}]"),
                        "is not a picture this company uploaded (POST /plan/auth/upload)",
                    ));
                }
            }
        }
        None
    }
}

/// Commands for [`PictureShelf`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PictureCommand {
    /// Record pictures uploaded together (all or none).
    Upload {
        /// The company (also the stream id).
        company_id: ObjectId,
        /// The plan they are for.
        plan: PlanType,
        /// The files, already in the blob store.
        pictures: Vec<NewPicture>,
        /// The uploading owner (identity user).
        uploaded_by: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`PictureShelf`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum PictureEvent {
    /// A certification picture was uploaded and stored under `sha256`.
    #[serde(rename = "PlansCertificationPictureUploaded")]
    Uploaded {
        /// Its id (24 hex).
        picture_id: ObjectId,
        /// The company.
        company_id: ObjectId,
        /// The plan it was uploaded for.
        plan: PlanType,
        /// SHA-256 of the file (personal: it links to an ID document).
        sha256: String,
        /// Size in bytes.
        size: u64,
        /// `image/png` or `image/jpeg`.
        media_type: String,
        /// The uploading owner (identity user; the data subject).
        uploaded_by: UserId,
        /// When (UTC).
        uploaded_at: DateTime<Utc>,
    },
}

impl DomainEvent for PictureEvent {}

impl Decider for PictureShelf {
    const CATEGORY: &'static str = "plansCertificationPictures";
    type Command = PictureCommand;
    type Event = PictureEvent;
    type Error = CertificationError;

    fn decide(&self, command: &PictureCommand) -> Result<Vec<PictureEvent>, CertificationError> {
        let PictureCommand::Upload {
            company_id,
            plan,
            pictures,
            uploaded_by,
            now,
        } = command;
        if !plan.is_paid() {
            return Err(FieldError::new("plan", "must be `pro` or `ent`").into());
        }
        if pictures.is_empty() {
            return Err(FieldError::new("auth_pic", "at least one picture is required").into());
        }
        if self.pictures.len() + pictures.len() > MAX_PICTURES {
            return Err(FieldError::new(
                "auth_pic",
                format!(
                    "the company keeps {} pictures already; at most {MAX_PICTURES}",
                    self.pictures.len()
                ),
            )
            .into());
        }
        Ok(pictures
            .iter()
            .map(|p| PictureEvent::Uploaded {
                picture_id: p.picture_id.clone(),
                company_id: company_id.clone(),
                plan: *plan,
                sha256: p.sha256.clone(),
                size: p.size,
                media_type: p.media_type.clone(),
                uploaded_by: *uploaded_by,
                uploaded_at: *now,
            })
            .collect())
    }

    fn evolve(mut self, event: &PictureEvent) -> Self {
        let PictureEvent::Uploaded {
            picture_id,
            plan,
            sha256,
            size,
            media_type,
            uploaded_by,
            uploaded_at,
            ..
        } = event;
        self.pictures.insert(
            picture_id.clone(),
            Picture {
                picture_id: picture_id.clone(),
                plan: *plan,
                sha256: sha256.clone(),
                size: *size,
                media_type: media_type.clone(),
                uploaded_by: *uploaded_by,
                uploaded_at: *uploaded_at,
            },
        );
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn oid(n: u8) -> ObjectId {
        ObjectId::parse(&format!("65000000{:016x}", n)).unwrap()
    }

    fn upload(shelf: &PictureShelf, ids: &[u8]) -> Result<Vec<PictureEvent>, CertificationError> {
        shelf.decide(&PictureCommand::Upload {
            company_id: oid(0),
            plan: PlanType::Pro,
            pictures: ids
                .iter()
                .map(|n| NewPicture {
                    picture_id: oid(*n),
                    sha256: "a".repeat(64),
                    size: 3,
                    media_type: "image/png".into(),
                })
                .collect(),
            uploaded_by: UserId::from_uuid(uuid::Uuid::nil()),
            now: DateTime::UNIX_EPOCH,
        })
    }

    fn shelf_of(ids: &[u8]) -> PictureShelf {
        upload(&PictureShelf::default(), ids)
            .unwrap()
            .iter()
            .fold(PictureShelf::default(), PictureShelf::evolve)
    }

    #[test]
    fn only_uploaded_pictures_may_be_named() {
        let shelf = shelf_of(&[1, 2]);
        let sub = |photos: Vec<ObjectId>, pics: Vec<ObjectId>| Submission {
            contact: json!({"realname_ext": {"idcard_photo": photos}}),
            team: Value::Null,
            enterprise: json!({"certificate_pic": pics}),
        };
        assert_eq!(
            shelf.unknown_picture(&sub(vec![oid(1)], vec![oid(2)])),
            None
        );
        let e = shelf
            .unknown_picture(&sub(vec![oid(1), oid(3)], vec![]))
            .unwrap();
        assert_eq!(e.field, "contact.realname_ext.idcard_photo[1]");
        let e = shelf
            .unknown_picture(&sub(vec![oid(2)], vec![oid(9)]))
            .unwrap();
        assert_eq!(e.field, "enterprise.certificate_pic[0]");
    }

    #[test]
    fn a_company_keeps_at_most_max_pictures() {
        let full: Vec<u8> = (0..=255).collect();
        let mut shelf = shelf_of(&full);
        for chunk in 0..(MAX_PICTURES - 256) {
            let id = ObjectId::parse(&format!("66000000{:016x}", chunk)).unwrap();
            shelf.pictures.insert(
                id.clone(),
                Picture {
                    picture_id: id,
                    ..shelf.get(&oid(1)).unwrap().clone()
                },
            );
        }
        assert_eq!(shelf.len(), MAX_PICTURES);
        let Err(CertificationError::Field(e)) = upload(&shelf, &[1]) else {
            panic!("over the limit")
        };
        assert_eq!(e.field, "auth_pic");
        assert!(upload(&PictureShelf::default(), &[]).is_err());
    }
}
