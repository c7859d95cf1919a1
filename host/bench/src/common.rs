//! What the end-to-end benchmarks share: a runtime as `serve` builds it, and
//! percentiles of sorted latencies.

use std::sync::Arc;
use std::time::Duration;

use switchboard_runtime::{Runtime, RuntimeConfig};

/// The runtime with `serve`'s settings (and its compile cache).
pub fn runtime() -> anyhow::Result<Arc<Runtime>> {
    Ok(Arc::new(Runtime::new(RuntimeConfig {
        cache_dir: switchboard::cache_dir(),
        ..RuntimeConfig::default()
    })?))
}

/// The `quantile` of `sorted`, in milliseconds (0 when empty).
pub fn percentile(sorted: &[Duration], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * quantile).round() as usize;
    sorted[index].as_secs_f64() * 1e3
}
