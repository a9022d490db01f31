//! Identity: one set of users for all five API documents (DESIGN.md §7): accounts, email and phone
//! sign-in, SMS challenges, WeChat accounts, roles and refresh tokens.
//!
//! - [`User`] (`user-{userId}`): registration, password changes, roles, disabling.
//! - [`EmailClaim`] (`userEmail-{uuid v5}`): the guard stream that makes an email address unique
//!   (DESIGN.md §5). It holds one [`EmailClaimEvent::EmailClaimed`]; the service appends it with
//!   expected version "no stream", so of two concurrent claims the second loses on the version.
//! - [`RefreshFamily`] (`refreshFamily-{familyId}`): one sign-in's chain of refresh tokens. Each
//!   refresh rotates the token; presenting a token that was already rotated away is taken as theft
//!   and revokes the whole family.
//!
//! - [`oauth::OAuthIdentity`] (`oauthIdentity-{uuid v5}`): a Google or Apple account linked to the
//!   user it signs in (docs/decisions/0031-oauth-sign-in.md).
//!
//! Nothing secret is held here: passwords arrive as Argon2id PHC strings and refresh tokens as
//! SHA-256 hex digests, both computed by adapters outside the domain. Stored shapes follow
//! docs/event-catalog.md, section "Identity".

mod email;
pub mod oauth;
mod phone;
mod refresh;
pub mod sms;
mod user;
pub mod wechat;

pub use email::*;
pub use phone::*;
pub use refresh::*;
pub use user::*;

#[cfg(test)]
mod tests;
