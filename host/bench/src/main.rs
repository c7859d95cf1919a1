//! `switchboard-bench`: what Switchboard's paths cost, measured, never
//! asserted. Run it with `cargo run --release -p switchboard-bench -- <bench>`
//! from the workspace root (the benches read `target/plugins`, built by
//! `scripts/build-plugins.sh`).
//!
//! A crate of its own so that only it depends on the example plugins and the
//! Rust SDK (for `steps`' native baseline); the `switchboard` host does not,
//! and `scripts/test.sh` checks that. It drives the host through the
//! `switchboard` library's public API, as `serve` does.
//!
//! # Layout
//!
//! - `steps.rs`: `steps`, native against wasm, fresh against reused.
//! - `engine.rs`: `engine`, messages/s and latency with durable writes.
//! - `timers.rs`: `timers`, a million timers inserted and fired.
//! - `http.rs`: `http`, signed webhooks over loopback HTTP.
//! - `delivery.rs`: `delivery`, webhooks in and replies out through a slow fake provider.
//! - `kpis.rs`: `kpis`, the fold's cost per turn and a year's dashboard query.
//! - `soak.rs`: `soak`, steady mixed traffic against `switchboard serve` for
//!   minutes: throughput, p99, RSS and disk per message over time.
//! - `common.rs`: a runtime as `serve` builds it, and percentiles.

#![forbid(unsafe_code)]

mod common;
mod delivery;
mod engine;
mod http;
mod kpis;
mod migrate;
mod soak;
mod steps;
mod timers;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The allocator `serve` runs with (see the `switchboard` binary), so the
/// figures are the host's: with glibc's, a fired timer's turn takes about a
/// third more CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "switchboard-bench", version, about = "Measure Switchboard's call paths")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Time each example plugin natively, on a fresh instance and on a reused one.
    Steps(steps::Args),
    /// End-to-end engine throughput and latency, with durable writes.
    Engine(engine::Args),
    /// Signed WhatsApp webhooks over loopback HTTP: webhooks/s and ack latency.
    Http(http::Args),
    /// Insert a million timers and fire them: rates and resident memory.
    Timers(timers::Args),
    /// Webhooks in, replies out through a slow, rate-limited fake provider:
    /// replies/s, latency, a hanging tenant and an outage.
    Delivery(delivery::Args),
    /// What KPIs cost: the fold per committed turn, and a year's dashboard
    /// query over a million events.
    Kpis(kpis::Args),
    /// How fast `store migrate` moves a sled store into PostgreSQL, against
    /// reading it alone.
    Migrate(migrate::Args),
    /// Steady mixed web chat traffic against `switchboard serve` for minutes:
    /// throughput, p99, RSS and disk per message over time.
    Soak(soak::Args),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Steps(args) => steps::run(args),
        Command::Engine(args) => engine::run(args),
        Command::Timers(args) => timers::run(args),
        Command::Http(args) => http::run(args),
        Command::Delivery(args) => delivery::run(args),
        Command::Soak(args) => soak::run(args),
        Command::Kpis(args) => kpis::run(args),
        Command::Migrate(args) => migrate::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
