//! OpenTicket's aggregates (seed 003): [`venue::Venue`] with its seat map, [`event::Event`] with
//! sessions and price categories, [`seat_session::SeatSession`] (every seat of one session:
//! available, locked, held for an order, sold), [`order::Order`] and [`ticket::Ticket`]; and the value
//! types they share (money, ids, seat and area codes).
//!
//! Stored event shapes are listed in docs/event-catalog.md (camelCase `data`).

pub mod event;
pub mod order;
pub mod seat_session;
pub mod ticket;
pub mod venue;

pub use crate::shared::{Currency, Money, MoneyError};
pub use crate::shared::{FieldError, check_text};

use serde::{Deserialize, Serialize};
use std::fmt;

crate::uuid_id!(
    /// A venue with its seat map (stream `openticketVenue-{id}`, seed 003 §3 `venueId`).
    VenueId
);
crate::uuid_id!(
    /// A venue's seat map (one per venue; `version` 1).
    SeatMapId
);
crate::uuid_id!(
    /// An event (a show with one or more sessions).
    EventId
);
crate::uuid_id!(
    /// One session (performance) of an event; also names its `openticketSeatSession-…` stream.
    SessionId
);
crate::uuid_id!(
    /// An OpenTicket order (stream `openticketOrder-{id}`, seed 003 §6 `orderId`).
    OrderId
);
crate::uuid_id!(
    /// One payment attempt of an order (`paymentId`).
    PaymentId
);
crate::uuid_id!(
    /// A ticket (one per sold seat).
    TicketId
);
crate::uuid_id!(
    /// One seat-lock request (`lockId`).
    LockId
);

impl TicketId {
    /// The ticket of `seat` in `order`: UUID v5 (URL namespace) of `openticket:{orderId}:{seatId}`,
    /// so issuing twice lands on the same stream.
    pub fn for_seat(order: OrderId, seat: &SeatId) -> TicketId {
        let name = format!("openticket:{order}:{seat}");
        TicketId::from_uuid(uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            name.as_bytes(),
        ))
    }
}

macro_rules! code_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        ///
        /// 1–32 characters: ASCII letters, digits, `-`, `_`, `.`.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Check the shape above; the error says what is wrong.
            pub fn parse(value: &str) -> Result<Self, String> {
                let ok = (1..=32).contains(&value.len())
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
                if ok {
                    Ok(Self(value.to_owned()))
                } else {
                    Err("must be 1 to 32 characters of letters, digits, '-', '_' or '.'".to_owned())
                }
            }
            /// The code as given and stored, e.g. `A-001`.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, String> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

code_id!(
    /// A seat's id within its venue, e.g. `A-001`.
    SeatId
);
code_id!(
    /// An area of a seat map, e.g. `VIP`.
    AreaId
);
code_id!(
    /// A price category of an event, e.g. `VIP`.
    CategoryId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_checked() {
        assert!(SeatId::parse("A-001").is_ok());
        assert!(SeatId::parse("").is_err());
        assert!(SeatId::parse("A 001").is_err());
        assert!(SeatId::parse(&"x".repeat(33)).is_err());
        let order = OrderId::from_uuid(uuid::Uuid::nil());
        let seat = SeatId::parse("A-001").unwrap();
        assert_eq!(
            TicketId::for_seat(order, &seat),
            TicketId::for_seat(order, &seat)
        );
        assert_ne!(
            TicketId::for_seat(order, &seat),
            TicketId::for_seat(order, &SeatId::parse("A-002").unwrap())
        );
    }
}
