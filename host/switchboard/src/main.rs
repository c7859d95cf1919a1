//! `switchboard`: the host's command line.
//!
//! # Layout
//!
//! The engine, tenants and HTTP app live in the library (`lib.rs`); these are
//! the commands around them.
//!
//! - `serve.rs`: `switchboard serve`, every tenant of a directory over HTTP.
//! - `chat.rs`: `switchboard chat`, a flow in the terminal.
//! - `flow_check.rs`: `switchboard flow check` and `flow schema`.
//! - `nlu_eval.rs`: `switchboard nlu eval`, the understanding corpus scored.
//! - `plugin_run.rs`: `switchboard plugin run`, try any plugin from a shell.
//! - `plugin_build.rs`: `switchboard plugin build`, from a plugin's manifest.
//! - `plugin_new.rs`: `switchboard plugin new`, a plugin to start from.
//!
//! The benchmarks are a binary of their own, `switchboard-bench` (`host/bench`),
//! so that this one does not depend on the example plugins or the SDK.

#![forbid(unsafe_code)]

mod chat;
mod cli_api;
mod flow_check;
mod kpis_cli;
mod nlu_eval;
mod plugin_build;
mod plugin_new;
mod plugin_replay;
mod plugin_run;
mod plugin_test;
mod plugin_versions;
mod serve;
mod staff_cli;
mod store_cli;
mod store_migrate;
mod tenants_cli;

use std::process::ExitCode;
use switchboard::cache_dir;

use clap::{Parser, Subcommand};

/// sled allocates and frees several times on every write; with mimalloc a
/// fired timer's turn takes about a third less CPU than with glibc's
/// allocator (`switchboard-bench timers`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Multi-tenant conversation workflows with sandboxed wasm plugins"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with plugin components.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Serve the tenants: web chat, the message API and the admin API.
    Serve(serve::Args),
    /// Talk to a tenant's flow in the terminal.
    Chat(chat::Args),
    /// Check flow files, or print their JSON Schema.
    #[command(subcommand)]
    Flow(FlowCommand),
    /// A tenant's people, who sign in to the console, on a running server.
    #[command(subcommand)]
    Staff(staff_cli::Command),
    /// A tenant's KPIs on a running server, a rebuild from its event log, and what each counts.
    #[command(subcommand)]
    Kpis(kpis_cli::Command),
    /// The store's tenant catalog as directories: import them, export them.
    #[command(subcommand)]
    Tenants(tenants_cli::Command),
    /// Print a new operator's secrets key (SWITCHBOARD_SECRETS_KEY), which
    /// seals tenants' channel secrets in the store.
    SecretsKey,
    /// What the store holds, and making it smaller (while `serve` is stopped).
    #[command(subcommand)]
    Store(StoreCommand),
    /// Score the built-in understanding on the corpus in tests/nlu.
    #[command(subcommand)]
    Nlu(NluCommand),
    /// The compile sandbox's child: `serve` runs it to compile one component
    /// under CPU-time and memory limits (see switchboard_runtime::CompileSandbox).
    #[command(hide = true)]
    CompileComponent(serve::CompileArgs),
}

#[derive(Debug, Subcommand)]
enum FlowCommand {
    /// Check a flow file; print every problem with its line and column.
    Check(flow_check::CheckArgs),
    /// Print the JSON Schema of flow files (for editors).
    Schema,
}

#[derive(Debug, Subcommand)]
enum StoreCommand {
    /// Size per tenant and per kind of record, and on disk.
    Stats(store_cli::StatsArgs),
    /// Apply every tenant's retention now, then rewrite the database to
    /// give back the space sled has not reclaimed yet.
    Compact(store_cli::CompactArgs),
    /// Move the store to PostgreSQL (stop `serve` first), and check by
    /// count and SHA-256 per kind that every record arrived.
    Migrate(store_migrate::MigrateArgs),
}

#[derive(Debug, Subcommand)]
enum NluCommand {
    /// Accuracy per language and entity kind, and the misses.
    Eval(nlu_eval::Args),
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Run one step of a plugin and print its decisions and resource report as JSON.
    Run(plugin_run::Args),
    /// Write a new plugin (Rust, Python or JavaScript) with a manifest, a
    /// sample and unit tests, ready for `plugin build`.
    New(plugin_new::Args),
    /// Build a plugin from its switchboard-plugin.toml, embed the manifest,
    /// and run its samples in the sandbox.
    Build(plugin_build::Args),
    /// Replay a candidate build against a binding's recorded production
    /// calls and print what it answers differently; exits 1 on a regression.
    Replay(plugin_replay::Args),
    /// Run a plugin's unit tests in its own language, with the SDK's test host.
    Test(plugin_test::Args),
    /// List a binding's versions on a running server, or compare two.
    Versions(plugin_versions::Args),
    /// Run an earlier version of a binding again (as a new version).
    Restore(plugin_versions::RestoreArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Plugin(PluginCommand::Run(args)) => plugin_run::run(args),
        Command::Plugin(PluginCommand::Build(args)) => plugin_build::run(args),
        Command::Plugin(PluginCommand::New(args)) => plugin_new::run(args),
        Command::Plugin(PluginCommand::Replay(args)) => plugin_replay::run(args),
        Command::Plugin(PluginCommand::Versions(args)) => plugin_versions::run(args),
        Command::Plugin(PluginCommand::Test(args)) => plugin_test::run(args),
        Command::Plugin(PluginCommand::Restore(args)) => plugin_versions::restore(args),
        Command::Serve(args) => serve::run(args),
        Command::Kpis(command) => kpis_cli::run(command),
        Command::Tenants(command) => tenants_cli::run(command),
        Command::SecretsKey => switchboard::sealing::SecretsKey::generate().map(|key| {
            println!("{}", key.to_hex());
            ExitCode::SUCCESS
        }),
        Command::Staff(command) => staff_cli::run(command),
        Command::Chat(args) => chat::run(args),
        Command::Flow(FlowCommand::Check(args)) => flow_check::check(args),
        Command::Flow(FlowCommand::Schema) => flow_check::schema(),
        Command::Store(StoreCommand::Stats(args)) => store_cli::stats(args),
        Command::Store(StoreCommand::Compact(args)) => store_cli::compact(args),
        Command::Store(StoreCommand::Migrate(args)) => store_migrate::migrate(args),
        Command::Nlu(NluCommand::Eval(args)) => nlu_eval::run(args),
        Command::CompileComponent(args) => serve::compile_component(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
