//! Living through a full disk: the store stops writing after a write fails
//! (`switchboard_store`'s `database.rs`), and this task opens it again,
//! in-process.
//!
//! Meanwhile writes answer 503 with `Retry-After` (providers retry them),
//! reads keep working until the reopen starts, and `/readyz` says why the
//! server is not ready. Nothing acknowledged is lost: a turn is
//! acknowledged only once it is on disk, and the reopened store is exactly
//! what the disk holds.
//!
//! When to reopen depends on what failed. A full filesystem: once it has
//! `min_free_bytes` free. Anything else (a quota, which free space does not
//! show; an I/O error; a reopen that failed or found the store still in
//! use): after a backoff that doubles from one second to a minute, so a
//! disk that keeps failing is not reopened, and its memory thrown away,
//! every second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::{Engine, StoreFailure, StoreHealth};

/// How often the store's health is looked at.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// How often "still waiting for room" is logged.
const REMIND_EVERY: Duration = Duration::from_secs(30);

/// The longest wait between two reopens of a store that keeps failing.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Watch the store and reopen it once it is unwritable and a reopen may
/// hold. Runs for the life of the process.
pub async fn run(engine: Arc<Engine>, min_free_bytes: u64) {
    let mut reminded: Option<Instant> = None;
    let mut backoff = Backoff::default();
    loop {
        tokio::time::sleep(CHECK_EVERY).await;
        let failure = match engine.store_health() {
            StoreHealth::Writable => {
                metrics::gauge!("switchboard_store_writable").set(1.0);
                reminded = None;
                backoff.forgive();
                continue;
            }
            StoreHealth::Reopening => continue,
            StoreHealth::Unwritable(failure) => failure,
        };
        metrics::gauge!("switchboard_store_writable").set(0.0);
        // Only sled fails writes as a whole, and it is on this machine's disk.
        let free = engine.store_free_bytes().ok().flatten().unwrap_or(0);
        if is_full_filesystem(&failure) && free < min_free_bytes {
            if reminded.is_none_or(|at| at.elapsed() >= REMIND_EVERY) {
                tracing::error!(
                    cause = %failure.cause,
                    free_mib = free >> 20,
                    needed_mib = min_free_bytes >> 20,
                    "the store takes no writes; it reopens once its disk has room (free some, or grow the volume)"
                );
                reminded = Some(Instant::now());
            }
            continue;
        }
        if !backoff.due() {
            continue;
        }
        let reopening = Arc::clone(&engine);
        match tokio::task::spawn_blocking(move || reopening.reopen_store()).await {
            Ok(Ok(())) => {
                metrics::counter!("switchboard_store_reopens_total").increment(1);
                metrics::gauge!("switchboard_store_writable").set(1.0);
                tracing::info!(
                    unwritable_secs = failure.since.elapsed().as_secs(),
                    free_mib = free >> 20,
                    "the store reopened and takes writes again"
                );
                reminded = None;
                if !is_full_filesystem(&failure) {
                    // A write may fail again at once; the next reopen waits.
                    backoff.failed();
                }
            }
            Ok(Err(error)) => {
                let retry_in = backoff.failed();
                tracing::error!(%error, cause = %failure.cause, ?retry_in, "the store could not reopen; trying again");
            }
            Err(joined) => {
                backoff.failed();
                tracing::error!(%joined, "reopening the store panicked");
            }
        }
    }
}

/// A full filesystem, which its free space shows (a quota does not).
fn is_full_filesystem(failure: &StoreFailure) -> bool {
    failure.kind == std::io::ErrorKind::StorageFull
}

/// When the next reopen may run: at once at first, then after one second,
/// two, four, … up to [`MAX_BACKOFF`].
#[derive(Debug, Default)]
struct Backoff {
    next: Option<Instant>,
    wait: Duration,
}

impl Backoff {
    fn due(&self) -> bool {
        self.next.is_none_or(|next| Instant::now() >= next)
    }

    /// Start again from no wait once the store has stayed writable for
    /// the longest wait.
    fn forgive(&mut self) {
        if self.next.is_some_and(|next| next.elapsed() >= MAX_BACKOFF) {
            *self = Self::default();
        }
    }

    /// Push the next attempt back; how long until it.
    fn failed(&mut self) -> Duration {
        self.wait = (self.wait * 2).clamp(Duration::from_secs(1), MAX_BACKOFF);
        self.next = Some(Instant::now() + self.wait);
        self.wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_that_keeps_failing_is_reopened_less_and_less_often_up_to_a_minute_apart() {
        let mut backoff = Backoff::default();
        assert!(backoff.due(), "the first reopen runs at once");
        let waits: Vec<u64> = (0..8).map(|_| backoff.failed().as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert!(!backoff.due());
        backoff.forgive();
        assert!(!backoff.due(), "forgiven only once writable for the longest wait");
    }
}
