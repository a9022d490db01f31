//! Projector `plans_certifications`: `plans_certifications` (one row per application, personal
//! data masked) and `plans_certification_log` (its review steps), from the `plansCertification`
//! streams (docs/read-models.md, "Team plans: certification").

use crate::db::ProjectionTx;
use crate::execute;
use crate::projector::{ProjectionError, Projector, parse};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use tessera_application::RecordedEvent;
use tessera_domain::Decider;
use tessera_domain::plans::certification::{Certification, mask_contact};

/// Writes `plans_certifications` and `plans_certification_log`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CertificationsProjector;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Submitted {
    auth_id: String,
    company_id: String,
    plan: String,
    user_id: String,
    #[serde(default)]
    contact: Value,
    #[serde(default)]
    team: Value,
    #[serde(default)]
    enterprise: Value,
    submitted_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Resubmitted {
    auth_id: String,
    user_id: String,
    #[serde(default)]
    contact: Value,
    #[serde(default)]
    team: Value,
    #[serde(default)]
    enterprise: Value,
    resubmitted_at: DateTime<Utc>,
}

/// The fields every other step has (`userId`, `adminId` or `supersededBy` say who).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Step {
    auth_id: String,
    user_id: Option<String>,
    admin_id: Option<String>,
    superseded_by: Option<String>,
    reason: Option<String>,
    cancelled_at: Option<DateTime<Utc>>,
    accepted_at: Option<DateTime<Utc>>,
    rejected_at: Option<DateTime<Utc>>,
    expired_at: Option<DateTime<Utc>>,
}

async fn log(
    tx: &mut ProjectionTx,
    auth_id: &str,
    action: &str,
    by: &str,
    reason: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), ProjectionError> {
    execute!(
        &mut *tx,
        sqlx::query(
            "INSERT INTO plans_certification_log (auth_id, seq, action, by_id, reason, at) \
             SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 \
             FROM plans_certification_log WHERE auth_id = $6",
        )
        .bind(auth_id)
        .bind(action)
        .bind(by)
        .bind(reason)
        .bind(at)
        .bind(auth_id)
    )?;
    Ok(())
}

fn json_text(v: &Value) -> String {
    v.to_string()
}

#[async_trait]
impl Projector for CertificationsProjector {
    fn name(&self) -> &'static str {
        "plans_certifications"
    }

    fn version(&self) -> u32 {
        1
    }

    fn categories(&self) -> &'static [&'static str] {
        &[Certification::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &[
            "PlansCertificationSubmitted",
            "PlansCertificationResubmitted",
            "PlansCertificationCancelled",
            "PlansCertificationAccepted",
            "PlansCertificationRejected",
            "PlansCertificationExpired",
        ]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(&mut *tx, sqlx::query("DELETE FROM plans_certification_log"))?;
        execute!(&mut *tx, sqlx::query("DELETE FROM plans_certifications"))?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        let at = event.recorded_at;
        match event.event_type.as_str() {
            "PlansCertificationSubmitted" => {
                let d: Submitted = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "INSERT INTO plans_certifications (auth_id, company_id, plan, user_id, \
                         status, date_apply, versions, contact_masked, team, enterprise, \
                         updated_at) VALUES ($1, $2, $3, $4, 'posted', $5, 1, $6, $7, $8, $9) \
                         ON CONFLICT (auth_id) DO NOTHING",
                    )
                    .bind(&d.auth_id)
                    .bind(&d.company_id)
                    .bind(&d.plan)
                    .bind(&d.user_id)
                    .bind(d.submitted_at)
                    .bind(json_text(&mask_contact(&d.contact)))
                    .bind(json_text(&d.team))
                    .bind(json_text(&d.enterprise))
                    .bind(at)
                )?;
                log(tx, &d.auth_id, "posted", &d.user_id, None, d.submitted_at).await?;
            }
            "PlansCertificationResubmitted" => {
                let d: Resubmitted = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE plans_certifications SET status = 'reposted', \
                         versions = versions + 1, contact_masked = $1, team = $2, \
                         enterprise = $3, updated_at = $4 WHERE auth_id = $5",
                    )
                    .bind(json_text(&mask_contact(&d.contact)))
                    .bind(json_text(&d.team))
                    .bind(json_text(&d.enterprise))
                    .bind(at)
                    .bind(&d.auth_id)
                )?;
                log(
                    tx,
                    &d.auth_id,
                    "reposted",
                    &d.user_id,
                    None,
                    d.resubmitted_at,
                )
                .await?;
            }
            t => {
                let d: Step = parse(event)?;
                let (status, when) = match t {
                    "PlansCertificationCancelled" => ("cancelled", d.cancelled_at),
                    "PlansCertificationAccepted" => ("accepted", d.accepted_at),
                    "PlansCertificationRejected" => ("rejected", d.rejected_at),
                    _ => ("expired", d.expired_at),
                };
                let by = d
                    .user_id
                    .or(d.admin_id)
                    .or(d.superseded_by)
                    .unwrap_or_default();
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE plans_certifications SET status = $1, updated_at = $2 \
                         WHERE auth_id = $3",
                    )
                    .bind(status)
                    .bind(at)
                    .bind(&d.auth_id)
                )?;
                log(
                    tx,
                    &d.auth_id,
                    status,
                    &by,
                    d.reason.as_deref(),
                    when.unwrap_or(at),
                )
                .await?;
            }
        }
        Ok(())
    }
}
