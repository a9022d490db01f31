//! Sign-in codes sent by SMS (seed 000 §3 `POST /smsCodes`), one stream per phone number:
//! `smsCode-{uuid v5 of the phone}`.
//!
//! A code is stored only as a keyed hash (the caller's HMAC), expires after a TTL, allows a few
//! wrong attempts, is used at most once, and a new one can be requested only after a cool-down.

use super::Phone;
use crate::{Decider, DomainEvent};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The stream of `phone`'s codes: `smsCode-{v5(URL namespace, "tessera:sms:{phone}")}`.
pub fn sms_stream_id(phone: &Phone) -> String {
    let name = format!("tessera:sms:{phone}");
    format!(
        "{}-{}",
        SmsChallenge::CATEGORY,
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes())
    )
}

/// The current code of a phone.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ActiveCode {
    code_hash: String,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    failed_attempts: u32,
    used: bool,
}

/// A phone's sign-in codes (stream [`sms_stream_id`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SmsChallenge {
    current: Option<ActiveCode>,
}

impl SmsChallenge {
    /// When the latest code was issued (UTC), if any.
    pub fn last_issued_at(&self) -> Option<DateTime<Utc>> {
        self.current.as_ref().map(|c| c.issued_at)
    }
}

/// Commands for [`SmsChallenge`].
#[derive(Debug, Clone, PartialEq)]
pub enum SmsCommand {
    /// Issue a new code (replacing any earlier one), unless the last was issued less than
    /// `cooldown` ago.
    Issue {
        /// The mainland number to text (seed 000 §3 `phone`); names the stream ([`sms_stream_id`]).
        phone: Phone,
        /// Keyed hash of the code (lower-case hex).
        code_hash: String,
        /// How long the code is valid.
        ttl: Duration,
        /// Minimum time between two codes.
        cooldown: Duration,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Check a code. A match uses it up; a wrong code counts an attempt (the events say which).
    Verify {
        /// Keyed hash of the code the user typed.
        code_hash: String,
        /// Wrong attempts allowed per code; the code is dead after that many.
        max_attempts: u32,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`SmsChallenge`] (docs/event-catalog.md, "Meeting tickets").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum SmsEvent {
    /// A code was sent.
    SmsCodeIssued {
        /// The mainland number texted; also names the stream ([`sms_stream_id`]).
        phone: Phone,
        /// Keyed hash of the code (never the code).
        code_hash: String,
        /// When (UTC).
        issued_at: DateTime<Utc>,
        /// When it stops being accepted (UTC).
        expires_at: DateTime<Utc>,
    },
    /// The right code was given; it cannot be used again.
    SmsCodeVerified {
        /// When (UTC).
        verified_at: DateTime<Utc>,
    },
    /// A wrong code was given.
    SmsCodeRejected {
        /// Wrong attempts on this code so far, this one included.
        failed_attempts: u32,
        /// When (UTC).
        rejected_at: DateTime<Utc>,
    },
}

impl DomainEvent for SmsEvent {}

/// Why an [`SmsCommand`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsChallengeError {
    /// A code was sent less than the cool-down ago.
    #[error("a code was sent recently; retry in {retry_after_secs} s")]
    CoolingDown {
        /// Seconds until a new code may be requested.
        retry_after_secs: i64,
    },
    /// No code to check: none sent, expired, used, or too many wrong attempts.
    #[error("no valid code: request a new one")]
    NoActiveCode,
}

/// Constant-time comparison of two hex digests.
fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Decider for SmsChallenge {
    const CATEGORY: &'static str = "smsCode";
    type Command = SmsCommand;
    type Event = SmsEvent;
    type Error = SmsChallengeError;

    fn decide(&self, command: &SmsCommand) -> Result<Vec<SmsEvent>, SmsChallengeError> {
        match command {
            SmsCommand::Issue {
                phone,
                code_hash,
                ttl,
                cooldown,
                now,
            } => {
                if let Some(last) = self.last_issued_at() {
                    let ready = last + *cooldown;
                    if *now < ready {
                        let wait = (ready - *now).num_milliseconds();
                        return Err(SmsChallengeError::CoolingDown {
                            retry_after_secs: (wait + 999) / 1000,
                        });
                    }
                }
                Ok(vec![SmsEvent::SmsCodeIssued {
                    phone: phone.clone(),
                    code_hash: code_hash.clone(),
                    issued_at: *now,
                    expires_at: *now + *ttl,
                }])
            }
            SmsCommand::Verify {
                code_hash,
                max_attempts,
                now,
            } => {
                let Some(code) = &self.current else {
                    return Err(SmsChallengeError::NoActiveCode);
                };
                if code.used || *now >= code.expires_at || code.failed_attempts >= *max_attempts {
                    return Err(SmsChallengeError::NoActiveCode);
                }
                Ok(vec![if same_digest(&code.code_hash, code_hash) {
                    SmsEvent::SmsCodeVerified { verified_at: *now }
                } else {
                    SmsEvent::SmsCodeRejected {
                        failed_attempts: code.failed_attempts + 1,
                        rejected_at: *now,
                    }
                }])
            }
        }
    }

    fn evolve(mut self, event: &SmsEvent) -> Self {
        match event {
            SmsEvent::SmsCodeIssued {
                code_hash,
                issued_at,
                expires_at,
                ..
            } => {
                self.current = Some(ActiveCode {
                    code_hash: code_hash.clone(),
                    issued_at: *issued_at,
                    expires_at: *expires_at,
                    failed_attempts: 0,
                    used: false,
                });
            }
            SmsEvent::SmsCodeVerified { .. } => {
                if let Some(c) = self.current.as_mut() {
                    c.used = true;
                }
            }
            SmsEvent::SmsCodeRejected {
                failed_attempts, ..
            } => {
                if let Some(c) = self.current.as_mut() {
                    c.failed_attempts = *failed_attempts;
                }
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap_or_default()
    }
    fn phone() -> Phone {
        Phone::parse("13800138000").unwrap_or_else(|_| panic!("phone"))
    }
    fn issue(at: i64) -> SmsCommand {
        SmsCommand::Issue {
            phone: phone(),
            code_hash: "aa".into(),
            ttl: Duration::seconds(300),
            cooldown: Duration::seconds(60),
            now: t(at),
        }
    }
    fn issued(at: i64) -> SmsEvent {
        SmsEvent::SmsCodeIssued {
            phone: phone(),
            code_hash: "aa".into(),
            issued_at: t(at),
            expires_at: t(at + 300),
        }
    }
    fn verify(hash: &str, at: i64) -> SmsCommand {
        SmsCommand::Verify {
            code_hash: hash.into(),
            max_attempts: 3,
            now: t(at),
        }
    }

    #[test]
    fn a_new_code_waits_for_the_cool_down() {
        given::<SmsChallenge>([]).when(issue(0)).then([issued(0)]);
        given::<SmsChallenge>([issued(0)]).when(issue(30)).then_err(
            SmsChallengeError::CoolingDown {
                retry_after_secs: 30,
            },
        );
        given::<SmsChallenge>([issued(0)])
            .when(issue(60))
            .then([issued(60)]);
    }

    #[test]
    fn a_code_works_once_before_expiry() {
        given::<SmsChallenge>([issued(0)])
            .when(verify("aa", 10))
            .then([SmsEvent::SmsCodeVerified { verified_at: t(10) }]);
        given::<SmsChallenge>([issued(0), SmsEvent::SmsCodeVerified { verified_at: t(10) }])
            .when(verify("aa", 11))
            .then_err(SmsChallengeError::NoActiveCode);
        given::<SmsChallenge>([issued(0)])
            .when(verify("aa", 300))
            .then_err(SmsChallengeError::NoActiveCode);
    }

    #[test]
    fn wrong_attempts_count_and_kill_the_code() {
        let rejected = |n, at| SmsEvent::SmsCodeRejected {
            failed_attempts: n,
            rejected_at: t(at),
        };
        given::<SmsChallenge>([issued(0)])
            .when(verify("bb", 1))
            .then([rejected(1, 1)]);
        given::<SmsChallenge>([issued(0), rejected(1, 1), rejected(2, 2), rejected(3, 3)])
            .when(verify("aa", 4))
            .then_err(SmsChallengeError::NoActiveCode);
    }
}
