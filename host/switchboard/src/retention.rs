//! Retention: every tenant's expired events are exported and removed, its
//! idle conversations too if it says so, and its expired inbound message
//! ids forgotten, as its `[retention]` says (`tenant.rs`). `switchboard_store`'s `retention.rs` says what goes and
//! what always stays.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::engine::{Engine, EngineError, Swept};
use crate::scheduler::Clock;

/// How often `serve` sweeps, unless told otherwise.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(60 * 60);

/// Sweep every `every`, for the life of the process.
pub async fn run(engine: Arc<Engine>, clock: Arc<dyn Clock>, every: Duration, export_dir: PathBuf) {
    let export_dir: Arc<Path> = Arc::from(export_dir);
    loop {
        tokio::time::sleep(every).await;
        let (engine, clock, export_dir) = (Arc::clone(&engine), Arc::clone(&clock), Arc::clone(&export_dir));
        let swept =
            tokio::task::spawn_blocking(move || sweep_all(&engine, clock.now_ms(), &export_dir)).await;
        if let Err(joined) = swept {
            tracing::error!(%joined, "the retention sweep panicked");
        }
    }
}

/// Sweep every tenant now: what each removed, or why it could not.
pub fn sweep_all(
    engine: &Engine,
    now_ms: i64,
    export_dir: &Path,
) -> Vec<(String, Result<Swept, EngineError>)> {
    // Expired console sessions and login links, every tenant's at once.
    match engine.sweep_sessions(now_ms) {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "removed expired console sessions and login links"),
        Err(error) => {
            tracing::warn!(%error, "could not sweep expired console sessions; the next sweep tries again")
        }
    }
    let mut results = Vec::new();
    for name in engine.tenant_names() {
        let swept = engine
            .tenant(&name)
            .and_then(|tenant| engine.sweep(&name, &tenant.retention.cutoffs(now_ms, export_dir)));
        match &swept {
            Ok(swept)
                if swept.event_records + swept.dedupe_ids + swept.conversations + swept.step_calls > 0 =>
            {
                metrics::counter!("switchboard_retention_removed_total", "kind" => "events")
                    .increment(swept.events);
                metrics::counter!("switchboard_retention_removed_total", "kind" => "dedupe_ids")
                    .increment(swept.dedupe_ids);
                metrics::counter!("switchboard_retention_removed_total", "kind" => "conversations")
                    .increment(swept.conversations);
                metrics::counter!("switchboard_retention_removed_total", "kind" => "step_calls")
                    .increment(swept.step_calls);
                tracing::info!(
                    tenant = name,
                    events = swept.events,
                    dedupe_ids = swept.dedupe_ids,
                    conversations = swept.conversations,
                    step_calls = swept.step_calls,
                    bytes = swept.bytes,
                    exported = ?swept.exported,
                    "retention removed what the tenant keeps no longer"
                );
            }
            Ok(_) => {}
            Err(error) if error.is_store_unwritable() => {}
            Err(error) => {
                tracing::error!(tenant = name, %error, "the retention sweep failed; it runs again later")
            }
        }
        results.push((name, swept));
    }
    results
}
