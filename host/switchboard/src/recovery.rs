//! Living through a full disk: the store stops writing after a write fails
//! (`switchboard_store`'s `database.rs`), and this task opens it again,
//! in-process, once its filesystem has room.
//!
//! Meanwhile writes answer 503 with `Retry-After` (providers retry them),
//! reads keep working, and `/readyz` says why the server is not ready.
//! Nothing acknowledged is lost: a turn is acknowledged only once it is on
//! disk, and the reopened store is exactly what the disk holds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::{Engine, StoreHealth};

/// How often the store's health is looked at.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// How often "still waiting for room" is logged.
const REMIND_EVERY: Duration = Duration::from_secs(30);

/// Watch the store; reopen it once it is unwritable and its filesystem has
/// `min_free_bytes` free. Runs for the life of the process.
pub async fn run(engine: Arc<Engine>, min_free_bytes: u64) {
    let mut reminded: Option<Instant> = None;
    loop {
        tokio::time::sleep(CHECK_EVERY).await;
        let failure = match engine.store_health() {
            StoreHealth::Writable => {
                metrics::gauge!("switchboard_store_writable").set(1.0);
                reminded = None;
                continue;
            }
            StoreHealth::Reopening => continue,
            StoreHealth::Unwritable(failure) => failure,
        };
        metrics::gauge!("switchboard_store_writable").set(0.0);
        let free = engine.store_free_bytes().unwrap_or(0);
        if free < min_free_bytes {
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
            }
            Ok(Err(error)) => tracing::warn!(%error, "the store could not reopen yet; trying again"),
            Err(joined) => tracing::error!(%joined, "reopening the store panicked"),
        }
    }
}
