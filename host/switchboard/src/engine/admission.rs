//! How much of the host one tenant may hold at once, and which work has run
//! for too long.
//!
//! Turns run on tokio's blocking pool, which every tenant shares. A tenant
//! gets at most [`DEFAULT_TURNS_PER_TENANT`] turns there at a time; its next
//! ones wait for a slot in its own queue, as async tasks, so a flood of
//! messages to one tenant (or to one slow conversation) never takes threads
//! from another. [`Working`] records what runs, so `/readyz` can say when
//! work is stuck instead of answering ok while nothing moves.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Turns of one tenant that may run at once, unless the operator says otherwise.
pub const DEFAULT_TURNS_PER_TENANT: usize = 8;

#[derive(Debug)]
pub(crate) struct Admission {
    per_tenant: usize,
    slots: Mutex<HashMap<String, Arc<Semaphore>>>,
    running: Mutex<HashMap<u64, (String, Instant)>>,
    next: AtomicU64,
}

/// A tenant's slot, held for as long as its turn runs.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
}

impl Admission {
    pub(crate) fn new(per_tenant: usize) -> Self {
        Self {
            per_tenant: per_tenant.max(1),
            slots: Mutex::default(),
            running: Mutex::default(),
            next: AtomicU64::new(0),
        }
    }

    /// Wait, in async, until `tenant` has a free slot.
    pub(crate) async fn slot(&self, tenant: &str) -> Slot {
        let semaphore = {
            let mut slots = lock(&self.slots);
            slots
                .entry(tenant.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_tenant)))
                .clone()
        };
        // The semaphore is never closed, so acquiring only waits.
        let permit = semaphore.acquire_owned().await.unwrap_or_else(|_| unreachable!("never closed"));
        Slot { _permit: permit }
    }

    /// Record that work for `tenant` runs until the guard drops.
    pub(crate) fn working(&self, tenant: &str) -> Working<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.running).insert(id, (tenant.to_owned(), Instant::now()));
        Working { admission: self, id }
    }

    /// Work that has run longer than `limit`: `(tenant, how long)`, longest first.
    pub(crate) fn stuck(&self, limit: Duration) -> Vec<(String, Duration)> {
        let mut stuck: Vec<(String, Duration)> = lock(&self.running)
            .values()
            .map(|(tenant, started)| (tenant.clone(), started.elapsed()))
            .filter(|(_, running)| *running > limit)
            .collect();
        stuck.sort_by_key(|(_, running)| std::cmp::Reverse(*running));
        stuck
    }
}

#[derive(Debug)]
pub(crate) struct Working<'a> {
    admission: &'a Admission,
    id: u64,
}

impl Drop for Working<'_> {
    fn drop(&mut self) {
        lock(&self.admission.running).remove(&self.id);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every operation on these maps is a single insert, lookup or removal.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tenant_at_its_cap_waits_and_others_do_not() {
        let admission = Admission::new(2);
        let (_first, _second) = (admission.slot("a").await, admission.slot("a").await);
        let third = tokio::time::timeout(Duration::from_millis(50), admission.slot("a")).await;
        assert!(third.is_err(), "a third turn of the same tenant waits");
        let other = tokio::time::timeout(Duration::from_millis(50), admission.slot("b")).await;
        assert!(other.is_ok(), "another tenant does not");
    }

    #[test]
    fn long_running_work_is_reported_until_it_ends() {
        let admission = Admission::new(1);
        let working = admission.working("slow");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(admission.stuck(Duration::from_millis(10)).len(), 1);
        assert!(admission.stuck(Duration::from_secs(10)).is_empty());
        drop(working);
        assert!(admission.stuck(Duration::ZERO).is_empty());
    }
}
