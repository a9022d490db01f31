//! Identity adapters: Argon2id password hashing and HS256 access tokens ([`auth`]), SMS gateways
//! ([`sms`]: Tencent Cloud, console) and the WeChat API client ([`wechat_api`]).

pub mod auth;
pub mod sms;
pub mod wechat_api;
