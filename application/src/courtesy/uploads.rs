//! Uploads (seed 001 `POST /upload/avatar`, `/upload/banner`, `/upload/card_res`) and
//! `res_query`. Files go to the [`super::BlobStore`] first, then the event recording their hashes
//! is appended; a failure between the two leaves an unreferenced blob (harmless: content-addressed,
//! and the next upload of the same bytes reuses it), never an event without its file.

use super::{CourtesyError, CourtesyService};
use crate::command::CommandRunner;
use crate::event_store::EventMetadata;
use tessera_domain::UserId;
use tessera_domain::courtesy::account::{
    AccountCommand, CourtesyAccount, ImageFile, ImageKind, ImageUpload,
};
use tessera_domain::courtesy::resource::{CourtesyResource, ResourceCommand};
use uuid::Uuid;

/// An image checked and resized by the caller (the api decodes with the `image` crate).
#[derive(Debug, Clone)]
pub struct ImageInput {
    /// Avatar or banner.
    pub kind: ImageKind,
    /// The bytes as uploaded.
    pub original: Vec<u8>,
    /// Their media type as decoded.
    pub media_type: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The files to serve: (suffix such as `.png` or `_300.png`, PNG bytes).
    pub files: Vec<(String, Vec<u8>)>,
}

impl CourtesyService {
    /// Store an avatar or banner of `account_id`; returns its new id (32 hex) and the position.
    ///
    /// Errors: [`CourtesyError::NotFound`] (no Courtesy account), blob and engine failures.
    pub async fn upload_image(
        &self,
        account_id: UserId,
        input: ImageInput,
        meta: &EventMetadata,
    ) -> Result<(String, Option<u64>), CourtesyError> {
        let original = self.blobs.put(&input.original).await?;
        let mut files = Vec::with_capacity(input.files.len());
        for (suffix, bytes) in &input.files {
            let blob = self.blobs.put(bytes).await?;
            files.push(ImageFile {
                suffix: suffix.clone(),
                sha256: blob.sha256,
                size: blob.size,
                media_type: "image/png".into(),
            });
        }
        let image_id = Uuid::now_v7().simple().to_string();
        let command = AccountCommand::UploadImage {
            upload: ImageUpload {
                kind: input.kind,
                image_id: image_id.clone(),
                sha256: original.sha256,
                size: original.size,
                media_type: input.media_type,
                width: input.width,
                height: input.height,
                files,
            },
            now: self.now(),
        };
        let decided = self
            .runner
            .run::<CourtesyAccount>(
                &CommandRunner::stream::<CourtesyAccount>(account_id)?,
                &command,
                meta,
            )
            .await
            .map_err(|e| e.map_rejected(|_| CourtesyError::NotFound))?;
        Ok((image_id, decided.position()))
    }

    /// Store a card resource once per SHA-256: the same bytes uploaded again (also concurrently)
    /// answer the id of the first upload. Returns the id, the SHA-256 and the position.
    ///
    /// Errors: blob and engine failures.
    pub async fn upload_resource(
        &self,
        account_id: UserId,
        bytes: &[u8],
        media_type: &str,
        meta: &EventMetadata,
    ) -> Result<(String, String, Option<u64>), CourtesyError> {
        let blob = self.blobs.put(bytes).await?;
        let command = ResourceCommand::Store {
            resource_id: Uuid::now_v7().simple().to_string(),
            sha256: blob.sha256.clone(),
            size: blob.size,
            media_type: media_type.to_owned(),
            uploaded_by: account_id,
            now: self.now(),
        };
        let decided = self
            .runner
            .run::<CourtesyResource>(
                &CommandRunner::stream::<CourtesyResource>(&blob.sha256)?,
                &command,
                meta,
            )
            .await
            .map_err(|e| e.map_rejected::<CourtesyError>(|never| match never {}))?;
        let id = decided
            .state
            .resource_id()
            .ok_or(CourtesyError::NotFound)?
            .to_owned();
        Ok((id, blob.sha256, decided.position()))
    }

    /// `res_query`: the id of the resource whose SHA-256 is `sha256` (lower-case hex), read from
    /// the event store (never behind).
    ///
    /// Errors: [`CourtesyError::NotFound`], engine failures.
    pub async fn resource_by_hash(&self, sha256: &str) -> Result<String, CourtesyError> {
        if !tessera_domain::courtesy::is_sha256_hex(sha256) {
            return Err(CourtesyError::NotFound);
        }
        let (resource, _) = self
            .runner
            .load::<CourtesyResource>(&CommandRunner::stream::<CourtesyResource>(sha256)?)
            .await?;
        resource
            .resource_id()
            .map(str::to_owned)
            .ok_or(CourtesyError::NotFound)
    }
}
