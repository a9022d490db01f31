//! Projector `courtesy`: every Courtesy table, from the `courtesyAccount` and `courtesyResource`
//! streams and `UserErased` of the `user` streams.

use crate::db::ProjectionTx;
use crate::execute;
use crate::projector::{ProjectionError, Projector, bad_event, parse, stream_uuid};
use async_trait::async_trait;
use serde::Deserialize;
use tessera_application::RecordedEvent;
use tessera_domain::Decider;
use tessera_domain::courtesy::account::{CourtesyAccount, ImageFile};
use tessera_domain::courtesy::profile::Profile;
use tessera_domain::courtesy::resource::CourtesyResource;
use tessera_domain::identity::User;

/// Writes `courtesy_accounts`, `courtesy_resources` and `courtesy_images`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CourtesyProjector;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Opened {
    user_id: u64,
    opened_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignedIn {
    signed_in_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Edited {
    profile: Profile,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Uploaded {
    kind: String,
    image_id: String,
    files: Vec<ImageFile>,
    uploaded_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    resource_id: String,
    sha256: String,
    size: u64,
    media_type: String,
    uploaded_by: String,
    stored_at: chrono::DateTime<chrono::Utc>,
}

fn int(event: &RecordedEvent, n: u64) -> Result<i64, ProjectionError> {
    i64::try_from(n).map_err(|_| bad_event(event, format!("{n} does not fit a BIGINT")))
}

#[async_trait]
impl Projector for CourtesyProjector {
    fn name(&self) -> &'static str {
        "courtesy"
    }

    fn version(&self) -> u32 {
        1
    }

    fn categories(&self) -> &'static [&'static str] {
        &[
            User::CATEGORY,
            CourtesyAccount::CATEGORY,
            CourtesyResource::CATEGORY,
        ]
    }

    fn handles(&self) -> &'static [&'static str] {
        &[
            "UserErased",
            "CourtesyAccountOpened",
            "CourtesyAccountSignedIn",
            "CourtesyProfileEdited",
            "CourtesyImageUploaded",
            "CourtesyResourceStored",
        ]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(&mut *tx, sqlx::query("DELETE FROM courtesy_accounts"))?;
        execute!(&mut *tx, sqlx::query("DELETE FROM courtesy_resources"))?;
        execute!(&mut *tx, sqlx::query("DELETE FROM courtesy_images"))?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        match event.event_type.as_str() {
            "UserErased" => {
                let account = stream_uuid(event)?.to_string();
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE courtesy_accounts SET nick = '', avatar = '', mobile = '', \
                         birthday = '', gender = 0, province = '', city = '', area = '', \
                         introduction = '', erased = TRUE WHERE account_id = $1",
                    )
                    .bind(&account)
                )?;
            }
            "CourtesyAccountOpened" => {
                let account = stream_uuid(event)?.to_string();
                let d: Opened = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "INSERT INTO courtesy_accounts (account_id, user_id, registered_at) \
                         VALUES ($1, $2, $3) ON CONFLICT (account_id) DO NOTHING",
                    )
                    .bind(&account)
                    .bind(int(event, d.user_id)?)
                    .bind(d.opened_at)
                )?;
            }
            "CourtesyAccountSignedIn" => {
                let account = stream_uuid(event)?.to_string();
                let d: SignedIn = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE courtesy_accounts SET last_login_at = $1 WHERE account_id = $2",
                    )
                    .bind(d.signed_in_at)
                    .bind(&account)
                )?;
            }
            "CourtesyProfileEdited" => {
                let account = stream_uuid(event)?.to_string();
                let Edited { profile: p } = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE courtesy_accounts SET has_profile = TRUE, nick = $1, avatar = $2, \
                         mobile = $3, birthday = $4, gender = $5, province = $6, city = $7, \
                         area = $8, introduction = $9 WHERE account_id = $10 AND NOT erased",
                    )
                    .bind(&p.nick)
                    .bind(&p.avatar)
                    .bind(&p.mobile)
                    .bind(&p.birthday)
                    .bind(i32::from(p.gender))
                    .bind(&p.province)
                    .bind(&p.city)
                    .bind(&p.area)
                    .bind(&p.introduction)
                    .bind(&account)
                )?;
            }
            "CourtesyImageUploaded" => {
                let account = stream_uuid(event)?.to_string();
                let d: Uploaded = parse(event)?;
                for f in &d.files {
                    execute!(
                        &mut *tx,
                        sqlx::query(
                            "INSERT INTO courtesy_images (image_id, suffix, kind, account_id, \
                             sha256, media_type, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                             ON CONFLICT (image_id, suffix) DO NOTHING",
                        )
                        .bind(&d.image_id)
                        .bind(&f.suffix)
                        .bind(&d.kind)
                        .bind(&account)
                        .bind(&f.sha256)
                        .bind(&f.media_type)
                        .bind(d.uploaded_at)
                    )?;
                }
            }
            "CourtesyResourceStored" => {
                let d: Stored = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "INSERT INTO courtesy_resources (sha256, resource_id, size, media_type, \
                         uploaded_by, stored_at) VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (sha256) DO NOTHING",
                    )
                    .bind(&d.sha256)
                    .bind(&d.resource_id)
                    .bind(int(event, d.size)?)
                    .bind(&d.media_type)
                    .bind(&d.uploaded_by)
                    .bind(d.stored_at)
                )?;
            }
            _ => {}
        }
        Ok(())
    }
}
