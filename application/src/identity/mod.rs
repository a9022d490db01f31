//! Identity use cases shared by every document (DESIGN.md §7): email/password accounts, access and
//! refresh tokens, roles ([`accounts`]); phone + SMS code and WeChat sign-in ([`phone_signin`]); and
//! the ports to SMS gateways and the WeChat API ([`ports`]).
//! Google and Apple sign-in through OpenID Connect: [`oauth`].

mod access;
mod accounts;
pub mod oauth;
pub mod phone_signin;
pub mod ports;

pub use access::AccessError;
pub use accounts::*;
