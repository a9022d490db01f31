//! What every bounded context shares: id newtypes, [`Money`], field errors and free-text checks, and
//! guard-stream claims for values unique across aggregates (DESIGN.md §5, §8). Nothing here knows
//! any one API document.

pub mod claim;
pub mod classification;
mod field;
pub mod ids;
mod money;

pub use field::{FieldError, check_text};
pub use ids::UserId;
pub use money::{Currency, Money, MoneyError};
