//! Team plans read models (seed 004, part 1): companies, their members and each company's plan
//! status, plus the queries the plans routes serve from them (docs/read-models.md, section "Team
//! plans (seed 004)", documents every table).
//!
//! * [`CompaniesProjector`] (`plans_companies`): `plans_companies` and `plans_members`, from the
//!   `plansCompany` streams.
//! * [`CertificationsProjector`] (`plans_certifications`): `plans_certifications` (personal data
//!   masked) and `plans_certification_log`, from the `plansCertification` streams.
//! * [`StatusProjector`] (`plans_status`): `plans_status`, from the `plansTeamPlan` streams.
//! * [`OrdersProjector`] (`plans_orders`): `plans_orders`, from the `plansOrder` streams.
//! * [`WalletProjector`] (`plans_wallet`): `plans_wallets` and `plans_wallet_ledger`, from the
//!   `plansWallet` streams.
//! * [`PaymentsProjector`] (`plans_payments`) and [`RechargesProjector`] (`plans_recharges`):
//!   external payments and wallet recharges, queried through [`PaymentsQueries`].
//!
//! Event data is parsed with this module's own serde structs (the input contract is
//! docs/event-catalog.md, section "Team plans (seed 004)"). Ids are the ObjectIds the events
//! carry, so a rebuild gives every row the same id; instants are UTC.

use crate::projector::Projector;
use std::sync::Arc;

mod certifications;
mod companies;
mod orders;
mod payments;
mod queries;
mod status;
mod wallet;

pub use certifications::CertificationsProjector;
pub use companies::CompaniesProjector;
pub use orders::OrdersProjector;
pub use payments::{
    PaymentRow, PaymentsProjector, PaymentsQueries, RechargeRow, RechargesProjector,
};
pub use queries::{CertificationRow, CompanyRow, MemberRow, PlansQueries, StatusRow};
pub use queries::{LedgerRow, OrderRow, WalletRow};
pub use status::StatusProjector;
pub use wallet::WalletProjector;

/// Every plans projector.
pub fn projectors() -> Vec<Arc<dyn Projector>> {
    vec![
        Arc::new(CompaniesProjector),
        Arc::new(StatusProjector),
        Arc::new(CertificationsProjector),
        Arc::new(OrdersProjector),
        Arc::new(WalletProjector),
        Arc::new(PaymentsProjector),
        Arc::new(RechargesProjector),
    ]
}
