//! Capabilities are denied unless granted, and scoped to tenant and plugin.

use std::collections::BTreeMap;
use std::sync::Arc;

use switchboard_core::contract::{Decision, StepError, Value};
use switchboard_runtime::{CallContext, FailureKind, Grants, KvBackend, MemoryKv, Secret};

use crate::support::{context, context_with, hostile, input};

fn count(tenant: &str, context: CallContext) -> Result<f64, FailureKind> {
    let outcome = hostile().call(&input(tenant, "kv-counter"), context).map_err(|failure| failure.kind)?;
    match outcome.decisions.as_slice() {
        [Decision::SetField { value: Value::Number(count), .. }] => Ok(*count),
        other => panic!("unexpected decisions {other:?}"),
    }
}

fn kv_context(kv: &Arc<MemoryKv>, plugin: &str) -> CallContext {
    let backend: Arc<dyn KvBackend> = kv.clone();
    CallContext {
        plugin: plugin.to_owned(),
        kv: Some(backend),
        ..context_with(Grants { kv: true, ..Grants::default() })
    }
}

#[test]
fn kv_state_survives_between_calls_when_granted() {
    let kv = Arc::new(MemoryKv::default());
    assert_eq!(count("salon", kv_context(&kv, "counter")), Ok(1.0));
    assert_eq!(count("salon", kv_context(&kv, "counter")), Ok(2.0));
}

#[test]
fn kv_state_is_scoped_to_the_tenant_and_the_plugin() {
    let kv = Arc::new(MemoryKv::default());
    assert_eq!(count("salon", kv_context(&kv, "counter")), Ok(1.0));
    assert_eq!(count("movers", kv_context(&kv, "counter")), Ok(1.0));
    assert_eq!(count("salon", kv_context(&kv, "other-plugin")), Ok(1.0));
    assert_eq!(count("salon", kv_context(&kv, "counter")), Ok(2.0));
}

#[test]
fn kv_is_denied_by_default_and_names_the_capability() {
    let kv = Arc::new(MemoryKv::default());
    let backend: Arc<dyn KvBackend> = kv;
    let ungranted = CallContext { kv: Some(backend), ..context() };
    assert_eq!(
        count("salon", ungranted),
        Err(FailureKind::Guest(StepError::Refused("kv: HostError::Denied(\"kv\")".into())))
    );
}

#[test]
fn secrets_are_read_only_when_granted() {
    let outcome = hostile().call(&input("salon", "secret"), context());
    assert_eq!(
        outcome.map_err(|failure| failure.kind).err(),
        Some(FailureKind::Guest(StepError::Refused("config: HostError::Denied(\"secrets\")".into())))
    );

    let grants = Grants {
        secrets: BTreeMap::from([("api-token".to_owned(), Secret("s3cr3t".to_owned()))]),
        ..Grants::default()
    };
    let outcome = hostile().call(&input("salon", "secret"), context_with(grants)).expect("granted");
    assert_eq!(
        outcome.decisions,
        [Decision::SetField { name: "token".into(), value: Value::Text("s3cr3t".into()) }]
    );
}

#[test]
fn secrets_never_show_in_debug_output() {
    let grants = Grants {
        secrets: BTreeMap::from([("k".to_owned(), Secret("s3cr3t".to_owned()))]),
        ..Grants::default()
    };
    assert!(!format!("{grants:?}").contains("s3cr3t"));
}

#[test]
fn log_lines_are_kept_only_when_granted() {
    let silent = hostile().call(&input("salon", "log"), context()).expect("runs");
    assert!(silent.logs.is_empty());
    let granted =
        hostile().call(&input("salon", "log"), context_with(Grants { log: true, ..Grants::default() }));
    let logs = granted.expect("runs").logs;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].message, "hello from the guest");
}
