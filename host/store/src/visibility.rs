//! The event log's visible-up-to watermark.
//!
//! An event record is numbered before it is applied, and writers run
//! concurrently, so record 11 can land before record 10. A reader paging
//! `events?after=N` that saw 11 and moved its cursor past it would never
//! see 10. Readers therefore stop at the *horizon*: the lowest number still
//! being written, or (with none in flight) the next number to be handed
//! out. Every record below the horizon is applied or will never exist (its
//! write failed, or was a duplicate), so a cursor that only moves through
//! records below it misses nothing.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug)]
pub(crate) struct Visibility {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Numbers handed out whose records are not applied yet.
    in_flight: BTreeSet<u64>,
    /// Above every number handed out so far.
    next: u64,
}

/// A record number being written; it stops holding readers back when
/// dropped, which [`crate::batch::Batch`] does once applied (or abandoned).
#[derive(Debug)]
pub(crate) struct Reserved {
    pub(crate) seq: u64,
    visibility: Arc<Visibility>,
}

impl Visibility {
    /// `floor`: a number above every record already in the store.
    pub(crate) fn new(floor: u64) -> Self {
        Self { state: Mutex::new(State { in_flight: BTreeSet::new(), next: floor }) }
    }

    /// Number a record with `allocate` (unique, increasing) and hold readers
    /// below it until the returned reservation is dropped. Allocation happens
    /// under the lock, so no reader can compute a horizon between a number
    /// being handed out and its being counted in flight.
    pub(crate) fn reserve<E>(
        self: &Arc<Self>,
        allocate: impl FnOnce() -> Result<u64, E>,
    ) -> Result<Reserved, E> {
        let mut state = self.lock();
        let seq = allocate()?;
        state.in_flight.insert(seq);
        state.next = state.next.max(seq + 1);
        Ok(Reserved { seq, visibility: self.clone() })
    }

    /// Every record numbered below this is applied or never will be.
    pub(crate) fn horizon(&self) -> u64 {
        let state = self.lock();
        state.in_flight.first().copied().unwrap_or(state.next)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A set and a counter, each updated in one step.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.visibility.lock().in_flight.remove(&self.seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_horizon_waits_for_the_lowest_record_in_flight() {
        let visibility = Arc::new(Visibility::new(10));
        assert_eq!(visibility.horizon(), 10);
        let mut next = 10;
        let mut allocate = || -> Result<u64, ()> {
            next += 1;
            Ok(next)
        };
        let first = visibility.reserve(&mut allocate).unwrap();
        let second = visibility.reserve(&mut allocate).unwrap();
        assert_eq!(visibility.horizon(), first.seq);
        drop(second);
        assert_eq!(visibility.horizon(), first.seq, "11 is still being written");
        drop(first);
        assert_eq!(visibility.horizon(), 13);
    }

    #[test]
    fn a_failed_allocation_reserves_nothing() {
        let visibility = Arc::new(Visibility::new(5));
        assert!(visibility.reserve(|| Err::<u64, _>("disk full")).is_err());
        assert_eq!(visibility.horizon(), 5);
    }
}
