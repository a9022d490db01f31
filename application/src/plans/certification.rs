//! Certification applications and their review (seed 004 `auth`; docs/plans.md,
//! "Certification"). Every write decides, in one atomic commit, on the application
//! (`plansCertification-{authId}`), the company's guard (`plansCertifications-{companyId}`) and the
//! company (the caller is still an owner), so the rules hold under concurrency: two concurrent
//! applications for one plan give one `posted` and one 409.
//!
//! A new application that supersedes the pending one also writes `expired` on the pending
//! application's stream; which stream that is comes from the guard, read before the commit and
//! re-checked inside it (a changed guard runs the whole command again).

use super::companies::{check_owner, company_stream};
use super::pictures::shelf_stream;
use super::{Membership, PlansError, PlansService, new_object_id};
use crate::command::{CommandRunner, EngineError};
use crate::event_store::EventMetadata;
use tessera_domain::UserId;
use tessera_domain::plans::certification::{
    AuthStatus, Certification, CertificationCommand, CertificationDesk, CertificationError,
    DeskCommand, Submission, check_submission,
};
use tessera_domain::plans::company::Company;
use tessera_domain::plans::pictures::PictureShelf;
use tessera_domain::plans::{ObjectId, PlanType};
use tessera_domain::shared::FieldError;

/// How often a submission re-reads the guard when another write changed it meanwhile.
const GUARD_ATTEMPTS: usize = 5;

/// The stream of application `id`.
pub(crate) fn certification_stream(id: &ObjectId) -> Result<crate::StreamId, EngineError> {
    CommandRunner::stream::<Certification>(id)
}

/// The stream of the company `id`'s certification guard.
pub(crate) fn desk_stream(id: &ObjectId) -> Result<crate::StreamId, EngineError> {
    CommandRunner::stream::<CertificationDesk>(id)
}

fn parse_plan(plan: &str) -> Result<PlanType, PlansError> {
    PlanType::parse(plan)
        .filter(|p| p.is_paid())
        .ok_or_else(|| FieldError::new("plan", "must be `pro` or `ent`").into())
}

/// 400 naming the first picture id of `submission` the company did not upload (decided from the
/// company's picture stream, read inside the same commit).
fn check_pictures(shelf: &PictureShelf, submission: &Submission) -> Result<(), PlansError> {
    match shelf.unknown_picture(submission) {
        Some(f) => Err(f.into()),
        None => Ok(()),
    }
}

fn rejected(e: crate::command::CommandError<CertificationError>) -> PlansError {
    e.map_rejected(PlansError::from)
}

impl PlansService {
    /// The company's certification guard (pending application, certified plans) as its events
    /// say; what paid orders check.
    ///
    /// Errors: engine failures.
    pub async fn certification_desk(
        &self,
        company_id: &ObjectId,
    ) -> Result<CertificationDesk, PlansError> {
        Ok(self
            .runner
            .load::<CertificationDesk>(&desk_stream(company_id)?)
            .await?
            .0)
    }

    /// Application `auth_id` as its events say (`None`: no such application).
    ///
    /// Errors: engine failures.
    pub async fn certification(
        &self,
        auth_id: &ObjectId,
    ) -> Result<Option<Certification>, PlansError> {
        let (c, _) = self
            .runner
            .load::<Certification>(&certification_stream(auth_id)?)
            .await?;
        Ok(c.auth_id().is_some().then_some(c))
    }

    /// Apply for `plan` (`pro`/`ent`) with the document's `body` as the caller (an owner). The
    /// pending application, when the rules allow a new one, becomes `expired`. Returns the new
    /// `authId` and the position reached.
    ///
    /// Errors: [`PlansError::NotOwner`], [`PlansError::Field`] (`plan`, or the body field at
    /// fault, e.g. `contact.realname_ext.idcard`), [`PlansError::Certification`]
    /// (`AlreadyCertified`, `Pending`), engine failures.
    pub async fn apply_for_certification(
        &self,
        caller: &Membership,
        plan: &str,
        body: &serde_json::Map<String, serde_json::Value>,
        meta: &EventMetadata,
    ) -> Result<(ObjectId, Option<u64>), PlansError> {
        Self::require_owner(caller)?;
        let plan = parse_plan(plan)?;
        let submission = check_submission(plan, body)?;
        let now = self.now();
        let auth_id = new_object_id(now);
        let company_id = &caller.company_id;
        for _ in 0..GUARD_ATTEMPTS {
            let seen = self.certification_desk(company_id).await?;
            let seen_pending = seen.pending().map(|p| p.auth_id.clone());
            let mut atomic = self.runner.atomic(meta);
            let company = atomic.stream::<Company>(&company_stream(company_id)?);
            let desk = atomic.stream::<CertificationDesk>(&desk_stream(company_id)?);
            let shelf = atomic.stream::<PictureShelf>(&shelf_stream(company_id)?);
            let new = atomic.stream::<Certification>(&certification_stream(&auth_id)?);
            let old = match &seen_pending {
                Some(id) => Some(atomic.stream::<Certification>(&certification_stream(id)?)),
                None => None,
            };
            let result = atomic
                .run(|d| {
                    check_owner(d.state(company)?, caller)?;
                    check_pictures(d.state(shelf)?, &submission)?;
                    let pending_now = d.state(desk)?.pending().map(|p| p.auth_id.clone());
                    if pending_now != seen_pending {
                        return Ok(false);
                    }
                    d.decide(
                        desk,
                        &DeskCommand::Open {
                            company_id: company_id.clone(),
                            auth_id: auth_id.clone(),
                            plan,
                            now,
                        },
                    )
                    .map_err(rejected)?;
                    if let Some(old) = old {
                        d.decide(
                            old,
                            &CertificationCommand::Expire {
                                superseded_by: auth_id.clone(),
                                now,
                            },
                        )
                        .map_err(rejected)?;
                    }
                    d.decide(
                        new,
                        &CertificationCommand::Submit {
                            auth_id: auth_id.clone(),
                            company_id: company_id.clone(),
                            plan,
                            user_id: caller.user_id.clone(),
                            account_id: caller.account_id,
                            submission: submission.clone(),
                            now,
                        },
                    )
                    .map_err(rejected)?;
                    Ok::<_, PlansError>(true)
                })
                .await?;
            if result.value {
                return Ok((auth_id, result.position()));
            }
        }
        Err(EngineError::Contended {
            stream: desk_stream(company_id)?,
            attempts: GUARD_ATTEMPTS as u32,
        }
        .into())
    }

    /// The pending application of `plan`, or 404 ([`CertificationError::NotFound`]).
    async fn pending_of(
        &self,
        company_id: &ObjectId,
        plan: PlanType,
    ) -> Result<ObjectId, PlansError> {
        self.certification_desk(company_id)
            .await?
            .pending()
            .filter(|p| p.plan == plan)
            .map(|p| p.auth_id.clone())
            .ok_or(PlansError::Certification(CertificationError::NotFound))
    }

    /// One step on application `auth_id` of `company_id` and the guard, atomically (with the
    /// owner check when `caller` is given, and the picture check when `pictures` is).
    #[allow(clippy::too_many_arguments)]
    async fn step(
        &self,
        company_id: &ObjectId,
        auth_id: &ObjectId,
        caller: Option<&Membership>,
        pictures: Option<&Submission>,
        command: CertificationCommand,
        status: AuthStatus,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, PlansError> {
        let now = self.now();
        let mut atomic = self.runner.atomic(meta);
        let company = atomic.stream::<Company>(&company_stream(company_id)?);
        let desk = atomic.stream::<CertificationDesk>(&desk_stream(company_id)?);
        let app = atomic.stream::<Certification>(&certification_stream(auth_id)?);
        let shelf = match pictures {
            Some(_) => Some(atomic.stream::<PictureShelf>(&shelf_stream(company_id)?)),
            None => None,
        };
        let committed = atomic
            .run(|d| {
                if let Some(caller) = caller {
                    check_owner(d.state(company)?, caller)?;
                }
                if let (Some(shelf), Some(submission)) = (shelf, pictures) {
                    check_pictures(d.state(shelf)?, submission)?;
                }
                d.decide(app, &command).map_err(rejected)?;
                d.decide(
                    desk,
                    &DeskCommand::Track {
                        company_id: company_id.clone(),
                        auth_id: auth_id.clone(),
                        status,
                        now,
                    },
                )
                .map_err(rejected)?;
                Ok::<_, PlansError>(())
            })
            .await?;
        Ok(committed.position())
    }

    /// Resubmit the company's rejected application of `plan` with a new `body` (→ `reposted`).
    /// Returns its `authId` and the position reached.
    ///
    /// Errors: [`PlansError::NotOwner`], [`PlansError::Field`], [`PlansError::Certification`]
    /// (`NotFound`: none pending for the plan; `WrongStatus`: not rejected), engine failures.
    pub async fn resubmit_certification(
        &self,
        caller: &Membership,
        plan: &str,
        body: &serde_json::Map<String, serde_json::Value>,
        meta: &EventMetadata,
    ) -> Result<(ObjectId, Option<u64>), PlansError> {
        Self::require_owner(caller)?;
        let plan = parse_plan(plan)?;
        let submission = check_submission(plan, body)?;
        let auth_id = self.pending_of(&caller.company_id, plan).await?;
        let command = CertificationCommand::Resubmit {
            user_id: caller.user_id.clone(),
            account_id: caller.account_id,
            submission: submission.clone(),
            now: self.now(),
        };
        let position = self
            .step(
                &caller.company_id,
                &auth_id,
                Some(caller),
                Some(&submission),
                command,
                AuthStatus::Reposted,
                meta,
            )
            .await?;
        Ok((auth_id, position))
    }

    /// Cancel the company's pending application of `plan` (→ `cancelled`; never once accepted).
    /// Returns its `authId` and the position reached.
    ///
    /// Errors: [`PlansError::NotOwner`], [`PlansError::Field`] (`plan`),
    /// [`PlansError::Certification`] (`NotFound`: none pending for the plan), engine failures.
    pub async fn cancel_certification(
        &self,
        caller: &Membership,
        plan: &str,
        meta: &EventMetadata,
    ) -> Result<(ObjectId, Option<u64>), PlansError> {
        Self::require_owner(caller)?;
        let plan = parse_plan(plan)?;
        let auth_id = self.pending_of(&caller.company_id, plan).await?;
        let command = CertificationCommand::Cancel {
            user_id: caller.user_id.clone(),
            now: self.now(),
        };
        let position = self
            .step(
                &caller.company_id,
                &auth_id,
                Some(caller),
                None,
                command,
                AuthStatus::Cancelled,
                meta,
            )
            .await?;
        Ok((auth_id, position))
    }

    /// Staff decide application `auth_id`: accept (`reason` `None`; the plan becomes certified)
    /// or reject with a reason. The caller must be checked as an admin by the api. Returns the
    /// position reached.
    ///
    /// Errors: [`PlansError::Certification`] (`NotFound`, `WrongStatus`: not in review),
    /// [`PlansError::Field`] (`reason`), engine failures.
    pub async fn review_certification(
        &self,
        admin: UserId,
        auth_id: &str,
        reason: Option<String>,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, PlansError> {
        let auth_id = ObjectId::parse(auth_id)
            .map_err(|_| PlansError::Certification(CertificationError::NotFound))?;
        let app = self
            .certification(&auth_id)
            .await?
            .ok_or(PlansError::Certification(CertificationError::NotFound))?;
        let company_id = app
            .company_id()
            .cloned()
            .ok_or(PlansError::Certification(CertificationError::NotFound))?;
        let now = self.now();
        let (command, status) = match reason {
            None => (
                CertificationCommand::Accept { admin, now },
                AuthStatus::Accepted,
            ),
            Some(reason) => (
                CertificationCommand::Reject { admin, reason, now },
                AuthStatus::Rejected,
            ),
        };
        self.step(&company_id, &auth_id, None, None, command, status, meta)
            .await
    }
}
