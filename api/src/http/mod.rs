//! HTTP plumbing every API document shares and none owns: who is calling ([`auth`]), reading JSON
//! bodies with errors that name the field ([`body`]), numeric query parameters ([`params`]),
//! read-your-writes waiting and answers after a write ([`consistency`]), `Idempotency-Key`
//! ([`idempotency`]), the request id ([`request_id`]), panics
//! ([`panic`]), checking uploaded images ([`images`]), logging failed requests once ([`errors`]) and serving connections within timeouts
//! and a cap ([`connections`]).
//!
//! Everything here answers with neutral error types; each document's `error.rs` turns them into
//! its own error format. No module here may import a document's module.

pub mod auth;
pub mod body;
pub mod connections;
pub mod consistency;
pub mod errors;
pub mod idempotency;
pub mod images;
pub mod metrics;
pub mod panic;
pub mod params;
pub mod rate_limit;
pub mod request_id;

pub use auth::{AuthError, AuthRejection, Caller, SignedIn};
pub use body::BodyError;
pub use consistency::{accepted, read_after_write, read_your_effects, read_your_writes};
pub use idempotency::{IdempotencyError, idempotent};
pub use params::ParamError;
pub use request_id::RequestId;
