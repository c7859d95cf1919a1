//! Shared helpers: locating built components and making inputs.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use switchboard_core::contract::{Channel, Contact, PluginConfig, StepInput};
use switchboard_runtime::{CallContext, Plugin, Runtime, RuntimeConfig};

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// The built component called `name` (e.g. `hostile_fixture`).
pub fn component_path(name: &str) -> PathBuf {
    let path = target_dir().join("plugins").join(format!("{name}.wasm"));
    assert!(path.exists(), "{} is missing: run scripts/build-plugins.sh first", path.display());
    path
}

/// One runtime for the whole test binary, as in production: one engine per process.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        // The compile cache spares reruns the seconds Cranelift spends on the
        // Python and JavaScript components.
        let cache_dir = Some(target_dir().join("compile-cache"));
        Runtime::new(RuntimeConfig { cache_dir, max_concurrent_calls: 32, ..RuntimeConfig::default() })
            .expect("the runtime starts")
    })
}

pub fn load(name: &str) -> Plugin {
    runtime().load_file(&component_path(name)).unwrap_or_else(|error| panic!("{name} loads: {error}"))
}

pub fn hostile() -> &'static Plugin {
    static HOSTILE: OnceLock<Plugin> = OnceLock::new();
    HOSTILE.get_or_init(|| load("hostile_fixture"))
}

/// A plugin's config file, e.g. `pricing-calculator/config/moving.json`.
pub fn plugin_config(path: &str) -> PluginConfig {
    let path = format!("{}/../../plugins/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("config exists")).expect("config is JSON")
}

pub const NOW: i64 = 1_767_225_600_000;

pub fn input(tenant: &str, step: &str) -> StepInput {
    StepInput {
        tenant: tenant.to_owned(),
        conversation: "conversation-1".to_owned(),
        step: step.to_owned(),
        channel: Channel::Whatsapp,
        contact: Contact { id: "contact-1".to_owned(), display_name: None, locale: "en".to_owned() },
        intent: None,
        message: None,
        fields: Default::default(),
        score: 0,
        now: NOW,
        config: Default::default(),
    }
}

pub fn context() -> CallContext {
    CallContext::new("test-plugin")
}

pub fn context_with(grants: switchboard_runtime::Grants) -> CallContext {
    CallContext { grants: Arc::new(grants), ..context() }
}
