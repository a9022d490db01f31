//! Given/when/then for the shop's numbering on the in-memory store.
#![allow(clippy::unwrap_used, clippy::expect_used)]
