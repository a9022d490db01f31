//! One event namespace (DESIGN.md §8, docs/decisions/0005-event-namespace.md): every aggregate of
//! the domain, with its context, its stream category and every event type it can store; the test
//! fails when two contexts share a category or an event type, or when a context other than
//! identity and shared breaks the prefix rule. It also checks that this list holds every `Decider`
//! of the domain, and that every projector reads categories and types that exist.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use tessera_application::StreamId;
use tessera_domain::{Decider, DomainEvent};

/// Contexts whose names carry their prefix: (context, category prefix, event type prefix).
const PREFIXED: &[(&str, &str, &str)] = &[
    ("openticket", "openticket", "OpenTicket"),
    ("meeting", "meeting", "Meeting"),
    ("shop", "shop", "Shop"),
    ("courtesy", "courtesy", "Courtesy"),
    ("plans", "plans", "Plans"),
];

/// Contexts that keep bare names: the one user base every document shares, and guard streams.
const BARE: &[&str] = &["identity", "shared"];

/// One aggregate as the store sees it.
#[derive(Debug, Clone)]
struct Aggregate {
    /// Its bounded context: the domain module it lives in.
    context: &'static str,
    /// Its Rust type name.
    name: &'static str,
    /// `Decider::CATEGORY`.
    category: &'static str,
    /// Every event type it can store, as serde writes them.
    types: &'static [&'static str],
}

fn aggregate<D: Decider>() -> Aggregate {
    // `tessera_domain::{context}::…::{Name}`: the context is the module, so it cannot be mislabelled.
    let path = std::any::type_name::<D>();
    let mut parts = path.split("::");
    assert_eq!(parts.next(), Some("tessera_domain"), "{path}");
    Aggregate {
        context: parts.next().unwrap(),
        name: path.rsplit("::").next().unwrap(),
        category: D::CATEGORY,
        types: D::Event::stored_types(),
    }
}

/// Every aggregate of the domain. `every_decider_of_the_domain_is_listed` fails when one is missing.
fn aggregates() -> Vec<Aggregate> {
    use tessera_domain::{courtesy, identity, meeting, openticket, plans, shared, shop};
    vec![
        aggregate::<identity::User>(),
        aggregate::<identity::EmailClaim>(),
        aggregate::<identity::RefreshFamily>(),
        aggregate::<identity::sms::SmsChallenge>(),
        aggregate::<identity::wechat::WechatAccount>(),
        aggregate::<identity::oauth::OAuthIdentity>(),
        aggregate::<shared::claim::IdentifierClaim>(),
        aggregate::<openticket::venue::Venue>(),
        aggregate::<openticket::event::Event>(),
        aggregate::<openticket::seat_session::SeatSession>(),
        aggregate::<openticket::order::Order>(),
        aggregate::<openticket::ticket::Ticket>(),
        aggregate::<meeting::Meeting>(),
        aggregate::<meeting::order::MeetingOrder>(),
        aggregate::<meeting::ticket::MeetingTicket>(),
        aggregate::<shop::sequence::ShopSequence>(),
        aggregate::<shop::catalog::ShopCatalog>(),
        aggregate::<shop::product::ShopProduct>(),
        aggregate::<shop::customer::ShopCustomer>(),
        aggregate::<shop::order::ShopOrder>(),
        aggregate::<shop::card::MembershipCard>(),
        aggregate::<shop::card::CardHolder>(),
        aggregate::<plans::user::PlansUser>(),
        aggregate::<plans::company::Company>(),
        aggregate::<plans::team_plan::TeamPlan>(),
        aggregate::<plans::plan_payment::PlanPayment>(),
        aggregate::<plans::plan_payment::PaymentDesk>(),
        aggregate::<plans::recharge::Recharge>(),
        aggregate::<courtesy::sequence::CourtesySequence>(),
        aggregate::<courtesy::account::CourtesyAccount>(),
        aggregate::<courtesy::resource::CourtesyResource>(),
        aggregate::<plans::certification::Certification>(),
        aggregate::<plans::certification::CertificationDesk>(),
        aggregate::<courtesy::qr::CourtesyQrCode>(),
        aggregate::<courtesy::card::CourtesyCard>(),
        aggregate::<courtesy::news::CourtesyNewsDay>(),
        aggregate::<plans::pictures::PictureShelf>(),
        aggregate::<plans::order::PlanOrder>(),
        aggregate::<plans::wallet::Wallet>(),
    ]
}

/// `name` is `prefix` alone (only where `alone` is allowed) or `prefix` followed by an upper-case
/// letter, so `shop` does not claim `shopping`.
fn has_prefix(name: &str, prefix: &str, alone: bool) -> bool {
    match name.strip_prefix(prefix) {
        Some("") => alone,
        Some(rest) => rest.starts_with(|c: char| c.is_ascii_uppercase()),
        None => false,
    }
}

/// Everything wrong with a set of aggregates; empty when the namespace holds.
fn problems(aggregates: &[Aggregate]) -> Vec<String> {
    let mut out = Vec::new();
    let mut categories: BTreeMap<&str, Vec<&Aggregate>> = BTreeMap::new();
    let mut types: BTreeMap<&str, Vec<&Aggregate>> = BTreeMap::new();
    for a in aggregates {
        let who = format!("{}::{}", a.context, a.name);
        categories.entry(a.category).or_default().push(a);
        if a.types.is_empty() {
            out.push(format!(
                "{who}: no event types (is its event enum a tagged serde enum?)"
            ));
        }
        for t in a.types {
            types.entry(t).or_default().push(a);
        }
        if StreamId::for_aggregate(a.category, "x").is_err() {
            out.push(format!(
                "{who}: category `{}` cannot name a stream",
                a.category
            ));
        }
        if let Some((_, category_prefix, type_prefix)) =
            PREFIXED.iter().find(|(c, _, _)| *c == a.context)
        {
            if !has_prefix(a.category, category_prefix, true) {
                out.push(format!(
                    "{who}: category `{}` does not start with `{category_prefix}`",
                    a.category
                ));
            }
            for t in a.types {
                if !has_prefix(t, type_prefix, false) {
                    out.push(format!(
                        "{who}: event type `{t}` does not start with `{type_prefix}`"
                    ));
                }
            }
        } else if BARE.contains(&a.context) {
            for (other, category_prefix, type_prefix) in PREFIXED {
                if has_prefix(a.category, category_prefix, true) {
                    out.push(format!(
                        "{who}: category `{}` takes the prefix of {other}",
                        a.category
                    ));
                }
                for t in a.types {
                    if has_prefix(t, type_prefix, false) {
                        out.push(format!(
                            "{who}: event type `{t}` takes the prefix of {other}"
                        ));
                    }
                }
            }
        } else {
            out.push(format!("{who}: unknown context `{}`", a.context));
        }
    }
    for (category, owners) in &categories {
        if owners.len() > 1 {
            out.push(format!("category `{category}` is used by {}", list(owners)));
        }
    }
    for (t, owners) in &types {
        let contexts: BTreeSet<&str> = owners.iter().map(|a| a.context).collect();
        if contexts.len() > 1 {
            out.push(format!("event type `{t}` is stored by {}", list(owners)));
        }
    }
    out
}

fn list(owners: &[&Aggregate]) -> String {
    owners
        .iter()
        .map(|a| format!("{}::{}", a.context, a.name))
        .collect::<Vec<_>>()
        .join(" and ")
}

fn print_table(aggregates: &[Aggregate]) {
    for a in aggregates {
        println!(
            "{:<10} {:<16} {:<22} {}",
            a.context,
            a.name,
            a.category,
            a.types.join(", ")
        );
    }
}

#[test]
fn categories_and_event_types_are_unique_and_prefixed() {
    let all = aggregates();
    print_table(&all);
    let found = problems(&all);
    assert!(
        found.is_empty(),
        "the event namespace is broken (docs/decisions/0005-event-namespace.md):\n  {}",
        found.join("\n  ")
    );
}

/// Reads `impl Decider for X` in domain/src (outside the test harness's example) and compares with
/// [`aggregates`], so a new aggregate cannot skip the namespace check.
#[test]
fn every_decider_of_the_domain_is_listed() {
    fn scan(dir: &Path, root: &Path, found: &mut BTreeSet<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                scan(&path, root, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(root).unwrap();
                let context = relative.components().next().unwrap().as_os_str();
                let context = context.to_str().unwrap().trim_end_matches(".rs").to_owned();
                if context == "testing" {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for line in text.lines() {
                    if let Some(rest) = line.trim_start().strip_prefix("impl Decider for ") {
                        let name: String = rest
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        found.insert((context.clone(), name));
                    }
                }
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../domain/src");
    let mut in_source = BTreeSet::new();
    scan(&root, &root, &mut in_source);
    assert!(
        !in_source.is_empty(),
        "no `impl Decider for` found under {root:?}"
    );
    let listed: BTreeSet<(String, String)> = aggregates()
        .iter()
        .map(|a| (a.context.to_owned(), a.name.to_owned()))
        .collect();
    assert_eq!(
        in_source, listed,
        "tests/tests/namespace.rs `aggregates()` must list every Decider of the domain"
    );
}

/// Every projector reads categories that exist, and handles only types its categories store (a type
/// of an undeclared category would never reach it).
#[test]
fn projectors_read_categories_and_types_that_exist() {
    let all = aggregates();
    for p in tessera_api::startup::projectors() {
        let categories = p.categories();
        if categories == tessera_projections::ALL_CATEGORIES {
            assert_eq!(
                p.name(),
                "event_type_stats",
                "only the stats read every category"
            );
            continue;
        }
        assert!(!categories.is_empty(), "{} declares no category", p.name());
        for c in categories {
            assert!(
                all.iter().any(|a| a.category == *c),
                "{} reads unknown category `{c}`",
                p.name()
            );
        }
        let readable: BTreeSet<&str> = all
            .iter()
            .filter(|a| categories.contains(&a.category))
            .flat_map(|a| a.types.iter().copied())
            .collect();
        for t in p.handles() {
            assert!(
                readable.contains(t),
                "{} handles `{t}`, which none of {categories:?} stores",
                p.name()
            );
        }
    }
}

/// The checker itself sees a clash and a missing prefix (on made-up aggregates, so this holds
/// whatever the domain's state).
#[test]
fn a_clash_is_reported() {
    let mut all = vec![Aggregate {
        context: "openticket",
        name: "Order",
        category: "openticketOrder",
        types: &["OpenTicketOrderPlaced"],
    }];
    all.push(Aggregate {
        context: "shop",
        name: "Order",
        category: "openticketOrder",
        types: &["OpenTicketOrderPlaced", "ShopOrderPaid"],
    });
    all.push(Aggregate {
        context: "plans",
        name: "Plan",
        category: "plan",
        types: &["PlanStarted"],
    });
    all.push(Aggregate {
        context: "identity",
        name: "Basket",
        category: "shopBasket",
        types: &["BasketFilled"],
    });
    let found = problems(&all);
    for expected in [
        "shop::Order: category `openticketOrder` does not start with `shop`",
        "shop::Order: event type `OpenTicketOrderPlaced` does not start with `Shop`",
        "plans::Plan: category `plan` does not start with `plans`",
        "plans::Plan: event type `PlanStarted` does not start with `Plans`",
        "identity::Basket: category `shopBasket` takes the prefix of shop",
        "category `openticketOrder` is used by openticket::Order and shop::Order",
        "event type `OpenTicketOrderPlaced` is stored by openticket::Order and shop::Order",
    ] {
        assert!(
            found.iter().any(|f| f == expected),
            "missing {expected:?} in {found:#?}"
        );
    }
    assert_eq!(found.len(), 7, "{found:#?}");
    assert!(has_prefix("meeting", "meeting", true));
    assert!(!has_prefix("meetings", "meeting", true));
    assert!(!has_prefix("Meeting", "Meeting", false));
}
