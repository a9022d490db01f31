//! OpenTicket's application services (seed 003): one file per use case — [`venues`] (create,
//! cached reads), [`events`] (create an event and open its sessions' seat streams), [`seat_locks`]
//! (lock, release, the lock-expiry deadline), [`orders`] (place, cancel, the order-expiry
//! deadline), [`payments`] (providers' payment notices), [`fulfilment`] (the process manager: order
//! paid → seats sold → one ticket per seat → order completed) and [`tickets`] (use a ticket at the
//! gate); [`error`] holds [`OpenTicketError`], [`ports`] the ports only this context needs.
//!
//! **One service, many files.** [`OpenTicketService`] is one struct, defined here with its
//! constructor; each use-case file adds an `impl` block. The use cases share the venue cache, the
//! payment gateways and the settings, and placing an order reuses the seat-lock checks, so one
//! struct (one `Arc` in the api layer and in the process manager and deadline handlers) costs
//! nothing while each file still reads as one use case.
//!
//! Every write goes through the shared [`CommandRunner`] (load → decide → append with the expected
//! version → retry on conflict, deadlines stored with the append). Commands spanning aggregates
//! (placing, cancelling and expiring an order with its seats; creating an event with its sessions'
//! seat streams) commit all their streams at once through [`crate::command::AtomicCommand`]
//! (docs/decisions/0009-multi-stream-append.md), so a crash never leaves half of one. Fulfilment
//! after payment is a process manager of idempotent steps instead.

mod deadlines;
pub mod error;
pub mod events;
pub mod fulfilment;
pub mod orders;
pub mod payments;
pub mod ports;
pub mod seat_locks;
pub mod tickets;
pub mod venues;

#[cfg(test)]
mod testing;

pub use deadlines::deadline_handlers;
pub use error::{OpenTicketError, Resource, SeatRequestError};
pub use events::{CreatedEvent, EventInput, NewSession};
pub use fulfilment::Fulfilment;
pub use orders::{ORDER_EXPIRY, OrderExpiry};
pub use seat_locks::{LOCK_EXPIRY, LockExpiry, LockResult};
pub use venues::{VenueInput, VenueSeatsAsArrays};

use crate::clock::Clock;
use crate::command::CommandRunner;
use crate::payments::PaymentGateway;
use chrono::Duration;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tessera_domain::openticket::event::EventData;
use tessera_domain::openticket::seat_session::OpenedSession;
use tessera_domain::openticket::venue::VenueData;
use tessera_domain::openticket::{EventId, SessionId, VenueId};

/// Tunables (docs/openticket.md; `TESSERA_SEAT_LOCK_TTL_SECS`, `TESSERA_ORDER_TTL_SECS`,
/// `TESSERA_MAX_SEATS_PER_LOCK`).
#[derive(Debug, Clone, Copy)]
pub struct OpenTicketSettings {
    /// How long a seat lock holds (seed 003 §5.2 `ttlSeconds`, default 120 s).
    pub lock_ttl: Duration,
    /// How long an unpaid order lives (default 10 minutes).
    pub order_ttl: Duration,
    /// Most seats one lock, release or order request may name (default 10).
    pub max_seats_per_lock: usize,
}

impl Default for OpenTicketSettings {
    fn default() -> Self {
        Self {
            lock_ttl: Duration::seconds(120),
            order_ttl: Duration::minutes(10),
            max_seats_per_lock: 10,
        }
    }
}

/// OpenTicket's command side: every use case of this module, over one [`CommandRunner`].
pub struct OpenTicketService {
    runner: CommandRunner,
    clock: Arc<dyn Clock>,
    gateways: HashMap<String, Arc<dyn PaymentGateway>>,
    settings: OpenTicketSettings,
    /// Venues read so far (a venue never changes once created).
    venues: Memo<VenueId, Arc<VenueData>>,
    /// What opened each seat session read so far (never changes once opened): a seat lock reads
    /// it here instead of loading the session's whole stream.
    sessions: Memo<SessionId, OpenedSession>,
    /// Events read so far (an event has one event, `OpenTicketEventCreated`, and never changes):
    /// a seat lock checks the price categories here instead of reading the event's stream.
    events: Memo<EventId, Arc<EventData>>,
}

/// Most entries a [`Memo`] holds before it is emptied and refilled by later reads.
const MEMO_BOUND: usize = 65_536;

/// States that never change once created, kept after the first read of their stream. Bounded by
/// [`MEMO_BOUND`]: a bound on memory, not on correctness (a forgotten entry is read again).
struct Memo<K, V> {
    entries: RwLock<HashMap<K, V>>,
}

impl<K: Eq + std::hash::Hash, V: Clone> Memo<K, V> {
    fn new() -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
        }
    }

    fn get(&self, key: &K) -> Option<V> {
        // A poisoned lock only means another thread panicked holding it; entries are inserted
        // whole, so what is there is still good.
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.get(key).cloned()
    }

    fn insert(&self, key: K, value: V) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MEMO_BOUND {
            entries.clear();
        }
        entries.insert(key, value);
    }
}

impl OpenTicketService {
    /// A service writing through `runner`, reading the time from `clock`, with payment `gateways`
    /// keyed by the provider name clients send as `paymentProvider` (`Mock`, `Stripe`).
    pub fn new(
        runner: CommandRunner,
        clock: Arc<dyn Clock>,
        gateways: HashMap<String, Arc<dyn PaymentGateway>>,
        settings: OpenTicketSettings,
    ) -> Self {
        Self {
            runner,
            clock,
            gateways,
            settings,
            venues: Memo::new(),
            sessions: Memo::new(),
            events: Memo::new(),
        }
    }

    /// The settings it was built with.
    pub fn settings(&self) -> OpenTicketSettings {
        self.settings
    }
}
