//! Switchboard's plugin sandbox.
//!
//! Tenant logic (pricing, scoring, policy checks, validators) runs as wasm
//! components built against the `switchboard:plugin` WIT package. This crate
//! loads them, runs one step per call on a fresh instance under hard limits,
//! and turns every way a guest can fail into a typed [`StepFailure`]. It knows
//! nothing of HTTP, channels or how anything is stored.
//!
//! # Layout
//!
//! - [`Runtime`] (`runtime.rs`): the one wasmtime `Engine` (Cranelift, pooling
//!   allocator, fuel, epochs), its epoch ticker, the linkers per WIT version and
//!   the on-disk compile cache (`cache.rs`), and the [`CompileSandbox`]
//!   (`compile.rs`) that compiles in a child process under CPU-time and
//!   memory limits.
//! - [`Plugin`] (`plugin.rs`): a loaded, pre-instantiated component and
//!   [`Plugin::call`], the production path: fresh `Store`, fresh instance.
//! - [`Limits`] (`limits.rs`): fuel, deadline, memory and table caps per call,
//!   and the resource report.
//! - [`Grants`] (`capabilities.rs`): which host capabilities a plugin gets, and
//!   the [`KvBackend`] that plugin state lives in.
//! - [`HttpGrant`] (`http.rs`): outbound `wasi:http`, checked against the
//!   plugin's host allowlist, with timeouts and a response-size cap.
//! - [`OutboundPolicy`] (`egress.rs`): where any outbound connection may go,
//!   plugins' and the server's: resolved once, every address checked, only
//!   public ones unless the operator allows more.
//! - `state.rs`: the per-call store data, with WASI denied by default.
//! - `deadline.rs`: `wasi:io/poll` and blocking stream calls that give up at
//!   the call's deadline, where epochs cannot reach.
//! - `since_v0_1_0.rs`, `since_v0_2_0.rs`: bindings for each
//!   `switchboard:plugin` version, converted to and from
//!   [`switchboard_core::contract`]. Each WIT version gets one such module and
//!   nothing past it sees versioned types; `bridge.rs` holds what they share.
//! - `snapshot.rs`: per-binding snapshots ([`Runtime::bind`]): a component's
//!   `init(config)` run once and its instance written out as a new
//!   component (wasmtime-wizer), which every call of the binding starts from.
//! - `error.rs`: [`LoadError`] and [`StepFailure`].

mod bridge;
mod cache;
mod capabilities;
mod compile;
mod deadline;
mod egress;
mod error;
mod http;
mod limits;
pub mod manifest;
mod plugin;
mod runtime;
mod since_v0_1_0;
mod since_v0_2_0;
mod snapshot;
mod state;

pub use capabilities::{Grants, MemoryKv, Secret};
pub use compile::{ChildArgs, CompileSandbox, compile_in_child};
pub use egress::{AllowedDestination, EgressError, OutboundPolicy, PolicyError, is_public};
pub use error::{FailureKind, LoadError, StepFailure};
pub use http::HttpGrant;
pub use limits::{Limits, ResourceReport};
pub use plugin::{
    ApiVersion, CallContext, ClassifyOutcome, ContentHash, LogLine, Plugin, ReusedInstance, Stages,
    StepOutcome,
};
pub use runtime::{Runtime, RuntimeConfig};
pub use switchboard_core::kv::{KvBackend, KvQuota, KvQuotaExceeded, KvScope};
