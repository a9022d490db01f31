//! The OpenAPI 3.1 document of the team-plans API (seed 004), generated from the code and served
//! at [`DOCUMENT_PATH`] (public; listed on `/docs`). The operations come from the
//! `#[utoipa::path]` of every handler [`super::router`] registers; this module adds the title,
//! tags, the bearer scheme, the error shape and the shared responses.

use super::error::{ErrorBody, ErrorInfo};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToResponse};

/// Where the document is served (`/plans/…` is none of seed 004's paths).
pub const DOCUMENT_PATH: &str = "/plans/openapi.json";

/// Operation tags.
pub mod tags {
    /// Companies and members (not in the seed).
    pub const COMPANIES: &str = "Companies";
    /// Plans, status, trials (seed 004).
    pub const PLANS: &str = "Plans";
    /// Certification applications and their staff review (seed 004 `auth`).
    pub const CERTIFICATION: &str = "Certification";
    /// Orders, degrades, the wallet and its charges (seed 004 `order`, `charge`).
    pub const ORDERS: &str = "Orders";
    /// Wallet recharges (seed 004 `recharge`).
    pub const RECHARGE: &str = "Recharge";
    /// Payment callbacks and staff confirmation of bank transfers (not in the seed).
    pub const PAYMENTS: &str = "Payments";
}

/// 401.
#[derive(Debug, Serialize, ToResponse)]
#[response(description = "`unauthorized`: no access token, or a malformed, forged or expired one")]
pub struct Unauthorized(pub ErrorBody);

/// 403.
#[derive(Debug, Serialize, ToResponse)]
#[response(description = "`forbidden`: a member, not an owner, of the company")]
pub struct Forbidden(pub ErrorBody);

/// 404.
#[derive(Debug, Serialize, ToResponse)]
#[response(description = "`not_found`: no such company, or the caller is not a member of it")]
pub struct NotFound(pub ErrorBody);

/// 503.
#[derive(Debug, Serialize, ToResponse)]
#[response(description = "`unavailable`: the store failed or is contended; try again")]
pub struct ServiceUnavailable(pub ErrorBody);

/// The root of the document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera team plans API",
        description = "Team plans (seed 004) as Tessera serves them, mounted at \
            `/company/{companyId}/plan`, plus the companies and members the seed assumes. Every \
            failure is `{\"error\": {\"code\", \"message\", \"field\"?}}` (`field` on 400s). Ids \
            are 24-hex ObjectIds; instants ISO 8601 UTC; prices decimal strings of CNY per member \
            per calendar month (Asia/Shanghai). A non-member of a company gets 404 on every \
            company and plan route; a member gets 403 on owner-only writes. Money amounts \
            (orders, wallet, recharges) are decimal strings of CNY with two places. Send `Authorization: Bearer \
            <token>` from any Tessera sign-in. docs/plans.md records every choice.",
        version = "1.0",
        license(name = "UNLICENSED", identifier = "UNLICENSED"),
    ),
    servers((url = "/", description = "The server that serves this document")),
    tags(
        (name = tags::COMPANIES, description = "Companies and members (not in seed 004)"),
        (name = tags::PLANS, description = "Plans, status and trials (seed 004)"),
        (name = tags::CERTIFICATION, description = "Certification applications (seed 004 `auth`) and their staff review (`/admin/plans/auth`, not in the seed)"),
        (name = tags::ORDERS, description = "Plan orders (seed 004 `order`: newly, renewal, upgrade, degrade, patch), balance payments, the scheduled downgrade, the wallet and its charges (seed 004 `charge`); staff grants (not in the seed)"),
        (name = tags::RECHARGE, description = "Wallet recharges (seed 004 `recharge`) paid by alipay, wxpay or banktrans"),
        (name = tags::PAYMENTS, description = "WeChat Pay and Alipay notifications and staff confirmation of bank transfers (not in seed 004)"),
    ),
    components(
        schemas(ErrorBody, ErrorInfo),
        responses(Unauthorized, Forbidden, NotFound, ServiceUnavailable)
    ),
    modifiers(&SecuritySchemes),
)]
pub struct PlansApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("Any Tessera access token"))
                    .build(),
            ),
        );
    }
}

/// The whole document: [`PlansApiDoc`] plus every operation of [`super::router`].
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = PlansApiDoc::openapi();
    doc.merge(super::router().into_openapi());
    doc
}
