//! Why a plans use case failed, in domain terms (the api words it in the document's error shape,
//! docs/plans.md "Errors"). Shared by the later parts of the plans issue.

use crate::command::EngineError;
use crate::identity::IdentityError;
use tessera_domain::plans::PlanType;
use tessera_domain::plans::certification::CertificationError;
use tessera_domain::plans::company::CompanyError;
use tessera_domain::plans::order::OrderError;
use tessera_domain::plans::team_plan::TeamPlanError;
use tessera_domain::plans::wallet::WalletError;
use tessera_domain::shared::FieldError;

/// What was not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// No such company, or the caller is not a member (the same answer, on purpose).
    Company,
    /// No such member in the company.
    Member,
    /// No such order of the company, or no pending order.
    Order,
    /// No degrade is scheduled.
    Degrade,
}

/// Why a plans use case failed.
#[derive(Debug, thiserror::Error)]
pub enum PlansError {
    /// A request field is invalid (400).
    #[error(transparent)]
    Field(#[from] FieldError),
    /// Not found, or not visible to the caller (404).
    #[error("{0:?} not found")]
    NotFound(Missing),
    /// The caller is a member but the action needs an owner (403).
    #[error("only an owner of the company may do this")]
    NotOwner,
    /// No registered user has the email given (400 on `email`).
    #[error("no user is registered with that email")]
    UnknownEmail,
    /// The user is a member already (409).
    #[error("the user is a member already")]
    AlreadyMember,
    /// The plan allows no more members (409).
    #[error("the plan allows at most {limit} members")]
    MemberLimit {
        /// The limit (owners included).
        limit: u32,
    },
    /// The last owner cannot be removed (409).
    #[error("the last owner cannot be removed")]
    LastOwner,
    /// `free` cannot be tried (400 on `plan`).
    #[error("only paid plans can be tried")]
    NotPaidPlan,
    /// The plan was trialled already (409).
    #[error("the {} plan was trialled already", .0.as_str())]
    AlreadyTrialled(PlanType),
    /// The plan was bought already (409).
    #[error("the {} plan was bought already", .0.as_str())]
    AlreadyBought(PlanType),
    /// A certification rule refused the step (404 `NotFound`, 409 otherwise).
    #[error(transparent)]
    Certification(CertificationError),
    /// An order rule refused the step (400 for `Field`, 409 otherwise).
    #[error(transparent)]
    Order(OrderError),
    /// The wallet refused (409: the balance does not cover a payment).
    #[error(transparent)]
    Wallet(WalletError),
    /// Identity failed (store, hashing).
    #[error(transparent)]
    Identity(IdentityError),
    /// The engine failed (503).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The blob store failed, or none is configured (503).
    #[error(transparent)]
    Blob(#[from] crate::blobs::BlobError),
}

impl From<CompanyError> for PlansError {
    fn from(e: CompanyError) -> Self {
        match e {
            CompanyError::Field(f) => PlansError::Field(f),
            CompanyError::NotFound => PlansError::NotFound(Missing::Company),
            CompanyError::AlreadyMember => PlansError::AlreadyMember,
            CompanyError::NotMember => PlansError::NotFound(Missing::Member),
            CompanyError::MemberLimit { limit } => PlansError::MemberLimit { limit },
            CompanyError::LastOwner => PlansError::LastOwner,
        }
    }
}

impl From<TeamPlanError> for PlansError {
    fn from(e: TeamPlanError) -> Self {
        match e {
            TeamPlanError::NotPaidPlan => PlansError::NotPaidPlan,
            TeamPlanError::AlreadyTrialled(p) => PlansError::AlreadyTrialled(p),
            TeamPlanError::AlreadyBought(p) => PlansError::AlreadyBought(p),
            TeamPlanError::InvalidPeriod(why) => PlansError::Field(FieldError::new("period", why)),
            TeamPlanError::OrderNoLongerFits(why) => PlansError::Order(OrderError::NotAllowed(
                format!("the order no longer fits the company's plan: {why}"),
            )),
            TeamPlanError::DegradeScheduled => PlansError::Order(OrderError::DegradeScheduled),
            TeamPlanError::NoDegrade => PlansError::NotFound(Missing::Degrade),
        }
    }
}

impl From<CertificationError> for PlansError {
    fn from(e: CertificationError) -> Self {
        match e {
            CertificationError::Field(f) => PlansError::Field(f),
            other => PlansError::Certification(other),
        }
    }
}

impl From<OrderError> for PlansError {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::Field(f) => PlansError::Field(f),
            OrderError::NotFound => PlansError::NotFound(Missing::Order),
            other => PlansError::Order(other),
        }
    }
}

impl From<WalletError> for PlansError {
    fn from(e: WalletError) -> Self {
        match e {
            WalletError::InvalidAmount(why) => PlansError::Field(FieldError::new("amount", why)),
            other => PlansError::Wallet(other),
        }
    }
}

impl From<IdentityError> for PlansError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::NotFound => PlansError::UnknownEmail,
            other => PlansError::Identity(other),
        }
    }
}

impl From<tessera_domain::plans::user::PlansUserError> for PlansError {
    fn from(e: tessera_domain::plans::user::PlansUserError) -> Self {
        match e {}
    }
}
