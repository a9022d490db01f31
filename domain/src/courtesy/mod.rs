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
//! - [`qr::CourtesyQrCode`] (`courtesyQrCode-{qrId}`): a printed QR code, its scans and the one
//!   card bound to it.
//! - [`card::CourtesyCard`] (`courtesyCard-{token}`): a card, created atomically with its QR
//!   code's binding; views, the first reader, edits, the ban.
//! - [`news::CourtesyNewsDay`] (`courtesyNews-{YYYY-MM-DD}`): the news items of one day.
//!
//! Events record hashes, sizes, media types and uploaders of files, never their bytes
//! (docs/decisions/0024-blob-store.md). Stored shapes: docs/event-catalog.md, "Courtesy".

pub mod account;
pub mod card;
pub mod news;
pub mod profile;
pub mod qr;
pub mod resource;
pub mod sequence;

/// Seconds east of UTC of the time zone Courtesy reads zone-less dates and times in: China
/// Standard Time (Asia/Shanghai, UTC+8 all year, no daylight saving), where the client is used.
pub const LOCAL_OFFSET_SECS: i32 = 8 * 3600;

/// The calendar date in Asia/Shanghai at the instant `now` (what "today" means for a birthday).
pub fn local_date(now: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
    match chrono::FixedOffset::east_opt(LOCAL_OFFSET_SECS) {
        Some(zone) => now.with_timezone(&zone).date_naive(),
        None => now.date_naive(),
    }
}

/// The UTC instant of `YYYY-MM-DD HH:MM:SS` read as an Asia/Shanghai local time (how the client
/// sends `visible_at`); `None` when malformed.
pub fn parse_local_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok()?;
    let zone = chrono::FixedOffset::east_opt(LOCAL_OFFSET_SECS)?;
    naive
        .and_local_timezone(zone)
        .single()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// Whether `s` is a lower-case hex SHA-256 digest (64 characters).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};

    #[test]
    fn today_is_the_date_in_shanghai() {
        // 2026-03-01 17:00 UTC is already 2026-03-02 01:00 in Shanghai.
        let late = Utc.with_ymd_and_hms(2026, 3, 1, 17, 0, 0).unwrap();
        assert_eq!(
            local_date(late),
            NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
        );
        assert_eq!(
            parse_local_time("1999-02-02 00:00:00"),
            Some(Utc.with_ymd_and_hms(1999, 2, 1, 16, 0, 0).unwrap())
        );
        assert_eq!(parse_local_time("1999-02-30 00:00:00"), None);
        let early = Utc.with_ymd_and_hms(2026, 3, 1, 15, 59, 59).unwrap();
        assert_eq!(
            local_date(early),
            NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
        );
    }
}
