//! The shop's product categories (seed 002 "商品分类 API") and the tree their `parent_id`s form, as
//! one aggregate in one stream (`shopCatalog-main`).
//!
//! Why one aggregate: "no cycles" is a rule over the whole tree. Were each category its own stream,
//! two admins could concurrently make A the parent of B and B the parent of A, each decision valid
//! against what it read. In one stream the second commit loses on the version and decides again
//! against the first, so it is refused. Categories are few and written by admins only, so one
//! stream is no bottleneck.
//!
//! Deleting a category hides it; a category that still has live child categories cannot be deleted
//! (the children would point at nothing). Products of a deleted category keep their
//! `category_id`; no product can be put into a deleted category (docs/shop.md, "Categories").

use crate::shared::{FieldError, check_text};
use crate::{Decider, DomainEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Stream id of the one catalog: `shopCatalog-main`.
pub const CATALOG_ID: &str = "main";

/// Longest category name, in characters.
pub const MAX_NAME: usize = 100;
/// Longest category description, in characters.
pub const MAX_DESCRIPTION: usize = 1000;

/// One category as the tree keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// The name (1–[`MAX_NAME`] characters).
    pub name: String,
    /// Free text, or none.
    pub description: Option<String>,
    /// The parent category, or none for a root.
    pub parent_id: Option<u64>,
    /// Whether [`CatalogEvent::CategoryDeleted`] happened.
    pub deleted: bool,
}

/// Every category ever created, by `category_id`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShopCatalog {
    categories: BTreeMap<u64, Category>,
}

impl ShopCatalog {
    /// The category `id`, deleted or not.
    pub fn category(&self, id: u64) -> Option<&Category> {
        self.categories.get(&id)
    }

    /// Whether `id` exists and is not deleted (products may be put into it).
    pub fn is_live(&self, id: u64) -> bool {
        self.category(id).is_some_and(|c| !c.deleted)
    }

    /// Whether making `parent` the parent of `id` would close a cycle: `parent` is `id` or one of
    /// its descendants.
    fn would_cycle(&self, id: u64, parent: u64) -> bool {
        let mut at = Some(parent);
        // The tree has no cycle (this check keeps it so), so the walk ends within len() steps.
        for _ in 0..=self.categories.len() {
            match at {
                None => return false,
                Some(a) if a == id => return true,
                Some(a) => at = self.category(a).and_then(|c| c.parent_id),
            }
        }
        true
    }

    fn check_parent(&self, id: u64, parent: Option<u64>) -> Result<(), CatalogError> {
        let Some(parent) = parent else {
            return Ok(());
        };
        if !self.is_live(parent) {
            return Err(CatalogError::ParentNotFound(parent));
        }
        if self.would_cycle(id, parent) {
            return Err(CatalogError::Cycle { id, parent });
        }
        Ok(())
    }
}

/// A category's name and description, checked.
fn check_fields(name: &str, description: Option<&str>) -> Result<(), CatalogError> {
    check_text("name", name, 1, MAX_NAME)?;
    if let Some(d) = description {
        check_text("description", d, 0, MAX_DESCRIPTION)?;
    }
    Ok(())
}

/// Commands for [`ShopCatalog`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogCommand {
    /// Add a category under `parent_id` (a live category) or as a root.
    Create {
        /// Its number, taken from `shopSequence-category` in the same commit.
        category_id: u64,
        /// Name, 1–[`MAX_NAME`] characters (trimmed by the caller).
        name: String,
        /// Description, at most [`MAX_DESCRIPTION`] characters.
        description: Option<String>,
        /// Parent category, or none.
        parent_id: Option<u64>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Replace what is given; the new parent must be live and not the category or one of its
    /// descendants. Changing nothing records nothing.
    Update {
        /// The category.
        category_id: u64,
        /// New name, if given.
        name: Option<String>,
        /// New description (`Some(None)` clears it), if given.
        description: Option<Option<String>>,
        /// New parent (`Some(None)` makes it a root), if given.
        parent_id: Option<Option<u64>>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Hide the category; refused while it has live children. Deleting twice changes nothing.
    Delete {
        /// The category.
        category_id: u64,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`ShopCatalog`] (docs/event-catalog.md, "Shop").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum CatalogEvent {
    /// A category was created.
    #[serde(rename = "ShopCategoryCreated")]
    CategoryCreated {
        /// Its number (`category_id`).
        category_id: u64,
        /// Name.
        name: String,
        /// Description, or null.
        description: Option<String>,
        /// Parent category, or null for a root.
        parent_id: Option<u64>,
        /// When (UTC).
        created_at: DateTime<Utc>,
    },
    /// A category changed; carries all its editable fields after the change.
    #[serde(rename = "ShopCategoryUpdated")]
    CategoryUpdated {
        /// The category.
        category_id: u64,
        /// Name after the change.
        name: String,
        /// Description after the change.
        description: Option<String>,
        /// Parent after the change.
        parent_id: Option<u64>,
        /// When (UTC).
        updated_at: DateTime<Utc>,
    },
    /// A category was deleted (hidden; its id is never reused).
    #[serde(rename = "ShopCategoryDeleted")]
    CategoryDeleted {
        /// The category.
        category_id: u64,
        /// When (UTC).
        deleted_at: DateTime<Utc>,
    },
}

impl DomainEvent for CatalogEvent {}

/// Why a [`CatalogCommand`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// A field is invalid.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// No live category has this id.
    #[error("category {0} does not exist")]
    NotFound(u64),
    /// The parent named does not exist or is deleted.
    #[error("parent category {0} does not exist")]
    ParentNotFound(u64),
    /// The parent is the category itself or one of its descendants.
    #[error("category {parent} is {id} or below it; making it the parent would close a cycle")]
    Cycle {
        /// The category being moved.
        id: u64,
        /// The refused parent.
        parent: u64,
    },
    /// The category still has live child categories.
    #[error("category {0} still has child categories")]
    HasChildren(u64),
    /// The number is already used (a bug in the caller: numbers come from the sequence).
    #[error("category {0} already exists")]
    AlreadyExists(u64),
}

impl Decider for ShopCatalog {
    const CATEGORY: &'static str = "shopCatalog";
    type Command = CatalogCommand;
    type Event = CatalogEvent;
    type Error = CatalogError;

    fn decide(&self, command: &CatalogCommand) -> Result<Vec<CatalogEvent>, CatalogError> {
        match command {
            CatalogCommand::Create {
                category_id,
                name,
                description,
                parent_id,
                now,
            } => {
                if self.categories.contains_key(category_id) {
                    return Err(CatalogError::AlreadyExists(*category_id));
                }
                check_fields(name, description.as_deref())?;
                self.check_parent(*category_id, *parent_id)?;
                Ok(vec![CatalogEvent::CategoryCreated {
                    category_id: *category_id,
                    name: name.clone(),
                    description: description.clone(),
                    parent_id: *parent_id,
                    created_at: *now,
                }])
            }
            CatalogCommand::Update {
                category_id,
                name,
                description,
                parent_id,
                now,
            } => {
                let current = self
                    .category(*category_id)
                    .filter(|c| !c.deleted)
                    .ok_or(CatalogError::NotFound(*category_id))?;
                let name = name.clone().unwrap_or_else(|| current.name.clone());
                let description = description
                    .clone()
                    .unwrap_or_else(|| current.description.clone());
                let parent = parent_id.unwrap_or(current.parent_id);
                check_fields(&name, description.as_deref())?;
                if parent != current.parent_id {
                    self.check_parent(*category_id, parent)?;
                }
                if name == current.name
                    && description == current.description
                    && parent == current.parent_id
                {
                    return Ok(Vec::new());
                }
                Ok(vec![CatalogEvent::CategoryUpdated {
                    category_id: *category_id,
                    name,
                    description,
                    parent_id: parent,
                    updated_at: *now,
                }])
            }
            CatalogCommand::Delete { category_id, now } => {
                let current = self
                    .category(*category_id)
                    .ok_or(CatalogError::NotFound(*category_id))?;
                if current.deleted {
                    return Ok(Vec::new());
                }
                let has_children = self
                    .categories
                    .values()
                    .any(|c| !c.deleted && c.parent_id == Some(*category_id));
                if has_children {
                    return Err(CatalogError::HasChildren(*category_id));
                }
                Ok(vec![CatalogEvent::CategoryDeleted {
                    category_id: *category_id,
                    deleted_at: *now,
                }])
            }
        }
    }

    fn evolve(mut self, event: &CatalogEvent) -> Self {
        match event {
            CatalogEvent::CategoryCreated {
                category_id,
                name,
                description,
                parent_id,
                ..
            } => {
                self.categories.insert(
                    *category_id,
                    Category {
                        name: name.clone(),
                        description: description.clone(),
                        parent_id: *parent_id,
                        deleted: false,
                    },
                );
            }
            CatalogEvent::CategoryUpdated {
                category_id,
                name,
                description,
                parent_id,
                ..
            } => {
                if let Some(c) = self.categories.get_mut(category_id) {
                    c.name = name.clone();
                    c.description = description.clone();
                    c.parent_id = *parent_id;
                }
            }
            CatalogEvent::CategoryDeleted { category_id, .. } => {
                if let Some(c) = self.categories.get_mut(category_id) {
                    c.deleted = true;
                }
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(id: u64, parent: Option<u64>) -> CatalogCommand {
        CatalogCommand::Create {
            category_id: id,
            name: format!("c{id}"),
            description: None,
            parent_id: parent,
            now: DateTime::UNIX_EPOCH,
        }
    }

    fn run(state: ShopCatalog, c: &CatalogCommand) -> Result<ShopCatalog, CatalogError> {
        let events = state.decide(c)?;
        Ok(events.iter().fold(state, |s, e| s.evolve(e)))
    }

    fn reparent(id: u64, parent: Option<u64>) -> CatalogCommand {
        CatalogCommand::Update {
            category_id: id,
            name: None,
            description: None,
            parent_id: Some(parent),
            now: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn parents_must_exist_and_never_close_a_cycle() {
        let s = run(ShopCatalog::default(), &create(1, None)).unwrap();
        let s = run(s, &create(2, Some(1))).unwrap();
        let s = run(s, &create(3, Some(2))).unwrap();
        assert_eq!(
            s.decide(&create(4, Some(9))),
            Err(CatalogError::ParentNotFound(9))
        );
        assert_eq!(
            s.decide(&reparent(1, Some(3))),
            Err(CatalogError::Cycle { id: 1, parent: 3 })
        );
        assert_eq!(
            s.decide(&reparent(2, Some(2))),
            Err(CatalogError::Cycle { id: 2, parent: 2 })
        );
        let s = run(s, &reparent(3, None)).unwrap();
        assert_eq!(s.category(3).unwrap().parent_id, None);
    }

    #[test]
    fn a_category_with_children_stays_and_deleted_ones_take_no_children() {
        let s = run(ShopCatalog::default(), &create(1, None)).unwrap();
        let s = run(s, &create(2, Some(1))).unwrap();
        let delete = |id| CatalogCommand::Delete {
            category_id: id,
            now: DateTime::UNIX_EPOCH,
        };
        assert_eq!(s.decide(&delete(1)), Err(CatalogError::HasChildren(1)));
        let s = run(s, &delete(2)).unwrap();
        assert!(!s.is_live(2));
        assert_eq!(s.decide(&delete(2)), Ok(Vec::new()));
        assert_eq!(
            s.decide(&create(3, Some(2))),
            Err(CatalogError::ParentNotFound(2))
        );
        assert!(run(s, &delete(1)).is_ok());
    }
}
