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
