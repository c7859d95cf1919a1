//! Events per tenant per day: a tenant past its quota takes no new inbound
//! message until the next UTC day.
//!
//! Every committed event counts (a turn's, a timer's, an agent's); only
//! inbound messages are refused, so timers already set and agents' work go
//! on. The count lives in memory: a restart starts the day's count again,
//! which at worst lets a tenant write its quota twice in one day.

use std::collections::HashMap;
use std::sync::Mutex;

const DAY_MS: i64 = 86_400_000;

/// Events per tenant per day, unless the operator or the tenant's
/// tenant.toml says otherwise.
pub const DEFAULT_EVENTS_PER_DAY: u64 = 500_000;

#[derive(Debug, Default)]
pub(crate) struct DailyEvents {
    /// Per tenant: the day (since the epoch, UTC) and its count so far.
    counts: Mutex<HashMap<String, (i64, u64)>>,
}

impl DailyEvents {
    /// Whether `tenant` may take another message at `now` (ms) under
    /// `limit`; if not, the seconds until its quota renews.
    pub(crate) fn check(&self, tenant: &str, limit: u64, now: i64) -> Result<(), u64> {
        let day = now.div_euclid(DAY_MS);
        let counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match counts.get(tenant) {
            Some(&(counted, events)) if counted == day && events >= limit => {
                let next_day = (day + 1) * DAY_MS;
                Err(u64::try_from((next_day - now).div_euclid(1000)).unwrap_or(0).max(1))
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn count(&self, tenant: &str, events: usize, now: i64) {
        let day = now.div_euclid(DAY_MS);
        let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = counts.entry(tenant.to_owned()).or_insert((day, 0));
        if entry.0 != day {
            *entry = (day, 0);
        }
        entry.1 += events as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_past_its_quota_waits_for_the_next_day_and_others_do_not() {
        let daily = DailyEvents::default();
        let noon = 20_000 * DAY_MS + DAY_MS / 2;
        daily.count("busy", 10, noon);
        assert!(daily.check("busy", 11, noon).is_ok());
        assert_eq!(daily.check("busy", 10, noon), Err(43_200));
        assert!(daily.check("quiet", 10, noon).is_ok());
        assert!(daily.check("busy", 10, noon + DAY_MS / 2).is_ok(), "a new day, a new quota");
    }
}
