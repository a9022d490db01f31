//! The OpenAPI 3.1 document of the shop API (seed 002), generated from the code and served at
//! [`DOCUMENT_PATH`] (public; listed on `/docs`). The operations come from the `#[utoipa::path]` of
//! every handler [`super::router`] registers; this module adds the title, tags, the bearer scheme
//! and the shared responses.

use super::error::ErrorBody;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToResponse};

/// Where the document is served: `/shop/…` is none of seed 002's paths.
pub const DOCUMENT_PATH: &str = "/shop/openapi.json";

/// Name of the bearer JWT scheme.
pub const BEARER: &str = "bearerAuth";

/// Operation tags, one per section of seed 002.
pub mod tags {
    /// "用户 API".
    pub const USERS: &str = "Users";
    /// "商品 API".
    pub const PRODUCTS: &str = "Products";
    /// "商品分类 API".
    pub const CATEGORIES: &str = "Categories";
    /// "订单 API".
    pub const ORDERS: &str = "Orders";
    /// "会员卡 API".
    pub const CARDS: &str = "MembershipCards";
    /// "支付 API" (and the membership-card payment Tessera adds).
    pub const PAYMENTS: &str = "Payments";
}

/// 401: no access token, or a malformed, forged or expired one.
#[derive(Debug, Serialize, ToResponse)]
#[response(
    description = "No access token (`Authorization: Bearer`), or a malformed, forged or expired one; or a disabled user"
)]
pub struct Unauthorized(pub ErrorBody);

/// 403: signed in, not an admin.
#[derive(Debug, Serialize, ToResponse)]
#[response(description = "Signed in, but not an admin (`permission_level` 1)")]
pub struct Forbidden(pub ErrorBody);

/// 503: the store failed or is contended.
#[derive(Debug, Serialize, ToResponse)]
#[response(description = "The store failed or is contended; try again")]
pub struct ServiceUnavailable(pub ErrorBody);

/// The root of the document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera shop API",
        description = "The WeChat mini-program shop (seed 002) as Tessera serves it: sign-in with \
            a mini-program login code, users (admin), products and categories. Failures are \
            `{\"message\": \"...\"}`; a 400's message starts with the field at fault. Ids are \
            integers; instants ISO 8601 UTC with milliseconds; a product's `price` is a JSON \
            number of yuan with at most two decimals; order, card and transaction amounts are \
            strings with two decimals. WeChat Pay's notification answers `{\"code\", \"message\"}` \
            as WeChat Pay expects. \
            Send `Authorization: Bearer <token>` \
            from `POST /weixin-login`. What the seed left open is in docs/shop.md.",
        version = "1.0",
        license(name = "UNLICENSED", identifier = "UNLICENSED"),
    ),
    servers((url = "/", description = "The server that serves this document")),
    tags(
        (name = tags::USERS, description = "WeChat sign-in and users (seed 002 用户 API)"),
        (name = tags::PRODUCTS, description = "Products (seed 002 商品 API)"),
        (name = tags::CATEGORIES, description = "Product categories (seed 002 商品分类 API)"),
        (name = tags::ORDERS, description = "Orders with stock reservation (seed 002 订单 API)"),
        (name = tags::CARDS, description = "Membership cards and member transactions (seed 002 会员卡 API)"),
        (name = tags::PAYMENTS, description = "WeChat Pay and membership-card payments of orders (seed 002 支付 API)"),
    ),
    components(schemas(ErrorBody), responses(Unauthorized, Forbidden, ServiceUnavailable)),
    modifiers(&SecuritySchemes),
)]
pub struct ShopApiDoc;

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
                    .description(Some(
                        "The `token` of `POST /weixin-login` (any Tessera access token)",
                    ))
                    .build(),
            ),
        );
    }
}

/// The whole document: [`ShopApiDoc`] plus every operation of [`super::router`].
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ShopApiDoc::openapi();
    doc.merge(super::router().into_openapi());
    doc
}
