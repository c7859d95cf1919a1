//! Canaries: a binding's new version serves a share of new conversations
//! (`Tenant::pins_for`) while the engine compares it with the binding's own
//! version, call by call. When its failure rate, fuel or latency crosses
//! the tenant's `[canary]` thresholds, it is withdrawn at once (its
//! conversations go back to the binding's version on their next call) and
//! the control plane is asked to roll it back, which takes it out of the
//! tenant's settings and records the event (`tenants/canary.rs`).

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;

use super::{Engine, EngineError, lock, read, write};
use crate::tenant::{Binding, CanaryPolicy, Tenant};

/// What one version of a binding did since the canary started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CallStats {
    pub calls: u64,
    pub failures: u64,
    pub fuel: u64,
    pub wall_time_us: u64,
}

impl CallStats {
    /// One call.
    pub fn one(failed: bool, fuel: u64, wall_time_us: u64) -> Self {
        Self { calls: 1, failures: u64::from(failed), fuel, wall_time_us }
    }

    fn add(&mut self, other: CallStats) {
        self.calls += other.calls;
        self.failures += other.failures;
        self.fuel += other.fuel;
        self.wall_time_us += other.wall_time_us;
    }

    pub fn failure_rate(&self) -> f64 {
        self.failures as f64 / self.calls.max(1) as f64
    }

    fn mean(total: u64, calls: u64) -> f64 {
        total as f64 / calls.max(1) as f64
    }
}

/// A canary's standing: its calls and the binding's own, side by side.
#[derive(Debug, Clone, Serialize)]
pub struct CanaryStanding {
    pub component: String,
    /// Its config's SHA-256.
    pub config: String,
    pub percent: u8,
    pub canary: CallStats,
    pub stable: CallStats,
    /// Set once it was withdrawn.
    pub withdrawn: bool,
    /// For a shadow: how its answers compare with the binding's so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow: Option<super::ShadowStats>,
}

/// The control plane's work: roll back `version`, `binding`'s canary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    pub tenant: String,
    pub binding: String,
    /// Its [`version_id`].
    pub version: String,
    pub reason: String,
}

/// What a binding runs, as canaries are told apart: the component's and
/// the config's SHA-256 (a canary may change either).
pub fn version_id(component: &str, config: &str) -> String {
    format!("{component}+{config}")
}

/// The engine's side of canaries.
#[derive(Debug, Default)]
pub(super) struct Canaries {
    /// Per (tenant, binding, component): its calls since it was watched.
    stats: std::sync::Mutex<HashMap<(String, String, String), CallStats>>,
    /// (tenant, binding, component) withdrawn: calls pinned to them run
    /// the binding's version instead.
    withdrawn: std::sync::RwLock<HashSet<(String, String, String)>>,
    /// Where rollbacks go (the server's control plane); none, and a
    /// tripped canary is only withdrawn.
    rollbacks: std::sync::Mutex<Option<UnboundedSender<Rollback>>>,
}

impl Engine {
    /// Send canaries that trip their thresholds to `rollbacks` (the server's
    /// control-plane task).
    pub fn on_rollback(&self, rollbacks: UnboundedSender<Rollback>) {
        *lock(&self.canaries.rollbacks) = Some(rollbacks);
    }

    /// Start counting `binding`'s calls afresh (a new canary).
    pub fn reset_canary_stats(&self, tenant: &str, binding: &str) {
        lock(&self.canaries.stats).retain(|(t, b, _), _| !(t == tenant && b == binding));
        self.forget_shadows(tenant, Some(binding));
    }

    /// Forget what is kept in memory of a tenant no longer served.
    pub(super) fn forget_canaries(&self, tenant: &str) {
        lock(&self.canaries.stats).retain(|(t, _, _), _| t != tenant);
        write(&self.canaries.withdrawn).retain(|(t, _, _)| t != tenant);
        self.forget_shadows(tenant, None);
    }

    /// Whether `version` (a [`version_id`]) was withdrawn from `tenant`'s `binding`.
    pub fn is_withdrawn(&self, tenant: &str, binding: &str, version: &str) -> bool {
        let withdrawn = read(&self.canaries.withdrawn);
        !withdrawn.is_empty()
            && withdrawn.contains(&(tenant.to_owned(), binding.to_owned(), version.to_owned()))
    }

    /// Serve `version` again (it was published anew, on purpose).
    pub fn unwithdraw(&self, tenant: &str, binding: &str, version: &str) -> Result<(), EngineError> {
        let key = (tenant.to_owned(), binding.to_owned(), version.to_owned());
        if write(&self.canaries.withdrawn).remove(&key) {
            self.store.unwithdraw_component(tenant, binding, version)?;
        }
        Ok(())
    }

    /// Withdraw `version` (a [`version_id`]) from `tenant`'s `binding`
    /// (kept in the store across restarts).
    pub fn withdraw(&self, tenant: &str, binding: &str, version: &str) -> Result<(), EngineError> {
        self.store.withdraw_component(tenant, binding, version)?;
        write(&self.canaries.withdrawn).insert((tenant.to_owned(), binding.to_owned(), version.to_owned()));
        Ok(())
    }

    /// Read `tenant`'s withdrawn components from the store (when it is added).
    pub(super) fn load_withdrawn(&self, tenant: &str) -> Result<(), EngineError> {
        let stored = self.store.withdrawn_components(tenant)?;
        let mut withdrawn = write(&self.canaries.withdrawn);
        for (binding, component) in stored {
            withdrawn.insert((tenant.to_owned(), binding, component));
        }
        Ok(())
    }

    /// How `binding`'s canary stands, if it has one.
    pub fn canary_standing(
        &self,
        tenant: &str,
        binding: &str,
    ) -> Result<Option<CanaryStanding>, EngineError> {
        let running = self.tenant(tenant)?;
        let found =
            running.plugins.get(binding).ok_or_else(|| EngineError::UnknownPlugin(binding.to_owned()))?;
        let Some(canary) = &found.canary else { return Ok(None) };
        let stats = lock(&self.canaries.stats);
        let of = |component: &str| {
            stats
                .get(&(tenant.to_owned(), binding.to_owned(), component.to_owned()))
                .copied()
                .unwrap_or_default()
        };
        let component = canary.plugin.hash().to_string();
        let version = canary.version_id();
        let shadow = canary.shadow.then(|| self.shadow_stats(tenant, binding, &version));
        Ok(Some(CanaryStanding {
            shadow,
            withdrawn: self.is_withdrawn(tenant, binding, &version),
            canary: of(&version),
            stable: of(&found.version_id()),
            config: canary.config_hash.clone(),
            component,
            percent: canary.percent,
        }))
    }

    /// Count a call of `binding` that ran `version` (a [`version_id`]), if
    /// the binding has a canary, and withdraw the canary if it now crosses a
    /// threshold.
    pub(super) fn watch_canary(
        &self,
        tenant: &Tenant,
        name: &str,
        binding: &Binding,
        version: &str,
        call: CallStats,
    ) {
        let Some(canary) = binding.canary.as_ref().filter(|canary| !canary.shadow) else { return };
        let canary_hash = canary.version_id();
        let key = |component: &str| (tenant.name.clone(), name.to_owned(), component.to_owned());
        let (canary_stats, stable_stats) = {
            let mut stats = lock(&self.canaries.stats);
            stats.entry(key(version)).or_default().add(call);
            let of = |version: &str| stats.get(&key(version)).copied().unwrap_or_default();
            (of(&canary_hash), of(&binding.version_id()))
        };
        if version != canary_hash || self.is_withdrawn(&tenant.name, name, &canary_hash) {
            return;
        }
        let Some(reason) = tenant.canary.verdict(&canary_stats, &stable_stats) else { return };
        tracing::warn!(tenant = %tenant.name, plugin = name, version = %canary_hash, %reason, "canary withdrawn");
        metrics::counter!("switchboard_canary_rollbacks_total").increment(1);
        // Stored at once: a restart before the control plane rolls it back
        // must not bring it back.
        write(&self.canaries.withdrawn).insert(key(&canary_hash));
        if let Err(error) = self.store.withdraw_component(&tenant.name, name, &canary_hash) {
            tracing::error!(%error, "a withdrawn canary was not stored; it is withdrawn until a restart");
        }
        let rollback =
            Rollback { tenant: tenant.name.clone(), binding: name.to_owned(), version: canary_hash, reason };
        if let Some(to) = lock(&self.canaries.rollbacks).as_ref() {
            let _ = to.send(rollback);
        }
    }
}

impl CanaryPolicy {
    /// Why a canary with `canary`'s calls against the binding's `stable`
    /// ones must go, if it must.
    pub fn verdict(&self, canary: &CallStats, stable: &CallStats) -> Option<String> {
        if canary.calls < self.min_calls {
            return None;
        }
        let rate = canary.failure_rate();
        let allowed = stable.failure_rate() + self.max_failure_rate;
        if rate > allowed {
            return Some(format!(
                "{} of {} calls failed ({:.0} %, over the {:.0} % allowed)",
                canary.failures,
                canary.calls,
                rate * 100.0,
                allowed * 100.0
            ));
        }
        if stable.calls < self.min_calls {
            return None;
        }
        let ratio = |canary_total, stable_total| {
            CallStats::mean(canary_total, canary.calls) / CallStats::mean(stable_total, stable.calls).max(1.0)
        };
        let fuel = ratio(canary.fuel, stable.fuel);
        if fuel > self.max_fuel_ratio {
            return Some(format!(
                "fuel per call {fuel:.2}x the binding's (at most {:.2}x)",
                self.max_fuel_ratio
            ));
        }
        let latency = ratio(canary.wall_time_us, stable.wall_time_us);
        if latency > self.max_latency_ratio {
            return Some(format!(
                "wall time per call {latency:.2}x the binding's (at most {:.2}x)",
                self.max_latency_ratio
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(calls: u64, failures: u64, fuel: u64, wall_time_us: u64) -> CallStats {
        CallStats { calls, failures, fuel: fuel * calls, wall_time_us: wall_time_us * calls }
    }

    #[test]
    fn a_canary_goes_when_it_fails_burns_or_drags_past_the_thresholds_and_not_before_enough_calls() {
        let policy = CanaryPolicy::default();
        let healthy = stats(100, 1, 1000, 50);
        assert_eq!(
            policy.verdict(&stats(policy.min_calls - 1, 5, 1000, 50), &healthy),
            None,
            "too few calls"
        );
        assert_eq!(policy.verdict(&stats(100, 2, 1100, 60), &healthy), None);
        let failing = policy.verdict(&stats(100, 40, 1000, 50), &healthy).expect("rolled back");
        assert!(failing.contains("40 of 100 calls failed"), "{failing}");
        let hungry = policy.verdict(&stats(100, 1, 5000, 50), &healthy).expect("rolled back");
        assert!(hungry.contains("fuel per call 5.00x"), "{hungry}");
        let slow = policy.verdict(&stats(100, 1, 1000, 500), &healthy).expect("rolled back");
        assert!(slow.contains("wall time per call 10.00x"), "{slow}");
        assert_eq!(
            policy.verdict(&stats(100, 1, 5000, 500), &stats(3, 0, 1000, 50)),
            None,
            "no comparison of cost against a binding with too few calls of its own"
        );
    }
}
