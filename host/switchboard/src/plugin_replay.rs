//! `switchboard plugin replay`: a candidate build run against a binding's
//! recorded production calls, on this machine, and what it answers
//! differently, as a diff (`switchboard::replay`).
//!
//! The calls come from a running server (`GET …/plugins/{name}/calls`,
//! with the tenant's key), or from a file saved from that endpoint
//! (`--calls`), so a replay can run in CI without the server.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use switchboard::engine::{CallOutcome, RecordedCalls};
use switchboard::replay::{Report, Thresholds, Verdict};
use switchboard_runtime::{Limits, Runtime, RuntimeConfig};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The candidate component (`.wasm`).
    candidate: PathBuf,
    /// The tenant whose recorded calls to replay.
    #[arg(long)]
    tenant: String,
    /// The plugin binding, as the tenant's flow names it.
    #[arg(long)]
    plugin: String,
    /// Replay calls from this time on: Unix ms, an RFC 3339 time, or a span back from now.
    #[arg(long, default_value = "7d")]
    since: String,
    /// At most this many calls.
    #[arg(long, default_value_t = 1000)]
    limit: usize,
    #[command(flatten)]
    server: crate::cli_api::Server,
    /// Read the calls from this file (saved from `GET …/plugins/{name}/calls`) instead of the server.
    #[arg(long)]
    calls: Option<PathBuf>,
    /// The candidate's config (JSON itself, or a file holding it); each call's
    /// recorded config without it.
    #[arg(long)]
    config: Option<String>,
    /// Count any changed answer as a regression (exit 1).
    #[arg(long)]
    fail_on_change: bool,
    /// A regression when the candidate burns more than this times production's fuel.
    #[arg(long, default_value_t = 1.5)]
    max_fuel_ratio: f64,
    /// A regression when it takes more than this times production's wall time.
    #[arg(long)]
    max_time_ratio: Option<f64>,
    /// Instruction budget per call [default: the host's].
    #[arg(long)]
    fuel: Option<u64>,
    /// Deadline per call, in milliseconds [default: 1000, for a cold Python or JS start].
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u64,
    /// Print the report as JSON instead of a diff.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let recorded = match &args.calls {
        Some(path) => {
            let text = std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))?;
            serde_json::from_slice::<RecordedCalls>(&text).with_context(|| {
                format!("{} is not an export of GET …/plugins/{{name}}/calls", path.display())
            })?
        }
        None => fetch(&args)?,
    };
    let config = args
        .config
        .as_deref()
        .map(crate::plugin_run::inline_or_file::<serde_json::Value>)
        .transpose()
        .context("failed to read the candidate's config (--config)")?
        .map(switchboard_core::contract::PluginConfig::from);

    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: switchboard::cache_dir(),
        max_concurrent_calls: 2,
        ..RuntimeConfig::default()
    })?;
    let bytes = std::fs::read(&args.candidate)
        .with_context(|| format!("failed to read {}", args.candidate.display()))?;
    let mut candidate = switchboard::replay::Candidate::load(&runtime, &bytes)
        .with_context(|| format!("failed to load {}", args.candidate.display()))?;
    let defaults = Limits::default();
    let limits = Limits {
        fuel: args.fuel.unwrap_or(defaults.fuel),
        timeout: Duration::from_millis(args.timeout_ms),
        ..defaults
    };
    let progress = indicatif::ProgressBar::new(recorded.calls.len() as u64).with_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} calls")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    progress.set_message(format!("replaying {}", args.plugin));
    let report = switchboard::replay::replay(
        &args.plugin,
        &mut candidate,
        config.as_ref(),
        &recorded.plugin_configs(),
        limits,
        &recorded.calls,
        || {
            progress.inc(1);
            true
        },
    );
    progress.finish_and_clear();

    let thresholds = Thresholds {
        fail_on_change: args.fail_on_change,
        max_fuel_ratio: args.max_fuel_ratio,
        max_time_ratio: args.max_time_ratio,
    };
    let regressions = report.regressions(&thresholds);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report, &regressions);
    }
    Ok(if regressions.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The recorded calls, from the server.
fn fetch(args: &Args) -> anyhow::Result<RecordedCalls> {
    use crate::cli_api::query_value;
    let path = format!(
        "/v1/tenants/{}/plugins/{}/calls?since={}&limit={}",
        query_value(&args.tenant),
        query_value(&args.plugin),
        query_value(&args.since),
        args.limit
    );
    args.server.call(http::Method::GET, &path).context("(or replay a saved export with --calls FILE)")
}

fn print_report(report: &Report, regressions: &[String]) {
    let short = |hash: &str| hash.get(..12).unwrap_or(hash).to_owned();
    let recorded: Vec<String> =
        report.recorded_with.iter().map(|(hash, calls)| format!("{} ({calls})", short(hash))).collect();
    println!(
        "replayed {} recorded call(s) of {} with {} (recorded with {})",
        report.calls,
        report.plugin,
        short(&report.candidate),
        if recorded.is_empty() { "nothing".to_owned() } else { recorded.join(", ") }
    );
    for difference in &report.differences {
        let at =
            jiff::Timestamp::from_millisecond(difference.at).map(|at| at.to_string()).unwrap_or_default();
        let verdict = match difference.verdict {
            Verdict::Changed => "changed",
            Verdict::NewFailure => "NEW FAILURE",
            Verdict::Fixed => "fixed",
            Verdict::FailsDifferently => "fails differently",
            Verdict::Same => "same",
        };
        println!("\n── {verdict}: conversation {} at {at}", difference.conversation);
        let (was, now) = (shown(&difference.recorded), shown(&difference.candidate));
        let diff = similar::TextDiff::from_lines(&was, &now);
        print!("{}", diff.unified_diff().context_radius(3).header("recorded", "candidate"));
    }
    let tally = &report.tally;
    if report.differences.len() < report.calls - tally.same - report.skipped {
        println!("\n(only the first {} differences are shown)", report.differences.len());
    }
    let ratio = |ratio: Option<f64>| ratio.map_or_else(|| "n/a".to_owned(), |ratio| format!("{ratio:.2}x"));
    println!(
        "\n{} same, {} changed, {} new failure(s), {} fixed, {} failing differently, {} skipped; fuel {}, wall time {} of production's",
        tally.same,
        tally.changed,
        tally.new_failures,
        tally.fixed,
        tally.fails_differently,
        report.skipped,
        ratio(report.fuel_ratio),
        ratio(report.time_ratio),
    );
    if report.skipped > 0 {
        println!(
            "(skipped calls ran with a config the server no longer has; give the candidate's with --config)"
        );
    }
    for reason in regressions {
        println!("regression: {reason}");
    }
}

/// An outcome as the lines a diff compares.
fn shown(outcome: &CallOutcome) -> String {
    match outcome {
        CallOutcome::Ok { answer } => {
            format!("{}\n", serde_json::to_string_pretty(answer).unwrap_or_default())
        }
        CallOutcome::Failed { code, message } => format!("failed ({code}): {message}\n"),
    }
}
