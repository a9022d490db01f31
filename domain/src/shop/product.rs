//! A product of the shop (seed 002 "商品 API"), in the stream `shopProduct-{productId}`.
//!
//! Stock lives here, in its own events ([`ProductEvent::StockSet`]), so that the order part can
//! reserve and release it by adding commands to this aggregate and deciding them in the same
//! atomic commit as the order (docs/shop.md, "Stock"). That the product's category exists and is
//! not deleted is checked by the caller against [`super::catalog::ShopCatalog`] in the same commit.

use crate::shared::{FieldError, Money, check_text};
use crate::{Decider, DomainEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest product name, in characters.
pub const MAX_NAME: usize = 100;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 5000;
/// Longest image URL, in characters.
pub const MAX_IMAGE_URL: usize = 1000;
/// Most units in stock.
pub const MAX_STOCK: u32 = 100_000_000;

/// What a product is, apart from its stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductFields {
    /// The category it is listed under (a live category when set).
    pub category_id: u64,
    /// Name, 1–[`MAX_NAME`] characters.
    pub name: String,
    /// Description, or none.
    pub description: Option<String>,
    /// Unit price, CNY, at most [`super::MAX_YUAN`].
    pub price: Money,
    /// `http`/`https` URL of its picture, or none.
    pub image_url: Option<String>,
    /// 1 on sale, 0 off sale (seed 002 shows `status: 1`).
    pub status: u8,
}

impl ProductFields {
    /// Check every field; the error names the request field.
    pub fn check(&self) -> Result<(), FieldError> {
        check_text("name", &self.name, 1, MAX_NAME)?;
        if let Some(d) = &self.description {
            check_text("description", d, 0, MAX_DESCRIPTION)?;
        }
        super::check_price("price", &self.price)?;
        if let Some(url) = &self.image_url {
            check_text("image_url", url, 1, MAX_IMAGE_URL)?;
            let lower = url.to_ascii_lowercase();
            if !(lower.starts_with("http://") || lower.starts_with("https://"))
                || url.chars().any(char::is_whitespace)
            {
                return Err(FieldError::new(
                    "image_url",
                    "must be an http:// or https:// URL",
                ));
            }
        }
        if self.status > 1 {
            return Err(FieldError::new("status", "must be 0 or 1"));
        }
        Ok(())
    }
}

/// A product: nothing before [`ProductEvent::ProductCreated`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShopProduct {
    id: u64,
    fields: Option<ProductFields>,
    stock: u32,
    deleted: bool,
}

impl ShopProduct {
    /// What it is, once created (also after deletion).
    pub fn fields(&self) -> Option<&ProductFields> {
        self.fields.as_ref()
    }

    /// Units in stock.
    pub fn stock(&self) -> u32 {
        self.stock
    }

    /// Whether it exists and is not deleted.
    pub fn is_live(&self) -> bool {
        self.fields.is_some() && !self.deleted
    }
}

/// Commands for [`ShopProduct`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductCommand {
    /// Create the product with its first stock.
    Create {
        /// Its number, taken from `shopSequence-product` in the same commit.
        product_id: u64,
        /// What it is.
        fields: ProductFields,
        /// Units in stock, at most [`MAX_STOCK`].
        stock: u32,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Replace its fields and/or its stock; what equals the current value records nothing.
    Update {
        /// The fields after the change.
        fields: ProductFields,
        /// New stock, if given.
        stock: Option<u32>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Hide it from the lists; deleting twice changes nothing.
    Delete {
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Take `quantity` units for an order (in the commit that places it). Refused for a product
    /// that is not live or off sale, and when the stock is smaller than `quantity`.
    Reserve {
        /// The order (`ORDER…`).
        order_id: String,
        /// Units, at least 1.
        quantity: u32,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Give back `quantity` units an order held (in the commit that cancels, expires or refunds
    /// it; the order's status guards that it happens once). Also for a deleted product.
    Release {
        /// The order (`ORDER…`).
        order_id: String,
        /// Units the order held.
        quantity: u32,
        /// `cancelled`, `expired` or `refunded`.
        reason: String,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`ShopProduct`] (docs/event-catalog.md, "Shop").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum ProductEvent {
    /// The product was created.
    #[serde(rename = "ShopProductCreated")]
    ProductCreated {
        /// Its number (`product_id`), also the stream id.
        product_id: u64,
        /// Category.
        category_id: u64,
        /// Name.
        name: String,
        /// Description, or null.
        description: Option<String>,
        /// Unit price, `{"amount": "99.99", "currency": "CNY"}`.
        price: Money,
        /// Units in stock.
        stock: u32,
        /// Picture URL, or null.
        image_url: Option<String>,
        /// 1 on sale, 0 off sale.
        status: u8,
        /// When (UTC).
        created_at: DateTime<Utc>,
    },
    /// Fields other than stock changed; carries all of them after the change.
    #[serde(rename = "ShopProductUpdated")]
    ProductUpdated {
        /// The product.
        product_id: u64,
        /// Category after the change.
        category_id: u64,
        /// Name after the change.
        name: String,
        /// Description after the change.
        description: Option<String>,
        /// Unit price after the change.
        price: Money,
        /// Picture URL after the change.
        image_url: Option<String>,
        /// Status after the change.
        status: u8,
        /// When (UTC).
        updated_at: DateTime<Utc>,
    },
    /// An admin set the stock.
    #[serde(rename = "ShopProductStockSet")]
    StockSet {
        /// The product.
        product_id: u64,
        /// Units in stock now.
        stock: u32,
        /// When (UTC).
        updated_at: DateTime<Utc>,
    },
    /// Units were reserved for an order.
    #[serde(rename = "ShopProductStockReserved")]
    StockReserved {
        /// The product.
        product_id: u64,
        /// The order holding them.
        order_id: String,
        /// Units reserved.
        quantity: u32,
        /// Units in stock after the reservation.
        stock: u32,
        /// When (UTC).
        reserved_at: DateTime<Utc>,
    },
    /// Units an order held came back to stock.
    #[serde(rename = "ShopProductStockReleased")]
    StockReleased {
        /// The product.
        product_id: u64,
        /// The order that held them.
        order_id: String,
        /// Units returned.
        quantity: u32,
        /// `cancelled`, `expired` or `refunded`.
        reason: String,
        /// Units in stock after the release.
        stock: u32,
        /// When (UTC).
        released_at: DateTime<Utc>,
    },
    /// The product was deleted (hidden; history stays).
    #[serde(rename = "ShopProductDeleted")]
    ProductDeleted {
        /// The product.
        product_id: u64,
        /// When (UTC).
        deleted_at: DateTime<Utc>,
    },
}

impl DomainEvent for ProductEvent {}

/// Why a [`ProductCommand`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductError {
    /// A field is invalid.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// No live product.
    #[error("the product does not exist")]
    NotFound,
    /// The stream already holds a product (a bug in the caller: numbers come from the sequence).
    #[error("the product already exists")]
    AlreadyExists,
    /// The product is off sale (`status` 0): it cannot be ordered.
    #[error("the product is off sale")]
    OffSale,
    /// Fewer units in stock than asked for.
    #[error("only {available} in stock")]
    InsufficientStock {
        /// Units in stock.
        available: u32,
    },
}

fn check_stock(stock: u32) -> Result<(), ProductError> {
    if stock > MAX_STOCK {
        return Err(FieldError::new("stock", format!("must be 0 to {MAX_STOCK}")).into());
    }
    Ok(())
}

impl Decider for ShopProduct {
    const CATEGORY: &'static str = "shopProduct";
    type Command = ProductCommand;
    type Event = ProductEvent;
    type Error = ProductError;

    fn decide(&self, command: &ProductCommand) -> Result<Vec<ProductEvent>, ProductError> {
        match command {
            ProductCommand::Create {
                product_id,
                fields,
                stock,
                now,
            } => {
                if self.fields.is_some() {
                    return Err(ProductError::AlreadyExists);
                }
                fields.check()?;
                check_stock(*stock)?;
                Ok(vec![ProductEvent::ProductCreated {
                    product_id: *product_id,
                    category_id: fields.category_id,
                    name: fields.name.clone(),
                    description: fields.description.clone(),
                    price: fields.price,
                    stock: *stock,
                    image_url: fields.image_url.clone(),
                    status: fields.status,
                    created_at: *now,
                }])
            }
            ProductCommand::Update { fields, stock, now } => {
                let Some(current) = self.fields.as_ref().filter(|_| !self.deleted) else {
                    return Err(ProductError::NotFound);
                };
                fields.check()?;
                let product_id = self.product_id();
                let mut events = Vec::new();
                if fields != current {
                    events.push(ProductEvent::ProductUpdated {
                        product_id,
                        category_id: fields.category_id,
                        name: fields.name.clone(),
                        description: fields.description.clone(),
                        price: fields.price,
                        image_url: fields.image_url.clone(),
                        status: fields.status,
                        updated_at: *now,
                    });
                }
                if let Some(stock) = stock.filter(|s| *s != self.stock) {
                    check_stock(stock)?;
                    events.push(ProductEvent::StockSet {
                        product_id,
                        stock,
                        updated_at: *now,
                    });
                }
                Ok(events)
            }
            ProductCommand::Delete { now } => {
                if self.fields.is_none() {
                    return Err(ProductError::NotFound);
                }
                if self.deleted {
                    return Ok(Vec::new());
                }
                Ok(vec![ProductEvent::ProductDeleted {
                    product_id: self.product_id(),
                    deleted_at: *now,
                }])
            }
            ProductCommand::Reserve {
                order_id,
                quantity,
                now,
            } => {
                let Some(fields) = self.fields.as_ref().filter(|_| !self.deleted) else {
                    return Err(ProductError::NotFound);
                };
                if fields.status == 0 {
                    return Err(ProductError::OffSale);
                }
                if *quantity == 0 {
                    return Err(FieldError::new("quantity", "must be at least 1").into());
                }
                if *quantity > self.stock {
                    return Err(ProductError::InsufficientStock {
                        available: self.stock,
                    });
                }
                Ok(vec![ProductEvent::StockReserved {
                    product_id: self.product_id(),
                    order_id: order_id.clone(),
                    quantity: *quantity,
                    stock: self.stock - quantity,
                    reserved_at: *now,
                }])
            }
            ProductCommand::Release {
                order_id,
                quantity,
                reason,
                now,
            } => {
                if self.fields.is_none() {
                    return Err(ProductError::NotFound);
                }
                if *quantity == 0 {
                    return Ok(Vec::new());
                }
                Ok(vec![ProductEvent::StockReleased {
                    product_id: self.product_id(),
                    order_id: order_id.clone(),
                    quantity: *quantity,
                    reason: reason.clone(),
                    stock: self.stock.saturating_add(*quantity),
                    released_at: *now,
                }])
            }
        }
    }

    fn evolve(mut self, event: &ProductEvent) -> Self {
        match event {
            ProductEvent::ProductCreated {
                product_id,
                category_id,
                name,
                description,
                price,
                stock,
                image_url,
                status,
                ..
            } => {
                self.fields = Some(ProductFields {
                    category_id: *category_id,
                    name: name.clone(),
                    description: description.clone(),
                    price: *price,
                    image_url: image_url.clone(),
                    status: *status,
                });
                self.stock = *stock;
                self.id = *product_id;
            }
            ProductEvent::ProductUpdated {
                category_id,
                name,
                description,
                price,
                image_url,
                status,
                ..
            } => {
                self.fields = Some(ProductFields {
                    category_id: *category_id,
                    name: name.clone(),
                    description: description.clone(),
                    price: *price,
                    image_url: image_url.clone(),
                    status: *status,
                });
            }
            ProductEvent::StockSet { stock, .. }
            | ProductEvent::StockReserved { stock, .. }
            | ProductEvent::StockReleased { stock, .. } => self.stock = *stock,
            ProductEvent::ProductDeleted { .. } => self.deleted = true,
        }
        self
    }
}

impl ShopProduct {
    /// Its number (0 before creation).
    pub fn product_id(&self) -> u64 {
        self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::Currency;

    fn fields(price_fen: i64) -> ProductFields {
        ProductFields {
            category_id: 1,
            name: "咖啡".into(),
            description: None,
            price: Money::from_minor(price_fen, Currency::CNY).unwrap(),
            image_url: Some("https://example.com/a.jpg".into()),
            status: 1,
        }
    }

    #[test]
    fn stock_and_fields_change_in_their_own_events() {
        let now = DateTime::UNIX_EPOCH;
        let create = ProductCommand::Create {
            product_id: 7,
            fields: fields(9999),
            stock: 100,
            now,
        };
        let p = ShopProduct::replay(&ShopProduct::default().decide(&create).unwrap());
        assert_eq!((p.product_id(), p.stock()), (7, 100));
        let only_stock = ProductCommand::Update {
            fields: fields(9999),
            stock: Some(150),
            now,
        };
        let events = p.decide(&only_stock).unwrap();
        assert!(matches!(
            events.as_slice(),
            [ProductEvent::StockSet { stock: 150, .. }]
        ));
        let bad = ProductCommand::Update {
            fields: ProductFields {
                image_url: Some("javascript:alert(1)".into()),
                ..fields(1)
            },
            stock: None,
            now,
        };
        assert!(matches!(p.decide(&bad), Err(ProductError::Field(f)) if f.field == "image_url"));
        let deleted = p.evolve(&ProductEvent::ProductDeleted {
            product_id: 7,
            deleted_at: now,
        });
        assert_eq!(deleted.decide(&only_stock), Err(ProductError::NotFound));
        assert_eq!(
            deleted.decide(&ProductCommand::Delete { now }),
            Ok(Vec::new())
        );
    }

    #[test]
    fn reservations_never_exceed_stock_and_releases_return_it() {
        let now = DateTime::UNIX_EPOCH;
        let create = ProductCommand::Create {
            product_id: 3,
            fields: fields(500),
            stock: 5,
            now,
        };
        let p = ShopProduct::replay(&ShopProduct::default().decide(&create).unwrap());
        let reserve = |q| ProductCommand::Reserve {
            order_id: "ORDER0000000001".into(),
            quantity: q,
            now,
        };
        assert_eq!(
            p.decide(&reserve(6)),
            Err(ProductError::InsufficientStock { available: 5 })
        );
        assert!(matches!(p.decide(&reserve(0)), Err(ProductError::Field(_))));
        let events = p.decide(&reserve(5)).unwrap();
        let p = events.iter().fold(p, |p, e| p.evolve(e));
        assert_eq!(p.stock(), 0);
        assert_eq!(
            p.decide(&reserve(1)),
            Err(ProductError::InsufficientStock { available: 0 })
        );
        let release = ProductCommand::Release {
            order_id: "ORDER0000000001".into(),
            quantity: 5,
            reason: "expired".into(),
            now,
        };
        let p = p
            .decide(&release)
            .unwrap()
            .iter()
            .fold(p.clone(), |p, e| p.evolve(e));
        assert_eq!(p.stock(), 5);
        let off = p.clone().evolve(&ProductEvent::ProductUpdated {
            product_id: 3,
            category_id: 1,
            name: "咖啡".into(),
            description: None,
            price: Money::from_minor(500, Currency::CNY).unwrap(),
            image_url: None,
            status: 0,
            updated_at: now,
        });
        assert_eq!(off.decide(&reserve(1)), Err(ProductError::OffSale));
        let deleted = p.evolve(&ProductEvent::ProductDeleted {
            product_id: 3,
            deleted_at: now,
        });
        assert_eq!(deleted.decide(&reserve(1)), Err(ProductError::NotFound));
        assert!(
            deleted.decide(&release).is_ok(),
            "stock comes back to a deleted product"
        );
    }
}
