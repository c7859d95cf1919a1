//! What the runtime refuses to load, and the compile cache.

use switchboard_runtime::{LoadError, Runtime, RuntimeConfig};

use crate::support::{component_path, context, input, runtime};

fn incompatible(bytes: &[u8]) -> String {
    match runtime().load(bytes) {
        Err(LoadError::Incompatible(message)) => message,
        other => panic!("expected an incompatible component, got {other:?}"),
    }
}

#[test]
fn bytes_that_are_not_wasm_are_invalid() {
    assert!(matches!(runtime().load(b"definitely not wasm"), Err(LoadError::Invalid(_))));
}

#[test]
fn a_component_without_the_handler_export_is_incompatible() {
    let empty = wat::parse_str("(component)").expect("valid wat");
    let message = incompatible(&empty);
    assert!(message.contains("switchboard:plugin/handler@0.1.0"), "{message}");
}

#[test]
fn a_handler_with_the_wrong_signature_is_incompatible() {
    let wrong = wat::parse_str(
        r#"(component
            (core module $m (func (export "run") (param i32) (result i32) local.get 0))
            (core instance $i (instantiate $m))
            (func $run (param "x" u32) (result u32) (canon lift (core func $i "run")))
            (instance $handler (export "run" (func $run)))
            (export "switchboard:plugin/handler@0.1.0" (instance $handler))
        )"#,
    )
    .expect("valid wat");
    let message = incompatible(&wrong);
    assert!(message.contains("type mismatch"), "{message}");
}

#[test]
fn a_component_importing_what_the_host_lacks_is_incompatible() {
    // Imports are resolved before the handler's type is checked, so the
    // handler here only needs the right name.
    let needy = wat::parse_str(
        r#"(component
            (import "evil:net/raw@1.0.0" (instance (export "open" (func))))
            (core module $m (func (export "run")))
            (core instance $i (instantiate $m))
            (func $run (canon lift (core func $i "run")))
            (instance $handler (export "run" (func $run)))
            (export "switchboard:plugin/handler@0.1.0" (instance $handler))
        )"#,
    )
    .expect("valid wat");
    let message = incompatible(&needy);
    assert!(message.contains("evil:net/raw@1.0.0"), "{message}");
}

/// A runtime that caches compiled components in `dir`, and a component to load.
fn cached_runtime(dir: &std::path::Path) -> (Runtime, Vec<u8>) {
    let config =
        RuntimeConfig { cache_dir: Some(dir.to_owned()), max_concurrent_calls: 2, ..Default::default() };
    let bytes = std::fs::read(component_path("hostile_fixture")).expect("component");
    (Runtime::new(config).expect("runtime"), bytes)
}

#[test]
fn compiled_components_are_cached_on_disk_and_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (first, bytes) = cached_runtime(dir.path());
    first.load(&bytes).expect("loads and compiles");
    let entries: Vec<_> = std::fs::read_dir(dir.path()).expect("cache dir").collect();
    assert_eq!(entries.len(), 1, "one compiled artifact");
    drop(first);

    let (restarted, _) = cached_runtime(dir.path());
    let plugin = restarted.load(&bytes).expect("loads from cache");
    plugin.call(&input("t", "ok"), context()).expect("cached code runs");
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("cache dir").count(),
        1,
        "nothing recompiled under a new name"
    );
}

#[test]
fn a_corrupt_cache_entry_is_replaced_not_trusted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (runtime, bytes) = cached_runtime(dir.path());
    runtime.load(&bytes).expect("loads");
    drop(runtime);
    let entry = std::fs::read_dir(dir.path()).expect("dir").next().expect("an entry").expect("entry").path();
    std::fs::write(&entry, b"garbage").expect("corrupt it");

    let (restarted, _) = cached_runtime(dir.path());
    let plugin = restarted.load(&bytes).expect("recompiles");
    plugin.call(&input("t", "ok"), context()).expect("runs");
    assert_ne!(std::fs::read(&entry).expect("entry"), b"garbage");
}
