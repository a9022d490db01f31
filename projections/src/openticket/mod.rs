//! OpenTicket read models (being written; see docs/read-models.md).
