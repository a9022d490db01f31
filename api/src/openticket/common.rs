//! What OpenTicket routes share: the signed-in caller, id and pagination parameters in the
//! document's wording.

use super::error::OtError;
use crate::http::{SignedIn, params};
use std::collections::HashMap;
use tessera_projections::openticket::PageRequest;

/// The signed-in caller of an OpenTicket route (seed 003 §2.1: `Authorization: Bearer
/// <accessToken>`). Rejection: 401 `UNAUTHORIZED` for a missing, malformed, forged or expired token.
pub type OtCaller = SignedIn<OtError>;

/// Parse a UUID path or query parameter; 400 naming `field` otherwise.
pub fn parse_id<T: std::str::FromStr>(field: &str, raw: &str) -> Result<T, OtError> {
    raw.parse()
        .map_err(|_| OtError::validation(field, format!("must be a UUID, got {raw:?}")))
}

/// Largest `pageSize` (seed 003 §3.1).
pub const MAX_PAGE_SIZE: u32 = PageRequest::MAX_PAGE_SIZE;

/// Read `page` (from 1, default 1) and `pageSize` (1–100, default 20) from query parameters
/// (seed 003 §3.1). Out-of-range or non-numeric values are a 400 naming the parameter, never
/// silently clamped.
pub fn page_request(query: &HashMap<String, String>) -> Result<PageRequest, OtError> {
    Ok(PageRequest::new(
        params::number(query, "page", 1, 1, 1_000_000)?,
        params::number(query, "pageSize", 20, 1, MAX_PAGE_SIZE)?,
    ))
}
