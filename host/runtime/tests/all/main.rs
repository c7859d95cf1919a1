//! The runtime's integration tests, one binary (as wasmtime does it).
//!
//! They run real components from `target/plugins/`, built by
//! `scripts/build-plugins.sh` (which the README's test command runs first).

mod capabilities;
mod hostile;
mod http;
mod loading;
mod plugins;
mod polyglot;
mod snapshots;
mod support;
mod versions;
