//! The WeChat mini-program shop with membership cards (seed 002,
//! `../shared/seeds/002_92f57e6162bd24a7.txt`). Its aggregates arrive with the shop issue; see
//! docs/architecture.md, "Adding a document".
