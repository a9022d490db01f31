//! The shop's queries (seed 002) over `shop_accounts`, `shop_categories` and `shop_products`,
//! through the read pool. They return plain rows (money in fen, instants in UTC); the api layer
//! shapes them into the seed's JSON. Deleted categories and products, erased users and identity
//! users who never signed in to the shop are not returned.

use crate::db::ReadModelDb;
use crate::query::QueryError;
use chrono::{DateTime, Utc};

/// A shop user (seed 002 user shape).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRow {
    /// The shop's integer id.
    pub user_id: i64,
    /// The identity user (UUID text).
    pub account_id: String,
    /// WeChat openid, if the user has one.
    pub openid: Option<String>,
    /// Nickname, if set.
    pub nickname: Option<String>,
    /// Contact phone, if set.
    pub phone: Option<String>,
    /// Email, if set.
    pub email: Option<String>,
    /// Holds the admin role (`permission_level` 1).
    pub is_admin: bool,
    /// First shop sign-in (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
}

/// A live category.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CategoryRow {
    /// Its integer id.
    pub category_id: i64,
    /// Name.
    pub name: String,
    /// Description, if any.
    pub description: Option<String>,
    /// Parent category, if any.
    pub parent_id: Option<i64>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
}

/// A live product with its category's name and description when that category is live.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProductRow {
    /// Its integer id.
    pub product_id: i64,
    /// Its category's id (also when that category was deleted).
    pub category_id: i64,
    /// Name.
    pub name: String,
    /// Description, if any.
    pub description: Option<String>,
    /// Unit price in fen (CNY minor units).
    pub price_fen: i64,
    /// Units in stock.
    pub stock: i64,
    /// Picture URL, if any.
    pub image_url: Option<String>,
    /// 1 on sale, 0 off sale.
    pub status: i32,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
    /// The category's name; none when the category is deleted.
    pub category_name: Option<String>,
    /// The category's description (none also when it has none).
    pub category_description: Option<String>,
}

/// Reads the shop's read models. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ShopQueries {
    pub(super) db: ReadModelDb,
}

const USER_COLUMNS: &str = "SELECT user_id, account_id, openid, nickname, phone, email, is_admin, \
     created_at, updated_at FROM shop_accounts WHERE user_id IS NOT NULL AND NOT erased";

const CATEGORY_COLUMNS: &str = "SELECT category_id, name, description, parent_id, created_at, \
     updated_at FROM shop_categories WHERE NOT deleted";

const PRODUCT_COLUMNS: &str = "SELECT p.product_id, p.category_id, p.name, p.description, \
     p.price_fen, p.stock, p.image_url, p.status, p.created_at, p.updated_at, \
     c.name AS category_name, c.description AS category_description \
     FROM shop_products p LEFT JOIN shop_categories c \
     ON c.category_id = p.category_id AND NOT c.deleted WHERE NOT p.deleted";

impl ShopQueries {
    /// Queries over `db`.
    pub fn new(db: ReadModelDb) -> Self {
        Self { db }
    }

    /// The membership card queries over the same database.
    pub fn cards(&self) -> super::CardQueries {
        super::CardQueries::new(self.db.clone())
    }

    /// Every shop user, by `user_id`.
    ///
    /// Errors: database failures.
    pub async fn users(&self) -> Result<Vec<UserRow>, QueryError> {
        let sql = sqlx::AssertSqlSafe(format!("{USER_COLUMNS} ORDER BY user_id"));
        Ok(fetch_all!(&self.db, sqlx::query_as::<_, UserRow>(sql))?)
    }

    /// The shop user `user_id`.
    ///
    /// Errors: database failures.
    pub async fn user(&self, user_id: i64) -> Result<Option<UserRow>, QueryError> {
        let sql = sqlx::AssertSqlSafe(format!("{USER_COLUMNS} AND user_id = $1"));
        Ok(fetch_optional!(
            &self.db,
            sqlx::query_as::<_, UserRow>(sql).bind(user_id)
        )?)
    }

    /// The shop user of the identity user `account_id` (UUID text).
    ///
    /// Errors: database failures.
    pub async fn user_by_account(&self, account_id: &str) -> Result<Option<UserRow>, QueryError> {
        let sql = sqlx::AssertSqlSafe(format!("{USER_COLUMNS} AND account_id = $1"));
        Ok(fetch_optional!(
            &self.db,
            sqlx::query_as::<_, UserRow>(sql).bind(account_id)
        )?)
    }

    /// Every live category, by id.
    ///
    /// Errors: database failures.
    pub async fn categories(&self) -> Result<Vec<CategoryRow>, QueryError> {
        let sql = sqlx::AssertSqlSafe(format!("{CATEGORY_COLUMNS} ORDER BY category_id"));
        Ok(fetch_all!(&self.db, sqlx::query_as::<_, CategoryRow>(sql))?)
    }

    /// The live category `id`.
    ///
    /// Errors: database failures.
    pub async fn category(&self, id: i64) -> Result<Option<CategoryRow>, QueryError> {
        let sql = sqlx::AssertSqlSafe(format!("{CATEGORY_COLUMNS} AND category_id = $1"));
        Ok(fetch_optional!(
            &self.db,
            sqlx::query_as::<_, CategoryRow>(sql).bind(id)
        )?)
    }

    /// Every live product, by id.
    ///
    /// Errors: database failures.
    pub async fn products(&self) -> Result<Vec<ProductRow>, QueryError> {
        let sql = sqlx::AssertSqlSafe(format!("{PRODUCT_COLUMNS} ORDER BY p.product_id"));
        Ok(fetch_all!(&self.db, sqlx::query_as::<_, ProductRow>(sql))?)
    }

    /// The live product `id`.
    ///
    /// Errors: database failures.
    pub async fn product(&self, id: i64) -> Result<Option<ProductRow>, QueryError> {
        let sql = sqlx::AssertSqlSafe(format!("{PRODUCT_COLUMNS} AND p.product_id = $1"));
        Ok(fetch_optional!(
            &self.db,
            sqlx::query_as::<_, ProductRow>(sql).bind(id)
        )?)
    }
}
