//! Payment adapters (placeholder; being written).
