//! Courtesy (礼记) greeting cards bound to QR codes (seed 001,
//! `../shared/seeds/001_da8a8163d42fbecd.txt`). Its aggregates arrive with the Courtesy issue; see
//! docs/architecture.md, "Adding a document".
