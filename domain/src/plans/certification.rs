//! Certification applications (seed 004 `auth`): [`Certification`] (`plansCertification-{authId}`),
//! one application with every version submitted and its review log, and [`CertificationDesk`]
//! (`plansCertifications-{companyId}`), the per-company guard that holds the rules across
//! applications. Every write decides on both in one atomic commit (decision 0009), so the rules
//! hold under concurrency.
//!
//! Rules (seed 004 "GET /auth/status"; docs/plans.md, "Certification"):
//! - A company has at most one *pending* application (status `posted`, `reposted` or `rejected`).
//! - No new application for a plan while the pending one is of that plan and not `rejected`.
//! - A certified plan is not applied for again; `ent` certified covers `pro` (refused too); `pro`
//!   certified still allows `ent`.
//! - A new application that is allowed while another is pending supersedes it: the old one
//!   becomes `expired`.
//! - Only a `rejected` application is resubmitted (`PUT /auth`, → `reposted`); an application is
//!   cancelled only while pending (never once `accepted`); staff accept or reject only `posted`
//!   or `reposted` ones.
//!
//! The submitted data is checked by [`check_submission`]; `contact` holds the applicant's personal
//! data (name, phone, ID card number and photos) and is classified personal, subject the applicant.

use super::{ObjectId, PlanType};
use crate::shared::FieldError;
use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The seed's `AuthStatus`, plus `expired` for a superseded application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthStatus {
    /// Submitted, waiting for review.
    Posted,
    /// Cancelled by an owner.
    Cancelled,
    /// Resubmitted after a rejection, waiting for review.
    Reposted,
    /// Accepted by staff: the plan is certified.
    Accepted,
    /// Rejected by staff; may be resubmitted.
    Rejected,
    /// Superseded by a newer application of the company.
    Expired,
}

impl AuthStatus {
    /// The seed's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthStatus::Posted => "posted",
            AuthStatus::Cancelled => "cancelled",
            AuthStatus::Reposted => "reposted",
            AuthStatus::Accepted => "accepted",
            AuthStatus::Rejected => "rejected",
            AuthStatus::Expired => "expired",
        }
    }

    /// Parse the seed's spelling (exact).
    pub fn parse(s: &str) -> Option<Self> {
        [
            AuthStatus::Posted,
            AuthStatus::Cancelled,
            AuthStatus::Reposted,
            AuthStatus::Accepted,
            AuthStatus::Rejected,
            AuthStatus::Expired,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }

    /// Whether the application is still pending (`posted`, `reposted`, `rejected`).
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            AuthStatus::Posted | AuthStatus::Reposted | AuthStatus::Rejected
        )
    }

    /// Whether staff may decide it (`posted`, `reposted`).
    pub fn in_review(self) -> bool {
        matches!(self, AuthStatus::Posted | AuthStatus::Reposted)
    }
}

/// One submitted version of an application: the document's `contact`, `team` and `enterprise`
/// objects, as checked by [`check_submission`] (strings trimmed, unknown keys dropped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// The applicant's contact and identity (personal data).
    pub contact: Value,
    /// Team information (pro), or null.
    pub team: Value,
    /// Enterprise information (ent), or null.
    pub enterprise: Value,
}

/// One step of the review log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The status the step led to.
    pub action: AuthStatus,
    /// Who: a plans `user_id` (owner steps), an identity user id (staff), or the superseding
    /// application's id (`expired`).
    pub by: String,
    /// The rejection reason.
    pub reason: Option<String>,
    /// When (UTC).
    pub at: DateTime<Utc>,
}

/// One certification application.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Certification {
    auth_id: Option<ObjectId>,
    company_id: Option<ObjectId>,
    plan: Option<PlanType>,
    user_id: Option<ObjectId>,
    account_id: Option<UserId>,
    date_apply: Option<DateTime<Utc>>,
    status: Option<AuthStatus>,
    versions: Vec<(DateTime<Utc>, Submission)>,
    log: Vec<LogEntry>,
}

impl Certification {
    /// Its id, once submitted.
    pub fn auth_id(&self) -> Option<&ObjectId> {
        self.auth_id.as_ref()
    }
    /// The company.
    pub fn company_id(&self) -> Option<&ObjectId> {
        self.company_id.as_ref()
    }
    /// The plan applied for.
    pub fn plan(&self) -> Option<PlanType> {
        self.plan
    }
    /// The applicant's plans `user_id`.
    pub fn user_id(&self) -> Option<&ObjectId> {
        self.user_id.as_ref()
    }
    /// The applicant's identity user.
    pub fn account_id(&self) -> Option<UserId> {
        self.account_id
    }
    /// When it was first submitted.
    pub fn date_apply(&self) -> Option<DateTime<Utc>> {
        self.date_apply
    }
    /// Its status.
    pub fn status(&self) -> Option<AuthStatus> {
        self.status
    }
    /// Every submitted version with its time, oldest first.
    pub fn versions(&self) -> &[(DateTime<Utc>, Submission)] {
        &self.versions
    }
    /// The review log, oldest first.
    pub fn log(&self) -> &[LogEntry] {
        &self.log
    }
}

/// Commands for [`Certification`].
#[derive(Debug, Clone, PartialEq)]
pub enum CertificationCommand {
    /// Submit a new application (the stream is fresh).
    Submit {
        /// Its id (also the stream id).
        auth_id: ObjectId,
        /// The company.
        company_id: ObjectId,
        /// `pro` or `ent`.
        plan: PlanType,
        /// The owner applying (plans `user_id`).
        user_id: ObjectId,
        /// The owner's identity user (the data subject of `contact`).
        account_id: UserId,
        /// The checked data.
        submission: Submission,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Resubmit a rejected application.
    Resubmit {
        /// The owner resubmitting.
        user_id: ObjectId,
        /// Their identity user.
        account_id: UserId,
        /// The checked data.
        submission: Submission,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Cancel a pending application.
    Cancel {
        /// The owner cancelling.
        user_id: ObjectId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Staff accept an application in review.
    Accept {
        /// The staff member (identity user).
        admin: UserId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Staff reject an application in review.
    Reject {
        /// The staff member (identity user).
        admin: UserId,
        /// Why (1–500 characters).
        reason: String,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// A newer application superseded this pending one.
    Expire {
        /// The newer application.
        superseded_by: ObjectId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`Certification`] (docs/event-catalog.md, "Team plans: certification").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum CertificationEvent {
    /// An application was submitted (`posted`).
    #[serde(rename = "PlansCertificationSubmitted")]
    Submitted {
        /// Its id.
        auth_id: ObjectId,
        /// The company.
        company_id: ObjectId,
        /// `pro` or `ent`.
        plan: PlanType,
        /// The applicant (plans `user_id`).
        user_id: ObjectId,
        /// The applicant's identity user (data subject of `contact`).
        account_id: UserId,
        /// The applicant's contact and identity (personal).
        contact: Value,
        /// Team information or null.
        team: Value,
        /// Enterprise information or null.
        enterprise: Value,
        /// When (UTC): `date_apply`.
        submitted_at: DateTime<Utc>,
    },
    /// A rejected application was resubmitted (`reposted`).
    #[serde(rename = "PlansCertificationResubmitted")]
    Resubmitted {
        /// The application.
        auth_id: ObjectId,
        /// The company.
        company_id: ObjectId,
        /// The owner resubmitting.
        user_id: ObjectId,
        /// Their identity user (data subject of `contact`).
        account_id: UserId,
        /// Contact and identity (personal).
        contact: Value,
        /// Team information or null.
        team: Value,
        /// Enterprise information or null.
        enterprise: Value,
        /// When (UTC).
        resubmitted_at: DateTime<Utc>,
    },
    /// An owner cancelled it (`cancelled`).
    #[serde(rename = "PlansCertificationCancelled")]
    Cancelled {
        /// The application.
        auth_id: ObjectId,
        /// The company.
        company_id: ObjectId,
        /// The owner.
        user_id: ObjectId,
        /// When (UTC).
        cancelled_at: DateTime<Utc>,
    },
    /// Staff accepted it (`accepted`): the plan is certified.
    #[serde(rename = "PlansCertificationAccepted")]
    Accepted {
        /// The application.
        auth_id: ObjectId,
        /// The company.
        company_id: ObjectId,
        /// The plan certified.
        plan: PlanType,
        /// The staff member (identity user).
        admin_id: UserId,
        /// When (UTC).
        accepted_at: DateTime<Utc>,
    },
    /// Staff rejected it (`rejected`).
    #[serde(rename = "PlansCertificationRejected")]
    Rejected {
        /// The application.
        auth_id: ObjectId,
        /// The company.
        company_id: ObjectId,
        /// The staff member (identity user).
        admin_id: UserId,
        /// Why, written by staff.
        reason: String,
        /// When (UTC).
        rejected_at: DateTime<Utc>,
    },
    /// A newer application superseded it (`expired`).
    #[serde(rename = "PlansCertificationExpired")]
    Expired {
        /// The application.
        auth_id: ObjectId,
        /// The company.
        company_id: ObjectId,
        /// The newer application.
        superseded_by: ObjectId,
        /// When (UTC).
        expired_at: DateTime<Utc>,
    },
}

impl DomainEvent for CertificationEvent {}

/// Why a certification command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificationError {
    /// A field is invalid.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// No such application (or none pending for the plan).
    #[error("no such certification application")]
    NotFound,
    /// The plan (or a higher one) is certified already.
    #[error("the company is certified for {} already", .0.as_str())]
    AlreadyCertified(PlanType),
    /// An application of this plan is pending and not rejected.
    #[error("an application for {} is pending ({}); cancel it or wait for its review", .0.as_str(), .1.as_str())]
    Pending(PlanType, AuthStatus),
    /// The application's status does not allow the step.
    #[error("the application is {status}: {why}", status = .0.as_str(), why = .1)]
    WrongStatus(AuthStatus, &'static str),
}

impl Certification {
    fn id(&self) -> Result<(ObjectId, ObjectId), CertificationError> {
        match (&self.auth_id, &self.company_id) {
            (Some(a), Some(c)) => Ok((a.clone(), c.clone())),
            _ => Err(CertificationError::NotFound),
        }
    }

    fn status_or_missing(&self) -> Result<AuthStatus, CertificationError> {
        self.status.ok_or(CertificationError::NotFound)
    }
}

impl Decider for Certification {
    const CATEGORY: &'static str = "plansCertification";
    type Command = CertificationCommand;
    type Event = CertificationEvent;
    type Error = CertificationError;

    fn decide(
        &self,
        command: &CertificationCommand,
    ) -> Result<Vec<CertificationEvent>, CertificationError> {
        use CertificationCommand as C;
        use CertificationEvent as E;
        match command {
            C::Submit {
                auth_id,
                company_id,
                plan,
                user_id,
                account_id,
                submission,
                now,
            } => {
                if self.auth_id.is_some() {
                    return Ok(Vec::new());
                }
                Ok(vec![E::Submitted {
                    auth_id: auth_id.clone(),
                    company_id: company_id.clone(),
                    plan: *plan,
                    user_id: user_id.clone(),
                    account_id: *account_id,
                    contact: submission.contact.clone(),
                    team: submission.team.clone(),
                    enterprise: submission.enterprise.clone(),
                    submitted_at: *now,
                }])
            }
            C::Resubmit {
                user_id,
                account_id,
                submission,
                now,
            } => {
                let (auth_id, company_id) = self.id()?;
                let status = self.status_or_missing()?;
                if status != AuthStatus::Rejected {
                    return Err(CertificationError::WrongStatus(
                        status,
                        "only a rejected application can be resubmitted",
                    ));
                }
                Ok(vec![E::Resubmitted {
                    auth_id,
                    company_id,
                    user_id: user_id.clone(),
                    account_id: *account_id,
                    contact: submission.contact.clone(),
                    team: submission.team.clone(),
                    enterprise: submission.enterprise.clone(),
                    resubmitted_at: *now,
                }])
            }
            C::Cancel { user_id, now } => {
                let (auth_id, company_id) = self.id()?;
                let status = self.status_or_missing()?;
                if !status.is_pending() {
                    return Err(CertificationError::WrongStatus(
                        status,
                        "only a pending application can be cancelled",
                    ));
                }
                Ok(vec![E::Cancelled {
                    auth_id,
                    company_id,
                    user_id: user_id.clone(),
                    cancelled_at: *now,
                }])
            }
            C::Accept { admin, now } => {
                let (auth_id, company_id) = self.id()?;
                let status = self.status_or_missing()?;
                if !status.in_review() {
                    return Err(CertificationError::WrongStatus(
                        status,
                        "only a posted or reposted application can be accepted",
                    ));
                }
                Ok(vec![E::Accepted {
                    auth_id,
                    company_id,
                    plan: self.plan.unwrap_or(PlanType::Pro),
                    admin_id: *admin,
                    accepted_at: *now,
                }])
            }
            C::Reject { admin, reason, now } => {
                let (auth_id, company_id) = self.id()?;
                let status = self.status_or_missing()?;
                if !status.in_review() {
                    return Err(CertificationError::WrongStatus(
                        status,
                        "only a posted or reposted application can be rejected",
                    ));
                }
                crate::shared::check_text("reason", reason, 1, 500)?;
                Ok(vec![E::Rejected {
                    auth_id,
                    company_id,
                    admin_id: *admin,
                    reason: reason.trim().to_owned(),
                    rejected_at: *now,
                }])
            }
            C::Expire { superseded_by, now } => {
                let (auth_id, company_id) = self.id()?;
                if !self.status_or_missing()?.is_pending() {
                    return Ok(Vec::new());
                }
                Ok(vec![E::Expired {
                    auth_id,
                    company_id,
                    superseded_by: superseded_by.clone(),
                    expired_at: *now,
                }])
            }
        }
    }

    fn evolve(mut self, event: &CertificationEvent) -> Self {
        use CertificationEvent as E;
        let (action, by, reason, at) = match event {
            E::Submitted {
                auth_id,
                company_id,
                plan,
                user_id,
                account_id,
                contact,
                team,
                enterprise,
                submitted_at,
            } => {
                self.auth_id = Some(auth_id.clone());
                self.company_id = Some(company_id.clone());
                self.plan = Some(*plan);
                self.user_id = Some(user_id.clone());
                self.account_id = Some(*account_id);
                self.date_apply = Some(*submitted_at);
                self.versions.push((
                    *submitted_at,
                    Submission {
                        contact: contact.clone(),
                        team: team.clone(),
                        enterprise: enterprise.clone(),
                    },
                ));
                (AuthStatus::Posted, user_id.to_string(), None, *submitted_at)
            }
            E::Resubmitted {
                user_id,
                contact,
                team,
                enterprise,
                resubmitted_at,
                ..
            } => {
                self.versions.push((
                    *resubmitted_at,
                    Submission {
                        contact: contact.clone(),
                        team: team.clone(),
                        enterprise: enterprise.clone(),
                    },
                ));
                (
                    AuthStatus::Reposted,
                    user_id.to_string(),
                    None,
                    *resubmitted_at,
                )
            }
            E::Cancelled {
                user_id,
                cancelled_at,
                ..
            } => (
                AuthStatus::Cancelled,
                user_id.to_string(),
                None,
                *cancelled_at,
            ),
            E::Accepted {
                admin_id,
                accepted_at,
                ..
            } => (
                AuthStatus::Accepted,
                admin_id.to_string(),
                None,
                *accepted_at,
            ),
            E::Rejected {
                admin_id,
                reason,
                rejected_at,
                ..
            } => (
                AuthStatus::Rejected,
                admin_id.to_string(),
                Some(reason.clone()),
                *rejected_at,
            ),
            E::Expired {
                superseded_by,
                expired_at,
                ..
            } => (
                AuthStatus::Expired,
                superseded_by.to_string(),
                None,
                *expired_at,
            ),
        };
        self.status = Some(action);
        self.log.push(LogEntry {
            action,
            by,
            reason,
            at,
        });
        self
    }
}

/// The pending application a [`CertificationDesk`] tracks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingApplication {
    /// Its id.
    pub auth_id: ObjectId,
    /// Its plan.
    pub plan: PlanType,
    /// `posted`, `reposted` or `rejected`.
    pub status: AuthStatus,
}

/// A company's certification guard: its pending application and its certified plans.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CertificationDesk {
    pending: Option<PendingApplication>,
    certified: BTreeSet<PlanType>,
}

impl CertificationDesk {
    /// The pending application, if any.
    pub fn pending(&self) -> Option<&PendingApplication> {
        self.pending.as_ref()
    }

    /// Plans certified by an accepted application.
    pub fn certified(&self) -> &BTreeSet<PlanType> {
        &self.certified
    }

    /// The highest certified plan.
    pub fn highest(&self) -> Option<PlanType> {
        self.certified.iter().max().copied()
    }

    /// Whether paid `plan` may be bought: it, or a higher plan, is certified (`ent` covers `pro`).
    pub fn covers(&self, plan: PlanType) -> bool {
        self.highest().is_some_and(|h| h >= plan)
    }
}

/// Commands for [`CertificationDesk`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeskCommand {
    /// Open a new application of `plan`; the pending one (if any) is superseded.
    Open {
        /// The company (also the stream id).
        company_id: ObjectId,
        /// The new application.
        auth_id: ObjectId,
        /// `pro` or `ent`.
        plan: PlanType,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// The pending application `auth_id` moved to `status` (`reposted`, `rejected`, `cancelled`,
    /// `accepted`).
    Track {
        /// The company.
        company_id: ObjectId,
        /// The application.
        auth_id: ObjectId,
        /// Its new status.
        status: AuthStatus,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`CertificationDesk`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum DeskEvent {
    /// The company's application `auth_id` of `plan` now has `status` (the guard's record; the
    /// application's own stream has the details).
    #[serde(rename = "PlansCertificationTracked")]
    Tracked {
        /// The company.
        company_id: ObjectId,
        /// The application.
        auth_id: ObjectId,
        /// Its plan.
        plan: PlanType,
        /// Its new status.
        status: AuthStatus,
        /// When (UTC).
        at: DateTime<Utc>,
    },
}

impl DomainEvent for DeskEvent {}

impl Decider for CertificationDesk {
    const CATEGORY: &'static str = "plansCertifications";
    type Command = DeskCommand;
    type Event = DeskEvent;
    type Error = CertificationError;

    fn decide(&self, command: &DeskCommand) -> Result<Vec<DeskEvent>, CertificationError> {
        match command {
            DeskCommand::Open {
                company_id,
                auth_id,
                plan,
                now,
            } => {
                if !plan.is_paid() {
                    return Err(FieldError::new("plan", "must be `pro` or `ent`").into());
                }
                if let Some(h) = self.highest()
                    && h >= *plan
                {
                    return Err(CertificationError::AlreadyCertified(h));
                }
                let mut events = Vec::new();
                if let Some(p) = &self.pending {
                    if p.plan == *plan && p.status != AuthStatus::Rejected {
                        return Err(CertificationError::Pending(p.plan, p.status));
                    }
                    events.push(DeskEvent::Tracked {
                        company_id: company_id.clone(),
                        auth_id: p.auth_id.clone(),
                        plan: p.plan,
                        status: AuthStatus::Expired,
                        at: *now,
                    });
                }
                events.push(DeskEvent::Tracked {
                    company_id: company_id.clone(),
                    auth_id: auth_id.clone(),
                    plan: *plan,
                    status: AuthStatus::Posted,
                    at: *now,
                });
                Ok(events)
            }
            DeskCommand::Track {
                company_id,
                auth_id,
                status,
                now,
            } => {
                let Some(p) = self.pending.as_ref().filter(|p| p.auth_id == *auth_id) else {
                    return Err(CertificationError::NotFound);
                };
                Ok(vec![DeskEvent::Tracked {
                    company_id: company_id.clone(),
                    auth_id: auth_id.clone(),
                    plan: p.plan,
                    status: *status,
                    at: *now,
                }])
            }
        }
    }

    fn evolve(mut self, event: &DeskEvent) -> Self {
        let DeskEvent::Tracked {
            auth_id,
            plan,
            status,
            ..
        } = event;
        if status.is_pending() {
            self.pending = Some(PendingApplication {
                auth_id: auth_id.clone(),
                plan: *plan,
                status: *status,
            });
        } else if self.pending.as_ref().is_some_and(|p| p.auth_id == *auth_id) {
            self.pending = None;
        }
        if *status == AuthStatus::Accepted {
            self.certified.insert(*plan);
        }
        self
    }
}

// ---- checking a submission ----

const MAX_TEXT: usize = 200;

fn text(
    obj: &Map<String, Value>,
    path: &str,
    key: &str,
    required: bool,
) -> Result<Option<Value>, FieldError> {
    let field = format!("{path}.{key}");
    match obj.get(key) {
        None | Some(Value::Null) if required => Err(FieldError::new(field, "is required")),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let t = s.trim();
            if t.is_empty() {
                if required {
                    return Err(FieldError::new(field, "must not be empty"));
                }
                return Ok(None);
            }
            crate::shared::check_text(&field, t, 1, MAX_TEXT)?;
            Ok(Some(Value::String(t.to_owned())))
        }
        Some(_) => Err(FieldError::new(field, "must be a string")),
    }
}

fn object<'a>(
    obj: &'a Map<String, Value>,
    path: &str,
    key: &str,
    required: bool,
) -> Result<Option<&'a Map<String, Value>>, FieldError> {
    let field = if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    };
    match obj.get(key) {
        None | Some(Value::Null) if required => Err(FieldError::new(field, "is required")),
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(FieldError::new(field, "must be an object")),
    }
}

/// Copy the text fields `keys` of `src` (at `path`) into a new object; `required` ones must be
/// there.
fn texts(
    src: &Map<String, Value>,
    path: &str,
    keys: &[&str],
    required: &[&str],
) -> Result<Map<String, Value>, FieldError> {
    let mut out = Map::new();
    for key in keys {
        if let Some(v) = text(src, path, key, required.contains(key))? {
            out.insert((*key).to_owned(), v);
        }
    }
    Ok(out)
}

fn photo_ids(obj: &Map<String, Value>, path: &str, key: &str) -> Result<Value, FieldError> {
    let field = format!("{path}.{key}");
    let Some(Value::Array(items)) = obj.get(key) else {
        return Err(FieldError::new(
            field,
            "is required: an array of uploaded picture ids",
        ));
    };
    if items.is_empty() || items.len() > 10 {
        return Err(FieldError::new(field, "must hold 1 to 10 picture ids"));
    }
    let mut ids = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let id = item
            .as_str()
            .and_then(|s| ObjectId::parse(s).ok())
            .ok_or_else(|| FieldError::new(format!("{field}[{i}]"), "must be a 24-hex id"))?;
        ids.push(Value::String(id.to_string()));
    }
    Ok(Value::Array(ids))
}

/// A mainland resident ID card number: 17 digits then a digit or `X` (upper-cased), with the
/// GB 11643 check digit.
pub fn check_idcard(field: &str, s: &str) -> Result<String, FieldError> {
    let s = s.trim().to_ascii_uppercase();
    let bytes = s.as_bytes();
    let shape = bytes.len() == 18
        && bytes[..17].iter().all(u8::is_ascii_digit)
        && (bytes[17].is_ascii_digit() || bytes[17] == b'X');
    if !shape {
        return Err(FieldError::new(
            field,
            "must be 18 characters: 17 digits then a digit or X",
        ));
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = bytes[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize];
    if bytes[17] != check {
        return Err(FieldError::new(field, "check digit does not match"));
    }
    Ok(s)
}

/// Check the body of `POST /plan/auth` (and `PUT`) for `plan` and keep only the document's
/// fields, trimmed. Required (docs/plans.md, "Certification"):
/// - both plans: `contact.realname`, `contact.gender` (`F`/`M`), `contact.phone`;
/// - `pro`: `contact.realname_ext.idcard` (a valid ID card number) and
///   `contact.realname_ext.idcard_photo` (1–10 picture ids), `team.team_name`, `team.scale`;
/// - `ent`: `contact.position`, `enterprise.team_name`, `enterprise.certificate_type`
///   (`license` or `code`) and `enterprise.certificate_pic` (1–10 picture ids).
///
/// The rest is optional text. Errors: a [`FieldError`] naming the first bad field by its path
/// (`contact.realname_ext.idcard`).
pub fn check_submission(
    plan: PlanType,
    body: &Map<String, Value>,
) -> Result<Submission, FieldError> {
    if !plan.is_paid() {
        return Err(FieldError::new("plan", "must be `pro` or `ent`"));
    }
    let pro = plan == PlanType::Pro;
    let Some(c) = object(body, "", "contact", true)? else {
        return Err(FieldError::new("contact", "is required"));
    };
    let mut contact = texts(
        c,
        "contact",
        &["realname", "gender", "phone", "position"],
        if pro {
            &["realname", "gender", "phone"]
        } else {
            &["realname", "gender", "phone", "position"]
        },
    )?;
    if !matches!(
        contact.get("gender").and_then(Value::as_str),
        Some("F" | "M")
    ) {
        return Err(FieldError::new("contact.gender", "must be `F` or `M`"));
    }
    let phone = contact.get("phone").and_then(Value::as_str).unwrap_or("");
    if !(5..=20).contains(&phone.len())
        || !phone
            .chars()
            .all(|ch| ch.is_ascii_digit() || matches!(ch, '+' | '-' | ' '))
    {
        return Err(FieldError::new(
            "contact.phone",
            "must be 5 to 20 digits (+, - and spaces allowed)",
        ));
    }
    if let Some(a) = object(c, "contact", "address", false)? {
        let a = texts(
            a,
            "contact.address",
            &["province", "city", "district", "postcode", "address"],
            &[],
        )?;
        contact.insert("address".into(), Value::Object(a));
    }
    if let Some(ext) = object(c, "contact", "realname_ext", pro)? {
        let mut out = Map::new();
        let path = "contact.realname_ext";
        if let Some(Value::String(id)) = text(ext, path, "idcard", pro)? {
            out.insert(
                "idcard".into(),
                Value::String(check_idcard("contact.realname_ext.idcard", &id)?),
            );
        }
        if pro || ext.contains_key("idcard_photo") {
            out.insert("idcard_photo".into(), photo_ids(ext, path, "idcard_photo")?);
        }
        contact.insert("realname_ext".into(), Value::Object(out));
    }
    let team = match object(body, "", "team", pro)? {
        Some(t) => {
            let mut out = texts(
                t,
                "team",
                &["team_name", "scale", "description"],
                if pro { &["team_name", "scale"] } else { &[] },
            )?;
            if let Some(l) = object(t, "team", "location", false)? {
                let l = texts(
                    l,
                    "team.location",
                    &["country", "province", "city", "district", "address"],
                    &[],
                )?;
                out.insert("location".into(), Value::Object(l));
            }
            if let Some(i) = object(t, "team", "industry", false)? {
                let i = texts(i, "team.industry", &["classify", "industry"], &[])?;
                out.insert("industry".into(), Value::Object(i));
            }
            Value::Object(out)
        }
        None => Value::Null,
    };
    let enterprise = match object(body, "", "enterprise", !pro)? {
        Some(e) => {
            let mut out = texts(
                e,
                "enterprise",
                &["team_name", "scale", "description", "certificate_type"],
                if pro {
                    &[]
                } else {
                    &["team_name", "certificate_type"]
                },
            )?;
            if let Some(kind) = out.get("certificate_type").and_then(Value::as_str)
                && !matches!(kind, "license" | "code")
            {
                return Err(FieldError::new(
                    "enterprise.certificate_type",
                    "must be `license` or `code`",
                ));
            }
            if !pro || e.contains_key("certificate_pic") {
                out.insert(
                    "certificate_pic".into(),
                    photo_ids(e, "enterprise", "certificate_pic")?,
                );
            }
            if let Some(l) = object(e, "enterprise", "location", false)? {
                let l = texts(
                    l,
                    "enterprise.location",
                    &["province", "city", "district", "postcode", "address"],
                    &[],
                )?;
                out.insert("location".into(), Value::Object(l));
            }
            if let Some(i) = object(e, "enterprise", "industry", false)? {
                let i = texts(i, "enterprise.industry", &["classify", "industry"], &[])?;
                out.insert("industry".into(), Value::Object(i));
            }
            Value::Object(out)
        }
        None => Value::Null,
    };
    Ok(Submission {
        contact: Value::Object(contact),
        team,
        enterprise,
    })
}

/// `contact` with its personal data masked, for read models analysts query: `realname` keeps its
/// first character, `phone` and `idcard` their last 4, `idcard_photo` becomes a count
/// (`idcard_photos`). A non-object (an erased field) becomes `"[masked]"`.
pub fn mask_contact(contact: &Value) -> Value {
    fn keep_last(s: &str, n: usize) -> String {
        let chars: Vec<char> = s.chars().collect();
        let cut = chars.len().saturating_sub(n);
        chars
            .iter()
            .enumerate()
            .map(|(i, c)| if i < cut { '*' } else { *c })
            .collect()
    }
    let Some(c) = contact.as_object() else {
        return Value::String("[masked]".into());
    };
    let mut out = Map::new();
    for (k, v) in c {
        let masked = match (k.as_str(), v) {
            ("realname", Value::String(s)) => {
                let mut it = s.chars();
                let first: String = it.next().into_iter().collect();
                Value::String(format!("{first}{}", "*".repeat(it.count())))
            }
            ("phone", Value::String(s)) => Value::String(keep_last(s, 4)),
            ("address", _) => Value::String("[masked]".into()),
            ("realname_ext", Value::Object(ext)) => {
                let mut e = Map::new();
                if let Some(Value::String(id)) = ext.get("idcard") {
                    e.insert("idcard".into(), Value::String(keep_last(id, 4)));
                }
                if let Some(Value::Array(p)) = ext.get("idcard_photo") {
                    e.insert("idcard_photos".into(), Value::from(p.len()));
                }
                Value::Object(e)
            }
            (_, v) => v.clone(),
        };
        out.insert(k.clone(), masked);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;
    use serde_json::json;

    fn oid(n: u8) -> ObjectId {
        ObjectId::from_parts(1, [n; 8])
    }

    fn tracked(auth: u8, plan: PlanType, status: AuthStatus) -> DeskEvent {
        DeskEvent::Tracked {
            company_id: oid(0),
            auth_id: oid(auth),
            plan,
            status,
            at: DateTime::UNIX_EPOCH,
        }
    }

    fn open(auth: u8, plan: PlanType) -> DeskCommand {
        DeskCommand::Open {
            company_id: oid(0),
            auth_id: oid(auth),
            plan,
            now: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn desk_rules() {
        use AuthStatus::*;
        use PlanType::*;
        // Second application of the same plan while pending: refused; rejected: superseded.
        given::<CertificationDesk>([tracked(1, Pro, Posted)])
            .when(open(2, Pro))
            .then_err(CertificationError::Pending(Pro, Posted));
        given::<CertificationDesk>([tracked(1, Pro, Posted), tracked(1, Pro, Rejected)])
            .when(open(2, Pro))
            .then([tracked(1, Pro, Expired), tracked(2, Pro, Posted)]);
        // Another plan supersedes the pending one.
        given::<CertificationDesk>([tracked(1, Pro, Posted)])
            .when(open(2, Ent))
            .then([tracked(1, Pro, Expired), tracked(2, Ent, Posted)]);
        // ent certified blocks pro; pro certified allows ent.
        given::<CertificationDesk>([tracked(1, Ent, Posted), tracked(1, Ent, Accepted)])
            .when(open(2, Pro))
            .then_err(CertificationError::AlreadyCertified(Ent));
        given::<CertificationDesk>([tracked(1, Pro, Posted), tracked(1, Pro, Accepted)])
            .when(open(2, Ent))
            .then([tracked(2, Ent, Posted)]);
    }

    #[test]
    fn application_steps() {
        let submitted = CertificationEvent::Submitted {
            auth_id: oid(1),
            company_id: oid(0),
            plan: PlanType::Pro,
            user_id: oid(2),
            account_id: UserId::from_uuid(uuid::Uuid::from_u128(1)),
            contact: json!({}),
            team: Value::Null,
            enterprise: Value::Null,
            submitted_at: DateTime::UNIX_EPOCH,
        };
        let accepted = CertificationEvent::Accepted {
            auth_id: oid(1),
            company_id: oid(0),
            plan: PlanType::Pro,
            admin_id: UserId::from_uuid(uuid::Uuid::from_u128(9)),
            accepted_at: DateTime::UNIX_EPOCH,
        };
        given::<Certification>([submitted.clone(), accepted])
            .when(CertificationCommand::Cancel {
                user_id: oid(2),
                now: DateTime::UNIX_EPOCH,
            })
            .then_err(CertificationError::WrongStatus(
                AuthStatus::Accepted,
                "only a pending application can be cancelled",
            ));
        given::<Certification>([submitted])
            .when(CertificationCommand::Resubmit {
                user_id: oid(2),
                account_id: UserId::from_uuid(uuid::Uuid::from_u128(1)),
                submission: Submission {
                    contact: json!({}),
                    team: Value::Null,
                    enterprise: Value::Null,
                },
                now: DateTime::UNIX_EPOCH,
            })
            .then_err(CertificationError::WrongStatus(
                AuthStatus::Posted,
                "only a rejected application can be resubmitted",
            ));
    }

    #[test]
    fn submissions_name_the_missing_field() {
        let pro = json!({
            "contact": {"realname": "张三", "gender": "M", "phone": "13800138000",
                "realname_ext": {"idcard": "11010519491231002x", "idcard_photo": ["65000000abababababababab"]}},
            "team": {"team_name": "Acme", "scale": "1-10"}
        });
        let ok = check_submission(PlanType::Pro, pro.as_object().unwrap()).unwrap();
        assert_eq!(ok.contact["realname_ext"]["idcard"], "11010519491231002X");
        let err = check_submission(PlanType::Ent, pro.as_object().unwrap()).unwrap_err();
        assert_eq!(err.field, "contact.position");
        let mut bad = pro.clone();
        bad["contact"]["realname_ext"]["idcard"] = json!("110105194912310021");
        let err = check_submission(PlanType::Pro, bad.as_object().unwrap()).unwrap_err();
        assert_eq!(err.field, "contact.realname_ext.idcard");
        let masked = mask_contact(&ok.contact);
        assert_eq!(masked["realname_ext"]["idcard"], "**************002X");
        assert_eq!(masked["realname"], "张*");
        assert_eq!(masked["phone"], "*******8000");
    }
}
