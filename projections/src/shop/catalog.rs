//! Projector `shop_catalog`: `shop_categories` and `shop_products` (docs/read-models.md, "Shop
//! (seed 002)").

use super::{bad_event, int, parse};
use crate::db::ProjectionTx;
use crate::execute;
use crate::projector::{ProjectionError, Projector};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tessera_application::RecordedEvent;
use tessera_domain::Decider;
use tessera_domain::shared::Money;
use tessera_domain::shop::catalog::ShopCatalog;
use tessera_domain::shop::product::ShopProduct;

/// Writes `shop_categories` from the `shopCatalog` stream and `shop_products` from the
/// `shopProduct` streams. Deleted rows stay, flagged `deleted`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CatalogProjector;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Category {
    category_id: u64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parent_id: Option<u64>,
    #[serde(default, alias = "updatedAt", alias = "deletedAt")]
    created_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Product {
    product_id: u64,
    #[serde(default)]
    category_id: u64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    price: Option<Money>,
    #[serde(default)]
    stock: Option<u64>,
    #[serde(default)]
    image_url: Option<String>,
    #[serde(default)]
    status: i32,
    #[serde(alias = "updatedAt", alias = "deletedAt")]
    created_at: DateTime<Utc>,
}

/// `ShopProductStockReserved`/`Released`: the stock after the change.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stock {
    product_id: u64,
    stock: u64,
}

fn fen(event: &RecordedEvent, price: Option<Money>) -> Result<i64, ProjectionError> {
    price
        .ok_or_else(|| bad_event(event, "no price"))?
        .to_minor()
        .map_err(|e| bad_event(event, e))
}

#[async_trait]
impl Projector for CatalogProjector {
    fn name(&self) -> &'static str {
        "shop_catalog"
    }

    fn version(&self) -> u32 {
        1
    }

    fn categories(&self) -> &'static [&'static str] {
        &[ShopCatalog::CATEGORY, ShopProduct::CATEGORY]
    }

    fn handles(&self) -> &'static [&'static str] {
        &[
            "ShopCategoryCreated",
            "ShopCategoryUpdated",
            "ShopCategoryDeleted",
            "ShopProductCreated",
            "ShopProductUpdated",
            "ShopProductStockSet",
            "ShopProductStockReserved",
            "ShopProductStockReleased",
            "ShopProductDeleted",
        ]
    }

    async fn reset(&self, tx: &mut ProjectionTx) -> Result<(), ProjectionError> {
        execute!(&mut *tx, sqlx::query("DELETE FROM shop_categories"))?;
        execute!(&mut *tx, sqlx::query("DELETE FROM shop_products"))?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut ProjectionTx,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        match event.event_type.as_str() {
            t @ ("ShopCategoryCreated" | "ShopCategoryUpdated" | "ShopCategoryDeleted") => {
                let d: Category = parse(event)?;
                let id = int(event, d.category_id)?;
                let at = d.created_at.unwrap_or(event.recorded_at);
                let parent = d.parent_id.map(|p| int(event, p)).transpose()?;
                match t {
                    "ShopCategoryCreated" => execute!(
                        &mut *tx,
                        sqlx::query(
                            "INSERT INTO shop_categories (category_id, name, description, \
                             parent_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
                             ON CONFLICT (category_id) DO NOTHING",
                        )
                        .bind(id)
                        .bind(&d.name)
                        .bind(&d.description)
                        .bind(parent)
                        .bind(at)
                    )?,
                    "ShopCategoryUpdated" => execute!(
                        &mut *tx,
                        sqlx::query(
                            "UPDATE shop_categories SET name = $1, description = $2, \
                             parent_id = $3, updated_at = $4 WHERE category_id = $5",
                        )
                        .bind(&d.name)
                        .bind(&d.description)
                        .bind(parent)
                        .bind(at)
                        .bind(id)
                    )?,
                    _ => execute!(
                        &mut *tx,
                        sqlx::query(
                            "UPDATE shop_categories SET deleted = TRUE, updated_at = $1 \
                             WHERE category_id = $2",
                        )
                        .bind(at)
                        .bind(id)
                    )?,
                };
            }
            "ShopProductCreated" => {
                let d: Product = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "INSERT INTO shop_products (product_id, category_id, name, description, \
                         price_fen, stock, image_url, status, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
                         ON CONFLICT (product_id) DO NOTHING",
                    )
                    .bind(int(event, d.product_id)?)
                    .bind(int(event, d.category_id)?)
                    .bind(&d.name)
                    .bind(&d.description)
                    .bind(fen(event, d.price)?)
                    .bind(int(event, d.stock.unwrap_or(0))?)
                    .bind(&d.image_url)
                    .bind(d.status)
                    .bind(d.created_at)
                )?;
            }
            "ShopProductUpdated" => {
                let d: Product = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE shop_products SET category_id = $1, name = $2, description = $3, \
                         price_fen = $4, image_url = $5, status = $6, updated_at = $7 \
                         WHERE product_id = $8",
                    )
                    .bind(int(event, d.category_id)?)
                    .bind(&d.name)
                    .bind(&d.description)
                    .bind(fen(event, d.price)?)
                    .bind(&d.image_url)
                    .bind(d.status)
                    .bind(d.created_at)
                    .bind(int(event, d.product_id)?)
                )?;
            }
            "ShopProductStockSet" => {
                let d: Product = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE shop_products SET stock = $1, updated_at = $2 WHERE product_id = $3",
                    )
                    .bind(int(event, d.stock.unwrap_or(0))?)
                    .bind(d.created_at)
                    .bind(int(event, d.product_id)?)
                )?;
            }
            // Orders move stock only; the product's `updated_at` stays its own changes'.
            "ShopProductStockReserved" | "ShopProductStockReleased" => {
                let d: Stock = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query("UPDATE shop_products SET stock = $1 WHERE product_id = $2")
                        .bind(int(event, d.stock)?)
                        .bind(int(event, d.product_id)?)
                )?;
            }
            "ShopProductDeleted" => {
                let d: Product = parse(event)?;
                execute!(
                    &mut *tx,
                    sqlx::query(
                        "UPDATE shop_products SET deleted = TRUE, updated_at = $1 WHERE product_id = $2",
                    )
                    .bind(d.created_at)
                    .bind(int(event, d.product_id)?)
                )?;
            }
            _ => {}
        }
        Ok(())
    }
}
