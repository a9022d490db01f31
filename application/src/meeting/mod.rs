//! Meeting-ticket use cases (seed 000 §4–§8), one file each: [`meetings`] (meetings and their
//! ticket grades), [`orders`] (place, cancel, expire, with the expiry deadline handler),
//! [`payments`] (WeChat Pay and Mock transactions, client-reported payments, notifications),
//! [`tickets`] (the issuing process manager, attendee claims); [`error`] says why one failed.
//! All run over the shared [`CommandRunner`].
//!
//! Placing, cancelling and expiring an order change the order and the meeting's stock in one
//! atomic commit (the reservation carries the order's expiry deadline), so no reservation exists
//! without its order (docs/decisions/0009-multi-stream-append.md). A payment sells the reserved
//! stock first, then marks the order paid; both steps are idempotent, so a repeated notification
//! finishes what a crash interrupted.
//!
//! Money is CNY [`tessera_domain::shared::Money`]. The acting user arrives as a plain user id and
//! roles (an admin may act on every meeting and order); no HTTP type reaches this module.

pub mod error;
pub mod meetings;
pub mod orders;
pub mod payments;
pub mod tickets;

pub use error::{MeetingServiceError, Missing, TransactionRefusal};
pub use meetings::{GradeInput, MeetingChange, MeetingInput};
pub use orders::{MeetingOrderExpiry, NewOrder, OrderLineInput};
pub use payments::{PaymentMethod, TransactionInfo};
pub use tickets::MeetingTicketIssuing;

use crate::clock::Clock;
use crate::command::{CommandRunner, EngineError};
use crate::event_store::EventStore;
use crate::payments::wechatpay::WechatPay;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use std::sync::Arc;
use tessera_domain::Decider;
use tessera_domain::identity::Role;
use tessera_domain::meeting::order::MeetingOrder;
use tessera_domain::meeting::ticket::MeetingTicket;
use tessera_domain::meeting::{Meeting, MeetingId, MeetingOrderId, MeetingTicketId};

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

/// The meeting-ticket command side. Its use cases are spread over this module's files.
pub struct MeetingService {
    runner: CommandRunner,
    clock: Arc<dyn Clock>,
    wechat_pay: Option<Arc<dyn WechatPay>>,
    /// The WeChat Pay merchant id (`thirdPartyPayeeId`); empty without WeChat Pay.
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
            runner: CommandRunner::new(store),
            clock,
            wechat_pay,
            payee_id,
            settings,
        }
    }

    /// The settings it runs with.
    pub fn settings(&self) -> MeetingSettings {
        self.settings
    }

    /// Now, to the microsecond (what the stores keep), so a decision and its stored event agree.
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    async fn state<D: Decider>(&self, id: impl std::fmt::Display) -> Result<D, EngineError> {
        let stream = CommandRunner::stream::<D>(id)?;
        Ok(self.runner.load::<D>(&stream).await?.0)
    }

    /// A meeting's state (`Meeting::default()` when there is none).
    pub async fn meeting(&self, id: MeetingId) -> Result<Meeting, MeetingServiceError> {
        Ok(self.state::<Meeting>(id).await?)
    }

    /// An order's state (`MeetingOrder::default()` when there is none).
    pub async fn order(&self, id: MeetingOrderId) -> Result<MeetingOrder, MeetingServiceError> {
        Ok(self.state::<MeetingOrder>(id).await?)
    }

    /// A ticket's state (`MeetingTicket::default()` when there is none).
    pub async fn ticket(&self, id: MeetingTicketId) -> Result<MeetingTicket, MeetingServiceError> {
        Ok(self.state::<MeetingTicket>(id).await?)
    }
}

/// Whether `roles` include [`Role::Admin`], who may act on every meeting and order.
fn is_admin(roles: &[Role]) -> bool {
    roles.contains(&Role::Admin)
}

#[cfg(test)]
mod tests;
