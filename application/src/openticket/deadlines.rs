//! What this context's two deadline handlers share: the metadata of the events they append, the
//! ids in their payloads, and their registration by kind.

use super::OpenTicketService;
use super::error::OpenTicketError;
use super::orders::{ORDER_EXPIRY, OrderExpiry};
use super::seat_locks::{LOCK_EXPIRY, LockExpiry};
use crate::deadlines::{Deadline, DeadlineHandler};
use crate::event_store::EventMetadata;
use std::sync::Arc;
use uuid::Uuid;

/// Metadata of events a deadline appends: no request or user, `"trigger": "deadline"`.
pub(super) fn deadline_meta() -> EventMetadata {
    let mut meta = EventMetadata::default();
    meta.extra
        .insert("trigger".into(), serde_json::json!("deadline"));
    meta
}

/// The id stored under `key` in a deadline's payload (a UUID string).
pub(super) fn payload_id<T: From<Uuid>>(
    deadline: &Deadline,
    key: &'static str,
) -> Result<T, OpenTicketError> {
    deadline.payload[key]
        .as_str()
        .and_then(|s| s.parse::<Uuid>().ok())
        .map(T::from)
        .ok_or(OpenTicketError::DeadlinePayload {
            deadline_id: deadline.deadline_id,
            key,
        })
}

/// Both deadline handlers of this context, by kind ([`LOCK_EXPIRY`], [`ORDER_EXPIRY`]), for the
/// scheduler.
pub fn deadline_handlers(
    service: &Arc<OpenTicketService>,
) -> Vec<(String, Arc<dyn DeadlineHandler>)> {
    vec![
        (
            LOCK_EXPIRY.to_owned(),
            Arc::new(LockExpiry(service.clone())) as Arc<dyn DeadlineHandler>,
        ),
        (
            ORDER_EXPIRY.to_owned(),
            Arc::new(OrderExpiry(service.clone())),
        ),
    ]
}
