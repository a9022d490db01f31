//! Ticket code signing and QR images (placeholder; being written).
