//! Projector `plans_companies`: `plans_companies` and `plans_members` (docs/read-models.md, "Team
//! plans (seed 004)").

use crate::db::ProjectionTx;
use crate::execute;
use crate::projector::{ProjectionError, Projector, parse};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tessera_application::RecordedEvent;
use tessera_domain::Decider;
use tessera_domain::plans::company::Company;

/// Writes one row per company and one per current member, from the `plansCompany` streams.
#[derive(Debug, Clone, Copy, Default)]
pub struct CompaniesProjector;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    company_id: String,
    name: String,
    owner_id: String,
    owner_account: String,
    created_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MemberAdded {
    user_id: String,
    account_id: String,
    role: String,
    added_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MemberRemoved {
    user_id: String,
}

/// The company id of a `plansCompany-{id}` stream.
fn company_of(event: &RecordedEvent) -> String {
    event
        .stream_id
        .as_str()
        .split_once('-')
        .map_or("", |(_, id)| id)
        .to_owned()
}

async fn add_member(
    tx: &mut ProjectionTx,
    company: &str,
    user: &str,
    account: &str,
    role: &str,
    at: DateTime<Utc>,
) -> Result<(), ProjectionError> {
    execute!(
        &mut *tx,
        sqlx::query(
            "INSERT INTO plans_members (company_id, user_id, account_id, role, joined_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (company_id, user_id) DO UPDATE SET \
             account_id = excluded.account_id, role = excluded.role, joined_at = excluded.joined_at",
        )
        .bind(company)
        .bind(user)
        .bind(account)
        .bind(role)
        .bind(at)
    )?;
    Ok(())
}

#[async_trait]
impl Projector for CompaniesProjector {
    fn name(&self) -> &'static str {
        "plans_companies"
    }

    fn version(&self) -> u32 {
        1
    }

    fn categories(&self) -> &'static [&'static str] {
        &[Company::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &[
            "PlansCompanyCreated",
            "PlansMemberAdded",
            "PlansMemberRemoved",
        ]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(&mut *tx, sqlx::query("DELETE FROM plans_members"))?;
        execute!(&mut *tx, sqlx::query("DELETE FROM plans_companies"))?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        match event.event_type.as_str() {
            "PlansCompanyCreated" => {
                let d: Created = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "INSERT INTO plans_companies (company_id, name, owner_id, created_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (company_id) DO NOTHING",
                    )
                    .bind(&d.company_id)
                    .bind(&d.name)
                    .bind(&d.owner_id)
                    .bind(d.created_at)
                )?;
                add_member(
                    tx,
                    &d.company_id,
                    &d.owner_id,
                    &d.owner_account,
                    "owner",
                    d.created_at,
                )
                .await?;
            }
            "PlansMemberAdded" => {
                let d: MemberAdded = parse(event)?;
                let company = company_of(event);
                add_member(tx, &company, &d.user_id, &d.account_id, &d.role, d.added_at).await?;
            }
            "PlansMemberRemoved" => {
                let d: MemberRemoved = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query("DELETE FROM plans_members WHERE company_id = $1 AND user_id = $2")
                        .bind(company_of(event))
                        .bind(&d.user_id)
                )?;
            }
            _ => {}
        }
        Ok(())
    }
}
