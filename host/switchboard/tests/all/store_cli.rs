//! `switchboard store stats` and `switchboard store compact` on a store the
//! engine wrote: sizes per tenant and kind, retention applied, the database
//! rewritten, and nothing kept lost.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use switchboard::engine::Engine;
use switchboard::tenant::Tenant;
use switchboard_store::Store;

use crate::support::{plugin_dir, runtime, telegram, write_tenant};

fn switchboard(args: &[&str], data: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .expect("switchboard runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{args:?}: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

#[test]
fn stats_show_each_tenants_records_and_compact_applies_retention_and_keeps_the_rest() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tenants = dir.path().join("tenants");
    write_tenant(&tenants, "brief", "retention = { events = \"1d\", dedupe = \"1d\" }");
    write_tenant(&tenants, "keeper", "");
    let data = dir.path().join("data");
    let now = jiff::Timestamp::now().as_millisecond();
    let long_ago = now - 3 * 24 * 60 * 60 * 1000;
    {
        let runtime = runtime();
        let engine = Engine::new(Store::open(&data).expect("store"), Arc::clone(&runtime));
        for name in ["brief", "keeper"] {
            let tenant =
                Tenant::load(&tenants.join(name), &plugin_dir(), &runtime, &|_| None).expect("loads");
            engine.add_tenant(tenant).expect("added");
            for index in 0..20 {
                engine
                    .handle(
                        name,
                        telegram(&format!("telegram:{index}"), "hours", &format!("old{index}"), long_ago),
                    )
                    .expect("old");
            }
            engine.handle(name, telegram("telegram:now", "hours", "new", now)).expect("new");
        }
    }

    let stats = switchboard(&["store", "stats"], &data);
    for line in ["brief     events", "keeper    dedupe ids", "brief     conversations"] {
        assert!(stats.contains(line), "{line:?} in\n{stats}");
    }

    let compacted = switchboard(&["store", "compact", "--tenants", tenants.to_str().expect("utf-8")], &data);
    assert!(compacted.contains("brief: 60 events and 20 message ids past retention removed"), "{compacted}");
    assert!(compacted.contains("keeper: 0 events and 0 message ids"), "{compacted}");
    assert!(data.join("exports").join("brief").read_dir().expect("exported").count() > 0);
    assert!(!dir.path().join("data.compacting").exists() && !dir.path().join("data.before-compact").exists());

    let store = Store::open(&data).expect("the compacted store opens");
    let brief = store.tenant_events("brief", None, 1_000).expect("read");
    assert!(
        !brief.is_empty() && brief.iter().all(|(_, event)| event.at == now),
        "only the recent turn's events"
    );
    assert_eq!(
        store.tenant_events("keeper", None, 1_000).expect("read").len(),
        63,
        "21 turns of three events each"
    );
    assert!(store.seen("keeper", "telegram", "old3").expect("read"), "keeper's ids are kept");
    assert!(!store.seen("brief", "telegram", "old3").expect("read"));
    assert!(store.conversation("brief", "telegram:3").expect("read").is_some(), "conversations stay");
}
