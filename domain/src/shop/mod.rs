//! The WeChat mini-program shop (seed 002, `../shared/seeds/002_92f57e6162bd24a7.txt`): its
//! aggregates, whose stream categories start with `shop` and event types with `Shop`
//! (docs/decisions/0005-event-namespace.md).
//!
//! - [`sequence::ShopSequence`] (`shopSequence-{kind}`): the integer ids the seed shows
//!   (`user_id`, `product_id`, `category_id`, later `card_id`, `transaction_id`, `order_item_id`),
//!   one counter per kind, taken in the same atomic commit as the entity it numbers
//!   (docs/decisions/0018-shop-integer-ids.md).
//! - [`catalog::ShopCatalog`] (`shopCatalog-main`): every product category and the tree their
//!   `parent_id`s form; one stream, so that no two concurrent changes can close a cycle.
//! - [`product::ShopProduct`] (`shopProduct-{productId}`): one product with its price and stock.
//! - [`order::ShopOrder`] (`shopOrder-{orderId}`): an order, its lines as bought and its status;
//!   its stock is reserved on the products in the same atomic commit
//!   (docs/decisions/0021-shop-order-reservation.md).
//! - [`card::MembershipCard`] (`shopMembershipCard-{cardId}`): a membership card, its balance and
//!   its member transactions; [`card::CardHolder`] (`shopCardHolder-{userId}`): the one open card
//!   a user holds.
//! - [`customer::ShopCustomer`] (`shopUser-{userId uuid}`): what the shop adds to an identity user:
//!   its integer `user_id`, nickname and contact phone. Email, password, roles and the WeChat
//!   openid are [`crate::identity`]'s.
//!
//! Money is CNY [`crate::shared::Money`], stored in its shared form
//! `{"amount": "99.99", "currency": "CNY"}`. Stored shapes: docs/event-catalog.md, "Shop".

pub mod card;
pub mod catalog;
pub mod customer;
pub mod order;
pub mod product;
pub mod sequence;

use crate::shared::{Currency, FieldError, Money};

/// The highest price or amount the shop accepts, in yuan.
pub const MAX_YUAN: i64 = 100_000_000;

/// `money` if it is CNY and at most [`MAX_YUAN`]; a [`FieldError`] on `field` otherwise.
pub fn check_price(field: &str, money: &Money) -> Result<(), FieldError> {
    if money.currency() != Currency::CNY {
        return Err(FieldError::new(field, "must be in CNY"));
    }
    if money.amount() > rust_decimal::Decimal::from(MAX_YUAN) {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_YUAN} yuan"),
        ));
    }
    Ok(())
}
