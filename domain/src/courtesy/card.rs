//! A greeting card (`courtesyCard-{token}`, seed 001 `card_create`, `card_query`, `card_edit`,
//! `card_delete`), its token chosen by the client. It is created in ONE atomic commit with the
//! [`super::qr::CourtesyQrCode`] it is bound to; afterwards every view, the first read, edits and
//! the ban are decided here from the card's own history, so "exactly one first reader" holds under
//! any concurrency (the expected version of this stream).

use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest card token accepted (the client sends a 36-character UUID).
pub const TOKEN_MAX: usize = 64;

/// Whether `token` is a card token: 1 to [`TOKEN_MAX`] ASCII letters, digits, `-` or `_`
/// (`8FF5D3B4-FDC4-4326-9D75-CEACFD700EA3`, `00b3eed3b733afba6e45cdedf0036801`).
pub fn is_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= TOKEN_MAX
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What the author writes: the card's content and settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardContent {
    /// The client's template exactly as sent: a string or a JSON object.
    pub local_template: serde_json::Value,
    /// Whether the author may still edit it.
    pub is_editable: bool,
    /// Whether everyone sees the template (`false`: only the author and the first reader).
    pub is_public: bool,
    /// Before this instant (UTC) nobody sees the template; `None`: at once.
    pub visible_at: Option<DateTime<Utc>>,
    /// SHA-256 (hex) of the card resources it attaches, each stored when it was decided.
    pub attachments: Vec<String>,
}

/// The state of one card.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CourtesyCard {
    created: Option<Created>,
    content: Option<CardContent>,
    modified_at: Option<DateTime<Utc>>,
    view_count: u64,
    edited_count: u64,
    read: Option<(UserId, DateTime<Utc>)>,
    banned: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Created {
    token: String,
    qr_id: String,
    author: UserId,
    at: DateTime<Utc>,
}

impl CourtesyCard {
    /// Whether the card was created.
    pub fn exists(&self) -> bool {
        self.created.is_some()
    }

    /// Its token.
    pub fn token(&self) -> Option<&str> {
        self.created.as_ref().map(|c| c.token.as_str())
    }

    /// The QR code it is bound to.
    pub fn qr_id(&self) -> Option<&str> {
        self.created.as_ref().map(|c| c.qr_id.as_str())
    }

    /// Its author.
    pub fn author(&self) -> Option<UserId> {
        self.created.as_ref().map(|c| c.author)
    }

    /// When it was created.
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        self.created.as_ref().map(|c| c.at)
    }

    /// When it was last created or edited.
    pub fn modified_at(&self) -> Option<DateTime<Utc>> {
        self.modified_at
    }

    /// Its content after the latest edit.
    pub fn content(&self) -> Option<&CardContent> {
        self.content.as_ref()
    }

    /// Views counted by `card_query`.
    pub fn view_count(&self) -> u64 {
        self.view_count
    }

    /// Edits counted by `card_edit`.
    pub fn edited_count(&self) -> u64 {
        self.edited_count
    }

    /// The first reader who is not the author, and when.
    pub fn read(&self) -> Option<(UserId, DateTime<Utc>)> {
        self.read
    }

    /// Whether `card_delete` banned it.
    pub fn is_banned(&self) -> bool {
        self.banned
    }

    /// Whether the template is visible at `now` (no `visible_at`, or not after `now`).
    pub fn is_visible(&self, now: DateTime<Utc>) -> bool {
        self.content
            .as_ref()
            .is_some_and(|c| c.visible_at.is_none_or(|at| at <= now))
    }

    /// Whether `viewer` sees the template at `now`: visible, and public or seen by its author or
    /// its first reader.
    pub fn shows_template_to(&self, viewer: Option<UserId>, now: DateTime<Utc>) -> bool {
        let Some(content) = &self.content else {
            return false;
        };
        if !self.is_visible(now) {
            return false;
        }
        content.is_public
            || viewer
                .is_some_and(|v| Some(v) == self.author() || self.read.is_some_and(|(r, _)| r == v))
    }
}

/// A change by `card_edit`: each `Some` replaces the field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CardChange {
    /// New template (string or JSON object), with its attachments.
    pub local_template: Option<(serde_json::Value, Vec<String>)>,
    /// New `is_editable`.
    pub is_editable: Option<bool>,
    /// New `is_public`.
    pub is_public: Option<bool>,
    /// New `visible_at` (`Some(None)` clears it).
    pub visible_at: Option<Option<DateTime<Utc>>>,
}

/// Commands for [`CourtesyCard`].
#[derive(Debug, Clone, PartialEq)]
pub enum CardCommand {
    /// Create the card (with the QR code's `Record` in the same commit).
    Create {
        /// The client's token (also the stream id).
        token: String,
        /// The QR code it is bound to.
        qr_id: String,
        /// The signed-in author.
        author: UserId,
        /// What the author wrote.
        content: CardContent,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Count a view by `viewer` (`None`: not signed in); the first signed-in viewer who is not
    /// the author, while the template is visible, becomes the reader.
    View {
        /// Who looks.
        viewer: Option<UserId>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Edit: the author only, while editable.
    Edit {
        /// Who edits.
        editor: UserId,
        /// What changes.
        change: CardChange,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Ban the card (`card_delete`): the author only.
    Ban {
        /// Who bans it.
        by: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`CourtesyCard`] (docs/event-catalog.md, "Courtesy").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum CardEvent {
    /// The card was written and bound to its QR code.
    #[serde(rename = "CourtesyCardCreated")]
    Created {
        /// Its token.
        token: String,
        /// Its QR code.
        qr_id: String,
        /// Its author (identity user).
        author: UserId,
        /// The template as sent (personal: the author's words).
        local_template: serde_json::Value,
        /// Editable afterwards.
        is_editable: bool,
        /// Public.
        is_public: bool,
        /// Visible from (UTC), or at once.
        visible_at: Option<DateTime<Utc>>,
        /// SHA-256 of the attached resources.
        attachments: Vec<String>,
        /// When (UTC).
        created_at: DateTime<Utc>,
    },
    /// `card_query` counted a view.
    #[serde(rename = "CourtesyCardViewed")]
    Viewed {
        /// The signed-in viewer, if any.
        viewer: Option<UserId>,
        /// When (UTC).
        viewed_at: DateTime<Utc>,
    },
    /// The first reader who is not the author (recorded once).
    #[serde(rename = "CourtesyCardFirstRead")]
    FirstRead {
        /// The reader.
        reader: UserId,
        /// When (UTC).
        read_at: DateTime<Utc>,
    },
    /// The author edited it; the content after the edit, whole.
    #[serde(rename = "CourtesyCardEdited")]
    Edited {
        /// The author.
        author: UserId,
        /// The template after the edit (personal).
        local_template: serde_json::Value,
        /// Editable after the edit.
        is_editable: bool,
        /// Public after the edit.
        is_public: bool,
        /// Visible from (UTC).
        visible_at: Option<DateTime<Utc>>,
        /// SHA-256 of the attached resources.
        attachments: Vec<String>,
        /// When (UTC).
        edited_at: DateTime<Utc>,
    },
    /// `card_delete`: the card is banned for good; its QR code stays bound.
    #[serde(rename = "CourtesyCardBanned")]
    Banned {
        /// Who banned it.
        banned_by: UserId,
        /// When (UTC).
        banned_at: DateTime<Utc>,
    },
}

impl DomainEvent for CardEvent {}

/// Why a [`CardCommand`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// No card has this token.
    #[error("no such card")]
    NotFound,
    /// A card with this token exists.
    #[error("the card token is taken")]
    TokenTaken,
    /// The card is banned (seed code 426).
    #[error("the card is banned")]
    Banned,
    /// Not the author, or no longer editable (seed code 425).
    #[error("no privilege on this card")]
    NoPrivilege,
}

impl Decider for CourtesyCard {
    const CATEGORY: &'static str = "courtesyCard";
    type Command = CardCommand;
    type Event = CardEvent;
    type Error = CardError;

    fn decide(&self, command: &CardCommand) -> Result<Vec<CardEvent>, CardError> {
        if let CardCommand::Create {
            token,
            qr_id,
            author,
            content,
            now,
        } = command
        {
            if self.exists() {
                return Err(CardError::TokenTaken);
            }
            return Ok(vec![CardEvent::Created {
                token: token.clone(),
                qr_id: qr_id.clone(),
                author: *author,
                local_template: content.local_template.clone(),
                is_editable: content.is_editable,
                is_public: content.is_public,
                visible_at: content.visible_at,
                attachments: content.attachments.clone(),
                created_at: *now,
            }]);
        }
        let (Some(author), Some(content)) = (self.author(), &self.content) else {
            return Err(CardError::NotFound);
        };
        if self.banned {
            return Err(CardError::Banned);
        }
        match command {
            CardCommand::Create { .. } => Err(CardError::TokenTaken),
            CardCommand::View { viewer, now } => {
                let mut events = vec![CardEvent::Viewed {
                    viewer: *viewer,
                    viewed_at: *now,
                }];
                if let Some(v) = viewer
                    && *v != author
                    && self.read.is_none()
                    && self.is_visible(*now)
                {
                    events.push(CardEvent::FirstRead {
                        reader: *v,
                        read_at: *now,
                    });
                }
                Ok(events)
            }
            CardCommand::Edit {
                editor,
                change,
                now,
            } => {
                if *editor != author || !content.is_editable {
                    return Err(CardError::NoPrivilege);
                }
                let (local_template, attachments) = change
                    .local_template
                    .clone()
                    .unwrap_or((content.local_template.clone(), content.attachments.clone()));
                Ok(vec![CardEvent::Edited {
                    author,
                    local_template,
                    is_editable: change.is_editable.unwrap_or(content.is_editable),
                    is_public: change.is_public.unwrap_or(content.is_public),
                    visible_at: change.visible_at.unwrap_or(content.visible_at),
                    attachments,
                    edited_at: *now,
                }])
            }
            CardCommand::Ban { by, now } => {
                if *by != author {
                    return Err(CardError::NoPrivilege);
                }
                Ok(vec![CardEvent::Banned {
                    banned_by: *by,
                    banned_at: *now,
                }])
            }
        }
    }

    fn evolve(mut self, event: &CardEvent) -> Self {
        match event {
            CardEvent::Created {
                token,
                qr_id,
                author,
                local_template,
                is_editable,
                is_public,
                visible_at,
                attachments,
                created_at,
            } => {
                self.created = Some(Created {
                    token: token.clone(),
                    qr_id: qr_id.clone(),
                    author: *author,
                    at: *created_at,
                });
                self.content = Some(CardContent {
                    local_template: local_template.clone(),
                    is_editable: *is_editable,
                    is_public: *is_public,
                    visible_at: *visible_at,
                    attachments: attachments.clone(),
                });
                self.modified_at = Some(*created_at);
            }
            CardEvent::Viewed { .. } => self.view_count += 1,
            CardEvent::FirstRead { reader, read_at } => {
                if self.read.is_none() {
                    self.read = Some((*reader, *read_at));
                }
            }
            CardEvent::Edited {
                local_template,
                is_editable,
                is_public,
                visible_at,
                attachments,
                edited_at,
                ..
            } => {
                self.content = Some(CardContent {
                    local_template: local_template.clone(),
                    is_editable: *is_editable,
                    is_public: *is_public,
                    visible_at: *visible_at,
                    attachments: attachments.clone(),
                });
                self.edited_count += 1;
                self.modified_at = Some(*edited_at);
            }
            CardEvent::Banned { .. } => self.banned = true,
        }
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn user(n: u128) -> UserId {
        UserId::from_uuid(uuid::Uuid::from_u128(n))
    }

    fn apply(card: CourtesyCard, command: &CardCommand) -> Result<CourtesyCard, CardError> {
        let events = card.decide(command)?;
        Ok(events.iter().fold(card, |c, e| c.evolve(e)))
    }

    fn created(is_public: bool, visible_at: Option<DateTime<Utc>>) -> CourtesyCard {
        apply(
            CourtesyCard::default(),
            &CardCommand::Create {
                token: "T".into(),
                qr_id: "q".into(),
                author: user(1),
                content: CardContent {
                    local_template: serde_json::json!({"content": "hi"}),
                    is_editable: true,
                    is_public,
                    visible_at,
                    attachments: vec![],
                },
                now: DateTime::UNIX_EPOCH,
            },
        )
        .unwrap()
    }

    #[test]
    fn the_first_reader_is_the_first_other_viewer_while_visible() {
        let now = DateTime::UNIX_EPOCH + chrono::Duration::seconds(10);
        let later = Some(now + chrono::Duration::seconds(60));
        let view = |v: Option<u128>| CardCommand::View {
            viewer: v.map(user),
            now,
        };
        // Not yet visible: counted, nobody becomes the reader, nobody sees the template.
        let c = apply(created(true, later), &view(Some(2))).unwrap();
        assert_eq!((c.view_count(), c.read()), (1, None));
        assert!(!c.shows_template_to(Some(user(1)), now));
        // Visible: the author and anonymous viewers are not readers; the first other one is.
        let c = created(false, None);
        let c = apply(c, &view(Some(1))).unwrap();
        let c = apply(c, &view(None)).unwrap();
        assert_eq!(c.read(), None);
        let c = apply(c, &view(Some(2))).unwrap();
        let c = apply(c, &view(Some(3))).unwrap();
        assert_eq!(c.read(), Some((user(2), now)));
        assert_eq!(c.view_count(), 4);
        // Private: the author and the reader see it, a third user does not.
        assert!(c.shows_template_to(Some(user(1)), now));
        assert!(c.shows_template_to(Some(user(2)), now));
        assert!(!c.shows_template_to(Some(user(3)), now));
        assert!(!c.shows_template_to(None, now));
    }

    #[test]
    fn only_the_author_edits_while_editable_and_a_ban_is_final() {
        let now = DateTime::UNIX_EPOCH;
        let edit = |who: u128, editable: Option<bool>| CardCommand::Edit {
            editor: user(who),
            change: CardChange {
                is_editable: editable,
                ..CardChange::default()
            },
            now,
        };
        let c = created(true, None);
        assert_eq!(c.decide(&edit(2, None)), Err(CardError::NoPrivilege));
        let c = apply(c, &edit(1, Some(false))).unwrap();
        assert_eq!(c.edited_count(), 1);
        assert_eq!(c.decide(&edit(1, None)), Err(CardError::NoPrivilege));
        let ban = |who: u128| CardCommand::Ban { by: user(who), now };
        assert_eq!(c.decide(&ban(2)), Err(CardError::NoPrivilege));
        let c = apply(c, &ban(1)).unwrap();
        assert_eq!(
            c.decide(&CardCommand::View { viewer: None, now }),
            Err(CardError::Banned)
        );
        assert_eq!(c.decide(&ban(1)), Err(CardError::Banned));
    }
}
