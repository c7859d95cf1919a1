//! Per-call resource limits and the report of what a call used.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Limits for one step call. Every field may be overridden per plugin binding;
/// the engine-wide ceilings in [`RuntimeConfig`](crate::RuntimeConfig) still apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Instruction budget. Shopify Functions' 11M is a well-tested default for
    /// "business logic, not a workload".
    pub fuel: u64,
    /// Wall-clock deadline, enforced with epoch interruption. Catches what fuel
    /// cannot: time spent in host calls, and guests that are slow per instruction.
    #[serde(rename = "timeout_ms", with = "millis")]
    pub timeout: Duration,
    /// Linear memory, across all of the component's memories.
    pub memory_bytes: u64,
    /// Table elements per table.
    pub table_elements: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: 11_000_000,
            timeout: Duration::from_millis(100),
            memory_bytes: 32 << 20,
            table_elements: 20_000,
        }
    }
}

impl Limits {
    /// The default ceiling a host puts on every binding's limits
    /// ([`RuntimeConfig::ceiling`](crate::RuntimeConfig::ceiling)): generous
    /// for business logic, far from what one tenant could use to starve others.
    pub fn default_ceiling() -> Self {
        Self {
            fuel: 1_000_000_000,
            timeout: Duration::from_secs(5),
            memory_bytes: 128 << 20,
            table_elements: 200_000,
        }
    }

    /// Which of these limits is above `ceiling`, if any, said so a tenant
    /// file's author knows what to lower.
    pub fn above(&self, ceiling: &Limits) -> Option<String> {
        let over = |what: &str, asked: u64, most: u64| {
            (asked > most).then(|| format!("limits.{what} = {asked} is above this host's ceiling of {most}"))
        };
        over("fuel", self.fuel, ceiling.fuel)
            .or_else(|| {
                over("timeout_ms", self.timeout.as_millis() as u64, ceiling.timeout.as_millis() as u64)
            })
            .or_else(|| over("memory_bytes", self.memory_bytes, ceiling.memory_bytes))
            .or_else(|| over("table_elements", self.table_elements, ceiling.table_elements))
    }
}

/// What a call consumed, success or failure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceReport {
    pub fuel_used: u64,
    #[serde(rename = "wall_time_us", with = "micros")]
    pub wall_time: Duration,
    /// The largest total of linear memory the instance held at once.
    pub peak_memory_bytes: u64,
}

impl ResourceReport {
    /// The wall time in whole microseconds, as events and records keep it.
    pub fn wall_time_us(&self) -> u64 {
        u64::try_from(self.wall_time.as_micros()).unwrap_or(u64::MAX)
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(duration.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

mod micros {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(duration.as_micros() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_micros)
    }
}

/// Enforces [`Limits`] on memory and tables, and remembers the peak.
#[derive(Debug)]
pub(crate) struct CallLimiter {
    memory_limit: u64,
    table_limit: u64,
    /// Current size of each memory seen, by order of first growth. Components
    /// usually have one; the sum is what counts against the limit.
    memories: Vec<u64>,
    pub(crate) peak_memory: u64,
}

/// Raised from the limiter so the call's error can be classified precisely.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LimitExceeded {
    #[error("memory limit of {limit} bytes exceeded (asked for {requested})")]
    Memory { limit: u64, requested: u64 },
    #[error("table limit of {limit} elements exceeded")]
    Table { limit: u64 },
}

impl CallLimiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            memory_limit: limits.memory_bytes,
            table_limit: limits.table_elements,
            memories: Vec::new(),
            peak_memory: 0,
        }
    }

    /// No limit from here on but the engine's: for the host's own reads of
    /// an instance after its guest is done (a snapshot's).
    pub(crate) fn lift(&mut self) {
        self.memory_limit = u64::MAX;
        self.table_limit = u64::MAX;
    }
}

impl wasmtime::ResourceLimiter for CallLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Wasmtime does not say which memory is growing; a memory that grows from
        // zero is a new one, any other growth belongs to the memory whose size is
        // `current`.
        let (current, desired) = (current as u64, desired as u64);
        let others: u64 = match self.memories.iter().position(|size| *size == current && current != 0) {
            Some(index) => {
                self.memories.iter().enumerate().filter(|(i, _)| *i != index).map(|(_, s)| s).sum()
            }
            None => self.memories.iter().sum(),
        };
        let requested = others + desired;
        if requested > self.memory_limit {
            return Err(LimitExceeded::Memory { limit: self.memory_limit, requested }.into());
        }
        match self.memories.iter_mut().find(|size| **size == current && current != 0) {
            Some(size) => *size = desired,
            None => self.memories.push(desired),
        }
        self.peak_memory = self.peak_memory.max(requested);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.table_limit {
            return Err(LimitExceeded::Table { limit: self.table_limit }.into());
        }
        Ok(true)
    }
}
