//! Categories and products (seed 002 "商品 API", "商品分类 API"): admin writes. A new category or
//! product takes its number from its sequence in the same atomic commit that creates it
//! ([`super::numbers`]). A product's category must be live in the catalog as loaded in the same
//! commit; a category deleted concurrently with a product being put into it may leave that one
//! product in a deleted category, which reads as `category: null` (docs/shop.md).

use super::numbers::{next_number, sequence_stream, take};
use super::{ShopError, ShopService};
use crate::command::CommandRunner;
use crate::event_store::EventMetadata;
use tessera_domain::UserId;
use tessera_domain::shared::Money;
use tessera_domain::shop::catalog::{CATALOG_ID, CatalogCommand, ShopCatalog};
use tessera_domain::shop::product::{ProductCommand, ProductFields, ShopProduct};
use tessera_domain::shop::sequence::{SequenceKind, ShopSequence};

/// A new category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryInput {
    /// Name (trimmed).
    pub name: String,
    /// Description, or none.
    pub description: Option<String>,
    /// Parent category, or none for a root.
    pub parent_id: Option<u64>,
}

/// What `PUT /api/categories/:id` changes: each field only when given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CategoryChange {
    /// New name.
    pub name: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New parent (`Some(None)` makes it a root).
    pub parent_id: Option<Option<u64>>,
}

/// A new product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductInput {
    /// What it is.
    pub fields: ProductFields,
    /// Units in stock.
    pub stock: u32,
}

/// What `PUT /api/products/:id` changes: each field only when given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductChange {
    /// New category (must be live).
    pub category_id: Option<u64>,
    /// New name.
    pub name: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New unit price.
    pub price: Option<Money>,
    /// New stock.
    pub stock: Option<u32>,
    /// New picture URL (`Some(None)` clears it).
    pub image_url: Option<Option<String>>,
    /// New status (0 or 1).
    pub status: Option<u8>,
}

fn catalog_stream() -> Result<crate::StreamId, ShopError> {
    Ok(CommandRunner::stream::<ShopCatalog>(CATALOG_ID)?)
}

/// The stream of product `id`: `shopProduct-{id}`.
pub fn product_stream(id: u64) -> Result<crate::StreamId, ShopError> {
    Ok(CommandRunner::stream::<ShopProduct>(id)?)
}

/// `meta` naming `by` as the actor unless it names one already.
pub(super) fn with_actor(meta: &EventMetadata, by: UserId) -> EventMetadata {
    let mut meta = meta.clone();
    meta.actor_user_id.get_or_insert_with(|| by.to_string());
    meta
}

impl ShopService {
    /// Create a category; returns its `category_id` and the position reached.
    ///
    /// Errors: [`ShopError::Field`] (`name`, `description`), [`ShopError::ParentNotFound`],
    /// engine failures.
    pub async fn create_category(
        &self,
        by: UserId,
        input: CategoryInput,
        meta: &EventMetadata,
    ) -> Result<(u64, Option<u64>), ShopError> {
        let meta = with_actor(meta, by);
        let catalog_stream = catalog_stream()?;
        let sequence_stream = sequence_stream(SequenceKind::Category)?;
        next_number(&self.runner, SequenceKind::Category, |number| {
            let now = self.now();
            let mut atomic = self.runner.atomic(&meta);
            let sequence = atomic.stream::<ShopSequence>(&sequence_stream);
            let catalog = atomic.stream::<ShopCatalog>(&catalog_stream);
            let command = CatalogCommand::Create {
                category_id: number,
                name: input.name.clone(),
                description: input.description.clone(),
                parent_id: input.parent_id,
                now,
            };
            let catalog_stream = catalog_stream.clone();
            async move {
                let committed = atomic
                    .run(|d| {
                        take(
                            d,
                            sequence,
                            SequenceKind::Category,
                            number,
                            &catalog_stream,
                            now,
                        )?;
                        d.decide(catalog, &command)
                            .map_err(|e| e.map_rejected(ShopError::from))?;
                        Ok::<_, ShopError>(())
                    })
                    .await?;
                Ok((number, committed.position()))
            }
        })
        .await
    }

    /// Change a category; returns the position reached (`None`: nothing changed).
    ///
    /// Errors: [`ShopError::NotFound`], [`ShopError::Field`], [`ShopError::ParentNotFound`],
    /// [`ShopError::Cycle`], engine failures.
    pub async fn update_category(
        &self,
        by: UserId,
        category_id: u64,
        change: CategoryChange,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, ShopError> {
        let command = CatalogCommand::Update {
            category_id,
            name: change.name,
            description: change.description,
            parent_id: change.parent_id,
            now: self.now(),
        };
        let decided = self
            .runner
            .run::<ShopCatalog>(&catalog_stream()?, &command, &with_actor(meta, by))
            .await
            .map_err(|e| e.map_rejected(ShopError::from))?;
        Ok(decided.position())
    }

    /// Delete (hide) a category; deleting a deleted one changes nothing.
    ///
    /// Errors: [`ShopError::NotFound`] for an id never used, [`ShopError::HasChildren`], engine
    /// failures.
    pub async fn delete_category(
        &self,
        by: UserId,
        category_id: u64,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, ShopError> {
        let command = CatalogCommand::Delete {
            category_id,
            now: self.now(),
        };
        let decided = self
            .runner
            .run::<ShopCatalog>(&catalog_stream()?, &command, &with_actor(meta, by))
            .await
            .map_err(|e| e.map_rejected(ShopError::from))?;
        Ok(decided.position())
    }

    /// Create a product in a live category; returns its `product_id` and the position reached.
    ///
    /// Errors: [`ShopError::Field`], [`ShopError::UnknownCategory`], engine failures.
    pub async fn create_product(
        &self,
        by: UserId,
        input: ProductInput,
        meta: &EventMetadata,
    ) -> Result<(u64, Option<u64>), ShopError> {
        input.fields.check()?;
        let meta = with_actor(meta, by);
        let catalog_stream = catalog_stream()?;
        let sequence_stream = sequence_stream(SequenceKind::Product)?;
        next_number(&self.runner, SequenceKind::Product, |number| {
            let now = self.now();
            let mut atomic = self.runner.atomic(&meta);
            let sequence = atomic.stream::<ShopSequence>(&sequence_stream);
            let catalog = atomic.stream::<ShopCatalog>(&catalog_stream);
            let stream = product_stream(number);
            let input = input.clone();
            async move {
                let stream = stream?;
                let product = atomic.stream::<ShopProduct>(&stream);
                let category_id = input.fields.category_id;
                let command = ProductCommand::Create {
                    product_id: number,
                    fields: input.fields,
                    stock: input.stock,
                    now,
                };
                let committed = atomic
                    .run(|d| {
                        if !d.state(catalog)?.is_live(category_id) {
                            return Err(ShopError::UnknownCategory(category_id));
                        }
                        take(d, sequence, SequenceKind::Product, number, &stream, now)?;
                        d.decide(product, &command)
                            .map_err(|e| e.map_rejected(ShopError::from))?;
                        Ok::<_, ShopError>(())
                    })
                    .await?;
                Ok((number, committed.position()))
            }
        })
        .await
    }

    /// Change a product's given fields; returns the position reached (`None`: nothing changed).
    ///
    /// Errors: [`ShopError::NotFound`], [`ShopError::Field`], [`ShopError::UnknownCategory`] when
    /// moved to a category that is not live, engine failures.
    pub async fn update_product(
        &self,
        by: UserId,
        product_id: u64,
        change: ProductChange,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, ShopError> {
        let now = self.now();
        let mut atomic = self.runner.atomic(&with_actor(meta, by));
        let catalog = atomic.stream::<ShopCatalog>(&catalog_stream()?);
        let product = atomic.stream::<ShopProduct>(&product_stream(product_id)?);
        let committed = atomic
            .run(|d| {
                let state = d.state(product)?;
                let Some(current) = state.fields().filter(|_| state.is_live()) else {
                    return Err(ShopError::NotFound(super::Missing::Product));
                };
                let change = change.clone();
                let fields = ProductFields {
                    category_id: change.category_id.unwrap_or(current.category_id),
                    name: change.name.unwrap_or_else(|| current.name.clone()),
                    description: change
                        .description
                        .unwrap_or_else(|| current.description.clone()),
                    price: change.price.unwrap_or(current.price),
                    image_url: change
                        .image_url
                        .unwrap_or_else(|| current.image_url.clone()),
                    status: change.status.unwrap_or(current.status),
                };
                if fields.category_id != current.category_id
                    && !d.state(catalog)?.is_live(fields.category_id)
                {
                    return Err(ShopError::UnknownCategory(fields.category_id));
                }
                let command = ProductCommand::Update {
                    fields,
                    stock: change.stock,
                    now,
                };
                d.decide(product, &command)
                    .map_err(|e| e.map_rejected(ShopError::from))?;
                Ok(())
            })
            .await?;
        Ok(committed.position())
    }

    /// Delete (hide) a product; deleting a deleted one changes nothing.
    ///
    /// Errors: [`ShopError::NotFound`] for an id never used, engine failures.
    pub async fn delete_product(
        &self,
        by: UserId,
        product_id: u64,
        meta: &EventMetadata,
    ) -> Result<Option<u64>, ShopError> {
        let decided = self
            .runner
            .run::<ShopProduct>(
                &product_stream(product_id)?,
                &ProductCommand::Delete { now: self.now() },
                &with_actor(meta, by),
            )
            .await
            .map_err(|e| e.map_rejected(ShopError::from))?;
        Ok(decided.position())
    }
}
