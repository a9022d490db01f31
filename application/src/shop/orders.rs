//! Orders (seed 002 "订单 API"): place an order (every line's stock reserved, the order written, its
//! `order_item_id`s taken and its expiry deadline scheduled, in ONE atomic commit with an expected
//! version per stream — docs/decisions/0021-shop-order-reservation.md), the admin's changes
//! (cancel and refund return the stock in the same commit; marking paid stops the expiry), the
//! expiry deadline ([`ShopOrderExpiry`]) and [`ShopService::record_order_payment`] for the payment
//! routes.

use super::numbers::{next_number, sequence_stream, take};
use super::{ShopError, ShopService};
use crate::command::{CommandRunner, Decisions, Handle};
use crate::deadlines::{Deadline, DeadlineHandler, NewDeadline};
use crate::event_store::EventMetadata;
use crate::process::HandlerError;
use async_trait::async_trait;
use std::sync::Arc;
use tessera_domain::UserId;
use tessera_domain::shared::{Currency, FieldError, Money};
use tessera_domain::shop::customer::ShopCustomer;
use tessera_domain::shop::order::{
    MAX_LINES, MAX_QUANTITY, OrderCommand, OrderEvent, OrderLine, OrderStatus, PaidBy, PlacedOrder,
    RefundReason, ShopOrder, ShopOrderId,
};
use tessera_domain::shop::product::{ProductCommand, ProductError, ShopProduct};
use tessera_domain::shop::sequence::{SequenceKind, ShopSequence};
use uuid::Uuid;

/// Deadline kind of an order's expiry; its payload is `{"orderId": "ORDER…"}`.
pub const SHOP_ORDER_EXPIRY: &str = "shopOrderExpiry";

/// Default time an unpaid order holds its stock (`TESSERA_SHOP_ORDER_TTL_SECS`), in seconds.
pub const DEFAULT_ORDER_TTL_SECS: i64 = 900;

/// One requested line: a product and how many units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderItemInput {
    /// The product.
    pub product_id: u64,
    /// Units (1–[`MAX_QUANTITY`]).
    pub quantity: u32,
}

/// An order as the buyer sends it: prices are not part of it (the server prices every line from
/// the product as it is in the placing commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewShopOrder {
    /// Lines in the request's order. The same product twice is merged into one line (quantities
    /// added); errors name the first occurrence (`items[0].quantity`).
    pub items: Vec<OrderItemInput>,
    /// `微信支付`/`wxpay` or `会员卡`/`balance` (kept as written).
    pub payment_method: String,
}

/// What `PUT /api/orders/:id` changes; each only when given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderChange {
    /// New status number (0–4).
    pub status: Option<u8>,
    /// New payment method text.
    pub payment_method: Option<String>,
    /// New payment id (`Some(None)` clears it).
    pub payment_id: Option<Option<String>>,
}

/// What [`ShopService::record_order_payment`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentRecorded {
    /// The unpaid order is paid now (`ShopOrderPaid`).
    Paid,
    /// The payment cannot pay the order — it is paid with another payment, the amount is not its
    /// total, or it was cancelled, expired or refunded (the [`RefundReason`]): it is recorded as
    /// needing a refund (`ShopOrderPaymentNeedsRefund`); status, payment and stock untouched.
    NeedsRefund(RefundReason),
    /// This payment id was recorded before (a repeated notification): nothing changed.
    AlreadyRecorded,
}

/// The stream of order `id`: `shopOrder-{id}`.
pub fn order_stream(id: &ShopOrderId) -> Result<crate::StreamId, ShopError> {
    Ok(CommandRunner::stream::<ShopOrder>(id)?)
}

/// Metadata of what a deadline does: `{"trigger": "deadline"}`.
fn deadline_meta() -> EventMetadata {
    let mut meta = EventMetadata::default();
    meta.extra
        .insert("trigger".into(), serde_json::json!("deadline"));
    meta
}

/// The requested lines merged by product, each with the index of its first occurrence.
fn merge(items: &[OrderItemInput]) -> Result<Vec<(usize, OrderItemInput)>, ShopError> {
    if items.is_empty() {
        return Err(FieldError::new("items", "至少需要一个商品").into());
    }
    let mut merged: Vec<(usize, OrderItemInput)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if item.quantity == 0 || item.quantity > MAX_QUANTITY {
            return Err(FieldError::new(
                format!("items[{i}].quantity"),
                format!("应为 1 到 {MAX_QUANTITY} 的整数"),
            )
            .into());
        }
        match merged
            .iter_mut()
            .find(|(_, m)| m.product_id == item.product_id)
        {
            Some((first, m)) => {
                m.quantity += item.quantity;
                if m.quantity > MAX_QUANTITY {
                    return Err(FieldError::new(
                        format!("items[{first}].quantity"),
                        format!("同一商品合计不能超过 {MAX_QUANTITY}"),
                    )
                    .into());
                }
            }
            None => merged.push((i, *item)),
        }
    }
    if merged.len() > MAX_LINES {
        return Err(FieldError::new("items", format!("最多 {MAX_LINES} 种商品")).into());
    }
    Ok(merged)
}

/// A product's refusal of a reservation, as the error of request line `index`.
fn line_error(index: usize, product_id: u64, e: ProductError) -> ShopError {
    let at = |f: &str| format!("items[{index}].{f}");
    match e {
        ProductError::NotFound => {
            FieldError::new(at("product_id"), format!("商品 {product_id} 不存在")).into()
        }
        ProductError::OffSale => {
            FieldError::new(at("product_id"), format!("商品 {product_id} 已下架")).into()
        }
        ProductError::InsufficientStock { available } => FieldError::new(
            at("quantity"),
            format!("商品 {product_id} 库存不足（剩余 {available}）"),
        )
        .into(),
        ProductError::Field(f) => FieldError::new(at("quantity"), f.reason).into(),
        other => ShopError::from(other),
    }
}

/// Inside an atomic decision: give back every line's units of `order` (`reason`: why).
fn release_all(
    d: &mut Decisions,
    products: &[(u64, Handle<ShopProduct>)],
    placed: &PlacedOrder,
    reason: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ShopError> {
    for line in &placed.lines {
        let Some((_, handle)) = products.iter().find(|(id, _)| *id == line.product_id) else {
            continue;
        };
        d.decide(
            *handle,
            &ProductCommand::Release {
                order_id: placed.order_id.to_string(),
                quantity: line.quantity,
                reason: reason.to_owned(),
                now,
            },
        )
        .map_err(|e| e.map_rejected(ShopError::from))?;
    }
    Ok(())
}

impl ShopService {
    /// `POST /api/orders`: price every line from the product, reserve its stock, take the lines'
    /// `order_item_id`s, write the order (status 0) and schedule its expiry — one atomic commit
    /// over the products, the order, the `orderItem` counter (and the buyer's shop user, read
    /// only). A version conflict on any of them re-decides all of it; any refusal writes nothing.
    /// Returns the order as placed and the position reached.
    ///
    /// Errors: [`ShopError::Field`] (`items`, `items[i].product_id` for a missing, deleted or
    /// off-sale product, `items[i].quantity` for a bad quantity or too little stock,
    /// `payment_method`), [`ShopError::NotAShopUser`], engine failures.
    pub async fn place_order(
        &self,
        buyer: UserId,
        order: NewShopOrder,
        meta: &EventMetadata,
    ) -> Result<(ShopOrder, Option<u64>), ShopError> {
        let lines = merge(&order.items)?;
        let meta = {
            let mut m = meta.clone();
            m.actor_user_id.get_or_insert_with(|| buyer.to_string());
            m
        };
        let sequence_stream = sequence_stream(SequenceKind::OrderItem)?;
        let customer_stream = CommandRunner::stream::<ShopCustomer>(buyer)?;
        let product_streams = lines
            .iter()
            .map(|(_, l)| super::catalog::product_stream(l.product_id))
            .collect::<Result<Vec<_>, _>>()?;
        next_number(&self.runner, SequenceKind::OrderItem, |first| {
            let now = self.now();
            let expires_at = now + self.order_ttl;
            // Random, never a counter: the id is all a buyer needs to act on an order.
            let order_id = ShopOrderId::from_random(Uuid::new_v4().as_u128());
            let mut atomic = self.runner.atomic(&meta);
            let sequence = atomic.stream::<ShopSequence>(&sequence_stream);
            let customer = atomic.stream::<ShopCustomer>(&customer_stream);
            let products: Vec<Handle<ShopProduct>> = product_streams
                .iter()
                .map(|s| atomic.stream::<ShopProduct>(s))
                .collect();
            let stream = order_stream(&order_id);
            let lines = lines.clone();
            let payment_method = order.payment_method.clone();
            async move {
                let stream = stream?;
                let placing = atomic.stream::<ShopOrder>(&stream);
                let committed = atomic
                    .run(|d| {
                        let user_id = d
                            .state(customer)?
                            .user_id()
                            .ok_or(ShopError::NotAShopUser)?;
                        let mut bought = Vec::with_capacity(lines.len());
                        let mut total = Money::zero(Currency::CNY);
                        for (n, ((index, item), handle)) in lines.iter().zip(&products).enumerate()
                        {
                            let (name, price) = match d.state(*handle)?.fields() {
                                Some(f) => (f.name.clone(), f.price),
                                None => (String::new(), Money::zero(Currency::CNY)),
                            };
                            d.decide(
                                *handle,
                                &ProductCommand::Reserve {
                                    order_id: order_id.to_string(),
                                    quantity: item.quantity,
                                    now,
                                },
                            )
                            .map_err(|e| {
                                e.map_rejected(|e| line_error(*index, item.product_id, e))
                            })?;
                            let line_total = price.checked_mul(item.quantity).map_err(|e| {
                                FieldError::new(format!("items[{index}].quantity"), e.to_string())
                            })?;
                            total = total
                                .checked_add(&line_total)
                                .map_err(|e| FieldError::new("items", e.to_string()))?;
                            let order_item_id = first + n as u64;
                            take(
                                d,
                                sequence,
                                SequenceKind::OrderItem,
                                order_item_id,
                                &stream,
                                now,
                            )?;
                            bought.push(OrderLine {
                                order_item_id,
                                product_id: item.product_id,
                                product_name: name,
                                quantity: item.quantity,
                                unit_price: price,
                                total_price: line_total,
                            });
                        }
                        let place = OrderCommand::Place(PlacedOrder {
                            order_id: order_id.clone(),
                            user_id,
                            account_id: buyer,
                            lines: bought,
                            total_amount: total,
                            payment_method: payment_method.clone(),
                            expires_at,
                            placed_at: now,
                        });
                        d.decide(placing, &place)
                            .map_err(|e| e.map_rejected(ShopError::from))?;
                        d.schedule(
                            placing,
                            vec![NewDeadline {
                                deadline_id: Uuid::now_v7(),
                                kind: SHOP_ORDER_EXPIRY.into(),
                                due_at: expires_at,
                                payload: serde_json::json!({ "orderId": order_id }),
                            }],
                        )?;
                        Ok::<_, ShopError>(d.state(placing)?.clone())
                    })
                    .await?;
                let position = committed.position();
                Ok((committed.value, position))
            }
        })
        .await
    }

    /// The order `id` as its stream holds it (`ShopOrder::default()` when there is none).
    ///
    /// Errors: engine failures.
    pub async fn order(&self, id: &ShopOrderId) -> Result<ShopOrder, ShopError> {
        Ok(self.runner.load::<ShopOrder>(&order_stream(id)?).await?.0)
    }

    /// `PUT /api/orders/:id` (admin): change status, payment method and payment id, as events
    /// naming the admin. Status 1 marks an unpaid order paid (its expiry then does nothing);
    /// 2 cancels an unpaid one and 4 refunds a paid one, each returning every line's stock in the
    /// same commit; 0 and 3 are only accepted when already so (3 is the expiry's). Method and id
    /// given with status 1 go into the payment; otherwise they change on their own. Returns the
    /// order after the change and the position reached (`None`: nothing changed).
    ///
    /// Errors: [`ShopError::NotFound`] (`Order`: never placed or deleted),
    /// [`ShopError::OrderTransition`], [`ShopError::AlreadyPaid`], [`ShopError::Field`]
    /// (`payment_method`, `payment_id`), engine failures.
    pub async fn update_order(
        &self,
        admin: UserId,
        id: &ShopOrderId,
        change: OrderChange,
        meta: &EventMetadata,
    ) -> Result<(ShopOrder, Option<u64>), ShopError> {
        let current = self.order(id).await?;
        let Some(placed) = current.placed().filter(|_| !current.is_deleted()) else {
            return Err(ShopError::NotFound(super::Missing::Order));
        };
        let product_ids: Vec<u64> = placed.lines.iter().map(|l| l.product_id).collect();
        let mut meta = meta.clone();
        meta.actor_user_id.get_or_insert_with(|| admin.to_string());
        let mut atomic = self.runner.atomic(&meta);
        let order = atomic.stream::<ShopOrder>(&order_stream(id)?);
        let mut products = Vec::with_capacity(product_ids.len());
        for p in product_ids {
            products.push((
                p,
                atomic.stream::<ShopProduct>(&super::catalog::product_stream(p)?),
            ));
        }
        let now = self.now();
        let committed = atomic
            .run(|d| {
                let state = d.state(order)?.clone();
                let (Some(placed), Some(status)) = (state.placed(), state.status()) else {
                    return Err(ShopError::NotFound(super::Missing::Order));
                };
                if state.is_deleted() {
                    return Err(ShopError::NotFound(super::Missing::Order));
                }
                let mut payment_done = false;
                let wanted = change
                    .status
                    .and_then(|n| OrderStatus::from_number(n.into()));
                if let Some(n) = change.status.filter(|_| wanted.is_none()) {
                    return Err(FieldError::new("status", format!("无效的订单状态 {n}")).into());
                }
                let decide = |d: &mut Decisions, c: &OrderCommand| {
                    d.decide(order, c)
                        .map_err(|e| e.map_rejected(ShopError::from))
                };
                match wanted {
                    None => {}
                    Some(w) if w == status => {}
                    Some(OrderStatus::Paid) => {
                        decide(
                            d,
                            &OrderCommand::Pay {
                                payment_method: change.payment_method.clone(),
                                payment_id: change.payment_id.clone().flatten(),
                                amount: placed.total_amount,
                                by: PaidBy::Admin(admin),
                                now,
                            },
                        )?;
                        payment_done = true;
                    }
                    Some(OrderStatus::Cancelled) => {
                        decide(d, &OrderCommand::Cancel { by: admin, now })?;
                        release_all(d, &products, placed, "cancelled", now)?;
                    }
                    Some(OrderStatus::Refunded) => {
                        decide(d, &OrderCommand::Refund { by: admin, now })?;
                        release_all(d, &products, placed, "refunded", now)?;
                    }
                    Some(w) => {
                        return Err(ShopError::OrderTransition {
                            from: status.number(),
                            to: w.number(),
                        });
                    }
                }
                if !payment_done && (change.payment_method.is_some() || change.payment_id.is_some())
                {
                    decide(
                        d,
                        &OrderCommand::ChangePayment {
                            payment_method: change.payment_method.clone(),
                            payment_id: change.payment_id.clone(),
                            by: admin,
                            now,
                        },
                    )?;
                }
                Ok::<_, ShopError>(d.state(order)?.clone())
            })
            .await?;
        let position = committed.position();
        Ok((committed.value, position))
    }

    /// `DELETE /api/orders/:id` (admin): hide the order; its history and its stock stay as they
    /// are (an unpaid hidden order still expires and returns its stock). Deleting twice changes
    /// nothing.
    ///
    /// Errors: [`ShopError::NotFound`] (`Order`), engine failures.
    pub async fn delete_order(
        &self,
        admin: UserId,
        id: &ShopOrderId,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, ShopError> {
        let mut meta = meta.clone();
        meta.actor_user_id.get_or_insert_with(|| admin.to_string());
        let decided = self
            .runner
            .run::<ShopOrder>(
                &order_stream(id)?,
                &OrderCommand::Delete {
                    by: admin,
                    now: self.now(),
                },
                &meta,
            )
            .await
            .map_err(|e| e.map_rejected(ShopError::from))?;
        Ok(decided.position())
    }

    /// For the payment routes: a payment of `amount` with `payment_id` arrived for `order_id`
    /// through `by` (`PaidBy::Channel("wxpay")`, …). An unpaid order becomes paid (its expiry then
    /// does nothing); the same payment id again changes nothing (repeated notifications). Money
    /// that cannot pay the order is recorded once per payment id as needing a refund
    /// (`ShopOrderPaymentNeedsRefund`, docs/shop.md "Orders"), status, payment and stock
    /// untouched: a paid order with another id (`alreadyPaid`), an amount other than the total
    /// (`amountMismatch`), a cancelled, expired or refunded order (`notPayable`). Returns what was
    /// done and the position reached.
    ///
    /// Errors: [`ShopError::NotFound`] (`Order`: never placed), [`ShopError::Field`] (a payment
    /// method or id too long), engine failures; with [`PaidBy::Admin`] also
    /// [`ShopError::AlreadyPaid`], [`ShopError::AmountMismatch`], [`ShopError::OrderTransition`].
    pub async fn record_order_payment(
        &self,
        order_id: &ShopOrderId,
        payment_method: Option<String>,
        payment_id: String,
        amount: Money,
        by: PaidBy,
        meta: &EventMetadata,
    ) -> Result<(PaymentRecorded, Option<u64>), ShopError> {
        let decided = self
            .runner
            .run::<ShopOrder>(
                &order_stream(order_id)?,
                &OrderCommand::Pay {
                    payment_method,
                    payment_id: Some(payment_id),
                    amount,
                    by,
                    now: self.now(),
                },
                meta,
            )
            .await
            .map_err(|e| e.map_rejected(ShopError::from))?;
        let what = match decided.events.first() {
            Some(OrderEvent::Paid { .. }) => PaymentRecorded::Paid,
            Some(OrderEvent::PaymentNeedsRefund { reason, .. }) => {
                PaymentRecorded::NeedsRefund(*reason)
            }
            Some(_) => PaymentRecorded::AlreadyRecorded,
            None => PaymentRecorded::AlreadyRecorded,
        };
        Ok((what, decided.position()))
    }

    /// The expiry deadline of `order_id`: an order still unpaid at its `expires_at` expires and
    /// every line's stock comes back, in one atomic commit; otherwise (paid, cancelled, already
    /// expired, never written) nothing happens, so a second firing is harmless.
    ///
    /// Errors: engine failures (the scheduler retries).
    pub async fn expire_order(&self, order_id: &ShopOrderId) -> Result<(), ShopError> {
        let current = self.order(order_id).await?;
        let Some(placed) = current.placed() else {
            return Ok(());
        };
        let product_ids: Vec<u64> = placed.lines.iter().map(|l| l.product_id).collect();
        let mut atomic = self.runner.atomic(&deadline_meta());
        let order = atomic.stream::<ShopOrder>(&order_stream(order_id)?);
        let mut products = Vec::with_capacity(product_ids.len());
        for p in product_ids {
            products.push((
                p,
                atomic.stream::<ShopProduct>(&super::catalog::product_stream(p)?),
            ));
        }
        let now = self.now();
        atomic
            .run(|d| {
                let expired = d
                    .decide(order, &OrderCommand::Expire { now })
                    .map_err(|e| e.map_rejected(ShopError::from))?;
                if expired.is_empty() {
                    return Ok(());
                }
                let placed = d
                    .state(order)?
                    .placed()
                    .cloned()
                    .ok_or(ShopError::NotFound(super::Missing::Order))?;
                release_all(d, &products, &placed, "expired", now)
            })
            .await?;
        Ok(())
    }
}

/// Why a [`SHOP_ORDER_EXPIRY`] deadline's payload was unusable.
#[derive(Debug, thiserror::Error)]
#[error("shop order-expiry deadline payload has no valid orderId")]
pub struct ExpiryPayloadError;

/// Fires [`SHOP_ORDER_EXPIRY`] deadlines through [`ShopService::expire_order`].
pub struct ShopOrderExpiry(pub Arc<ShopService>);

#[async_trait]
impl DeadlineHandler for ShopOrderExpiry {
    async fn fire(&self, deadline: &Deadline) -> Result<(), HandlerError> {
        let id = deadline.payload["orderId"]
            .as_str()
            .and_then(|s| ShopOrderId::parse(s).ok())
            .ok_or(ExpiryPayloadError)?;
        Ok(self.0.expire_order(&id).await?)
    }
}
