//! The clock port: the one place the application reads the time.

use chrono::{DateTime, Utc};

/// Source of the current time (UTC). Tests substitute a fixed or steerable clock.
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
