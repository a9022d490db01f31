//! Adapters only OpenTicket uses: HMAC-signed ticket codes and their QR images ([`ticket_codes`]).

pub mod ticket_codes;
