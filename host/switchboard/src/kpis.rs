//! The KPI fold's loop: every tenant's new events are folded into its
//! tallies about once a second (`engine/kpis.rs`), so dashboards read a
//! year from stored tallies and fold at most a second's events themselves.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::Engine;

/// How often `serve` folds.
pub const EVERY: Duration = Duration::from_secs(1);

/// Fold every tenant every `every`, for the life of the process.
pub async fn run(engine: Arc<Engine>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let engine = Arc::clone(&engine);
        if let Err(joined) = tokio::task::spawn_blocking(move || fold_all(&engine)).await {
            tracing::error!(%joined, "the KPI fold panicked");
        }
    }
}

/// Fold every tenant's new events now; how many.
pub fn fold_all(engine: &Engine) -> usize {
    let mut folded = 0;
    for name in engine.tenant_names() {
        match engine.fold_kpis_if_idle(&name) {
            Ok(events) => {
                metrics::counter!("switchboard_kpi_events_folded_total").increment(events as u64);
                folded += events;
            }
            Err(error) if error.is_store_unwritable() => {}
            Err(error) => {
                tracing::error!(tenant = name, %error, "the KPI fold failed; it runs again next second")
            }
        }
    }
    folded
}
