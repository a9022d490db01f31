#![allow(clippy::unwrap_used, clippy::expect_used)]
//! placeholder
fn main() {}
