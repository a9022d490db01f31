//! Team plans' use cases (seed 004), one file each: [`companies`] (companies, members and the
//! membership check every plans route starts with), [`trials`] (trials, paid-period states and
//! their deadlines), [`certification`] (certification applications and their review),
//! [`pictures`] (the pictures those applications name, kept in the blob store), [`orders`]
//! (plan orders, their balance payment and the scheduled downgrade), [`wallet`] (credits and staff
//! grants), [`payments`] (alipay, wxpay and banktrans payments and their delivery), [`recharge`]
//! (wallet recharges); [`error`] says why one failed. All run over the shared [`CommandRunner`]; no
//! HTTP type reaches here.
//!
//! Every write returns the global position it reached (`None` when nothing changed), so the api
//! can wait for the read models before answering (docs/decisions/0004-read-your-writes.md).
//! Every use case starts from [`PlansService::membership`] and, for writes,
//! [`PlansService::require_owner`].

pub mod certification;
pub mod companies;
pub mod error;
pub mod orders;
pub mod payments;
pub mod pictures;
pub mod recharge;
pub mod trials;
pub mod wallet;

pub use companies::Membership;
pub use error::{Missing, PlansError};
pub use orders::{PLANS_DEGRADE_DUE, PLANS_ORDER_EXPIRY, Payment, Prepared, parse_order_request};
pub use pictures::PictureFile;
pub use trials::{
    PLANS_PERIOD_END, PLANS_PERIOD_GRACE_END, PLANS_TRIAL_END, PlansDeadlines, deadline_handlers,
};

use crate::blobs::BlobStore;
use crate::clock::Clock;
use crate::command::CommandRunner;
use crate::identity::IdentityService;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use std::sync::Arc;
use tessera_domain::plans::ObjectId;
use tessera_domain::plans::catalogue::Catalogue;

/// Tunables (docs/plans.md, "Configuration").
#[derive(Debug, Clone)]
pub struct PlansSettings {
    /// The plan list, loaded at start.
    pub catalogue: Arc<Catalogue>,
    /// How long a trial lasts (default 15 days).
    pub trial_length: Duration,
    /// How long a paid period stays `overdue` after its end before it expires (default 7 days).
    pub grace: Duration,
    /// How long an unpaid order can be paid before it expires (default 30 minutes).
    pub order_ttl: Duration,
}

impl PlansSettings {
    /// The built-in catalogue, 15-day trials and a 7-day grace period.
    ///
    /// Errors: only if the built-in catalogue were broken.
    pub fn builtin() -> Result<Self, tessera_domain::shared::FieldError> {
        Ok(PlansSettings {
            catalogue: Arc::new(Catalogue::builtin()?),
            trial_length: Duration::days(15),
            grace: Duration::days(7),
            order_ttl: Duration::minutes(30),
        })
    }
}

/// The plans use cases. Cheap to clone.
#[derive(Clone)]
pub struct PlansService {
    runner: CommandRunner,
    clock: Arc<dyn Clock>,
    identity: IdentityService,
    settings: PlansSettings,
    blobs: Option<Arc<dyn BlobStore>>,
    payments: payments::PaymentPorts,
}

impl std::fmt::Debug for PlansService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlansService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl PlansService {
    /// A service over `runner` (the store), `clock`, the shared `identity` (members by email) and
    /// `settings`.
    pub fn new(
        runner: CommandRunner,
        clock: Arc<dyn Clock>,
        identity: IdentityService,
        settings: PlansSettings,
    ) -> Self {
        Self {
            runner,
            clock,
            identity,
            settings,
            blobs: None,
            payments: payments::PaymentPorts::default(),
        }
    }

    /// The same service storing certification pictures in `blobs` (without one, uploads fail
    /// with [`PlansError::Blob`]).
    pub fn with_blobs(mut self, blobs: Arc<dyn BlobStore>) -> Self {
        self.blobs = Some(blobs);
        self
    }

    /// The settings (catalogue, trial length, grace period).
    pub fn settings(&self) -> &PlansSettings {
        &self.settings
    }

    /// The catalogue served by `GET /plan/list`.
    pub fn catalogue(&self) -> &Catalogue {
        &self.settings.catalogue
    }

    /// Now, cut to microseconds (the stored precision).
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }
}

/// A fresh [`ObjectId`]: `now`'s Unix seconds and 8 random bytes (from a v4 UUID).
pub fn new_object_id(now: DateTime<Utc>) -> ObjectId {
    let random = uuid::Uuid::new_v4();
    let mut rest = [0u8; 8];
    rest.copy_from_slice(&random.as_bytes()[8..16]);
    // Seconds fit 32 bits until 2106; clamp rather than wrap after that.
    let secs = u32::try_from(now.timestamp().max(0)).unwrap_or(u32::MAX);
    ObjectId::from_parts(secs, rest)
}

#[cfg(test)]
mod tests;
