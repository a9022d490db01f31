//! A Courtesy profile (seed 001 "修改用户信息 Edit Profile") and the limits of each field. Every
//! field is personal data of the account's user (docs/decisions/0007-field-classification.md).
//!
//! | field | rule |
//! | --- | --- |
//! | `nick` | 0–[`MAX_NICK`] characters, no control characters |
//! | `avatar` | empty, or the 32-hex id of an avatar this user uploaded |
//! | `mobile` | empty, or 11 digits starting with `1` (mainland number) |
//! | `birthday` | empty, or `YYYY-MM-DD`, a real date from 1900-01-01 to today |
//! | `gender` | 0 (not said), 1 or 2 |
//! | `province`, `city`, `area` | 0–[`MAX_PLACE`] characters, no control characters |
//! | `introduction` | 0–[`MAX_INTRODUCTION`] characters; line breaks allowed |

use crate::shared::FieldError;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Longest nickname, in characters.
pub const MAX_NICK: usize = 32;
/// Longest province, city or area name, in characters.
pub const MAX_PLACE: usize = 32;
/// Longest introduction, in characters.
pub const MAX_INTRODUCTION: usize = 500;
/// Highest `gender` value (0 not said, 1, 2).
pub const MAX_GENDER: u8 = 2;

/// A whole profile as stored and answered; empty strings mean "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Nickname.
    pub nick: String,
    /// Avatar id (32 hex) or empty.
    pub avatar: String,
    /// Mainland mobile number or empty.
    pub mobile: String,
    /// `YYYY-MM-DD` or empty.
    pub birthday: String,
    /// 0 not said, 1, 2.
    pub gender: u8,
    /// Province.
    pub province: String,
    /// City.
    pub city: String,
    /// Area (district).
    pub area: String,
    /// Free text about oneself.
    pub introduction: String,
}

/// An edit: each `Some` replaces that field, each `None` leaves it as it was.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChange {
    /// New nickname.
    pub nick: Option<String>,
    /// New avatar id.
    pub avatar: Option<String>,
    /// New mobile.
    pub mobile: Option<String>,
    /// New birthday.
    pub birthday: Option<String>,
    /// New gender.
    pub gender: Option<u8>,
    /// New province.
    pub province: Option<String>,
    /// New city.
    pub city: Option<String>,
    /// New area.
    pub area: Option<String>,
    /// New introduction.
    pub introduction: Option<String>,
}

fn line(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Check a mobile number: empty or 11 ASCII digits starting with `1`.
pub fn check_mobile(value: &str) -> Result<(), FieldError> {
    if value.is_empty()
        || (value.len() == 11
            && value.starts_with('1')
            && value.bytes().all(|b| b.is_ascii_digit()))
    {
        Ok(())
    } else {
        Err(FieldError::new(
            "mobile",
            "must be 11 digits starting with 1 (a mainland number)",
        ))
    }
}

/// Check a birthday against `today`: empty or a real `YYYY-MM-DD` date from 1900-01-01 to `today`.
pub fn check_birthday(value: &str, today: NaiveDate) -> Result<(), FieldError> {
    if value.is_empty() {
        return Ok(());
    }
    let bad = || {
        FieldError::new(
            "birthday",
            "must be a date YYYY-MM-DD from 1900-01-01 to today",
        )
    };
    if value.len() != 10 {
        return Err(bad());
    }
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| bad())?;
    let first = NaiveDate::from_ymd_opt(1900, 1, 1).ok_or_else(bad)?;
    if date < first || date > today {
        return Err(bad());
    }
    Ok(())
}

/// Whether `s` is a 32-character lower-case hex id (the ids of avatars, banners, resources).
pub fn is_hex_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl ProfileChange {
    /// Check every given field (`today` bounds the birthday; `has_avatar` says whether an id is
    /// one of the user's uploaded avatars) and return the profile after the change.
    ///
    /// Errors: the first invalid field, named as in the seed (`nick`, `avatar`, `mobile`,
    /// `birthday`, `gender`, `province`, `city`, `area`, `introduction`).
    pub fn apply(
        &self,
        current: &Profile,
        today: NaiveDate,
        has_avatar: impl Fn(&str) -> bool,
    ) -> Result<Profile, FieldError> {
        let mut p = current.clone();
        if let Some(v) = &self.nick {
            line("nick", v, MAX_NICK)?;
            p.nick = v.trim().to_owned();
        }
        if let Some(v) = &self.avatar {
            let acceptable = v.is_empty() || (is_hex_id(v) && has_avatar(v));
            if !acceptable {
                return Err(FieldError::new(
                    "avatar",
                    "must be the id of an avatar you uploaded",
                ));
            }
            p.avatar = v.clone();
        }
        if let Some(v) = &self.mobile {
            check_mobile(v)?;
            p.mobile = v.clone();
        }
        if let Some(v) = &self.birthday {
            check_birthday(v, today)?;
            p.birthday = v.clone();
        }
        if let Some(v) = self.gender {
            if v > MAX_GENDER {
                return Err(FieldError::new("gender", "must be 0, 1 or 2"));
            }
            p.gender = v;
        }
        for (field, value, target) in [
            ("province", &self.province, &mut p.province),
            ("city", &self.city, &mut p.city),
            ("area", &self.area, &mut p.area),
        ] {
            if let Some(v) = value {
                line(field, v, MAX_PLACE)?;
                *target = v.trim().to_owned();
            }
        }
        if let Some(v) = &self.introduction {
            if v.chars().count() > MAX_INTRODUCTION {
                return Err(FieldError::new(
                    "introduction",
                    format!("must be at most {MAX_INTRODUCTION} characters"),
                ));
            }
            p.introduction = v.clone();
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
    }

    #[test]
    fn each_field_is_checked_and_named() {
        let field = |c: ProfileChange| {
            c.apply(&Profile::default(), today(), |_| false)
                .unwrap_err()
                .field
        };
        let nick = "x".repeat(MAX_NICK + 1);
        assert_eq!(
            field(ProfileChange {
                nick: Some(nick),
                ..Default::default()
            }),
            "nick"
        );
        for m in ["1380013800", "23800138000", "1380013800a"] {
            assert_eq!(
                field(ProfileChange {
                    mobile: Some(m.into()),
                    ..Default::default()
                }),
                "mobile"
            );
        }
        for b in ["1972-02-30", "1972-3-21", "2027-01-01", "1899-12-31"] {
            assert_eq!(
                field(ProfileChange {
                    birthday: Some(b.into()),
                    ..Default::default()
                }),
                "birthday"
            );
        }
        assert_eq!(
            field(ProfileChange {
                gender: Some(3),
                ..Default::default()
            }),
            "gender"
        );
        assert_eq!(
            field(ProfileChange {
                avatar: Some("0".repeat(32)),
                ..Default::default()
            }),
            "avatar"
        );
        assert_eq!(
            field(ProfileChange {
                city: Some("a\u{1b}".into()),
                ..Default::default()
            }),
            "city"
        );
    }

    #[test]
    fn a_partial_change_keeps_the_other_fields() {
        let current = Profile {
            nick: "i_82".into(),
            gender: 1,
            ..Default::default()
        };
        let change = ProfileChange {
            mobile: Some("13800138000".into()),
            birthday: Some("1972-03-21".into()),
            ..Default::default()
        };
        let p = change.apply(&current, today(), |_| false).unwrap();
        assert_eq!(
            (p.nick.as_str(), p.gender, p.mobile.as_str()),
            ("i_82", 1, "13800138000")
        );
    }
}
