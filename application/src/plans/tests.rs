//! Given/when/then for team plans on the in-memory store with a clock the test moves: the durable
//! deadlines of trials and paid periods fire through the scheduler (trial end, `actived` →
//! `overdue` → `expired`), only when due, and a second firing changes nothing; the member limit
//! follows the plan in force.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{PlansService, PlansSettings, deadline_handlers};
use crate::clock::Clock;
use crate::command::CommandRunner;
use crate::deadlines::DeadlineScheduler;
use crate::event_store::EventMetadata;
use crate::identity::{
    AccessClaims, AccessTokens, IdentityError, IdentityService, IssuedToken, PasswordHasher,
    Secrets, TokenError,
};
use crate::in_memory::InMemoryEventStore;
use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};
use tessera_domain::UserId;
use tessera_domain::identity::Role;
use tessera_domain::plans::team_plan::{PlanStatus, TeamPlan};
use tessera_domain::plans::{ObjectId, PlanType};
use uuid::Uuid;

struct TestClock(Mutex<DateTime<Utc>>);

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// The identity ports the plans use cases never reach in these tests.
struct Unused;

impl PasswordHasher for Unused {
    fn hash(&self, _: &str) -> Result<String, IdentityError> {
        Ok(String::new())
    }
    fn verify(&self, _: &str, _: &str) -> bool {
        false
    }
}

impl AccessTokens for Unused {
    fn issue(
        &self,
        _: UserId,
        _: &[Role],
        _: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, IdentityError> {
        Ok(IssuedToken {
            token: String::new(),
            expires_at: now,
            expires_in_secs: 0,
        })
    }
    fn verify(&self, _: &str, _: DateTime<Utc>) -> Result<AccessClaims, TokenError> {
        Err(TokenError::Malformed)
    }
}

impl Secrets for Unused {
    fn new_refresh_token(&self) -> Result<String, IdentityError> {
        Ok(String::new())
    }
    fn digest(&self, token: &str) -> String {
        token.to_owned()
    }
}

struct World {
    store: Arc<InMemoryEventStore>,
    clock: Arc<TestClock>,
    service: Arc<PlansService>,
}

impl World {
    fn new() -> Self {
        let store = Arc::new(InMemoryEventStore::new());
        let clock = Arc::new(TestClock(Mutex::new(
            "2025-01-31T02:00:00Z".parse().unwrap(),
        )));
        let identity = IdentityService::new(
            store.clone(),
            clock.clone(),
            Arc::new(Unused),
            Arc::new(Unused),
            Arc::new(Unused),
        );
        let service = Arc::new(PlansService::new(
            CommandRunner::new(store.clone()),
            clock.clone(),
            identity,
            PlansSettings::builtin().unwrap(),
        ));
        World {
            store,
            clock,
            service,
        }
    }

    fn set(&self, at: DateTime<Utc>) {
        *self.clock.0.lock().unwrap() = at;
    }

    async fn fire(&self) -> usize {
        let mut scheduler = DeadlineScheduler::new(self.store.clone());
        for (kind, handler) in deadline_handlers(&self.service) {
            scheduler.register(kind, handler);
        }
        scheduler.fire_due(self.clock.now()).await.unwrap().fired
    }

    async fn plan(&self, company: &ObjectId) -> TeamPlan {
        self.service.team_plan(company).await.unwrap()
    }
}

#[tokio::test]
async fn given_a_paid_period_its_deadlines_make_it_overdue_then_expired_only_when_due() {
    let w = World::new();
    let meta = EventMetadata::default();
    let owner = UserId::from_uuid(Uuid::from_u128(1));
    let (company, owner_id, _) = w
        .service
        .create_company(owner, "Acme", &meta)
        .await
        .unwrap();
    assert_eq!(w.service.member_limit(&w.plan(&company).await), 5, "free");

    // Bought 31 Jan 10:00 Shanghai for one month: runs through 28 Feb, ends 1 Mar 00:00 local.
    w.service
        .start_paid_period(&company, &owner_id, PlanType::Pro, 20, 1, &meta)
        .await
        .unwrap();
    let plan = w.plan(&company).await;
    let period = plan.latest_paid().unwrap().clone();
    let end: DateTime<Utc> = "2025-02-28T16:00:00Z".parse().unwrap();
    assert_eq!(period.date_end, end);
    assert_eq!(period.grace_end, end + Duration::days(7));
    assert_eq!(period.catalogue_version, "2026-01");
    assert_eq!(w.service.member_limit(&plan), 20, "what was bought");

    // Nothing is due a second before the end.
    w.set(end - Duration::seconds(1));
    assert_eq!(w.fire().await, 0);
    assert_eq!(
        w.plan(&company).await.latest_paid().unwrap().status,
        PlanStatus::Actived
    );
    // At the end: overdue (the plan still applies); firing again changes nothing.
    w.set(end);
    assert_eq!(w.fire().await, 1);
    let plan = w.plan(&company).await;
    assert_eq!(plan.latest_paid().unwrap().status, PlanStatus::Overdue);
    assert_eq!(w.service.member_limit(&plan), 20);
    // After the grace period: expired, back to the free plan's limit.
    w.set(end + Duration::days(7));
    assert_eq!(w.fire().await, 1);
    let plan = w.plan(&company).await;
    assert_eq!(plan.latest_paid().unwrap().status, PlanStatus::Expired);
    assert_eq!(w.service.member_limit(&plan), 5);
    assert_eq!(w.fire().await, 0, "every deadline fired once");
    let stream = super::companies::team_plan_stream(&company).unwrap();
    let events = w.store.events::<TeamPlan>(&stream);
    assert_eq!(events.len(), 3, "{events:?}");
}

#[tokio::test]
async fn given_a_trial_its_deadline_ends_it_and_the_free_limit_returns() {
    let w = World::new();
    let meta = EventMetadata::default();
    let owner = UserId::from_uuid(Uuid::from_u128(1));
    let (company, _, _) = w
        .service
        .create_company(owner, "Acme", &meta)
        .await
        .unwrap();
    let membership = w.service.membership(company.as_str(), owner).await.unwrap();
    let start = w.clock.now();
    w.service
        .start_trial(&membership, "ent", &meta)
        .await
        .unwrap();
    assert_eq!(w.service.member_limit(&w.plan(&company).await), 500);
    w.set(start + Duration::days(15) - Duration::seconds(1));
    assert_eq!(w.fire().await, 0);
    w.set(start + Duration::days(15));
    assert_eq!(w.fire().await, 1);
    let plan = w.plan(&company).await;
    assert!(plan.trials()[0].ended_at.is_some());
    assert_eq!(plan.viable_trials(), vec![PlanType::Pro]);
    assert_eq!(w.service.member_limit(&plan), 5);
}
