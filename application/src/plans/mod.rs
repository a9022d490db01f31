//! Team plans (seed 004): its use cases arrive with its issue (docs/architecture.md, "Adding a document").
