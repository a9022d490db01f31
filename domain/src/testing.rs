//! A given / when / then harness for deciders (STYLE.md convention 10).
//!
//! ```
//! # use tessera_domain::testing::given;
//! # use tessera_domain::testing::example::{Counter, CounterCommand, CounterEvent, CounterError};
//! given::<Counter>([CounterEvent::Incremented { by: 2 }])
//!     .when(CounterCommand::Increment { by: 3, max: 10 })
//!     .then([CounterEvent::Incremented { by: 3 }]);
//! given::<Counter>([CounterEvent::Incremented { by: 9 }])
//!     .when(CounterCommand::Increment { by: 3, max: 10 })
//!     .then_err(CounterError::WouldExceed { max: 10 });
//! ```

use crate::Decider;
use std::fmt::Debug;

/// Start a scenario from a history of events.
pub fn given<D: Decider>(history: impl IntoIterator<Item = D::Event>) -> Given<D> {
    let state = history.into_iter().fold(D::default(), |s, e| s.evolve(&e));
    Given { state }
}

/// A state built from a given history.
pub struct Given<D: Decider> {
    state: D,
}

impl<D: Decider> Given<D> {
    /// Run the command against the state.
    pub fn when(self, command: D::Command) -> Then<D> {
        let result = self.state.decide(&command);
        Then { result }
    }
}

/// The outcome of a decision, to be checked.
pub struct Then<D: Decider> {
    result: Result<Vec<D::Event>, D::Error>,
}

impl<D: Decider> Then<D> {
    /// Assert the decision produced exactly these events.
    ///
    /// # Panics
    /// When the decision failed or produced other events.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = D::Event>) {
        let expected: Vec<D::Event> = expected.into_iter().collect();
        match self.result {
            Ok(events) => assert_eq!(events, expected, "decided events differ"),
            Err(e) => panic!("expected events {expected:?}, the command was refused: {e:?}"),
        }
    }

    /// Assert the decision was refused with exactly this error.
    ///
    /// # Panics
    /// When the decision succeeded or failed with another error.
    #[track_caller]
    pub fn then_err(self, expected: D::Error)
    where
        D::Error: PartialEq + Debug,
    {
        match self.result {
            Ok(events) => panic!("expected error {expected:?}, got events {events:?}"),
            Err(e) => assert_eq!(e, expected, "refused with another error"),
        }
    }
}

/// A tiny decider used by the harness's own doc test and by the engine's tests.
pub mod example {
    use crate::{Decider, DomainEvent};
    use serde::{Deserialize, Serialize};

    /// A counter that refuses to pass a maximum.
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct Counter {
        /// Current value.
        pub value: u64,
    }

    /// Commands for [`Counter`].
    #[derive(Debug, Clone)]
    pub enum CounterCommand {
        /// Add `by`, refusing to go past `max`.
        Increment {
            /// Amount to add.
            by: u64,
            /// Largest value allowed afterwards.
            max: u64,
        },
    }

    /// Events of [`Counter`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type", content = "data")]
    pub enum CounterEvent {
        /// The counter went up.
        Incremented {
            /// Amount added.
            by: u64,
        },
    }

    impl DomainEvent for CounterEvent {}

    /// Why a [`CounterCommand`] was refused.
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    pub enum CounterError {
        /// The increment would pass the maximum.
        #[error("the counter would pass {max}")]
        WouldExceed {
            /// The maximum asked for.
            max: u64,
        },
    }

    impl Decider for Counter {
        const CATEGORY: &'static str = "counter";
        type Command = CounterCommand;
        type Event = CounterEvent;
        type Error = CounterError;

        fn decide(&self, command: &CounterCommand) -> Result<Vec<CounterEvent>, CounterError> {
            match *command {
                CounterCommand::Increment { by, max } => {
                    if self.value.saturating_add(by) > max {
                        Err(CounterError::WouldExceed { max })
                    } else {
                        Ok(vec![CounterEvent::Incremented { by }])
                    }
                }
            }
        }

        fn evolve(self, event: &CounterEvent) -> Self {
            match *event {
                CounterEvent::Incremented { by } => Counter {
                    value: self.value + by,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::example::*;
    use super::*;
    use crate::DomainEvent;

    #[test]
    fn stored_form_round_trips() {
        let event = CounterEvent::Incremented { by: 4 };
        let (t, data) = event.to_stored().unwrap();
        assert_eq!(t, "Incremented");
        assert_eq!(data, serde_json::json!({ "by": 4 }));
        assert_eq!(CounterEvent::from_stored(&t, &data).unwrap(), event);
        assert!(CounterEvent::from_stored("Nope", &data).is_err());
    }

    #[test]
    #[should_panic(expected = "refused")]
    fn then_fails_when_refused() {
        given::<Counter>([CounterEvent::Incremented { by: 10 }])
            .when(CounterCommand::Increment { by: 1, max: 10 })
            .then([CounterEvent::Incremented { by: 1 }]);
    }
}
