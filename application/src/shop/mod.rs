//! The shop (seed 002): its use cases arrive with its issue (docs/architecture.md, "Adding a document").
