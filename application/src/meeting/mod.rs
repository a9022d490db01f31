//! Meeting-ticket command handlers (seed 000 §4–§8): meetings and their ticket grades, orders that
//! reserve stock, WeChat Pay and Mock payments, ticket issuing (a process manager) and attendee
//! claims, plus the unpaid-order expiry deadline.
//!
//! Order placement reserves the stock in the meeting's stream *with* the order's expiry deadline in
//! the same append, and only then writes the order: a crash in between leaves a reservation whose
//! deadline returns it. A payment sells the reserved stock first, then marks the order paid; both
//! steps are idempotent, so a repeated notification finishes what a crash interrupted.

use crate::clock::Clock;
use crate::command::position;
use crate::command::{CommandError, Decided, load};
use crate::deadlines::{Deadline, DeadlineHandler, NewDeadline};
use crate::event_store::{EventMetadata, EventStore, RecordedEvent, StreamId};
use crate::payments::wechatpay::{JsapiOrder, TradeState, WechatPay, WechatPayError};
use crate::process::{HandlerError, ProcessManager};
use async_trait::async_trait;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use std::sync::Arc;
use tessera_domain::meeting::order::{
    MeetingOrder, OrderCommand, OrderError, OrderItem, OrderStatus, PlacedOrder,
};
use tessera_domain::meeting::ticket::{
    IssuedTicket, MeetingTicket, Participant, TicketCommand, TicketError,
};
use tessera_domain::meeting::{
    Meeting, MeetingCommand, MeetingError, NewGrade, PricedLine, StockLine,
};
use tessera_domain::meeting::{MeetingId, MeetingOrderId, MeetingTicketId, TicketGradeId};
use tessera_domain::shared::claim::{
    ClaimCommand, ClaimError, ClaimKind, IdentifierClaim, claim_stream_id,
};
use tessera_domain::{Decider, UserId};
use uuid::Uuid;

/// Deadline kind: an unpaid meeting order's time passed. Payload `{"orderId", "meetingId"}`.
pub const MEETING_ORDER_EXPIRY: &str = "meeting.order-expiry";

/// Payment method id of WeChat Pay (seed 000 §6).
pub const WECHAT_PAY: &str = "wechatpay";
/// Payment method id of the development Mock method.
pub const MOCK_PAY: &str = "mock";

/// Most lines one order may have.
pub const MAX_ORDER_LINES: usize = 20;
/// Most tickets one order line may ask for.
pub const MAX_TICKETS_PER_LINE: u32 = 50;

/// Tunables (docs/meeting-tickets.md).
#[derive(Debug, Clone, Copy)]
pub struct MeetingSettings {
    /// How long an unpaid order holds its stock (default 15 minutes).
    pub order_ttl: Duration,
    /// Whether the Mock payment method is offered (development and tests).
    pub mock_payments: bool,
}

impl Default for MeetingSettings {
    fn default() -> Self {
        Self {
            order_ttl: Duration::minutes(15),
            mock_payments: true,
        }
    }
}

/// A payment method as `GET /payment_methods` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMethod {
    /// Id to send as `paymentMethodId`.
    pub id: &'static str,
    /// Name shown to buyers.
    pub name: &'static str,
    /// `wechat` or `mock`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// Why a meeting command failed. The HTTP layer maps each to seed 000's error shape.
#[derive(Debug, thiserror::Error)]
pub enum MeetingServiceError {
    /// 400 'Validation Error' naming `field` (a JSON path such as `items[1].ticketPrice`).
    #[error("{field}: {message}")]
    Validation {
        /// The field.
        field: String,
        /// What is wrong (Chinese, as the document's messages).
        message: String,
    },
    /// 400 'No Stock': per order line, how many of its grade remain.
    #[error("no stock")]
    NoStock {
        /// Remaining per line, in line order.
        remaining: Vec<u32>,
    },
    /// 404.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 403: the caller may not change this meeting.
    #[error("only the meeting's organizer or an admin may do this")]
    Forbidden,
    /// 409 'One for One'.
    #[error("对于任意一个会议, 一个用户只能拥有的一个参会名额")]
    OneForOne,
    /// 410 'Already Taken'.
    #[error("门票已被他人领取")]
    AlreadyTaken,
    /// 502: the payment provider failed.
    #[error("payment provider: {0}")]
    Provider(String),
    /// 503: the store failed or stayed contended.
    #[error("store: {0}")]
    Unavailable(String),
}

impl MeetingServiceError {
    fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            message: message.into(),
        }
    }
}

fn from_command<E: std::error::Error + 'static>(
    e: CommandError<E>,
    rejected: impl FnOnce(E) -> MeetingServiceError,
) -> MeetingServiceError {
    match e {
        CommandError::Rejected(e) => rejected(e),
        other => MeetingServiceError::Unavailable(other.to_string()),
    }
}

fn meeting_error(e: MeetingError) -> MeetingServiceError {
    use MeetingServiceError as S;
    match e {
        MeetingError::NotFound => S::NotFound("meeting"),
        MeetingError::AlreadyExists => S::Unavailable("meeting id reused".into()),
        MeetingError::EndBeforeStart => S::field("endTime", "结束时间必须晚于开始时间"),
        MeetingError::DuplicateGrade(_) => S::field("ticketGrades", "票种重复"),
        MeetingError::NegativePrice => S::field("price", "价格不能为负"),
        MeetingError::UnknownGrade { index, .. } => match index {
            Some(i) => S::field(format!("items[{i}].ticketGradeId"), "票种不存在"),
            None => S::NotFound("ticketGrade"),
        },
        MeetingError::StockBelowCommitted { committed } => S::field(
            "stock",
            format!("库存不能少于已预留和已售出的 {committed} 张"),
        ),
        MeetingError::NotOnSale => S::field("meetingId", "会议未在售票"),
        MeetingError::PriceMismatch {
            index,
            current_price_fen,
        } => S::field(
            format!("items[{index}].ticketPrice"),
            format!("票价已变为 {}", fen_to_yuan(current_price_fen)),
        ),
        MeetingError::NoStock { remaining } => S::NoStock { remaining },
        MeetingError::EmptyOrder => S::field("items", "至少需要一张票"),
    }
}

fn order_error(e: OrderError) -> MeetingServiceError {
    match e {
        OrderError::NotFound => MeetingServiceError::NotFound("order"),
        OrderError::NotPending(status) => MeetingServiceError::field(
            "status",
            format!(
                "订单状态为{}，只能将待支付的订单改为已取消",
                status.as_str()
            ),
        ),
        OrderError::AmountMismatch {
            paid_fen,
            total_fen,
        } => MeetingServiceError::field(
            "amount",
            format!(
                "支付金额 {} 与订单金额 {} 不符",
                fen_to_yuan(paid_fen),
                fen_to_yuan(total_fen)
            ),
        ),
    }
}

fn ticket_error(e: TicketError) -> MeetingServiceError {
    match e {
        TicketError::NotFound => MeetingServiceError::NotFound("ticket"),
        TicketError::AlreadyTaken => MeetingServiceError::AlreadyTaken,
    }
}

fn pay_error(e: WechatPayError) -> MeetingServiceError {
    MeetingServiceError::Provider(e.to_string())
}

/// Fen as a yuan string with two decimals (`9950` → `"99.50"`).
pub fn fen_to_yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let f = fen.unsigned_abs();
    format!("{sign}{}.{:02}", f / 100, f % 100)
}

fn stream<D: Decider>(id: impl std::fmt::Display) -> Result<StreamId, MeetingServiceError> {
    StreamId::parse(format!("{}-{id}", D::CATEGORY))
        .map_err(|e| MeetingServiceError::Unavailable(e.to_string()))
}

/// A meeting as an organizer creates it.
#[derive(Debug, Clone)]
pub struct MeetingInput {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Where.
    pub location: String,
    /// Start (UTC).
    pub start_time: DateTime<Utc>,
    /// End (UTC).
    pub end_time: DateTime<Utc>,
    /// Grades: name, price in fen, stock.
    pub grades: Vec<(String, i64, u32)>,
    /// Open sales right away.
    pub open_sales: bool,
}

/// One order line as the buyer sends it (already parsed).
#[derive(Debug, Clone, Copy)]
pub struct OrderLineInput {
    /// The grade.
    pub ticket_grade_id: TicketGradeId,
    /// The price the buyer saw, in fen.
    pub ticket_price_fen: i64,
    /// How many tickets.
    pub ticket_amount: u32,
}

/// The caller of a meeting command.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user_id: UserId,
    /// Whether the caller is an admin (may act on every meeting and order).
    pub admin: bool,
    /// The caller's WeChat openid, if registered through WeChat (needed for WeChat Pay).
    pub wechat_id: Option<String>,
}

/// What `POST /transactions` answers (seed 000 §7).
#[derive(Debug, Clone, PartialEq)]
pub struct TransactionInfo {
    /// The order.
    pub order_id: MeetingOrderId,
    /// Amount due in fen.
    pub amount_fen: i64,
    /// Who is paid: the WeChat Pay merchant id, or `mock`.
    pub third_party_payee_id: String,
    /// The order's payment method.
    pub payment_method_id: String,
    /// The client's payment parameters (WeChat Pay JSAPI), if any.
    pub third_party_transaction_info: Option<serde_json::Value>,
}

/// The meeting-ticket command side.
pub struct MeetingService {
    store: Arc<dyn EventStore>,
    clock: Arc<dyn Clock>,
    wechat_pay: Option<Arc<dyn WechatPay>>,
    payee_id: String,
    settings: MeetingSettings,
}

impl MeetingService {
    /// A service over `store`; `wechat_pay` with its merchant id when WeChat Pay is configured.
    pub fn new(
        store: Arc<dyn EventStore>,
        clock: Arc<dyn Clock>,
        wechat_pay: Option<(Arc<dyn WechatPay>, String)>,
        settings: MeetingSettings,
    ) -> Self {
        let (wechat_pay, payee_id) = match wechat_pay {
            Some((p, mch)) => (Some(p), mch),
            None => (None, String::new()),
        };
        Self {
            store,
            clock,
            wechat_pay,
            payee_id,
            settings,
        }
    }

    /// The settings.
    pub fn settings(&self) -> MeetingSettings {
        self.settings
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    /// `GET /payment_methods`: WeChat Pay when configured, Mock when enabled.
    pub fn payment_methods(&self) -> Vec<PaymentMethod> {
        let mut v = Vec::new();
        if self.wechat_pay.is_some() {
            v.push(PaymentMethod {
                id: WECHAT_PAY,
                name: "微信支付",
                kind: "wechat",
            });
        }
        if self.settings.mock_payments {
            v.push(PaymentMethod {
                id: MOCK_PAY,
                name: "模拟支付（开发用）",
                kind: "mock",
            });
        }
        v
    }

    async fn run<D: Decider>(
        &self,
        stream_id: &StreamId,
        command: &D::Command,
        meta: &EventMetadata,
        deadlines: Vec<NewDeadline>,
    ) -> Result<Decided<D>, CommandError<D::Error>>
    where
        D::Command: Sync,
    {
        crate::command::execute_scheduling(self.store.as_ref(), stream_id, command, meta, deadlines)
            .await
    }

    async fn state<D: Decider>(&self, stream_id: &StreamId) -> Result<D, MeetingServiceError> {
        load::<D>(self.store.as_ref(), stream_id)
            .await
            .map(|(s, _)| s)
            .map_err(|e| MeetingServiceError::Unavailable(e.to_string()))
    }

    /// A meeting's state.
    pub async fn meeting(&self, id: MeetingId) -> Result<Meeting, MeetingServiceError> {
        self.state::<Meeting>(&stream::<Meeting>(id)?).await
    }

    /// An order's state.
    pub async fn order(&self, id: MeetingOrderId) -> Result<MeetingOrder, MeetingServiceError> {
        self.state::<MeetingOrder>(&stream::<MeetingOrder>(id)?)
            .await
    }

    /// A ticket's state.
    pub async fn ticket(&self, id: MeetingTicketId) -> Result<MeetingTicket, MeetingServiceError> {
        self.state::<MeetingTicket>(&stream::<MeetingTicket>(id)?)
            .await
    }

    /// Create a meeting (organizer or admin). Returns its id and the append's position.
    ///
    /// Errors: `Validation(endTime|price)`.
    pub async fn create_meeting(
        &self,
        caller: &Caller,
        input: MeetingInput,
        meta: &EventMetadata,
    ) -> Result<(MeetingId, Option<u64>), MeetingServiceError> {
        let id = MeetingId::from_uuid(Uuid::now_v7());
        let now = self.now();
        let command = MeetingCommand::CreateMeeting {
            organizer_id: caller.user_id,
            title: input.title,
            description: input.description,
            location: input.location,
            start_time: input.start_time,
            end_time: input.end_time,
            grades: input
                .grades
                .into_iter()
                .map(|(name, price_fen, stock)| NewGrade {
                    ticket_grade_id: TicketGradeId::from_uuid(Uuid::now_v7()),
                    name,
                    price_fen,
                    stock,
                })
                .collect(),
            now,
        };
        let stream_id = stream::<Meeting>(id)?;
        let mut pos = position(
            &self
                .run::<Meeting>(&stream_id, &command, meta, Vec::new())
                .await
                .map_err(|e| from_command(e, meeting_error))?,
        );
        if input.open_sales {
            let open = MeetingCommand::OpenSales { now };
            pos = position(
                &self
                    .run::<Meeting>(&stream_id, &open, meta, Vec::new())
                    .await
                    .map_err(|e| from_command(e, meeting_error))?,
            )
            .or(pos);
        }
        Ok((id, pos))
    }

    /// Run an organizer's command on a meeting after checking the caller may.
    ///
    /// Errors: `NotFound`, `Forbidden`, and the command's own.
    pub async fn manage(
        &self,
        caller: &Caller,
        meeting_id: MeetingId,
        command: MeetingCommand,
        meta: &EventMetadata,
    ) -> Result<(Meeting, Option<u64>), MeetingServiceError> {
        let stream_id = stream::<Meeting>(meeting_id)?;
        let meeting = self.state::<Meeting>(&stream_id).await?;
        let info = meeting
            .info()
            .ok_or(MeetingServiceError::NotFound("meeting"))?;
        if !caller.admin && info.organizer_id != caller.user_id {
            return Err(MeetingServiceError::Forbidden);
        }
        let decided = self
            .run::<Meeting>(&stream_id, &command, meta, Vec::new())
            .await
            .map_err(|e| from_command(e, meeting_error))?;
        let pos = position(&decided);
        Ok((decided.state, pos))
    }

    /// `POST /orders` (§5): reserve every line's stock (with the expiry deadline), write the order,
    /// and for WeChat Pay open a JSAPI order whose parameters the response carries.
    ///
    /// Errors: `Validation` (payment method, lines, prices), `NoStock`, `NotFound(meeting)`,
    /// `Provider` when WeChat Pay fails (the order stays 待支付; `POST /transactions` retries).
    pub async fn place_order(
        &self,
        caller: &Caller,
        meeting_id: MeetingId,
        payment_method_id: &str,
        lines: &[OrderLineInput],
        meta: &EventMetadata,
    ) -> Result<(MeetingOrderId, Option<u64>), MeetingServiceError> {
        if !self
            .payment_methods()
            .iter()
            .any(|m| m.id == payment_method_id)
        {
            return Err(MeetingServiceError::field(
                "paymentMethodId",
                "不支持的支付方式",
            ));
        }
        if payment_method_id == WECHAT_PAY && caller.wechat_id.is_none() {
            return Err(MeetingServiceError::field(
                "paymentMethodId",
                "微信支付需要微信用户",
            ));
        }
        let meeting_stream = stream::<Meeting>(meeting_id)?;
        let meeting = self.state::<Meeting>(&meeting_stream).await?;
        if !meeting.exists() {
            return Err(MeetingServiceError::NotFound("meeting"));
        }
        let order_id = MeetingOrderId::from_uuid(Uuid::now_v7());
        let now = self.now();
        let expires_at = now + self.settings.order_ttl;
        let priced: Vec<PricedLine> = lines
            .iter()
            .map(|l| PricedLine {
                ticket_grade_id: l.ticket_grade_id,
                ticket_price_fen: l.ticket_price_fen,
                amount: l.ticket_amount,
            })
            .collect();
        let reserve = MeetingCommand::ReserveStock {
            order_id,
            lines: priced,
            now,
        };
        let deadline = NewDeadline {
            deadline_id: Uuid::now_v7(),
            kind: MEETING_ORDER_EXPIRY.into(),
            due_at: expires_at,
            payload: serde_json::json!({ "orderId": order_id, "meetingId": meeting_id }),
        };
        let reserved = self
            .run::<Meeting>(&meeting_stream, &reserve, meta, vec![deadline])
            .await
            .map_err(|e| from_command(e, meeting_error))?;
        let mut items = Vec::with_capacity(lines.len());
        let mut total_fen: i64 = 0;
        for l in lines {
            let name = reserved
                .state
                .grade(l.ticket_grade_id)
                .map(|g| g.name.clone())
                .unwrap_or_default();
            total_fen += l.ticket_price_fen * i64::from(l.ticket_amount);
            items.push(OrderItem {
                ticket_grade_id: l.ticket_grade_id,
                ticket_grade_name: name,
                ticket_price: l.ticket_price_fen,
                ticket_amount: l.ticket_amount,
            });
        }
        let place = OrderCommand::Place {
            order: PlacedOrder {
                user_id: caller.user_id,
                meeting_id,
                items,
                payment_method_id: payment_method_id.to_owned(),
                total_fen,
                expires_at,
                placed_at: now,
            },
        };
        let order_stream = stream::<MeetingOrder>(order_id)?;
        let placed = self
            .run::<MeetingOrder>(&order_stream, &place, meta, Vec::new())
            .await
            .map_err(|e| from_command(e, order_error))?;
        let mut pos = position(&placed);
        let title = reserved
            .state
            .info()
            .map(|i| i.title.clone())
            .unwrap_or_default();
        match self
            .request_payment(caller, order_id, &placed.state, &title, meta)
            .await
        {
            Ok(p) => pos = p.or(pos),
            Err(e) => {
                tracing::warn!(%order_id, error = %e, "could not open the payment; the order stays unpaid")
            }
        }
        Ok((order_id, pos))
    }

    /// Open the payment of an unpaid order with its provider and record it on the order.
    async fn request_payment(
        &self,
        caller: &Caller,
        order_id: MeetingOrderId,
        order: &MeetingOrder,
        title: &str,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, MeetingServiceError> {
        let placed = order
            .placed()
            .ok_or(MeetingServiceError::NotFound("order"))?;
        let out_trade_no = order_id.as_uuid().simple().to_string();
        let (provider, info) = if placed.payment_method_id == WECHAT_PAY {
            let pay = self.wechat_pay.as_ref().ok_or_else(|| {
                MeetingServiceError::Provider("WeChat Pay is not configured".into())
            })?;
            let openid = caller.wechat_id.clone().ok_or_else(|| {
                MeetingServiceError::field("paymentMethodId", "微信支付需要微信用户")
            })?;
            let description: String = format!("{title} 门票").chars().take(127).collect();
            let params = pay
                .create_jsapi_order(&JsapiOrder {
                    out_trade_no: out_trade_no.clone(),
                    description,
                    amount_fen: placed.total_fen,
                    payer_openid: openid,
                    time_expire: Some(placed.expires_at),
                })
                .await
                .map_err(pay_error)?;
            let info = serde_json::to_value(&params)
                .map_err(|e| MeetingServiceError::Unavailable(e.to_string()))?;
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

    /// Run `command` on an order; the append's position, if it wrote.
    async fn order_command(
        &self,
        order_id: MeetingOrderId,
        command: &OrderCommand,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, MeetingServiceError> {
        let decided = self
            .run::<MeetingOrder>(
                &stream::<MeetingOrder>(order_id)?,
                command,
                meta,
                Vec::new(),
            )
            .await
            .map_err(|e| from_command(e, order_error))?;
        Ok(position(&decided))
    }

    /// The caller's order, or `NotFound` (also for another user's order, unless admin).
    pub async fn owned_order(
        &self,
        caller: &Caller,
        order_id: MeetingOrderId,
    ) -> Result<MeetingOrder, MeetingServiceError> {
        let order = self.order(order_id).await?;
        match order.placed() {
            Some(p) if p.user_id == caller.user_id || caller.admin => Ok(order),
            _ => Err(MeetingServiceError::NotFound("order")),
        }
    }

    /// `PATCH /orders/:id` with `status: '已取消'`: cancel an unpaid order and return its stock.
    ///
    /// Errors: `NotFound`, `Validation(status)` when it is not 待支付.
    pub async fn cancel_order(
        &self,
        caller: &Caller,
        order_id: MeetingOrderId,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, MeetingServiceError> {
        let order = self.owned_order(caller, order_id).await?;
        let cancelled = self
            .order_command(order_id, &OrderCommand::Cancel { now: self.now() }, meta)
            .await?;
        let meeting_id = order
            .placed()
            .map(|p| p.meeting_id)
            .ok_or(MeetingServiceError::NotFound("order"))?;
        let released = self
            .release_stock(meeting_id, order_id, "cancelled", meta)
            .await?;
        Ok(released.or(cancelled))
    }

    async fn release_stock(
        &self,
        meeting_id: MeetingId,
        order_id: MeetingOrderId,
        reason: &str,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, MeetingServiceError> {
        let command = MeetingCommand::ReleaseStock {
            order_id,
            reason: reason.into(),
            now: self.now(),
        };
        let decided = self
            .run::<Meeting>(&stream::<Meeting>(meeting_id)?, &command, meta, Vec::new())
            .await
            .map_err(|e| from_command(e, meeting_error))?;
        Ok(position(&decided))
    }

    /// The order-expiry deadline: return the stock of an order that is still unpaid at its
    /// `expiresAt` (also when the order was never written), then mark the order expired. The stock
    /// goes back first, so an order that reads 已过期 never still holds stock; a payment landing
    /// between the two steps takes the stock again if it is there (see [`Self::record_payment`]).
    pub async fn expire_order(
        &self,
        order_id: MeetingOrderId,
        meeting_id: MeetingId,
    ) -> Result<(), MeetingServiceError> {
        let meta = deadline_meta();
        let now = self.now();
        let order = self.order(order_id).await?;
        let due = match (order.status(), order.placed()) {
            (Some(OrderStatus::PendingPayment), Some(p)) => now >= p.expires_at,
            (None, _) => true,
            // Paid, cancelled (stock already returned) or already expired.
            _ => matches!(order.status(), Some(OrderStatus::Expired)),
        };
        if !due {
            return Ok(());
        }
        self.release_stock(meeting_id, order_id, "expired", &meta)
            .await?;
        if order.status() == Some(OrderStatus::PendingPayment) {
            self.order_command(order_id, &OrderCommand::Expire { now }, &meta)
                .await?;
        }
        Ok(())
    }

    /// `POST /transactions` (§7): the amount and payee of an unpaid order, opening its payment
    /// with the provider if that has not happened yet.
    ///
    /// Errors: `NotFound`, `Validation(orderId)` when the order is not 待支付, `Provider`.
    pub async fn open_transaction(
        &self,
        caller: &Caller,
        order_id: MeetingOrderId,
        meta: &EventMetadata,
    ) -> Result<(TransactionInfo, Option<u64>), MeetingServiceError> {
        let order = self.owned_order(caller, order_id).await?;
        let (placed, status) = match (order.placed(), order.status()) {
            (Some(p), Some(s)) => (p.clone(), s),
            _ => return Err(MeetingServiceError::NotFound("order")),
        };
        if status != OrderStatus::PendingPayment {
            return Err(MeetingServiceError::field(
                "orderId",
                format!("订单状态为{}，无需支付", status.as_str()),
            ));
        }
        let mut pos = None;
        if order.out_trade_no().is_none() {
            let meeting = self.meeting(placed.meeting_id).await?;
            let title = meeting.info().map(|i| i.title.clone()).unwrap_or_default();
            pos = self
                .request_payment(caller, order_id, &order, &title, meta)
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
                amount_fen: placed.total_fen,
                third_party_payee_id: payee,
                payment_method_id: placed.payment_method_id.clone(),
                third_party_transaction_info: None,
            },
            pos,
        ))
    }

    /// `POST /third_party_transactions` (§7.1): the client says it paid with `transaction_id`.
    /// For WeChat Pay the order is queried at WeChat Pay first and only a `SUCCESS` with that
    /// transaction id counts; for Mock any id starting `mock_` counts (development only).
    ///
    /// Errors: `NotFound`, `Validation(transactionId)` when the provider does not confirm it,
    /// `Provider`.
    pub async fn confirm_client_payment(
        &self,
        caller: &Caller,
        order_id: MeetingOrderId,
        transaction_id: &str,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, MeetingServiceError> {
        let order = self.owned_order(caller, order_id).await?;
        let placed = order
            .placed()
            .ok_or(MeetingServiceError::NotFound("order"))?;
        let txn = transaction_id.trim();
        if txn.is_empty() || txn.len() > 64 {
            return Err(MeetingServiceError::field(
                "transactionId",
                "交易号格式不正确",
            ));
        }
        if placed.payment_method_id == WECHAT_PAY {
            let pay = self.wechat_pay.as_ref().ok_or_else(|| {
                MeetingServiceError::Provider("WeChat Pay is not configured".into())
            })?;
            let out_trade_no = order_id.as_uuid().simple().to_string();
            let found = pay.query_order(&out_trade_no).await.map_err(pay_error)?;
            match found {
                Some(t)
                    if matches!(t.trade_state, TradeState::Success)
                        && t.transaction_id.as_deref() == Some(txn) =>
                {
                    let amount = t.amount_fen.unwrap_or(placed.total_fen);
                    self.record_payment(order_id, txn, amount, meta).await
                }
                _ => Err(MeetingServiceError::field(
                    "transactionId",
                    "微信支付未确认该交易",
                )),
            }
        } else {
            if !txn.starts_with("mock_") {
                return Err(MeetingServiceError::field(
                    "transactionId",
                    "模拟支付的交易号以 mock_ 开头",
                ));
            }
            self.record_payment(order_id, txn, placed.total_fen, meta)
                .await
        }
    }

    /// A WeChat Pay notification, already verified and decrypted by the adapter. Only
    /// `TRANSACTION.SUCCESS` with trade state `SUCCESS` changes anything.
    ///
    /// Errors: `NotFound` for an unknown `out_trade_no`, store failures (WeChat Pay retries).
    pub async fn wechat_paid(
        &self,
        out_trade_no: &str,
        transaction_id: &str,
        amount_fen: i64,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, MeetingServiceError> {
        let id =
            Uuid::try_parse(out_trade_no).map_err(|_| MeetingServiceError::NotFound("order"))?;
        self.record_payment(
            MeetingOrderId::from_uuid(id),
            transaction_id,
            amount_fen,
            meta,
        )
        .await
    }

    /// Sell the order's stock, then mark it paid (or refund-pending when a late payment finds
    /// the stock gone). Repeating it changes nothing.
    pub async fn record_payment(
        &self,
        order_id: MeetingOrderId,
        transaction_id: &str,
        amount_fen: i64,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, MeetingServiceError> {
        let order = self.order(order_id).await?;
        let (placed, status) = match (order.placed(), order.status()) {
            (Some(p), Some(s)) => (p.clone(), s),
            _ => return Err(MeetingServiceError::NotFound("order")),
        };
        if order.transaction_id() == Some(transaction_id) {
            return Ok(None);
        }
        if amount_fen != placed.total_fen {
            return Err(order_error(OrderError::AmountMismatch {
                paid_fen: amount_fen,
                total_fen: placed.total_fen,
            }));
        }
        let stock_sold = if matches!(status, OrderStatus::Paid | OrderStatus::RefundPending) {
            false
        } else {
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
            match self
                .run::<Meeting>(
                    &stream::<Meeting>(placed.meeting_id)?,
                    &sell,
                    meta,
                    Vec::new(),
                )
                .await
            {
                Ok(_) => true,
                Err(CommandError::Rejected(MeetingError::NoStock { .. })) => false,
                Err(e) => return Err(from_command(e, meeting_error)),
            }
        };
        let command = OrderCommand::RecordPayment {
            transaction_id: transaction_id.to_owned(),
            amount_fen,
            stock_sold,
            now: self.now(),
        };
        self.order_command(order_id, &command, meta).await
    }

    /// Issue the tickets of a paid order: `ticketAmount` per line, with stable ids, to the buyer.
    pub async fn issue_tickets(
        &self,
        order_id: MeetingOrderId,
        meta: &EventMetadata,
    ) -> Result<(), MeetingServiceError> {
        let order = self.order(order_id).await?;
        let placed = order
            .placed()
            .ok_or(MeetingServiceError::NotFound("order"))?;
        if order.status() != Some(OrderStatus::Paid) {
            return Ok(());
        }
        let now = self.now();
        for item in &placed.items {
            for n in 0..item.ticket_amount {
                let ticket_id = MeetingTicketId::for_order(order_id, item.ticket_grade_id, n);
                let command = TicketCommand::Issue {
                    ticket: IssuedTicket {
                        ticket_id,
                        order_id,
                        meeting_id: placed.meeting_id,
                        ticket_grade_id: item.ticket_grade_id,
                        owner_id: placed.user_id,
                    },
                    now,
                };
                self.run::<MeetingTicket>(
                    &stream::<MeetingTicket>(ticket_id)?,
                    &command,
                    meta,
                    Vec::new(),
                )
                .await
                .map_err(|e| from_command(e, ticket_error))?;
            }
        }
        Ok(())
    }

    /// `PATCH /tickets/:id` with `participant` (§8.2): name the ticket's attendee, once. The
    /// attendee's seat in the meeting is claimed first (one per phone per meeting); if the ticket
    /// turns out to be taken, that claim is given back.
    ///
    /// Errors: `NotFound`, `AlreadyTaken` (410), `OneForOne` (409).
    pub async fn claim_ticket(
        &self,
        caller: &Caller,
        ticket_id: MeetingTicketId,
        participant: Participant,
        meta: &EventMetadata,
    ) -> Result<(MeetingTicket, Option<u64>), MeetingServiceError> {
        let ticket_stream = stream::<MeetingTicket>(ticket_id)?;
        let ticket = self.state::<MeetingTicket>(&ticket_stream).await?;
        let issued = ticket
            .issued()
            .cloned()
            .ok_or(MeetingServiceError::NotFound("ticket"))?;
        match ticket.participant() {
            Some(p) if *p == participant => return Ok((ticket, None)),
            Some(_) => return Err(MeetingServiceError::AlreadyTaken),
            None => {}
        }
        let seat_value = format!("{}:{}", issued.meeting_id, participant.phone);
        let claim_stream =
            StreamId::parse(claim_stream_id(ClaimKind::MeetingAttendee, &seat_value))
                .map_err(|e| MeetingServiceError::Unavailable(e.to_string()))?;
        let claim = ClaimCommand::Claim {
            kind: ClaimKind::MeetingAttendee,
            value: seat_value.clone(),
            owner: ticket_id.as_uuid(),
            now: self.now(),
        };
        self.run::<IdentifierClaim>(&claim_stream, &claim, meta, Vec::new())
            .await
            .map_err(|e| {
                from_command(e, |ClaimError::Taken { .. }| MeetingServiceError::OneForOne)
            })?;
        let assign = TicketCommand::AssignParticipant {
            participant,
            by: caller.user_id,
            now: self.now(),
        };
        match self
            .run::<MeetingTicket>(&ticket_stream, &assign, meta, Vec::new())
            .await
        {
            Ok(decided) => {
                let pos = position(&decided);
                Ok((decided.state, pos))
            }
            Err(e) => {
                let release = ClaimCommand::Release {
                    owner: ticket_id.as_uuid(),
                    reason: "the ticket was claimed by someone else".into(),
                    now: self.now(),
                };
                if let Err(r) = self
                    .run::<IdentifierClaim>(&claim_stream, &release, meta, Vec::new())
                    .await
                {
                    tracing::warn!(error = %r, "could not release an attendee claim");
                }
                Err(from_command(e, ticket_error))
            }
        }
    }
}

fn deadline_meta() -> EventMetadata {
    let mut meta = EventMetadata::default();
    meta.extra
        .insert("trigger".into(), serde_json::json!("deadline"));
    meta
}

fn id_from_stream(event: &RecordedEvent) -> Option<Uuid> {
    event
        .stream_id
        .as_str()
        .split_once('-')
        .and_then(|(_, id)| id.parse::<Uuid>().ok())
}

/// The ticket-issuing process manager: on `MeetingOrderPaid`, issue the order's tickets.
pub struct MeetingTicketIssuing(pub Arc<MeetingService>);

#[async_trait]
impl ProcessManager for MeetingTicketIssuing {
    fn name(&self) -> &'static str {
        "meeting_ticket_issuing"
    }

    fn categories(&self) -> &'static [&'static str] {
        &[MeetingOrder::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &["MeetingOrderPaid"]
    }

    async fn handle(&self, event: &RecordedEvent) -> Result<(), HandlerError> {
        if event.stream_id.category() != MeetingOrder::CATEGORY {
            return Ok(());
        }
        let id = id_from_stream(event)
            .ok_or_else(|| format!("not an order stream: {}", event.stream_id))?;
        let mut meta = EventMetadata {
            causation_id: Some(event.event_id),
            correlation_id: event.metadata.correlation_id,
            request_id: event.metadata.request_id.clone(),
            ..EventMetadata::default()
        };
        meta.extra
            .insert("processManager".into(), serde_json::json!(self.name()));
        self.0
            .issue_tickets(MeetingOrderId::from_uuid(id), &meta)
            .await
            .map_err(HandlerError::from)
    }
}

/// Fires [`MEETING_ORDER_EXPIRY`] deadlines.
pub struct MeetingOrderExpiry(pub Arc<MeetingService>);

#[async_trait]
impl DeadlineHandler for MeetingOrderExpiry {
    async fn fire(&self, deadline: &Deadline) -> Result<(), HandlerError> {
        let get = |key: &str| {
            deadline.payload[key]
                .as_str()
                .and_then(|s| s.parse::<Uuid>().ok())
                .ok_or_else(|| format!("deadline payload has no {key}"))
        };
        let order = MeetingOrderId::from_uuid(get("orderId")?);
        let meeting = MeetingId::from_uuid(get("meetingId")?);
        self.0
            .expire_order(order, meeting)
            .await
            .map_err(HandlerError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::fen_to_yuan;

    #[test]
    fn fen_reads_as_yuan_with_two_decimals() {
        assert_eq!(fen_to_yuan(9950), "99.50");
        assert_eq!(fen_to_yuan(5), "0.05");
        assert_eq!(fen_to_yuan(0), "0.00");
        assert_eq!(fen_to_yuan(-120), "-1.20");
    }
}
