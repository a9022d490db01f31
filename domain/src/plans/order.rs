//! [`PlanOrder`] (`plansOrder-{orderId}`): one plan order (seed 004 "order"), and [`quote`], the
//! rules and price of an order before it is stored (`POST /plan/order/prepare` and
//! `POST /plan/order` run the same function).
//!
//! Order types (seed 004 "order"; docs/decisions/0027-plans-orders-and-wallet.md):
//! - `newly` (the seed also writes `new`): no paid period in force; a plan, members and months.
//! - `renewal`: a paid period in force (`actived` or `overdue`); the same plan and members,
//!   `times` more months counted from the period's start (decision 0026), so its end moves on.
//! - `upgrade`: an `actived` period; a higher plan and/or more members from the moment it is
//!   paid until the period's end, priced pro rata ([`super::pricing::prorate`]).
//! - `degrade`: an `actived` period; a lower plan and/or fewer members (not fewer than the
//!   company has), scheduled for the period's end, no payment; cancellable.
//! - `patch`: the latest period `expired`; bought again with the same plan and members.
//!
//! Every paid plan needs its certification (`ent` covers `pro`); members are at most the plan's
//! `member` limit; while a downgrade is scheduled every new order is refused. Prices come from the
//! catalogue current when the order is placed and stay with the order.
//!
//! An order is `pending` (awaiting payment, until `expires_at`) → `paid` | `expired` |
//! `cancelled` (superseded by a newer order); a degrade is `scheduled` → `completed` (applied at
//! the period's end) | `cancelled` (`DELETE /plan/degrade`).

use super::catalogue::{Catalogue, Product};
use super::certification::CertificationDesk;
use super::payment::PaymentMethod;
use super::pricing;
use super::team_plan::{PlanStatus, TeamPlan};
use super::{ObjectId, PlanType};
use crate::shared::FieldError;
use crate::{Decider, DomainEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Most months one order may buy (`times`).
pub const MAX_TIMES: u32 = 36;

/// The seed's `order_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderType {
    /// A first purchase (`newly`, also spelled `new` by the seed).
    Newly,
    /// More months of the running period.
    Renewal,
    /// A higher plan or more members, now.
    Upgrade,
    /// A lower plan or fewer members, at the period's end.
    Degrade,
    /// The expired plan bought again.
    Patch,
}

impl OrderType {
    /// The seed's spelling (`newly` for a first purchase).
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::Newly => "newly",
            OrderType::Renewal => "renewal",
            OrderType::Upgrade => "upgrade",
            OrderType::Degrade => "degrade",
            OrderType::Patch => "patch",
        }
    }

    /// Parse the seed's spelling; `new` and `newly` both mean a first purchase.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "newly" | "new" => Some(OrderType::Newly),
            "renewal" => Some(OrderType::Renewal),
            "upgrade" => Some(OrderType::Upgrade),
            "degrade" => Some(OrderType::Degrade),
            "patch" => Some(OrderType::Patch),
            _ => None,
        }
    }
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    /// Awaiting payment until its `expires_at`.
    Pending,
    /// Paid; its effect on the team plan is recorded in the same commit.
    Paid,
    /// Not paid in time.
    Expired,
    /// Superseded by a newer order, or (a degrade) cancelled.
    Cancelled,
    /// A degrade waiting for the period's end.
    Scheduled,
    /// A degrade applied at the period's end.
    Completed,
}

impl OrderStatus {
    /// `pending`, `paid`, `expired`, `cancelled`, `scheduled` or `completed`.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Expired => "expired",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Scheduled => "scheduled",
            OrderStatus::Completed => "completed",
        }
    }
}

/// Why an order was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CancelReason {
    /// A newer order of the company replaced this pending one.
    Superseded,
    /// The owner cancelled the scheduled degrade.
    Cancelled,
}

/// How an upgrade was priced: the terms it replaces and the share of the period left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Proration {
    /// The plan before.
    pub from_plan: PlanType,
    /// The members before.
    pub from_member_count: u32,
    /// The old plan's price per member per month at the order's catalogue, fen.
    pub from_unit_price: i64,
    /// Months of the current period (its start to its end).
    pub period_months: u32,
    /// Seconds from the order to the period's end.
    pub remaining_secs: i64,
    /// Seconds from the period's start to its end.
    pub period_secs: i64,
}

/// A client's order, parsed (the api and the application check the JSON shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    /// `order_type`.
    pub order_type: OrderType,
    /// `plan`, when given.
    pub plan: Option<PlanType>,
    /// `times`, when given.
    pub times: Option<u32>,
    /// `products[0].product_no` and `.quantity` (members), when given.
    pub product: Option<(String, u32)>,
}

/// The terms of an order as [`quote`] decided them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// The type.
    pub order_type: OrderType,
    /// The plan after the order.
    pub plan: PlanType,
    /// Members after the order.
    pub member_count: u32,
    /// Months bought (0 for upgrades and degrades).
    pub months: u32,
    /// The catalogue product sold.
    pub product: Product,
    /// Its price per member per month, fen.
    pub unit_price_fen: i64,
    /// What the order costs, fen (0 for a degrade).
    pub amount_fen: i64,
    /// The catalogue version of the prices.
    pub catalogue_version: String,
    /// The period renewed, upgraded or degraded.
    pub period_id: Option<ObjectId>,
    /// How an upgrade was priced.
    pub proration: Option<Proration>,
    /// When a degrade takes effect (the period's end).
    pub effective_at: Option<DateTime<Utc>>,
}

/// What [`quote`] needs to know.
#[derive(Debug, Clone, Copy)]
pub struct QuoteContext<'a> {
    /// The company's team plan.
    pub team: &'a TeamPlan,
    /// The catalogue current now.
    pub catalogue: &'a Catalogue,
    /// The company's certifications.
    pub certifications: &'a CertificationDesk,
    /// Members the company has now (owners included).
    pub members_now: u32,
    /// Current time (UTC).
    pub now: DateTime<Utc>,
}

/// Why an order (or a step of one) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// A request field is invalid (400, naming it).
    #[error(transparent)]
    Field(#[from] FieldError),
    /// A downgrade is scheduled: cancel it first (409).
    #[error(
        "a downgrade is scheduled for the end of the current period; cancel it first (DELETE /plan/degrade)"
    )]
    DegradeScheduled,
    /// The plan needs its certification (409).
    #[error("the {} plan needs an accepted {} certification first", .0.as_str(), .0.as_str())]
    NotCertified(PlanType),
    /// The order type does not fit the company's plan now (409).
    #[error("{0}")]
    NotAllowed(String),
    /// The order was paid already (409; nothing is charged).
    #[error("the order was paid already")]
    AlreadyPaid,
    /// The order cannot be paid: expired, cancelled, or a degrade (409).
    #[error("the order is {} and cannot be paid", .0.as_str())]
    NotPayable(OrderStatus),
    /// The order exists already (a bug: ids are fresh).
    #[error("the order exists already")]
    Exists,
    /// No such order.
    #[error("no such order")]
    NotFound,
}

fn field(name: &str, reason: impl Into<String>) -> OrderError {
    OrderError::Field(FieldError::new(name, reason))
}

/// The catalogue product of `plan` named `product_no` (any product of the plan when `None`).
fn product_of(
    catalogue: &Catalogue,
    plan: PlanType,
    product_no: Option<&str>,
) -> Result<Product, OrderError> {
    let offer = catalogue
        .offer(plan)
        .ok_or_else(|| field("plan", "is not sold"))?;
    match product_no {
        Some(no) => offer
            .products
            .iter()
            .find(|p| p.product_no == no)
            .cloned()
            .ok_or_else(|| {
                field(
                    "products[0].product_no",
                    format!("is not a product of the {} plan", plan.as_str()),
                )
            }),
        None => offer
            .products
            .first()
            .cloned()
            .ok_or_else(|| field("plan", "is not sold")),
    }
}

fn unit_fen(product: &Product) -> Result<i64, OrderError> {
    pricing::to_fen(product.price).ok_or_else(|| field("products", "price out of range"))
}

fn times_of(request: &OrderRequest, default: Option<u32>) -> Result<u32, OrderError> {
    let times = request
        .times
        .or(default)
        .ok_or_else(|| field("times", "is required"))?;
    if times == 0 || times > MAX_TIMES {
        return Err(field("times", format!("must be 1 to {MAX_TIMES} months")));
    }
    Ok(times)
}

/// The plan and members an order asks for (`plan` and `products` required).
fn asked(request: &OrderRequest) -> Result<(PlanType, String, u32), OrderError> {
    let plan = request.plan.ok_or_else(|| field("plan", "is required"))?;
    if !plan.is_paid() {
        return Err(field("plan", "must be `pro` or `ent`"));
    }
    let (no, quantity) = request
        .product
        .clone()
        .ok_or_else(|| field("products", "is required: one line of the plan's product"))?;
    Ok((plan, no, quantity))
}

/// When given, `plan` and `products` must repeat the current terms (renewal, patch).
fn same_terms(request: &OrderRequest, plan: PlanType, members: u32) -> Result<(), OrderError> {
    if request.plan.is_some_and(|p| p != plan) {
        return Err(field(
            "plan",
            format!(
                "a {} keeps the plan ({})",
                request.order_type.as_str(),
                plan.as_str()
            ),
        ));
    }
    if let Some((_, q)) = &request.product
        && *q != members
    {
        return Err(field(
            "products[0].quantity",
            format!(
                "a {} keeps the members ({members})",
                request.order_type.as_str()
            ),
        ));
    }
    Ok(())
}

/// Decide whether `request` can be ordered now and at what price (seed 004 "order"; the rules in
/// this module's documentation). `POST /plan/order/prepare` shows the result without storing it.
///
/// Errors: [`OrderError::Field`] (400: the field at fault), [`OrderError::DegradeScheduled`],
/// [`OrderError::NotCertified`], [`OrderError::NotAllowed`] (409).
pub fn quote(request: &OrderRequest, cx: QuoteContext<'_>) -> Result<Quote, OrderError> {
    let now = cx.now;
    if cx.team.degrade().is_some() {
        return Err(OrderError::DegradeScheduled);
    }
    let latest = cx.team.latest_paid();
    let in_force = cx.team.period_in_force(now);
    let version = cx.catalogue.version.clone();
    let (plan, members, months, product, period_id, proration, effective_at) = match request
        .order_type
    {
        OrderType::Newly => {
            let (plan, no, members) = asked(request)?;
            let months = times_of(request, None)?;
            if in_force.is_some() {
                return Err(OrderError::NotAllowed(
                    "a paid period is running: renew, upgrade or degrade it instead".into(),
                ));
            }
            let product = product_of(cx.catalogue, plan, Some(&no))?;
            (plan, members, months, product, None, None, None)
        }
        OrderType::Patch => {
            let Some(p) = latest.filter(|p| TeamPlan::status_at(p, now) == PlanStatus::Expired)
            else {
                return Err(OrderError::NotAllowed(
                    "a patch buys an expired plan again; this company has none".into(),
                ));
            };
            same_terms(request, p.plan, p.member_count)?;
            let months = times_of(request, Some(1))?;
            let no = request.product.as_ref().map(|(no, _)| no.as_str());
            let product = product_of(cx.catalogue, p.plan, no)?;
            (p.plan, p.member_count, months, product, None, None, None)
        }
        OrderType::Renewal => {
            let Some(p) = in_force else {
                return Err(OrderError::NotAllowed(
                    "no paid period to renew: buy one (newly) or patch an expired one".into(),
                ));
            };
            same_terms(request, p.plan, p.member_count)?;
            let months = times_of(request, None)?;
            let no = request.product.as_ref().map(|(no, _)| no.as_str());
            let product = product_of(cx.catalogue, p.plan, no)?;
            let id = Some(p.period_id.clone());
            (p.plan, p.member_count, months, product, id, None, None)
        }
        OrderType::Upgrade | OrderType::Degrade => {
            let kind = if request.order_type == OrderType::Upgrade {
                "an upgrade"
            } else {
                "a degrade"
            };
            let Some(p) = in_force.filter(|p| TeamPlan::status_at(p, now) == PlanStatus::Actived)
            else {
                return Err(OrderError::NotAllowed(format!(
                    "{kind} changes a running (actived) paid period; this company has none"
                )));
            };
            let (plan, no, members) = asked(request)?;
            if request.times.is_some_and(|t| t != 0) {
                return Err(field(
                    "times",
                    format!("{kind} keeps the period's end: leave `times` out"),
                ));
            }
            let product = product_of(cx.catalogue, plan, Some(&no))?;
            let (up, down) = (
                plan >= p.plan && members >= p.member_count,
                plan <= p.plan && members <= p.member_count,
            );
            let same = plan == p.plan && members == p.member_count;
            if request.order_type == OrderType::Upgrade && (!up || same) {
                return Err(field(
                    "products[0].quantity",
                    format!(
                        "an upgrade raises the plan and/or the members, lowering neither (now {} with {} members)",
                        p.plan.as_str(),
                        p.member_count
                    ),
                ));
            }
            if request.order_type == OrderType::Degrade {
                if !down || same {
                    return Err(field(
                        "products[0].quantity",
                        format!(
                            "a degrade lowers the plan and/or the members, raising neither (now {} with {} members)",
                            p.plan.as_str(),
                            p.member_count
                        ),
                    ));
                }
                if members < cx.members_now {
                    return Err(field(
                        "products[0].quantity",
                        format!(
                            "the company has {} members; remove members before a degrade to {members}",
                            cx.members_now
                        ),
                    ));
                }
            }
            let proration = if request.order_type == OrderType::Upgrade {
                let from = product_of(cx.catalogue, p.plan, None)?;
                Some(Proration {
                    from_plan: p.plan,
                    from_member_count: p.member_count,
                    from_unit_price: unit_fen(&from)?,
                    period_months: p.months,
                    remaining_secs: (p.date_end - now).num_seconds().max(0),
                    period_secs: (p.date_end - p.date_start).num_seconds(),
                })
            } else {
                None
            };
            let effective = (request.order_type == OrderType::Degrade).then_some(p.date_end);
            let id = Some(p.period_id.clone());
            (plan, members, 0, product, id, proration, effective)
        }
    };
    if !cx.certifications.covers(plan) {
        return Err(OrderError::NotCertified(plan));
    }
    let limit = cx.catalogue.member_limit(plan);
    if members == 0 || members > limit {
        return Err(field(
            "products[0].quantity",
            format!(
                "members must be 1 to {limit} for the {} plan",
                plan.as_str()
            ),
        ));
    }
    let unit = unit_fen(&product)?;
    let overflow = || field("times", "the amount is out of range");
    let amount_fen = match (&proration, request.order_type) {
        (_, OrderType::Degrade) => 0,
        (Some(pr), _) => {
            let old = pricing::full_amount(pr.from_unit_price, pr.from_member_count, 1)
                .ok_or_else(overflow)?;
            let new = pricing::full_amount(unit, members, 1).ok_or_else(overflow)?;
            pricing::prorate(
                old,
                new,
                pr.period_months,
                pr.remaining_secs,
                pr.period_secs,
            )
            .ok_or_else(overflow)?
        }
        (None, _) => pricing::full_amount(unit, members, months).ok_or_else(overflow)?,
    };
    Ok(Quote {
        order_type: request.order_type,
        plan,
        member_count: members,
        months,
        product,
        unit_price_fen: unit,
        amount_fen,
        catalogue_version: version,
        period_id,
        proration,
        effective_at,
    })
}

/// One order as its events say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderState {
    /// The order.
    pub order_id: ObjectId,
    /// The company.
    pub company_id: ObjectId,
    /// The owner who placed it.
    pub user_id: ObjectId,
    /// Its terms.
    pub quote: Quote,
    /// Where it stands (as recorded; a pending order past `expires_at` cannot be paid).
    pub status: OrderStatus,
    /// A pending order's payment deadline.
    pub expires_at: Option<DateTime<Utc>>,
    /// A degrade's id (the `degrade._id` of `GET /plan/status`).
    pub degrade_id: Option<ObjectId>,
    /// Placed (UTC).
    pub placed_at: DateTime<Utc>,
    /// How it was paid (method, external payment, when).
    pub paid: Option<(PaymentMethod, Option<ObjectId>, DateTime<Utc>)>,
}

impl OrderState {
    /// Whether the external payment `payment_id` paid this order.
    pub fn paid_by(&self, payment_id: &ObjectId) -> bool {
        matches!(&self.paid, Some((_, Some(p), _)) if p == payment_id)
    }
}

/// The plan order aggregate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOrder {
    state: Option<OrderState>,
}

impl PlanOrder {
    /// The order, once placed.
    pub fn order(&self) -> Option<&OrderState> {
        self.state.as_ref()
    }
}

/// Commands for [`PlanOrder`].
// `Place` carries the whole quote; commands live for one decision, so their size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCommand {
    /// Store a quoted order: `pending` until `expires_at`, or (a degrade) `scheduled`.
    Place {
        /// A fresh id (also the stream id).
        order_id: ObjectId,
        /// The company.
        company_id: ObjectId,
        /// The owner placing it.
        user_id: ObjectId,
        /// Its terms.
        quote: Quote,
        /// A degrade's fresh id.
        degrade_id: Option<ObjectId>,
        /// When an unpaid order expires (not for a degrade).
        expires_at: Option<DateTime<Utc>>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Record the payment of a pending order.
    Pay {
        /// `balance`, `alipay`, `wxpay` or `banktrans`.
        method: PaymentMethod,
        /// The external payment (none for `balance`).
        payment_id: Option<ObjectId>,
        /// The period the payment started or changed.
        period_id: ObjectId,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Expire a pending order past its deadline; nothing otherwise.
    Expire {
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Cancel a pending order or a scheduled degrade; nothing otherwise.
    Cancel {
        /// Why.
        reason: CancelReason,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Mark a scheduled degrade applied; nothing otherwise.
    Complete {
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`PlanOrder`] (docs/event-catalog.md, "Team plans: orders and wallet").
// `Placed` records every term of the order once; events are not kept in bulk in memory.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum OrderEvent {
    /// An order was placed.
    #[serde(rename = "PlansOrderPlaced")]
    Placed {
        /// The order.
        order_id: ObjectId,
        /// The company.
        company_id: ObjectId,
        /// The owner who placed it.
        user_id: ObjectId,
        /// `newly`, `renewal`, `upgrade`, `degrade` or `patch`.
        order_type: OrderType,
        /// The plan after the order.
        plan: PlanType,
        /// Members after the order.
        member_count: u32,
        /// Months bought (0 for upgrades and degrades).
        months: u32,
        /// The catalogue product sold.
        product_id: ObjectId,
        /// Its code.
        product_no: String,
        /// Its title.
        product_title: String,
        /// Its price per member per month, fen.
        unit_price: i64,
        /// The order's price, fen.
        amount: i64,
        /// The catalogue version of the prices.
        catalogue_version: String,
        /// The period renewed, upgraded or degraded.
        period_id: Option<ObjectId>,
        /// How an upgrade was priced.
        proration: Option<Proration>,
        /// A degrade's id.
        degrade_id: Option<ObjectId>,
        /// When a degrade takes effect (UTC).
        effective_at: Option<DateTime<Utc>>,
        /// `pending` or (a degrade) `scheduled`.
        status: OrderStatus,
        /// When an unpaid order expires (UTC).
        expires_at: Option<DateTime<Utc>>,
        /// When (UTC).
        placed_at: DateTime<Utc>,
    },
    /// The order was paid and took effect (same commit as the team plan's change).
    #[serde(rename = "PlansOrderPaid")]
    Paid {
        /// The order.
        order_id: ObjectId,
        /// The company.
        company_id: ObjectId,
        /// How.
        payment_method: PaymentMethod,
        /// The external payment (none for `balance`).
        payment_id: Option<ObjectId>,
        /// Fen.
        amount: i64,
        /// The period started or changed.
        period_id: ObjectId,
        /// When (UTC).
        paid_at: DateTime<Utc>,
    },
    /// A pending order was not paid in time.
    #[serde(rename = "PlansOrderExpired")]
    Expired {
        /// The order.
        order_id: ObjectId,
        /// The company.
        company_id: ObjectId,
        /// When (UTC).
        expired_at: DateTime<Utc>,
    },
    /// A pending order was superseded, or a scheduled degrade cancelled.
    #[serde(rename = "PlansOrderCancelled")]
    Cancelled {
        /// The order.
        order_id: ObjectId,
        /// The company.
        company_id: ObjectId,
        /// `superseded` or `cancelled`.
        reason: CancelReason,
        /// When (UTC).
        cancelled_at: DateTime<Utc>,
    },
    /// A scheduled degrade took effect.
    #[serde(rename = "PlansOrderCompleted")]
    Completed {
        /// The order.
        order_id: ObjectId,
        /// The company.
        company_id: ObjectId,
        /// When (UTC).
        completed_at: DateTime<Utc>,
    },
}

impl DomainEvent for OrderEvent {}

impl Decider for PlanOrder {
    const CATEGORY: &'static str = "plansOrder";
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = OrderError;

    fn decide(&self, command: &OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
        if let OrderCommand::Place {
            order_id,
            company_id,
            user_id,
            quote,
            degrade_id,
            expires_at,
            now,
        } = command
        {
            if self.state.is_some() {
                return Err(OrderError::Exists);
            }
            let degrade = quote.order_type == OrderType::Degrade;
            return Ok(vec![OrderEvent::Placed {
                order_id: order_id.clone(),
                company_id: company_id.clone(),
                user_id: user_id.clone(),
                order_type: quote.order_type,
                plan: quote.plan,
                member_count: quote.member_count,
                months: quote.months,
                product_id: quote.product.id.clone(),
                product_no: quote.product.product_no.clone(),
                product_title: quote.product.title.clone(),
                unit_price: quote.unit_price_fen,
                amount: quote.amount_fen,
                catalogue_version: quote.catalogue_version.clone(),
                period_id: quote.period_id.clone(),
                proration: quote.proration.clone(),
                degrade_id: if degrade { degrade_id.clone() } else { None },
                effective_at: quote.effective_at,
                status: if degrade {
                    OrderStatus::Scheduled
                } else {
                    OrderStatus::Pending
                },
                expires_at: if degrade { None } else { *expires_at },
                placed_at: *now,
            }]);
        }
        let order = self.state.as_ref().ok_or(OrderError::NotFound)?;
        let ids = || (order.order_id.clone(), order.company_id.clone());
        match command {
            OrderCommand::Place { .. } => Ok(Vec::new()),
            OrderCommand::Pay {
                method,
                payment_id,
                period_id,
                now,
            } => match order.status {
                OrderStatus::Paid => Err(OrderError::AlreadyPaid),
                OrderStatus::Pending if order.expires_at.is_some_and(|e| *now >= e) => {
                    Err(OrderError::NotPayable(OrderStatus::Expired))
                }
                OrderStatus::Pending => {
                    let (order_id, company_id) = ids();
                    Ok(vec![OrderEvent::Paid {
                        order_id,
                        company_id,
                        payment_method: *method,
                        payment_id: payment_id.clone(),
                        amount: order.quote.amount_fen,
                        period_id: period_id.clone(),
                        paid_at: *now,
                    }])
                }
                other => Err(OrderError::NotPayable(other)),
            },
            OrderCommand::Expire { now } => {
                let due = order.status == OrderStatus::Pending
                    && order.expires_at.is_some_and(|e| *now >= e);
                let (order_id, company_id) = ids();
                Ok(if due {
                    vec![OrderEvent::Expired {
                        order_id,
                        company_id,
                        expired_at: *now,
                    }]
                } else {
                    Vec::new()
                })
            }
            OrderCommand::Cancel { reason, now } => {
                let open = matches!(order.status, OrderStatus::Pending | OrderStatus::Scheduled);
                let (order_id, company_id) = ids();
                Ok(if open {
                    vec![OrderEvent::Cancelled {
                        order_id,
                        company_id,
                        reason: *reason,
                        cancelled_at: *now,
                    }]
                } else {
                    Vec::new()
                })
            }
            OrderCommand::Complete { now } => {
                let (order_id, company_id) = ids();
                Ok(if order.status == OrderStatus::Scheduled {
                    vec![OrderEvent::Completed {
                        order_id,
                        company_id,
                        completed_at: *now,
                    }]
                } else {
                    Vec::new()
                })
            }
        }
    }

    fn evolve(mut self, event: &OrderEvent) -> Self {
        match event {
            OrderEvent::Placed {
                order_id,
                company_id,
                user_id,
                order_type,
                plan,
                member_count,
                months,
                product_id,
                product_no,
                product_title,
                unit_price,
                amount,
                catalogue_version,
                period_id,
                proration,
                degrade_id,
                effective_at,
                status,
                expires_at,
                placed_at,
            } => {
                self.state = Some(OrderState {
                    order_id: order_id.clone(),
                    company_id: company_id.clone(),
                    user_id: user_id.clone(),
                    quote: Quote {
                        order_type: *order_type,
                        plan: *plan,
                        member_count: *member_count,
                        months: *months,
                        product: Product {
                            id: product_id.clone(),
                            product_no: product_no.clone(),
                            title: product_title.clone(),
                            plan: *plan,
                            price: rust_decimal::Decimal::new(*unit_price, 2),
                        },
                        unit_price_fen: *unit_price,
                        amount_fen: *amount,
                        catalogue_version: catalogue_version.clone(),
                        period_id: period_id.clone(),
                        proration: proration.clone(),
                        effective_at: *effective_at,
                    },
                    status: *status,
                    expires_at: *expires_at,
                    degrade_id: degrade_id.clone(),
                    placed_at: *placed_at,
                    paid: None,
                });
            }
            OrderEvent::Paid {
                payment_method,
                payment_id,
                paid_at,
                ..
            } => {
                self.set(OrderStatus::Paid);
                if let Some(o) = self.state.as_mut() {
                    o.paid = Some((*payment_method, payment_id.clone(), *paid_at));
                }
            }
            OrderEvent::Expired { .. } => self.set(OrderStatus::Expired),
            OrderEvent::Cancelled { .. } => self.set(OrderStatus::Cancelled),
            OrderEvent::Completed { .. } => self.set(OrderStatus::Completed),
        }
        self
    }
}

impl PlanOrder {
    fn set(&mut self, status: OrderStatus) {
        if let Some(o) = self.state.as_mut() {
            o.status = status;
        }
    }
}
