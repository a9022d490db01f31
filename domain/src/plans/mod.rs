//! Team subscription plans (seed 004, `../shared/seeds/004_52f8b8bfa653c892.txt`). Its aggregates
//! arrive with the plans issue; see docs/architecture.md, "Adding a document".
