//! Why a shop use case failed, in domain terms (the api words it in the seed's `{message}`).

use crate::command::EngineError;
use crate::identity::IdentityError;
use tessera_domain::shared::FieldError;
use tessera_domain::shop::catalog::CatalogError;
use tessera_domain::shop::customer::CustomerError;
use tessera_domain::shop::order::OrderError;
use tessera_domain::shop::product::ProductError;

/// What was not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// No shop user with that `user_id` (or it was deleted).
    User,
    /// No live product.
    Product,
    /// No live category.
    Category,
    /// No such order visible to the caller (another user's, or deleted).
    Order,
    /// No open membership card (never issued, or closed).
    Card,
}

/// Why a shop use case failed.
#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    /// A request field is invalid (400); `field` is the request's field name.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// WeChat refused the login code (401).
    #[error("WeChat refused the login code ({errcode}): {errmsg}")]
    WechatRefused {
        /// WeChat's `errcode`.
        errcode: i64,
        /// WeChat's `errmsg`.
        errmsg: String,
    },
    /// WeChat could not be asked, or no WeChat app is configured (502).
    #[error("WeChat unavailable: {0}")]
    WechatUnavailable(String),
    /// The user is disabled or was deleted (erased) and cannot sign in (401).
    #[error("the user is disabled or deleted")]
    Disabled,
    /// Not found (404).
    #[error("{0:?} not found")]
    NotFound(Missing),
    /// The parent category does not exist (400 on `parent_id`).
    #[error("parent category {0} does not exist")]
    ParentNotFound(u64),
    /// The parent is the category or below it (400 on `parent_id`).
    #[error("category {parent} is {id} or one of its descendants")]
    Cycle {
        /// The category moved.
        id: u64,
        /// The refused parent.
        parent: u64,
    },
    /// The category still has live children (400).
    #[error("category {0} still has child categories")]
    HasChildren(u64),
    /// The product's category does not exist or is deleted (400 on `category_id`).
    #[error("category {0} does not exist")]
    UnknownCategory(u64),
    /// Another user has the email address (400 on `email`).
    #[error("the email address is taken")]
    EmailTaken,
    /// The membership card is frozen: it refuses top-ups and spends (400).
    #[error("the membership card is frozen")]
    CardFrozen,
    /// The card's balance is less than the amount taken (400 on `amount`).
    #[error("balance {} is less than {}", .balance.amount(), .amount.amount())]
    InsufficientBalance {
        /// The balance.
        balance: tessera_domain::shared::Money,
        /// The amount asked for.
        amount: tessera_domain::shared::Money,
    },
    /// A card with money on it cannot be closed (400 on `balance`).
    #[error("the card's balance is {}, not 0.00", .0.amount())]
    BalanceNotZero(tessera_domain::shared::Money),
    /// The user already holds this open card (400 on `user_id`).
    #[error("the user already holds open card {0}")]
    AlreadyHoldsCard(u64),
    /// Another writer took the proposed number; the caller reads the counter again (internal to
    /// [`super::numbers`], never returned by a use case).
    #[error("the proposed number was taken")]
    NumberTaken,
    /// A concurrent sign-in of the same openid won the race; the caller starts over (internal to
    /// [`super::login`], never returned by a use case).
    #[error("a concurrent sign-in won; start over")]
    Retry,
    /// The order's status cannot change that way (400 on `status`); numbers as the api shows
    /// them.
    #[error("order status {from} cannot become {to}")]
    OrderTransition {
        /// Current status number.
        from: u8,
        /// Requested status number.
        to: u8,
    },
    /// The order is already paid with another payment id (400 on `payment_id`).
    #[error("the order is already paid with another payment")]
    AlreadyPaid,
    /// A payment's amount is not the order's total (400 on `amount`).
    #[error("paid {}, the order's total is {}", paid.amount(), total.amount())]
    AmountMismatch {
        /// What was paid.
        paid: tessera_domain::shared::Money,
        /// The order's total.
        total: tessera_domain::shared::Money,
    },
    /// The caller never signed in to the shop (`POST /weixin-login`), so has no shop `user_id`
    /// to order with (403).
    #[error("the caller is not a shop user")]
    NotAShopUser,
    /// The order cannot be paid any more (400 on `order_id`, naming why).
    #[error("the order cannot be paid: {0:?}")]
    NotPayable(super::payments::NotPayable),
    /// The buyer holds no open membership card to pay from (400 on `card_id`).
    #[error("the buyer holds no open membership card")]
    NoCard,
    /// WeChat Pay is not configured on this server (no merchant id): not offered.
    #[error("WeChat Pay is not configured")]
    WechatPayNotConfigured,
    /// WeChat Pay refused the request, could not be reached, or a notification did not verify
    /// or decrypt.
    #[error(transparent)]
    WechatPay(#[from] crate::payments::wechatpay::WechatPayError),
    /// Identity failed for a reason not listed above (hashing, tokens, store).
    #[error(transparent)]
    Identity(IdentityError),
    /// The engine failed (503).
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<IdentityError> for ShopError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Validation { field, reason } => {
                ShopError::Field(FieldError::new(field, reason))
            }
            IdentityError::EmailTaken => ShopError::EmailTaken,
            IdentityError::NotFound => ShopError::NotFound(Missing::User),
            other => ShopError::Identity(other),
        }
    }
}

impl From<CatalogError> for ShopError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Field(f) => ShopError::Field(f),
            CatalogError::NotFound(_) => ShopError::NotFound(Missing::Category),
            CatalogError::ParentNotFound(p) => ShopError::ParentNotFound(p),
            CatalogError::Cycle { id, parent } => ShopError::Cycle { id, parent },
            CatalogError::HasChildren(id) => ShopError::HasChildren(id),
            // Numbers come from the sequence in the same commit: a reused one is a lost race.
            CatalogError::AlreadyExists(_) => ShopError::NumberTaken,
        }
    }
}

impl From<ProductError> for ShopError {
    fn from(e: ProductError) -> Self {
        match e {
            ProductError::Field(f) => ShopError::Field(f),
            ProductError::NotFound => ShopError::NotFound(Missing::Product),
            ProductError::AlreadyExists => ShopError::NumberTaken,
            ProductError::OffSale => ShopError::Field(FieldError::new("product_id", "商品已下架")),
            ProductError::InsufficientStock { available } => ShopError::Field(FieldError::new(
                "quantity",
                format!("库存不足（剩余 {available}）"),
            )),
        }
    }
}

impl From<CustomerError> for ShopError {
    fn from(e: CustomerError) -> Self {
        match e {
            CustomerError::Field(f) => ShopError::Field(f),
            CustomerError::NotJoined => ShopError::NotFound(Missing::User),
        }
    }
}

impl From<OrderError> for ShopError {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::Field(f) => ShopError::Field(f),
            OrderError::NotFound => ShopError::NotFound(Missing::Order),
            // Ids are random: an id already used is a lost draw, drawn again by the caller.
            OrderError::AlreadyExists => ShopError::NumberTaken,
            OrderError::Transition { from, to } => ShopError::OrderTransition { from, to },
            OrderError::AlreadyPaid => ShopError::AlreadyPaid,
            OrderError::AmountMismatch { paid, total } => ShopError::AmountMismatch { paid, total },
        }
    }
}
