//! The decider pattern every aggregate follows, and the contract its events keep with the store.

use serde::{Serialize, de::DeserializeOwned};
use std::fmt::Debug;

/// An aggregate written as a decider: a state built by folding its own events, and a pure decision
/// that turns a command into new events or a typed error.
///
/// The state after no events is `Default`. `decide` must not look at anything but the state and the
/// command; anything time-dependent reads `now` from the command (DESIGN.md §2), so a seat lock whose
/// expiry has passed can be treated as free before its deadline fires.
pub trait Decider: Default + Clone + Send + Sync + 'static {
    /// Stream category; an instance lives in the stream `{CATEGORY}-{id}`.
    const CATEGORY: &'static str;
    /// What callers ask for.
    type Command: Send;
    /// What happened (past tense).
    type Event: DomainEvent;
    /// Why a command was refused.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Whether the command runner keeps this aggregate's state between commands (so the next
    /// command on the stream reads only newer events). `false` for aggregates that are written
    /// once and can be large (a venue's seat map), which the cache would otherwise hold for the
    /// life of the process.
    const KEEP_STATE: bool = true;

    /// Decide which events `command` produces against the current state, or refuse it.
    fn decide(&self, command: &Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    /// Fold one event into the state. Infallible: events are facts that already happened.
    fn evolve(self, event: &Self::Event) -> Self;

    /// Fold a whole history, starting from `Default`.
    fn replay<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self {
        events.into_iter().fold(Self::default(), Self::evolve)
    }
}

/// The contract an aggregate's events keep with the event store.
///
/// Events are enums serialised adjacently tagged — `#[serde(tag = "type", content = "data")]` — so
/// the variant's serde name is the stored event type and the content is the stored `data` object.
/// [`DomainEvent::to_stored`] and [`DomainEvent::from_stored`] do that split and join.
pub trait DomainEvent:
    Serialize + DeserializeOwned + Clone + Debug + PartialEq + Send + Sync + 'static
{
    /// Current schema version of the given stored event type. Old versions are turned into this one by
    /// upcasters on read; events are never rewritten in the store (DESIGN.md §3).
    fn schema_version(event_type: &str) -> u32 {
        let _ = event_type;
        1
    }

    /// Split into the stored `(event type, data)` pair.
    fn to_stored(&self) -> Result<(String, serde_json::Value), EventDecodeError> {
        let value =
            serde_json::to_value(self).map_err(|e| EventDecodeError::Shape(e.to_string()))?;
        let serde_json::Value::Object(mut map) = value else {
            return Err(EventDecodeError::Shape(
                "event did not serialise to an object with `type` and `data`".into(),
            ));
        };
        let event_type = match map.remove("type") {
            Some(serde_json::Value::String(t)) => t,
            _ => {
                return Err(EventDecodeError::Shape(
                    "event has no string `type` tag".into(),
                ));
            }
        };
        let data = map
            .remove("data")
            .unwrap_or(serde_json::Value::Object(Default::default()));
        Ok((event_type, data))
    }

    /// Join a stored `(event type, data)` pair back into the event.
    fn from_stored(event_type: &str, data: &serde_json::Value) -> Result<Self, EventDecodeError> {
        // Decoded from the borrowed `data` through a two-entry map, not from a joined copy: the
        // data of a big event (a 100,000-seat venue) is many megabytes as a `Value`.
        let tag = serde_json::Value::String(event_type.to_owned());
        let joined = serde::de::value::MapDeserializer::<_, serde_json::Error>::new(
            [("type", &tag), ("data", data)].into_iter(),
        );
        Self::deserialize(joined).map_err(|e| EventDecodeError::Unknown {
            event_type: event_type.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Every stored event type this enum can write (its variants' serde names, after `rename`).
    ///
    /// Read from serde itself rather than kept by hand, so the list cannot drift from what is
    /// stored: decoding an unknown type makes the derived code report the names it knows through
    /// `serde::de::Error::unknown_variant`, which [`TypesProbe`] captures. The namespace test
    /// (tests/tests/namespace.rs, docs/decisions/0005-event-namespace.md) checks these names. Empty
    /// only if the enum is not an externally or adjacently tagged derive.
    fn stored_types() -> &'static [&'static str] {
        let probe = serde::de::value::MapDeserializer::<_, TypesProbe>::new(std::iter::once((
            "type",
            "\u{0}not an event type",
        )));
        match Self::deserialize(probe) {
            Err(TypesProbe(Some(types))) => types,
            _ => &[],
        }
    }
}

/// The error type of [`DomainEvent::stored_types`]' probe: it keeps the variant names serde offers
/// when it meets an unknown one, and nothing else.
#[derive(Debug)]
struct TypesProbe(Option<&'static [&'static str]>);

impl std::fmt::Display for TypesProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("event type probe")
    }
}

impl std::error::Error for TypesProbe {}

impl serde::de::Error for TypesProbe {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Self(None)
    }

    fn unknown_variant(_: &str, expected: &'static [&'static str]) -> Self {
        Self(Some(expected))
    }
}

/// A stored event that cannot be turned into a domain event, or a domain event that cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventDecodeError {
    /// The stored type is unknown to this aggregate, or its data does not match the current schema.
    #[error("cannot decode stored event `{event_type}`: {reason}")]
    Unknown {
        /// The stored event type.
        event_type: String,
        /// What serde reported.
        reason: String,
    },
    /// The event type is not shaped as `{type, data}`.
    #[error("event shape: {0}")]
    Shape(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
    enum Sample {
        Plain {
            some_field: u32,
        },
        #[serde(rename = "SampleRenamed")]
        Renamed {
            other_field: String,
        },
        Unit,
    }

    impl DomainEvent for Sample {}

    #[test]
    fn stored_types_are_the_names_serde_writes() {
        let events = [
            Sample::Plain { some_field: 1 },
            Sample::Renamed {
                other_field: "x".into(),
            },
            Sample::Unit,
        ];
        let written: Vec<String> = events
            .iter()
            .map(|e| e.to_stored().map(|(t, _)| t))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(Sample::stored_types(), written.as_slice());
        assert_eq!(Sample::stored_types(), ["Plain", "SampleRenamed", "Unit"]);
    }

    #[test]
    fn stored_types_of_a_real_aggregate() {
        use crate::openticket::order::OrderEvent;
        let types = OrderEvent::stored_types();
        assert!(types.contains(&"OpenTicketOrderPlaced"), "{types:?}");
        assert!(!types.contains(&"OrderPlaced"), "{types:?}");
    }

    #[test]
    fn an_enum_that_is_not_tagged_has_no_stored_types() {
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        struct NotAnEnum {
            a: u32,
        }
        impl DomainEvent for NotAnEnum {}
        assert!(NotAnEnum::stored_types().is_empty());
    }
}
