//! Team subscription plans (seed 004, `../shared/seeds/004_52f8b8bfa653c892.txt`): companies and
//! their members, the plan catalogue, and each company's [`team_plan::TeamPlan`] (trials and paid
//! periods). Stream categories start with `plans`, event types with `Plans`
//! (docs/decisions/0005-event-namespace.md).
//!
//! - [`object_id::ObjectId`]: the 24-hex ids the seed shows (`_id`, `company_id`, `user_id`),
//!   made by the application and carried in events (docs/decisions/0025-plans-ids-and-catalogue.md).
//! - [`user::PlansUser`] (`plansUser-{identity uuid}`): the plans-facing `user_id` of an identity
//!   user, assigned the first time they appear in a company.
//! - [`company::Company`] (`plansCompany-{companyId}`): name, owner and members, and the member
//!   limit enforced when members are added.
//! - [`team_plan::TeamPlan`] (`plansTeamPlan-{companyId}`): trials taken, paid periods and their
//!   states (`actived` → `overdue` → `expired`).
//! - [`certification::Certification`] (`plansCertification-{authId}`) and its per-company guard
//!   [`certification::CertificationDesk`] (`plansCertifications-{companyId}`): certification
//!   applications and their review.
//! - [`pictures::PictureShelf`] (`plansCertificationPictures-{companyId}`): the pictures a company
//!   uploaded for its applications (ID photos, licences), which applications may name.
//! - [`payment`]: payment methods and what an external payment pays for.
//! - [`order::PlanOrder`] (`plansOrder-{orderId}`): plan orders, and [`order::quote`], their rules
//!   and prices ([`pricing`]); [`wallet::Wallet`] (`plansWallet-{companyId}`): the company's
//!   balance (docs/decisions/0027-plans-orders-and-wallet.md).
//! - [`plan_payment::PlanPayment`] (`plansPayment-{paymentId}`) and its per-purpose guard
//!   [`plan_payment::PaymentDesk`] (`plansPaymentDesk-{purposeId}`): external payments;
//!   [`recharge::Recharge`] (`plansRecharge-{rechargeId}`) and the recharge offer.
//! - [`catalogue`]: the versioned plan list; [`period`]: calendar months in Asia/Shanghai
//!   (docs/decisions/0026-plans-periods-and-time.md).
//!
//! Stored shapes: docs/event-catalog.md, "Team plans (seed 004)"; routes and choices: docs/plans.md.

pub mod catalogue;
pub mod certification;
pub mod company;
pub mod object_id;
pub mod order;
pub mod payment;
pub mod period;
pub mod pictures;
pub mod plan_payment;
pub mod pricing;
pub mod recharge;
pub mod team_plan;
pub mod user;
pub mod wallet;

pub use object_id::ObjectId;

use serde::{Deserialize, Serialize};

/// The seed's `TeamPlan`: `free`, `pro` (专业版) or `ent` (企业版).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanType {
    /// 免费版: every company's plan when nothing else is current.
    Free,
    /// 专业版.
    Pro,
    /// 企业版.
    Ent,
}

impl PlanType {
    /// `free`, `pro` or `ent`, as the seed types them.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanType::Free => "free",
            PlanType::Pro => "pro",
            PlanType::Ent => "ent",
        }
    }

    /// Parse the seed's spelling (exact, lower case).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "free" => Some(PlanType::Free),
            "pro" => Some(PlanType::Pro),
            "ent" => Some(PlanType::Ent),
            _ => None,
        }
    }

    /// Whether this is one of the seed's `TeamPlanPaid` (`pro`, `ent`).
    pub fn is_paid(self) -> bool {
        self != PlanType::Free
    }

    /// The paid plans, in the order lists show them.
    pub const PAID: [PlanType; 2] = [PlanType::Pro, PlanType::Ent];
}

/// A member's role in a company: `owner` (may write: members, trials, later orders and payment)
/// or `member` (may read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads the company and its plan.
    Member,
    /// Also writes.
    Owner,
}

impl Role {
    /// `member` or `owner`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Owner => "owner",
        }
    }

    /// Parse `member` or `owner` (exact).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "member" => Some(Role::Member),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}
