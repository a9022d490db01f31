//! [`TeamPlan`] (`plansTeamPlan-{companyId}`), one per company: the trials it took and the paid
//! periods it bought, and what is current at a given instant (seed 004 `GET /plan/status`,
//! `POST /plan/trial`).
//!
//! Rules (seed 004 "POST /trial"; choices in docs/decisions/0026-plans-periods-and-time.md):
//! - A trial is only for a paid plan the company neither bought nor trialled.
//! - A trial over a running trial ends the first one (`superseded`) and starts the new one.
//! - A trial over a paid period pauses nothing: the period's end does not move, its days count
//!   while the trial runs, and when the trial ends the paid plan is current again.
//! - A paid period is `actived` until its end, then `overdue` for the grace period, then
//!   `expired`. Deadlines record each step; [`TeamPlan::status_at`] reads the same from the time
//!   alone, so an answer never depends on whether a deadline has fired yet.
//!
//! Paid periods are created by [`TeamPlanCommand::StartPaidPeriod`]; the orders that issue it arrive
//! with a later part of the plans issue (the seam: docs/plans.md, "Not yet served").

use super::{ObjectId, PlanType, period};
use crate::{Decider, DomainEvent};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A paid period's state, as the seed types `PlanStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanStatus {
    /// Running (also a running trial).
    Actived,
    /// Past its end, within the grace period: the plan still applies, payment is due.
    Overdue,
    /// Past the grace period: the company is back on the free plan.
    Expired,
}

impl PlanStatus {
    /// `actived`, `overdue` or `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanStatus::Actived => "actived",
            PlanStatus::Overdue => "overdue",
            PlanStatus::Expired => "expired",
        }
    }
}

/// Why a trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrialEnd {
    /// Its time was up.
    Expired,
    /// Another trial started over it.
    Superseded,
    /// A paid period (a paid `newly` or `patch` order) started while it ran.
    Purchased,
}

/// One trial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trial {
    /// Its id.
    pub trial_id: ObjectId,
    /// The plan tried.
    pub plan: PlanType,
    /// The owner who started it (plans `user_id`).
    pub user_id: ObjectId,
    /// Start (UTC).
    pub date_start: DateTime<Utc>,
    /// Planned end (UTC).
    pub date_end: DateTime<Utc>,
    /// When it ended, once ended by an event.
    pub ended_at: Option<DateTime<Utc>>,
}

/// One paid period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidPeriod {
    /// Its id.
    pub period_id: ObjectId,
    /// The plan bought.
    pub plan: PlanType,
    /// Members bought (the member limit while it applies).
    pub member_count: u32,
    /// Calendar months from `date_start` to `date_end` (renewals add to it).
    pub months: u32,
    /// Who bought it (plans `user_id`).
    pub user_id: ObjectId,
    /// Start (UTC).
    pub date_start: DateTime<Utc>,
    /// End: local midnight after the last day ([`period::period_end`]).
    pub date_end: DateTime<Utc>,
    /// End of the grace period.
    pub grace_end: DateTime<Utc>,
    /// The state its events recorded.
    pub status: PlanStatus,
    /// Catalogue version its price came from.
    pub catalogue_version: String,
}

/// What applies to a company at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Current<'a> {
    /// A running trial.
    Trial(&'a Trial),
    /// A paid period and its status at that instant (`expired` ones included: the company is on
    /// the free plan, the seed still shows the period).
    Paid(&'a PaidPeriod, PlanStatus),
}

/// A downgrade scheduled for the end of the current paid period (seed 004 `GET /plan/status`
/// `degrade`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledDegrade {
    /// Its id (`degrade._id`).
    pub degrade_id: ObjectId,
    /// The degrade order.
    pub order_id: ObjectId,
    /// The period it lowers.
    pub period_id: ObjectId,
    /// The plan from then on.
    pub plan: PlanType,
    /// Members from then on.
    pub member_count: u32,
    /// When it applies: the period's end (UTC).
    pub effective_at: DateTime<Utc>,
    /// When it was scheduled (UTC).
    pub scheduled_at: DateTime<Utc>,
}

/// Why the pending order stopped being pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PendingEnd {
    /// It was paid.
    Paid,
    /// It was not paid in time.
    Expired,
    /// A newer order replaced it.
    Superseded,
}

/// An order paid: what it changes on the team plan ([`TeamPlanCommand::ApplyOrder`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidOrder {
    /// The order.
    pub order_id: ObjectId,
    /// `newly`, `renewal`, `upgrade` or `patch` (a degrade is not paid).
    pub order_type: super::order::OrderType,
    /// The plan after the order.
    pub plan: PlanType,
    /// Members after the order.
    pub member_count: u32,
    /// Months bought (newly, patch, renewal).
    pub months: u32,
    /// The period it renews or upgrades.
    pub period_id: Option<ObjectId>,
    /// An upgrade's terms before (plan, members); the period must still have them.
    pub from: Option<(PlanType, u32)>,
    /// A fresh id for a period it starts (newly, patch).
    pub new_period_id: ObjectId,
    /// Who placed it.
    pub user_id: ObjectId,
    /// Its catalogue version.
    pub catalogue_version: String,
}

/// The plan state of one company.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TeamPlan {
    company_id: Option<ObjectId>,
    trials: Vec<Trial>,
    paid: Vec<PaidPeriod>,
    upgraded_to: BTreeSet<PlanType>,
    pending_order: Option<(ObjectId, DateTime<Utc>)>,
    degrade: Option<ScheduledDegrade>,
}

impl TeamPlan {
    /// Every trial, oldest first.
    pub fn trials(&self) -> &[Trial] {
        &self.trials
    }

    /// Every paid period, oldest first.
    pub fn paid_periods(&self) -> &[PaidPeriod] {
        &self.paid
    }

    /// The trial running at `now`: not ended by an event and before its end.
    pub fn active_trial(&self, now: DateTime<Utc>) -> Option<&Trial> {
        self.trials
            .iter()
            .rev()
            .find(|t| t.ended_at.is_none() && now < t.date_end)
    }

    /// A paid period's status at `now`: what its events say, or later by the clock.
    pub fn status_at(period: &PaidPeriod, now: DateTime<Utc>) -> PlanStatus {
        if period.status == PlanStatus::Expired || now >= period.grace_end {
            PlanStatus::Expired
        } else if now >= period.date_end {
            PlanStatus::Overdue
        } else {
            period.status
        }
    }

    /// The latest paid period, if any.
    pub fn latest_paid(&self) -> Option<&PaidPeriod> {
        self.paid.last()
    }

    /// What is current at `now`: a running trial first, else the latest paid period.
    pub fn current(&self, now: DateTime<Utc>) -> Option<Current<'_>> {
        if let Some(t) = self.active_trial(now) {
            return Some(Current::Trial(t));
        }
        self.latest_paid()
            .map(|p| Current::Paid(p, Self::status_at(p, now)))
    }

    /// The plan in force at `now` and, for a paid period, the members bought (`None`: the plan's
    /// own limit applies — free plan or trial).
    pub fn effective(&self, now: DateTime<Utc>) -> (PlanType, Option<u32>) {
        match self.current(now) {
            Some(Current::Trial(t)) => (t.plan, None),
            Some(Current::Paid(p, PlanStatus::Actived | PlanStatus::Overdue)) => {
                (p.plan, Some(p.member_count))
            }
            _ => (PlanType::Free, None),
        }
    }

    /// Paid plans trialled.
    pub fn trialled(&self) -> BTreeSet<PlanType> {
        self.trials.iter().map(|t| t.plan).collect()
    }

    /// Paid plans ever bought (upgrades included).
    pub fn bought(&self) -> BTreeSet<PlanType> {
        let mut bought: BTreeSet<PlanType> = self.paid.iter().map(|p| p.plan).collect();
        bought.extend(self.upgraded_to.iter().copied());
        bought
    }

    /// The latest paid period when it applies at `now` (`actived` or `overdue`).
    pub fn period_in_force(&self, now: DateTime<Utc>) -> Option<&PaidPeriod> {
        self.latest_paid()
            .filter(|p| Self::status_at(p, now) != PlanStatus::Expired)
    }

    /// The company's pending (unpaid) order and its payment deadline.
    pub fn pending_order(&self) -> Option<&(ObjectId, DateTime<Utc>)> {
        self.pending_order.as_ref()
    }

    /// The scheduled downgrade, if any.
    pub fn degrade(&self) -> Option<&ScheduledDegrade> {
        self.degrade.as_ref()
    }

    /// Paid plans the company may still try: neither bought nor trialled (seed `viable.trial`).
    pub fn viable_trials(&self) -> Vec<PlanType> {
        let (trialled, bought) = (self.trialled(), self.bought());
        PlanType::PAID
            .into_iter()
            .filter(|p| !trialled.contains(p) && !bought.contains(p))
            .collect()
    }
}

/// Commands for [`TeamPlan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamPlanCommand {
    /// Start a trial of `plan` for `length`.
    StartTrial {
        /// The company (also the stream id).
        company_id: ObjectId,
        /// A fresh id.
        trial_id: ObjectId,
        /// A paid plan.
        plan: PlanType,
        /// The owner starting it (plans `user_id`).
        user_id: ObjectId,
        /// How long trials last (configuration).
        length: Duration,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// End the trial `trial_id` if its time is up (its deadline); nothing otherwise.
    EndTrial {
        /// The trial.
        trial_id: ObjectId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Start a paid period now (issued by a paid order, later part; tests use it directly).
    StartPaidPeriod {
        /// The company (also the stream id).
        company_id: ObjectId,
        /// A fresh id.
        period_id: ObjectId,
        /// A paid plan.
        plan: PlanType,
        /// Members bought, at least 1.
        member_count: u32,
        /// Calendar months bought, at least 1.
        months: u32,
        /// Who bought it (plans `user_id`).
        user_id: ObjectId,
        /// The catalogue version of its price.
        catalogue_version: String,
        /// Grace period after the end (configuration).
        grace: Duration,
        /// Current time (UTC): the period's start.
        now: DateTime<Utc>,
    },
    /// Mark the period overdue if its end has passed (its deadline); nothing otherwise.
    MarkOverdue {
        /// The period.
        period_id: ObjectId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Expire the period if its grace period has passed (its deadline); nothing otherwise.
    Expire {
        /// The period.
        period_id: ObjectId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Make `order_id` the company's pending order; the previous one is superseded.
    SetPendingOrder {
        /// The company (also the stream id).
        company_id: ObjectId,
        /// The new order.
        order_id: ObjectId,
        /// Its payment deadline (UTC).
        expires_at: DateTime<Utc>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Forget `order_id` as the pending order (expired); nothing when it is not the pending one.
    ClearPendingOrder {
        /// The order.
        order_id: ObjectId,
        /// Why.
        reason: PendingEnd,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Give a paid order its effect: start a period (newly, patch), extend it (renewal) or raise
    /// its plan or members (upgrade), re-checking that the order still fits.
    ApplyOrder {
        /// The company (also the stream id).
        company_id: ObjectId,
        /// The order.
        order: PaidOrder,
        /// Grace period after a period's end (configuration).
        grace: Duration,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Schedule a downgrade for the end of the running period.
    ScheduleDegrade {
        /// The company (also the stream id).
        company_id: ObjectId,
        /// A fresh id.
        degrade_id: ObjectId,
        /// The degrade order.
        order_id: ObjectId,
        /// The plan from then on.
        plan: PlanType,
        /// Members from then on.
        member_count: u32,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Cancel the scheduled downgrade (`DELETE /plan/degrade`).
    CancelDegrade {
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Apply the downgrade `degrade_id` if its time has come (its deadline); nothing otherwise.
    ApplyDegrade {
        /// The downgrade.
        degrade_id: ObjectId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`TeamPlan`] (docs/event-catalog.md, "Team plans (seed 004)").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum TeamPlanEvent {
    /// A trial started.
    #[serde(rename = "PlansTrialStarted")]
    TrialStarted {
        /// The company.
        company_id: ObjectId,
        /// The trial.
        trial_id: ObjectId,
        /// The plan tried.
        plan: PlanType,
        /// The owner who started it.
        user_id: ObjectId,
        /// Start (UTC).
        date_start: DateTime<Utc>,
        /// Planned end (UTC).
        date_end: DateTime<Utc>,
    },
    /// A trial ended.
    #[serde(rename = "PlansTrialEnded")]
    TrialEnded {
        /// The company.
        company_id: ObjectId,
        /// The trial.
        trial_id: ObjectId,
        /// `expired` or `superseded`.
        reason: TrialEnd,
        /// When (UTC).
        ended_at: DateTime<Utc>,
    },
    /// A paid period started.
    #[serde(rename = "PlansPaidPeriodStarted")]
    PaidPeriodStarted {
        /// The company.
        company_id: ObjectId,
        /// The period.
        period_id: ObjectId,
        /// The plan bought.
        plan: PlanType,
        /// Members bought.
        member_count: u32,
        /// Calendar months bought.
        months: u32,
        /// Who bought it.
        user_id: ObjectId,
        /// The catalogue version of its price.
        catalogue_version: String,
        /// Start (UTC).
        date_start: DateTime<Utc>,
        /// End (UTC; local midnight in Asia/Shanghai).
        date_end: DateTime<Utc>,
        /// End of the grace period (UTC).
        grace_end: DateTime<Utc>,
    },
    /// A paid period's end passed unpaid: overdue until `grace_end`.
    #[serde(rename = "PlansPaidPeriodOverdue")]
    PaidPeriodOverdue {
        /// The company.
        company_id: ObjectId,
        /// The period.
        period_id: ObjectId,
        /// When it was recorded (UTC).
        overdue_at: DateTime<Utc>,
    },
    /// A paid period's grace period passed: the company is on the free plan.
    #[serde(rename = "PlansPaidPeriodExpired")]
    PaidPeriodExpired {
        /// The company.
        company_id: ObjectId,
        /// The period.
        period_id: ObjectId,
        /// When it was recorded (UTC).
        expired_at: DateTime<Utc>,
    },
    /// A renewal order was paid: the period runs `months` more months (`actived` again).
    #[serde(rename = "PlansPaidPeriodExtended")]
    PaidPeriodExtended {
        /// The company.
        company_id: ObjectId,
        /// The period.
        period_id: ObjectId,
        /// The renewal order.
        order_id: ObjectId,
        /// Months added.
        months: u32,
        /// Months from the period's start to its new end.
        total_months: u32,
        /// The new end (UTC; local midnight in Asia/Shanghai).
        date_end: DateTime<Utc>,
        /// The new end of the grace period (UTC).
        grace_end: DateTime<Utc>,
        /// When (UTC).
        extended_at: DateTime<Utc>,
    },
    /// An upgrade order was paid: the period's plan and members from now to its end.
    #[serde(rename = "PlansPaidPeriodUpgraded")]
    PaidPeriodUpgraded {
        /// The company.
        company_id: ObjectId,
        /// The period.
        period_id: ObjectId,
        /// The upgrade order.
        order_id: ObjectId,
        /// The plan now.
        plan: PlanType,
        /// Members now.
        member_count: u32,
        /// When (UTC).
        upgraded_at: DateTime<Utc>,
    },
    /// An order became the company's pending (unpaid) order.
    #[serde(rename = "PlansPendingOrderSet")]
    PendingOrderSet {
        /// The company.
        company_id: ObjectId,
        /// The order.
        order_id: ObjectId,
        /// Its payment deadline (UTC).
        expires_at: DateTime<Utc>,
    },
    /// The pending order was paid, expired or superseded.
    #[serde(rename = "PlansPendingOrderCleared")]
    PendingOrderCleared {
        /// The company.
        company_id: ObjectId,
        /// The order.
        order_id: ObjectId,
        /// `paid`, `expired` or `superseded`.
        reason: PendingEnd,
        /// When (UTC).
        cleared_at: DateTime<Utc>,
    },
    /// A downgrade was scheduled for the period's end.
    #[serde(rename = "PlansDegradeScheduled")]
    DegradeScheduled {
        /// The company.
        company_id: ObjectId,
        /// The downgrade.
        degrade_id: ObjectId,
        /// The degrade order.
        order_id: ObjectId,
        /// The period it lowers.
        period_id: ObjectId,
        /// The plan from then on.
        plan: PlanType,
        /// Members from then on.
        member_count: u32,
        /// When it applies (UTC; the period's end).
        effective_at: DateTime<Utc>,
        /// When (UTC).
        scheduled_at: DateTime<Utc>,
    },
    /// The scheduled downgrade was cancelled.
    #[serde(rename = "PlansDegradeCancelled")]
    DegradeCancelled {
        /// The company.
        company_id: ObjectId,
        /// The downgrade.
        degrade_id: ObjectId,
        /// The degrade order.
        order_id: ObjectId,
        /// When (UTC).
        cancelled_at: DateTime<Utc>,
    },
    /// The downgrade took effect at the period's end: the period's plan and members are lowered.
    #[serde(rename = "PlansDegradeApplied")]
    DegradeApplied {
        /// The company.
        company_id: ObjectId,
        /// The downgrade.
        degrade_id: ObjectId,
        /// The degrade order.
        order_id: ObjectId,
        /// The period lowered.
        period_id: ObjectId,
        /// The plan now.
        plan: PlanType,
        /// Members now.
        member_count: u32,
        /// When (UTC).
        applied_at: DateTime<Utc>,
    },
}

impl DomainEvent for TeamPlanEvent {}

/// Why a [`TeamPlanCommand`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TeamPlanError {
    /// `free` cannot be tried or bought.
    #[error("only paid plans (pro, ent) can be tried or bought")]
    NotPaidPlan,
    /// The plan was trialled before.
    #[error("the {} plan was trialled already", .0.as_str())]
    AlreadyTrialled(PlanType),
    /// The plan was bought before.
    #[error("the {} plan was bought already", .0.as_str())]
    AlreadyBought(PlanType),
    /// Zero months or members, or a period past the calendar.
    #[error("invalid period: {0}")]
    InvalidPeriod(&'static str),
    /// A paid order no longer fits the team plan (it changed since the order was placed).
    #[error("the order no longer fits the company's plan: {0}")]
    OrderNoLongerFits(&'static str),
    /// A downgrade is scheduled already.
    #[error("a downgrade is scheduled already")]
    DegradeScheduled,
    /// No downgrade is scheduled.
    #[error("no downgrade is scheduled")]
    NoDegrade,
}

impl TeamPlan {
    /// The company, once a trial or period was recorded.
    pub fn company_id(&self) -> Option<&ObjectId> {
        self.company_id.as_ref()
    }

    fn company_or_empty(&self) -> ObjectId {
        self.company_id
            .clone()
            .unwrap_or_else(|| ObjectId::from_parts(0, [0; 8]))
    }
}

impl Decider for TeamPlan {
    const CATEGORY: &'static str = "plansTeamPlan";
    type Command = TeamPlanCommand;
    type Event = TeamPlanEvent;
    type Error = TeamPlanError;

    fn decide(&self, command: &TeamPlanCommand) -> Result<Vec<TeamPlanEvent>, TeamPlanError> {
        match command {
            TeamPlanCommand::StartTrial {
                company_id,
                trial_id,
                plan,
                user_id,
                length,
                now,
            } => {
                if !plan.is_paid() {
                    return Err(TeamPlanError::NotPaidPlan);
                }
                if self.bought().contains(plan) {
                    return Err(TeamPlanError::AlreadyBought(*plan));
                }
                if self.trialled().contains(plan) {
                    return Err(TeamPlanError::AlreadyTrialled(*plan));
                }
                let mut events = Vec::new();
                if let Some(running) = self.active_trial(*now) {
                    events.push(TeamPlanEvent::TrialEnded {
                        company_id: company_id.clone(),
                        trial_id: running.trial_id.clone(),
                        reason: TrialEnd::Superseded,
                        ended_at: *now,
                    });
                }
                events.push(TeamPlanEvent::TrialStarted {
                    company_id: company_id.clone(),
                    trial_id: trial_id.clone(),
                    plan: *plan,
                    user_id: user_id.clone(),
                    date_start: *now,
                    date_end: *now + *length,
                });
                Ok(events)
            }
            TeamPlanCommand::EndTrial { trial_id, now } => {
                let due = self.trials.iter().find(|t| {
                    t.trial_id == *trial_id && t.ended_at.is_none() && *now >= t.date_end
                });
                Ok(match due {
                    Some(_) => vec![TeamPlanEvent::TrialEnded {
                        company_id: self.company_or_empty(),
                        trial_id: trial_id.clone(),
                        reason: TrialEnd::Expired,
                        ended_at: *now,
                    }],
                    None => Vec::new(),
                })
            }
            TeamPlanCommand::StartPaidPeriod {
                company_id,
                period_id,
                plan,
                member_count,
                months,
                user_id,
                catalogue_version,
                grace,
                now,
            } => {
                if !plan.is_paid() {
                    return Err(TeamPlanError::NotPaidPlan);
                }
                if *member_count == 0 || *months == 0 {
                    return Err(TeamPlanError::InvalidPeriod(
                        "members and months must be at least 1",
                    ));
                }
                let date_end = period::period_end(*now, *months)
                    .ok_or(TeamPlanError::InvalidPeriod("past the calendar"))?;
                Ok(vec![TeamPlanEvent::PaidPeriodStarted {
                    company_id: company_id.clone(),
                    period_id: period_id.clone(),
                    plan: *plan,
                    member_count: *member_count,
                    months: *months,
                    user_id: user_id.clone(),
                    catalogue_version: catalogue_version.clone(),
                    date_start: *now,
                    date_end,
                    grace_end: date_end + *grace,
                }])
            }
            TeamPlanCommand::MarkOverdue { period_id, now } => {
                let due = self.paid.iter().find(|p| {
                    p.period_id == *period_id
                        && p.status == PlanStatus::Actived
                        && *now >= p.date_end
                        && *now < p.grace_end
                });
                Ok(match due {
                    Some(_) => vec![TeamPlanEvent::PaidPeriodOverdue {
                        company_id: self.company_or_empty(),
                        period_id: period_id.clone(),
                        overdue_at: *now,
                    }],
                    None => Vec::new(),
                })
            }
            TeamPlanCommand::Expire { period_id, now } => {
                let due = self.paid.iter().find(|p| {
                    p.period_id == *period_id
                        && p.status != PlanStatus::Expired
                        && *now >= p.grace_end
                });
                Ok(match due {
                    Some(_) => vec![TeamPlanEvent::PaidPeriodExpired {
                        company_id: self.company_or_empty(),
                        period_id: period_id.clone(),
                        expired_at: *now,
                    }],
                    None => Vec::new(),
                })
            }
            TeamPlanCommand::SetPendingOrder {
                company_id,
                order_id,
                expires_at,
                now,
            } => {
                let mut events = Vec::new();
                if let Some((previous, _)) = &self.pending_order {
                    events.push(TeamPlanEvent::PendingOrderCleared {
                        company_id: company_id.clone(),
                        order_id: previous.clone(),
                        reason: PendingEnd::Superseded,
                        cleared_at: *now,
                    });
                }
                events.push(TeamPlanEvent::PendingOrderSet {
                    company_id: company_id.clone(),
                    order_id: order_id.clone(),
                    expires_at: *expires_at,
                });
                Ok(events)
            }
            TeamPlanCommand::ClearPendingOrder {
                order_id,
                reason,
                now,
            } => Ok(self.clear_pending(order_id, *reason, *now)),
            TeamPlanCommand::ApplyOrder {
                company_id,
                order,
                grace,
                now,
            } => self.apply_order(company_id, order, *grace, *now),
            TeamPlanCommand::ScheduleDegrade {
                company_id,
                degrade_id,
                order_id,
                plan,
                member_count,
                now,
            } => {
                if self.degrade.is_some() {
                    return Err(TeamPlanError::DegradeScheduled);
                }
                let period = self
                    .period_in_force(*now)
                    .filter(|p| Self::status_at(p, *now) == PlanStatus::Actived)
                    .ok_or(TeamPlanError::OrderNoLongerFits(
                        "a degrade needs a running (actived) paid period",
                    ))?;
                Ok(vec![TeamPlanEvent::DegradeScheduled {
                    company_id: company_id.clone(),
                    degrade_id: degrade_id.clone(),
                    order_id: order_id.clone(),
                    period_id: period.period_id.clone(),
                    plan: *plan,
                    member_count: *member_count,
                    effective_at: period.date_end,
                    scheduled_at: *now,
                }])
            }
            TeamPlanCommand::CancelDegrade { now } => {
                let d = self.degrade.as_ref().ok_or(TeamPlanError::NoDegrade)?;
                Ok(vec![TeamPlanEvent::DegradeCancelled {
                    company_id: self.company_or_empty(),
                    degrade_id: d.degrade_id.clone(),
                    order_id: d.order_id.clone(),
                    cancelled_at: *now,
                }])
            }
            TeamPlanCommand::ApplyDegrade { degrade_id, now } => Ok(match &self.degrade {
                Some(d) if d.degrade_id == *degrade_id && *now >= d.effective_at => {
                    vec![TeamPlanEvent::DegradeApplied {
                        company_id: self.company_or_empty(),
                        degrade_id: d.degrade_id.clone(),
                        order_id: d.order_id.clone(),
                        period_id: d.period_id.clone(),
                        plan: d.plan,
                        member_count: d.member_count,
                        applied_at: *now,
                    }]
                }
                _ => Vec::new(),
            }),
        }
    }

    fn evolve(mut self, event: &TeamPlanEvent) -> Self {
        match event {
            TeamPlanEvent::TrialStarted {
                trial_id,
                plan,
                user_id,
                date_start,
                date_end,
                company_id,
            } => {
                self.company_id = Some(company_id.clone());
                self.trials.push(Trial {
                    trial_id: trial_id.clone(),
                    plan: *plan,
                    user_id: user_id.clone(),
                    date_start: *date_start,
                    date_end: *date_end,
                    ended_at: None,
                });
            }
            TeamPlanEvent::TrialEnded {
                trial_id, ended_at, ..
            } => {
                if let Some(t) = self.trials.iter_mut().find(|t| t.trial_id == *trial_id) {
                    t.ended_at = Some(*ended_at);
                }
            }
            TeamPlanEvent::PaidPeriodStarted {
                company_id,
                period_id,
                plan,
                member_count,
                months,
                user_id,
                catalogue_version,
                date_start,
                date_end,
                grace_end,
            } => {
                self.company_id = Some(company_id.clone());
                self.paid.push(PaidPeriod {
                    period_id: period_id.clone(),
                    plan: *plan,
                    member_count: *member_count,
                    months: *months,
                    user_id: user_id.clone(),
                    date_start: *date_start,
                    date_end: *date_end,
                    grace_end: *grace_end,
                    status: PlanStatus::Actived,
                    catalogue_version: catalogue_version.clone(),
                });
            }
            TeamPlanEvent::PaidPeriodOverdue { period_id, .. } => {
                if let Some(p) = self.paid.iter_mut().find(|p| p.period_id == *period_id) {
                    p.status = PlanStatus::Overdue;
                }
            }
            TeamPlanEvent::PaidPeriodExpired { period_id, .. } => {
                if let Some(p) = self.paid.iter_mut().find(|p| p.period_id == *period_id) {
                    p.status = PlanStatus::Expired;
                }
            }
            TeamPlanEvent::PaidPeriodExtended {
                period_id,
                total_months,
                date_end,
                grace_end,
                ..
            } => {
                if let Some(p) = self.paid.iter_mut().find(|p| p.period_id == *period_id) {
                    p.months = *total_months;
                    p.date_end = *date_end;
                    p.grace_end = *grace_end;
                    p.status = PlanStatus::Actived;
                }
            }
            TeamPlanEvent::PaidPeriodUpgraded {
                period_id,
                plan,
                member_count,
                ..
            } => {
                self.upgraded_to.insert(*plan);
                if let Some(p) = self.paid.iter_mut().find(|p| p.period_id == *period_id) {
                    p.plan = *plan;
                    p.member_count = *member_count;
                }
            }
            TeamPlanEvent::PendingOrderSet {
                company_id,
                order_id,
                expires_at,
            } => {
                self.company_id = Some(company_id.clone());
                self.pending_order = Some((order_id.clone(), *expires_at));
            }
            TeamPlanEvent::PendingOrderCleared { order_id, .. } => {
                if self
                    .pending_order
                    .as_ref()
                    .is_some_and(|(o, _)| o == order_id)
                {
                    self.pending_order = None;
                }
            }
            TeamPlanEvent::DegradeScheduled {
                company_id,
                degrade_id,
                order_id,
                period_id,
                plan,
                member_count,
                effective_at,
                scheduled_at,
            } => {
                self.company_id = Some(company_id.clone());
                self.degrade = Some(ScheduledDegrade {
                    degrade_id: degrade_id.clone(),
                    order_id: order_id.clone(),
                    period_id: period_id.clone(),
                    plan: *plan,
                    member_count: *member_count,
                    effective_at: *effective_at,
                    scheduled_at: *scheduled_at,
                });
            }
            TeamPlanEvent::DegradeCancelled { .. } => self.degrade = None,
            TeamPlanEvent::DegradeApplied {
                period_id,
                plan,
                member_count,
                ..
            } => {
                self.degrade = None;
                if let Some(p) = self.paid.iter_mut().find(|p| p.period_id == *period_id) {
                    p.plan = *plan;
                    p.member_count = *member_count;
                }
            }
        }
        self
    }
}

impl TeamPlan {
    fn clear_pending(
        &self,
        order_id: &ObjectId,
        reason: PendingEnd,
        now: DateTime<Utc>,
    ) -> Vec<TeamPlanEvent> {
        match &self.pending_order {
            Some((pending, _)) if pending == order_id => vec![TeamPlanEvent::PendingOrderCleared {
                company_id: self.company_or_empty(),
                order_id: order_id.clone(),
                reason,
                cleared_at: now,
            }],
            _ => Vec::new(),
        }
    }

    /// The effect of a paid order, re-checked against the plan as it is now.
    fn apply_order(
        &self,
        company_id: &ObjectId,
        order: &PaidOrder,
        grace: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<TeamPlanEvent>, TeamPlanError> {
        use super::order::OrderType;
        if !order.plan.is_paid() {
            return Err(TeamPlanError::NotPaidPlan);
        }
        let in_force = self.period_in_force(now);
        let same_period = |p: &&PaidPeriod| order.period_id.as_ref() == Some(&p.period_id);
        let mut events = match order.order_type {
            OrderType::Newly | OrderType::Patch => {
                if in_force.is_some() {
                    return Err(TeamPlanError::OrderNoLongerFits(
                        "a paid period is running already",
                    ));
                }
                if order.order_type == OrderType::Patch {
                    let fits = self.latest_paid().is_some_and(|p| {
                        p.plan == order.plan && p.member_count == order.member_count
                    });
                    if !fits {
                        return Err(TeamPlanError::OrderNoLongerFits(
                            "a patch repeats the expired plan and members",
                        ));
                    }
                }
                if order.member_count == 0 || order.months == 0 {
                    return Err(TeamPlanError::InvalidPeriod(
                        "members and months must be at least 1",
                    ));
                }
                let date_end = period::period_end(now, order.months)
                    .ok_or(TeamPlanError::InvalidPeriod("past the calendar"))?;
                // A running trial ends: the company now has the plan it paid for.
                let mut events: Vec<TeamPlanEvent> = self
                    .active_trial(now)
                    .map(|t| TeamPlanEvent::TrialEnded {
                        company_id: company_id.clone(),
                        trial_id: t.trial_id.clone(),
                        reason: TrialEnd::Purchased,
                        ended_at: now,
                    })
                    .into_iter()
                    .collect();
                events.push(TeamPlanEvent::PaidPeriodStarted {
                    company_id: company_id.clone(),
                    period_id: order.new_period_id.clone(),
                    plan: order.plan,
                    member_count: order.member_count,
                    months: order.months,
                    user_id: order.user_id.clone(),
                    catalogue_version: order.catalogue_version.clone(),
                    date_start: now,
                    date_end,
                    grace_end: date_end + grace,
                });
                events
            }
            OrderType::Renewal => {
                let p = in_force
                    .filter(same_period)
                    .ok_or(TeamPlanError::OrderNoLongerFits(
                        "the period renewed is not in force",
                    ))?;
                if p.plan != order.plan || p.member_count != order.member_count {
                    return Err(TeamPlanError::OrderNoLongerFits(
                        "the period's plan or members changed",
                    ));
                }
                let total = p
                    .months
                    .checked_add(order.months)
                    .ok_or(TeamPlanError::InvalidPeriod("too many months"))?;
                let date_end = period::period_end(p.date_start, total)
                    .ok_or(TeamPlanError::InvalidPeriod("past the calendar"))?;
                vec![TeamPlanEvent::PaidPeriodExtended {
                    company_id: company_id.clone(),
                    period_id: p.period_id.clone(),
                    order_id: order.order_id.clone(),
                    months: order.months,
                    total_months: total,
                    date_end,
                    grace_end: date_end + grace,
                    extended_at: now,
                }]
            }
            OrderType::Upgrade => {
                let p = in_force
                    .filter(same_period)
                    .filter(|p| Self::status_at(p, now) == PlanStatus::Actived)
                    .ok_or(TeamPlanError::OrderNoLongerFits(
                        "the period upgraded is not running",
                    ))?;
                if order.from != Some((p.plan, p.member_count)) {
                    return Err(TeamPlanError::OrderNoLongerFits(
                        "the period's plan or members changed",
                    ));
                }
                vec![TeamPlanEvent::PaidPeriodUpgraded {
                    company_id: company_id.clone(),
                    period_id: p.period_id.clone(),
                    order_id: order.order_id.clone(),
                    plan: order.plan,
                    member_count: order.member_count,
                    upgraded_at: now,
                }]
            }
            OrderType::Degrade => {
                return Err(TeamPlanError::OrderNoLongerFits(
                    "a degrade is scheduled, not paid",
                ));
            }
        };
        events.extend(self.clear_pending(&order.order_id, PendingEnd::Paid, now));
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;
    use chrono::TimeZone;

    fn oid(n: u8) -> ObjectId {
        ObjectId::from_parts(1, [n; 8])
    }

    fn t(days: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 10, 4, 0, 0).single().unwrap() + Duration::days(days)
    }

    fn start(n: u8, plan: PlanType, now: DateTime<Utc>) -> TeamPlanCommand {
        TeamPlanCommand::StartTrial {
            company_id: oid(0),
            trial_id: oid(n),
            plan,
            user_id: oid(9),
            length: Duration::days(15),
            now,
        }
    }

    fn started(n: u8, plan: PlanType, now: DateTime<Utc>) -> TeamPlanEvent {
        TeamPlanEvent::TrialStarted {
            company_id: oid(0),
            trial_id: oid(n),
            plan,
            user_id: oid(9),
            date_start: now,
            date_end: now + Duration::days(15),
        }
    }

    fn paid(now: DateTime<Utc>) -> TeamPlanEvent {
        TeamPlanEvent::PaidPeriodStarted {
            company_id: oid(0),
            period_id: oid(50),
            plan: PlanType::Pro,
            member_count: 20,
            months: 1,
            user_id: oid(9),
            catalogue_version: "v1".into(),
            date_start: now,
            date_end: period::period_end(now, 1).unwrap(),
            grace_end: period::period_end(now, 1).unwrap() + Duration::days(7),
        }
    }

    #[test]
    fn a_plan_is_tried_once_and_never_after_buying_it() {
        given::<TeamPlan>([])
            .when(start(1, PlanType::Pro, t(0)))
            .then([started(1, PlanType::Pro, t(0))]);
        given::<TeamPlan>([started(1, PlanType::Pro, t(0))])
            .when(start(2, PlanType::Pro, t(30)))
            .then_err(TeamPlanError::AlreadyTrialled(PlanType::Pro));
        given::<TeamPlan>([paid(t(0))])
            .when(start(2, PlanType::Pro, t(1)))
            .then_err(TeamPlanError::AlreadyBought(PlanType::Pro));
        given::<TeamPlan>([])
            .when(start(1, PlanType::Free, t(0)))
            .then_err(TeamPlanError::NotPaidPlan);
    }

    #[test]
    fn a_trial_over_a_trial_ends_the_first() {
        given::<TeamPlan>([started(1, PlanType::Pro, t(0))])
            .when(start(2, PlanType::Ent, t(3)))
            .then([
                TeamPlanEvent::TrialEnded {
                    company_id: oid(0),
                    trial_id: oid(1),
                    reason: TrialEnd::Superseded,
                    ended_at: t(3),
                },
                started(2, PlanType::Ent, t(3)),
            ]);
        // Over an expired (not yet ended by its deadline) trial: nothing to supersede.
        given::<TeamPlan>([started(1, PlanType::Pro, t(0))])
            .when(start(2, PlanType::Ent, t(20)))
            .then([started(2, PlanType::Ent, t(20))]);
    }

    #[test]
    fn a_trial_over_a_paid_period_pauses_nothing_and_the_paid_plan_resumes() {
        let history = [paid(t(0)), started(1, PlanType::Ent, t(2))];
        let state = TeamPlan::replay(&history);
        let period_end = state.latest_paid().unwrap().date_end;
        assert_eq!(state.effective(t(3)), (PlanType::Ent, None));
        // The trial ends (deadline): pro is current again, its end never moved.
        let ended = state
            .decide(&TeamPlanCommand::EndTrial {
                trial_id: oid(1),
                now: t(17),
            })
            .unwrap();
        assert_eq!(ended.len(), 1);
        let state = ended.iter().fold(state, |s, e| s.evolve(e));
        assert_eq!(state.effective(t(17)), (PlanType::Pro, Some(20)));
        assert_eq!(state.latest_paid().unwrap().date_end, period_end);
        // Even before the deadline fires, the clock alone says the same.
        let unfired = TeamPlan::replay(&history);
        assert_eq!(unfired.effective(t(17)), (PlanType::Pro, Some(20)));
        assert_eq!(unfired.viable_trials(), Vec::<PlanType>::new());
    }

    #[test]
    fn ending_a_trial_is_idempotent_and_waits_for_its_end() {
        let given_started = || given::<TeamPlan>([started(1, PlanType::Pro, t(0))]);
        given_started()
            .when(TeamPlanCommand::EndTrial {
                trial_id: oid(1),
                now: t(14),
            })
            .then([]);
        let ended = TeamPlanEvent::TrialEnded {
            company_id: oid(0),
            trial_id: oid(1),
            reason: TrialEnd::Expired,
            ended_at: t(15),
        };
        given_started()
            .when(TeamPlanCommand::EndTrial {
                trial_id: oid(1),
                now: t(15),
            })
            .then([ended.clone()]);
        given::<TeamPlan>([started(1, PlanType::Pro, t(0)), ended])
            .when(TeamPlanCommand::EndTrial {
                trial_id: oid(1),
                now: t(16),
            })
            .then([]);
    }

    #[test]
    fn a_paid_period_goes_actived_overdue_expired() {
        let p = paid(t(0));
        let TeamPlanEvent::PaidPeriodStarted {
            date_end,
            grace_end,
            ..
        } = p.clone()
        else {
            unreachable!()
        };
        // Bought 10 Jan 12:00 Shanghai: runs through 10 Feb, ends 11 Feb 00:00 local.
        assert_eq!(
            date_end,
            Utc.with_ymd_and_hms(2025, 2, 10, 16, 0, 0)
                .single()
                .unwrap()
        );
        let state = TeamPlan::replay([&p]);
        let period = state.latest_paid().unwrap();
        assert_eq!(
            TeamPlan::status_at(period, date_end - Duration::seconds(1)),
            PlanStatus::Actived
        );
        assert_eq!(TeamPlan::status_at(period, date_end), PlanStatus::Overdue);
        assert_eq!(TeamPlan::status_at(period, grace_end), PlanStatus::Expired);
        assert_eq!(state.effective(date_end), (PlanType::Pro, Some(20)));
        assert_eq!(state.effective(grace_end), (PlanType::Free, None));

        let overdue = |now| TeamPlanCommand::MarkOverdue {
            period_id: oid(50),
            now,
        };
        let expire = |now| TeamPlanCommand::Expire {
            period_id: oid(50),
            now,
        };
        given::<TeamPlan>([p.clone()])
            .when(overdue(date_end - Duration::seconds(1)))
            .then([]);
        let marked = TeamPlanEvent::PaidPeriodOverdue {
            company_id: oid(0),
            period_id: oid(50),
            overdue_at: date_end,
        };
        given::<TeamPlan>([p.clone()])
            .when(overdue(date_end))
            .then([marked.clone()]);
        given::<TeamPlan>([p.clone(), marked.clone()])
            .when(overdue(date_end))
            .then([]);
        given::<TeamPlan>([p.clone(), marked.clone()])
            .when(expire(date_end))
            .then([]);
        let expired = TeamPlanEvent::PaidPeriodExpired {
            company_id: oid(0),
            period_id: oid(50),
            expired_at: grace_end,
        };
        given::<TeamPlan>([p.clone(), marked.clone()])
            .when(expire(grace_end))
            .then([expired.clone()]);
        given::<TeamPlan>([p, marked, expired])
            .when(expire(grace_end))
            .then([]);
    }
}
