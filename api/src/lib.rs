//! Tessera's HTTP API and command line: axum routers (one module per resource, later one per API
//! document), per-document error mapping, configuration, telemetry, and the `tessera` binary's
//! commands. The only crate that knows HTTP.

pub mod cli;
pub mod config;
pub mod courtesy;
pub mod error;
pub mod http;
pub mod meeting;
pub mod openapi;
pub mod openticket;
pub mod plans;
pub mod routes;
pub mod sandbox;
pub mod services;
pub mod shop;
pub mod startup;
pub mod telemetry;

pub use config::{Config, ServerConfig};

/// The allocator the `tessera` binary runs with (`#[global_allocator]` in `main.rs`; the memory
/// bench declares the same). glibc's allocator kept the ~1 GB a 100,000-seat venue passed through
/// in its per-thread arenas after the request; mimalloc hands freed pages back to the system
/// (docs/benchmarks.md, "Memory per request").
pub type Allocator = mimalloc::MiMalloc;

/// The [`Allocator`] value for a `#[global_allocator]` static.
pub const ALLOCATOR: Allocator = mimalloc::MiMalloc;
pub use startup::{AppState, Engine, RunningServer, app};
