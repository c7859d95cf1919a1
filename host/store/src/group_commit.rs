//! Group commit: many writers, one fsync.
//!
//! sled makes writes durable on `flush`, which costs a disk sync. A writer that
//! must not return before its write is on disk calls [`GroupCommit::durable`]:
//! if no flush is running it leads one, covering every write made before it
//! started; otherwise it waits for the next one. Concurrent turns thus share
//! syncs instead of queueing for one each, and a lone writer pays exactly one.

use std::sync::{Condvar, Mutex, MutexGuard};

#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    state: Mutex<State>,
    flushed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Writers that asked for durability so far.
    requested: u64,
    /// All requests up to this one are on disk.
    flushed: u64,
    flushing: bool,
}

impl GroupCommit {
    /// Return once everything this thread wrote before the call is on disk.
    pub(crate) fn durable(&self, flush: impl Fn() -> sled::Result<usize>) -> sled::Result<()> {
        let mut state = self.lock();
        state.requested += 1;
        let mine = state.requested;
        loop {
            if state.flushed >= mine {
                return Ok(());
            }
            if state.flushing {
                state = self.flushed.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
                continue;
            }
            // Lead a flush. It starts after every write whose request is
            // counted in `target`, so it covers them all.
            state.flushing = true;
            let target = state.requested;
            drop(state);
            let result = flush();
            state = self.lock();
            state.flushing = false;
            if result.is_ok() {
                state.flushed = state.flushed.max(target);
            }
            self.flushed.notify_all();
            result?;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is three integers updated together under the lock; a
        // panic elsewhere cannot leave it half-written.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn a_lone_writer_flushes_once_per_call() {
        let commit = GroupCommit::default();
        let flushes = AtomicUsize::new(0);
        for _ in 0..3 {
            commit.durable(|| Ok(flushes.fetch_add(1, Ordering::SeqCst))).unwrap();
        }
        assert_eq!(flushes.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn concurrent_writers_share_flushes_and_all_return_durable() {
        let commit = Arc::new(GroupCommit::default());
        let flushes = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (commit, flushes) = (commit.clone(), flushes.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        commit
                            .durable(|| {
                                std::thread::sleep(std::time::Duration::from_micros(200));
                                Ok(flushes.fetch_add(1, Ordering::SeqCst))
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let flushes = flushes.load(Ordering::SeqCst);
        assert!(flushes < 400, "400 durable writes took {flushes} flushes");
        let state = commit.lock();
        assert_eq!((state.requested, state.flushed), (400, 400));
    }

    #[test]
    fn a_failed_flush_is_reported_and_retried_by_the_next_writer() {
        let commit = GroupCommit::default();
        let failed = commit.durable(|| Err(sled::Error::Unsupported("disk gone".into())));
        assert!(failed.is_err());
        commit.durable(|| Ok(0)).unwrap();
        assert_eq!(commit.lock().flushed, 2);
    }
}
