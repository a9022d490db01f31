//! Courtesy's queries over its read models, through the read pool.

use crate::db::ReadModelDb;
use crate::query::QueryError;

/// A stored file to serve: where the blob store keeps it and its media type.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FileRow {
    /// SHA-256 of the bytes (the blob's name).
    pub sha256: String,
    /// Media type to answer with.
    pub media_type: String,
}

/// Queries over `courtesy_accounts`, `courtesy_resources` and `courtesy_images`.
#[derive(Debug, Clone)]
pub struct CourtesyQueries {
    db: ReadModelDb,
}

impl CourtesyQueries {
    /// Queries over `db`.
    pub fn new(db: ReadModelDb) -> Self {
        Self { db }
    }

    /// `card_count` of the account of identity user `account_id` (0 when no row).
    ///
    /// Errors: [`QueryError`] when the read model cannot be read.
    pub async fn card_count(&self, account_id: &str) -> Result<i64, QueryError> {
        let row: Option<(i64,)> = fetch_optional!(
            &self.db,
            sqlx::query_as("SELECT card_count FROM courtesy_accounts WHERE account_id = $1")
                .bind(account_id)
        )?;
        Ok(row.map_or(0, |(n,)| n))
    }

    /// The file served as `/static/{kind}/{image_id}{suffix}`.
    ///
    /// Errors: [`QueryError`].
    pub async fn image_file(
        &self,
        kind: &str,
        image_id: &str,
        suffix: &str,
    ) -> Result<Option<FileRow>, QueryError> {
        Ok(fetch_optional!(
            &self.db,
            sqlx::query_as::<_, FileRow>(
                "SELECT sha256, media_type FROM courtesy_images \
                 WHERE kind = $1 AND image_id = $2 AND suffix = $3"
            )
            .bind(kind)
            .bind(image_id)
            .bind(suffix)
        )?)
    }

    /// The card resource served as `/static/res/{resource_id}`.
    ///
    /// Errors: [`QueryError`].
    pub async fn resource_file(&self, resource_id: &str) -> Result<Option<FileRow>, QueryError> {
        Ok(fetch_optional!(
            &self.db,
            sqlx::query_as::<_, FileRow>(
                "SELECT sha256, media_type FROM courtesy_resources WHERE resource_id = $1"
            )
            .bind(resource_id)
        )?)
    }
}
