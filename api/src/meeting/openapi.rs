//! The OpenAPI 3.1 document of the meeting-ticket API (seed 000), generated from the code and
//! served at [`DOCUMENT_PATH`] (public; listed on `/docs` beside OpenTicket's).
//!
//! The operations come from the `#[utoipa::path]` of every handler that [`super::router`]
//! registers; their schemas are the types the handlers serialize ([`super::views`]) and the request
//! bodies they parse. This module adds what is common: title, servers, tags, the security schemes
//! (the `Authorization: Bearer` header the document asks for, and the `access_token` and
//! `wechatToken` cookies Tessera also accepts) and the shared responses.

use super::views::ErrorBody;
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToResponse};

/// Where the document is served. `/meeting/…` is none of seed 000's paths (they are plural:
/// `/meetings`) nor another document's.
pub const DOCUMENT_PATH: &str = "/meeting/openapi.json";

/// Name of the bearer JWT scheme (`Authorization: Bearer <access_token>`).
pub const BEARER: &str = "bearerAuth";

/// Name of the scheme for the `access_token` cookie `POST /tokens` sets.
pub const ACCESS_TOKEN_COOKIE: &str = "accessTokenCookie";

/// Name of the scheme for the `wechatToken` cookie `POST /wechat_tokens` sets.
pub const WECHAT_TOKEN_COOKIE: &str = "wechatTokenCookie";

/// Operation tags: one per section of seed 000.
pub mod tags {
    /// Seed 000 §1–§3: users, tokens, WeChat tokens, SMS codes.
    pub const SIGN_IN: &str = "Users and sign-in";
    /// Seed 000 §4, plus the organizer's writes Tessera adds.
    pub const MEETINGS: &str = "Meetings";
    /// Seed 000 §5.
    pub const ORDERS: &str = "Orders";
    /// Seed 000 §6–§7, plus WeChat Pay's notification.
    pub const PAYMENTS: &str = "Payments";
    /// Seed 000 §8.
    pub const TICKETS: &str = "Tickets";
}

/// 401 'Unauthorized': no access token (header or cookie), or one that is malformed, forged or
/// expired.
#[derive(Debug, Serialize, ToResponse)]
#[response(
    description = "'Unauthorized': no access token (`Authorization: Bearer` or the `access_token` cookie), or a malformed, forged or expired one"
)]
pub struct Unauthorized(pub ErrorBody);

/// 503 'Service Unavailable': the store failed or is contended.
#[derive(Debug, Serialize, ToResponse)]
#[response(description = "'Service Unavailable': the store failed or is contended; try again")]
pub struct ServiceUnavailable(pub ErrorBody);

/// 500: an unexpected failure. Its body is not part of this document (the detail is logged with
/// the request id, never sent).
#[derive(Debug, Serialize, ToResponse)]
#[response(
    description = "An unexpected failure; the detail is logged with the request id, never sent"
)]
pub struct InternalError;

/// The root of the document: everything but the operations, which the routers collect.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera meeting-ticket API",
        description = "The meeting-ticket API (seed 000) as Tessera serves it at the document's \
            own root paths: sign-in by WeChat and SMS code, meetings with ticket grades, orders \
            paid through WeChat Pay (or the Mock method in development), and tickets whose \
            participant is named once, by their buyer. Failures are `{\"type\", \"message\", \"payload\", \
            \"errors\"}` with the document's `type` strings. Money is in yuan (JSON numbers, at \
            most two decimals; prices sent as strings are refused); instants are RFC 3339 UTC with \
            milliseconds (`2026-03-01T02:00:00.123Z`). Sign in with `POST /tokens` and send \
            `Authorization: Bearer <access_token>` (the `access_token` cookie works too). Every \
            response carries `x-request-id`. What the seed document left open is recorded in \
            docs/meeting-tickets.md.",
        version = "1.0",
        license(name = "UNLICENSED", identifier = "UNLICENSED"),
    ),
    servers((url = "/", description = "The server that serves this document")),
    tags(
        (name = tags::SIGN_IN, description = "Users, access tokens, WeChat tokens and SMS codes (seed 000 §1–§3)"),
        (name = tags::MEETINGS, description = "Meetings and ticket grades (seed 000 §4; the writes are Tessera's)"),
        (name = tags::ORDERS, description = "Orders (seed 000 §5)"),
        (name = tags::PAYMENTS, description = "Payment methods, transactions and WeChat Pay's notification (seed 000 §6–§7)"),
        (name = tags::TICKETS, description = "Tickets and their participants (seed 000 §8)"),
    ),
    components(
        schemas(ErrorBody),
        responses(Unauthorized, ServiceUnavailable, InternalError),
    ),
    modifiers(&SecuritySchemes),
)]
pub struct MeetingApiDoc;

/// Declares the security schemes the operations name.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("The `access_token` of `POST /tokens`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            ACCESS_TOKEN_COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "access_token",
                "The `access_token` cookie `POST /tokens` sets (instead of the header)",
            ))),
        );
        components.add_security_scheme(
            WECHAT_TOKEN_COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "wechatToken",
                "The `wechatToken` cookie `POST /wechat_tokens` sets (`GET /users/current` only)",
            ))),
        );
    }
}

/// The whole document: [`MeetingApiDoc`] plus every operation of [`super::router`].
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = MeetingApiDoc::openapi();
    doc.merge(super::router().into_openapi());
    doc
}
