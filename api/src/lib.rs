//! Tessera's HTTP API and command line: axum routers (one module per resource, later one per API
//! document), per-document error mapping, configuration, telemetry, and the `tessera` binary's
//! commands. The only crate that knows HTTP.

pub mod cli;
pub mod config;
pub mod error;
pub mod http;
pub mod meeting;
pub mod openapi;
pub mod openticket;
pub mod routes;
pub mod sandbox;
pub mod services;
pub mod startup;
pub mod telemetry;

pub use config::{Config, ServerConfig};
pub use startup::{AppState, Engine, RunningServer, app};
