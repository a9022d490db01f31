//! Shop read models (seed 002): users as the shop shows them, categories, and products with their
//! stock, plus the queries the shop's routes serve from them (docs/read-models.md, section "Shop
//! (seed 002)", documents every table).
//!
//! * [`UsersProjector`] (`shop_users`): `shop_accounts`, from the `user` and `shopUser` streams.
//! * [`CatalogProjector`] (`shop_catalog`): `shop_categories` and `shop_products`, from the
//!   `shopCatalog` and `shopProduct` streams. A product's category is joined in at query time.
//!   Stock follows `ShopProductStockSet`, `…Reserved` and `…Released`.
//! * [`OrdersProjector`] (`shop_orders`): `shop_orders` and `shop_order_items`, from the
//!   `shopOrder` streams; the buyer and the current product are joined in at query time.
//! * [`CardsProjector`] (`shop_cards`): `shop_membership_cards` and `shop_member_transactions`,
//!   from the `shopMembershipCard` streams; [`CardQueries`] reads them.
//!
//! Event data is parsed with this module's own serde structs (the input contract is
//! docs/event-catalog.md, section "Shop"). Integer ids are the ones the events carry, so a rebuild
//! gives every row the same id. Money is BIGINT fen (`price_fen`); instants are UTC.

use crate::projector::{ProjectionError, Projector};
use std::sync::Arc;
use tessera_application::RecordedEvent;

macro_rules! fetch_all {
    ($db:expr, $query:expr) => {
        match $db {
            $crate::db::ReadModelDb::Sqlite { reader, .. } => $query.fetch_all(reader).await,
            $crate::db::ReadModelDb::Postgres(pool) => $query.fetch_all(pool).await,
        }
    };
}

macro_rules! fetch_optional {
    ($db:expr, $query:expr) => {
        match $db {
            $crate::db::ReadModelDb::Sqlite { reader, .. } => $query.fetch_optional(reader).await,
            $crate::db::ReadModelDb::Postgres(pool) => $query.fetch_optional(pool).await,
        }
    };
}

mod card_queries;
mod cards;
mod catalog;
mod order_queries;
mod orders;
mod queries;
mod users;

pub use card_queries::{CardQueries, CardRow, TransactionRow};
pub use cards::CardsProjector;
pub use catalog::CatalogProjector;
pub use order_queries::{OrderItemRow, OrderRow};
pub use orders::OrdersProjector;
pub use queries::{CategoryRow, ProductRow, ShopQueries, UserRow};
pub use users::UsersProjector;

/// Every shop projector.
pub fn projectors() -> Vec<Arc<dyn Projector>> {
    vec![
        Arc::new(UsersProjector),
        Arc::new(CatalogProjector),
        Arc::new(OrdersProjector),
        Arc::new(CardsProjector),
    ]
}

use crate::projector::{bad_event, parse};

/// The UUID after the category of an event's stream (`shopUser-{uuid}` → uuid text).
fn stream_uuid(event: &RecordedEvent) -> Result<String, ProjectionError> {
    crate::projector::stream_uuid(event).map(|u| u.to_string())
}

/// An `i64` column value from an event's `u64`.
fn int(event: &RecordedEvent, n: u64) -> Result<i64, ProjectionError> {
    i64::try_from(n).map_err(|_| bad_event(event, format!("{n} does not fit a BIGINT")))
}
