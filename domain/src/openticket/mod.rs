//! OpenTicket aggregates (placeholder; being written).
