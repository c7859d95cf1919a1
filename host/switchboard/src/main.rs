//! `switchboard`: the host's command line.
//!
//! # Layout
//!
//! - `plugin_run.rs`: `switchboard plugin run`, try any plugin from a shell.
//! - `bench.rs`: `switchboard bench steps`, native against wasm, fresh against reused.

mod bench;
mod plugin_run;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Measure the step call paths.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Run one step of a plugin and print its decisions and resource report as JSON.
    Run(plugin_run::Args),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Time each example plugin natively, on a fresh instance and on a reused one.
    Steps(bench::Args),
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
        Command::Bench(BenchCommand::Steps(args)) => bench::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
