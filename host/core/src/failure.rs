//! Why a plugin call produced nothing, as one typed code that crosses every
//! layer: the runtime classifies a failure (`FailureKind` there) into a
//! [`FailureCode`]; the engine adds its own refusals (a step not bound, the
//! memory budget spent, an answer too large); the conversation records the
//! code in its `step.failed` event, and metrics label by it.
//!
//! The names are the wire format of `step.failed`'s `code` and of metric
//! labels, so they never change; a new code is a new variant. A name this
//! version does not know (a log written by a newer one) is kept as it was.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A stable, machine-readable reason a plugin call failed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FailureCode {
    /// The call ran out of its fuel budget.
    FuelExhausted,
    /// The call ran past its deadline.
    Deadline,
    /// The guest asked for more memory than its limit.
    MemoryLimit,
    /// The guest grew a table past its limit.
    TableLimit,
    StackOverflow,
    /// The guest panicked (its message is in the failure's text).
    Panic,
    /// The guest trapped.
    Trap,
    /// The plugin returned its own `step-error`: a refusal, not a crash.
    GuestError,
    /// An exception the step did not catch, reported by its SDK with the cause.
    Exception,
    /// The step answered with something that is not a list of decisions in
    /// the contract's shape.
    BadOutput,
    /// The host could not run the call (for example, no instance slot).
    HostError,
    /// The flow names a plugin the tenant has not bound.
    Unbound,
    /// The tenant's (or the host's) guest memory budget was spent by steps in flight.
    MemoryBusy,
    /// The step's answer was larger than the host keeps.
    OutputTooLarge,
    /// Plugins are not called here (a simulator, a test).
    Unavailable,
    /// A code this version does not know, read from a newer log: kept, so
    /// writing the event again loses nothing.
    Other(String),
}

impl FailureCode {
    /// Every code this version names.
    pub const KNOWN: [FailureCode; 15] = [
        Self::FuelExhausted,
        Self::Deadline,
        Self::MemoryLimit,
        Self::TableLimit,
        Self::StackOverflow,
        Self::Panic,
        Self::Trap,
        Self::GuestError,
        Self::Exception,
        Self::BadOutput,
        Self::HostError,
        Self::Unbound,
        Self::MemoryBusy,
        Self::OutputTooLarge,
        Self::Unavailable,
    ];

    /// The code as it appears in events and metric labels.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(name) => name,
            known => known.name(),
        }
    }

    /// A known code's name, for a metric label (which outlives the code).
    pub fn name(&self) -> &'static str {
        match self {
            Self::FuelExhausted => "fuel_exhausted",
            Self::Deadline => "deadline",
            Self::MemoryLimit => "memory_limit",
            Self::TableLimit => "table_limit",
            Self::StackOverflow => "stack_overflow",
            Self::Panic => "panic",
            Self::Trap => "trap",
            Self::GuestError => "guest_error",
            Self::Exception => "exception",
            Self::BadOutput => "bad_output",
            Self::HostError => "host_error",
            Self::Unbound => "unbound",
            Self::MemoryBusy => "memory_busy",
            Self::OutputTooLarge => "output_too_large",
            Self::Unavailable => "unavailable",
            Self::Other(_) => "other",
        }
    }

    fn from_name(name: &str) -> Self {
        Self::KNOWN
            .into_iter()
            .find(|code| code.name() == name)
            .unwrap_or_else(|| Self::Other(name.to_owned()))
    }
}

impl Serialize for FailureCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FailureCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self::from_name(&String::deserialize(deserializer)?))
    }
}

impl std::fmt::Display for FailureCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_is_written_as_its_name_and_an_unknown_one_is_kept() {
        for code in FailureCode::KNOWN {
            let written = serde_json::to_value(&code).expect("serialises");
            assert_eq!(written, serde_json::json!(code.as_str()));
            assert_eq!(serde_json::from_value::<FailureCode>(written).expect("reads back"), code);
        }
        assert_eq!(
            serde_json::to_value(FailureCode::OutputTooLarge).expect("serialises"),
            "output_too_large"
        );
        let unknown: FailureCode = serde_json::from_str("\"cosmic_ray\"").expect("reads");
        assert_eq!(unknown, FailureCode::Other("cosmic_ray".to_owned()));
        assert_eq!(serde_json::to_value(&unknown).expect("serialises"), "cosmic_ray", "written back as read");
    }
}
