//! The news of one day (`courtesyNews-{YYYY-MM-DD}`, seed 001 "索取新闻 News Query"): items an
//! operator publishes with `tessera courtesy news publish`, listed by `news_query {s_date}` in the
//! order published.

use crate::{Decider, DomainEvent};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A media reference of a news item (`image`, `audio`, `video`): a card resource id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewsMedia {
    /// The resource id (32 hex, served at `/static/res/{rid}`).
    pub rid: String,
    /// Its SHA-256 (hex), empty when not known (the seed shows `""`).
    pub sha256: String,
}

/// One news item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewsItem {
    /// Its id (32 hex).
    pub news_id: String,
    /// The day it belongs to.
    pub date: NaiveDate,
    /// `type`: 0 news card, 1 link card.
    pub kind: u8,
    /// `string`: the text shown.
    pub text: String,
    /// `style.style_id`.
    pub style_id: u32,
    /// `style.style_name`.
    pub style_name: String,
    /// Picture.
    pub image: Option<NewsMedia>,
    /// Sound.
    pub audio: Option<NewsMedia>,
    /// Video.
    pub video: Option<NewsMedia>,
    /// Link (`type` 1).
    pub url: Option<String>,
}

/// The items of one day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CourtesyNewsDay {
    items: Vec<NewsItem>,
}

impl CourtesyNewsDay {
    /// The items, in publishing order.
    pub fn items(&self) -> &[NewsItem] {
        &self.items
    }
}

/// Commands for [`CourtesyNewsDay`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewsCommand {
    /// Publish `item` (its `date` is the stream's day).
    Publish {
        /// The item, validated by the caller.
        item: NewsItem,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`CourtesyNewsDay`] (docs/event-catalog.md, "Courtesy").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum NewsEvent {
    /// An operator published an item.
    #[serde(rename = "CourtesyNewsPublished")]
    Published {
        /// The item.
        item: NewsItem,
        /// When (UTC).
        published_at: DateTime<Utc>,
    },
}

impl DomainEvent for NewsEvent {}

/// Why a [`NewsCommand`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NewsError {
    /// An item with this id exists.
    #[error("news item {0} exists")]
    Duplicate(String),
}

impl Decider for CourtesyNewsDay {
    const CATEGORY: &'static str = "courtesyNews";
    type Command = NewsCommand;
    type Event = NewsEvent;
    type Error = NewsError;

    fn decide(&self, command: &NewsCommand) -> Result<Vec<NewsEvent>, NewsError> {
        let NewsCommand::Publish { item, now } = command;
        if self.items.iter().any(|i| i.news_id == item.news_id) {
            return Err(NewsError::Duplicate(item.news_id.clone()));
        }
        Ok(vec![NewsEvent::Published {
            item: item.clone(),
            published_at: *now,
        }])
    }

    fn evolve(mut self, event: &NewsEvent) -> Self {
        let NewsEvent::Published { item, .. } = event;
        self.items.push(item.clone());
        self
    }
}
