//! Field-level validation errors and the one rule for free text, shared by every context.

/// A rejected input, naming the field as the client sent it (a JSON path such as
/// `seatMap.areas[0].seats[3].seatId`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    /// JSON path of the field.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FieldError {
    /// The error for `field` (a JSON path as the client sent it) saying `reason`, what is wrong.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Check a free-text field: trimmed length between `min` and `max` characters, no control
/// characters.
pub fn check_text(field: &str, value: &str, min: usize, max: usize) -> Result<(), FieldError> {
    let n = value.trim().chars().count();
    if n < min || n > max {
        return Err(FieldError::new(
            field,
            format!("must be {min} to {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}
