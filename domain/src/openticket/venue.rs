//! Venue with its seat map (seed 003 §3). Created once, then read; the seat map is immutable (a new
//! layout would be a new seat map version).

use super::{AreaId, FieldError, SeatId, SeatMapId, VenueId, check_text};
use crate::{Decider, DomainEvent, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Largest seat map accepted.
pub const MAX_SEATS: usize = 100_000;

/// A postal address (§3.1 `address`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// ISO 3166 alpha-2, e.g. `TW`.
    pub country: String,
    /// City, 1–100 characters, e.g. `台北市`.
    pub city: String,
    /// Street and number, up to 200 characters, may be empty.
    pub street: String,
    /// Up to 20 characters, may be empty.
    pub postal_code: String,
}

/// One seat (§3.2 `seats[]`). `x`, `y` are drawing coordinates, kept as sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Seat {
    /// E.g. `A-001`, unique in the venue.
    pub seat_id: SeatId,
    /// Row label, e.g. `1`.
    pub row: String,
    /// Number in the row, from 1.
    pub number: u32,
    /// Horizontal drawing position.
    pub x: serde_json::Number,
    /// Vertical drawing position.
    pub y: serde_json::Number,
    /// Seat type, e.g. `Normal`, `Wheelchair`.
    #[serde(rename = "type")]
    pub seat_type: String,
}

/// An area of seats (§3.2 `areas[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Area {
    /// E.g. `A`, unique in the venue.
    pub area_id: AreaId,
    /// Display name, e.g. `A 區`.
    pub name: String,
    /// At least one; seat ids are unique across the whole venue.
    pub seats: Vec<Seat>,
}

/// Create a venue.
#[derive(Debug, Clone)]
pub struct CreateVenue {
    /// New venue id.
    pub venue_id: VenueId,
    /// New seat map id.
    pub seat_map_id: SeatMapId,
    /// 1–200 characters.
    pub name: String,
    /// Where it is: `country` two upper-case letters, `city` 1–100 characters.
    pub address: Address,
    /// Capacity, at least the number of seats.
    pub capacity: u32,
    /// The seat map's areas (§3.3 `seatMap.areas`): at least one, each with a seat; at most
    /// [`MAX_SEATS`] seats in all, area and seat ids unique. Shared, not copied, by the event and
    /// the venue state the command produces.
    pub areas: Arc<Vec<Area>>,
    /// The admin creating it.
    pub created_by: UserId,
    /// Now (UTC).
    pub now: DateTime<Utc>,
}

/// Events of a venue (`openticketVenue-{venueId}`).
///
/// `OpenTicketVenueCreated` is at schema version 2: each seat is stored as the array
/// `[seatId, row, number, x, y, type]` instead of an object (docs/decisions/0020-compact-seat-maps.md);
/// version 1 (objects) is still read, by the same decoder and by the upcaster
/// `tessera_application::openticket::VenueSeatsAsArrays`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum VenueEvent {
    /// The venue and its seat map exist.
    #[serde(rename = "OpenTicketVenueCreated")]
    VenueCreated {
        /// The venue's id, also in the stream id.
        venue_id: VenueId,
        /// Seat map id.
        seat_map_id: SeatMapId,
        /// 1–200 characters, trimmed.
        name: String,
        /// Postal address (`country` ISO 3166 alpha-2).
        address: Address,
        /// How many people it holds (§3.3 `capacity`), at least the number of seats.
        capacity: u32,
        /// Seat map areas, each seat written as `[seatId, row, number, x, y, type]`; read in that
        /// form or as an object.
        #[serde(with = "stored")]
        areas: Arc<Vec<Area>>,
        /// Who created it.
        created_by: UserId,
        /// When (UTC).
        created_at: DateTime<Utc>,
    },
}

impl DomainEvent for VenueEvent {
    fn schema_version(event_type: &str) -> u32 {
        match event_type {
            VENUE_CREATED => 2,
            _ => 1,
        }
    }
}

/// Stored type of [`VenueEvent::VenueCreated`].
pub const VENUE_CREATED: &str = "OpenTicketVenueCreated";

/// The stored form of a seat map: areas as objects, seats as positional arrays. A seat object
/// costs about ten times its text once parsed into a `serde_json::Value` (a map node and a key
/// string per field); an array of six values about three times.
mod stored {
    use super::{Area, Seat};
    use serde::ser::{SerializeSeq, SerializeStruct, SerializeTuple};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::sync::Arc;

    struct StoredArea<'a>(&'a Area);
    struct StoredSeats<'a>(&'a [Seat]);
    struct StoredSeat<'a>(&'a Seat);

    impl Serialize for StoredArea<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut area = serializer.serialize_struct("Area", 3)?;
            area.serialize_field("areaId", &self.0.area_id)?;
            area.serialize_field("name", &self.0.name)?;
            area.serialize_field("seats", &StoredSeats(&self.0.seats))?;
            area.end()
        }
    }

    impl Serialize for StoredSeats<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
            for seat in self.0 {
                seq.serialize_element(&StoredSeat(seat))?;
            }
            seq.end()
        }
    }

    impl Serialize for StoredSeat<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            // The order of `Seat`'s fields: its derived decoder reads an array in this order.
            let s = self.0;
            let mut t = serializer.serialize_tuple(6)?;
            t.serialize_element(&s.seat_id)?;
            t.serialize_element(&s.row)?;
            t.serialize_element(&s.number)?;
            t.serialize_element(&s.x)?;
            t.serialize_element(&s.y)?;
            t.serialize_element(&s.seat_type)?;
            t.end()
        }
    }

    pub(super) fn serialize<S: Serializer>(
        areas: &Arc<Vec<Area>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(areas.len()))?;
        for area in areas.iter() {
            seq.serialize_element(&StoredArea(area))?;
        }
        seq.end()
    }

    /// Either form: serde's derived decoder of `Seat` takes an object or an array of its fields
    /// in order.
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Arc<Vec<Area>>, D::Error> {
        Vec::<Area>::deserialize(deserializer).map(Arc::new)
    }
}

/// Why a venue command was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VenueError {
    /// The venue exists already.
    #[error("the venue exists already")]
    AlreadyExists,
    /// An input is invalid.
    #[error(transparent)]
    Invalid(#[from] FieldError),
}

/// A venue as [`VenueEvent::VenueCreated`] recorded it, with its seats indexed by id.
#[derive(Debug, Clone, PartialEq)]
pub struct VenueData {
    /// The venue's id (stream `openticketVenue-{venueId}`).
    pub venue_id: VenueId,
    /// Seat map id.
    pub seat_map_id: SeatMapId,
    /// 1–200 characters, trimmed.
    pub name: String,
    /// Postal address (`country` ISO 3166 alpha-2).
    pub address: Address,
    /// How many people it holds, at least the number of seats.
    pub capacity: u32,
    /// The seat map's areas as created (shared with the event that created them);
    /// [`VenueData::index`] points into them.
    pub areas: Arc<Vec<Area>>,
    /// Seat → (area index, seat index).
    pub index: HashMap<SeatId, (usize, usize)>,
}

impl VenueData {
    /// The area and seat of `seat_id`.
    pub fn seat(&self, seat_id: &SeatId) -> Option<(&Area, &Seat)> {
        let (a, s) = *self.index.get(seat_id)?;
        let area = self.areas.get(a)?;
        Some((area, area.seats.get(s)?))
    }

    /// Every area id.
    pub fn area_ids(&self) -> Vec<AreaId> {
        self.areas.iter().map(|a| a.area_id.clone()).collect()
    }
}

/// The venue aggregate. Cloning is cheap (the seat map is shared).
#[derive(Debug, Clone, Default)]
pub struct Venue(pub Option<Arc<VenueData>>);

fn validate(c: &CreateVenue) -> Result<(), FieldError> {
    check_text("name", &c.name, 1, 200)?;
    let a = &c.address;
    if a.country.len() != 2 || !a.country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(FieldError::new(
            "address.country",
            "must be an ISO 3166 code of two upper-case letters",
        ));
    }
    check_text("address.city", &a.city, 1, 100)?;
    check_text("address.street", &a.street, 0, 200)?;
    check_text("address.postalCode", &a.postal_code, 0, 20)?;
    if c.areas.is_empty() {
        return Err(FieldError::new(
            "seatMap.areas",
            "at least one area is required",
        ));
    }
    let mut areas = HashSet::new();
    let mut seats = HashSet::new();
    let mut count = 0usize;
    for (i, area) in c.areas.iter().enumerate() {
        let at = format!("seatMap.areas[{i}]");
        if !areas.insert(&area.area_id) {
            return Err(FieldError::new(format!("{at}.areaId"), "duplicate area id"));
        }
        check_text(&format!("{at}.name"), &area.name, 1, 100)?;
        if area.seats.is_empty() {
            return Err(FieldError::new(
                format!("{at}.seats"),
                "an area needs at least one seat",
            ));
        }
        for (j, seat) in area.seats.iter().enumerate() {
            let st = format!("{at}.seats[{j}]");
            if !seats.insert(&seat.seat_id) {
                return Err(FieldError::new(format!("{st}.seatId"), "duplicate seat id"));
            }
            check_text(&format!("{st}.row"), &seat.row, 1, 16)?;
            if seat.number == 0 {
                return Err(FieldError::new(
                    format!("{st}.number"),
                    "must be at least 1",
                ));
            }
            check_text(&format!("{st}.type"), &seat.seat_type, 1, 32)?;
        }
        count += area.seats.len();
        if count > MAX_SEATS {
            return Err(FieldError::new(
                "seatMap",
                format!("at most {MAX_SEATS} seats"),
            ));
        }
    }
    if (c.capacity as usize) < count {
        return Err(FieldError::new(
            "capacity",
            format!("must be at least the number of seats ({count})"),
        ));
    }
    Ok(())
}

impl Decider for Venue {
    const CATEGORY: &'static str = "openticketVenue";
    // Created once and never changed: a kept state would only hold up to 100,000 seats.
    const KEEP_STATE: bool = false;
    type Command = CreateVenue;
    type Event = VenueEvent;
    type Error = VenueError;

    fn decide(&self, c: &CreateVenue) -> Result<Vec<VenueEvent>, VenueError> {
        if self.0.is_some() {
            return Err(VenueError::AlreadyExists);
        }
        validate(c)?;
        Ok(vec![VenueEvent::VenueCreated {
            venue_id: c.venue_id,
            seat_map_id: c.seat_map_id,
            name: c.name.trim().to_owned(),
            address: c.address.clone(),
            capacity: c.capacity,
            areas: Arc::clone(&c.areas),
            created_by: c.created_by,
            created_at: c.now,
        }])
    }

    fn evolve(self, event: &VenueEvent) -> Self {
        match event {
            VenueEvent::VenueCreated {
                venue_id,
                seat_map_id,
                name,
                address,
                capacity,
                areas,
                ..
            } => {
                let mut index = HashMap::new();
                for (a, area) in areas.iter().enumerate() {
                    for (s, seat) in area.seats.iter().enumerate() {
                        index.insert(seat.seat_id.clone(), (a, s));
                    }
                }
                Venue(Some(Arc::new(VenueData {
                    venue_id: *venue_id,
                    seat_map_id: *seat_map_id,
                    name: name.clone(),
                    address: address.clone(),
                    capacity: *capacity,
                    areas: Arc::clone(areas),
                    index,
                })))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;

    fn seat(id: &str, n: u32) -> Seat {
        Seat {
            seat_id: SeatId::parse(id).unwrap(),
            row: "1".into(),
            number: n,
            x: 0.into(),
            y: 0.into(),
            seat_type: "Normal".into(),
        }
    }

    fn create(seats: Vec<Seat>, capacity: u32) -> CreateVenue {
        CreateVenue {
            venue_id: VenueId::from_uuid(uuid::Uuid::nil()),
            seat_map_id: SeatMapId::from_uuid(uuid::Uuid::nil()),
            name: "台北小巨蛋".into(),
            address: Address {
                country: "TW".into(),
                city: "台北市".into(),
                street: "南京東路四段2號".into(),
                postal_code: "105".into(),
            },
            capacity,
            areas: Arc::new(vec![Area {
                area_id: AreaId::parse("A").unwrap(),
                name: "A 區".into(),
                seats,
            }]),
            created_by: UserId::from_uuid(uuid::Uuid::nil()),
            now: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn seat_maps_are_validated_with_field_paths() {
        given::<Venue>([])
            .when(create(vec![seat("A-001", 1), seat("A-001", 2)], 10))
            .then_err(VenueError::Invalid(FieldError::new(
                "seatMap.areas[0].seats[1].seatId",
                "duplicate seat id",
            )));
        given::<Venue>([])
            .when(create(vec![seat("A-001", 1), seat("A-002", 2)], 1))
            .then_err(VenueError::Invalid(FieldError::new(
                "capacity",
                "must be at least the number of seats (2)",
            )));
    }

    #[test]
    fn seats_stored_as_objects_still_decode() {
        let c = create(vec![seat("A-001", 1), seat("A-002", 2)], 2);
        let events = Venue::default().decide(&c).unwrap();
        let (t, mut data) = events[0].to_stored().unwrap();
        // Schema version 1 wrote each seat as an object.
        data["areas"][0]["seats"] = serde_json::json!([
            {"seatId": "A-001", "row": "1", "number": 1, "x": 0, "y": 0, "type": "Normal"},
            {"seatId": "A-002", "row": "1", "number": 2, "x": 0, "y": 0, "type": "Normal"},
        ]);
        assert_eq!(VenueEvent::from_stored(&t, &data).unwrap(), events[0]);
    }

    #[test]
    fn created_once_and_indexed() {
        let c = create(vec![seat("A-001", 1), seat("A-002", 2)], 2);
        let events = Venue::default().decide(&c).unwrap();
        let venue = Venue::replay(&events);
        let data = venue.0.clone().unwrap();
        assert_eq!(
            data.seat(&SeatId::parse("A-002").unwrap())
                .unwrap()
                .1
                .number,
            2
        );
        assert!(data.seat(&SeatId::parse("B-1").unwrap()).is_none());
        assert_eq!(venue.decide(&c).unwrap_err(), VenueError::AlreadyExists);
        let (t, data) = events[0].to_stored().unwrap();
        assert_eq!(t, "OpenTicketVenueCreated");
        // Seats are stored as `[seatId, row, number, x, y, type]` (schema version 2).
        assert_eq!(VenueEvent::schema_version(&t), 2);
        assert_eq!(
            data["areas"][0]["seats"][1],
            serde_json::json!(["A-002", "1", 2, 0, 0, "Normal"])
        );
        assert_eq!(data["areas"][0]["areaId"], "A");
        assert_eq!(VenueEvent::from_stored(&t, &data).unwrap(), events[0]);
        assert_eq!(data["address"]["postalCode"], "105");
    }
}
