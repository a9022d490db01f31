//! The plan catalogue (seed 004 `GET /plan/list`): what each plan allows (stores, members) and the
//! products it is sold as (price per member per calendar month, CNY). It is configuration, loaded
//! at start (a JSON file, or [`Catalogue::builtin`]), and **versioned**: every event that prices
//! something records [`Catalogue::version`] with the prices it used, so old orders keep the prices
//! they were sold at when the file changes (docs/decisions/0025-plans-ids-and-catalogue.md).

use super::{ObjectId, PlanType};
use crate::shared::FieldError;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The built-in catalogue (used when no file is configured).
pub const BUILTIN_JSON: &str = include_str!("default_catalogue.json");

/// One product: a plan sold per member per calendar month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Its id (fixed in the catalogue file).
    #[serde(rename = "_id")]
    pub id: ObjectId,
    /// The code orders name (`pro-member-month`).
    pub product_no: String,
    /// What clients show.
    pub title: String,
    /// The paid plan it sells.
    pub plan: PlanType,
    /// CNY per member per month, at most two decimals.
    pub price: Decimal,
}

/// One plan of the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanOffer {
    /// `free`, `pro` or `ent`.
    #[serde(rename = "type")]
    pub plan: PlanType,
    /// Display name (免费版 …).
    pub name: String,
    /// Description.
    pub description: String,
    /// Stores allowed.
    pub store: u32,
    /// Members allowed (owners included) while the plan is a trial, or the free plan; a paid
    /// period allows the members it was bought for.
    pub member: u32,
    /// How it is sold (none for `free`).
    pub products: Vec<Product>,
    /// Free text for clients.
    pub ext_info: String,
}

/// The whole, checked catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// Recorded in every event that prices something; change it whenever a price changes.
    pub version: String,
    /// `free`, `pro`, `ent`, each once, in that order.
    pub plans: Vec<PlanOffer>,
}

impl Catalogue {
    /// The built-in catalogue.
    ///
    /// Errors: only if the built-in file were broken (a unit test keeps it valid).
    pub fn builtin() -> Result<Catalogue, FieldError> {
        Catalogue::from_json(BUILTIN_JSON)
    }

    /// Parse and check a catalogue file's text.
    ///
    /// Errors: a [`FieldError`] naming the JSON path at fault (`plans[1].products[0].price`).
    pub fn from_json(text: &str) -> Result<Catalogue, FieldError> {
        let catalogue: Catalogue =
            serde_json::from_str(text).map_err(|e| FieldError::new("catalogue", e.to_string()))?;
        catalogue.check()?;
        Ok(catalogue)
    }

    /// Check the rules: a version; `free`, `pro`, `ent` each exactly once in that order; at least
    /// one member; products only on paid plans, of their own plan, with unique `product_no`s and
    /// prices ≥ 0 with at most two decimals.
    ///
    /// Errors: a [`FieldError`] naming the path at fault.
    pub fn check(&self) -> Result<(), FieldError> {
        if self.version.trim().is_empty() {
            return Err(FieldError::new("version", "must not be empty"));
        }
        let types: Vec<PlanType> = self.plans.iter().map(|p| p.plan).collect();
        if types != [PlanType::Free, PlanType::Pro, PlanType::Ent] {
            return Err(FieldError::new(
                "plans",
                "must list free, pro and ent, once each, in that order",
            ));
        }
        let mut numbers = std::collections::BTreeSet::new();
        for (i, plan) in self.plans.iter().enumerate() {
            if plan.member == 0 {
                return Err(FieldError::new(
                    format!("plans[{i}].member"),
                    "must be at least 1",
                ));
            }
            if !plan.plan.is_paid() && !plan.products.is_empty() {
                return Err(FieldError::new(
                    format!("plans[{i}].products"),
                    "the free plan is not sold",
                ));
            }
            for (j, product) in plan.products.iter().enumerate() {
                let path = format!("plans[{i}].products[{j}]");
                if product.plan != plan.plan {
                    return Err(FieldError::new(
                        format!("{path}.plan"),
                        "must be the plan it is listed under",
                    ));
                }
                if product.price.is_sign_negative() || product.price.normalize().scale() > 2 {
                    return Err(FieldError::new(
                        format!("{path}.price"),
                        "must be at least 0 with at most two decimals",
                    ));
                }
                if !numbers.insert(product.product_no.clone())
                    || product.product_no.trim().is_empty()
                {
                    return Err(FieldError::new(
                        format!("{path}.product_no"),
                        "must be unique and not empty",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The offer of `plan`.
    pub fn offer(&self, plan: PlanType) -> Option<&PlanOffer> {
        self.plans.iter().find(|p| p.plan == plan)
    }

    /// The member limit of `plan` (for the free plan and trials).
    pub fn member_limit(&self, plan: PlanType) -> u32 {
        self.offer(plan).map_or(1, |p| p.member)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalogue_is_valid() {
        let c = Catalogue::builtin().unwrap();
        assert_eq!(c.member_limit(PlanType::Free), 5);
        assert_eq!(
            c.offer(PlanType::Pro).unwrap().products[0].product_no,
            "pro-member-month"
        );
    }

    #[test]
    fn broken_files_name_the_field() {
        let mut c = Catalogue::builtin().unwrap();
        c.plans[1].products[0].price = Decimal::new(1001, 3);
        assert_eq!(c.check().unwrap_err().field, "plans[1].products[0].price");
        let mut c = Catalogue::builtin().unwrap();
        c.plans.swap(1, 2);
        assert_eq!(c.check().unwrap_err().field, "plans");
        let mut c = Catalogue::builtin().unwrap();
        c.plans[2].products[0].product_no = "pro-member-month".into();
        assert_eq!(
            c.check().unwrap_err().field,
            "plans[2].products[0].product_no"
        );
        assert_eq!(Catalogue::from_json("{}").unwrap_err().field, "catalogue");
    }
}
