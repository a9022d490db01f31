//! The JSON bodies of the meeting-ticket API (seed 000), each written once: the handlers serialize
//! these types and the OpenAPI document (`super::openapi`) is generated from them.
//!
//! They are built from the read models' plain rows (`tessera_projections::meeting::*Row`) and the
//! application's results. Field order is the order on the wire; bodies that used to be built with
//! `json!` (users, tokens, transactions, errors) keep that macro's alphabetical key order, so the
//! bytes did not change when they became types. Money is shown in **yuan** as a JSON number
//! ([`Yuan`]) and kept in fen everywhere else. Instants are RFC 3339 UTC strings
//! with milliseconds (`2025-03-01T02:00:00.000Z`), one precision in every body ([`millis_text`];
//! the sign-in bodies showed whole seconds before). Optional fields the document shows are always
//! present, `null` when unset.

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use std::fmt;
use tessera_application::identity::UserView;
use tessera_application::meeting::PaymentMethod;
use tessera_domain::identity::Role;
use tessera_domain::meeting::SalesStatus;
use tessera_domain::meeting::order::OrderStatus;
use tessera_projections::QueryError;
use tessera_projections::meeting::{MeetingRow, OrderItemRow, OrderRow, TicketGradeRow, TicketRow};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

// ------------------------------------------------------------------------------------- money

/// An amount of CNY held exactly in fen (1 yuan = 100 fen) and shown in yuan as a JSON number:
/// `9950` fen → `99.5`, `9900` fen → `99`, `1` fen → `0.01`.
///
/// Serialisation goes through [`Decimal`] (`fen` with scale 2, exact): a whole number of yuan is
/// written as a JSON integer; otherwise the decimal becomes the `f64` nearest to it, which
/// serde_json writes as the shortest text that reads back as that same `f64` — i.e. exactly the
/// two-decimal value (`99.5`, `0.01`), never `99.49999…`, for any amount below 2^53 fen. Clients
/// that parse JSON numbers as doubles get the nearest double, as they would for any decimal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Yuan {
    fen: i64,
}

impl Yuan {
    /// An amount of `fen` fen.
    pub const fn from_fen(fen: i64) -> Self {
        Self { fen }
    }

    /// The amount in fen (exact).
    pub const fn fen(self) -> i64 {
        self.fen
    }

    /// The amount in yuan as an exact decimal, without trailing zeros (`99.5`, `99`, `0.01`).
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.fen, 2).normalize()
    }
}

impl fmt::Display for Yuan {
    /// The yuan amount as an exact decimal (`99.5`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_decimal(), f)
    }
}

impl Serialize for Yuan {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.fen % 100 == 0 {
            return s.serialize_i64(self.fen / 100);
        }
        match self.to_decimal().to_f64() {
            Some(f) => s.serialize_f64(f),
            None => Err(serde::ser::Error::custom(format!(
                "{} fen has no JSON number",
                self.fen
            ))),
        }
    }
}

impl PartialSchema for Yuan {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .description(Some(
                "An amount of CNY in yuan, at most two decimals (`99.5`, `0.01`, `299`)",
            ))
            .examples([serde_json::json!(99.5)])
            .into()
    }
}

impl ToSchema for Yuan {}

/// The schema of a price a client sends in yuan: a JSON number (`99.5`; strings are refused), at
/// most two decimals, 0 to 1,000,000. Request bodies keep such a price as a raw [`Value`] so that
/// a wrong type is reported by the handler in the document's words.
pub fn yuan_input_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Number)
        .minimum(Some(0))
        .maximum(Some(1_000_000))
        .description(Some(
            "A price in yuan: a JSON number (not a string), at most two decimals, 0 to 1000000",
        ))
        .examples([serde_json::json!(99.5)])
        .into()
}

/// `t` as every seed 000 body shows an instant: RFC 3339 in UTC with exactly three fractional
/// digits and `Z` (`2025-03-01T02:00:00.123Z`). Events and read models keep microseconds; the
/// digits below the millisecond are cut, not rounded, so a shown time is never later than the
/// stored one.
pub fn millis_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn millis<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&millis_text(t))
}

fn millis_opt<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => millis(t, s),
        None => s.serialize_none(),
    }
}

// ---------------------------------------------------------------------------------- meetings

/// A meeting as `GET /meetings/:id` and the items of `GET /meetings` show it (seed 000 §4):
/// `{...meeting, ticketGrades}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Meeting)]
pub struct MeetingView {
    /// Its id, as `GET /meetings/:id` takes it.
    pub id: Uuid,
    /// Title, 1–200 characters.
    pub title: String,
    /// Description (may be empty).
    pub description: String,
    /// Where it takes place (may be empty).
    pub location: String,
    /// Start (UTC).
    #[serde(serialize_with = "millis")]
    pub start_time: DateTime<Utc>,
    /// End (UTC).
    #[serde(serialize_with = "millis")]
    pub end_time: DateTime<Utc>,
    /// Sales status: `draft`, `onSale` or `closed`.
    pub status: MeetingStatus,
    /// The organizer who created it.
    pub organizer_id: Uuid,
    /// When it was created (UTC).
    #[serde(serialize_with = "millis")]
    pub created_at: DateTime<Utc>,
    /// Its ticket grades, in the order they were added.
    pub ticket_grades: Vec<TicketGradeView>,
}

/// A meeting's sales status (`mt_meetings.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum MeetingStatus {
    /// Not on sale yet.
    #[serde(rename = "draft")]
    Draft,
    /// Tickets can be ordered.
    #[serde(rename = "onSale")]
    OnSale,
    /// Sales are closed (they can be reopened).
    #[serde(rename = "closed")]
    Closed,
}

impl MeetingStatus {
    /// The wire and stored name: `draft`, `onSale` or `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingStatus::Draft => SalesStatus::Draft.as_str(),
            MeetingStatus::OnSale => SalesStatus::OnSale.as_str(),
            MeetingStatus::Closed => SalesStatus::Closed.as_str(),
        }
    }

    /// The status stored as `s`; `None` for any other text.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Draft, Self::OnSale, Self::Closed]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

impl PartialEq<&str> for MeetingStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A ticket grade of a meeting: `{id, name, price, stock, remaining, sold}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TicketGrade)]
pub struct TicketGradeView {
    /// Its id, as an order item's `ticketGradeId` names it.
    pub id: Uuid,
    /// Name (e.g. 普通票).
    pub name: String,
    /// Current price of one ticket, in yuan.
    pub price: Yuan,
    /// Total tickets of the grade.
    #[schema(minimum = 0)]
    pub stock: i64,
    /// Tickets still available: `stock − held − sold` (held: reserved by unpaid orders), never
    /// below 0.
    #[schema(minimum = 0)]
    pub remaining: i64,
    /// Tickets sold to paid orders.
    #[schema(minimum = 0)]
    pub sold: i64,
}

impl MeetingView {
    /// The view of a read-model row; [`QueryError::Corrupt`] for a status the projector never
    /// writes.
    pub fn from_row(row: MeetingRow) -> Result<Self, QueryError> {
        let status = MeetingStatus::parse(&row.status).ok_or_else(|| {
            QueryError::Corrupt(format!(
                "meeting {} has status {:?}",
                row.meeting_id, row.status
            ))
        })?;
        Ok(MeetingView {
            id: row.meeting_id,
            title: row.title,
            description: row.description,
            location: row.location,
            start_time: row.start_time,
            end_time: row.end_time,
            status,
            organizer_id: row.organizer_id,
            created_at: row.created_at,
            ticket_grades: row
                .grades
                .into_iter()
                .map(TicketGradeView::from_row)
                .collect(),
        })
    }
}

impl TicketGradeView {
    /// The view of a grade row: the price in yuan, `remaining = max(stock − held − sold, 0)`.
    pub fn from_row(g: TicketGradeRow) -> Self {
        TicketGradeView {
            id: g.ticket_grade_id,
            name: g.name,
            price: Yuan::from_fen(g.price_fen),
            stock: g.stock,
            remaining: (g.stock - g.held - g.sold).max(0),
            sold: g.sold,
        }
    }
}

// ------------------------------------------------------------------------------------ orders

/// An order as `POST /orders`, `GET /orders/:id` and the items of `GET /orders` show it (seed 000
/// §5): `{id, userId, items, meetingId, paymentMethodId, duyPayment, status, expiresAt, createdAt,
/// paidAt, transactionId, transaction: {thirdPartyTransactionInfo}, refund}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Order)]
pub struct OrderView {
    /// Its id, as `GET /orders/:id` takes it.
    pub id: Uuid,
    /// User id of the buyer.
    pub user_id: Uuid,
    /// One item per order line, in the order the buyer gave them.
    pub items: Vec<OrderItemView>,
    /// Id of the meeting every line is for.
    pub meeting_id: Uuid,
    /// Payment method id (`wechatpay`, `mock`).
    pub payment_method_id: String,
    /// The amount due, in yuan (the document's own spelling, `duyPayment`).
    pub duy_payment: Yuan,
    /// 待支付 (awaiting payment), 已支付 (paid), 已取消 (cancelled), 已过期 (expired) or 待退款
    /// (a payment to refund).
    pub status: OrderStatusName,
    /// When it expires unless paid (UTC).
    #[serde(serialize_with = "millis")]
    pub expires_at: DateTime<Utc>,
    /// When it was placed (UTC).
    #[serde(serialize_with = "millis")]
    pub created_at: DateTime<Utc>,
    /// When it was paid (UTC); null until then.
    #[schema(required = true)]
    #[serde(serialize_with = "millis_opt")]
    pub paid_at: Option<DateTime<Utc>>,
    /// The payment provider's transaction id: of the payment (已支付), or of the payment to refund
    /// (待退款); null otherwise.
    #[schema(required = true)]
    pub transaction_id: Option<String>,
    /// The payment parameters the client needs.
    pub transaction: TransactionView,
    /// A payment to give back, or null.
    #[schema(required = true)]
    pub refund: Option<RefundView>,
}

/// An order's status, in the document's own Chinese words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = OrderStatus)]
pub enum OrderStatusName {
    /// Awaiting payment.
    #[serde(rename = "待支付")]
    PendingPayment,
    /// Paid; tickets are issued.
    #[serde(rename = "已支付")]
    Paid,
    /// Cancelled by the buyer.
    #[serde(rename = "已取消")]
    Cancelled,
    /// Not paid in time.
    #[serde(rename = "已过期")]
    Expired,
    /// Paid after its tickets were gone: the payment is to be refunded.
    #[serde(rename = "待退款")]
    RefundPending,
}

impl From<OrderStatus> for OrderStatusName {
    fn from(s: OrderStatus) -> Self {
        match s {
            OrderStatus::PendingPayment => Self::PendingPayment,
            OrderStatus::Paid => Self::Paid,
            OrderStatus::Cancelled => Self::Cancelled,
            OrderStatus::Expired => Self::Expired,
            OrderStatus::RefundPending => Self::RefundPending,
        }
    }
}

impl OrderStatusName {
    /// The document's string (待支付, …).
    pub fn as_str(self) -> &'static str {
        let status = match self {
            Self::PendingPayment => OrderStatus::PendingPayment,
            Self::Paid => OrderStatus::Paid,
            Self::Cancelled => OrderStatus::Cancelled,
            Self::Expired => OrderStatus::Expired,
            Self::RefundPending => OrderStatus::RefundPending,
        };
        status.as_str()
    }
}

impl PartialEq<&str> for OrderStatusName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// An item of an order: `{ticketGradeId, ticketGradeName, ticketPrice, ticketAmount, meetingId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OrderItem)]
pub struct OrderItemView {
    /// Ticket grade id.
    pub ticket_grade_id: Uuid,
    /// The grade's name when ordered.
    pub ticket_grade_name: String,
    /// Price of one ticket when ordered, in yuan.
    pub ticket_price: Yuan,
    /// Number of tickets.
    #[schema(minimum = 1)]
    pub ticket_amount: i64,
    /// The meeting (the order's).
    pub meeting_id: Uuid,
}

/// `transaction` of an order: `{thirdPartyTransactionInfo}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OrderTransaction)]
pub struct TransactionView {
    /// What the mini-program passes to `wx.requestPayment`, exactly as the last payment request
    /// stored it; null before a payment was requested or when the method needs none (Mock).
    #[schema(required = true)]
    pub third_party_transaction_info: Option<WechatPayParams>,
}

/// WeChat Pay's JSAPI payment parameters (seed 000 §5 `thirdPartyTransactionInfo`: `{timeStamp,
/// nonceStr, package, signType, paySign}`, plus the `appId` `wx.requestPayment` also takes); field
/// names are WeChat's own, in the order they are stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WechatPayParams {
    /// The app id the payment is for (absent from parameters stored without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// Random string of at most 32 characters.
    pub nonce_str: String,
    /// `prepay_id=…`.
    pub package: String,
    /// Base64 RSA-SHA256 signature over `appId\ntimeStamp\nnonceStr\npackage\n`.
    pub pay_sign: String,
    /// Always `RSA` for API v3.
    pub sign_type: String,
    /// Unix time in seconds, as a string.
    pub time_stamp: String,
}

impl WechatPayParams {
    /// The parameters a payment request stored; a [`QueryError::Corrupt`] when they are not
    /// WeChat Pay's (`what` names the order for the log).
    pub fn from_stored(info: Value, what: impl fmt::Display) -> Result<Self, QueryError> {
        serde_json::from_value(info)
            .map_err(|e| QueryError::Corrupt(format!("payment parameters of {what}: {e}")))
    }
}

/// `refund` of an order: `{amount, reason}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = Refund)]
pub struct RefundView {
    /// Amount to give back, in yuan.
    pub amount: Yuan,
    /// Why it is to be refunded (for people, English).
    pub reason: String,
}

impl OrderView {
    /// The view of an order row; [`QueryError::Corrupt`] when its status is not one of the
    /// document's or its stored payment parameters are not WeChat Pay's.
    pub fn from_row(o: OrderRow) -> Result<Self, QueryError> {
        let status = OrderStatus::parse(&o.status).ok_or_else(|| {
            QueryError::Corrupt(format!("order {} has status {:?}", o.order_id, o.status))
        })?;
        let info = o
            .third_party_transaction_info
            .map(|v| WechatPayParams::from_stored(v, format_args!("order {}", o.order_id)))
            .transpose()?;
        let refund = match (o.refund_amount_fen, o.refund_reason) {
            (Some(fen), Some(reason)) => Some(RefundView {
                amount: Yuan::from_fen(fen),
                reason,
            }),
            _ => None,
        };
        Ok(OrderView {
            id: o.order_id,
            user_id: o.user_id,
            items: o.items.into_iter().map(OrderItemView::from_row).collect(),
            meeting_id: o.meeting_id,
            payment_method_id: o.payment_method_id,
            duy_payment: Yuan::from_fen(o.total_fen),
            status: status.into(),
            expires_at: o.expires_at,
            created_at: o.created_at,
            paid_at: o.paid_at,
            transaction_id: o.transaction_id,
            transaction: TransactionView {
                third_party_transaction_info: info,
            },
            refund,
        })
    }
}

impl OrderItemView {
    /// The view of an order line: its price in yuan.
    pub fn from_row(i: OrderItemRow) -> Self {
        OrderItemView {
            ticket_grade_id: i.ticket_grade_id,
            ticket_grade_name: i.ticket_grade_name,
            ticket_price: Yuan::from_fen(i.ticket_price_fen),
            ticket_amount: i.ticket_amount,
            meeting_id: i.meeting_id,
        }
    }
}

/// `POST /transactions` (seed 000 §7): `{orderId, amount, thirdPartyPayeeId, paymentMethodId,
/// thirdPartyTransactionInfo}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Transaction)]
pub struct TransactionInfoView {
    /// The amount to pay, in yuan.
    pub amount: Yuan,
    /// Id of the order being paid.
    pub order_id: Uuid,
    /// The order's payment method (`wechatpay`, `mock`).
    pub payment_method_id: String,
    /// Who is paid: the WeChat Pay merchant id, or `mock`.
    pub third_party_payee_id: String,
    /// What the mini-program passes to `wx.requestPayment`; null for Mock.
    #[schema(required = true)]
    pub third_party_transaction_info: Option<WechatPayParams>,
}

/// A payment method as `GET /payment_methods` lists it (seed 000 §6): `{id, name, type}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = PaymentMethod)]
pub struct PaymentMethodView {
    /// Id to send as `paymentMethodId` (`wechatpay`, `mock`).
    pub id: &'static str,
    /// Name shown to buyers.
    pub name: &'static str,
    /// `wechat` or `mock`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl From<PaymentMethod> for PaymentMethodView {
    fn from(m: PaymentMethod) -> Self {
        let (name, kind) = match m {
            PaymentMethod::WechatPay => ("微信支付", "wechat"),
            PaymentMethod::Mock => ("模拟支付（开发用）", "mock"),
        };
        PaymentMethodView {
            id: m.id(),
            name,
            kind,
        }
    }
}

// ----------------------------------------------------------------------------------- tickets

/// A ticket as `GET /tickets/:id`, `PATCH /tickets/:id` and the items of `GET /tickets` show it
/// (seed 000 §8): `{id, orderId, meetingId, ticketGradeId, ticketGradeName, ownerId, participant,
/// issuedAt, claimedAt}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Ticket)]
pub struct TicketView {
    /// Its id, as `GET /tickets/:id` takes it (the buyer shares it so that someone claims it).
    pub id: Uuid,
    /// The order that bought it.
    pub order_id: Uuid,
    /// Id of the meeting it admits to.
    pub meeting_id: Uuid,
    /// Ticket grade id.
    pub ticket_grade_id: Uuid,
    /// The grade's current name (empty if the catalog projection has not seen the grade yet).
    pub ticket_grade_name: String,
    /// User id of the buyer.
    pub owner_id: Uuid,
    /// The attendee, or null until named.
    #[schema(required = true)]
    pub participant: Option<ParticipantView>,
    /// When it was issued (UTC).
    #[serde(serialize_with = "millis")]
    pub issued_at: DateTime<Utc>,
    /// When the attendee was named (UTC), or null.
    #[schema(required = true)]
    #[serde(serialize_with = "millis_opt")]
    pub claimed_at: Option<DateTime<Utc>>,
}

/// `participant` of a ticket: `{name, phone}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = Participant)]
pub struct ParticipantView {
    /// The attendee's name, 1–50 characters.
    pub name: String,
    /// Mainland mobile number, 11 digits.
    #[schema(pattern = "^1[0-9]{10}$")]
    pub phone: String,
}

impl TicketView {
    /// The view of a ticket row; the participant is shown once both name and phone are set.
    pub fn from_row(t: TicketRow) -> Self {
        let participant = match (t.participant_name, t.participant_phone) {
            (Some(name), Some(phone)) => Some(ParticipantView { name, phone }),
            _ => None,
        };
        TicketView {
            id: t.ticket_id,
            order_id: t.order_id,
            meeting_id: t.meeting_id,
            ticket_grade_id: t.ticket_grade_id,
            ticket_grade_name: t.ticket_grade_name,
            owner_id: t.owner_id,
            participant,
            issued_at: t.issued_at,
            claimed_at: t.claimed_at,
        }
    }
}

// ---------------------------------------------------------------------------- users, sign-in

/// A user as seed 000 shows it (`POST /users`, `GET /users/current`, `user` of `POST /tokens`):
/// `{createdAt, email, id, phone, roles, wechatId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = User)]
pub struct MtUserView {
    /// When the user registered (UTC, milliseconds).
    #[serde(serialize_with = "millis")]
    pub created_at: DateTime<Utc>,
    /// E-mail address, for users who registered with one (not through seed 000); else null.
    #[schema(required = true)]
    pub email: Option<String>,
    /// Its id (one user base serves every document).
    pub id: Uuid,
    /// Mainland mobile number (11 digits), or null for users without one.
    #[schema(required = true)]
    pub phone: Option<String>,
    /// Roles held (always including `customer`).
    pub roles: Vec<RoleName>,
    /// WeChat openid, or null for users without one.
    #[schema(required = true)]
    pub wechat_id: Option<String>,
}

/// A role a user holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = Role)]
pub enum RoleName {
    /// Buys tickets; every user has it.
    Customer,
    /// Creates and runs meetings.
    Organizer,
    /// Checks tickets at the door.
    Staff,
    /// Reads the raw event log.
    Auditor,
    /// Counts as holding every other role; grants roles and may read any user's orders and
    /// tickets.
    Admin,
}

impl From<Role> for RoleName {
    fn from(r: Role) -> Self {
        match r {
            Role::Customer => RoleName::Customer,
            Role::Organizer => RoleName::Organizer,
            Role::Staff => RoleName::Staff,
            Role::Auditor => RoleName::Auditor,
            Role::Admin => RoleName::Admin,
        }
    }
}

impl From<&UserView> for MtUserView {
    fn from(u: &UserView) -> Self {
        MtUserView {
            created_at: u.registered_at,
            email: u.email.as_ref().map(|e| e.as_str().to_owned()),
            id: u.user_id.as_uuid(),
            phone: u.phone.clone(),
            roles: u.roles.iter().copied().map(RoleName::from).collect(),
            wechat_id: u.wechat_id.clone(),
        }
    }
}

/// `POST /smsCodes` (seed 000 §3): `{createdAt}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SmsCodeSent)]
pub struct SmsCodeSentView {
    /// When the code was sent (UTC, milliseconds); it is valid for 5 minutes by default.
    #[serde(serialize_with = "millis")]
    pub created_at: DateTime<Utc>,
}

/// `POST /wechat_tokens` (seed 000 §2.1): `{expiresAt, wechatId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WechatToken)]
pub struct WechatTokenView {
    /// Until when the token is accepted (UTC, milliseconds).
    #[serde(serialize_with = "millis")]
    pub expires_at: DateTime<Utc>,
    /// The WeChat openid WeChat vouched for.
    pub wechat_id: String,
}

/// `POST /tokens` (seed 000 §2): `{access_token, expires_at, user}` (the document's snake_case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = AccessToken)]
pub struct AccessTokenView {
    /// JWT to send as `Authorization: Bearer …` (also set as the `access_token` cookie).
    pub access_token: String,
    /// When it expires (UTC, milliseconds).
    #[serde(serialize_with = "millis")]
    pub expires_at: DateTime<Utc>,
    /// Who signed in.
    pub user: MtUserView,
}

// ------------------------------------------------------------------------------------ errors

/// Seed 000's error body: `{errors, message, payload, type}` (keys in this order on the wire).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What is wrong, by field: for 'Validation Error' each field's JSON path
    /// (`items[0].ticketPrice`) → message; for 'No Stock' `{items: [{amount}]}`, how many of each
    /// line's grade remain; for 'Too Many Requests' `{phone}`; otherwise null.
    #[schema(value_type = Option<Object>, required = true)]
    pub errors: Value,
    /// A message for people (Chinese).
    pub message: String,
    /// The submitted object for 400s (as the client sent it), otherwise null.
    #[schema(value_type = Value, required = true)]
    pub payload: Value,
    /// The kind of error, as the document names it: `Validation Error`, `No Stock`,
    /// `Unauthorized`, `Forbidden`, `Not Found`, `Duplicated Wechat Id`, `Duplicated Phone`,
    /// `One for One`, `Already Taken`, `Too Many Requests`, `Bad Gateway`, `Service Unavailable`.
    #[serde(rename = "type")]
    #[schema(example = "Validation Error")]
    pub kind: String,
}

/// What Tessera answers WeChat Pay's notification with when it is not handled:
/// `{code: "FAIL", message}` (WeChat Pay's own shape; WeChat Pay retries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WechatPayAck {
    /// Always `FAIL`.
    #[schema(example = "FAIL")]
    pub code: &'static str,
    /// Why (English, for WeChat Pay's logs).
    pub message: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(fen: i64) -> String {
        serde_json::to_string(&Yuan::from_fen(fen)).unwrap_or_default()
    }

    #[test]
    fn yuan_prints_exact_two_decimal_numbers() {
        assert_eq!(json(9950), "99.5");
        assert_eq!(json(9900), "99");
        assert_eq!(json(1), "0.01");
        assert_eq!(json(10), "0.1");
        assert_eq!(json(0), "0");
        assert_eq!(json(-5), "-0.05");
        assert_eq!(json(12_345_678_901), "123456789.01");
        assert_eq!(json(29_99), "29.99");
        assert_eq!(Yuan::from_fen(1999).to_string(), "19.99");
        for fen in 0..10_000 {
            let text = json(fen);
            let back: Decimal = text.parse().unwrap_or_default();
            assert_eq!(back, Decimal::new(fen, 2), "{fen} fen printed as {text}");
        }
    }

    fn text<T: Serialize>(v: &T) -> String {
        serde_json::to_string(v).unwrap_or_default()
    }

    /// The bodies that were built with `json!` before they had types keep their exact bytes
    /// (`json!` sorts keys; the types declare their fields in that order), except that instants
    /// now show milliseconds.
    #[test]
    fn typed_bodies_keep_the_json_macro_bytes() {
        use chrono::TimeZone;
        use serde_json::json;
        let at = Utc
            .with_ymd_and_hms(2025, 3, 1, 2, 0, 0)
            .single()
            .unwrap_or_default()
            + chrono::Duration::microseconds(123_456);
        let secs = "2025-03-01T02:00:00.123Z";
        let id = Uuid::from_u128(0x0190_c9a4_e0b8_7d21_a1f3_c2b4_d5e6_f708);
        let user = UserView {
            user_id: tessera_domain::UserId::from_uuid(id),
            email: tessera_domain::identity::Email::parse("a@example.com").ok(),
            phone: Some("13800138000".into()),
            wechat_id: None,
            display_name: None,
            roles: vec![Role::Customer, Role::Admin],
            disabled: false,
            registered_at: at,
        };
        let old_user = json!({
            "id": user.user_id, "wechatId": user.wechat_id, "phone": user.phone,
            "email": "a@example.com", "roles": user.roles, "createdAt": secs,
        });
        assert_eq!(text(&MtUserView::from(&user)), text(&old_user));
        let token = AccessTokenView {
            access_token: "jwt".into(),
            expires_at: at,
            user: MtUserView::from(&user),
        };
        let old_token = json!({"access_token": "jwt", "expires_at": secs, "user": old_user});
        assert_eq!(text(&token), text(&old_token));
        let wechat = WechatTokenView {
            expires_at: at,
            wechat_id: "o-1".into(),
        };
        assert_eq!(
            text(&wechat),
            text(&json!({ "wechatId": "o-1", "expiresAt": secs }))
        );
        assert_eq!(
            text(&SmsCodeSentView { created_at: at }),
            text(&json!({ "createdAt": secs }))
        );
        let stored = json!({"appId": "wx1", "timeStamp": "1740797400", "nonceStr": "n",
                            "package": "prepay_id=p", "signType": "RSA", "paySign": "s"});
        let params = WechatPayParams::from_stored(stored.clone(), "o").ok();
        let info = TransactionInfoView {
            amount: Yuan::from_fen(19_950),
            order_id: id,
            payment_method_id: "wechatpay".into(),
            third_party_payee_id: "1900000109".into(),
            third_party_transaction_info: params,
        };
        let old_info = json!({
            "orderId": id, "amount": Yuan::from_fen(19_950), "thirdPartyPayeeId": "1900000109",
            "paymentMethodId": "wechatpay", "thirdPartyTransactionInfo": stored,
        });
        assert_eq!(text(&info), text(&old_info));
        let seed_only = json!({"timeStamp": "1", "nonceStr": "n", "package": "p", "signType": "RSA",
                               "paySign": "s"});
        let params = WechatPayParams::from_stored(seed_only.clone(), "o").ok();
        assert_eq!(text(&params), text(&seed_only));
        assert!(WechatPayParams::from_stored(json!({"prepay": "x"}), "o").is_err());
        let error = ErrorBody {
            errors: json!({"phone": "手机号应为11位数字"}),
            message: "提交的信息有误".into(),
            payload: json!({"phone": "1"}),
            kind: "Validation Error".into(),
        };
        let old_error = json!({"type": "Validation Error", "message": "提交的信息有误",
                               "payload": {"phone": "1"}, "errors": {"phone": "手机号应为11位数字"}});
        assert_eq!(text(&error), text(&old_error));
    }

    #[test]
    fn statuses_serialize_as_stored() {
        for s in [
            OrderStatus::PendingPayment,
            OrderStatus::Paid,
            OrderStatus::Cancelled,
            OrderStatus::Expired,
            OrderStatus::RefundPending,
        ] {
            let wire = OrderStatusName::from(s);
            assert_eq!(
                serde_json::to_value(wire).ok(),
                Some(Value::from(s.as_str()))
            );
            assert_eq!(wire.as_str(), s.as_str());
        }
        for s in [SalesStatus::Draft, SalesStatus::OnSale, SalesStatus::Closed] {
            let wire = MeetingStatus::parse(s.as_str());
            assert_eq!(wire.map(MeetingStatus::as_str), Some(s.as_str()));
            assert_eq!(
                serde_json::to_value(wire).ok(),
                Some(Value::from(s.as_str()))
            );
        }
    }
}
