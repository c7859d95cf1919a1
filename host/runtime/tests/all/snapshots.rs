//! Per-binding snapshots: `init(config)` runs once when a plugin is bound,
//! every call starts from what it left, and nothing one call writes reaches
//! the next.

use std::time::Duration;

use switchboard_core::contract::{Decision, PluginConfig, StepError, Value};
use switchboard_runtime::{CallContext, FailureKind, Limits, LoadError, Plugin, Runtime, RuntimeConfig};

use crate::support::*;

fn config(json: &str) -> PluginConfig {
    serde_json::from_str(json).expect("JSON")
}

fn bind(name: &str, config: &PluginConfig) -> Result<Plugin, LoadError> {
    let bytes = std::fs::read(component_path(name)).expect("built");
    runtime().bind(&bytes, config, &Limits::default())
}

/// The fields a step set, by name.
fn fields(decisions: &[Decision]) -> std::collections::BTreeMap<String, Value> {
    decisions
        .iter()
        .filter_map(|decision| match decision {
            Decision::SetField { name, value } => Some((name.clone(), value.clone())),
            _ => None,
        })
        .collect()
}

fn run(plugin: &Plugin, step: &str, config: &PluginConfig) -> Vec<Decision> {
    let input = switchboard_core::contract::StepInput { config: config.clone(), ..input("mallory", step) };
    plugin.call(&input, context()).unwrap_or_else(|failure| panic!("{step}: {failure}")).decisions
}

#[test]
fn a_bound_plugin_starts_every_call_from_its_init() {
    let bound_with = config(r#"{"tier": "gold"}"#);
    let plugin = bind("hostile_fixture", &bound_with).expect("binds");
    assert!(plugin.snapshot().is_some(), "a component with `init` is snapshotted");

    let seen = fields(&run(&plugin, "init-state", &bound_with));
    assert_eq!(seen["init_config"], Value::Text(r#"{"tier":"gold"}"#.to_owned()));
    assert_eq!(seen["inits"], Value::Number(1.0), "init ran once, before the snapshot");
    // The snapshot was taken with time standing at the epoch: the call's own
    // clock (frozen at its `now`) is not what init saw.
    assert_eq!(seen["init_clock"], Value::Number(0.0), "init sees no clock");
}

#[test]
fn nothing_a_call_writes_reaches_the_next_call_from_the_same_snapshot() {
    let bound_with = config(r#"{"tier": "gold"}"#);
    let plugin = bind("hostile_fixture", &bound_with).expect("binds");
    for _ in 0..3 {
        // Each call overwrites what init left and bumps a counter; each
        // must still find init's state, and the counter at its start.
        let before = fields(&run(&plugin, "scribble", &bound_with));
        assert_eq!(before["init_config"], Value::Text(r#"{"tier":"gold"}"#.to_owned()));
        assert_eq!(before["inits"], Value::Number(1.0));
        assert_eq!(
            run(&plugin, "static-counter", &bound_with),
            [Decision::SetField { name: "calls".into(), value: Value::Number(1.0) }]
        );
    }
}

#[test]
fn a_call_with_another_config_runs_init_with_that_config_first() {
    let plugin = bind("hostile_fixture", &config(r#"{"tier": "gold"}"#)).expect("binds");
    let other = config(r#"{"tier": "tin"}"#);
    let seen = fields(&run(&plugin, "init-state", &other));
    assert_eq!(seen["init_config"], Value::Text(r#"{"tier":"tin"}"#.to_owned()));
    // Run in the call's own store, init still sees time at the epoch, as
    // in a snapshot; the call itself sees its own `now`.
    assert_eq!(seen["init_clock"], Value::Number(0.0));
    assert_eq!(fields(&run(&plugin, "clock", &other))["wall-clock-ms"], Value::Number(NOW as f64));
    // A plugin loaded without a binding runs init on every call too.
    let unbound = load("hostile_fixture");
    assert!(unbound.snapshot().is_none());
    assert_eq!(fields(&run(&unbound, "init-state", &other))["inits"], Value::Number(1.0));
}

#[test]
fn a_config_init_refuses_fails_the_binding_with_its_reason() {
    let error = bind("hostile_fixture", &config(r#""refuse""#)).expect_err("refused");
    assert!(
        matches!(&error, LoadError::InitRefused(StepError::InvalidConfig(message)) if message == "refused on purpose"),
        "{error}"
    );
    let error = bind("hostile_fixture", &config(r#""panic""#)).expect_err("fails");
    assert!(
        matches!(&error, LoadError::InitFailed(FailureKind::Panic { message }) if message.contains("init panics on purpose")),
        "{error}"
    );
    // A binding without a config reports the same; the host decides what
    // an empty config may do (see the tenant loader).
    // The same refusal, met on the call path, is the call's failure.
    let plugin = load("hostile_fixture");
    let input =
        switchboard_core::contract::StepInput { config: config(r#""refuse""#), ..input("mallory", "ok") };
    let failure = plugin.call(&input, context()).expect_err("refused");
    assert!(matches!(failure.kind, FailureKind::Guest(StepError::InvalidConfig(_))), "{failure}");
}

#[test]
fn an_init_that_never_returns_is_stopped_at_the_ceiling() {
    let runtime = Runtime::new(RuntimeConfig {
        ceiling: Limits {
            timeout: Duration::from_millis(300),
            fuel: 50_000_000,
            ..Limits::default_ceiling()
        },
        ..RuntimeConfig::default()
    })
    .expect("runtime");
    let bytes = std::fs::read(component_path("hostile_fixture")).expect("built");
    let error = runtime.bind(&bytes, &config(r#""loop""#), &Limits::default_ceiling()).expect_err("stopped");
    assert!(
        matches!(
            error,
            LoadError::InitFailed(FailureKind::FuelExhausted { .. } | FailureKind::Deadline { .. })
        ),
        "{error}"
    );
    // A call that carries the same config runs the same init under the
    // call's own limits.
    let plugin = runtime.load(&bytes).expect("loads");
    let limits = Limits { timeout: Duration::from_millis(200), ..Limits::default() };
    let input =
        switchboard_core::contract::StepInput { config: config(r#""loop""#), ..input("mallory", "ok") };
    let failure = plugin.call(&input, CallContext { limits, ..context() }).expect_err("stopped");
    assert!(matches!(failure.kind, FailureKind::FuelExhausted { .. } | FailureKind::Deadline { .. }));
}

#[test]
fn a_snapshot_is_kept_on_disk_and_a_restart_reuses_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bytes = std::fs::read(component_path("hostile_fixture")).expect("built");
    let bound_with = config(r#"{"tier": "gold"}"#);
    let start = || {
        Runtime::new(RuntimeConfig { cache_dir: Some(dir.path().to_owned()), ..RuntimeConfig::default() })
            .expect("runtime")
    };
    let snapshots = || -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
        let mut entries: Vec<_> = std::fs::read_dir(dir.path())
            .expect("cache dir")
            .map(|entry| entry.expect("entry").path())
            .filter(|path| {
                path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("snapshot-"))
            })
            .map(|path| {
                let modified = std::fs::metadata(&path).and_then(|meta| meta.modified()).expect("mtime");
                (path, modified)
            })
            .collect();
        entries.sort();
        entries
    };

    let first = start().bind(&bytes, &bound_with, &Limits::default()).expect("binds");
    let written = snapshots();
    assert_eq!(written.len(), 1, "one snapshot entry: {written:?}");
    let key = first.snapshot().expect("snapshotted").to_owned();
    assert!(written[0].0.to_string_lossy().contains(&key));
    drop(first);

    // A new process: the same binding loads the same entry, untouched.
    let again = start().bind(&bytes, &bound_with, &Limits::default()).expect("binds again");
    assert_eq!(again.snapshot(), Some(key.as_str()));
    assert_eq!(snapshots(), written, "the entry was reused, not rewritten");
    assert_eq!(fields(&run(&again, "init-state", &bound_with))["inits"], Value::Number(1.0));

    // Another config is another snapshot; nothing is left from the
    // instrumented copy the snapshot was read from.
    start().bind(&bytes, &config(r#"{"tier": "tin"}"#), &Limits::default()).expect("binds");
    assert_eq!(snapshots().len(), 2);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("cache dir")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("transient") || name.contains("partial") || name.contains("input"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn components_without_init_bind_as_they_load() {
    // A 0.1.0 component: no `init`, no snapshot, calls as before.
    let bytes = std::fs::read(component_path("contract_v0_1_fixture")).expect("built");
    let plugin = runtime().bind(&bytes, &config(r#"{"a": 1}"#), &Limits::default()).expect("binds");
    assert!(!plugin.has_init());
    assert!(plugin.snapshot().is_none());
}

#[test]
fn every_example_plugin_answers_the_same_from_its_snapshot() {
    for (component, config_file, step) in [
        ("pricing_calculator", "pricing-calculator/config/moving.json", "quote"),
        ("refund_policy", "refund-policy/config/webshop.json", "refund"),
        ("lead_scoring", "lead-scoring/config/moving.json", "score"),
    ] {
        let config = plugin_config(config_file);
        let snapshotted = bind(component, &config).expect("binds");
        assert!(snapshotted.snapshot().is_some(), "{component} has init");
        let plain = load(component);
        let input = switchboard_core::contract::StepInput { config: config.clone(), ..input("acme", step) };
        let fuel = |outcome: &Result<switchboard_runtime::StepOutcome, switchboard_runtime::StepFailure>| {
            outcome
                .as_ref()
                .map_or_else(|failure| failure.report.fuel_used, |outcome| outcome.report.fuel_used)
        };
        let (from_snapshot, from_scratch) =
            (snapshotted.call(&input, context()), plain.call(&input, context()));
        assert!(
            fuel(&from_snapshot) < fuel(&from_scratch),
            "{component}: a call from the snapshot skips parsing the config ({} vs {} fuel)",
            fuel(&from_snapshot),
            fuel(&from_scratch)
        );
        let answer = |outcome: Result<switchboard_runtime::StepOutcome, switchboard_runtime::StepFailure>| {
            outcome.map(|outcome| outcome.decisions).map_err(|failure| failure.kind)
        };
        assert_eq!(
            answer(from_snapshot),
            answer(from_scratch),
            "{component}: the snapshot answers as a fresh init does"
        );
    }
}

#[test]
fn python_and_javascript_components_are_snapshotted_too() {
    for (component, config_file) in [
        ("slot_picker", "slot-picker-py/config.json"),
        ("contact_validator", "contact-validator-js/config.json"),
    ] {
        let config = plugin_config(config_file);
        let plugin = bind(component, &config).unwrap_or_else(|error| panic!("{component}: {error}"));
        assert!(plugin.snapshot().is_some(), "{component}");
    }
}

#[test]
fn init_reaches_no_capability_whatever_the_call_is_granted() {
    let asked = config(r#""capabilities""#);
    let denied = |lines: &[Decision]| {
        let text = format!("{lines:?}");
        assert!(!text.contains("s3cr3t") && !text.contains("was here"), "{text}");
        for what in [
            "secret: Err(HostError::Denied",
            "setting: Err(HostError::Denied",
            "kv: Err(HostError::Denied",
            "file: Err(",
        ] {
            assert!(text.contains(what), "{what} in {text}");
        }
    };
    // In the snapshot, taken with nothing granted.
    let plugin = bind("hostile_fixture", &asked).expect("binds");
    assert!(plugin.snapshot().is_some());
    // And just before a call that grants everything: init still gets none of it.
    let kv: std::sync::Arc<dyn switchboard_runtime::KvBackend> =
        std::sync::Arc::new(switchboard_runtime::MemoryKv::default());
    let granted = CallContext {
        grants: std::sync::Arc::new(switchboard_runtime::Grants {
            log: true,
            kv: true,
            settings: [("shop-url".to_owned(), "https://shop".to_owned())].into(),
            secrets: [("api-token".to_owned(), switchboard_runtime::Secret("s3cr3t".to_owned()))].into(),
            ..Default::default()
        }),
        kv: Some(kv),
        ..context()
    };
    for plugin in [&plugin, &load("hostile_fixture")] {
        let input = switchboard_core::contract::StepInput {
            config: asked.clone(),
            ..input("mallory", "init-reached")
        };
        let outcome = plugin.call(&input, granted.clone()).expect("runs");
        denied(&outcome.decisions);
    }
    // The call itself keeps what it was granted.
    let input = switchboard_core::contract::StepInput { config: asked.clone(), ..input("mallory", "secret") };
    assert!(format!("{:?}", plugin.call(&input, granted).expect("runs").decisions).contains("s3cr3t"));
}

#[test]
fn an_init_that_prints_still_binds_and_its_calls_run() {
    let printed = config(r#""print""#);
    let plugin = bind("hostile_fixture", &printed).expect("binds");
    for _ in 0..2 {
        assert_eq!(fields(&run(&plugin, "init-state", &printed))["inits"], Value::Number(1.0));
        // A panic's message still reaches the host through the call's own stderr.
        let input =
            switchboard_core::contract::StepInput { config: printed.clone(), ..input("mallory", "panic") };
        let failure = plugin.call(&input, context()).expect_err("panics");
        assert!(failure.kind.to_string().contains("panics on purpose"), "{failure}");
    }
}

#[test]
fn init_runs_under_the_bindings_memory_limit_and_its_snapshot_loads_above_the_default() {
    let hoard = config(r#""hoard""#);
    let small = Limits { memory_bytes: 16 << 20, ..Limits::default() };
    let bytes = std::fs::read(component_path("hostile_fixture")).expect("built");
    let error = runtime().bind(&bytes, &hoard, &small).expect_err("20 MiB does not fit in 16");
    assert!(matches!(error, LoadError::InitFailed(FailureKind::MemoryLimit { .. })), "{error}");
    // 20 MiB fits the default 32 (with fuel enough to fill it): the snapshot
    // starts with it, and calls under the default limits run from it.
    let roomy = Limits { fuel: 500_000_000, ..Limits::default() };
    let plugin = runtime().bind(&bytes, &hoard, &roomy).expect("binds");
    assert!(plugin.snapshot().is_some());
    assert_eq!(fields(&run(&plugin, "init-state", &hoard))["inits"], Value::Number(1.0));
    // The snapshot is cached now, and shared by every binding of the pair:
    // one with less memory still cannot start from it.
    let error = runtime().bind(&bytes, &hoard, &small).expect_err("still does not fit");
    assert!(matches!(error, LoadError::InitFailed(FailureKind::MemoryLimit { .. })), "{error}");
}

#[test]
fn binds_of_one_component_at_once_each_get_their_own_snapshot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime =
        Runtime::new(RuntimeConfig { cache_dir: Some(dir.path().to_owned()), ..RuntimeConfig::default() })
            .expect("runtime");
    let bytes = std::fs::read(component_path("hostile_fixture")).expect("built");
    std::thread::scope(|scope| {
        let binds: Vec<_> = (0..4)
            .map(|n| {
                let (runtime, bytes) = (&runtime, &bytes);
                scope.spawn(move || {
                    let tier = config(&format!(r#"{{"tier": {}}}"#, n % 2));
                    let plugin = runtime.bind(bytes, &tier, &Limits::default()).expect("binds");
                    let seen = fields(&run(&plugin, "init-state", &tier));
                    assert_eq!(seen["init_config"], Value::Text(format!(r#"{{"tier":{}}}"#, n % 2)));
                })
            })
            .collect();
        for bind in binds {
            bind.join().expect("no bind failed");
        }
    });
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.iter().filter(|name| name.starts_with("snapshot-")).count(), 2, "{names:?}");
    assert!(names.iter().all(|name| name.ends_with(".cwasm")), "nothing half-written is left: {names:?}");
}
