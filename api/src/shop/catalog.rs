//! Seed 002 "商品 API" and "商品分类 API": `GET` public, writes admin only. Creating answers 201 with
//! the new row (202 + `Location` when it is committed but not readable yet,
//! docs/decisions/0011-answer-after-write.md); deleting answers 204 and hides the row.

use super::error::{ErrorBody, ShopApiError, ShopCaller, ShopJson, not_found, require_admin};
use super::openapi::{Forbidden, ServiceUnavailable, Unauthorized, tags};
use super::views::{CategoryView, ProductView, Yuan, path_id, price, text, whole};
use crate::http::{RequestId, accepted, idempotent, read_after_write, read_your_writes};
use crate::startup::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use tessera_application::shop::{
    CategoryChange, CategoryInput, Missing, ProductChange, ProductInput,
};
use tessera_domain::shop::product::{MAX_STOCK, ProductFields};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(idempotent::<ShopApiError>(routes!(
            list_products,
            create_product
        )))
        .routes(routes!(product, update_product, delete_product))
        .routes(idempotent::<ShopApiError>(routes!(
            list_categories,
            create_category
        )))
        .routes(routes!(category, update_category, delete_category))
}

/// The answer to a committed write of catalogue entry `id`: `status` with the entry as read back
/// once the read model shows `position`, or 202 with `{id}` and `Location: {collection}/{id}` when
/// it is not readable yet (docs/decisions/0011-answer-after-write.md).
async fn written<R, V, E, F>(
    state: &AppState,
    position: Option<u64>,
    read: F,
    status: StatusCode,
    id: u64,
    collection: &str,
) -> Response
where
    V: From<R> + Serialize,
    E: std::fmt::Display,
    F: std::future::Future<Output = Result<Option<R>, E>>,
{
    match read_after_write(state, position, read).await {
        Some(row) => (status, Json(V::from(row))).into_response(),
        None => accepted(
            Json(Created { id }).into_response(),
            &format!("{collection}/{id}"),
        ),
    }
}

/// The id of what was created, when it is committed but not readable yet (202).
#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    /// The new `product_id` or `category_id`.
    pub id: u64,
}

fn id_field(body: &Map<String, Value>, field: &str) -> Result<Option<Option<u64>>, ShopApiError> {
    whole(body, field, i64::MAX as u64)
}

fn status(body: &Map<String, Value>) -> Result<Option<u8>, ShopApiError> {
    match whole(body, "status", 1)? {
        None => Ok(None),
        Some(None) => Err(ShopApiError::field("status", "应为 0 或 1")),
        Some(Some(n)) => Ok(Some(n as u8)),
    }
}

fn stock(body: &Map<String, Value>) -> Result<Option<u32>, ShopApiError> {
    match whole(body, "stock", u64::from(MAX_STOCK))? {
        None => Ok(None),
        Some(None) => Err(ShopApiError::field("stock", "不能为 null")),
        Some(Some(n)) => Ok(u32::try_from(n).ok()),
    }
}

// ------------------------------------------------------------------------------------ products

/// Every live product, by id, each with its category.
#[utoipa::path(
    get,
    path = "/api/products",
    operation_id = "listProducts",
    tag = tags::PRODUCTS,
    summary = "All products (public)",
    responses(
        (status = 200, description = "Every product not deleted, with its category (null when the category was deleted)", body = Vec<ProductView>),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn list_products(
    State(state): State<AppState>,
) -> Result<Json<Vec<ProductView>>, ShopApiError> {
    let rows = state.services.shop_queries.products().await?;
    Ok(Json(rows.into_iter().map(ProductView::from).collect()))
}

/// The request body of `POST /api/products`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ProductBody {
    /// A live category.
    category_id: u64,
    /// 1–100 characters.
    name: String,
    /// At most 5000 characters.
    description: Option<String>,
    /// Yuan, at most two decimals: a number (`99.99`) or a decimal string (`"99.99"`).
    price: Yuan,
    /// Units in stock (default 0).
    stock: Option<u32>,
    /// `http(s)://` URL.
    image_url: Option<String>,
    /// 1 on sale (default), 0 off sale.
    status: Option<u8>,
}

/// Create a product (admins only).
#[utoipa::path(
    post,
    path = "/api/products",
    operation_id = "createProduct",
    tag = tags::PRODUCTS,
    summary = "Create a product (admin)",
    security(("bearerAuth" = [])),
    request_body = ProductBody,
    responses(
        (status = 201, description = "The new product", body = ProductView),
        (status = 202, description = "Committed, not readable yet: read it at `Location`", body = Created),
        (status = 400, description = "A field is invalid (the message names it), or the category does not exist", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn create_product(
    State(state): State<AppState>,
    rid: RequestId,
    c: ShopCaller,
    ShopJson(body): ShopJson,
) -> Result<Response, ShopApiError> {
    require_admin(&c)?;
    let category_id = id_field(&body, "category_id")?
        .flatten()
        .ok_or_else(|| ShopApiError::field("category_id", "不能为空"))?;
    let name = text(&body, "name", false)?
        .flatten()
        .ok_or_else(|| ShopApiError::field("name", "不能为空"))?;
    let price = match body.get("price") {
        None | Some(Value::Null) => return Err(ShopApiError::field("price", "不能为空")),
        Some(v) => price("price", v)?,
    };
    let input = ProductInput {
        fields: ProductFields {
            category_id,
            name,
            description: text(&body, "description", true)?.flatten(),
            price,
            image_url: text(&body, "image_url", true)?.flatten(),
            status: status(&body)?.unwrap_or(1),
        },
        stock: stock(&body)?.unwrap_or(0),
    };
    let (id, position) = state
        .services
        .shop
        .create_product(c.user_id, input, &rid.metadata(Some(c.user_id.to_string())))
        .await?;
    let read = state.services.shop_queries.product(id as i64);
    Ok(written::<_, ProductView, _, _>(
        &state,
        position,
        read,
        StatusCode::CREATED,
        id,
        "/api/products",
    )
    .await)
}

/// One live product with its category.
#[utoipa::path(
    get,
    path = "/api/products/{id}",
    operation_id = "getProduct",
    tag = tags::PRODUCTS,
    summary = "One product (public)",
    params(("id" = u64, Path, description = "`product_id`")),
    responses(
        (status = 200, description = "The product", body = ProductView),
        (status = 404, description = "No such product (or deleted)", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn product(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ProductView>, ShopApiError> {
    let id = path_id(&id, Missing::Product)?;
    let row = state
        .services
        .shop_queries
        .product(id as i64)
        .await?
        .ok_or_else(|| not_found(Missing::Product))?;
    Ok(Json(row.into()))
}

/// Change the fields given (admins only): `category_id`, `name`, `description`, `price`,
/// `stock`, `image_url`, `status`.
#[utoipa::path(
    put,
    path = "/api/products/{id}",
    operation_id = "updateProduct",
    tag = tags::PRODUCTS,
    summary = "Change a product (admin)",
    security(("bearerAuth" = [])),
    params(("id" = u64, Path, description = "`product_id`")),
    request_body = ProductBody,
    responses(
        (status = 200, description = "The product after the change", body = ProductView),
        (status = 400, description = "A field is invalid, or the new category does not exist", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such product (or deleted)", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn update_product(
    State(state): State<AppState>,
    rid: RequestId,
    c: ShopCaller,
    Path(id): Path<String>,
    ShopJson(body): ShopJson,
) -> Result<Response, ShopApiError> {
    require_admin(&c)?;
    let id = path_id(&id, Missing::Product)?;
    let name = text(&body, "name", false)?.flatten();
    let category_id = match id_field(&body, "category_id")? {
        None => None,
        Some(None) => return Err(ShopApiError::field("category_id", "不能为 null")),
        Some(c) => c,
    };
    let price = match body.get("price") {
        None => None,
        Some(Value::Null) => return Err(ShopApiError::field("price", "不能为 null")),
        Some(v) => Some(price("price", v)?),
    };
    let change = ProductChange {
        category_id,
        name,
        description: text(&body, "description", true)?,
        price,
        stock: stock(&body)?,
        image_url: text(&body, "image_url", true)?,
        status: status(&body)?,
    };
    let position = state
        .services
        .shop
        .update_product(
            c.user_id,
            id,
            change,
            &rid.metadata(Some(c.user_id.to_string())),
        )
        .await?;
    let read = state.services.shop_queries.product(id as i64);
    Ok(
        written::<_, ProductView, _, _>(
            &state,
            position,
            read,
            StatusCode::OK,
            id,
            "/api/products",
        )
        .await,
    )
}

/// Delete (hide) a product (admins only): 204.
#[utoipa::path(
    delete,
    path = "/api/products/{id}",
    operation_id = "deleteProduct",
    tag = tags::PRODUCTS,
    summary = "Delete a product (admin)",
    security(("bearerAuth" = [])),
    params(("id" = u64, Path, description = "`product_id`")),
    responses(
        (status = 204, description = "Deleted (hidden from the lists; deleting again is also 204)"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such product", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn delete_product(
    State(state): State<AppState>,
    rid: RequestId,
    c: ShopCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ShopApiError> {
    require_admin(&c)?;
    let id = path_id(&id, Missing::Product)?;
    let position = state
        .services
        .shop
        .delete_product(c.user_id, id, &rid.metadata(Some(c.user_id.to_string())))
        .await?;
    read_your_writes(&state, position).await;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------- categories

/// Every live category, by id.
#[utoipa::path(
    get,
    path = "/api/categories",
    operation_id = "listCategories",
    tag = tags::CATEGORIES,
    summary = "All categories (public)",
    responses(
        (status = 200, description = "Every category not deleted", body = Vec<CategoryView>),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn list_categories(
    State(state): State<AppState>,
) -> Result<Json<Vec<CategoryView>>, ShopApiError> {
    let rows = state.services.shop_queries.categories().await?;
    Ok(Json(rows.into_iter().map(CategoryView::from).collect()))
}

/// The request body of `POST /api/categories` (and, every field optional, of `PUT`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct CategoryBody {
    /// 1–100 characters.
    name: String,
    /// At most 1000 characters.
    description: Option<String>,
    /// A live category, or null for a root; never the category itself or one below it.
    parent_id: Option<u64>,
}

/// Create a category (admins only).
#[utoipa::path(
    post,
    path = "/api/categories",
    operation_id = "createCategory",
    tag = tags::CATEGORIES,
    summary = "Create a category (admin)",
    security(("bearerAuth" = [])),
    request_body = CategoryBody,
    responses(
        (status = 201, description = "The new category", body = CategoryView),
        (status = 202, description = "Committed, not readable yet: read it at `Location`", body = Created),
        (status = 400, description = "A field is invalid, or the parent does not exist", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn create_category(
    State(state): State<AppState>,
    rid: RequestId,
    c: ShopCaller,
    ShopJson(body): ShopJson,
) -> Result<Response, ShopApiError> {
    require_admin(&c)?;
    let input = CategoryInput {
        name: text(&body, "name", false)?
            .flatten()
            .ok_or_else(|| ShopApiError::field("name", "不能为空"))?,
        description: text(&body, "description", true)?.flatten(),
        parent_id: id_field(&body, "parent_id")?.flatten(),
    };
    let (id, position) = state
        .services
        .shop
        .create_category(c.user_id, input, &rid.metadata(Some(c.user_id.to_string())))
        .await?;
    let read = state.services.shop_queries.category(id as i64);
    Ok(written::<_, CategoryView, _, _>(
        &state,
        position,
        read,
        StatusCode::CREATED,
        id,
        "/api/categories",
    )
    .await)
}

/// One live category.
#[utoipa::path(
    get,
    path = "/api/categories/{id}",
    operation_id = "getCategory",
    tag = tags::CATEGORIES,
    summary = "One category (public)",
    params(("id" = u64, Path, description = "`category_id`")),
    responses(
        (status = 200, description = "The category", body = CategoryView),
        (status = 404, description = "No such category (or deleted)", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn category(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CategoryView>, ShopApiError> {
    let id = path_id(&id, Missing::Category)?;
    let row = state
        .services
        .shop_queries
        .category(id as i64)
        .await?
        .ok_or_else(|| not_found(Missing::Category))?;
    Ok(Json(row.into()))
}

/// Change the fields given (admins only): `name`, `description`, `parent_id` (null: a root).
#[utoipa::path(
    put,
    path = "/api/categories/{id}",
    operation_id = "updateCategory",
    tag = tags::CATEGORIES,
    summary = "Change a category (admin)",
    security(("bearerAuth" = [])),
    params(("id" = u64, Path, description = "`category_id`")),
    request_body = CategoryBody,
    responses(
        (status = 200, description = "The category after the change", body = CategoryView),
        (status = 400, description = "A field is invalid; the parent does not exist or would close a cycle", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such category (or deleted)", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn update_category(
    State(state): State<AppState>,
    rid: RequestId,
    c: ShopCaller,
    Path(id): Path<String>,
    ShopJson(body): ShopJson,
) -> Result<Response, ShopApiError> {
    require_admin(&c)?;
    let id = path_id(&id, Missing::Category)?;
    let change = CategoryChange {
        name: text(&body, "name", false)?.flatten(),
        description: text(&body, "description", true)?,
        parent_id: id_field(&body, "parent_id")?,
    };
    let position = state
        .services
        .shop
        .update_category(
            c.user_id,
            id,
            change,
            &rid.metadata(Some(c.user_id.to_string())),
        )
        .await?;
    let read = state.services.shop_queries.category(id as i64);
    Ok(written::<_, CategoryView, _, _>(
        &state,
        position,
        read,
        StatusCode::OK,
        id,
        "/api/categories",
    )
    .await)
}

/// Delete (hide) a category (admins only): 204. Refused (400) while it has child categories; its
/// products stay, showing `category: null`.
#[utoipa::path(
    delete,
    path = "/api/categories/{id}",
    operation_id = "deleteCategory",
    tag = tags::CATEGORIES,
    summary = "Delete a category (admin)",
    security(("bearerAuth" = [])),
    params(("id" = u64, Path, description = "`category_id`")),
    responses(
        (status = 204, description = "Deleted (hidden; deleting again is also 204)"),
        (status = 400, description = "The category still has child categories", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No such category", body = ErrorBody),
        (status = 503, response = ServiceUnavailable),
    ),
)]
async fn delete_category(
    State(state): State<AppState>,
    rid: RequestId,
    c: ShopCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ShopApiError> {
    require_admin(&c)?;
    let id = path_id(&id, Missing::Category)?;
    let position = state
        .services
        .shop
        .delete_category(c.user_id, id, &rid.metadata(Some(c.user_id.to_string())))
        .await?;
    read_your_writes(&state, position).await;
    Ok(StatusCode::NO_CONTENT)
}
