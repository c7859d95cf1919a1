//! `switchboard-bench steps`: what a step call costs, three ways, in one run.
//!
//! For each example plugin and input:
//!
//! - **native**: the plugin's Rust code called directly (the floor), its
//!   config parsed once as `init` parses it;
//! - **fresh**: [`Plugin::call`] on the plugin as a tenant binds it
//!   ([`Runtime::bind`]): a new store and instance per call, started from the
//!   snapshot `init(config)` left (production);
//! - **no snapshot**: the same, on the component as loaded, so each call runs
//!   `init(config)` before `run` (what the snapshot saves);
//! - **reused**: one initialised instance called again and again (what
//!   isolation costs).
//!
//! `--breakdown` then times one production call stage by stage (store,
//! instantiate, init, call, reset), and the call again on a step that
//! ignores its input (`hostile` fixture's `ok`): what lowering and lifting
//! the same input costs without the guest's work.
//!
//! The three are measured in interleaved rounds, so a noisy neighbour on this
//! shared machine slows all three alike, and the report gives medians and the
//! ratios between them: compare ratios across machines, not microseconds.
//! Build with `--release`; a debug build measures the wrong thing.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use switchboard_core::contract::{self as core, StepInput};
use switchboard_runtime::{CallContext, Grants, Limits, Plugin, Runtime, RuntimeConfig};
use switchboard_sdk::Plugin as _;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the built components are (see `scripts/build-plugins.sh`).
    #[arg(long, default_value = "target/plugins")]
    plugins_dir: PathBuf,
    /// Interleaved rounds; each yields one sample per path.
    #[arg(long, default_value_t = 31)]
    rounds: usize,
    /// Roughly how long one sample should take; calls per sample adapt to it.
    #[arg(long, default_value_t = 20)]
    sample_ms: u64,
    /// Only the cases whose name contains this.
    #[arg(long)]
    case: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also time each stage of a production call.
    #[arg(long)]
    breakdown: bool,
    /// Install isolated-vm (once, into the user cache) and time the same
    /// pricing logic in the JavaScript sandboxes (`host/bench/peers/`).
    /// Without it they are timed only if already installed.
    #[arg(long)]
    peers: bool,
}

type NativeRun =
    fn(switchboard_sdk::StepInput) -> Result<Vec<switchboard_sdk::Decision>, switchboard_sdk::StepError>;

struct Case {
    name: &'static str,
    component: &'static str,
    /// The Rust plugins' own code, called natively; `None` for the Python
    /// and JavaScript plugins, which have no native build.
    native: Option<NativeRun>,
    input: StepInput,
}

#[derive(Debug, Serialize)]
struct Row {
    case: &'static str,
    /// `NaN` (JSON `null`) where there is no native build.
    native_us: f64,
    fresh_us: f64,
    unsnapshotted_us: f64,
    reused_us: f64,
    fresh_over_native: f64,
    reused_over_native: f64,
    fresh_over_reused: f64,
    /// Fuel per call from the snapshot, and without it.
    fuel: u64,
    unsnapshotted_fuel: u64,
    /// Median µs per stage of a production call, with `--breakdown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    stages: Option<StageRow>,
}

#[derive(Debug, Serialize)]
struct StageRow {
    store_us: f64,
    instantiate_us: f64,
    init_us: f64,
    call_us: f64,
    reset_us: f64,
    /// The call on a step that ignores its input: lowering and lifting alone.
    abi_only_call_us: f64,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; run `cargo run --release -p switchboard-bench -- steps` for real figures"
        );
    }
    // The user's compile cache, as `serve` uses it: the Python and
    // JavaScript components, their instrumented copies and snapshots
    // compile once, not on every run.
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: switchboard::cache_dir(),
        max_concurrent_calls: 8,
        ..RuntimeConfig::default()
    })?;
    let read = |component: &str| {
        let path = args.plugins_dir.join(format!("{component}.wasm"));
        std::fs::read(&path)
            .with_context(|| format!("failed to read {} (run scripts/build-plugins.sh)", path.display()))
    };
    // A step that ignores its input, for the breakdown's ABI-only call.
    let ignoring = if args.breakdown { Some(runtime.load(&read("hostile_fixture")?)?) } else { None };
    let mut rows = Vec::new();
    // The pricing cases, bound, for the peers' comparison.
    let mut pricing = Vec::new();
    for case in cases()? {
        if args.case.as_deref().is_some_and(|filter| !case.name.contains(filter)) {
            continue;
        }
        let bytes = read(case.component)?;
        let plain = runtime.load(&bytes).with_context(|| format!("failed to load {}", case.component))?;
        let bound = runtime
            .bind(&bytes, &case.input.config, &Limits::default())
            .with_context(|| format!("failed to bind {}", case.component))?;
        let mut row = measure(&case, &bound, &plain, &args)?;
        if let Some(ignoring) = &ignoring {
            row.stages = Some(breakdown(&case, &bound, ignoring, &args)?);
        }
        rows.push(row);
        if let Some(key) = PEER_CASES.iter().find(|(_, name)| *name == case.name).map(|(key, _)| *key) {
            pricing.push((key, case, bound));
        }
    }
    let peers = peers(&args, &pricing)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "steps": rows, "peers": peers }))?);
    } else {
        print_table(&rows);
        if let Some(peers) = &peers {
            print_peers(peers);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Where `host/bench/peers/` is: beside this crate's sources.
fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers")
}

/// `run.mjs`'s name for each pricing case it ports.
const PEER_CASES: [(&str, &str); 2] =
    [("moving", "pricing-calculator (moving quote)"), ("catalog", "pricing-calculator (1,000 items)")];

/// The peers' figures for one case, beside the wasm fresh call's measured
/// in the same rounds (medians, µs).
#[derive(Debug, Serialize)]
struct PeerRow {
    case: &'static str,
    wasm_fresh_us: f64,
    /// Each `run.mjs` path (`isolated_vm_reused_config_kept_us`, …).
    peers: std::collections::BTreeMap<String, f64>,
}

#[derive(Debug, Serialize)]
struct Peers {
    node: String,
    isolated_vm: Option<String>,
    cases: Vec<PeerRow>,
}

/// The peer sandboxes on the same pricing logic, if Node is here and either
/// `--peers` installs isolated-vm or it already is installed. Each round
/// takes one sample of the wasm fresh call and then runs `run.mjs` for one
/// round of its own, so the two meet the same moment of a shared machine.
fn peers(args: &Args, pricing: &[(&'static str, Case, Plugin)]) -> anyhow::Result<Option<Peers>> {
    let dir = peers_dir();
    let installed = std::env::var_os("SWITCHBOARD_PEERS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            switchboard::cache_dir().and_then(|compiled| Some(compiled.parent()?.join("bench-peers")))
        })
        .is_some_and(|peers| peers.join("node_modules/isolated-vm").exists());
    if (!args.peers && !installed) || pricing.is_empty() {
        return Ok(None);
    }
    if args.peers {
        eprintln!("installing isolated-vm for the peer sandboxes (once; it compiles for a few minutes)…");
        let status = std::process::Command::new("bash").arg(dir.join("install.sh")).status();
        anyhow::ensure!(
            status.as_ref().is_ok_and(|status| status.success()),
            "{}/install.sh failed ({status:?}); it needs Node.js, npm, make and g++",
            dir.display()
        );
    }
    let peer_round = |key: &str| -> anyhow::Result<serde_json::Value> {
        let output = std::process::Command::new("node")
            .arg(dir.join("run.mjs"))
            .args(["--rounds", "1", "--sample-ms", &args.sample_ms.to_string(), "--case", key])
            .stderr(std::process::Stdio::null())
            .output()
            .context("failed to run node: the peer sandboxes need Node.js on PATH")?;
        anyhow::ensure!(output.status.success(), "{}/run.mjs failed ({})", dir.display(), output.status);
        serde_json::from_slice(&output.stdout).context("run.mjs printed no JSON")
    };
    let progress = indicatif::ProgressBar::new((args.rounds * pricing.len()) as u64).with_style(
        indicatif::ProgressStyle::with_template("peers {bar:30} {pos}/{len} rounds")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let target = Duration::from_millis(args.sample_ms);
    let mut about = serde_json::Value::Null;
    let mut cases = Vec::new();
    for (key, case, plugin) in pricing {
        let context = CallContext::new(case.component);
        let mut fresh = || {
            std::hint::black_box(plugin.call(std::hint::black_box(&case.input), context.clone()).ok());
        };
        let iterations = iterations_for(&mut fresh, target);
        let mut wasm = Vec::new();
        let mut paths: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
        for _ in 0..args.rounds {
            // Warm up first, as run.mjs does in each of its processes: the
            // node process that ran just before leaves caches cold.
            iterations_for(&mut fresh, target);
            wasm.push(sample(&mut fresh, iterations));
            let round = peer_round(key)?;
            if let Some(figures) = round["cases"][key].as_object() {
                for (path, us) in figures {
                    if let Some(us) = us.as_f64() {
                        paths.entry(path.clone()).or_default().push(us);
                    }
                }
            }
            about = round;
            progress.inc(1);
        }
        cases.push(PeerRow {
            case: case.name,
            wasm_fresh_us: median(&mut wasm),
            peers: paths.into_iter().map(|(path, mut samples)| (path, median(&mut samples))).collect(),
        });
    }
    progress.finish_and_clear();
    Ok(Some(Peers {
        node: about["node"].as_str().unwrap_or("?").to_owned(),
        isolated_vm: about["isolated_vm"].as_str().map(str::to_owned),
        cases,
    }))
}

/// The wasm fresh call beside the peers', in the same rounds.
fn print_peers(peers: &Peers) {
    println!();
    println!(
        "peers on the same pricing logic ({} on node {}), µs per call, interleaved round by round",
        peers
            .isolated_vm
            .as_deref()
            .map_or("isolated-vm not installed".to_owned(), |v| format!("isolated-vm {v}")),
        peers.node
    );
    println!(
        "{:<34} {:>10} {:>10} {:>12} {:>12} {:>14} {:>20}",
        "case", "wasm fresh", "ivm reused", "ivm fresh", "node:vm", "plain JS", "wasm fresh/ivm reused"
    );
    for row in &peers.cases {
        let us = |name: &str| row.peers.get(name).copied();
        let shown = |value: Option<f64>| value.map_or("—".to_owned(), |value| format!("{value:.2}"));
        // isolated-vm's reused context with its config parsed once: the
        // same work the snapshot leaves a fresh wasm call.
        let reused = us("isolated_vm_reused_config_kept_us");
        println!(
            "{:<34} {:>10.2} {:>10} {:>12} {:>12} {:>14} {:>20}",
            row.case,
            row.wasm_fresh_us,
            shown(reused),
            shown(us("isolated_vm_fresh_isolate_us")),
            shown(us("node_vm_fresh_context_us")),
            shown(us("plain_js_config_kept_us")),
            reused.map_or("—".to_owned(), |reused| format!("{:.2}x", row.wasm_fresh_us / reused)),
        );
    }
}

fn measure(case: &Case, bound: &Plugin, plain: &Plugin, args: &Args) -> anyhow::Result<Row> {
    let context = CallContext { grants: Arc::new(Grants::default()), ..CallContext::new(case.component) };
    let sdk_input = to_sdk(&case.input);
    let mut reused = bound.reused_instance_for_benchmarks(&case.input.config, context.clone())?;

    // The paths must agree before their speed means anything.
    let native_decisions = match case.native {
        Some(native) => Some(native(sdk_input.clone()).map_err(|error| anyhow::anyhow!("{error:?}"))?),
        None => None,
    };
    let fresh = bound.call(&case.input, context.clone()).map_err(|failure| anyhow::anyhow!("{failure}"))?;
    let unsnapshotted =
        plain.call(&case.input, context.clone()).map_err(|failure| anyhow::anyhow!("{failure}"))?;
    let reused_decisions = reused.call(&case.input)?;
    anyhow::ensure!(
        native_decisions.is_none_or(|native| native.len() == fresh.decisions.len())
            && fresh.decisions == reused_decisions
            && fresh.decisions == unsnapshotted.decisions,
        "{}: the paths disagree",
        case.name
    );
    anyhow::ensure!(bound.snapshot().is_some(), "{}: the component has no `init` to snapshot", case.name);

    let mut native = || {
        if let Some(native) = case.native {
            std::hint::black_box(native(std::hint::black_box(sdk_input.clone())).ok());
        }
    };
    let mut fresh_call = || {
        std::hint::black_box(bound.call(std::hint::black_box(&case.input), context.clone()).ok());
    };
    let mut plain_call = || {
        std::hint::black_box(plain.call(std::hint::black_box(&case.input), context.clone()).ok());
    };
    let mut reuse = || {
        std::hint::black_box(reused.call(std::hint::black_box(&case.input)).ok());
    };

    let target = Duration::from_millis(args.sample_ms);
    let native_iterations = if case.native.is_some() { iterations_for(&mut native, target) } else { 0 };
    let fresh_iterations = iterations_for(&mut fresh_call, target);
    let plain_iterations = iterations_for(&mut plain_call, target);
    let reused_iterations = iterations_for(&mut reuse, target);
    let mut samples = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..args.rounds {
        samples[0].push(sample(&mut native, native_iterations));
        samples[1].push(sample(&mut fresh_call, fresh_iterations));
        samples[2].push(sample(&mut plain_call, plain_iterations));
        samples[3].push(sample(&mut reuse, reused_iterations));
    }
    let [native_us, fresh_us, unsnapshotted_us, reused_us] = samples.map(|mut samples| median(&mut samples));
    let native_us = if case.native.is_some() { native_us } else { f64::NAN };
    Ok(Row {
        case: case.name,
        native_us,
        fresh_us,
        unsnapshotted_us,
        reused_us,
        fresh_over_native: fresh_us / native_us,
        reused_over_native: reused_us / native_us,
        fresh_over_reused: fresh_us / reused_us,
        fuel: fresh.report.fuel_used,
        unsnapshotted_fuel: unsnapshotted.report.fuel_used,
        stages: None,
    })
}

/// Median µs per stage of a production call, over as many calls as the
/// rounds and sample length allow; and the call stage of a step that
/// ignores the same input.
fn breakdown(case: &Case, bound: &Plugin, ignoring: &Plugin, args: &Args) -> anyhow::Result<StageRow> {
    let context = CallContext::new(case.component);
    let calls = (args.rounds * 50).max(100);
    let mut stages: [Vec<f64>; 5] = Default::default();
    for _ in 0..calls {
        let timed = bound.staged_call_for_benchmarks(&case.input, context.clone())?;
        for (samples, stage) in
            stages.iter_mut().zip([timed.store, timed.instantiate, timed.init, timed.call, timed.reset])
        {
            samples.push(stage.as_secs_f64() * 1e6);
        }
    }
    // The same input, to a step that reads none of it: the fixture's `ok`.
    let ignored = StepInput { step: "ok".to_owned(), ..case.input.clone() };
    let mut abi = Vec::with_capacity(calls);
    for _ in 0..calls {
        abi.push(ignoring.staged_call_for_benchmarks(&ignored, context.clone())?.call.as_secs_f64() * 1e6);
    }
    let [store_us, instantiate_us, init_us, call_us, reset_us] =
        stages.map(|mut samples| median(&mut samples));
    Ok(StageRow { store_us, instantiate_us, init_us, call_us, reset_us, abi_only_call_us: median(&mut abi) })
}

/// Calls per sample so that one sample takes about `target`.
fn iterations_for(call: &mut impl FnMut(), target: Duration) -> u32 {
    for _ in 0..10 {
        call();
    }
    let started = Instant::now();
    let mut calls = 0u32;
    while started.elapsed() < target / 4 {
        call();
        calls += 1;
    }
    (calls * 4).max(1)
}

/// Microseconds per call over one sample (`NaN` for no calls).
fn sample(call: &mut impl FnMut(), iterations: u32) -> f64 {
    if iterations == 0 {
        return f64::NAN;
    }
    let started = Instant::now();
    for _ in 0..iterations {
        call();
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations)
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<34} {:>9} {:>9} {:>12} {:>9} {:>12} {:>12} {:>10} {:>12}",
        "case",
        "native µs",
        "fresh µs",
        "no snap. µs",
        "reused µs",
        "fresh/native",
        "fresh/reused",
        "fuel",
        "no snap. fuel"
    );
    for row in rows {
        let (native, over_native) = if row.native_us.is_nan() {
            ("—".to_owned(), "—".to_owned())
        } else {
            (format!("{:.2}", row.native_us), format!("{:.2}x", row.fresh_over_native))
        };
        println!(
            "{:<34} {:>9} {:>9.2} {:>12.2} {:>9.2} {:>12} {:>11.2}x {:>10} {:>12}",
            row.case,
            native,
            row.fresh_us,
            row.unsnapshotted_us,
            row.reused_us,
            over_native,
            row.fresh_over_reused,
            row.fuel,
            row.unsnapshotted_fuel,
        );
    }
    if rows.iter().all(|row| row.stages.is_none()) {
        return;
    }
    println!();
    println!(
        "{:<34} {:>9} {:>12} {:>8} {:>9} {:>9} {:>15}",
        "stage, µs (median)", "store", "instantiate", "init", "call", "reset", "call, no guest"
    );
    for row in rows {
        if let Some(stages) = &row.stages {
            println!(
                "{:<34} {:>9.2} {:>12.2} {:>8.2} {:>9.2} {:>9.2} {:>15.2}",
                row.case,
                stages.store_us,
                stages.instantiate_us,
                stages.init_us,
                stages.call_us,
                stages.reset_us,
                stages.abi_only_call_us
            );
        }
    }
}

fn cases() -> anyhow::Result<Vec<Case>> {
    const NOW: i64 = 1_767_225_600_000;
    const DAY_MS: i64 = 86_400_000;
    /// 2026-01-05 08:00 in Yerevan, a Monday.
    const MONDAY_MORNING: i64 = 1_767_585_600_000;
    let config = |text: &str| serde_json::from_str::<serde_json::Value>(text);
    let text = |value: &str| core::Value::Text(value.to_owned());
    let input = |step: &str, config: serde_json::Value, fields: Vec<(&str, core::Value)>| StepInput {
        tenant: "bench".to_owned(),
        conversation: "bench-conversation".to_owned(),
        step: step.to_owned(),
        channel: core::Channel::Whatsapp,
        contact: core::Contact { id: "contact".to_owned(), display_name: None, locale: "ru".to_owned() },
        intent: None,
        message: None,
        fields: fields.into_iter().map(|(name, value)| (name.to_owned(), value)).collect(),
        score: 0,
        now: NOW,
        config: config.into(),
    };
    let skus = ["box-s", "box-m", "box-l", "tape", "wrap", "crate", "dolly", "blanket", "label", "marker"];
    let thousand_items = (0..1_000).map(|n| core::Scalar::Text(skus[n % skus.len()].to_owned())).collect();

    Ok(vec![
        Case {
            name: "pricing-calculator (moving quote)",
            component: "pricing_calculator",
            native: Some(pricing_calculator::PricingCalculator::run),
            input: input(
                "quote",
                config(include_str!("../../../plugins/pricing-calculator/config/moving.json"))?,
                vec![
                    ("urgency", text("express")),
                    ("complexity", text("stairs")),
                    ("distance_km", core::Value::Number(25.0)),
                ],
            ),
        },
        Case {
            name: "lead-scoring (hot lead)",
            component: "lead_scoring",
            native: Some(lead_scoring::LeadScoring::run),
            input: input(
                "score",
                config(include_str!("../../../plugins/lead-scoring/config/moving.json"))?,
                vec![
                    ("move_date", core::Value::Datetime(NOW + 2 * DAY_MS)),
                    ("budget", core::Value::Money(core::Money::new(40_000_000, "AMD"))),
                    ("city", text("Ереван")),
                    ("phone", text("+37499000000")),
                ],
            ),
        },
        Case {
            name: "refund-policy (allowed claim)",
            component: "refund_policy",
            native: Some(refund_policy::RefundPolicy::run),
            input: input(
                "refund",
                config(include_str!("../../../plugins/refund-policy/config/webshop.json"))?,
                vec![
                    ("purchase_date", core::Value::Datetime(NOW - 2 * DAY_MS)),
                    ("amount", core::Value::Money(core::Money::new(1_000_000, "AMD"))),
                    ("condition", text("unopened")),
                ],
            ),
        },
        Case {
            name: "pricing-calculator (1,000 items)",
            component: "pricing_calculator",
            native: Some(pricing_calculator::PricingCalculator::run),
            input: input(
                "quote",
                config(include_str!("../../../plugins/pricing-calculator/config/catalog.json"))?,
                vec![("items", core::Value::List(thousand_items))],
            ),
        },
        Case {
            name: "slot-picker (Python, 3 slots)",
            component: "slot_picker",
            native: None,
            input: StepInput {
                now: MONDAY_MORNING,
                contact: core::Contact {
                    id: "contact".to_owned(),
                    display_name: None,
                    locale: "hy".to_owned(),
                },
                ..input(
                    "offer-slots",
                    config(include_str!("../../../plugins/slot-picker-py/config.json"))?,
                    vec![("time_of_day", text("երեկո"))],
                )
            },
        },
        Case {
            name: "contact-validator (JS, phone)",
            component: "contact_validator",
            native: None,
            input: StepInput {
                message: Some(core::Message {
                    text: "+374 99 123456".to_owned(),
                    payload: None,
                    received_at: NOW,
                }),
                ..input(
                    "validate",
                    config(include_str!("../../../plugins/contact-validator-js/config.json"))?,
                    vec![],
                )
            },
        },
    ])
}

/// The same facts in the SDK's types, for the native path. The config is the
/// same JSON text the wasm paths hand the guest.
fn to_sdk(input: &StepInput) -> switchboard_sdk::StepInput {
    use switchboard_sdk as sdk;
    let money = |money: &core::Money| sdk::Money {
        amount_minor: money.amount_minor,
        currency: money.currency.clone(),
    };
    let scalar = |scalar: &core::Scalar| match scalar {
        core::Scalar::Text(text) => sdk::Scalar::Text(text.clone()),
        core::Scalar::Number(number) => sdk::Scalar::Number(*number),
        core::Scalar::Money(amount) => sdk::Scalar::Money(money(amount)),
        core::Scalar::Datetime(at) => sdk::Scalar::Datetime(*at),
        core::Scalar::Boolean(flag) => sdk::Scalar::Boolean(*flag),
    };
    let value = |value: &core::Value| match value {
        core::Value::Text(text) => sdk::Value::Text(text.clone()),
        core::Value::Number(number) => sdk::Value::Number(*number),
        core::Value::Money(amount) => sdk::Value::Money(money(amount)),
        core::Value::Datetime(at) => sdk::Value::Datetime(*at),
        core::Value::Boolean(flag) => sdk::Value::Boolean(*flag),
        core::Value::List(items) => sdk::Value::List(items.iter().map(scalar).collect()),
    };
    sdk::StepInput {
        tenant: input.tenant.clone(),
        conversation: input.conversation.clone(),
        step: input.step.clone(),
        channel: sdk::Channel::Whatsapp,
        contact: sdk::Contact {
            id: input.contact.id.clone(),
            display_name: input.contact.display_name.clone(),
            locale: input.contact.locale.clone(),
        },
        intent: input.intent.clone(),
        message: None,
        fields: input
            .fields
            .iter()
            .map(|(name, v)| sdk::Field { name: name.clone(), value: value(v) })
            .collect(),
        score: input.score,
        now: input.now,
        config: input.config.as_str().to_owned(),
    }
}
