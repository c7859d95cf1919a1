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

    let component = vec![1_u8; 1 << 20];
    let component_hash = Store::open(&data).expect("store").put_blob(&component).expect("a component");

    let stats = switchboard(&["store", "stats"], &data);
    for line in ["brief     events", "keeper    dedupe ids", "brief     conversations"] {
        assert!(stats.contains(line), "{line:?} in\n{stats}");
    }

    let compacted = switchboard(&["store", "compact", "--tenants", tenants.to_str().expect("utf-8")], &data);
    assert!(
        compacted.contains("brief: 60 events, 20 message ids and 0 conversations past retention removed"),
        "{compacted}"
    );
    assert!(compacted.contains("keeper: 0 events, 0 message ids"), "{compacted}");
    assert!(data.join("exports").join("brief").read_dir().expect("exported").count() > 0);
    assert!(!dir.path().join("data.compacting").exists() && !dir.path().join("data.before-compact").exists());

    let store = Store::open(&data).expect("the compacted store opens");
    assert_eq!(store.blob(&component_hash).expect("read"), Some(component), "components move with the store");
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

    // The compacted store's sequence numbers go on after the old ones: what
    // is written now comes after what was kept, and overwrites none of it.
    let later = switchboard_core::event::DomainEvent { at: now + 1, ..brief[0].1.clone() };
    store.append_events("brief", std::slice::from_ref(&later), None).expect("written after compacting");
    let events = store.tenant_events("brief", None, 1_000).expect("read");
    assert_eq!(events.len(), brief.len() + 1, "nothing overwritten");
    assert_eq!(events.last().map(|(_, event)| event.at), Some(now + 1), "the new record sorts last");
}

#[test]
fn an_interrupted_compaction_keeps_the_store_shut_until_compact_undoes_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    {
        let store = Store::open(&data).expect("store");
        store.append_events("acme", &[], Some(("telegram", "m1"))).expect("written");
    }
    // Cut short between setting the old store aside and putting the new one in place.
    std::fs::rename(&data, dir.path().join("data.before-compact")).expect("rename");
    std::fs::create_dir(dir.path().join("data.compacting")).expect("a partial rewrite");

    let refused = Store::open(&data).expect_err("no empty store in its place");
    assert!(refused.to_string().contains("switchboard store compact"), "{refused}");

    let said = switchboard(&["store", "compact", "--no-rewrite"], &data);
    assert!(said.contains("undone"), "{said}");
    let store = Store::open(&data).expect("opens again");
    assert!(store.seen("acme", "telegram", "m1").expect("read"), "the store is as it was");
    assert!(!dir.path().join("data.compacting").exists());
}
