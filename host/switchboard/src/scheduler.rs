//! The scheduler: fires due timers back into their conversations.
//!
//! Timers live in the store (see `switchboard_store::timers`), indexed by due
//! time across tenants, so nothing is held in memory and nothing is lost on
//! restart: timers that fell due while the host was down are simply the
//! oldest entries of the index on start-up. A conversation's due timers fire
//! as one atomic write ([`Engine::fire_due`]), which removes them in the
//! same batch as the messages they produce, so a timer fires exactly once.
//!
//! Time comes from a [`Clock`], so tests and `switchboard chat` move it
//! forward instead of sleeping.
//!
//! A burst of due timers is fired a page at a time on one blocking thread,
//! yielding between pages, so live conversations keep the other threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::engine::{Engine, EngineError, timers_settled};

/// Where "now" comes from, in Unix milliseconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        jiff::Timestamp::now().as_millisecond()
    }
}

/// A clock that moves only when told to: for tests and the chat simulator.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(now_ms: i64) -> Self {
        Self(AtomicI64::new(now_ms))
    }

    pub fn set(&self, now_ms: i64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }

    pub fn advance(&self, by: Duration) -> i64 {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(by, Ordering::SeqCst) + by
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Timers fired per atomic write.
pub const PAGE: usize = 256;

/// Fire every timer due at `now`, a page at a time on one thread; how many
/// fired or were skipped (too late, window closed). Blocking: call it off
/// the async threads.
pub fn fire_due(engine: &Engine, now: i64) -> Result<usize, EngineError> {
    let mut total = 0;
    loop {
        let due = engine.due_timers(now, PAGE)?;
        if due.is_empty() {
            return Ok(total);
        }
        total += timers_settled(&engine.fire_due(&due, now)?);
    }
}

/// [`fire_due`] on `threads` threads, each taking its own pages from the
/// index, so one thread's page fires while another's waits for the disk.
/// For catching up on a backlog when nothing else needs the cores.
///
/// Two pages may hold timers of the same conversation: their turns take its
/// lock in turn (every page locks its conversations in key order, so they
/// cannot deadlock), and whichever comes second finds the timer already
/// fired and fires nothing.
pub fn fire_due_on(engine: &Engine, now: i64, threads: usize) -> Result<usize, EngineError> {
    if threads <= 1 {
        return fire_due(engine, now);
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads).map(|_| scope.spawn(|| fire_due(engine, now))).collect();
        workers.into_iter().try_fold(0, |total, worker| match worker.join() {
            Ok(fired) => fired.map(|fired| total + fired),
            Err(panic) => std::panic::resume_unwind(panic),
        })
    })
}

/// Run the scheduler until the process ends.
pub async fn run(engine: Arc<Engine>, clock: Arc<dyn Clock>) {
    loop {
        let now = clock.now_ms();
        let page = {
            let engine = engine.clone();
            tokio::task::spawn_blocking(move || {
                let due = engine.due_timers(now, PAGE)?;
                let fired = if due.is_empty() { 0 } else { timers_settled(&engine.fire_due(&due, now)?) };
                Ok::<_, EngineError>((due.len(), fired, engine.next_due()?))
            })
            .await
        };
        let wait = match page {
            Ok(Ok((taken, fired, next_due))) => {
                if fired > 0 {
                    tracing::debug!(fired, "timers fired");
                }
                if taken == PAGE {
                    // More are due: yield to live turns, then carry on.
                    tokio::task::yield_now().await;
                    continue;
                }
                next_due.map_or(IDLE, |due| Duration::from_millis(u64::try_from(due - now).unwrap_or(0)))
            }
            Ok(Err(error)) if error.is_store_unwritable() => {
                // recovery.rs reports the store's state; due timers wait.
                tracing::debug!(%error, "timers wait for the store to take writes");
                IDLE
            }
            Ok(Err(error)) => {
                tracing::error!(%error, "firing timers failed; retrying");
                IDLE
            }
            Err(error) => {
                tracing::error!(%error, "the scheduler's page panicked; retrying");
                IDLE
            }
        };
        tokio::time::sleep(wait.clamp(MIN_WAIT, IDLE)).await;
    }
}

/// The longest the scheduler sleeps: timers set meanwhile are seen this late at most.
const IDLE: Duration = Duration::from_millis(250);
const MIN_WAIT: Duration = Duration::from_millis(5);
