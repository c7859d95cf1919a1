//! `switchboard plugin run`: one step of one plugin, from the shell.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use switchboard_core::contract::StepInput;
use switchboard_runtime::{
    CallContext, FailureKind, Grants, Limits, MemoryKv, ResourceReport, Runtime, RuntimeConfig,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The component (`.wasm`) to run.
    component: PathBuf,
    /// The step input as JSON (tenant, conversation, step, channel, contact, fields, now...).
    #[arg(long)]
    input: PathBuf,
    /// The tenant's configuration for this plugin: a JSON file, or JSON
    /// itself (`--config '{"deposit": 20}'`). Overrides `config` in the input.
    #[arg(long)]
    config: Option<String>,
    /// Capabilities to grant: JSON itself (`--grants '{"log": true, "kv": true,
    /// "settings": {...}}'`), or a file holding it.
    #[arg(long)]
    grants: Option<String>,
    /// Instruction budget.
    #[arg(long)]
    fuel: Option<u64>,
    /// Linear memory limit, in MiB.
    #[arg(long)]
    memory_mb: Option<u64>,
    /// Wall-clock deadline, in milliseconds.
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// Where compiled components are cached [default: $XDG_CACHE_HOME/switchboard/compiled
    /// or ~/.cache/switchboard/compiled]. Large Python and JavaScript components take
    /// seconds to compile; the cache makes the second run instant.
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Compile from scratch and keep nothing on disk.
    #[arg(long, conflicts_with = "cache_dir")]
    no_cache: bool,
    /// Show what the customer would read, in each language the tenant's
    /// flow speaks, instead of the decisions: the step runs once per
    /// language, and its answer is applied as a turn would apply it.
    #[arg(long, requires = "tenant")]
    render: bool,
    /// The tenant directory whose flow and calendar word the answer (with `--render`).
    #[arg(long, requires = "render")]
    tenant: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Output<'a> {
    plugin: PluginInfo,
    decisions: &'a [switchboard_core::contract::Decision],
    report: &'a ResourceReport,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    logs: &'a [switchboard_runtime::LogLine],
}

#[derive(Debug, Serialize)]
struct PluginInfo {
    sha256: String,
    api_version: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut input: StepInput = read_json(&args.input).context("failed to read the step input")?;
    if let Some(config) = &args.config {
        input.config = inline_or_file(config).context("failed to read the plugin config (--config)")?;
    }
    let grants: Grants = match &args.grants {
        Some(grants) => inline_or_file(grants).context("failed to read the grants (--grants)")?,
        None => Grants::default(),
    };
    let defaults = Limits::default();
    let limits = Limits {
        fuel: args.fuel.unwrap_or(defaults.fuel),
        timeout: args.timeout_ms.map(Duration::from_millis).unwrap_or(defaults.timeout),
        memory_bytes: args.memory_mb.map(|mib| mib << 20).unwrap_or(defaults.memory_bytes),
        table_elements: defaults.table_elements,
    };

    let cache_dir = if args.no_cache { None } else { args.cache_dir.clone().or_else(crate::cache_dir) };
    let runtime =
        Runtime::new(RuntimeConfig { cache_dir, max_concurrent_calls: 4, ..RuntimeConfig::default() })?;
    let plugin = runtime
        .load_file(&args.component)
        .with_context(|| format!("failed to load {}", args.component.display()))?;
    let context = CallContext {
        plugin: args
            .component
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default(),
        limits,
        grants: Arc::new(grants),
        kv: Some(Arc::new(MemoryKv::default())),
        kv_quota: Default::default(),
    };
    if let Some(dir) = args.tenant.as_deref().filter(|_| args.render) {
        return render(&plugin, input, &context, dir);
    }
    match plugin.call(&input, context) {
        Ok(outcome) => {
            let output = Output {
                plugin: PluginInfo {
                    sha256: plugin.hash().to_string(),
                    api_version: plugin.api_version().to_string(),
                },
                decisions: &outcome.decisions,
                report: &outcome.report,
                logs: &outcome.logs,
            };
            println!("{}", serde_json::to_string_pretty(&output)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            // What it logged before failing is often the best clue.
            for line in &failure.logs {
                eprintln!("log {}: {}", line.level, line.message);
            }
            if let FailureKind::Crashed(crash) = &failure.kind
                && !crash.traceback.is_empty()
            {
                eprintln!("{}", crash.traceback);
            }
            let report = failure.report;
            eprintln!(
                "error: step failed ({}): {} [fuel used {}, wall time {:?}, peak memory {} bytes]",
                failure.kind.code(),
                failure.kind,
                report.fuel_used,
                report.wall_time,
                report.peak_memory_bytes
            );
            Ok(ExitCode::from(2))
        }
    }
}

/// Run the step once per language of the tenant's flow and print what the
/// customer would read, as the conversation would word it.
fn render(
    plugin: &switchboard_runtime::Plugin,
    input: StepInput,
    context: &CallContext,
    dir: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    use switchboard_core::conversation::{Conversation, Setting};
    let (flow, calendar) = switchboard::tenant::flow_and_calendar(dir)
        .with_context(|| format!("failed to read the tenant in {}", dir.display()))?;
    let setting = Setting { flow: &flow, calendar: &calendar };
    let mut failed = false;
    for locale in flow.menu.0.keys() {
        let mut input = input.clone();
        input.contact.locale = locale.clone();
        println!("── {locale}");
        // Each language's run starts from the same empty kv.
        let context = CallContext { kv: Some(Arc::new(MemoryKv::default())), ..context.clone() };
        let decisions = match plugin.call(&input, context) {
            Ok(outcome) => outcome.decisions,
            Err(failure) => {
                failed = true;
                println!("   (the step failed: {} {})", failure.kind.code(), failure.kind);
                continue;
            }
        };
        let mut conversation = Conversation::new(
            &input.conversation,
            &input.tenant,
            input.channel,
            input.contact.clone(),
            &flow,
            input.now,
        );
        conversation.intent = input.intent.clone();
        conversation.fields = input.fields.clone();
        let effects = conversation.preview(setting, &input.step, decisions, input.now);
        for message in &effects.outbound {
            for line in message.text.lines() {
                println!("   {line}");
            }
            for reply in &message.quick_replies {
                println!("   [{}]", reply.title);
            }
        }
        if effects.outbound.is_empty() {
            println!("   (nothing to read: the step only changed state)");
        }
        for event in &effects.events {
            println!("   · {}", event.body.name());
        }
    }
    Ok(if failed { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

/// `value` as JSON if it is JSON, else the JSON in the file it names.
pub(crate) fn inline_or_file<T: serde::de::DeserializeOwned>(value: &str) -> anyhow::Result<T> {
    match value.trim_start().chars().next() {
        Some('{' | '[' | '"') => serde_json::from_str(value).context("the JSON given does not parse"),
        _ => read_json(std::path::Path::new(value)),
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
}
