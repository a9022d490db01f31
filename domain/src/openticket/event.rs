//! Event with its sessions and price categories (seed 003 §4). Statuses are derived from the
//! session times at a given `now` (docs/openticket.md): nothing has to fire for them to change.

use super::{AreaId, CategoryId, EventId, FieldError, Money, SessionId, VenueId, check_text};
use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// One session as the organizer scheduled it; times keep the offset they were given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionSpec {
    /// Id (made by the server).
    pub session_id: SessionId,
    /// When the show starts, with the organizer's offset (e.g. `2025-03-15T19:00:00+08:00`).
    pub start_time: DateTime<FixedOffset>,
    /// When the show ends, after the start; the session is `Ended` from then.
    pub end_time: DateTime<FixedOffset>,
    /// When seats go on sale; the session is `OnSale` from then.
    pub sale_start_time: DateTime<FixedOffset>,
    /// When sales close: after the sale start, not after the show's end.
    pub sale_end_time: DateTime<FixedOffset>,
}

/// A price for a set of areas (§4.2 `priceCategories[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceCategory {
    /// Unique within the event, e.g. `VIP`.
    pub category_id: CategoryId,
    /// Shown to buyers, 1–100 characters.
    pub name: String,
    /// Areas priced by it.
    pub area_ids: Vec<AreaId>,
    /// Price of one seat; all categories of an event share one currency.
    pub price: Money,
}

/// Create an event at a venue.
#[derive(Debug, Clone)]
pub struct CreateEvent {
    /// New event id.
    pub event_id: EventId,
    /// The organizer creating it (the caller).
    pub organizer_id: UserId,
    /// 1–200 characters.
    pub name: String,
    /// Up to 5,000 characters.
    pub description: Option<String>,
    /// Where it takes place (§4.3 `venueId`); `venue_area_ids` are its areas.
    pub venue_id: VenueId,
    /// The venue's name (copied for the record).
    pub venue_name: String,
    /// The venue's areas (price categories may only name these).
    pub venue_area_ids: Vec<AreaId>,
    /// 1–100 sessions.
    pub sessions: Vec<SessionSpec>,
    /// 1–50 categories, one currency.
    pub price_categories: Vec<PriceCategory>,
    /// Now (UTC).
    pub now: DateTime<Utc>,
}

/// Events of an event (`openticketEvent-{eventId}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum EventEvent {
    /// The event is published with its sessions and prices.
    #[serde(rename = "OpenTicketEventCreated")]
    EventCreated {
        /// The event's id, also in the stream id.
        event_id: EventId,
        /// The organizer who created it.
        organizer_id: UserId,
        /// 1–200 characters, trimmed.
        name: String,
        /// Up to 5,000 characters, or absent.
        description: Option<String>,
        /// Where it takes place.
        venue_id: VenueId,
        /// The venue's name when the event was created (copied for the record).
        venue_name: String,
        /// 1–100 sessions; times keep the organizer's offset.
        sessions: Vec<SessionSpec>,
        /// 1–50 categories in one currency; a venue area is priced by at most one.
        price_categories: Vec<PriceCategory>,
        /// When (UTC).
        created_at: DateTime<Utc>,
    },
}

impl DomainEvent for EventEvent {}

/// Why an event command was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EventError {
    /// The event exists already.
    #[error("the event exists already")]
    AlreadyExists,
    /// An input is invalid.
    #[error(transparent)]
    Invalid(#[from] FieldError),
}

/// A session's status at a moment (docs/openticket.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionStatus {
    /// Before sales open.
    Scheduled,
    /// Seats can be locked and ordered.
    OnSale,
    /// Sales closed, show not over.
    SaleEnded,
    /// From `endTime` on: the show is over.
    Ended,
}

impl SessionSpec {
    /// Status at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> SessionStatus {
        if now < self.sale_start_time {
            SessionStatus::Scheduled
        } else if now < self.sale_end_time {
            SessionStatus::OnSale
        } else if now < self.end_time {
            SessionStatus::SaleEnded
        } else {
            SessionStatus::Ended
        }
    }
}

/// An event as [`EventEvent::EventCreated`] recorded it, with each area's category indexed.
#[derive(Debug, Clone, PartialEq)]
pub struct EventData {
    /// The event's id (stream `openticketEvent-{eventId}`).
    pub event_id: EventId,
    /// The organizer who created it.
    pub organizer_id: UserId,
    /// 1–200 characters, trimmed.
    pub name: String,
    /// Where it takes place.
    pub venue_id: VenueId,
    /// 1–100 sessions, as scheduled (times with the organizer's offset).
    pub sessions: Vec<SessionSpec>,
    /// 1–50 categories in one currency; [`EventData::category_of_area`] indexes them.
    pub price_categories: Vec<PriceCategory>,
    /// Area → index of its category.
    pub category_of_area: HashMap<AreaId, usize>,
}

impl EventData {
    /// A session of this event.
    pub fn session(&self, id: SessionId) -> Option<&SessionSpec> {
        self.sessions.iter().find(|s| s.session_id == id)
    }

    /// The category pricing `area`.
    pub fn category_for_area(&self, area: &AreaId) -> Option<&PriceCategory> {
        self.price_categories.get(*self.category_of_area.get(area)?)
    }
}

/// An event (stream `openticketEvent-{eventId}`): `None` until created; cloning is cheap.
#[derive(Debug, Clone, Default)]
pub struct Event(pub Option<std::sync::Arc<EventData>>);

fn validate(c: &CreateEvent) -> Result<(), FieldError> {
    check_text("name", &c.name, 1, 200)?;
    if let Some(d) = &c.description {
        check_text("description", d, 0, 5_000)?;
    }
    if c.sessions.is_empty() || c.sessions.len() > 100 {
        return Err(FieldError::new("sessions", "must have 1 to 100 sessions"));
    }
    for (i, s) in c.sessions.iter().enumerate() {
        if s.end_time <= s.start_time {
            return Err(FieldError::new(
                format!("sessions[{i}].endTime"),
                "must be after startTime",
            ));
        }
        if s.sale_end_time <= s.sale_start_time {
            return Err(FieldError::new(
                format!("sessions[{i}].saleEndTime"),
                "must be after saleStartTime",
            ));
        }
        if s.sale_end_time > s.end_time {
            return Err(FieldError::new(
                format!("sessions[{i}].saleEndTime"),
                "must not be after endTime",
            ));
        }
    }
    if c.price_categories.is_empty() || c.price_categories.len() > 50 {
        return Err(FieldError::new(
            "priceCategories",
            "must have 1 to 50 categories",
        ));
    }
    let venue_areas: HashSet<&AreaId> = c.venue_area_ids.iter().collect();
    let mut ids = HashSet::new();
    let mut priced: HashSet<&AreaId> = HashSet::new();
    let currency = c.price_categories[0].price.currency();
    for (i, pc) in c.price_categories.iter().enumerate() {
        let at = format!("priceCategories[{i}]");
        if !ids.insert(&pc.category_id) {
            return Err(FieldError::new(
                format!("{at}.categoryId"),
                "duplicate category id",
            ));
        }
        check_text(&format!("{at}.name"), &pc.name, 1, 100)?;
        if pc.area_ids.is_empty() {
            return Err(FieldError::new(
                format!("{at}.areaIds"),
                "at least one area is required",
            ));
        }
        for (j, area) in pc.area_ids.iter().enumerate() {
            if !venue_areas.contains(area) {
                return Err(FieldError::new(
                    format!("{at}.areaIds[{j}]"),
                    format!("the venue has no area {area}"),
                ));
            }
            if !priced.insert(area) {
                return Err(FieldError::new(
                    format!("{at}.areaIds[{j}]"),
                    format!("area {area} is already priced by another category"),
                ));
            }
        }
        if pc.price.currency() != currency {
            return Err(FieldError::new(
                format!("{at}.price.currency"),
                "all categories must use one currency",
            ));
        }
    }
    Ok(())
}

impl Decider for Event {
    const CATEGORY: &'static str = "openticketEvent";
    type Command = CreateEvent;
    type Event = EventEvent;
    type Error = EventError;

    fn decide(&self, c: &CreateEvent) -> Result<Vec<EventEvent>, EventError> {
        if self.0.is_some() {
            return Err(EventError::AlreadyExists);
        }
        validate(c)?;
        Ok(vec![EventEvent::EventCreated {
            event_id: c.event_id,
            organizer_id: c.organizer_id,
            name: c.name.trim().to_owned(),
            description: c.description.clone(),
            venue_id: c.venue_id,
            venue_name: c.venue_name.clone(),
            sessions: c.sessions.clone(),
            price_categories: c.price_categories.clone(),
            created_at: c.now,
        }])
    }

    fn evolve(self, event: &EventEvent) -> Self {
        match event {
            EventEvent::EventCreated {
                event_id,
                organizer_id,
                name,
                venue_id,
                sessions,
                price_categories,
                ..
            } => {
                let mut category_of_area = HashMap::new();
                for (i, pc) in price_categories.iter().enumerate() {
                    for area in &pc.area_ids {
                        category_of_area.insert(area.clone(), i);
                    }
                }
                Event(Some(std::sync::Arc::new(EventData {
                    event_id: *event_id,
                    organizer_id: *organizer_id,
                    name: name.clone(),
                    venue_id: *venue_id,
                    sessions: sessions.clone(),
                    price_categories: price_categories.clone(),
                    category_of_area,
                })))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openticket::Currency;
    use crate::testing::given;
    use rust_decimal::Decimal;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn create() -> CreateEvent {
        CreateEvent {
            event_id: EventId::from_uuid(uuid::Uuid::nil()),
            organizer_id: UserId::from_uuid(uuid::Uuid::nil()),
            name: "五月天演唱會".into(),
            description: None,
            venue_id: VenueId::from_uuid(uuid::Uuid::nil()),
            venue_name: "台北小巨蛋".into(),
            venue_area_ids: vec![AreaId::parse("VIP").unwrap(), AreaId::parse("A").unwrap()],
            sessions: vec![SessionSpec {
                session_id: SessionId::from_uuid(uuid::Uuid::nil()),
                start_time: t("2025-03-15T19:00:00+08:00"),
                end_time: t("2025-03-15T22:00:00+08:00"),
                sale_start_time: t("2025-02-01T12:00:00+08:00"),
                sale_end_time: t("2025-03-15T18:00:00+08:00"),
            }],
            price_categories: vec![PriceCategory {
                category_id: CategoryId::parse("VIP").unwrap(),
                name: "VIP 區".into(),
                area_ids: vec![AreaId::parse("VIP").unwrap()],
                price: Money::new(Decimal::from(6800), Currency::parse("TWD").unwrap()).unwrap(),
            }],
            now: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn areas_must_exist_and_be_priced_once() {
        let mut c = create();
        c.price_categories[0]
            .area_ids
            .push(AreaId::parse("NOPE").unwrap());
        given::<Event>([])
            .when(c)
            .then_err(EventError::Invalid(FieldError::new(
                "priceCategories[0].areaIds[1]",
                "the venue has no area NOPE",
            )));
        let mut c = create();
        c.sessions[0].sale_end_time = t("2025-03-16T00:00:00+08:00");
        given::<Event>([])
            .when(c)
            .then_err(EventError::Invalid(FieldError::new(
                "sessions[0].saleEndTime",
                "must not be after endTime",
            )));
    }

    #[test]
    fn statuses_follow_the_clock_and_offsets_are_kept() {
        let events = Event::default().decide(&create()).unwrap();
        let e = Event::replay(&events).0.unwrap();
        let s = &e.sessions[0];
        let at = |x: &str| t(x).with_timezone(&Utc);
        assert_eq!(
            s.status(at("2025-01-01T00:00:00Z")),
            SessionStatus::Scheduled
        );
        assert_eq!(s.status(at("2025-02-01T04:00:00Z")), SessionStatus::OnSale);
        assert_eq!(
            s.status(at("2025-03-15T10:00:00Z")),
            SessionStatus::SaleEnded
        );
        assert_eq!(s.status(at("2025-03-15T14:00:00Z")), SessionStatus::Ended);
        assert!(
            e.category_for_area(&AreaId::parse("VIP").unwrap())
                .is_some()
        );
        assert!(e.category_for_area(&AreaId::parse("A").unwrap()).is_none());
        let (_, data) = events[0].to_stored().unwrap();
        assert_eq!(
            data["sessions"][0]["startTime"],
            "2025-03-15T19:00:00+08:00"
        );
        assert_eq!(data["priceCategories"][0]["price"]["amount"], "6800");
    }
}
