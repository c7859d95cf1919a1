//! The Switchboard host as a library: the engine, tenant loading and the HTTP
//! app. The `switchboard` binary (`main.rs`) is the command line around it;
//! the integration tests drive the same pieces.
//!
//! # Layout
//!
//! - `tenant.rs` + `tenant/`: loading a tenant directory (the operator's
//!   tenant.toml, expanded per value; the tenant's own literal managed.toml;
//!   flow, bindings).
//! - `tenants.rs` + `tenants/`: the control plane: creating, editing,
//!   reloading and removing tenants, and their API keys.
//! - `startup.rs`: every tenant loaded in the background at start-up, each
//!   within its own deadline.
//! - `engine.rs`: the state machine wired to the runtime and the store, one
//!   conversation at a time, one atomic write per turn.
//! - `scheduler.rs`: firing due timers from the store, on an injected clock.
//! - `recovery.rs`: reopening the store in-process once a full disk has room.
//! - `kpis.rs`: folding every tenant's new events into its KPI tallies.
//! - `retention.rs`: sweeping every tenant's expired events and dedupe ids.
//! - `delivery.rs` + `delivery/`: the outbox worker and provider rendering.
//! - `demo.rs`: the demo's people, and the link that signs one in.
//! - `nlu.rs`: the understanding corpus scored against the tenants' flows.
//! - `telemetry.rs`: Prometheus metrics.
//! - `server.rs` + `server/`: the axum app: the JSON API, pages and widget,
//!   the error type, the demo shop API.

#![forbid(unsafe_code)]

pub mod channels;
pub mod delivery;
pub mod demo;
pub mod engine;
pub mod kpis;
pub mod migration;
pub mod nlu;
pub mod recovery;
pub mod replay;
pub mod retention;
pub mod scheduler;
pub mod sealing;
pub mod server;
pub mod startup;
pub mod store_url;
pub mod telemetry;
pub mod tenant;
pub mod tenants;

use std::path::PathBuf;

/// Where compiled components are cached between runs: `$XDG_CACHE_HOME` or `~/.cache`.
pub fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("switchboard").join("compiled"))
}
