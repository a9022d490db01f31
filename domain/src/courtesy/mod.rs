//! Courtesy (礼记) greeting cards bound to QR codes (seed 001,
//! `../shared/seeds/001_da8a8163d42fbecd.txt`): its aggregates, whose stream categories start with
//! `courtesy` and event types with `Courtesy` (docs/decisions/0005-event-namespace.md).
//!
//! - [`sequence::CourtesySequence`] (`courtesySequence-{kind}`): the integer `user_id` the seed
//!   shows, taken in the same atomic commit as the account it numbers.
//! - [`account::CourtesyAccount`] (`courtesyAccount-{userId uuid}`): what Courtesy adds to an
//!   identity user: its number, last sign-in, profile, uploaded avatars and banners. Email,
//!   password, disabling and erasure are [`crate::identity::User`]'s.
//! - [`resource::CourtesyResource`] (`courtesyResource-{sha256}`): a card resource (picture, audio,
//!   video) stored once per SHA-256 of its bytes; the stream name is the hash, so two uploads of
//!   the same bytes race for one stream and exactly one records it.
//!
//! Events record hashes, sizes, media types and uploaders of files, never their bytes
//! (docs/decisions/0024-blob-store.md). Stored shapes: docs/event-catalog.md, "Courtesy".

pub mod account;
pub mod profile;
pub mod resource;
pub mod sequence;

/// Whether `s` is a lower-case hex SHA-256 digest (64 characters).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
