//! Certification pictures (seed 004 `POST /auth/upload`; docs/plans.md, "Certification
//! pictures"). The api decodes each file as an image first; here the files go to the blob store,
//! then one atomic commit checks the caller is still an owner and records one
//! `PlansCertificationPictureUploaded` per file on the company's [`PictureShelf`]. A failure
//! between the two leaves unreferenced blobs (content-addressed, harmless), never an event
//! without its file. Applications check the ids they name against the shelf inside their own
//! commit (certification.rs).

use super::companies::{check_owner, company_stream};
use super::{Membership, PlansError, PlansService, new_object_id};
use crate::blobs::BlobError;
use crate::command::{CommandRunner, EngineError};
use crate::event_store::EventMetadata;
use tessera_domain::plans::company::Company;
use tessera_domain::plans::pictures::{NewPicture, Picture, PictureCommand, PictureShelf};
use tessera_domain::plans::{ObjectId, PlanType};
use tessera_domain::shared::FieldError;

/// One uploaded file, checked by the caller to be a PNG or JPEG image.
#[derive(Debug, Clone)]
pub struct PictureFile {
    /// The bytes as uploaded (stored unchanged).
    pub bytes: Vec<u8>,
    /// `image/png` or `image/jpeg`, as decoded.
    pub media_type: String,
}

/// The stream of company `id`'s pictures.
pub(crate) fn shelf_stream(id: &ObjectId) -> Result<crate::StreamId, EngineError> {
    CommandRunner::stream::<PictureShelf>(id)
}

impl PlansService {
    fn blob_store(&self) -> Result<&dyn crate::blobs::BlobStore, PlansError> {
        self.blobs
            .as_deref()
            .ok_or_else(|| BlobError("no blob store is configured".into()).into())
    }

    /// Store `files` (1 or more) as certification pictures of the caller's company for `plan`
    /// (`pro`/`ent`), all or none. Returns their new ids (24 hex, in order) and the position.
    ///
    /// Errors: [`PlansError::NotOwner`], [`PlansError::Field`] (`plan`; `auth_pic`: none, or more
    /// than the company may keep), blob store and engine failures.
    pub async fn upload_certification_pictures(
        &self,
        caller: &Membership,
        plan: &str,
        files: &[PictureFile],
        meta: &EventMetadata,
    ) -> Result<(Vec<ObjectId>, Option<u64>), PlansError> {
        Self::require_owner(caller)?;
        let plan = PlanType::parse(plan)
            .filter(|p| p.is_paid())
            .ok_or_else(|| PlansError::from(FieldError::new("plan", "must be `pro` or `ent`")))?;
        if files.is_empty() {
            return Err(FieldError::new("auth_pic", "at least one picture is required").into());
        }
        let blobs = self.blob_store()?;
        let now = self.now();
        let mut pictures = Vec::with_capacity(files.len());
        for f in files {
            let stored = blobs.put(&f.bytes).await?;
            pictures.push(NewPicture {
                picture_id: new_object_id(now),
                sha256: stored.sha256,
                size: stored.size,
                media_type: f.media_type.clone(),
            });
        }
        let ids = pictures.iter().map(|p| p.picture_id.clone()).collect();
        let company_id = &caller.company_id;
        let mut atomic = self.runner.atomic(meta);
        let company = atomic.stream::<Company>(&company_stream(company_id)?);
        let shelf = atomic.stream::<PictureShelf>(&shelf_stream(company_id)?);
        let command = PictureCommand::Upload {
            company_id: company_id.clone(),
            plan,
            pictures,
            uploaded_by: caller.account_id,
            now,
        };
        let committed = atomic
            .run(|d| {
                check_owner(d.state(company)?, caller)?;
                d.decide(shelf, &command)
                    .map_err(|e| e.map_rejected(PlansError::from))?;
                Ok::<_, PlansError>(())
            })
            .await?;
        Ok((ids, committed.position()))
    }

    /// Picture `picture_id` of `company_id` and its bytes, as the events and the blob store say
    /// (`None`: not this company's, or its file is gone). The caller checks who may see it.
    ///
    /// Errors: blob store and engine failures.
    pub async fn certification_picture(
        &self,
        company_id: &ObjectId,
        picture_id: &ObjectId,
    ) -> Result<Option<(Picture, Vec<u8>)>, PlansError> {
        let (shelf, _) = self
            .runner
            .load::<PictureShelf>(&shelf_stream(company_id)?)
            .await?;
        let Some(picture) = shelf.get(picture_id).cloned() else {
            return Ok(None);
        };
        Ok(self
            .blob_store()?
            .get(&picture.sha256)
            .await?
            .map(|bytes| (picture, bytes)))
    }
}
