//! The shapes Courtesy answers with (seed 001), built from what the application returns.

use serde::Serialize;
use tessera_application::courtesy::AccountInfo;
use utoipa::ToSchema;

/// `account_info.profile`: empty strings (and gender 0) for what was never given.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProfileView {
    /// Nickname.
    pub nick: String,
    /// The avatar's id (32 hex, served at `/static/avatar/{id}_300.png` and the other sizes), or
    /// empty.
    pub avatar: String,
    /// Mobile number, or empty.
    pub mobile: String,
    /// `YYYY-MM-DD`, or empty.
    pub birthday: String,
    /// 0 not said, 1, 2.
    pub gender: u8,
    /// Province.
    pub province: String,
    /// City.
    pub city: String,
    /// Area.
    pub area: String,
    /// Introduction.
    pub introduction: String,
}

/// `user_info`'s `account_info`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountInfoView {
    /// The account's number (1, 2, … in registration order).
    pub user_id: u64,
    /// The email address.
    pub email: String,
    /// When the account was opened (Unix seconds).
    pub registered_at: i64,
    /// The latest sign-in (Unix seconds); `null` before the first.
    pub last_login_at: Option<i64>,
    /// Cards written by the account (0 until cards are served).
    pub card_count: i64,
    /// Whether the profile was ever edited.
    pub has_profile: bool,
    /// The profile (all empty while `has_profile` is false).
    pub profile: ProfileView,
}

impl AccountInfoView {
    /// The view of `info` with `card_count` from the read model.
    pub fn new(info: AccountInfo, card_count: i64) -> Self {
        let has_profile = info.profile.is_some();
        let p = info.profile.unwrap_or_default();
        Self {
            user_id: info.user_id,
            email: info.email,
            registered_at: info.registered_at.timestamp(),
            last_login_at: info.last_login_at.map(|t| t.timestamp()),
            card_count,
            has_profile,
            profile: ProfileView {
                nick: p.nick,
                avatar: p.avatar,
                mobile: p.mobile,
                birthday: p.birthday,
                gender: p.gender,
                province: p.province,
                city: p.city,
                area: p.area,
                introduction: p.introduction,
            },
        }
    }
}

/// `res_query`'s `res`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResView {
    /// SHA-256 of the bytes, 64 lower-case hexadecimal characters.
    pub sha_256: String,
    /// The resource's id (32 hex), served at `/static/res/{id}`.
    pub id: String,
}

/// `qr_info` (`qr_query`, and the 424 refusal of `card_create`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QrInfoView {
    /// Whether a card is bound to the code.
    pub is_recorded: bool,
    /// Scans counted by `qr_query` (this one included).
    pub scan_count: u64,
    /// When the code was generated (Unix seconds).
    pub created_at: i64,
    /// The channel it was printed for.
    pub channel: u32,
    /// When the card was bound (Unix seconds); `null` while free.
    pub recorded_at: Option<i64>,
    /// The bound card's token; `null` while free.
    pub card_token: Option<String>,
    /// The code's id: 32 lower-case hexadecimal characters.
    pub unique_id: String,
}

impl QrInfoView {
    /// The view of `info`.
    pub fn new(info: &tessera_application::courtesy::QrInfo) -> Self {
        Self {
            is_recorded: info.recorded.is_some(),
            scan_count: info.scan_count,
            created_at: info.created_at.timestamp(),
            channel: info.channel,
            recorded_at: info.recorded.as_ref().map(|(_, at)| at.timestamp()),
            card_token: info.recorded.as_ref().map(|(t, _)| t.clone()),
            unique_id: info.qr_id.clone(),
        }
    }
}

/// `card_info` (`card_query`, `card_edit`, `card_create`, `qr_query` once recorded).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CardInfoView {
    /// The card's token, as the client chose it.
    pub token: String,
    /// The QR code it is bound to (32 hex).
    pub qr_id: String,
    /// The author's account.
    pub author: AccountInfoView,
    /// The first signed-in reader who is not the author; `null` until then.
    pub read_by: Option<AccountInfoView>,
    /// When the first reader read it (Unix seconds); `null` until then.
    pub first_read_at: Option<i64>,
    /// The template exactly as the author sent it (a string or a JSON object); `null` before
    /// `visible_at`, and for a private card to anyone but its author and first reader.
    #[schema(value_type = Value)]
    pub local_template: serde_json::Value,
    /// Whether the author may still edit it.
    pub is_editable: bool,
    /// Whether everyone may see its template.
    pub is_public: bool,
    /// From when its template is shown (Unix seconds); 0: at once.
    pub visible_at: i64,
    /// Views counted by `card_query`.
    pub view_count: u64,
    /// Edits counted by `card_edit`.
    pub edited_count: u64,
    /// Always 0: the client sends no star action (docs/courtesy.md).
    pub stars: u64,
    /// When created (Unix seconds).
    pub created_at: i64,
    /// When last created or edited (Unix seconds).
    pub modified_at: i64,
}

/// A news item's `style`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewsStyleView {
    /// Style number.
    pub style_id: u32,
    /// Style name (`white`, `black`).
    pub style_name: String,
}

/// A news item's `image`, `audio` or `video`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewsMediaView {
    /// SHA-256 of the resource, or empty.
    pub sha256: String,
    /// The resource id, served at `/static/res/{rid}`.
    pub rid: String,
}

/// One item of `news_query`'s `news`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewsView {
    /// Its style.
    pub style: NewsStyleView,
    /// The text shown.
    pub string: String,
    /// Picture, or `null`.
    pub image: Option<NewsMediaView>,
    /// Video, or `null`.
    pub video: Option<NewsMediaView>,
    /// Its day, `YYYY-MM-DD`.
    pub date: String,
    /// Sound, or `null`.
    pub audio: Option<NewsMediaView>,
    /// Link, or `null`.
    pub url: Option<String>,
    /// 0 news card, 1 link card.
    pub r#type: u8,
}
