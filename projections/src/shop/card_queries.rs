//! The membership card queries (seed 002 "会员卡 API") over `shop_membership_cards`,
//! `shop_member_transactions` and `shop_accounts` (for the embedded user). Closed cards and
//! their transactions are not returned. Money in fen, instants UTC; the api shapes the seed's JSON.

use crate::db::ReadModelDb;
use crate::query::QueryError;
use chrono::{DateTime, Utc};

/// An open card with its holder's public fields (none when the holder was deleted).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CardRow {
    /// Its integer id.
    pub card_id: i64,
    /// The holder's shop `user_id`.
    pub user_id: i64,
    /// 16 digits with a Luhn check digit.
    pub card_number: String,
    /// Balance in fen.
    pub balance_fen: i64,
    /// 1 active, 0 frozen.
    pub status: i32,
    /// Issued (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change: transaction, freeze or unfreeze (UTC).
    pub updated_at: DateTime<Utc>,
    /// Whether the holder is a live shop user (false once deleted).
    pub holder_live: bool,
    /// The holder's nickname.
    pub nickname: Option<String>,
    /// The holder's email.
    pub email: Option<String>,
    /// The holder's contact phone.
    pub phone: Option<String>,
}

/// A member transaction of an open card.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TransactionRow {
    /// Its integer id.
    pub transaction_id: i64,
    /// The card.
    pub card_id: i64,
    /// The card holder's shop `user_id`.
    pub user_id: i64,
    /// The seed's `type`: 1 top-up, 2 spend, 3 refund, 4 adjustment up, 5 adjustment down.
    pub type_code: i32,
    /// Amount in fen (positive).
    pub amount_fen: i64,
    /// Balance after it, in fen.
    pub balance_after_fen: i64,
    /// What it was for.
    pub description: Option<String>,
    /// The order it paid or refunded.
    pub order_id: Option<String>,
    /// Recorded (UTC).
    pub created_at: DateTime<Utc>,
}

/// Reads the card read models. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CardQueries {
    db: ReadModelDb,
}

const CARD_COLUMNS: &str = "SELECT c.card_id, c.user_id, c.card_number, c.balance_fen, c.status, \
     c.created_at, c.updated_at, (a.account_id IS NOT NULL) AS holder_live, a.nickname, a.email, \
     a.phone FROM shop_membership_cards c LEFT JOIN shop_accounts a \
     ON a.user_id = c.user_id AND NOT a.erased WHERE NOT c.closed";

const TRANSACTION_COLUMNS: &str = "SELECT t.transaction_id, t.card_id, t.user_id, t.type_code, \
     t.amount_fen, t.balance_after_fen, t.description, t.order_id, t.created_at \
     FROM shop_member_transactions t JOIN shop_membership_cards c \
     ON c.card_id = t.card_id AND NOT c.closed WHERE 1 = 1";

impl CardQueries {
    /// Queries over `db`.
    pub fn new(db: ReadModelDb) -> Self {
        Self { db }
    }

    /// Every open card (of `holder` only, when given), by `card_id`.
    ///
    /// Errors: database failures.
    pub async fn cards(&self, holder: Option<i64>) -> Result<Vec<CardRow>, QueryError> {
        Ok(match holder {
            None => {
                let sql = sqlx::AssertSqlSafe(format!("{CARD_COLUMNS} ORDER BY c.card_id"));
                fetch_all!(&self.db, sqlx::query_as::<_, CardRow>(sql))?
            }
            Some(user) => {
                let sql = sqlx::AssertSqlSafe(format!(
                    "{CARD_COLUMNS} AND c.user_id = $1 ORDER BY c.card_id"
                ));
                fetch_all!(&self.db, sqlx::query_as::<_, CardRow>(sql).bind(user))?
            }
        })
    }

    /// The open card `card_id`.
    ///
    /// Errors: database failures.
    pub async fn card(&self, card_id: i64) -> Result<Option<CardRow>, QueryError> {
        let sql = sqlx::AssertSqlSafe(format!("{CARD_COLUMNS} AND c.card_id = $1"));
        Ok(fetch_optional!(
            &self.db,
            sqlx::query_as::<_, CardRow>(sql).bind(card_id)
        )?)
    }

    /// The transactions of open cards, by `transaction_id`: of card `card` and/or of holder
    /// `holder` when given.
    ///
    /// Errors: database failures.
    pub async fn transactions(
        &self,
        card: Option<i64>,
        holder: Option<i64>,
    ) -> Result<Vec<TransactionRow>, QueryError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{TRANSACTION_COLUMNS} AND ($1 IS NULL OR t.card_id = $1) \
             AND ($2 IS NULL OR t.user_id = $2) ORDER BY t.transaction_id"
        ));
        Ok(fetch_all!(
            &self.db,
            sqlx::query_as::<_, TransactionRow>(sql)
                .bind(card)
                .bind(holder)
        )?)
    }

    /// The transaction `transaction_id` (of an open card).
    ///
    /// Errors: database failures.
    pub async fn transaction(
        &self,
        transaction_id: i64,
    ) -> Result<Option<TransactionRow>, QueryError> {
        let sql = sqlx::AssertSqlSafe(format!("{TRANSACTION_COLUMNS} AND t.transaction_id = $1"));
        Ok(fetch_optional!(
            &self.db,
            sqlx::query_as::<_, TransactionRow>(sql).bind(transaction_id)
        )?)
    }
}
