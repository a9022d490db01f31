//! Tessera's application layer: the ports the core needs from the outside world (event store,
//! deadline store, clock), the generic command handler (load → decide → append with expected
//! version → retry on conflict), catch-up subscriptions, upcasting and the deadline scheduler logic.
//!
//! Depends on the domain only (plus serde, uuid, chrono). It must not depend on sqlx, axum or a
//! particular async runtime: waiting is a port method, so adapters decide how to wait.

pub mod blobs;
pub mod clock;
pub mod command;
pub mod courtesy;
pub mod deadlines;
pub mod event_store;
pub mod identity;
pub mod in_memory;
pub mod meeting;
pub mod openticket;
pub mod payments;
pub mod plans;
pub mod process;
pub mod shop;
pub mod subscription;
pub mod upcasting;

pub use clock::{Clock, SystemClock};
pub use command::Applied;
pub use command::{
    AtomicCommand, CommandError, CommandRunner, Committed, Decided, Decisions, EngineError, Handle,
    execute,
};
pub use deadlines::{
    Deadline, DeadlineHandler, DeadlineScheduler, DeadlineStore, FireReport, NewDeadline,
};
pub use event_store::{
    AppendOutcome, AppendRequest, EventMetadata, EventStore, ExpectedVersion, NewEvent,
    RecordedEvent, StoreError, StreamId, StreamIdError,
};
pub use process::{HandlerError, ProcessManager};
pub use subscription::Subscription;
pub use upcasting::{Upcaster, UpcasterRegistry, UpcastingEventStore};
