//! The OpenAPI 3.1 document of the Courtesy API (seed 001), generated from the code and served at
//! [`DOCUMENT_PATH`] (public; listed on `/docs`).
//!
//! Seed 001 has ONE endpoint for its actions, `POST /api/courtesy`, which dispatches on the body's
//! `action`; OpenAPI keys operations by method and path, so the actions cannot be separate
//! operations. They are documented as one operation whose request body is a `oneOf` over the
//! actions ([`CourtesyRequest`], told apart by `action`) and whose answer, always HTTP 200, is a
//! `oneOf` over the success bodies and [`ErrorAnswer`]. The uploads and the files served back are
//! ordinary operations. docs/courtesy.md says which action answers which code.

use super::views::{AccountInfoView, CardInfoView, NewsView, QrInfoView, ResView};
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Where the document is served: `/courtesy/…` is none of seed 001's paths.
pub const DOCUMENT_PATH: &str = "/courtesy/openapi.json";

/// Name of the scheme for the `sessionid` cookie `user_login` sets.
pub const SESSION: &str = "sessionCookie";

/// Operation tags.
pub mod tags {
    /// `POST /api/courtesy`.
    pub const ACTIONS: &str = "Actions";
    /// `POST /upload/…`.
    pub const UPLOADS: &str = "Uploads";
    /// `GET /static/…`.
    pub const FILES: &str = "Files";
}

/// `{email, pwd}` of `user_register` and `user_login`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountBody {
    /// An email address (at most 254 characters); unique across all Tessera documents.
    #[schema(example = "i.82@qq.com")]
    pub email: String,
    /// The MD5 of the password as 32 hexadecimal characters (what the iOS client sends); Tessera
    /// stores only an Argon2id hash of this string.
    #[schema(
        example = "5f4dcc3b5aa765d61d8327deb882cf99",
        pattern = "^[0-9a-fA-F]{32}$"
    )]
    pub pwd: String,
}

/// The profile fields of `user_edit_profile`: each one given is changed, each one absent or
/// `null` is kept. Limits in docs/courtesy.md.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileBody {
    /// Nickname, at most 32 characters.
    pub nick: Option<String>,
    /// An avatar id from `POST /upload/avatar` (32 hex), or a path naming one
    /// (`\static\avatar\{id}_300.png`); empty to clear.
    pub avatar: Option<String>,
    /// Empty, or 11 digits starting with 1.
    pub mobile: Option<String>,
    /// Empty, or `YYYY-MM-DD` from 1900-01-01 to today.
    pub birthday: Option<String>,
    /// 0 not said, 1, 2.
    #[schema(minimum = 0, maximum = 2)]
    pub gender: Option<u8>,
    /// At most 32 characters.
    pub province: Option<String>,
    /// At most 32 characters.
    pub city: Option<String>,
    /// At most 32 characters.
    pub area: Option<String>,
    /// At most 500 characters.
    pub introduction: Option<String>,
}

/// A request to `POST /api/courtesy`, by `action`. `version` (the client sends 2) is accepted and
/// ignored.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "action")]
pub enum CourtesyRequest {
    /// Open an account (does not sign in). Codes: 401/402 `account`, `email`, `pwd`; 405 `email`.
    #[serde(rename = "user_register")]
    UserRegister {
        /// The client's protocol version.
        version: Option<i64>,
        /// Email and password digest.
        account: AccountBody,
    },
    /// Sign in: sets the `sessionid` cookie. Codes: 401/402 as above; 406; 407.
    #[serde(rename = "user_login")]
    UserLogin {
        /// The client's protocol version.
        version: Option<i64>,
        /// Email and password digest.
        account: AccountBody,
    },
    /// End the session server side and clear the cookie. Codes: 403.
    #[serde(rename = "user_logout")]
    UserLogout {
        /// The client's protocol version.
        version: Option<i64>,
    },
    /// The signed-in account ([`InfoAnswer`]). Codes: 403.
    #[serde(rename = "user_info")]
    UserInfo {
        /// The client's protocol version.
        version: Option<i64>,
    },
    /// Change profile fields. Codes: 401 + the first invalid field, 402 `profile`, 403.
    #[serde(rename = "user_edit_profile")]
    UserEditProfile {
        /// The client's protocol version.
        version: Option<i64>,
        /// The fields to change.
        profile: ProfileBody,
    },
    /// Whether a card resource with this SHA-256 is stored ([`ResAnswer`]). Codes: 401/402
    /// `hash`, 404.
    #[serde(rename = "res_query")]
    ResQuery {
        /// The client's protocol version.
        version: Option<i64>,
        /// SHA-256 of the resource's bytes, 64 hexadecimal characters.
        hash: String,
    },
    /// Count a scan of a QR code; its `qr_info` and, once recorded, its card ([`QrAnswer`]).
    /// Codes: 401/402 `qr_id`, 404.
    #[serde(rename = "qr_query")]
    QrQuery {
        /// The client's protocol version.
        version: Option<i64>,
        /// The code's id (32 hexadecimal characters).
        qr_id: String,
    },
    /// Check a card before uploading its resources ([`ReadyAnswer`]); changes nothing. Codes: 403;
    /// 401/402 `card_info` and its fields, `attachments_hashes`; 404 (QR code); 405 `token`; 424.
    #[serde(rename = "card_create_query")]
    CardCreateQuery {
        /// The client's protocol version.
        version: Option<i64>,
        /// The card.
        card_info: NewCardBody,
    },
    /// Publish a card on a free QR code ([`CardCreatedAnswer`]). Codes: as `card_create_query`.
    #[serde(rename = "card_create")]
    CardCreate {
        /// The client's protocol version.
        version: Option<i64>,
        /// The card.
        card_info: NewCardBody,
    },
    /// Read a card and count a view ([`CardAnswer`]). Codes: 401/402 `token`, 404, 426.
    #[serde(rename = "card_query")]
    CardQuery {
        /// The client's protocol version.
        version: Option<i64>,
        /// The card's token.
        token: String,
    },
    /// Change a card ([`CardAnswer`]): the author only, while editable. Codes: 403; 401/402
    /// `token`, `card_info` and its fields; 404; 425; 426.
    #[serde(rename = "card_edit")]
    CardEdit {
        /// The client's protocol version.
        version: Option<i64>,
        /// The card's token.
        token: String,
        /// The fields to change (each optional).
        card_info: CardEditBody,
    },
    /// Ban a card: the author only; the QR code stays bound ([`TokenAnswer`]). Codes: 403;
    /// 401/402 `token`; 404; 425; 426.
    #[serde(rename = "card_delete")]
    CardDelete {
        /// The client's protocol version.
        version: Option<i64>,
        /// The card's token.
        token: String,
    },
    /// The news of a day ([`NewsAnswer`]). Codes: 401/402 `s_date`.
    #[serde(rename = "news_query")]
    NewsQuery {
        /// The client's protocol version.
        version: Option<i64>,
        /// The day, `YYYY-MM-DD`.
        s_date: String,
    },
}

/// `card_info` of `card_create_query` and `card_create`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewCardBody {
    /// Chosen by the client: 1 to 64 letters, digits, `-` or `_` (a UUID).
    #[schema(example = "8FF5D3B4-FDC4-4326-9D75-CEACFD700EA3")]
    pub token: String,
    /// The free QR code to bind it to.
    pub qr_id: String,
    /// A string or a JSON object, stored and returned as sent. An object's
    /// `attachments_hashes` (SHA-256 hex strings) must name uploaded card resources.
    #[schema(value_type = Value)]
    pub local_template: serde_json::Value,
    /// Default true.
    pub is_editable: Option<bool>,
    /// Default true.
    pub is_public: Option<bool>,
    /// Asia/Shanghai local time `YYYY-MM-DD HH:MM:SS` (or Unix seconds; 0, `""` or null: at once).
    #[schema(value_type = Option<String>, example = "1999-02-02 00:00:00")]
    pub visible_at: Option<String>,
}

/// `card_info` of `card_edit`: each field given changes.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardEditBody {
    /// A string or a JSON object (see [`NewCardBody`]).
    #[schema(value_type = Option<Value>)]
    pub local_template: Option<serde_json::Value>,
    /// Whether further edits are allowed.
    pub is_editable: Option<bool>,
    /// Whether everyone sees the template.
    pub is_public: Option<bool>,
    /// As in [`NewCardBody`].
    #[schema(value_type = Option<String>)]
    pub visible_at: Option<String>,
}

/// The common success `{error: 0, timestamp}` (`user_register`, `user_login`, `user_logout`,
/// `user_edit_profile`).
#[derive(Debug, Serialize, ToSchema)]
pub struct OkAnswer {
    /// Always 0.
    #[schema(minimum = 0, maximum = 0)]
    pub error: i64,
    /// When answered (Unix seconds).
    pub timestamp: i64,
}

/// `user_info`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct InfoAnswer {
    /// Always 0.
    #[schema(minimum = 0, maximum = 0)]
    pub error: i64,
    /// The signed-in account.
    pub account_info: AccountInfoView,
    /// When answered (Unix seconds).
    pub timestamp: i64,
}

/// `res_query`'s answer when the resource is stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResAnswer {
    /// Always 0.
    #[schema(minimum = 0, maximum = 0)]
    pub error: i64,
    /// The stored resource.
    pub res: ResView,
    /// When answered (Unix seconds).
    pub time: i64,
}

/// `qr_query`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct QrAnswer {
    /// Always 0.
    #[schema(minimum = 0, maximum = 0)]
    pub error: i64,
    /// The code.
    pub qr_info: QrInfoView,
    /// Its card as the caller sees it; `null` while free or once banned.
    pub card_info: Option<CardInfoView>,
    /// When answered (Unix seconds).
    pub timestamp: i64,
}

/// `card_query`'s and `card_edit`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardAnswer {
    /// Always 0.
    #[schema(minimum = 0, maximum = 0)]
    pub error: i64,
    /// The card as the caller sees it.
    pub card_info: CardInfoView,
    /// When answered (Unix seconds).
    pub timestamp: i64,
}

/// `card_create`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardCreatedAnswer {
    /// Always 0.
    #[schema(minimum = 0, maximum = 0)]
    pub error: i64,
    /// The new card.
    pub card_info: CardInfoView,
    /// When answered (Unix seconds).
    pub time: i64,
}

/// `card_create_query`'s (ready for sync) and `card_delete`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenAnswer {
    /// Always 0.
    #[schema(minimum = 0, maximum = 0)]
    pub error: i64,
    /// The card's token.
    pub token: String,
    /// When answered (Unix seconds).
    pub time: i64,
}

/// `news_query`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewsAnswer {
    /// Always 0.
    #[schema(minimum = 0, maximum = 0)]
    pub error: i64,
    /// The day's items in publishing order (empty when none).
    pub news: Vec<NewsView>,
    /// When answered (Unix seconds).
    pub time: i64,
}

/// `card_create`'s 424: the QR code already has a card.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordedAnswer {
    /// Always 424.
    #[schema(minimum = 424, maximum = 424)]
    pub error: i64,
    /// The code, with the token of the card bound to it.
    pub qr_info: QrInfoView,
    /// When answered (Unix seconds).
    pub timestamp: i64,
}

/// An upload's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadAnswer {
    /// Always 0.
    #[schema(minimum = 0, maximum = 0)]
    pub error: i64,
    /// The stored image or resource: 32 hexadecimal characters.
    #[schema(example = "59d632f13aef67deace793df18174dc0")]
    pub id: String,
    /// When answered (Unix seconds).
    pub time: i64,
}

/// Every refusal, also with HTTP 200: `error` is the seed's code — 400 bad request (malformed
/// JSON, not POST, body too large), 401 invalid field, 402 missing field, 403 not signed in, 404
/// not found (unknown action, path, resource, QR code, card), 405 conflict, 406 wrong email or
/// password, 407 banned, 422 image size mismatch (or upload too large), 425 no card privilege, 426
/// card banned, 503 service error (424 is [`RecordedAnswer`]).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorAnswer {
    /// The code.
    #[schema(minimum = 400, maximum = 599, example = 401)]
    pub error: i64,
    /// The field at fault (401, 402, 405 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "email")]
    pub field: Option<String>,
    /// When answered (Unix seconds).
    pub timestamp: i64,
}

/// Any answer of `POST /api/courtesy`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum CourtesyAnswer {
    /// `{error: 0, timestamp}`.
    Ok(OkAnswer),
    /// `user_info`.
    Info(Box<InfoAnswer>),
    /// `res_query`.
    Res(ResAnswer),
    /// `qr_query`.
    Qr(Box<QrAnswer>),
    /// `card_query`, `card_edit`.
    Card(Box<CardAnswer>),
    /// `card_create`.
    CardCreated(Box<CardCreatedAnswer>),
    /// `card_create_query`, `card_delete`.
    Token(TokenAnswer),
    /// `news_query`.
    News(NewsAnswer),
    /// `card_create`'s 424.
    Recorded(RecordedAnswer),
    /// A refusal.
    Error(ErrorAnswer),
}

/// Any answer of an upload.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum UploadResult {
    /// Stored.
    Stored(UploadAnswer),
    /// A refusal: 402 (no file field), 403, 422 (size, dimensions, not PNG/JPEG), 400, 503.
    Error(ErrorAnswer),
}

/// `POST /upload/avatar`'s form.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvatarForm {
    /// The image (PNG or JPEG, square, 60–4096 px). The seed spells the field `avater`; `avatar`
    /// is accepted too.
    #[schema(value_type = String, content_media_type = "application/octet-stream")]
    pub avater: Vec<u8>,
}

/// `POST /upload/banner`'s form.
#[derive(Debug, Serialize, ToSchema)]
pub struct BannerForm {
    /// The image (PNG or JPEG, landscape, 320–4096 px wide, at least 100 px high).
    #[schema(value_type = String, content_media_type = "application/octet-stream")]
    pub banner: Vec<u8>,
}

/// `POST /upload/card_res`'s form.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResForm {
    /// Any file; its part's `Content-Type` is kept and served back.
    #[schema(value_type = String, content_media_type = "application/octet-stream")]
    pub res: Vec<u8>,
}

/// The root of the document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera Courtesy API",
        description = "Courtesy (礼记, seed 001) as Tessera serves it. Every answer is HTTP 200 \
            with `{\"error\": <code>, \"field\"?, \"timestamp\"}`; `error` 0 is success. The \
            actions share ONE operation, `POST /api/courtesy`, told apart by the body's \
            `action` (a `oneOf` here). Sign in with `user_login`, which sets the `sessionid` \
            cookie; send it back on every call. What the seed left open is in docs/courtesy.md.",
        version = "1.0",
        license(name = "UNLICENSED", identifier = "UNLICENSED"),
    ),
    servers((url = "/", description = "The server that serves this document")),
    tags(
        (name = tags::ACTIONS, description = "The one action endpoint (seed 001 协议 Protocol)"),
        (name = tags::UPLOADS, description = "Avatar, banner and card resource uploads"),
        (name = tags::FILES, description = "The uploaded files, served back"),
    ),
    components(schemas(CourtesyRequest, CourtesyAnswer, UploadResult, ErrorAnswer)),
    modifiers(&SecuritySchemes),
)]
pub struct CourtesyApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                super::SESSION_COOKIE,
                "The session cookie `user_login` sets (HttpOnly; ended by `user_logout`)",
            ))),
        );
    }
}

/// The whole document: [`CourtesyApiDoc`] plus every operation of [`super::router`] (with the
/// default limits: they change no shape).
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = CourtesyApiDoc::openapi();
    doc.merge(super::router(&super::Limits::default()).into_openapi());
    doc
}
