//! A meeting with its ticket grades and their stock (seed 000 §4 `ticketGrades`).
//!
//! Stock lives in the meeting's own stream so that one append reserves every grade of an order at
//! once: either the whole order is reserved or nothing is (`No Stock`). Per grade,
//! `stock = remaining + held + sold`: `held` is reserved by unpaid orders, `sold` by paid ones.
//!
//! Sales life cycle: `draft` (created, not selling) → `onSale` ⇄ `closed`. Orders are only taken
//! while on sale. Grades can be added or changed at any time; stock cannot drop below what is held
//! and sold.
//!
//! Prices are CNY [`Money`]; events store them as integer fen (`priceFen`, see [`super::fen`]).

use super::{MeetingOrderId, TicketGradeId};
use crate::shared::{Currency, Money};
use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether a meeting is selling tickets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SalesStatus {
    /// Created; sales not opened yet.
    #[default]
    Draft,
    /// Taking orders.
    OnSale,
    /// Sales closed (can be reopened).
    Closed,
}

impl SalesStatus {
    /// The stored / API name (`draft`, `onSale`, `closed`).
    pub fn as_str(self) -> &'static str {
        match self {
            SalesStatus::Draft => "draft",
            SalesStatus::OnSale => "onSale",
            SalesStatus::Closed => "closed",
        }
    }
}

/// One grade's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grade {
    /// Name shown to buyers.
    pub name: String,
    /// Current unit price (CNY).
    pub price: Money,
    /// Total tickets of this grade.
    pub stock: u32,
    /// Reserved by unpaid orders.
    pub held: u32,
    /// Sold to paid orders.
    pub sold: u32,
}

impl Grade {
    /// Tickets still available: `stock - held - sold`.
    pub fn remaining(&self) -> u32 {
        self.stock.saturating_sub(self.held + self.sold)
    }
}

/// A new grade as given to [`MeetingCommand::CreateMeeting`] and [`MeetingCommand::AddGrade`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewGrade {
    /// The grade's id (made by the caller).
    pub ticket_grade_id: TicketGradeId,
    /// Name shown to buyers (1–100 characters, checked by the caller).
    pub name: String,
    /// Unit price (CNY); stored as integer fen `priceFen`.
    #[serde(rename = "priceFen", with = "super::fen")]
    pub price: Money,
    /// Number of tickets.
    pub stock: u32,
}

/// What one order takes of one grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockLine {
    /// The grade taken from; an order may have two lines of one grade.
    pub ticket_grade_id: TicketGradeId,
    /// How many tickets.
    pub amount: u32,
}

/// The meeting's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingInfo {
    /// The organizer who created it; only they or an admin may change it.
    pub organizer_id: UserId,
    /// 1–200 characters (checked by the caller).
    pub title: String,
    /// Start (UTC).
    pub start_time: DateTime<Utc>,
}

/// A meeting (stream `meeting-{meetingId}`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meeting {
    info: Option<MeetingInfo>,
    status: SalesStatus,
    grades: BTreeMap<TicketGradeId, Grade>,
    /// Unpaid reservations by order.
    held: BTreeMap<MeetingOrderId, Vec<StockLine>>,
    /// Orders whose stock is sold.
    sold: BTreeMap<MeetingOrderId, Vec<StockLine>>,
}

impl Meeting {
    /// Whether the meeting exists.
    pub fn exists(&self) -> bool {
        self.info.is_some()
    }

    /// Its facts, once created.
    pub fn info(&self) -> Option<&MeetingInfo> {
        self.info.as_ref()
    }

    /// `Draft` until sales first open, then `OnSale` or `Closed`; orders only while `OnSale`.
    pub fn status(&self) -> SalesStatus {
        self.status
    }

    /// A grade by id.
    pub fn grade(&self, id: TicketGradeId) -> Option<&Grade> {
        self.grades.get(&id)
    }

    /// Every grade by id; grades are added and changed, never removed.
    pub fn grades(&self) -> &BTreeMap<TicketGradeId, Grade> {
        &self.grades
    }

    /// Whether `order` holds an unpaid reservation.
    pub fn holds(&self, order: MeetingOrderId) -> bool {
        self.held.contains_key(&order)
    }

    /// Whether `order`'s stock is sold.
    pub fn has_sold(&self, order: MeetingOrderId) -> bool {
        self.sold.contains_key(&order)
    }

    fn apply_lines(&mut self, lines: &[StockLine], f: impl Fn(&mut Grade, u32)) {
        for line in lines {
            if let Some(g) = self.grades.get_mut(&line.ticket_grade_id) {
                f(g, line.amount);
            }
        }
    }

    /// Per line, how many remain if some line asks for more; `None` when all fit. Lines naming
    /// the same grade add up.
    fn shortfall(&self, lines: &[StockLine]) -> Option<Vec<u32>> {
        let mut wanted: BTreeMap<TicketGradeId, u64> = BTreeMap::new();
        for l in lines {
            *wanted.entry(l.ticket_grade_id).or_default() += u64::from(l.amount);
        }
        let short = wanted.iter().any(|(id, n)| {
            self.grades
                .get(id)
                .is_none_or(|g| u64::from(g.remaining()) < *n)
        });
        short.then(|| {
            lines
                .iter()
                .map(|l| {
                    self.grades
                        .get(&l.ticket_grade_id)
                        .map_or(0, Grade::remaining)
                })
                .collect()
        })
    }
}

/// A line of an order as the buyer priced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PricedLine {
    /// The grade to take from; it must belong to this meeting ([`MeetingError::UnknownGrade`]).
    pub ticket_grade_id: TicketGradeId,
    /// The unit price the buyer saw (CNY).
    pub ticket_price: Money,
    /// Tickets wanted, at least 1 ([`MeetingError::EmptyOrder`]).
    pub amount: u32,
}

/// Commands for [`Meeting`].
#[derive(Debug, Clone, PartialEq)]
pub enum MeetingCommand {
    /// Create the meeting with its first grades.
    CreateMeeting {
        /// Organizer (the caller).
        organizer_id: UserId,
        /// Title (1–200 characters).
        title: String,
        /// Description, may be empty.
        description: String,
        /// Where it takes place (free text, may be empty).
        location: String,
        /// Start (UTC).
        start_time: DateTime<Utc>,
        /// End (UTC), after the start.
        end_time: DateTime<Utc>,
        /// Grades to start with.
        grades: Vec<NewGrade>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Add a grade.
    AddGrade {
        /// The grade: an id new to this meeting ([`MeetingError::DuplicateGrade`]), a CNY price.
        grade: NewGrade,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Change a grade's name, price or stock (absent fields stay).
    ChangeGrade {
        /// The grade to change ([`MeetingError::UnknownGrade`] if not in this meeting).
        ticket_grade_id: TicketGradeId,
        /// New name.
        name: Option<String>,
        /// New unit price (CNY); orders placed later must quote it.
        price: Option<Money>,
        /// New total stock; at least what is held and sold.
        stock: Option<u32>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Start taking orders.
    OpenSales {
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Stop taking orders.
    CloseSales {
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Reserve stock for an unpaid order: every line or none. Reserving again for the same order
    /// changes nothing.
    ReserveStock {
        /// The unpaid order to hold the stock for.
        order_id: MeetingOrderId,
        /// What it takes, with the prices the buyer quoted.
        lines: Vec<PricedLine>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Give an unpaid order's reservation back (cancelled or expired); no-op if it holds none.
    ReleaseStock {
        /// The order whose reservation returns (cancelled or expired).
        order_id: MeetingOrderId,
        /// `cancelled` or `expired`.
        reason: String,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// Turn an order's reservation into sold stock when it is paid. If the reservation was
    /// already released (a payment after expiry), the stock is taken again if it is still there;
    /// if not, [`MeetingError::NoStock`]. Selling twice changes nothing.
    SellStock {
        /// The paid order the tickets are sold to.
        order_id: MeetingOrderId,
        /// What it takes (used when the reservation is gone).
        lines: Vec<StockLine>,
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
}

/// Events of [`Meeting`] (docs/event-catalog.md, "Meeting tickets").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum MeetingEvent {
    /// The meeting was created (grades follow as [`MeetingEvent::TicketGradeAdded`]).
    MeetingCreated {
        /// The user who created it; only they or an admin may change it.
        organizer_id: UserId,
        /// 1–200 characters.
        title: String,
        /// Free text; may be empty.
        description: String,
        /// Where it takes place; free text, may be empty.
        location: String,
        /// Start (UTC).
        start_time: DateTime<Utc>,
        /// End (UTC).
        end_time: DateTime<Utc>,
        /// When (UTC).
        created_at: DateTime<Utc>,
    },
    /// A grade was added.
    #[serde(rename = "MeetingTicketGradeAdded")]
    TicketGradeAdded {
        /// The new grade's id, unique within the meeting.
        ticket_grade_id: TicketGradeId,
        /// Shown to buyers (e.g. 普通票, VIP).
        name: String,
        /// Unit price (CNY), stored as integer fen.
        #[serde(rename = "priceFen", with = "super::fen")]
        price: Money,
        /// Total tickets.
        stock: u32,
        /// When (UTC).
        added_at: DateTime<Utc>,
    },
    /// A grade changed; the fields are its values after the change.
    #[serde(rename = "MeetingTicketGradeChanged")]
    TicketGradeChanged {
        /// Which grade changed; the other fields are its values after the change.
        ticket_grade_id: TicketGradeId,
        /// Shown to buyers, after the change.
        name: String,
        /// Unit price (CNY), stored as integer fen.
        #[serde(rename = "priceFen", with = "super::fen")]
        price: Money,
        /// Total tickets.
        stock: u32,
        /// When (UTC).
        changed_at: DateTime<Utc>,
    },
    /// Orders are taken from now on.
    #[serde(rename = "MeetingSalesOpened")]
    SalesOpened {
        /// When (UTC).
        opened_at: DateTime<Utc>,
    },
    /// No more orders.
    #[serde(rename = "MeetingSalesClosed")]
    SalesClosed {
        /// When (UTC).
        closed_at: DateTime<Utc>,
    },
    /// Stock was reserved for an unpaid order.
    #[serde(rename = "MeetingStockReserved")]
    StockReserved {
        /// The unpaid order holding the stock.
        order_id: MeetingOrderId,
        /// Per grade, how many.
        lines: Vec<StockLine>,
        /// When (UTC).
        reserved_at: DateTime<Utc>,
    },
    /// An unpaid order's reservation returned to stock.
    #[serde(rename = "MeetingStockReleased")]
    StockReleased {
        /// The order whose reservation returned.
        order_id: MeetingOrderId,
        /// The order's held lines, as reserved.
        lines: Vec<StockLine>,
        /// `cancelled` or `expired`.
        reason: String,
        /// When (UTC).
        released_at: DateTime<Utc>,
    },
    /// A paid order's tickets are sold (from its reservation, or taken again after a release).
    #[serde(rename = "MeetingStockSold")]
    StockSold {
        /// The paid order the tickets are sold to.
        order_id: MeetingOrderId,
        /// The order's held lines, or when `retaken` the lines taken again.
        lines: Vec<StockLine>,
        /// Whether the reservation had been released and the stock was taken again.
        retaken: bool,
        /// When (UTC).
        sold_at: DateTime<Utc>,
    },
}

impl DomainEvent for MeetingEvent {}

/// Why a [`MeetingCommand`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeetingError {
    /// No such meeting.
    #[error("the meeting does not exist")]
    NotFound,
    /// Created twice.
    #[error("the meeting already exists")]
    AlreadyExists,
    /// The end is not after the start.
    #[error("endTime must be after startTime")]
    EndBeforeStart,
    /// A grade id is used twice.
    #[error("ticket grade {0} already exists")]
    DuplicateGrade(TicketGradeId),
    /// A price in another currency than CNY.
    #[error("prices are in CNY, not {0}")]
    NotCny(Currency),
    /// No such grade; `index` is the order line (when the command has lines).
    #[error("unknown ticket grade {ticket_grade_id}")]
    UnknownGrade {
        /// Which grade.
        ticket_grade_id: TicketGradeId,
        /// Which line, if any.
        index: Option<usize>,
    },
    /// Stock below what is held and sold.
    #[error("stock cannot be below the {committed} tickets held or sold")]
    StockBelowCommitted {
        /// Tickets held by unpaid orders plus those sold: the lowest stock allowed.
        committed: u32,
    },
    /// Not on sale.
    #[error("the meeting is not on sale")]
    NotOnSale,
    /// A line quotes another price than the grade's current one.
    #[error("line {index}: the price is {} CNY", current_price.amount())]
    PriceMismatch {
        /// Which line (0-based).
        index: usize,
        /// The grade's unit price now (CNY).
        current_price: Money,
    },
    /// Not enough stock; per line, how many of its grade remain.
    #[error("not enough stock")]
    NoStock {
        /// Remaining per order line, in line order.
        remaining: Vec<u32>,
    },
    /// An order with no lines, or a line of zero tickets.
    #[error("an order needs at least one ticket per line")]
    EmptyOrder,
}

impl Decider for Meeting {
    const CATEGORY: &'static str = "meeting";
    type Command = MeetingCommand;
    type Event = MeetingEvent;
    type Error = MeetingError;

    fn decide(&self, command: &MeetingCommand) -> Result<Vec<MeetingEvent>, MeetingError> {
        use MeetingCommand as C;
        use MeetingEvent as E;
        if !self.exists() && !matches!(command, C::CreateMeeting { .. }) {
            return Err(MeetingError::NotFound);
        }
        match command {
            C::CreateMeeting {
                organizer_id,
                title,
                description,
                location,
                start_time,
                end_time,
                grades,
                now,
            } => {
                if self.exists() {
                    return Err(MeetingError::AlreadyExists);
                }
                if end_time <= start_time {
                    return Err(MeetingError::EndBeforeStart);
                }
                let mut events = vec![E::MeetingCreated {
                    organizer_id: *organizer_id,
                    title: title.clone(),
                    description: description.clone(),
                    location: location.clone(),
                    start_time: *start_time,
                    end_time: *end_time,
                    created_at: *now,
                }];
                let mut state = self.clone();
                for g in grades {
                    let added = state.decide_add(g, *now)?;
                    state = state.evolve(&added);
                    events.push(added);
                }
                Ok(events)
            }
            C::AddGrade { grade, now } => Ok(vec![self.decide_add(grade, *now)?]),
            C::ChangeGrade {
                ticket_grade_id,
                name,
                price,
                stock,
                now,
            } => {
                let g = self
                    .grades
                    .get(ticket_grade_id)
                    .ok_or(MeetingError::UnknownGrade {
                        ticket_grade_id: *ticket_grade_id,
                        index: None,
                    })?;
                let price = price.unwrap_or(g.price);
                if price.currency() != Currency::CNY {
                    return Err(MeetingError::NotCny(price.currency()));
                }
                let stock = stock.unwrap_or(g.stock);
                if stock < g.held + g.sold {
                    return Err(MeetingError::StockBelowCommitted {
                        committed: g.held + g.sold,
                    });
                }
                let name = name.clone().unwrap_or_else(|| g.name.clone());
                if name == g.name && price == g.price && stock == g.stock {
                    return Ok(Vec::new());
                }
                Ok(vec![E::TicketGradeChanged {
                    ticket_grade_id: *ticket_grade_id,
                    name,
                    price,
                    stock,
                    changed_at: *now,
                }])
            }
            C::OpenSales { now } => Ok(if self.status == SalesStatus::OnSale {
                Vec::new()
            } else {
                vec![E::SalesOpened { opened_at: *now }]
            }),
            C::CloseSales { now } => Ok(if self.status == SalesStatus::OnSale {
                vec![E::SalesClosed { closed_at: *now }]
            } else {
                Vec::new()
            }),
            C::ReserveStock {
                order_id,
                lines,
                now,
            } => {
                if self.held.contains_key(order_id) || self.sold.contains_key(order_id) {
                    return Ok(Vec::new());
                }
                if self.status != SalesStatus::OnSale {
                    return Err(MeetingError::NotOnSale);
                }
                if lines.is_empty() || lines.iter().any(|l| l.amount == 0) {
                    return Err(MeetingError::EmptyOrder);
                }
                for (index, l) in lines.iter().enumerate() {
                    let g =
                        self.grades
                            .get(&l.ticket_grade_id)
                            .ok_or(MeetingError::UnknownGrade {
                                ticket_grade_id: l.ticket_grade_id,
                                index: Some(index),
                            })?;
                    if g.price != l.ticket_price {
                        return Err(MeetingError::PriceMismatch {
                            index,
                            current_price: g.price,
                        });
                    }
                }
                let stock_lines: Vec<StockLine> = lines
                    .iter()
                    .map(|l| StockLine {
                        ticket_grade_id: l.ticket_grade_id,
                        amount: l.amount,
                    })
                    .collect();
                if let Some(remaining) = self.shortfall(&stock_lines) {
                    return Err(MeetingError::NoStock { remaining });
                }
                Ok(vec![E::StockReserved {
                    order_id: *order_id,
                    lines: stock_lines,
                    reserved_at: *now,
                }])
            }
            C::ReleaseStock {
                order_id,
                reason,
                now,
            } => Ok(match self.held.get(order_id) {
                Some(lines) => vec![E::StockReleased {
                    order_id: *order_id,
                    lines: lines.clone(),
                    reason: reason.clone(),
                    released_at: *now,
                }],
                None => Vec::new(),
            }),
            C::SellStock {
                order_id,
                lines,
                now,
            } => {
                if self.sold.contains_key(order_id) {
                    return Ok(Vec::new());
                }
                if let Some(held) = self.held.get(order_id) {
                    return Ok(vec![E::StockSold {
                        order_id: *order_id,
                        lines: held.clone(),
                        retaken: false,
                        sold_at: *now,
                    }]);
                }
                if let Some(remaining) = self.shortfall(lines) {
                    return Err(MeetingError::NoStock { remaining });
                }
                Ok(vec![E::StockSold {
                    order_id: *order_id,
                    lines: lines.clone(),
                    retaken: true,
                    sold_at: *now,
                }])
            }
        }
    }

    fn evolve(mut self, event: &MeetingEvent) -> Self {
        use MeetingEvent as E;
        match event {
            E::MeetingCreated {
                organizer_id,
                title,
                start_time,
                ..
            } => {
                self.info = Some(MeetingInfo {
                    organizer_id: *organizer_id,
                    title: title.clone(),
                    start_time: *start_time,
                });
            }
            E::TicketGradeAdded {
                ticket_grade_id,
                name,
                price,
                stock,
                ..
            } => {
                self.grades.insert(
                    *ticket_grade_id,
                    Grade {
                        name: name.clone(),
                        price: *price,
                        stock: *stock,
                        held: 0,
                        sold: 0,
                    },
                );
            }
            E::TicketGradeChanged {
                ticket_grade_id,
                name,
                price,
                stock,
                ..
            } => {
                if let Some(g) = self.grades.get_mut(ticket_grade_id) {
                    g.name = name.clone();
                    g.price = *price;
                    g.stock = *stock;
                }
            }
            E::SalesOpened { .. } => self.status = SalesStatus::OnSale,
            E::SalesClosed { .. } => self.status = SalesStatus::Closed,
            E::StockReserved {
                order_id, lines, ..
            } => {
                self.apply_lines(lines, |g, n| g.held += n);
                self.held.insert(*order_id, lines.clone());
            }
            E::StockReleased { order_id, .. } => {
                if let Some(lines) = self.held.remove(order_id) {
                    self.apply_lines(&lines, |g, n| g.held = g.held.saturating_sub(n));
                }
            }
            E::StockSold {
                order_id, lines, ..
            } => {
                if let Some(held) = self.held.remove(order_id) {
                    self.apply_lines(&held, |g, n| g.held = g.held.saturating_sub(n));
                }
                self.apply_lines(lines, |g, n| g.sold += n);
                self.sold.insert(*order_id, lines.clone());
            }
        }
        self
    }
}

impl Meeting {
    fn decide_add(&self, g: &NewGrade, now: DateTime<Utc>) -> Result<MeetingEvent, MeetingError> {
        if self.grades.contains_key(&g.ticket_grade_id) {
            return Err(MeetingError::DuplicateGrade(g.ticket_grade_id));
        }
        if g.price.currency() != Currency::CNY {
            return Err(MeetingError::NotCny(g.price.currency()));
        }
        Ok(MeetingEvent::TicketGradeAdded {
            ticket_grade_id: g.ticket_grade_id,
            name: g.name.clone(),
            price: g.price,
            stock: g.stock,
            added_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;
    use uuid::Uuid;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap_or_default()
    }
    fn fen(n: i64) -> Money {
        super::super::fen::money(n).unwrap()
    }
    fn grade_id() -> TicketGradeId {
        TicketGradeId::from_uuid(Uuid::from_u128(7))
    }
    fn order(n: u128) -> MeetingOrderId {
        MeetingOrderId::from_uuid(Uuid::from_u128(100 + n))
    }
    fn on_sale(stock: u32) -> Vec<MeetingEvent> {
        vec![
            MeetingEvent::MeetingCreated {
                organizer_id: UserId::from_uuid(Uuid::from_u128(1)),
                title: "年会".into(),
                description: String::new(),
                location: "上海".into(),
                start_time: t(1000),
                end_time: t(2000),
                created_at: t(0),
            },
            MeetingEvent::TicketGradeAdded {
                ticket_grade_id: grade_id(),
                name: "普通票".into(),
                price: fen(9900),
                stock,
                added_at: t(0),
            },
            MeetingEvent::SalesOpened { opened_at: t(0) },
        ]
    }
    fn reserve(o: u128, amount: u32, price: i64) -> MeetingCommand {
        MeetingCommand::ReserveStock {
            order_id: order(o),
            lines: vec![PricedLine {
                ticket_grade_id: grade_id(),
                ticket_price: fen(price),
                amount,
            }],
            now: t(1),
        }
    }
    fn line(amount: u32) -> Vec<StockLine> {
        vec![StockLine {
            ticket_grade_id: grade_id(),
            amount,
        }]
    }
    fn reserved(o: u128, amount: u32) -> MeetingEvent {
        MeetingEvent::StockReserved {
            order_id: order(o),
            lines: line(amount),
            reserved_at: t(1),
        }
    }

    #[test]
    fn reserving_takes_stock_or_refuses_with_what_remains() {
        given::<Meeting>(on_sale(3))
            .when(reserve(1, 2, 9900))
            .then([reserved(1, 2)]);
        let mut h = on_sale(3);
        h.push(reserved(1, 2));
        given::<Meeting>(h.clone())
            .when(reserve(2, 2, 9900))
            .then_err(MeetingError::NoStock { remaining: vec![1] });
        given::<Meeting>(h.clone())
            .when(reserve(2, 1, 9800))
            .then_err(MeetingError::PriceMismatch {
                index: 0,
                current_price: fen(9900),
            });
        // A retry of the same order changes nothing.
        given::<Meeting>(h).when(reserve(1, 2, 9900)).then([]);
    }

    #[test]
    fn two_lines_of_one_grade_add_up() {
        let cmd = MeetingCommand::ReserveStock {
            order_id: order(1),
            lines: vec![
                PricedLine {
                    ticket_grade_id: grade_id(),
                    ticket_price: fen(9900),
                    amount: 2,
                },
                PricedLine {
                    ticket_grade_id: grade_id(),
                    ticket_price: fen(9900),
                    amount: 2,
                },
            ],
            now: t(1),
        };
        given::<Meeting>(on_sale(3))
            .when(cmd)
            .then_err(MeetingError::NoStock {
                remaining: vec![3, 3],
            });
    }

    #[test]
    fn not_on_sale_refuses_orders() {
        let mut h = on_sale(3);
        h.push(MeetingEvent::SalesClosed { closed_at: t(1) });
        given::<Meeting>(h)
            .when(reserve(1, 1, 9900))
            .then_err(MeetingError::NotOnSale);
    }

    #[test]
    fn release_returns_stock_and_sell_after_release_retakes_if_available() {
        let mut h = on_sale(2);
        h.push(reserved(1, 2));
        let released = MeetingEvent::StockReleased {
            order_id: order(1),
            lines: line(2),
            reason: "expired".into(),
            released_at: t(2),
        };
        given::<Meeting>(h.clone())
            .when(MeetingCommand::ReleaseStock {
                order_id: order(1),
                reason: "expired".into(),
                now: t(2),
            })
            .then([released.clone()]);
        h.push(released);
        let state = Meeting::replay(&h);
        assert_eq!(state.grade(grade_id()).map(Grade::remaining), Some(2));
        // Late payment: stock still there → sold again.
        given::<Meeting>(h.clone())
            .when(MeetingCommand::SellStock {
                order_id: order(1),
                lines: line(2),
                now: t(3),
            })
            .then([MeetingEvent::StockSold {
                order_id: order(1),
                lines: line(2),
                retaken: true,
                sold_at: t(3),
            }]);
        // Someone else took it meanwhile → no stock.
        h.push(reserved(2, 2));
        given::<Meeting>(h)
            .when(MeetingCommand::SellStock {
                order_id: order(1),
                lines: line(2),
                now: t(3),
            })
            .then_err(MeetingError::NoStock { remaining: vec![0] });
    }

    #[test]
    fn prices_are_cny() {
        let usd = crate::shared::Currency::parse("USD").unwrap();
        let price = Money::from_minor(9900, usd).unwrap();
        given::<Meeting>(on_sale(5))
            .when(MeetingCommand::ChangeGrade {
                ticket_grade_id: grade_id(),
                name: None,
                price: Some(price),
                stock: None,
                now: t(2),
            })
            .then_err(MeetingError::NotCny(usd));
    }

    #[test]
    fn stock_cannot_drop_below_held_and_sold() {
        let mut h = on_sale(5);
        h.push(reserved(1, 3));
        given::<Meeting>(h)
            .when(MeetingCommand::ChangeGrade {
                ticket_grade_id: grade_id(),
                name: None,
                price: None,
                stock: Some(2),
                now: t(2),
            })
            .then_err(MeetingError::StockBelowCommitted { committed: 3 });
    }
}
