//! Trials and the states of paid periods (seed 004 `POST /plan/trial`), with their durable
//! deadlines (DESIGN.md §6): a trial's end ([`PLANS_TRIAL_END`]), a paid period's end
//! ([`PLANS_PERIOD_END`], `actived` → `overdue`) and the end of its grace period
//! ([`PLANS_PERIOD_GRACE_END`], → `expired`). Deadlines are stored with the events that create
//! them and fire after restarts; their handler ([`PlansDeadlines`]) sends commands whose decision
//! is empty when there is nothing left to do, so a second firing is harmless.
//!
//! Paid periods are started by a paid order's commit (`orders`), or directly by
//! [`PlansService::start_paid_period`] (tests and set-up).

use super::companies::{check_owner, company_stream, team_plan_stream};
use super::{Membership, PlansError, PlansService, new_object_id};
use crate::deadlines::{Deadline, DeadlineHandler, NewDeadline};
use crate::event_store::EventMetadata;
use crate::process::HandlerError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use std::sync::Arc;
use tessera_domain::plans::company::Company;
use tessera_domain::plans::team_plan::{TeamPlan, TeamPlanCommand, TeamPlanEvent};
use tessera_domain::plans::{ObjectId, PlanType};
use tessera_domain::shared::FieldError;
use uuid::Uuid;

/// Deadline kind: a trial's end. Payload `{"companyId", "trialId"}`.
pub const PLANS_TRIAL_END: &str = "plans.trial-end";
/// Deadline kind: a paid period's end (→ `overdue`). Payload `{"companyId", "periodId"}`.
pub const PLANS_PERIOD_END: &str = "plans.period-end";
/// Deadline kind: a paid period's grace end (→ `expired`). Payload `{"companyId", "periodId"}`.
pub const PLANS_PERIOD_GRACE_END: &str = "plans.period-grace-end";

fn deadline(kind: &str, due_at: DateTime<Utc>, payload: serde_json::Value) -> NewDeadline {
    NewDeadline {
        deadline_id: Uuid::now_v7(),
        kind: kind.to_owned(),
        due_at,
        payload,
    }
}

/// The deadlines the new `events` need: a trial's end, a period's end and grace end (also when
/// a renewal moved them), a scheduled degrade's time.
pub(crate) fn deadlines_for(events: &[TeamPlanEvent]) -> Vec<NewDeadline> {
    let mut out = Vec::new();
    for event in events {
        match event {
            TeamPlanEvent::TrialStarted {
                company_id,
                trial_id,
                date_end,
                ..
            } => out.push(deadline(
                PLANS_TRIAL_END,
                *date_end,
                json!({"companyId": company_id, "trialId": trial_id}),
            )),
            TeamPlanEvent::PaidPeriodStarted {
                company_id,
                period_id,
                date_end,
                grace_end,
                ..
            } => {
                let payload = json!({"companyId": company_id, "periodId": period_id});
                out.push(deadline(PLANS_PERIOD_END, *date_end, payload.clone()));
                out.push(deadline(PLANS_PERIOD_GRACE_END, *grace_end, payload));
            }
            TeamPlanEvent::PaidPeriodExtended {
                company_id,
                period_id,
                date_end,
                grace_end,
                ..
            } => {
                let payload = json!({"companyId": company_id, "periodId": period_id});
                out.push(deadline(PLANS_PERIOD_END, *date_end, payload.clone()));
                out.push(deadline(PLANS_PERIOD_GRACE_END, *grace_end, payload));
            }
            TeamPlanEvent::DegradeScheduled {
                company_id,
                degrade_id,
                order_id,
                effective_at,
                ..
            } => out.push(deadline(
                super::orders::PLANS_DEGRADE_DUE,
                *effective_at,
                json!({"companyId": company_id, "degradeId": degrade_id, "orderId": order_id}),
            )),
            _ => {}
        }
    }
    out
}

impl PlansService {
    /// The company's team plan as its events say (state and stream version).
    ///
    /// Errors: engine failures.
    pub async fn team_plan(&self, company_id: &ObjectId) -> Result<TeamPlan, PlansError> {
        Ok(self
            .runner
            .load::<TeamPlan>(&team_plan_stream(company_id)?)
            .await?
            .0)
    }

    /// Start a trial of `plan` (`pro` or `ent`) for the caller's company, as an owner, for the
    /// configured trial length; a running trial ends (`superseded`). The trial's end is stored as
    /// a deadline in the same commit. Returns the trial id and the position reached.
    ///
    /// Errors: [`PlansError::NotOwner`], [`PlansError::Field`] (`plan`: not one of the seed's
    /// plans), [`PlansError::NotPaidPlan`], [`PlansError::AlreadyTrialled`],
    /// [`PlansError::AlreadyBought`], [`PlansError::NotFound`] (the caller left meanwhile),
    /// engine failures.
    pub async fn start_trial(
        &self,
        caller: &Membership,
        plan: &str,
        meta: &EventMetadata,
    ) -> Result<(ObjectId, Option<u64>), PlansError> {
        Self::require_owner(caller)?;
        let plan = PlanType::parse(plan)
            .ok_or_else(|| FieldError::new("plan", "must be `pro` or `ent`"))?;
        let now = self.now();
        let trial_id = new_object_id(now);
        let mut atomic = self.runner.atomic(meta);
        let company = atomic.stream::<Company>(&company_stream(&caller.company_id)?);
        let team = atomic.stream::<TeamPlan>(&team_plan_stream(&caller.company_id)?);
        let length = self.settings.trial_length;
        let committed = atomic
            .run(|d| {
                check_owner(d.state(company)?, caller)?;
                let command = TeamPlanCommand::StartTrial {
                    company_id: caller.company_id.clone(),
                    trial_id: trial_id.clone(),
                    plan,
                    user_id: caller.user_id.clone(),
                    length,
                    now,
                };
                let events = d
                    .decide(team, &command)
                    .map_err(|e| e.map_rejected(PlansError::from))?;
                d.schedule(team, deadlines_for(&events))?;
                Ok::<_, PlansError>(())
            })
            .await?;
        Ok((trial_id, committed.position()))
    }

    /// Start a paid period of `plan` for `member_count` members and `months` calendar months now,
    /// bought by `user_id` at the current catalogue's prices; its end and grace end are stored as
    /// deadlines. Paid `newly` and `patch` orders start theirs through the order commit; tests call
    /// this directly to set a company up. Returns
    /// the period id and the position reached.
    ///
    /// Errors: [`PlansError::NotPaidPlan`], [`PlansError::Field`] (`period`: zero months or
    /// members), engine failures.
    pub async fn start_paid_period(
        &self,
        company_id: &ObjectId,
        user_id: &ObjectId,
        plan: PlanType,
        member_count: u32,
        months: u32,
        meta: &EventMetadata,
    ) -> Result<(ObjectId, Option<u64>), PlansError> {
        let now = self.now();
        let period_id = new_object_id(now);
        let command = TeamPlanCommand::StartPaidPeriod {
            company_id: company_id.clone(),
            period_id: period_id.clone(),
            plan,
            member_count,
            months,
            user_id: user_id.clone(),
            catalogue_version: self.catalogue().version.clone(),
            grace: self.settings.grace,
            now,
        };
        let decided = self
            .runner
            .run_with::<TeamPlan, _>(
                &team_plan_stream(company_id)?,
                &command,
                meta,
                |_, events| deadlines_for(events),
            )
            .await
            .map_err(|e| e.map_rejected(PlansError::from))?;
        Ok((period_id, decided.position()))
    }

    /// Send a deadline's command (end a trial, mark a period overdue, expire it) to the company's
    /// team plan; nothing happens when it is not due or already done. Returns the position
    /// reached.
    ///
    /// Errors: engine failures.
    pub async fn fire(
        &self,
        company_id: &ObjectId,
        command: TeamPlanCommand,
    ) -> Result<Option<u64>, PlansError> {
        let meta = EventMetadata::default();
        let decided = self
            .runner
            .run::<TeamPlan>(&team_plan_stream(company_id)?, &command, &meta)
            .await
            .map_err(|e| e.map_rejected(PlansError::from))?;
        Ok(decided.position())
    }
}

/// Fires the plans deadlines ([`PLANS_TRIAL_END`], [`PLANS_PERIOD_END`],
/// [`PLANS_PERIOD_GRACE_END`]) through the service.
pub struct PlansDeadlines(pub Arc<PlansService>);

fn id_of(deadline: &Deadline, key: &str) -> Result<ObjectId, HandlerError> {
    let raw = deadline.payload[key].as_str().unwrap_or_default();
    ObjectId::parse(raw).map_err(|_| format!("deadline payload has no valid `{key}`").into())
}

#[async_trait]
impl DeadlineHandler for PlansDeadlines {
    async fn fire(&self, deadline: &Deadline) -> Result<(), HandlerError> {
        let company = id_of(deadline, "companyId")?;
        // The command compares with the clock, not with the due time: a deadline fired early
        // (clock skew between servers) changes nothing and is retried.
        let now = self.0.now().max(deadline.due_at);
        match deadline.kind.as_str() {
            super::orders::PLANS_ORDER_EXPIRY => {
                let order = id_of(deadline, "orderId")?;
                self.0.expire_order(&company, &order, now).await?;
                return Ok(());
            }
            super::orders::PLANS_DEGRADE_DUE => {
                let degrade = id_of(deadline, "degradeId")?;
                let order = id_of(deadline, "orderId")?;
                self.0
                    .apply_degrade(&company, &degrade, &order, now)
                    .await?;
                return Ok(());
            }
            _ => {}
        }
        let command = match deadline.kind.as_str() {
            PLANS_TRIAL_END => TeamPlanCommand::EndTrial {
                trial_id: id_of(deadline, "trialId")?,
                now,
            },
            PLANS_PERIOD_END => TeamPlanCommand::MarkOverdue {
                period_id: id_of(deadline, "periodId")?,
                now,
            },
            PLANS_PERIOD_GRACE_END => TeamPlanCommand::Expire {
                period_id: id_of(deadline, "periodId")?,
                now,
            },
            other => return Err(format!("not a plans deadline: {other}").into()),
        };
        self.0.fire(&company, command).await?;
        Ok(())
    }
}

/// The plans deadline handlers, by kind, for the server's scheduler.
pub fn deadline_handlers(service: &Arc<PlansService>) -> Vec<(String, Arc<dyn DeadlineHandler>)> {
    let handler: Arc<dyn DeadlineHandler> = Arc::new(PlansDeadlines(service.clone()));
    [
        PLANS_TRIAL_END,
        PLANS_PERIOD_END,
        PLANS_PERIOD_GRACE_END,
        super::orders::PLANS_ORDER_EXPIRY,
        super::orders::PLANS_DEGRADE_DUE,
    ]
    .into_iter()
    .map(|kind| (kind.to_owned(), handler.clone()))
    .collect()
}
