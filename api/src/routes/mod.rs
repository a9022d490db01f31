//! HTTP routes, one module per resource, merged in [`crate::startup::app`].

pub mod audit;
pub mod health;
