//! `switchboard flow check` and `switchboard flow schema`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use switchboard_core::flow::Flow;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The flow file (TOML).
    file: PathBuf,
    /// The tenant's plugin bindings, to check steps and validators against.
    /// Default: the `[plugins.*]` of `tenant.toml` beside the flow, if any.
    #[arg(long = "plugin")]
    plugins: Vec<String>,
}

pub fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let source = std::fs::read_to_string(&args.file)
        .with_context(|| format!("failed to read {}", args.file.display()))?;
    let plugins =
        if args.plugins.is_empty() { bound_beside(&args.file) } else { args.plugins.into_iter().collect() };
    match Flow::parse(&args.file.display().to_string(), &source, &plugins) {
        Ok(flow) => {
            println!(
                "{}: ok (version {}, {} intents)",
                args.file.display(),
                flow.version,
                flow.intents.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            eprint!("{problems}");
            eprintln!("{} problem(s); the flow was not loaded", problems.problems.len());
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The plugin names bound in `tenant.toml` next to `flow`.
fn bound_beside(flow: &std::path::Path) -> BTreeSet<String> {
    let tenant = flow.with_file_name("tenant.toml");
    let Ok(text) = std::fs::read_to_string(tenant) else { return BTreeSet::new() };
    let Ok(value) = text.parse::<toml::Table>() else { return BTreeSet::new() };
    value
        .get("plugins")
        .and_then(|plugins| plugins.as_table())
        .map(|plugins| plugins.keys().cloned().collect())
        .unwrap_or_default()
}

pub fn schema() -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string_pretty(&Flow::json_schema())?);
    Ok(ExitCode::SUCCESS)
}
