//! Projector `courtesy`: every Courtesy table, from the `courtesyAccount`, `courtesyResource`,
//! `courtesyQrCode`, `courtesyCard` and `courtesyNews` streams and `UserErased` of the `user`
//! streams.

use crate::db::ProjectionTx;
use crate::execute;
use crate::projector::{ProjectionError, Projector, bad_event, parse, stream_uuid};
use async_trait::async_trait;
use serde::Deserialize;
use tessera_application::RecordedEvent;
use tessera_domain::Decider;
use tessera_domain::courtesy::account::{CourtesyAccount, ImageFile};
use tessera_domain::courtesy::card::CourtesyCard;
use tessera_domain::courtesy::news::{CourtesyNewsDay, NewsItem};
use tessera_domain::courtesy::profile::Profile;
use tessera_domain::courtesy::qr::CourtesyQrCode;
use tessera_domain::courtesy::resource::CourtesyResource;
use tessera_domain::identity::User;

/// Writes `courtesy_accounts`, `courtesy_resources`, `courtesy_images`, `courtesy_qr_codes`,
/// `courtesy_cards` and `courtesy_news`.
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QrGenerated {
    qr_id: String,
    channel: u32,
    generated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QrRecorded {
    card_token: String,
    author: String,
    recorded_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CardCreated {
    token: String,
    qr_id: String,
    author: String,
    is_editable: bool,
    is_public: bool,
    visible_at: Option<chrono::DateTime<chrono::Utc>>,
    attachments: Vec<String>,
    created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CardRead {
    reader: String,
    read_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CardEdited {
    is_editable: bool,
    is_public: bool,
    visible_at: Option<chrono::DateTime<chrono::Utc>>,
    attachments: Vec<String>,
    edited_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewsPublished {
    item: NewsItem,
    published_at: chrono::DateTime<chrono::Utc>,
}

/// The stream id after the category (`courtesyCard-{token}` → `token`).
fn stream_key(event: &RecordedEvent) -> String {
    event
        .stream_id
        .as_str()
        .split_once('-')
        .map_or_else(String::new, |(_, k)| k.to_owned())
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
        2
    }

    fn categories(&self) -> &'static [&'static str] {
        &[
            User::CATEGORY,
            CourtesyAccount::CATEGORY,
            CourtesyResource::CATEGORY,
            CourtesyQrCode::CATEGORY,
            CourtesyCard::CATEGORY,
            CourtesyNewsDay::CATEGORY,
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
            "CourtesyQrCodeGenerated",
            "CourtesyQrCodeScanned",
            "CourtesyQrCodeRecorded",
            "CourtesyCardCreated",
            "CourtesyCardViewed",
            "CourtesyCardFirstRead",
            "CourtesyCardEdited",
            "CourtesyCardBanned",
            "CourtesyNewsPublished",
        ]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(&mut *tx, sqlx::query("DELETE FROM courtesy_accounts"))?;
        execute!(&mut *tx, sqlx::query("DELETE FROM courtesy_resources"))?;
        execute!(&mut *tx, sqlx::query("DELETE FROM courtesy_images"))?;
        execute!(&mut *tx, sqlx::query("DELETE FROM courtesy_qr_codes"))?;
        execute!(&mut *tx, sqlx::query("DELETE FROM courtesy_cards"))?;
        execute!(&mut *tx, sqlx::query("DELETE FROM courtesy_news"))?;
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
            "CourtesyQrCodeGenerated" => {
                let d: QrGenerated = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "INSERT INTO courtesy_qr_codes (qr_id, channel, created_at) \
                         VALUES ($1, $2, $3) ON CONFLICT (qr_id) DO NOTHING",
                    )
                    .bind(&d.qr_id)
                    .bind(i64::from(d.channel))
                    .bind(d.generated_at)
                )?;
            }
            "CourtesyQrCodeScanned" => {
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE courtesy_qr_codes SET scan_count = scan_count + 1 WHERE qr_id = $1",
                    )
                    .bind(stream_key(event))
                )?;
            }
            "CourtesyQrCodeRecorded" => {
                let d: QrRecorded = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE courtesy_qr_codes SET card_token = $1, author_id = $2, \
                         recorded_at = $3 WHERE qr_id = $4",
                    )
                    .bind(&d.card_token)
                    .bind(&d.author)
                    .bind(d.recorded_at)
                    .bind(stream_key(event))
                )?;
            }
            "CourtesyCardCreated" => {
                let d: CardCreated = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "INSERT INTO courtesy_cards (token, qr_id, author_id, is_editable, \
                         is_public, visible_at, attachments, created_at, modified_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
                         ON CONFLICT (token) DO NOTHING",
                    )
                    .bind(&d.token)
                    .bind(&d.qr_id)
                    .bind(&d.author)
                    .bind(d.is_editable)
                    .bind(d.is_public)
                    .bind(d.visible_at)
                    .bind(int(event, d.attachments.len() as u64)?)
                    .bind(d.created_at)
                )?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE courtesy_accounts SET card_count = card_count + 1 \
                         WHERE account_id = $1",
                    )
                    .bind(&d.author)
                )?;
            }
            "CourtesyCardViewed" => {
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE courtesy_cards SET view_count = view_count + 1 WHERE token = $1",
                    )
                    .bind(stream_key(event))
                )?;
            }
            "CourtesyCardFirstRead" => {
                let d: CardRead = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE courtesy_cards SET read_by = $1, first_read_at = $2 \
                         WHERE token = $3 AND read_by IS NULL",
                    )
                    .bind(&d.reader)
                    .bind(d.read_at)
                    .bind(stream_key(event))
                )?;
            }
            "CourtesyCardEdited" => {
                let d: CardEdited = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE courtesy_cards SET is_editable = $1, is_public = $2, \
                         visible_at = $3, attachments = $4, edited_count = edited_count + 1, \
                         modified_at = $5 WHERE token = $6",
                    )
                    .bind(d.is_editable)
                    .bind(d.is_public)
                    .bind(d.visible_at)
                    .bind(int(event, d.attachments.len() as u64)?)
                    .bind(d.edited_at)
                    .bind(stream_key(event))
                )?;
            }
            "CourtesyCardBanned" => {
                let token = stream_key(event);
                // `card_count` counts the cards an account wrote that are not banned.
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE courtesy_accounts SET card_count = card_count - 1 WHERE \
                         account_id = (SELECT author_id FROM courtesy_cards WHERE token = $1 \
                         AND NOT banned)",
                    )
                    .bind(&token)
                )?;
                execute!(
                    &mut *tx,
                    sqlx::query("UPDATE courtesy_cards SET banned = TRUE WHERE token = $1")
                        .bind(&token)
                )?;
            }
            "CourtesyNewsPublished" => {
                let NewsPublished { item, published_at } = parse(event)?;
                let rid = |m: &Option<tessera_domain::courtesy::news::NewsMedia>| {
                    m.as_ref().map(|m| m.rid.clone())
                };
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "INSERT INTO courtesy_news (news_id, news_date, position, kind, text, \
                         style_id, style_name, image_rid, audio_rid, video_rid, url, \
                         published_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                         ON CONFLICT (news_id) DO NOTHING",
                    )
                    .bind(&item.news_id)
                    .bind(item.date.format("%Y-%m-%d").to_string())
                    .bind(int(event, event.global_position)?)
                    .bind(i32::from(item.kind))
                    .bind(&item.text)
                    .bind(i64::from(item.style_id))
                    .bind(&item.style_name)
                    .bind(rid(&item.image))
                    .bind(rid(&item.audio))
                    .bind(rid(&item.video))
                    .bind(&item.url)
                    .bind(published_at)
                )?;
            }
            _ => {}
        }
        Ok(())
    }
}
