//! The OpenAPI 3.1 document of the OpenTicket API (`/v1`), generated from the code and served at
//! `GET /v1/openapi.json` (public) by `crate::openapi`, which also lists it on `/docs`.
//!
//! Every `/v1` route is registered through utoipa-axum's `OpenApiRouter` and `routes!` in its own
//! module (`crate::openticket::*::router`), so a route cannot be served without its
//! `#[utoipa::path]` operation; [`document`] adds what is common (title, servers, tags, the bearer
//! scheme, the shared error responses) to the operations those routers collect.
//!
//! The schemas are derived from the types the handlers read and write, so the document cannot
//! drift from the JSON: request bodies are the handlers' own `Deserialize` types, successes are
//! `crate::openticket::envelope::Envelope<T>` around the response types of
//! `crate::openticket::views` (built from the read models' plain rows), and errors are
//! `crate::openticket::error::ErrorBody`. Only the payment providers' webhook payloads, which
//! infrastructure parses by hand, are described by types of their own (in
//! `crate::openticket::payments`).

use super::error::ErrorBody;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToResponse};

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/v1/openapi.json";

/// Name of the bearer JWT security scheme that protected operations require.
pub const BEARER: &str = "bearerAuth";

/// Operation tags: one per section of the seed document, plus Tessera's additions.
pub mod tags {
    /// Seed 003 §2, plus registration, logout and the caller's profile.
    pub const AUTH: &str = "Authentication";
    /// Tessera's role management (not in the seed document).
    pub const ADMIN: &str = "Administration";
    /// Seed 003 §3.
    pub const VENUES: &str = "Venues";
    /// Seed 003 §4.
    pub const EVENTS: &str = "Events";
    /// Seed 003 §5.
    pub const SEATS: &str = "Seats";
    /// Seed 003 §6.
    pub const ORDERS: &str = "Orders";
    /// Seed 003 §7.
    pub const TICKETS: &str = "Tickets";
    /// Seed 003 §10.
    pub const WEBHOOKS: &str = "Webhooks";
    /// The Mock payment provider's page (Tessera's addition).
    pub const MOCK_PAYMENT: &str = "Mock payment";
}

/// The root of the document: everything but the operations, which the routers collect.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera OpenTicket API",
        description = "The OpenTicket ticketing API (seed 003) as Tessera serves it under `/v1`. \
            Successes are `{\"data\": …, \"meta\": {\"requestId\", \"timestamp\"}}`, failures \
            `{\"error\": {\"code\", \"message\", \"details\"}, \"meta\": …}`; lists are \
            `{\"data\": {\"items\": […], \"pagination\": {…}}}`. Sign in with \
            `POST /v1/auth/login` and send `Authorization: Bearer <accessToken>`. Every response \
            carries `x-request-id`. What the seed document left open is recorded in \
            docs/openticket.md.",
        version = "1.0",
        license(name = "UNLICENSED", identifier = "UNLICENSED"),
    ),
    servers((url = "/", description = "The server that serves this document")),
    tags(
        (name = tags::AUTH, description = "Sign-up, sign-in and tokens (seed 003 §2)"),
        (name = tags::ADMIN, description = "Role management, admins only (Tessera)"),
        (name = tags::VENUES, description = "Venues and seat maps (seed 003 §3)"),
        (name = tags::EVENTS, description = "Events, sessions and price categories (seed 003 §4)"),
        (name = tags::SEATS, description = "Seat status and seat locks per session (seed 003 §5)"),
        (name = tags::ORDERS, description = "Orders (seed 003 §6)"),
        (name = tags::TICKETS, description = "Tickets and entry checks (seed 003 §7)"),
        (name = tags::WEBHOOKS, description = "Payment provider notices (seed 003 §10)"),
        (name = tags::MOCK_PAYMENT, description = "The Mock provider's payment page (Tessera)"),
    ),
    components(
        schemas(ErrorBody),
        responses(InternalError, ServiceUnavailable, PayloadTooLarge),
    ),
    modifiers(&BearerScheme),
)]
pub struct ApiDoc;

/// 500 `INTERNAL_ERROR`: a bug. The detail is logged with the request id, never sent.
#[derive(Debug, ToResponse)]
#[response(
    description = "INTERNAL_ERROR: an unexpected failure; the detail is logged with the request id, never sent"
)]
pub struct InternalError(pub ErrorBody);

/// 503 `SERVICE_UNAVAILABLE`: the store failed or is contended.
#[derive(Debug, ToResponse)]
#[response(description = "SERVICE_UNAVAILABLE: the store failed or is contended; try again")]
pub struct ServiceUnavailable(pub ErrorBody);

/// 413 `PAYLOAD_TOO_LARGE`: the body is over the limit (1 MiB for the whole server). A request
/// whose `Content-Length` is over it is refused before any route sees it, in plain text; a
/// streamed (chunked) body is refused by the route, in the error format.
#[derive(Debug, ToResponse)]
#[response(
    description = "PAYLOAD_TOO_LARGE: the body is over the 1 MiB limit (plain text when `Content-Length` says so up front, else the error format)"
)]
pub enum PayloadTooLarge {
    /// Refused by the route while reading a streamed body.
    Json(#[content("application/json")] ErrorBody),
    /// Refused up front from `Content-Length`: `length limit exceeded`.
    Text(#[content("text/plain")] String),
}

/// Declares the bearer JWT scheme (seed 003 §2.1) that protected operations name.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The `accessToken` of `POST /v1/auth/login` or `/v1/auth/refresh`",
                    ))
                    .build(),
            ),
        );
    }
}

/// The whole document: [`ApiDoc`] plus every operation of the OpenTicket routers.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(super::router().into_openapi());
    doc
}
