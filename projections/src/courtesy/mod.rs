//! Courtesy read models (seed 001): `courtesy_accounts` (accounts with their profile and
//! `card_count`), `courtesy_resources` (card resources by SHA-256) and `courtesy_images` (the
//! files served for avatars and banners), all written by [`CourtesyProjector`], plus
//! [`CourtesyQueries`] over them (docs/read-models.md, "Courtesy (seed 001)").

macro_rules! fetch_optional {
    ($db:expr, $query:expr) => {
        match $db {
            $crate::db::ReadModelDb::Sqlite { reader, .. } => $query.fetch_optional(reader).await,
            $crate::db::ReadModelDb::Postgres(pool) => $query.fetch_optional(pool).await,
        }
    };
}

mod projector;
mod queries;

pub use projector::CourtesyProjector;
pub use queries::{CourtesyQueries, FileRow};

use crate::projector::Projector;
use std::sync::Arc;

/// Every Courtesy projector.
pub fn projectors() -> Vec<Arc<dyn Projector>> {
    vec![Arc::new(CourtesyProjector)]
}
