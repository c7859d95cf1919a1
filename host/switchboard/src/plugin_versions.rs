//! `switchboard plugin versions` and `plugin restore`: a binding's
//! versions on a running server, listed or compared, and one run again.

use std::process::ExitCode;

use serde_json::Value;

use crate::cli_api::{Server, query_value};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tenant.
    #[arg(long)]
    tenant: String,
    /// The plugin binding, as the tenant's flow names it.
    #[arg(long)]
    plugin: String,
    /// Compare two versions (their `seq`s) instead of listing them all.
    #[arg(long, num_args = 2, value_names = ["FROM", "TO"])]
    compare: Option<Vec<u64>>,
    #[command(flatten)]
    server: Server,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The version to run again (its `seq` in `plugin versions`).
    seq: u64,
    #[arg(long)]
    tenant: String,
    #[arg(long)]
    plugin: String,
    #[command(flatten)]
    server: Server,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let base = format!("/v1/tenants/{}/plugins/{}", query_value(&args.tenant), query_value(&args.plugin));
    if let Some([from, to]) = args.compare.as_deref() {
        let compared: Value =
            args.server.call(http::Method::GET, &format!("{base}/versions/compare?from={from}&to={to}"))?;
        println!("{}", line(&compared["from"]));
        println!("{}", line(&compared["to"]));
        let said = |changed: &Value, what: &str| {
            if changed == true { format!("{what} changed") } else { format!("same {what}") }
        };
        println!(
            "{}, {}, {}",
            said(&compared["component_changed"], "code"),
            said(&compared["config_changed"], "config"),
            said(&compared["manifest_changed"], "manifest")
        );
        return Ok(ExitCode::SUCCESS);
    }
    let listed: Value = args.server.call(http::Method::GET, &format!("{base}/versions"))?;
    let versions = listed["versions"].as_array().cloned().unwrap_or_default();
    if versions.is_empty() {
        println!("{} has no versions yet", args.plugin);
    }
    for version in &versions {
        println!("{}", line(version));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let path = format!(
        "/v1/tenants/{}/plugins/{}/versions/{}/restore",
        query_value(&args.tenant),
        query_value(&args.plugin),
        args.seq
    );
    let _: Value = args.server.call(http::Method::POST, &path)?;
    println!("{} runs version {} again (recorded as a new version)", args.plugin, args.seq);
    Ok(ExitCode::SUCCESS)
}

/// One version on a line: seq, when, manifest, canary, who, the hashes, the note.
fn line(version: &Value) -> String {
    let text = |key: &str| version[key].as_str().unwrap_or_default().to_owned();
    let short = |key: &str| text(key).chars().take(12).collect::<String>();
    let at = version["at"]
        .as_i64()
        .and_then(|at| jiff::Timestamp::from_millisecond(at).ok())
        .map(|at| at.strftime("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default();
    let canary = match version["canary"].as_u64() {
        Some(0) => " shadow".to_owned(),
        Some(percent) => format!(" canary {percent}%"),
        None => String::new(),
    };
    let by = version["by"].as_str().map(|by| format!(" by {by}")).unwrap_or_default();
    let note = version["note"].as_str().map(|note| format!("  \"{note}\"")).unwrap_or_default();
    let manifest = version["manifest"].as_str().unwrap_or("(no manifest)");
    format!(
        "{:>4}  {at}  {manifest}{canary}{by}  code {} config {}{note}",
        version["seq"].as_u64().unwrap_or_default(),
        short("component"),
        short("config")
    )
}
