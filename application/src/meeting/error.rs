//! Why a meeting-ticket use case failed: typed, without wording. The api's seed 000 module words
//! each case for clients (field paths, messages, statuses); this layer only says what happened.

use crate::command::EngineError;
use crate::payments::wechatpay::WechatPayError;
use tessera_domain::meeting::MeetingError;
use tessera_domain::meeting::order::{OrderError, OrderStatus};
use tessera_domain::meeting::ticket::TicketError;
use tessera_domain::shared::MoneyError;

/// What a use case looked for and did not find (or may not see: another buyer's order reads as
/// missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// No meeting with the id.
    Meeting,
    /// No order with the id, or not the caller's.
    Order,
    /// No issued ticket with the id.
    Ticket,
}

/// Why a transaction id a client reported does not count as a payment (`POST
/// /third_party_transactions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionRefusal {
    /// Empty after trimming, or longer than 64 characters.
    Malformed,
    /// WeChat Pay does not show the order paid (`SUCCESS`) with this transaction id.
    NotConfirmed,
    /// A Mock order's transaction id must start with `mock_`.
    NotMock,
}

/// Why a meeting-ticket command failed.
#[derive(Debug, thiserror::Error)]
pub enum MeetingServiceError {
    /// The meeting refused the command: end before start, a duplicate grade, a price that is not
    /// CNY, an unknown grade (with the order line's index when the command has lines), stock below
    /// what is held and sold, not on sale, a quoted price that is not the grade's current one
    /// (with the line and the current price), not enough stock (with what remains per line),
    /// an empty order. Never [`MeetingError::NotFound`]: that is [`Self::NotFound`].
    #[error(transparent)]
    Meeting(MeetingError),
    /// The order refused the command: it is not pending (with its status), or a payment's amount
    /// is not its total (with both). Never [`OrderError::NotFound`].
    #[error(transparent)]
    Order(OrderError),
    /// The ticket refused the command: another attendee holds it. Never [`TicketError::NotFound`].
    #[error(transparent)]
    Ticket(TicketError),
    /// No such meeting, order or ticket (or another user's order).
    #[error("no such {0:?}")]
    NotFound(Missing),
    /// Only the meeting's organizer or an admin may change it.
    #[error("only the meeting's organizer or an admin may change it")]
    Forbidden,
    /// The payment method is not offered ([`super::MeetingService::payment_methods`]).
    #[error("payment method {0:?} is not offered")]
    UnsupportedPaymentMethod(String),
    /// WeChat Pay needs the buyer's WeChat openid, and the buyer has none.
    #[error("WeChat Pay needs a buyer registered through WeChat")]
    WechatUserRequired,
    /// Only a pending (待支付) order can be paid; this one has `status`.
    #[error("the order is {}, nothing to pay", .0.as_str())]
    NotPayable(OrderStatus),
    /// A reported transaction id does not count as a payment.
    #[error("the transaction id does not count as a payment: {0:?}")]
    Transaction(TransactionRefusal),
    /// The attendee already attends this meeting on another ticket (one seat per phone per
    /// meeting).
    #[error("the attendee already attends the meeting on another ticket")]
    OneForOne,
    /// A WeChat Pay order, but WeChat Pay is not configured.
    #[error("WeChat Pay is not configured")]
    WechatPayNotConfigured,
    /// WeChat Pay failed or refused.
    #[error("WeChat Pay failed")]
    Payment(#[source] WechatPayError),
    /// WeChat Pay's payment parameters could not be kept as JSON.
    #[error("WeChat Pay's payment parameters are not JSON")]
    PaymentParams(#[source] serde_json::Error),
    /// A provider reported an amount that is no CNY amount (negative fen).
    #[error("the provider reported {fen} fen")]
    PaidAmount {
        /// What it reported, in fen.
        fen: i64,
        /// Why it is no amount.
        #[source]
        source: MoneyError,
    },
    /// An amount overflowed (a total beyond `i64` fen).
    #[error("amount out of range")]
    Amount(#[source] MoneyError),
    /// The engine failed (store, contention, encoding); never the client's fault.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<MeetingError> for MeetingServiceError {
    fn from(e: MeetingError) -> Self {
        match e {
            MeetingError::NotFound => Self::NotFound(Missing::Meeting),
            other => Self::Meeting(other),
        }
    }
}

impl From<OrderError> for MeetingServiceError {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::NotFound => Self::NotFound(Missing::Order),
            other => Self::Order(other),
        }
    }
}

impl From<TicketError> for MeetingServiceError {
    fn from(e: TicketError) -> Self {
        match e {
            TicketError::NotFound => Self::NotFound(Missing::Ticket),
            other => Self::Ticket(other),
        }
    }
}

impl From<WechatPayError> for MeetingServiceError {
    fn from(e: WechatPayError) -> Self {
        Self::Payment(e)
    }
}
