//! Plan orders (seed 004 "order"; docs/plans.md, "Orders"; decision 0027): quote (prepare),
//! place, pay from the wallet or through an external payment, settle an external payment,
//! cancel a scheduled degrade, and the deadlines of unpaid orders ([`PLANS_ORDER_EXPIRY`]) and
//! scheduled degrades ([`PLANS_DEGRADE_DUE`]).
//!
//! Consistency: every write is one atomic commit (decision 0009) over the streams it decides on,
//! each appended with the version it was read at:
//! - placing: the company (the caller is still an owner; its member count), the team plan (the
//!   pending order pointer, the degrade), the new order and the superseded pending order;
//! - paying from the wallet: the order (`paid`), the wallet (the spend) and the team plan (the
//!   effect), so two concurrent payments of one order charge once and the wallet never goes
//!   negative (a conflict re-decides on the new states);
//! - settling an external payment: the order and the team plan, or (when the order can no longer
//!   be paid) the wallet, credited with the amount as paid credit.

use super::certification::desk_stream;
use super::companies::{check_owner, company_stream, team_plan_stream};
use super::payments::PaymentRequest;
use super::trials::deadlines_for;
use super::{Membership, Missing, PlansError, PlansService, new_object_id};
use crate::command::{CommandRunner, EngineError};
use crate::deadlines::NewDeadline;
use crate::event_store::EventMetadata;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use tessera_domain::plans::certification::CertificationDesk;
use tessera_domain::plans::company::Company;
use tessera_domain::plans::order::{
    CancelReason, OrderCommand, OrderError, OrderRequest, OrderState, OrderStatus, OrderType,
    PlanOrder, Quote, QuoteContext, quote,
};
use tessera_domain::plans::payment::{PaymentMethod, PaymentPurpose};
use tessera_domain::plans::team_plan::{PaidOrder, PendingEnd, TeamPlan, TeamPlanCommand};
use tessera_domain::plans::wallet::{CreditKind, Wallet, WalletCommand};
use tessera_domain::plans::{ObjectId, PlanType};
use tessera_domain::shared::FieldError;
use uuid::Uuid;

/// Deadline kind: an unpaid order's payment deadline. Payload `{"companyId", "orderId"}`.
pub const PLANS_ORDER_EXPIRY: &str = "plans.order-expiry";
/// Deadline kind: a scheduled degrade's time (the period's end). Payload `{"companyId",
/// "degradeId", "orderId"}`.
pub const PLANS_DEGRADE_DUE: &str = "plans.degrade-due";

/// How often a write re-reads the pending order when another write changed it meanwhile.
const POINTER_ATTEMPTS: usize = 64;

/// The stream of order `id`.
pub(crate) fn order_stream(id: &ObjectId) -> Result<crate::StreamId, EngineError> {
    CommandRunner::stream::<PlanOrder>(id)
}

/// The stream of the company `id`'s wallet.
pub(crate) fn wallet_stream(id: &ObjectId) -> Result<crate::StreamId, EngineError> {
    CommandRunner::stream::<Wallet>(id)
}

fn deadline(kind: &str, due_at: DateTime<Utc>, payload: Value) -> NewDeadline {
    NewDeadline {
        deadline_id: Uuid::now_v7(),
        kind: kind.to_owned(),
        due_at,
        payload,
    }
}

/// Read `order_type`, `plan`, `times`, `products` and `coupon` of a `POST /plan/order` body
/// (seed 004 "POST /order"). `products` is one line `{product_no, quantity}`: the plan's product
/// and the members (owners included). No coupons are offered: any non-null `coupon` is refused.
///
/// Errors: [`PlansError::Field`] naming the field (`order_type`, `plan`, `times`, `products`,
/// `products[0].product_no`, `products[0].quantity`, `coupon`).
pub fn parse_order_request(body: &Map<String, Value>) -> Result<OrderRequest, PlansError> {
    let bad = |f: &str, why: &str| PlansError::Field(FieldError::new(f, why));
    let order_type = match body.get("order_type") {
        None | Some(Value::Null) => return Err(bad("order_type", "is required")),
        Some(Value::String(s)) => OrderType::parse(s.trim()).ok_or_else(|| {
            bad(
                "order_type",
                "must be `newly` (or `new`), `renewal`, `upgrade`, `degrade` or `patch`",
            )
        })?,
        Some(_) => return Err(bad("order_type", "must be a string")),
    };
    let plan = match body.get("plan") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            PlanType::parse(s.trim())
                .filter(|p| p.is_paid())
                .ok_or_else(|| bad("plan", "must be `pro` or `ent`"))?,
        ),
        Some(_) => return Err(bad("plan", "must be `pro` or `ent`")),
    };
    let times = match body.get("times") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|t| u32::try_from(t).ok())
                .ok_or_else(|| bad("times", "must be a whole number of months"))?,
        ),
    };
    let product = match body.get("products") {
        None | Some(Value::Null) => None,
        Some(Value::Array(lines)) => match lines.as_slice() {
            [Value::Object(line)] => {
                let no = match line.get("product_no") {
                    Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
                    _ => return Err(bad("products[0].product_no", "is required (a string)")),
                };
                let quantity = line
                    .get("quantity")
                    .and_then(Value::as_u64)
                    .and_then(|q| u32::try_from(q).ok())
                    .filter(|q| *q > 0)
                    .ok_or_else(|| {
                        bad(
                            "products[0].quantity",
                            "must be a whole number of members ≥ 1",
                        )
                    })?;
                Some((no, quantity))
            }
            [_] => return Err(bad("products[0]", "must be an object")),
            _ => {
                return Err(bad(
                    "products",
                    "must hold exactly one line: the plan's product and the members",
                ));
            }
        },
        Some(_) => return Err(bad("products", "must be an array")),
    };
    match body.get("coupon") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.trim().is_empty() => {}
        Some(_) => return Err(bad("coupon", "no coupon is valid: none are offered")),
    }
    Ok(OrderRequest {
        order_type,
        plan,
        times,
        product,
    })
}

/// A quote and the member limits `POST /plan/order/prepare` shows.
#[derive(Debug)]
pub struct Prepared {
    /// The order's terms, or why it would be refused.
    pub quote: Result<Quote, PlansError>,
    /// The member limit of the plan asked for (or the current plan's), owners included.
    pub member_limit: u32,
    /// Members the company has now.
    pub members_now: u32,
}

/// A payment started for an order.
#[derive(Debug, Clone)]
pub enum Payment {
    /// Paid from the wallet; the position reached.
    Balance(Option<u64>),
    /// An external payment opened (completed by its provider's notification or staff).
    External(super::payments::ExternalPayment),
}

fn member_count(company: &Company) -> u32 {
    u32::try_from(company.members().len()).unwrap_or(u32::MAX)
}

fn order_of<'a>(order: &'a PlanOrder, company_id: &ObjectId) -> Result<&'a OrderState, PlansError> {
    order
        .order()
        .filter(|o| o.company_id == *company_id)
        .ok_or(PlansError::NotFound(Missing::Order))
}

/// What a paid order changes on the team plan.
fn paid_order(order: &OrderState, new_period_id: &ObjectId) -> PaidOrder {
    PaidOrder {
        order_id: order.order_id.clone(),
        order_type: order.quote.order_type,
        plan: order.quote.plan,
        member_count: order.quote.member_count,
        months: order.quote.months,
        period_id: order.quote.period_id.clone(),
        from: order
            .quote
            .proration
            .as_ref()
            .map(|p| (p.from_plan, p.from_member_count)),
        new_period_id: new_period_id.clone(),
        user_id: order.user_id.clone(),
        catalogue_version: order.quote.catalogue_version.clone(),
    }
}

/// Whether the order can be paid now (pending, before its deadline).
fn check_payable(order: &OrderState, now: DateTime<Utc>) -> Result<(), PlansError> {
    match order.status {
        OrderStatus::Pending if order.expires_at.is_some_and(|e| now >= e) => {
            Err(OrderError::NotPayable(OrderStatus::Expired).into())
        }
        OrderStatus::Pending => Ok(()),
        OrderStatus::Paid => Err(OrderError::AlreadyPaid.into()),
        other => Err(OrderError::NotPayable(other).into()),
    }
}

impl PlansService {
    /// Order `order_id` of the company as its events say.
    ///
    /// Errors: [`PlansError::NotFound`] (`Order`) when it is not the company's; engine failures.
    pub async fn order(
        &self,
        company_id: &ObjectId,
        order_id: &ObjectId,
    ) -> Result<OrderState, PlansError> {
        let (order, _) = self
            .runner
            .load::<PlanOrder>(&order_stream(order_id)?)
            .await?;
        Ok(order_of(&order, company_id)?.clone())
    }

    /// The company's pending order id, if any (from the team plan's events).
    ///
    /// Errors: engine failures.
    pub async fn pending_order_id(
        &self,
        company_id: &ObjectId,
    ) -> Result<Option<ObjectId>, PlansError> {
        let team = self.team_plan(company_id).await?;
        Ok(team.pending_order().map(|(id, _)| id.clone()))
    }

    /// Quote `body` for the caller's company without storing anything (`POST
    /// /plan/order/prepare`): exactly the checks of [`PlansService::place_order`] except the
    /// owner check, with their outcome in [`Prepared::quote`].
    ///
    /// Errors: [`PlansError::NotOwner`] (prepare is an owner's step like ordering); engine
    /// failures.
    pub async fn prepare_order(
        &self,
        caller: &Membership,
        body: &Map<String, Value>,
    ) -> Result<Prepared, PlansError> {
        Self::require_owner(caller)?;
        let now = self.now();
        let (company, _) = self
            .runner
            .load::<Company>(&company_stream(&caller.company_id)?)
            .await?;
        let team = self.team_plan(&caller.company_id).await?;
        let desk = self.certification_desk(&caller.company_id).await?;
        let members_now = member_count(&company);
        let request = parse_order_request(body);
        let plan = request
            .as_ref()
            .ok()
            .and_then(|r| r.plan)
            .or_else(|| team.latest_paid().map(|p| p.plan))
            .unwrap_or(PlanType::Pro);
        let quote = request.and_then(|r| {
            quote(
                &r,
                QuoteContext {
                    team: &team,
                    catalogue: self.catalogue(),
                    certifications: &desk,
                    members_now,
                    now,
                },
            )
            .map_err(PlansError::from)
        });
        Ok(Prepared {
            quote,
            member_limit: self.catalogue().member_limit(plan),
            members_now,
        })
    }

    /// Place the order `body` for the caller's company (owners): quoted at the catalogue current
    /// now, stored `pending` until `now + order TTL` (a durable deadline), superseding the
    /// company's previous pending order (`cancelled`); a `degrade` is stored `scheduled` and the
    /// team plan schedules it for the period's end (a durable deadline). Returns the order id
    /// and the position reached.
    ///
    /// Errors: [`PlansError::NotOwner`], [`PlansError::Field`], [`PlansError::Order`] (409:
    /// degrade scheduled, not certified, type not possible now), [`PlansError::NotFound`] (the
    /// caller left meanwhile), engine failures.
    pub async fn place_order(
        &self,
        caller: &Membership,
        body: &Map<String, Value>,
        meta: &EventMetadata,
    ) -> Result<(ObjectId, Option<u64>), PlansError> {
        Self::require_owner(caller)?;
        let request = parse_order_request(body)?;
        let now = self.now();
        let order_id = new_object_id(now);
        let degrade_id = new_object_id(now);
        let expires_at = now + self.settings.order_ttl;
        let company_id = caller.company_id.clone();
        for _ in 0..POINTER_ATTEMPTS {
            let previous = self.pending_order_id(&company_id).await?;
            let mut atomic = self.runner.atomic(meta);
            let company = atomic.stream::<Company>(&company_stream(&company_id)?);
            let team = atomic.stream::<TeamPlan>(&team_plan_stream(&company_id)?);
            let desk = atomic.stream::<CertificationDesk>(&desk_stream(&company_id)?);
            let order = atomic.stream::<PlanOrder>(&order_stream(&order_id)?);
            let superseded = match &previous {
                Some(p) => Some(atomic.stream::<PlanOrder>(&order_stream(p)?)),
                None => None,
            };
            let committed = atomic
                .run(|d| {
                    let company_state = d.state(company)?;
                    check_owner(company_state, caller)?;
                    let members_now = member_count(company_state);
                    let team_state = d.state(team)?;
                    if team_state.pending_order().map(|(id, _)| id) != previous.as_ref() {
                        return Ok(false);
                    }
                    let quoted = quote(
                        &request,
                        QuoteContext {
                            team: team_state,
                            catalogue: self.catalogue(),
                            certifications: d.state(desk)?,
                            members_now,
                            now,
                        },
                    )?;
                    let degrade = quoted.order_type == OrderType::Degrade;
                    let placed = OrderCommand::Place {
                        order_id: order_id.clone(),
                        company_id: company_id.clone(),
                        user_id: caller.user_id.clone(),
                        quote: quoted.clone(),
                        degrade_id: Some(degrade_id.clone()),
                        expires_at: Some(expires_at),
                        now,
                    };
                    d.decide(order, &placed)
                        .map_err(|e| e.map_rejected(PlansError::from))?;
                    let team_events = if degrade {
                        if let Some(p) = &previous {
                            let clear = TeamPlanCommand::ClearPendingOrder {
                                order_id: p.clone(),
                                reason: PendingEnd::Superseded,
                                now,
                            };
                            d.decide(team, &clear)
                                .map_err(|e| e.map_rejected(PlansError::from))?;
                        }
                        let schedule = TeamPlanCommand::ScheduleDegrade {
                            company_id: company_id.clone(),
                            degrade_id: degrade_id.clone(),
                            order_id: order_id.clone(),
                            plan: quoted.plan,
                            member_count: quoted.member_count,
                            now,
                        };
                        d.decide(team, &schedule)
                            .map_err(|e| e.map_rejected(PlansError::from))?
                    } else {
                        let set = TeamPlanCommand::SetPendingOrder {
                            company_id: company_id.clone(),
                            order_id: order_id.clone(),
                            expires_at,
                            now,
                        };
                        d.decide(team, &set)
                            .map_err(|e| e.map_rejected(PlansError::from))?;
                        d.schedule(
                            order,
                            vec![deadline(
                                PLANS_ORDER_EXPIRY,
                                expires_at,
                                json!({"companyId": company_id, "orderId": order_id}),
                            )],
                        )?;
                        Vec::new()
                    };
                    d.schedule(team, deadlines_for(&team_events))?;
                    if let Some(old) = superseded {
                        let cancel = OrderCommand::Cancel {
                            reason: CancelReason::Superseded,
                            now,
                        };
                        d.decide(old, &cancel)
                            .map_err(|e| e.map_rejected(PlansError::from))?;
                    }
                    Ok::<_, PlansError>(true)
                })
                .await?;
            if committed.value {
                return Ok((order_id, committed.position()));
            }
        }
        Err(EngineError::Contended {
            stream: team_plan_stream(&company_id)?,
            attempts: POINTER_ATTEMPTS as u32,
        }
        .into())
    }

    /// Pay order `order_id` (or, with `None`, the company's pending order) with `method`
    /// (owners). `balance` pays at once from the wallet — the spend (granted credit first), the
    /// order becoming `paid` and its effect on the team plan in one atomic commit; other methods
    /// open an external payment ([`PlansService::start_external_payment`]) completed later by
    /// [`PlansService::settle_order_payment`]. Returns the order id and what was started.
    ///
    /// Errors: [`PlansError::NotOwner`], [`PlansError::Field`] (`payment_method`),
    /// [`PlansError::NotFound`] (`Order`: none pending, or not the company's),
    /// [`PlansError::Order`] (409: paid already, expired, cancelled, scheduled, no longer fits),
    /// [`PlansError::Wallet`] (409: the balance does not cover it), engine failures.
    pub async fn pay_order(
        &self,
        caller: &Membership,
        order_id: Option<&ObjectId>,
        method: &str,
        meta: &EventMetadata,
    ) -> Result<(ObjectId, Payment), PlansError> {
        Self::require_owner(caller)?;
        let method = PaymentMethod::parse(method.trim()).ok_or_else(|| {
            FieldError::new(
                "payment_method",
                "must be `balance`, `alipay`, `wxpay` or `banktrans`",
            )
        })?;
        let company_id = caller.company_id.clone();
        let order_id = match order_id {
            Some(id) => id.clone(),
            None => self
                .pending_order_id(&company_id)
                .await?
                .ok_or(PlansError::NotFound(Missing::Order))?,
        };
        if method != PaymentMethod::Balance {
            let order = self.order(&company_id, &order_id).await?;
            check_payable(&order, self.now())?;
            let description = format!(
                "Tessera {} plan ({}) × {} members",
                order.quote.plan.as_str(),
                order.quote.order_type.as_str(),
                order.quote.member_count
            );
            let request = PaymentRequest {
                purpose: PaymentPurpose::Order {
                    order_id: order_id.clone(),
                },
                amount_fen: order.quote.amount_fen,
                method,
                description,
            };
            let payment = self
                .start_external_payment(&company_id, &caller.user_id, request, meta)
                .await?;
            return Ok((order_id, Payment::External(payment)));
        }
        let now = self.now();
        let new_period_id = new_object_id(now);
        let entry_id = new_object_id(now);
        let grace = self.settings.grace;
        let mut atomic = self.runner.atomic(meta);
        let company = atomic.stream::<Company>(&company_stream(&company_id)?);
        let order = atomic.stream::<PlanOrder>(&order_stream(&order_id)?);
        let team = atomic.stream::<TeamPlan>(&team_plan_stream(&company_id)?);
        let wallet = atomic.stream::<Wallet>(&wallet_stream(&company_id)?);
        let committed = atomic
            .run(|d| {
                check_owner(d.state(company)?, caller)?;
                let state = order_of(d.state(order)?, &company_id)?.clone();
                check_payable(&state, now)?;
                let applied = d
                    .decide(
                        team,
                        &TeamPlanCommand::ApplyOrder {
                            company_id: company_id.clone(),
                            order: paid_order(&state, &new_period_id),
                            grace,
                            now,
                        },
                    )
                    .map_err(|e| e.map_rejected(PlansError::from))?;
                d.schedule(team, deadlines_for(&applied))?;
                let spend = WalletCommand::Spend {
                    company_id: company_id.clone(),
                    entry_id: entry_id.clone(),
                    order_id: order_id.clone(),
                    amount_fen: state.quote.amount_fen,
                    now,
                };
                d.decide(wallet, &spend)
                    .map_err(|e| e.map_rejected(PlansError::from))?;
                let pay = OrderCommand::Pay {
                    method: PaymentMethod::Balance,
                    payment_id: None,
                    period_id: state
                        .quote
                        .period_id
                        .clone()
                        .unwrap_or_else(|| new_period_id.clone()),
                    now,
                };
                d.decide(order, &pay)
                    .map_err(|e| e.map_rejected(PlansError::from))?;
                Ok::<_, PlansError>(())
            })
            .await?;
        Ok((order_id, Payment::Balance(committed.position())))
    }

    /// Deliver a succeeded external payment (`alipay`, `wxpay`, `banktrans`) of `amount_fen` CNY
    /// fen to order `order_id`: the order becomes paid and takes effect. Idempotent by
    /// `payment_id` (a repeated delivery changes nothing); when the order can no longer be paid
    /// (paid by another payment, expired, cancelled) the amount is credited to the company
    /// wallet as paid credit instead, so no payment is lost. Returns the position reached
    /// (`None` when nothing changed).
    ///
    /// The order is paid only when `amount_fen` is its price; a different amount, or an order
    /// that no longer fits the team plan (changed since it was placed), is credited to the wallet
    /// too (docs/decisions/0027-plans-orders-and-wallet.md).
    ///
    /// Errors: engine failures (the caller retries the delivery).
    pub async fn settle_order_payment(
        &self,
        company_id: &ObjectId,
        order_id: &ObjectId,
        payment_id: &ObjectId,
        amount_fen: i64,
        method: PaymentMethod,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, PlansError> {
        let now = self.now();
        let new_period_id = new_object_id(now);
        let entry_id = new_object_id(now);
        let grace = self.settings.grace;
        let reference = payment_id.to_string();
        let mut atomic = self.runner.atomic(meta);
        let order = atomic.stream::<PlanOrder>(&order_stream(order_id)?);
        let team = atomic.stream::<TeamPlan>(&team_plan_stream(company_id)?);
        let wallet = atomic.stream::<Wallet>(&wallet_stream(company_id)?);
        let committed = atomic
            .run(|d| {
                let state = d.state(order)?.order().cloned();
                // Delivered before: the order names this payment, or the wallet took it.
                if d.state(wallet)?.has_reference(&reference)
                    || state.as_ref().is_some_and(|o| o.paid_by(payment_id))
                {
                    return Ok::<_, PlansError>(());
                }
                let fits = state.as_ref().filter(|o| {
                    o.company_id == *company_id
                        && o.quote.amount_fen == amount_fen
                        && check_payable(o, now).is_ok()
                });
                if let Some(o) = fits {
                    let applied = d.decide(
                        team,
                        &TeamPlanCommand::ApplyOrder {
                            company_id: company_id.clone(),
                            order: paid_order(o, &new_period_id),
                            grace,
                            now,
                        },
                    );
                    if let Ok(events) = applied {
                        d.schedule(team, deadlines_for(&events))?;
                        let pay = OrderCommand::Pay {
                            method,
                            payment_id: Some(payment_id.clone()),
                            period_id: o
                                .quote
                                .period_id
                                .clone()
                                .unwrap_or_else(|| new_period_id.clone()),
                            now,
                        };
                        d.decide(order, &pay)
                            .map_err(|e| e.map_rejected(PlansError::from))?;
                        return Ok(());
                    }
                }
                if amount_fen > 0 {
                    let credit = WalletCommand::Credit {
                        company_id: company_id.clone(),
                        entry_id: entry_id.clone(),
                        reference: reference.clone(),
                        kind: CreditKind::Refund,
                        paid_fen: amount_fen,
                        granted_fen: 0,
                        reason: Some(format!(
                            "payment for order {order_id}, which could not be paid"
                        )),
                        now,
                    };
                    d.decide(wallet, &credit)
                        .map_err(|e| e.map_rejected(PlansError::from))?;
                }
                Ok(())
            })
            .await?;
        Ok(committed.position())
    }

    /// Cancel the company's scheduled degrade (`DELETE /plan/degrade`, owners): the team plan
    /// forgets it and its order becomes `cancelled`, in one commit. Returns the position
    /// reached.
    ///
    /// Errors: [`PlansError::NotOwner`], [`PlansError::NotFound`] (`Degrade`: none scheduled),
    /// engine failures.
    pub async fn cancel_degrade(
        &self,
        caller: &Membership,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, PlansError> {
        Self::require_owner(caller)?;
        let company_id = caller.company_id.clone();
        for _ in 0..POINTER_ATTEMPTS {
            let team_now = self.team_plan(&company_id).await?;
            let Some(scheduled) = team_now.degrade().cloned() else {
                return Err(PlansError::NotFound(Missing::Degrade));
            };
            let now = self.now();
            let mut atomic = self.runner.atomic(meta);
            let company = atomic.stream::<Company>(&company_stream(&company_id)?);
            let team = atomic.stream::<TeamPlan>(&team_plan_stream(&company_id)?);
            let order = atomic.stream::<PlanOrder>(&order_stream(&scheduled.order_id)?);
            let committed = atomic
                .run(|d| {
                    check_owner(d.state(company)?, caller)?;
                    match d.state(team)?.degrade() {
                        None => return Err(PlansError::NotFound(Missing::Degrade)),
                        Some(s) if s.degrade_id != scheduled.degrade_id => return Ok(false),
                        Some(_) => {}
                    }
                    d.decide(team, &TeamPlanCommand::CancelDegrade { now })
                        .map_err(|e| e.map_rejected(PlansError::from))?;
                    let cancel = OrderCommand::Cancel {
                        reason: CancelReason::Cancelled,
                        now,
                    };
                    d.decide(order, &cancel)
                        .map_err(|e| e.map_rejected(PlansError::from))?;
                    Ok(true)
                })
                .await?;
            if committed.value {
                return Ok(committed.position());
            }
        }
        Err(EngineError::Contended {
            stream: team_plan_stream(&company_id)?,
            attempts: POINTER_ATTEMPTS as u32,
        }
        .into())
    }

    /// Expire order `order_id` if it is still unpaid past its deadline (its deadline's handler):
    /// the order becomes `expired` and stops being the company's pending order, in one commit;
    /// nothing otherwise. Returns the position reached.
    ///
    /// Errors: engine failures.
    pub async fn expire_order(
        &self,
        company_id: &ObjectId,
        order_id: &ObjectId,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, PlansError> {
        let mut atomic = self.runner.atomic(&EventMetadata::default());
        let order = atomic.stream::<PlanOrder>(&order_stream(order_id)?);
        let team = atomic.stream::<TeamPlan>(&team_plan_stream(company_id)?);
        let committed = atomic
            .run(|d| {
                let expired = d
                    .decide(order, &OrderCommand::Expire { now })
                    .map_err(|e| e.map_rejected(PlansError::from))?;
                if !expired.is_empty() {
                    let clear = TeamPlanCommand::ClearPendingOrder {
                        order_id: order_id.clone(),
                        reason: PendingEnd::Expired,
                        now,
                    };
                    d.decide(team, &clear)
                        .map_err(|e| e.map_rejected(PlansError::from))?;
                }
                Ok::<_, PlansError>(())
            })
            .await?;
        Ok(committed.position())
    }

    /// Apply the scheduled degrade `degrade_id` if its time has come (its deadline's handler):
    /// the period's plan and members are lowered and the degrade order becomes `completed`, in
    /// one commit; nothing when it was cancelled or is not due. Returns the position reached.
    ///
    /// Errors: engine failures.
    pub async fn apply_degrade(
        &self,
        company_id: &ObjectId,
        degrade_id: &ObjectId,
        order_id: &ObjectId,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, PlansError> {
        let mut atomic = self.runner.atomic(&EventMetadata::default());
        let team = atomic.stream::<TeamPlan>(&team_plan_stream(company_id)?);
        let order = atomic.stream::<PlanOrder>(&order_stream(order_id)?);
        let committed = atomic
            .run(|d| {
                let applied = d
                    .decide(
                        team,
                        &TeamPlanCommand::ApplyDegrade {
                            degrade_id: degrade_id.clone(),
                            now,
                        },
                    )
                    .map_err(|e| e.map_rejected(PlansError::from))?;
                if !applied.is_empty() {
                    d.decide(order, &OrderCommand::Complete { now })
                        .map_err(|e| e.map_rejected(PlansError::from))?;
                }
                Ok::<_, PlansError>(())
            })
            .await?;
        Ok(committed.position())
    }
}
