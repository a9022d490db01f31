//! Projector `plans_status`: one `plans_status` row per company with a trial or a paid period
//! (docs/read-models.md, "Team plans (seed 004)").

use crate::db::ProjectionTx;
use crate::execute;
use crate::projector::{ProjectionError, Projector, bad_event, parse};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tessera_application::RecordedEvent;
use tessera_domain::Decider;
use tessera_domain::plans::team_plan::TeamPlan;

/// Writes `plans_status` from the `plansTeamPlan` streams.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatusProjector;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrialStarted {
    company_id: String,
    trial_id: String,
    plan: String,
    user_id: String,
    date_start: DateTime<Utc>,
    date_end: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrialEnded {
    company_id: String,
    trial_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PeriodStarted {
    company_id: String,
    period_id: String,
    plan: String,
    member_count: u32,
    user_id: String,
    date_start: DateTime<Utc>,
    date_end: DateTime<Utc>,
    grace_end: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PeriodChanged {
    company_id: String,
    period_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PeriodExtended {
    company_id: String,
    period_id: String,
    date_end: DateTime<Utc>,
    grace_end: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PeriodChangedTerms {
    company_id: String,
    period_id: String,
    plan: String,
    member_count: u32,
}

async fn ensure(
    tx: &mut ProjectionTx,
    company: &str,
    at: DateTime<Utc>,
) -> Result<(), ProjectionError> {
    execute!(
        &mut *tx,
        sqlx::query(
            "INSERT INTO plans_status (company_id, updated_at) VALUES ($1, $2) \
             ON CONFLICT (company_id) DO NOTHING",
        )
        .bind(company)
        .bind(at)
    )?;
    Ok(())
}

#[async_trait]
impl Projector for StatusProjector {
    fn name(&self) -> &'static str {
        "plans_status"
    }

    fn version(&self) -> u32 {
        1
    }

    fn categories(&self) -> &'static [&'static str] {
        &[TeamPlan::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &[
            "PlansTrialStarted",
            "PlansTrialEnded",
            "PlansPaidPeriodStarted",
            "PlansPaidPeriodOverdue",
            "PlansPaidPeriodExpired",
            "PlansPaidPeriodExtended",
            "PlansPaidPeriodUpgraded",
            "PlansDegradeApplied",
        ]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(&mut *tx, sqlx::query("DELETE FROM plans_status"))?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        let at = event.recorded_at;
        match event.event_type.as_str() {
            "PlansTrialStarted" => {
                let d: TrialStarted = parse(event)?;
                let flag = match d.plan.as_str() {
                    "pro" => "trialled_pro",
                    "ent" => "trialled_ent",
                    other => return Err(bad_event(event, format!("unknown plan {other}"))),
                };
                ensure(tx, &d.company_id, at).await?;
                let sql = sqlx::AssertSqlSafe(format!(
                    "UPDATE plans_status SET trial_id = $1, trial_plan = $2, trial_user_id = $3, \
                     trial_start = $4, trial_end = $5, {flag} = TRUE, updated_at = $6 \
                     WHERE company_id = $7"
                ));
                execute!(
                    &mut *tx,
                    sqlx::query(sql)
                        .bind(&d.trial_id)
                        .bind(&d.plan)
                        .bind(&d.user_id)
                        .bind(d.date_start)
                        .bind(d.date_end)
                        .bind(at)
                        .bind(&d.company_id)
                )?;
            }
            "PlansTrialEnded" => {
                let d: TrialEnded = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE plans_status SET trial_id = NULL, trial_plan = NULL, \
                         trial_user_id = NULL, trial_start = NULL, trial_end = NULL, \
                         updated_at = $1 WHERE company_id = $2 AND trial_id = $3",
                    )
                    .bind(at)
                    .bind(&d.company_id)
                    .bind(&d.trial_id)
                )?;
            }
            "PlansPaidPeriodStarted" => {
                let d: PeriodStarted = parse(event)?;
                let flag = match d.plan.as_str() {
                    "pro" => "bought_pro",
                    "ent" => "bought_ent",
                    other => return Err(bad_event(event, format!("unknown plan {other}"))),
                };
                ensure(tx, &d.company_id, at).await?;
                let sql = sqlx::AssertSqlSafe(format!(
                    "UPDATE plans_status SET paid_id = $1, paid_plan = $2, paid_user_id = $3, \
                     paid_members = $4, paid_start = $5, paid_end = $6, paid_grace_end = $7, \
                     paid_status = 'actived', {flag} = TRUE, updated_at = $8 WHERE company_id = $9"
                ));
                execute!(
                    &mut *tx,
                    sqlx::query(sql)
                        .bind(&d.period_id)
                        .bind(&d.plan)
                        .bind(&d.user_id)
                        .bind(i64::from(d.member_count))
                        .bind(d.date_start)
                        .bind(d.date_end)
                        .bind(d.grace_end)
                        .bind(at)
                        .bind(&d.company_id)
                )?;
            }
            t @ ("PlansPaidPeriodOverdue" | "PlansPaidPeriodExpired") => {
                let d: PeriodChanged = parse(event)?;
                let status = if t == "PlansPaidPeriodOverdue" {
                    "overdue"
                } else {
                    "expired"
                };
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE plans_status SET paid_status = $1, updated_at = $2 \
                         WHERE company_id = $3 AND paid_id = $4",
                    )
                    .bind(status)
                    .bind(at)
                    .bind(&d.company_id)
                    .bind(&d.period_id)
                )?;
            }
            "PlansPaidPeriodExtended" => {
                let d: PeriodExtended = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE plans_status SET paid_end = $1, paid_grace_end = $2,                          paid_status = 'actived', updated_at = $3                          WHERE company_id = $4 AND paid_id = $5",
                    )
                    .bind(d.date_end)
                    .bind(d.grace_end)
                    .bind(at)
                    .bind(&d.company_id)
                    .bind(&d.period_id)
                )?;
            }
            "PlansPaidPeriodUpgraded" | "PlansDegradeApplied" => {
                let d: PeriodChangedTerms = parse(event)?;
                let flag = match d.plan.as_str() {
                    "pro" => "bought_pro",
                    "ent" => "bought_ent",
                    other => return Err(bad_event(event, format!("unknown plan {other}"))),
                };
                // A degrade does not count as buying the lower plan.
                let bought = if event.event_type == "PlansPaidPeriodUpgraded" {
                    format!(", {flag} = TRUE")
                } else {
                    String::new()
                };
                let sql = sqlx::AssertSqlSafe(format!(
                    "UPDATE plans_status SET paid_plan = $1, paid_members = $2{bought},                      updated_at = $3 WHERE company_id = $4 AND paid_id = $5"
                ));
                execute!(
                    &mut *tx,
                    sqlx::query(sql)
                        .bind(&d.plan)
                        .bind(i64::from(d.member_count))
                        .bind(at)
                        .bind(&d.company_id)
                        .bind(&d.period_id)
                )?;
            }
            _ => {}
        }
        Ok(())
    }
}
