//! The shapes seed 002 shows, built from the read-model rows, and the parsers of its request
//! fields. Instants are ISO 8601 UTC with milliseconds (`2023-09-15T08:00:00.000Z`); a product's
//! `price` is a JSON number of yuan with at most two decimals (docs/shop.md, "Money").

use super::error::ShopApiError;
use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use std::str::FromStr;
use tessera_domain::shared::{Currency, Money, MoneyError};
use tessera_projections::shop::{CategoryRow, ProductRow, UserRow};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// `t` as the seed shows instants: `2023-09-15T08:00:00.000Z` (digits below the millisecond cut).
pub fn millis_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn millis<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&millis_text(t))
}

/// An amount of CNY held in fen and written as a JSON number of yuan: `9999` fen → `99.99`,
/// `10000` → `100`. Through [`Decimal`], so the number printed is the shortest text of the
/// nearest double, i.e. exactly the two-decimal value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Yuan(pub i64);

impl Serialize for Yuan {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 % 100 == 0 {
            return s.serialize_i64(self.0 / 100);
        }
        match Decimal::new(self.0, 2).to_f64() {
            Some(f) => s.serialize_f64(f),
            None => Err(serde::ser::Error::custom("amount has no JSON number")),
        }
    }
}

impl PartialSchema for Yuan {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .description(Some("CNY in yuan, at most two decimals (`99.99`)"))
            .examples([serde_json::json!(99.99)])
            .into()
    }
}

impl ToSchema for Yuan {}

/// A shop user (seed 002 "用户 API").
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    /// The shop's integer id.
    pub user_id: i64,
    /// WeChat openid (null for users who signed up otherwise).
    pub openid: Option<String>,
    /// Nickname (null until an admin sets it).
    pub nickname: Option<String>,
    /// Always null: WeChat no longer hands out avatars at login.
    pub avatar_url: Option<String>,
    /// Always null: WeChat no longer hands out genders at login.
    pub gender: Option<i32>,
    /// Contact phone, or null.
    pub phone: Option<String>,
    /// Email, or null.
    pub email: Option<String>,
    /// 0 normal user, 1 admin.
    pub permission_level: u8,
    /// First shop sign-in.
    #[serde(serialize_with = "millis")]
    #[schema(value_type = String, example = "2023-09-15T08:00:00.000Z")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(serialize_with = "millis")]
    #[schema(value_type = String, example = "2023-09-15T08:00:00.000Z")]
    pub updated_at: DateTime<Utc>,
}

impl From<UserRow> for UserView {
    fn from(r: UserRow) -> Self {
        UserView {
            user_id: r.user_id,
            openid: r.openid,
            nickname: r.nickname,
            avatar_url: None,
            gender: None,
            phone: r.phone,
            email: r.email,
            permission_level: u8::from(r.is_admin),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A category (seed 002 "商品分类 API").
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CategoryView {
    /// Its integer id.
    pub category_id: i64,
    /// Name.
    pub name: String,
    /// Description, or null.
    pub description: Option<String>,
    /// Parent category, or null for a root.
    pub parent_id: Option<i64>,
    /// Created.
    #[serde(serialize_with = "millis")]
    #[schema(value_type = String, example = "2023-09-15T08:00:00.000Z")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(serialize_with = "millis")]
    #[schema(value_type = String, example = "2023-09-15T08:00:00.000Z")]
    pub updated_at: DateTime<Utc>,
}

impl From<CategoryRow> for CategoryView {
    fn from(r: CategoryRow) -> Self {
        CategoryView {
            category_id: r.category_id,
            name: r.name,
            description: r.description,
            parent_id: r.parent_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The category embedded in a product read.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CategoryBrief {
    /// Its integer id.
    pub category_id: i64,
    /// Name.
    pub name: String,
    /// Description, or null.
    pub description: Option<String>,
}

/// A product (seed 002 "商品 API") with its category embedded (`null` when the category was
/// deleted).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductView {
    /// Its integer id.
    pub product_id: i64,
    /// Its category.
    pub category_id: i64,
    /// Name.
    pub name: String,
    /// Description, or null.
    pub description: Option<String>,
    /// Unit price in yuan, a JSON number with at most two decimals.
    pub price: Yuan,
    /// Units in stock.
    pub stock: i64,
    /// Picture URL, or null.
    pub image_url: Option<String>,
    /// 1 on sale, 0 off sale.
    pub status: i32,
    /// Created.
    #[serde(serialize_with = "millis")]
    #[schema(value_type = String, example = "2023-09-15T08:00:00.000Z")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(serialize_with = "millis")]
    #[schema(value_type = String, example = "2023-09-15T08:00:00.000Z")]
    pub updated_at: DateTime<Utc>,
    /// The category, or null when it was deleted.
    pub category: Option<CategoryBrief>,
}

impl From<ProductRow> for ProductView {
    fn from(r: ProductRow) -> Self {
        let category = r.category_name.map(|name| CategoryBrief {
            category_id: r.category_id,
            name,
            description: r.category_description,
        });
        ProductView {
            product_id: r.product_id,
            category_id: r.category_id,
            name: r.name,
            description: r.description,
            price: Yuan(r.price_fen),
            stock: r.stock,
            image_url: r.image_url,
            status: r.status,
            created_at: r.created_at,
            updated_at: r.updated_at,
            category,
        }
    }
}

/// `{"message": "..."}` of a successful `PUT /api/users/:id`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageView {
    /// `用户信息更新成功`.
    pub message: String,
}

// ------------------------------------------------------------------------------- request fields

/// Largest price, in yuan.
pub const MAX_PRICE_YUAN: i64 = tessera_domain::shop::MAX_YUAN;

/// A price in yuan: a JSON number (`99.99`, as the seed's requests show) or a decimal string
/// (`"99.99"`, as its note on amounts says), at most two decimals, 0 to [`MAX_PRICE_YUAN`]. A
/// number is read from its shortest decimal text, never through binary floating point, so `0.1`
/// is 0.10 and `0.30000000000000004` has too many decimals. Anything else is a 400 on `field`.
pub fn price(field: &str, v: &Value) -> Result<Money, ShopApiError> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let ok = !s.is_empty()
                && s.split_once('.').map_or_else(
                    || s.chars().all(|c| c.is_ascii_digit()),
                    |(int, frac)| {
                        !int.is_empty()
                            && !frac.is_empty()
                            && int.chars().all(|c| c.is_ascii_digit())
                            && frac.chars().all(|c| c.is_ascii_digit())
                    },
                );
            if !ok {
                return Err(ShopApiError::field(field, "应为金额，如 99.99"));
            }
            s.clone()
        }
        _ => {
            return Err(ShopApiError::field(
                field,
                "应为金额（数字或字符串），如 99.99",
            ));
        }
    };
    let d = Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .map_err(|_| ShopApiError::field(field, "金额无效"))?;
    if d.is_sign_negative() || d > Decimal::from(MAX_PRICE_YUAN) {
        return Err(ShopApiError::field(
            field,
            format!("应在 0 到 {MAX_PRICE_YUAN} 元之间"),
        ));
    }
    Money::new(d, Currency::CNY).map_err(|e| match e {
        MoneyError::Scale { .. } => ShopApiError::field(field, "最多两位小数"),
        _ => ShopApiError::field(field, "金额无效"),
    })
}

/// A field that may be absent (`None`), `null` (`Some(None)`) or a value.
pub fn nullable<'a>(body: &'a Map<String, Value>, field: &str) -> Option<Option<&'a Value>> {
    body.get(field).map(|v| (!v.is_null()).then_some(v))
}

/// A text field, trimmed: `None` when absent, `Some(None)` when `null` or empty (if `nullable`).
pub fn text(
    body: &Map<String, Value>,
    field: &str,
    nullable_field: bool,
) -> Result<Option<Option<String>>, ShopApiError> {
    match nullable(body, field) {
        None => Ok(None),
        Some(None) if nullable_field => Ok(Some(None)),
        Some(None) => Err(ShopApiError::field(field, "不能为 null")),
        Some(Some(Value::String(s))) => {
            let s = s.trim();
            if s.is_empty() {
                if nullable_field {
                    Ok(Some(None))
                } else {
                    Err(ShopApiError::field(field, "不能为空"))
                }
            } else {
                Ok(Some(Some(s.to_owned())))
            }
        }
        Some(Some(_)) => Err(ShopApiError::field(field, "应为字符串")),
    }
}

/// A whole number from 0 to `max`: `None` when absent, `Some(None)` when `null`.
pub fn whole(
    body: &Map<String, Value>,
    field: &str,
    max: u64,
) -> Result<Option<Option<u64>>, ShopApiError> {
    match nullable(body, field) {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(v)) => match v.as_u64() {
            Some(n) if n <= max => Ok(Some(Some(n))),
            _ => Err(ShopApiError::field(
                field,
                format!("应为 0 到 {max} 的整数"),
            )),
        },
    }
}

/// An integer path id; anything else is a 404 (no such thing can exist).
pub fn path_id(
    raw: &str,
    missing: tessera_application::shop::Missing,
) -> Result<u64, ShopApiError> {
    raw.parse::<u64>()
        .ok()
        .filter(|n| *n > 0 && i64::try_from(*n).is_ok())
        .ok_or_else(|| super::error::not_found(missing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prices_parse_strictly_and_print_as_numbers() {
        let ok = |v: Value| price("price", &v).unwrap().to_minor().unwrap();
        assert_eq!(ok(json!(99.99)), 9999);
        assert_eq!(ok(json!("99.99")), 9999);
        assert_eq!(ok(json!(0.1)), 10);
        assert_eq!(ok(json!(100)), 10000);
        for bad in [
            json!(99.999),
            json!("99.999"),
            json!(-1),
            json!("1e3"),
            json!(" 1"),
            json!("1."),
            json!(true),
            json!(0.30000000000000004),
        ] {
            assert!(price("price", &bad).is_err(), "{bad} accepted");
        }
        assert_eq!(serde_json::to_string(&Yuan(9999)).unwrap(), "99.99");
        assert_eq!(serde_json::to_string(&Yuan(8990)).unwrap(), "89.9");
        assert_eq!(serde_json::to_string(&Yuan(10000)).unwrap(), "100");
        assert_eq!(serde_json::to_string(&Yuan(1)).unwrap(), "0.01");
    }
}
