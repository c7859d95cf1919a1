//! Per-binding snapshots in production: a tenant's bindings start every
//! call from their `init`'s snapshot, and a restart finds the snapshots on
//! disk instead of taking them again.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use switchboard::engine::{Engine, InboundMessage};
use switchboard::tenant::Tenant;
use switchboard_core::contract::{Channel, Contact};
use switchboard_core::event::EventBody;
use switchboard_runtime::{Runtime, RuntimeConfig};
use switchboard_store::Store;

use crate::support::{plugin_dir, repo_root};

/// The snapshot entries in a compile cache, with when each was written.
fn snapshots(cache: &Path) -> Vec<(PathBuf, SystemTime)> {
    let mut entries: Vec<_> = std::fs::read_dir(cache)
        .expect("the cache dir")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("snapshot-")))
        .map(|path| {
            let written = std::fs::metadata(&path).and_then(|meta| meta.modified()).expect("mtime");
            (path, written)
        })
        .collect();
    entries.sort();
    entries
}

/// The moving company on a fresh engine whose runtime caches in `cache`.
fn start(cache: &Path) -> Engine {
    let runtime = Arc::new(
        Runtime::new(RuntimeConfig { cache_dir: Some(cache.to_owned()), ..RuntimeConfig::default() })
            .expect("a runtime"),
    );
    let tenant = Tenant::load(&repo_root().join("examples/moving"), &plugin_dir(), &runtime, &|_| None)
        .expect("the moving example loads");
    let engine = Engine::new(Store::temporary().expect("a store"), runtime);
    engine.add_tenant(tenant).expect("added");
    engine
}

#[test]
fn a_tenants_steps_run_from_snapshots_that_survive_a_restart() {
    let cache = tempfile::tempdir().expect("a temp dir");
    let engine = start(cache.path());
    let tenant = engine.tenant("moving").expect("served");
    for name in ["pricing", "scoring"] {
        assert!(tenant.plugins[name].plugin.snapshot().is_some(), "{name} is bound from a snapshot");
    }
    let written = snapshots(cache.path());
    assert_eq!(written.len(), 2, "one snapshot per binding: {written:?}");

    // A quote, through the engine as a message makes it.
    let say = |engine: &Engine, text: &str| {
        let message = InboundMessage {
            channel: Channel::Telegram,
            contact: Contact { id: "mover".to_owned(), display_name: None, locale: "en".to_owned() },
            text: text.to_owned(),
            payload: None,
            message_id: None,
            at: 1_767_600_000_000,
        };
        engine.handle("moving", message).expect("handled")
    };
    let mut ran = Vec::new();
    for text in ["How much to move?", "express", "stairs", "25 km", "tomorrow", "+374 99 123456"] {
        let turn = say(&engine, text);
        ran.extend(turn.events.iter().filter_map(|event| match &event.body {
            EventBody::StepRan { plugin, fuel, .. } if plugin == "pricing" => Some(*fuel),
            _ => None,
        }));
        if !ran.is_empty() {
            break;
        }
    }
    let fuel = *ran.first().expect("the pricing step ran");

    // The same call without the snapshot parses the config in `init` first.
    let tenant_config = tenant.plugins["pricing"].config.clone();
    let bytes = std::fs::read(plugin_dir().join("pricing_calculator.wasm")).expect("built");
    let unbound = Runtime::new(RuntimeConfig::default()).expect("runtime").load(&bytes).expect("loads");
    assert!(unbound.snapshot().is_none());
    let mut input = switchboard_core::contract::StepInput {
        tenant: "moving".to_owned(),
        conversation: "c".to_owned(),
        step: "quote".to_owned(),
        channel: Channel::Telegram,
        contact: Contact { id: "mover".to_owned(), display_name: None, locale: "en".to_owned() },
        intent: None,
        message: None,
        fields: Default::default(),
        score: 0,
        now: 1_767_600_000_000,
        config: tenant_config,
    };
    input.fields.insert("distance_km".to_owned(), switchboard_core::contract::Value::Number(25.0));
    let without = unbound.call(&input, switchboard_runtime::CallContext::new("pricing")).expect("quotes");
    assert!(
        fuel < without.report.fuel_used,
        "production's call skipped init: {fuel} fuel against {} without the snapshot",
        without.report.fuel_used
    );
    drop(engine);

    // A restart: the same bindings, from the same entries, not rewritten.
    let engine = start(cache.path());
    let again = engine.tenant("moving").expect("served");
    assert_eq!(again.plugins["pricing"].plugin.snapshot(), tenant.plugins["pricing"].plugin.snapshot());
    assert_eq!(snapshots(cache.path()), written, "the restart reused the snapshots on disk");
}
