//! Companies and their members (not in seed 004; docs/plans.md, "Companies"), and the membership
//! check every company and plan route starts with: a non-member is told the company does not
//! exist ([`Missing::Company`]), a member who is not an owner may only read ([`PlansError::NotOwner`]).
//! Checks read the `plansCompany` stream, never a read model; writes re-check inside their atomic
//! command, so a member removed meanwhile cannot write.

use super::{Missing, PlansError, PlansService, new_object_id};
use crate::command::{CommandRunner, Decisions, EngineError, Handle};
use crate::event_store::EventMetadata;
use tessera_domain::UserId;
use tessera_domain::identity::Email;
use tessera_domain::plans::company::{Company, CompanyCommand, check_name};
use tessera_domain::plans::team_plan::TeamPlan;
use tessera_domain::plans::user::{PlansUser, PlansUserCommand};
use tessera_domain::plans::{ObjectId, Role};
use tessera_domain::shared::FieldError;

/// The caller's membership of a company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The company.
    pub company_id: ObjectId,
    /// The caller's plans `user_id`.
    pub user_id: ObjectId,
    /// The caller's identity user.
    pub account_id: UserId,
    /// The caller's role.
    pub role: Role,
}

impl Membership {
    /// Whether the caller owns the company.
    pub fn is_owner(&self) -> bool {
        self.role == Role::Owner
    }
}

/// The stream of the company `id`.
pub(crate) fn company_stream(id: &ObjectId) -> Result<crate::StreamId, EngineError> {
    CommandRunner::stream::<Company>(id)
}

/// The stream of the company `id`'s team plan.
pub(crate) fn team_plan_stream(id: &ObjectId) -> Result<crate::StreamId, EngineError> {
    CommandRunner::stream::<TeamPlan>(id)
}

/// `Err(NotOwner)` unless `membership` is an owner's (the `Err(NotFound)` when it no longer
/// exists in `company`, read inside an atomic command).
pub(crate) fn check_owner(company: &Company, membership: &Membership) -> Result<(), PlansError> {
    match company.member_by_account(membership.account_id) {
        None => Err(PlansError::NotFound(Missing::Company)),
        Some((_, m)) if m.role != Role::Owner => Err(PlansError::NotOwner),
        Some(_) => Ok(()),
    }
}

/// Assign (or keep) the plans `user_id` of the identity user behind `handle`: the one already
/// assigned, else `proposed`.
fn assign_user(
    d: &mut Decisions,
    handle: Handle<PlansUser>,
    account_id: UserId,
    proposed: &ObjectId,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ObjectId, PlansError> {
    let command = PlansUserCommand::Assign {
        user_id: proposed.clone(),
        account_id,
        now,
    };
    d.decide(handle, &command)
        .map_err(|e| e.map_rejected(PlansError::from))?;
    Ok(d.state(handle)?
        .user_id()
        .cloned()
        .unwrap_or_else(|| proposed.clone()))
}

impl PlansService {
    /// The caller's membership of the company `company_id` (its 24-hex text as the client sent
    /// it).
    ///
    /// Errors: [`PlansError::NotFound`] (`Company`) for a malformed id, an unknown company or a
    /// caller who is not a member; engine failures.
    pub async fn membership(
        &self,
        company_id: &str,
        account: UserId,
    ) -> Result<Membership, PlansError> {
        let company_id =
            ObjectId::parse(company_id).map_err(|_| PlansError::NotFound(Missing::Company))?;
        let (company, _) = self
            .runner
            .load::<Company>(&company_stream(&company_id)?)
            .await?;
        let (user_id, member) = company
            .member_by_account(account)
            .ok_or(PlansError::NotFound(Missing::Company))?;
        Ok(Membership {
            company_id,
            user_id: user_id.clone(),
            account_id: account,
            role: member.role,
        })
    }

    /// [`PlansService::membership`] for owner-only writes: also [`PlansError::NotOwner`] (403)
    /// when the caller is a member but not an owner.
    pub async fn owner_membership(
        &self,
        company_id: &str,
        account: UserId,
    ) -> Result<Membership, PlansError> {
        let membership = self.membership(company_id, account).await?;
        Self::require_owner(&membership)?;
        Ok(membership)
    }

    /// `Err(NotOwner)` unless the membership is an owner's (403 for members).
    pub fn require_owner(membership: &Membership) -> Result<(), PlansError> {
        if membership.is_owner() {
            Ok(())
        } else {
            Err(PlansError::NotOwner)
        }
    }

    /// The company's member limit now: what the current paid period bought, else the current
    /// plan's (trial or free) limit in the catalogue.
    pub fn member_limit(&self, plan: &TeamPlan) -> u32 {
        match plan.effective(self.now()) {
            (_, Some(bought)) => bought,
            (plan, None) => self.catalogue().member_limit(plan),
        }
    }

    /// Create a company named `name` (trimmed) owned by `account`; the caller gets their plans
    /// `user_id` in the same commit if they had none. Returns the company id, the owner's
    /// `user_id` and the position reached.
    ///
    /// Errors: [`PlansError::Field`] (`name`), engine failures.
    pub async fn create_company(
        &self,
        account: UserId,
        name: &str,
        meta: &EventMetadata,
    ) -> Result<(ObjectId, ObjectId, Option<u64>), PlansError> {
        let name = name.trim().to_owned();
        check_name(&name)?;
        let now = self.now();
        let company_id = new_object_id(now);
        let proposed_user = new_object_id(now);
        let mut atomic = self.runner.atomic(meta);
        let user = atomic.stream::<PlansUser>(&CommandRunner::stream::<PlansUser>(account)?);
        let company = atomic.stream::<Company>(&company_stream(&company_id)?);
        let committed = atomic
            .run(|d| {
                let owner_id = assign_user(d, user, account, &proposed_user, now)?;
                let command = CompanyCommand::Create {
                    company_id: company_id.clone(),
                    name: name.clone(),
                    owner_id: owner_id.clone(),
                    owner_account: account,
                    now,
                };
                d.decide(company, &command)
                    .map_err(|e| e.map_rejected(PlansError::from))?;
                Ok::<_, PlansError>(owner_id)
            })
            .await?;
        let position = committed.position();
        Ok((company_id, committed.value, position))
    }

    /// Add the registered user with `email` to the caller's company as `role` (`member` or
    /// `owner`), as an owner, within the member limit of the company's plan now. Returns the new
    /// member's plans `user_id` and the position reached.
    ///
    /// Errors: [`PlansError::NotOwner`], [`PlansError::Field`] (`email`, `role`),
    /// [`PlansError::UnknownEmail`], [`PlansError::AlreadyMember`], [`PlansError::MemberLimit`],
    /// [`PlansError::NotFound`] (the caller left meanwhile), engine failures.
    pub async fn add_member(
        &self,
        caller: &Membership,
        email: &str,
        role: &str,
        meta: &EventMetadata,
    ) -> Result<(ObjectId, Option<u64>), PlansError> {
        Self::require_owner(caller)?;
        let email = Email::parse(email).map_err(|e| FieldError::new("email", e.to_string()))?;
        let role = Role::parse(role)
            .ok_or_else(|| FieldError::new("role", "must be `member` or `owner`"))?;
        let target = self.identity.user_by_email(email.as_str()).await?;
        let now = self.now();
        let proposed = new_object_id(now);
        let mut atomic = self.runner.atomic(meta);
        let user = atomic.stream::<PlansUser>(&CommandRunner::stream::<PlansUser>(target.user_id)?);
        let company = atomic.stream::<Company>(&company_stream(&caller.company_id)?);
        let plan = atomic.stream::<TeamPlan>(&team_plan_stream(&caller.company_id)?);
        let committed = atomic
            .run(|d| {
                check_owner(d.state(company)?, caller)?;
                let limit = self.member_limit(d.state(plan)?);
                let user_id = assign_user(d, user, target.user_id, &proposed, now)?;
                let command = CompanyCommand::AddMember {
                    user_id: user_id.clone(),
                    account_id: target.user_id,
                    role,
                    by: caller.user_id.clone(),
                    member_limit: limit,
                    now,
                };
                d.decide(company, &command)
                    .map_err(|e| e.map_rejected(PlansError::from))?;
                Ok::<_, PlansError>(user_id)
            })
            .await?;
        let position = committed.position();
        Ok((committed.value, position))
    }

    /// Remove the member `user_id` (24 hex) from the caller's company, as an owner; an owner may
    /// remove themselves while another owner remains. Returns the position reached.
    ///
    /// Errors: [`PlansError::NotOwner`], [`PlansError::NotFound`] (`Member`: no such member;
    /// `Company`: the caller left meanwhile), [`PlansError::LastOwner`], engine failures.
    pub async fn remove_member(
        &self,
        caller: &Membership,
        user_id: &str,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, PlansError> {
        Self::require_owner(caller)?;
        let user_id =
            ObjectId::parse(user_id).map_err(|_| PlansError::NotFound(Missing::Member))?;
        let now = self.now();
        let mut atomic = self.runner.atomic(meta);
        let company = atomic.stream::<Company>(&company_stream(&caller.company_id)?);
        let committed = atomic
            .run(|d| {
                check_owner(d.state(company)?, caller)?;
                let command = CompanyCommand::RemoveMember {
                    user_id: user_id.clone(),
                    by: caller.user_id.clone(),
                    now,
                };
                d.decide(company, &command)
                    .map_err(|e| e.map_rejected(PlansError::from))?;
                Ok::<_, PlansError>(())
            })
            .await?;
        Ok(committed.position())
    }
}
