//! Payments (seed 000 §6, §7): the payment methods offered, opening an order's payment with WeChat
//! Pay (JSAPI) or the Mock method, a payment the client reports (`POST /third_party_transactions`,
//! confirmed with WeChat Pay first), and WeChat Pay's payment notifications. Recording a payment
//! sells the order's stock, then marks it paid (or refund-pending when a late payment finds the
//! stock gone).

use super::{
    MOCK_PAY, MeetingService, MeetingServiceError, Missing, TransactionRefusal, WECHAT_PAY,
};
use crate::command::{CommandError, CommandRunner};
use crate::event_store::EventMetadata;
use crate::payments::wechatpay::{JsapiOrder, TradeState};
use tessera_domain::UserId;
use tessera_domain::identity::Role;
use tessera_domain::meeting::order::{MeetingOrder, OrderCommand, OrderError, OrderStatus};
use tessera_domain::meeting::{Meeting, MeetingCommand, MeetingError, MeetingOrderId, StockLine};
use tessera_domain::shared::{Currency, Money};
use uuid::Uuid;

/// A payment method this server offers (`GET /payment_methods`); the api layer names it for
/// buyers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentMethod {
    /// WeChat Pay API v3 JSAPI, offered when a merchant is configured.
    WechatPay,
    /// Mock payments (development only).
    Mock,
}

impl PaymentMethod {
    /// The id clients send as `paymentMethodId` and orders record ([`WECHAT_PAY`], [`MOCK_PAY`]).
    pub fn id(self) -> &'static str {
        match self {
            PaymentMethod::WechatPay => WECHAT_PAY,
            PaymentMethod::Mock => MOCK_PAY,
        }
    }
}

/// What `POST /transactions` answers (seed 000 §7).
#[derive(Debug, Clone, PartialEq)]
pub struct TransactionInfo {
    /// The order being paid.
    pub order_id: MeetingOrderId,
    /// Amount due (CNY): the order's total.
    pub amount: Money,
    /// Who is paid: the WeChat Pay merchant id, or `mock`.
    pub third_party_payee_id: String,
    /// The order's payment method.
    pub payment_method_id: String,
    /// The client's payment parameters (WeChat Pay JSAPI), if any.
    pub third_party_transaction_info: Option<serde_json::Value>,
}

impl MeetingService {
    /// `GET /payment_methods`: WeChat Pay when configured, Mock when enabled.
    pub fn payment_methods(&self) -> Vec<PaymentMethod> {
        let mut v = Vec::new();
        if self.wechat_pay.is_some() {
            v.push(PaymentMethod::WechatPay);
        }
        if self.settings.mock_payments {
            v.push(PaymentMethod::Mock);
        }
        v
    }

    /// Open the payment of an unpaid order with its provider and record it on the order; a WeChat
    /// Pay order needs the buyer's openid `payer_openid`.
    ///
    /// Errors: `WechatPayNotConfigured`, `WechatUserRequired`, `Payment`, `Order(NotPending)`.
    pub(super) async fn request_payment(
        &self,
        order_id: MeetingOrderId,
        order: &MeetingOrder,
        title: &str,
        payer_openid: Option<&str>,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, MeetingServiceError> {
        let placed = order
            .placed()
            .ok_or(MeetingServiceError::NotFound(Missing::Order))?;
        let out_trade_no = order_id.as_uuid().simple().to_string();
        let (provider, info) = if placed.payment_method_id == WECHAT_PAY {
            let pay = self
                .wechat_pay
                .as_ref()
                .ok_or(MeetingServiceError::WechatPayNotConfigured)?;
            let openid = payer_openid.ok_or(MeetingServiceError::WechatUserRequired)?;
            let description: String = format!("{title} 门票").chars().take(127).collect();
            let params = pay
                .create_jsapi_order(&JsapiOrder {
                    out_trade_no: out_trade_no.clone(),
                    description,
                    amount_fen: placed
                        .total
                        .to_minor()
                        .map_err(MeetingServiceError::Amount)?,
                    payer_openid: openid.to_owned(),
                    time_expire: Some(placed.expires_at),
                    notify_url: None,
                })
                .await?;
            let info = serde_json::to_value(&params).map_err(MeetingServiceError::PaymentParams)?;
            (WECHAT_PAY, Some(info))
        } else {
            (MOCK_PAY, None)
        };
        let command = OrderCommand::RequestPayment {
            provider: provider.into(),
            out_trade_no,
            info,
            now: self.now(),
        };
        self.order_command(order_id, &command, meta).await
    }

    /// `POST /transactions` (§7): the amount and payee of `actor`'s unpaid order, opening its
    /// payment with the provider if that has not happened yet (`payer_openid` as for
    /// [`MeetingService::place_order`]).
    ///
    /// Errors: `NotFound(Order)`, `NotPayable(status)` when the order is not 待支付,
    /// `WechatPayNotConfigured`, `WechatUserRequired`, `Payment`, `Engine`.
    pub async fn open_transaction(
        &self,
        actor: UserId,
        roles: &[Role],
        order_id: MeetingOrderId,
        payer_openid: Option<&str>,
        meta: &EventMetadata,
    ) -> Result<(TransactionInfo, Option<u64>), MeetingServiceError> {
        let order = self.owned_order(actor, roles, order_id).await?;
        let (placed, status) = match (order.placed(), order.status()) {
            (Some(p), Some(s)) => (p.clone(), s),
            _ => return Err(MeetingServiceError::NotFound(Missing::Order)),
        };
        if status != OrderStatus::PendingPayment {
            return Err(MeetingServiceError::NotPayable(status));
        }
        let mut position = None;
        if order.out_trade_no().is_none() {
            let meeting = self.meeting(placed.meeting_id).await?;
            let title = meeting.info().map(|i| i.title.clone()).unwrap_or_default();
            position = self
                .request_payment(order_id, &order, &title, payer_openid, meta)
                .await?;
        }
        let payee = if placed.payment_method_id == WECHAT_PAY {
            self.payee_id.clone()
        } else {
            MOCK_PAY.to_owned()
        };
        Ok((
            TransactionInfo {
                order_id,
                amount: placed.total,
                third_party_payee_id: payee,
                payment_method_id: placed.payment_method_id.clone(),
                third_party_transaction_info: None,
            },
            position,
        ))
    }

    /// `POST /third_party_transactions` (§7.1): `actor` says they paid with `transaction_id`.
    /// For WeChat Pay the order is queried at WeChat Pay first and only a `SUCCESS` with that
    /// transaction id counts; for Mock any id starting `mock_` counts (development only).
    ///
    /// Errors: `NotFound(Order)`, `Transaction(Malformed | NotConfirmed | NotMock)`,
    /// `Order(AmountMismatch)`, `WechatPayNotConfigured`, `Payment`, `Engine`.
    pub async fn confirm_client_payment(
        &self,
        actor: UserId,
        roles: &[Role],
        order_id: MeetingOrderId,
        transaction_id: &str,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, MeetingServiceError> {
        let order = self.owned_order(actor, roles, order_id).await?;
        let placed = order
            .placed()
            .ok_or(MeetingServiceError::NotFound(Missing::Order))?;
        let txn = transaction_id.trim();
        if txn.is_empty() || txn.len() > 64 {
            return Err(MeetingServiceError::Transaction(
                TransactionRefusal::Malformed,
            ));
        }
        if placed.payment_method_id == WECHAT_PAY {
            let pay = self
                .wechat_pay
                .as_ref()
                .ok_or(MeetingServiceError::WechatPayNotConfigured)?;
            let out_trade_no = order_id.as_uuid().simple().to_string();
            match pay.query_order(&out_trade_no).await? {
                Some(t)
                    if matches!(t.trade_state, TradeState::Success)
                        && t.transaction_id.as_deref() == Some(txn) =>
                {
                    let amount = match t.amount_fen {
                        Some(fen) => cny(fen)?,
                        None => placed.total,
                    };
                    self.record_payment(order_id, txn, amount, meta).await
                }
                _ => Err(MeetingServiceError::Transaction(
                    TransactionRefusal::NotConfirmed,
                )),
            }
        } else {
            if !txn.starts_with("mock_") {
                return Err(MeetingServiceError::Transaction(
                    TransactionRefusal::NotMock,
                ));
            }
            self.record_payment(order_id, txn, placed.total, meta).await
        }
    }

    /// A WeChat Pay notification, already verified and decrypted by the adapter: order
    /// `out_trade_no` was paid `amount_fen` fen (as WeChat Pay counts) in `transaction_id`.
    ///
    /// Errors: `NotFound(Order)` for an unknown `out_trade_no`, `PaidAmount` for a negative
    /// amount, `Order(AmountMismatch)`, `Engine` (WeChat Pay retries).
    pub async fn wechat_paid(
        &self,
        out_trade_no: &str,
        transaction_id: &str,
        amount_fen: i64,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, MeetingServiceError> {
        let id = Uuid::try_parse(out_trade_no)
            .map_err(|_| MeetingServiceError::NotFound(Missing::Order))?;
        self.record_payment(
            MeetingOrderId::from_uuid(id),
            transaction_id,
            cny(amount_fen)?,
            meta,
        )
        .await
    }

    /// Sell the order's stock, then mark it paid (or refund-pending when a late payment finds
    /// the stock gone). Repeating it changes nothing.
    ///
    /// Errors: `NotFound(Order)`, `Order(AmountMismatch)` when `amount` is not the order's total,
    /// `Engine`.
    pub async fn record_payment(
        &self,
        order_id: MeetingOrderId,
        transaction_id: &str,
        amount: Money,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, MeetingServiceError> {
        let order = self.order(order_id).await?;
        let (placed, status) = match (order.placed(), order.status()) {
            (Some(p), Some(s)) => (p.clone(), s),
            _ => return Err(MeetingServiceError::NotFound(Missing::Order)),
        };
        if order.transaction_id() == Some(transaction_id) {
            return Ok(None);
        }
        if amount != placed.total {
            return Err(MeetingServiceError::Order(OrderError::AmountMismatch {
                paid: amount,
                total: placed.total,
            }));
        }
        let sell_first = !matches!(status, OrderStatus::Paid | OrderStatus::RefundPending);
        let sell = MeetingCommand::SellStock {
            order_id,
            lines: placed
                .items
                .iter()
                .map(|i| StockLine {
                    ticket_grade_id: i.ticket_grade_id,
                    amount: i.ticket_amount,
                })
                .collect(),
            now: self.now(),
        };
        let now = self.now();
        // The sold stock and the paid order commit together or not at all
        // (docs/decisions/0009-multi-stream-append.md).
        let mut atomic = self.runner.atomic(meta);
        let stock = atomic.stream::<Meeting>(&CommandRunner::stream::<Meeting>(placed.meeting_id)?);
        let paying =
            atomic.stream::<MeetingOrder>(&CommandRunner::stream::<MeetingOrder>(order_id)?);
        let committed = atomic
            .run(|d| {
                let stock_sold = sell_first
                    && match d.decide(stock, &sell) {
                        Ok(_) => true,
                        Err(CommandError::Rejected(MeetingError::NoStock { .. })) => false,
                        Err(e) => return Err(e.map_rejected(MeetingServiceError::from)),
                    };
                let command = OrderCommand::RecordPayment {
                    transaction_id: transaction_id.to_owned(),
                    amount,
                    stock_sold,
                    now,
                };
                d.decide(paying, &command)
                    .map_err(|e| e.map_rejected(MeetingServiceError::from))?;
                Ok(())
            })
            .await?;
        Ok(committed.position())
    }
}

/// `fen` fen as CNY, as a provider reported it.
fn cny(fen: i64) -> Result<Money, MeetingServiceError> {
    Money::from_minor(fen, Currency::CNY)
        .map_err(|source| MeetingServiceError::PaidAmount { fen, source })
}
