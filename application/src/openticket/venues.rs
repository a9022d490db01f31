//! Venues (seed 003 §3): create one with its seat map, and read venues through a cache (a venue
//! and its seat map never change once created, so a cached copy is never stale).

use super::OpenTicketService;
use super::error::{OpenTicketError, Resource};
use crate::command::CommandRunner;
use crate::event_store::EventMetadata;
use crate::upcasting::Upcaster;
use serde_json::Value;
use std::sync::Arc;
use tessera_domain::UserId;
use tessera_domain::openticket::venue::{Address, Area, CreateVenue, Venue, VenueData, VenueError};
use tessera_domain::openticket::{AreaId, SeatId, SeatMapId, VenueId};
use uuid::Uuid;

/// A venue as an admin sends it (seed 003 §3.3), its seat codes already parsed.
#[derive(Debug, Clone)]
pub struct VenueInput {
    /// 1–200 characters.
    pub name: String,
    /// Postal address.
    pub address: Address,
    /// Capacity, at least the number of seats.
    pub capacity: u32,
    /// Seat map: areas with their seats (at most 100,000 seats).
    pub areas: Vec<Area>,
}

impl OpenTicketService {
    /// A venue with its seat map; [`Resource::Venue`] when there is none.
    pub async fn venue(&self, venue_id: VenueId) -> Result<Arc<VenueData>, OpenTicketError> {
        if let Some(v) = self.venues.get(&venue_id) {
            return Ok(v);
        }
        let stream = CommandRunner::stream::<Venue>(venue_id)?;
        let (venue, _) = self.runner.load::<Venue>(&stream).await?;
        let data = venue
            .0
            .ok_or(OpenTicketError::NotFound(Resource::Venue(venue_id)))?;
        self.venues.insert(venue_id, data.clone());
        Ok(data)
    }

    /// `POST /venues` (§3.3): the new venue and the global position of its append. A seat map the
    /// domain refuses is [`OpenTicketError::Invalid`] naming the field.
    pub async fn create_venue(
        &self,
        input: VenueInput,
        created_by: UserId,
        meta: &EventMetadata,
    ) -> Result<(Arc<VenueData>, Option<u64>), OpenTicketError> {
        let VenueInput {
            name,
            address,
            capacity,
            areas,
        } = input;
        let venue_id = VenueId::from_uuid(Uuid::now_v7());
        let command = CreateVenue {
            venue_id,
            seat_map_id: SeatMapId::from_uuid(Uuid::now_v7()),
            name,
            address,
            capacity,
            areas: Arc::new(areas),
            created_by,
            now: self.clock.now(),
        };
        let decided = self
            .runner
            .run::<Venue>(&CommandRunner::stream::<Venue>(venue_id)?, &command, meta)
            .await
            .map_err(|e| {
                e.map_rejected(|e| match e {
                    VenueError::Invalid(f) => f.into(),
                    other => OpenTicketError::Venue(other),
                })
            })?;
        let position = decided.position();
        let data = decided
            .state
            .0
            .ok_or(OpenTicketError::Inconsistent("venue not created"))?;
        Ok((data, position))
    }

    /// The area id and name of `seat` in a venue, `None` when the venue or the seat is unknown.
    pub async fn seat_area(&self, venue_id: VenueId, seat: &SeatId) -> Option<(AreaId, String)> {
        let venue = self.venue(venue_id).await.ok()?;
        venue
            .seat(seat)
            .map(|(a, _)| (a.area_id.clone(), a.name.clone()))
    }
}

/// Upcaster of `OpenTicketVenueCreated` from schema version 1 (each seat an object
/// `{seatId, row, number, x, y, type}`) to 2 (each seat the array `[seatId, row, number, x, y,
/// type]`, docs/decisions/0020-compact-seat-maps.md). Moves the values, copies nothing; a seat that
/// is not an object is left as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct VenueSeatsAsArrays;

/// Field order of a stored seat array (version 2).
const SEAT_FIELDS: [&str; 6] = ["seatId", "row", "number", "x", "y", "type"];

impl Upcaster for VenueSeatsAsArrays {
    fn event_type(&self) -> &str {
        tessera_domain::openticket::venue::VENUE_CREATED
    }

    fn source_version(&self) -> u32 {
        1
    }

    fn upcast(&self, mut data: Value) -> Value {
        let areas = data.get_mut("areas").and_then(Value::as_array_mut);
        for area in areas.into_iter().flatten() {
            let seats = area.get_mut("seats").and_then(Value::as_array_mut);
            for seat in seats.into_iter().flatten() {
                if let Value::Object(fields) = seat {
                    let row = SEAT_FIELDS
                        .iter()
                        .map(|f| fields.remove(*f).unwrap_or(Value::Null))
                        .collect();
                    *seat = Value::Array(row);
                }
            }
        }
        data
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn version_one_seats_become_arrays_and_arrays_stay() {
        let v1 = json!({"venueId": "v", "areas": [{"areaId": "A", "name": "A 區", "seats": [
            {"seatId": "A-1", "row": "1", "number": 1, "x": 1.5, "y": 0, "type": "Normal"},
            ["A-2", "1", 2, 3, 0, "VIP"],
        ]}]});
        let up = VenueSeatsAsArrays.upcast(v1);
        assert_eq!(
            up["areas"][0]["seats"],
            json!([
                ["A-1", "1", 1, 1.5, 0, "Normal"],
                ["A-2", "1", 2, 3, 0, "VIP"]
            ])
        );
        assert_eq!(up["venueId"], "v");
        assert_eq!(VenueSeatsAsArrays.event_type(), "OpenTicketVenueCreated");
        assert_eq!(VenueSeatsAsArrays.source_version(), 1);
    }
}
