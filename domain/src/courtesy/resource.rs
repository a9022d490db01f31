//! A card resource (`courtesyResource-{sha256}`): the bytes of a picture, audio or video attached
//! to a card, stored once per SHA-256. The stream is named after the hash, so every upload of the
//! same bytes decides against the same stream: the first records it, the others find it recorded
//! and answer its id (seed 001 "上传卡片资源", `res_query`).

use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The record of one stored resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CourtesyResource {
    stored: Option<(String, String)>,
}

impl CourtesyResource {
    /// The resource id (32 hex), once stored.
    pub fn resource_id(&self) -> Option<&str> {
        self.stored.as_ref().map(|(id, _)| id.as_str())
    }

    /// The SHA-256 (lower-case hex), once stored.
    pub fn sha256(&self) -> Option<&str> {
        self.stored.as_ref().map(|(_, h)| h.as_str())
    }
}

/// Commands for [`CourtesyResource`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceCommand {
    /// Record the bytes as stored under `resource_id`; a resource already recorded changes
    /// nothing (the caller answers its existing id).
    Store {
        /// The id proposed for a first upload (32 hex).
        resource_id: String,
        /// SHA-256 of the bytes (also the stream id).
        sha256: String,
        /// Size in bytes.
        size: u64,
        /// Media type as sent by the client (`application/octet-stream` when none).
        media_type: String,
        /// Who uploaded it.
        uploaded_by: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`CourtesyResource`] (docs/event-catalog.md, "Courtesy").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum ResourceEvent {
    /// The first upload of these bytes.
    #[serde(rename = "CourtesyResourceStored")]
    Stored {
        /// Its id (32 hex), in the answers of the upload and of `res_query`.
        resource_id: String,
        /// SHA-256 of the bytes, lower-case hex.
        sha256: String,
        /// Size in bytes.
        size: u64,
        /// Media type as sent.
        media_type: String,
        /// The identity user who uploaded it first.
        uploaded_by: UserId,
        /// When (UTC).
        stored_at: DateTime<Utc>,
    },
}

impl DomainEvent for ResourceEvent {}

/// [`CourtesyResource`] refuses nothing; storing twice is answered with the first record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceError {}

impl std::fmt::Display for ResourceError {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {}
    }
}

impl std::error::Error for ResourceError {}

impl Decider for CourtesyResource {
    const CATEGORY: &'static str = "courtesyResource";
    type Command = ResourceCommand;
    type Event = ResourceEvent;
    type Error = ResourceError;

    fn decide(&self, command: &ResourceCommand) -> Result<Vec<ResourceEvent>, ResourceError> {
        let ResourceCommand::Store {
            resource_id,
            sha256,
            size,
            media_type,
            uploaded_by,
            now,
        } = command;
        if self.stored.is_some() {
            return Ok(Vec::new());
        }
        Ok(vec![ResourceEvent::Stored {
            resource_id: resource_id.clone(),
            sha256: sha256.clone(),
            size: *size,
            media_type: media_type.clone(),
            uploaded_by: *uploaded_by,
            stored_at: *now,
        }])
    }

    fn evolve(mut self, event: &ResourceEvent) -> Self {
        let ResourceEvent::Stored {
            resource_id,
            sha256,
            ..
        } = event;
        if self.stored.is_none() {
            self.stored = Some((resource_id.clone(), sha256.clone()));
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_upload_is_recorded_and_later_ones_change_nothing() {
        let store = |id: &str| ResourceCommand::Store {
            resource_id: id.into(),
            sha256: "a".repeat(64),
            size: 3,
            media_type: "image/png".into(),
            uploaded_by: UserId::from_uuid(uuid::Uuid::from_u128(1)),
            now: DateTime::UNIX_EPOCH,
        };
        let r = CourtesyResource::replay(&CourtesyResource::default().decide(&store("1")).unwrap());
        assert_eq!(r.resource_id(), Some("1"));
        assert_eq!(r.decide(&store("2")), Ok(Vec::new()));
    }
}
