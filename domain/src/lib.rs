//! Tessera's domain: aggregates written as deciders, their commands and events, and value types.
//!
//! Everything here is pure and synchronous. It must not depend on tokio, sqlx, axum, a clock or a
//! random source: time and new ids arrive inside commands, so `decide` gives the same answer for
//! the same history and command every time (../shared/DESIGN.md §2).

pub mod courtesy;
pub mod decider;
pub mod identity;
pub mod meeting;
pub mod openticket;
pub mod plans;
pub mod shared;
pub mod shop;
pub mod testing;

pub use decider::{Decider, DomainEvent, EventDecodeError};
pub use shared::UserId;
