//! Numeric query parameters (`page`, `pageSize`, `limit`, …): parsed strictly, never clamped, so a
//! client learns that it sent something out of range.

use std::collections::HashMap;

/// Why a query parameter was refused; `field` is the parameter's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// Not a whole number (after trimming spaces).
    #[error("{field}: must be a whole number, got {raw:?}")]
    NotANumber {
        /// The query parameter as the client named it (e.g. `pageSize`).
        field: String,
        /// What was sent.
        raw: String,
        /// Smallest accepted value.
        min: u32,
        /// Largest accepted value.
        max: u32,
    },
    /// A whole number outside `min..=max`.
    #[error("{field}: must be between {min} and {max}")]
    OutOfRange {
        /// The query parameter as the client named it (e.g. `pageSize`).
        field: String,
        /// Smallest accepted value.
        min: u32,
        /// Largest accepted value.
        max: u32,
    },
}

impl ParamError {
    /// The parameter at fault.
    pub fn field(&self) -> &str {
        match self {
            ParamError::NotANumber { field, .. } | ParamError::OutOfRange { field, .. } => field,
        }
    }
}

/// The parameter `field` of `query` as a number in `min..=max`, or `default` when absent.
pub fn number(
    query: &HashMap<String, String>,
    field: &str,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, ParamError> {
    let Some(raw) = query.get(field) else {
        return Ok(default);
    };
    match raw.trim().parse::<i64>() {
        Ok(n) if n >= i64::from(min) && n <= i64::from(max) => Ok(n as u32),
        Ok(_) => Err(ParamError::OutOfRange {
            field: field.to_owned(),
            min,
            max,
        }),
        Err(_) => Err(ParamError::NotANumber {
            field: field.to_owned(),
            raw: raw.clone(),
            min,
            max,
        }),
    }
}
