//! QR codes, cards and news (seed 001 `qr_query`, `card_create_query`, `card_create`,
//! `card_query`, `card_edit`, `card_delete`, `news_query`; operator commands `tessera courtesy qr
//! generate` and `tessera courtesy news publish`).
//!
//! `card_create` writes the card and the QR code's binding in ONE atomic commit with expected
//! versions on both streams (docs/decisions/0009-multi-stream-append.md): of any number of racing
//! creations on one QR code exactly one commits, the others decide again, find the code recorded
//! and are refused with its `qr_info` (424). Views, the first reader, edits and bans are decided
//! by the card from its own history. Every answer is built from the event store, never behind.

use super::{CourtesyError, CourtesyService};
use crate::command::CommandRunner;
use crate::event_store::EventMetadata;
use chrono::{DateTime, NaiveDate, Utc};
use tessera_domain::UserId;
use tessera_domain::courtesy::card::{
    CardChange, CardCommand, CardContent, CardError, CourtesyCard,
};
use tessera_domain::courtesy::news::{CourtesyNewsDay, NewsCommand, NewsItem};
use tessera_domain::courtesy::qr::{CourtesyQrCode, QrCommand, QrError};
use tessera_domain::courtesy::resource::CourtesyResource;
use tessera_domain::shared::FieldError;
use uuid::Uuid;

/// `qr_info` of one QR code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrInfo {
    /// Its id (`unique_id`).
    pub qr_id: String,
    /// Scans counted so far (this one included for `qr_query`).
    pub scan_count: u64,
    /// When it was generated.
    pub created_at: DateTime<Utc>,
    /// Its channel.
    pub channel: u32,
    /// The bound card's token and when it was bound.
    pub recorded: Option<(String, DateTime<Utc>)>,
}

impl QrInfo {
    fn of(qr: &CourtesyQrCode) -> Option<Self> {
        Some(Self {
            qr_id: qr.qr_id()?.to_owned(),
            scan_count: qr.scan_count(),
            created_at: qr.created_at()?,
            channel: qr.channel(),
            recorded: qr.recorded().map(|(t, at)| (t.to_owned(), at)),
        })
    }
}

/// A card as `card_create_query` and `card_create` receive it, its fields already parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct CardDraft {
    /// The client's token.
    pub token: String,
    /// The QR code to bind it to.
    pub qr_id: String,
    /// The template as sent (string or object).
    pub local_template: serde_json::Value,
    /// Editable afterwards.
    pub is_editable: bool,
    /// Public.
    pub is_public: bool,
    /// Visible from (UTC), or at once.
    pub visible_at: Option<DateTime<Utc>>,
}

/// The SHA-256 digests a template attaches: its `attachments_hashes` array (what the iOS client
/// sends), lower-cased; none for a string template or an object without it.
///
/// Errors: [`FieldError`] on `attachments_hashes` when it is not an array of SHA-256 hex strings.
pub fn attachments_of(template: &serde_json::Value) -> Result<Vec<String>, FieldError> {
    let bad = || FieldError::new("attachments_hashes", "must be SHA-256 hex strings");
    match template.get("attachments_hashes") {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|v| {
                let h = v.as_str().ok_or_else(bad)?.to_ascii_lowercase();
                if tessera_domain::courtesy::is_sha256_hex(&h) {
                    Ok(h)
                } else {
                    Err(bad())
                }
            })
            .collect(),
        Some(_) => Err(bad()),
    }
}

fn card_error(e: CardError) -> CourtesyError {
    match e {
        CardError::NotFound => CourtesyError::NotFound,
        CardError::TokenTaken => CourtesyError::Conflict("token"),
        CardError::Banned => CourtesyError::CardBanned,
        CardError::NoPrivilege => CourtesyError::NoPrivilege,
    }
}

impl CourtesyService {
    /// The current time as commands see it (the [`crate::clock::Clock`] port).
    pub fn current_time(&self) -> DateTime<Utc> {
        self.now()
    }

    /// `tessera courtesy qr generate`: create `count` QR codes of `channel` with fresh random ids
    /// (32 lower-case hex, unguessable: the id is what the printed code carries). Returns the ids.
    ///
    /// Errors: engine failures (the codes created before the failure stay).
    pub async fn generate_qr_codes(
        &self,
        count: u32,
        channel: u32,
        meta: &EventMetadata,
    ) -> Result<Vec<String>, CourtesyError> {
        let mut ids = Vec::with_capacity(count as usize);
        while ids.len() < count as usize {
            let qr_id = Uuid::new_v4().simple().to_string();
            let command = QrCommand::Generate {
                qr_id: qr_id.clone(),
                channel,
                now: self.now(),
            };
            match self
                .runner
                .run::<CourtesyQrCode>(
                    &CommandRunner::stream::<CourtesyQrCode>(&qr_id)?,
                    &command,
                    meta,
                )
                .await
            {
                Ok(_) => ids.push(qr_id),
                // A random id already taken (practically never): draw another.
                Err(crate::command::CommandError::Rejected(QrError::AlreadyGenerated)) => {}
                Err(e) => return Err(e.map_rejected(|_| CourtesyError::NotFound)),
            }
        }
        Ok(ids)
    }

    /// `qr_query`: count a scan and answer the code's `qr_info` and its bound card, if any.
    ///
    /// Errors: [`CourtesyError::NotFound`] (malformed or unknown id), engine failures.
    pub async fn scan_qr(
        &self,
        qr_id: &str,
        meta: &EventMetadata,
    ) -> Result<(QrInfo, Option<CourtesyCard>, Option<u64>), CourtesyError> {
        if !tessera_domain::courtesy::qr::is_qr_id(qr_id) {
            return Err(CourtesyError::NotFound);
        }
        let decided = self
            .runner
            .run::<CourtesyQrCode>(
                &CommandRunner::stream::<CourtesyQrCode>(qr_id)?,
                &QrCommand::Scan { now: self.now() },
                meta,
            )
            .await
            .map_err(|e| e.map_rejected(|_| CourtesyError::NotFound))?;
        let info = QrInfo::of(&decided.state).ok_or(CourtesyError::NotFound)?;
        let card = match &info.recorded {
            Some((token, _)) => Some(self.card(token).await?),
            None => None,
        };
        Ok((info, card, decided.position()))
    }

    /// The card `token` as stored (no view counted).
    ///
    /// Errors: [`CourtesyError::NotFound`], engine failures.
    pub async fn card(&self, token: &str) -> Result<CourtesyCard, CourtesyError> {
        if !tessera_domain::courtesy::card::is_token(token) {
            return Err(CourtesyError::NotFound);
        }
        let (card, _) = self
            .runner
            .load::<CourtesyCard>(&CommandRunner::stream::<CourtesyCard>(token)?)
            .await?;
        if card.exists() {
            Ok(card)
        } else {
            Err(CourtesyError::NotFound)
        }
    }

    /// Check that every attached resource is stored.
    async fn check_attachments(&self, hashes: &[String]) -> Result<(), CourtesyError> {
        for h in hashes {
            let (r, _) = self
                .runner
                .load::<CourtesyResource>(&CommandRunner::stream::<CourtesyResource>(h)?)
                .await?;
            if r.resource_id().is_none() {
                return Err(FieldError::new("attachments_hashes", "not uploaded").into());
            }
        }
        Ok(())
    }

    /// `card_create_query`: everything `card_create` checks, changing nothing.
    ///
    /// Errors: [`CourtesyError::Field`] (`token`, `attachments_hashes`), [`CourtesyError::NotFound`]
    /// (no such QR code), [`CourtesyError::QrRecorded`], [`CourtesyError::Conflict`] (`token`
    /// taken), engine failures.
    pub async fn check_card(&self, draft: &CardDraft) -> Result<(), CourtesyError> {
        self.validate_draft(draft).await?;
        let (qr, _) = self
            .runner
            .load::<CourtesyQrCode>(&CommandRunner::stream::<CourtesyQrCode>(&draft.qr_id)?)
            .await?;
        let info = QrInfo::of(&qr).ok_or(CourtesyError::NotFound)?;
        if info.recorded.is_some() {
            return Err(CourtesyError::QrRecorded(info));
        }
        let (card, _) = self
            .runner
            .load::<CourtesyCard>(&CommandRunner::stream::<CourtesyCard>(&draft.token)?)
            .await?;
        if card.exists() {
            return Err(CourtesyError::Conflict("token"));
        }
        Ok(())
    }

    async fn validate_draft(&self, draft: &CardDraft) -> Result<Vec<String>, CourtesyError> {
        if !tessera_domain::courtesy::card::is_token(&draft.token) {
            return Err(FieldError::new("token", "1 to 64 letters, digits, - or _").into());
        }
        if !tessera_domain::courtesy::qr::is_qr_id(&draft.qr_id) {
            return Err(CourtesyError::NotFound);
        }
        let attachments = attachments_of(&draft.local_template)?;
        self.check_attachments(&attachments).await?;
        Ok(attachments)
    }

    /// `card_create`: the card and its QR code's binding in one atomic commit.
    ///
    /// Errors: as [`Self::check_card`]; a lost race is [`CourtesyError::QrRecorded`].
    pub async fn create_card(
        &self,
        author: UserId,
        draft: CardDraft,
        meta: &EventMetadata,
    ) -> Result<(CourtesyCard, Option<u64>), CourtesyError> {
        let attachments = self.validate_draft(&draft).await?;
        let qr_stream = CommandRunner::stream::<CourtesyQrCode>(&draft.qr_id)?;
        let card_stream = CommandRunner::stream::<CourtesyCard>(&draft.token)?;
        let now = self.now();
        let mut atomic = self.runner.atomic(meta);
        let qr = atomic.stream::<CourtesyQrCode>(&qr_stream);
        let card = atomic.stream::<CourtesyCard>(&card_stream);
        let content = CardContent {
            local_template: draft.local_template.clone(),
            is_editable: draft.is_editable,
            is_public: draft.is_public,
            visible_at: draft.visible_at,
            attachments,
        };
        let committed = atomic
            .run(|d| {
                let info = QrInfo::of(d.state(qr)?).ok_or(CourtesyError::NotFound)?;
                if info.recorded.is_some() {
                    return Err(CourtesyError::QrRecorded(info));
                }
                d.decide(
                    card,
                    &CardCommand::Create {
                        token: draft.token.clone(),
                        qr_id: draft.qr_id.clone(),
                        author,
                        content: content.clone(),
                        now,
                    },
                )
                .map_err(|e| e.map_rejected(card_error))?;
                d.decide(
                    qr,
                    &QrCommand::Record {
                        card_token: draft.token.clone(),
                        author,
                        now,
                    },
                )
                .map_err(|e| e.map_rejected(|_| CourtesyError::NotFound))?;
                Ok::<_, CourtesyError>(d.state(card)?.clone())
            })
            .await?;
        let position = committed.position();
        Ok((committed.value, position))
    }

    /// `card_query`: count a view by `viewer`; the first signed-in viewer other than the author,
    /// while the template is visible, becomes the reader.
    ///
    /// Errors: [`CourtesyError::NotFound`], [`CourtesyError::CardBanned`], engine failures.
    pub async fn view_card(
        &self,
        viewer: Option<UserId>,
        token: &str,
        meta: &EventMetadata,
    ) -> Result<(CourtesyCard, Option<u64>), CourtesyError> {
        self.on_card(
            token,
            &CardCommand::View {
                viewer,
                now: self.now(),
            },
            meta,
        )
        .await
    }

    /// `card_edit`: the author only, while editable.
    ///
    /// Errors: [`CourtesyError::NotFound`], [`CourtesyError::CardBanned`],
    /// [`CourtesyError::NoPrivilege`], [`CourtesyError::Field`] (`attachments_hashes`), engine
    /// failures.
    pub async fn edit_card(
        &self,
        editor: UserId,
        token: &str,
        change: CardChange,
        meta: &EventMetadata,
    ) -> Result<(CourtesyCard, Option<u64>), CourtesyError> {
        if let Some((_, hashes)) = &change.local_template {
            self.check_attachments(hashes).await?;
        }
        let command = CardCommand::Edit {
            editor,
            change,
            now: self.now(),
        };
        self.on_card(token, &command, meta).await
    }

    /// `card_delete`: ban the card (the author only); its QR code stays bound.
    ///
    /// Errors: [`CourtesyError::NotFound`], [`CourtesyError::CardBanned`] (already),
    /// [`CourtesyError::NoPrivilege`], engine failures.
    pub async fn ban_card(
        &self,
        by: UserId,
        token: &str,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, CourtesyError> {
        let (_, position) = self
            .on_card(
                token,
                &CardCommand::Ban {
                    by,
                    now: self.now(),
                },
                meta,
            )
            .await?;
        Ok(position)
    }

    async fn on_card(
        &self,
        token: &str,
        command: &CardCommand,
        meta: &EventMetadata,
    ) -> Result<(CourtesyCard, Option<u64>), CourtesyError> {
        if !tessera_domain::courtesy::card::is_token(token) {
            return Err(CourtesyError::NotFound);
        }
        let decided = self
            .runner
            .run::<CourtesyCard>(
                &CommandRunner::stream::<CourtesyCard>(token)?,
                command,
                meta,
            )
            .await
            .map_err(|e| e.map_rejected(card_error))?;
        let position = decided.position();
        Ok((decided.state, position))
    }

    /// `tessera courtesy news publish`: add `item` to its day. Returns the item's id.
    ///
    /// Errors: engine failures.
    pub async fn publish_news(
        &self,
        mut item: NewsItem,
        meta: &EventMetadata,
    ) -> Result<String, CourtesyError> {
        if item.news_id.is_empty() {
            item.news_id = Uuid::now_v7().simple().to_string();
        }
        let id = item.news_id.clone();
        let stream = CommandRunner::stream::<CourtesyNewsDay>(item.date)?;
        self.runner
            .run::<CourtesyNewsDay>(
                &stream,
                &NewsCommand::Publish {
                    item,
                    now: self.now(),
                },
                meta,
            )
            .await
            .map_err(|e| e.map_rejected(|_| CourtesyError::Conflict("news_id")))?;
        Ok(id)
    }

    /// `news_query`: the items of `date`, in publishing order (from the event store).
    ///
    /// Errors: engine failures.
    pub async fn news_of(&self, date: NaiveDate) -> Result<Vec<NewsItem>, CourtesyError> {
        let (day, _) = self
            .runner
            .load::<CourtesyNewsDay>(&CommandRunner::stream::<CourtesyNewsDay>(date)?)
            .await?;
        Ok(day.items().to_vec())
    }
}
