//! How much guest memory may be in flight: per tenant, and on the host.
//!
//! A step may grow its memory up to its binding's `memory_bytes` limit, so
//! a call reserves that much before it starts and gives it back when it
//! ends. A tenant's calls together hold at most its budget, and all
//! tenants' together at most the host's: a call that would go past either
//! is refused at once (`memory_busy`, a step failure its flow handles like
//! any other) rather than queued, since a step waiting for memory would
//! hold a blocking thread.
//!
//! Turn slots (`admission.rs`) already bound one tenant's calls in flight;
//! this bounds what they can claim, whatever the limits its bindings have.
//! For a guarantee that no tenant is refused because of others, keep the
//! per-tenant budget times the tenants busy at once under the host's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Each tenant's budget, unless the operator says otherwise: eight turns
/// of steps at the default 32 MiB limit.
pub const DEFAULT_TENANT_BUDGET: u64 = 256 << 20;
/// The host's budget, unless the operator says otherwise.
pub const DEFAULT_HOST_BUDGET: u64 = 4 << 30;

#[derive(Debug)]
pub(crate) struct GuestMemory {
    tenant_budget: u64,
    host_budget: u64,
    in_flight: Arc<Mutex<InFlight>>,
}

#[derive(Debug, Default)]
struct InFlight {
    host: u64,
    tenants: HashMap<String, u64>,
}

/// Memory held by one call; given back on drop.
#[derive(Debug)]
pub(crate) struct Reservation {
    in_flight: Arc<Mutex<InFlight>>,
    tenant: String,
    bytes: u64,
}

/// Why a call could not reserve its memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Busy {
    Tenant { budget: u64 },
    Host,
}

impl std::fmt::Display for Busy {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Busy::Tenant { budget } => write!(
                formatter,
                "the tenant's other steps hold its guest memory budget ({} MiB); try again shortly",
                budget >> 20
            ),
            // The host's budget and use are the operator's business.
            Busy::Host => {
                formatter.write_str("the host has no guest memory free right now; try again shortly")
            }
        }
    }
}

impl GuestMemory {
    pub(crate) fn new(tenant_budget: u64, host_budget: u64) -> Self {
        Self { tenant_budget, host_budget, in_flight: Arc::default() }
    }

    /// Reserve `bytes` for one call of `tenant`, or say which budget is spent.
    pub(crate) fn reserve(&self, tenant: &str, bytes: u64) -> Result<Reservation, Busy> {
        let mut in_flight = lock(&self.in_flight);
        let held = in_flight.tenants.get(tenant).copied().unwrap_or(0);
        if held.saturating_add(bytes) > self.tenant_budget {
            return Err(Busy::Tenant { budget: self.tenant_budget });
        }
        if in_flight.host.saturating_add(bytes) > self.host_budget {
            return Err(Busy::Host);
        }
        in_flight.host += bytes;
        *in_flight.tenants.entry(tenant.to_owned()).or_default() += bytes;
        metrics::gauge!("switchboard_guest_memory_reserved_bytes").set(in_flight.host as f64);
        Ok(Reservation { in_flight: Arc::clone(&self.in_flight), tenant: tenant.to_owned(), bytes })
    }

    #[cfg(test)]
    fn held(&self, tenant: &str) -> u64 {
        lock(&self.in_flight).tenants.get(tenant).copied().unwrap_or(0)
    }
}

impl Default for GuestMemory {
    fn default() -> Self {
        Self::new(DEFAULT_TENANT_BUDGET, DEFAULT_HOST_BUDGET)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut in_flight = lock(&self.in_flight);
        in_flight.host = in_flight.host.saturating_sub(self.bytes);
        if let Some(held) = in_flight.tenants.get_mut(&self.tenant) {
            *held = held.saturating_sub(self.bytes);
            if *held == 0 {
                in_flight.tenants.remove(&self.tenant);
            }
        }
        metrics::gauge!("switchboard_guest_memory_reserved_bytes").set(in_flight.host as f64);
    }
}

fn lock(in_flight: &Mutex<InFlight>) -> std::sync::MutexGuard<'_, InFlight> {
    in_flight.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn a_tenant_holds_at_most_its_budget_and_the_host_at_most_its_own() {
        let memory = GuestMemory::new(64 * MIB, 96 * MIB);
        let first = memory.reserve("greedy", 32 * MIB).unwrap();
        let _second = memory.reserve("greedy", 32 * MIB).unwrap();
        assert_eq!(memory.reserve("greedy", 32 * MIB).unwrap_err(), Busy::Tenant { budget: 64 * MIB });
        let _other = memory.reserve("other", 32 * MIB).unwrap();
        assert_eq!(memory.reserve("third", 32 * MIB).unwrap_err(), Busy::Host);
        drop(first);
        assert_eq!(memory.held("greedy"), 32 * MIB);
        memory.reserve("third", 32 * MIB).expect("freed memory is free again");
    }
}
