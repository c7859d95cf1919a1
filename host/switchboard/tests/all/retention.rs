//! Retention through the engine: a tenant's `[retention]` decides what a
//! sweep exports and removes, and what stays.

use std::sync::Arc;

use switchboard::engine::Engine;
use switchboard::tenant::Tenant;
use switchboard_store::Store;

use crate::support::{plugin_dir, runtime, telegram, write_tenant};

const HOUR: i64 = 60 * 60 * 1000;
const START: i64 = 1_767_600_000_000;

#[test]
fn a_sweep_exports_and_removes_what_the_tenants_retention_lets_go_and_keeps_the_rest() {
    let dir = tempfile::tempdir().expect("temp dir");
    let short = write_tenant(dir.path(), "short", "retention = { events = \"2h\", dedupe = \"1h\" }");
    let long = write_tenant(dir.path(), "long", "");
    let runtime = runtime();
    let engine = Engine::new(Store::open(&dir.path().join("data")).expect("store"), Arc::clone(&runtime));
    for tenant in [&short, &long] {
        engine
            .add_tenant(Tenant::load(tenant, &plugin_dir(), &runtime, &|_| None).expect("loads"))
            .expect("added");
    }
    for tenant in ["short", "long"] {
        engine.handle(tenant, telegram("telegram:old", "hours", "m1", START)).expect("handled");
        engine.handle(tenant, telegram("telegram:new", "hours", "m2", START + 3 * HOUR)).expect("handled");
    }
    let exports = dir.path().join("exports");

    let now = START + 3 * HOUR + 30 * 60 * 1000;
    let results = switchboard::retention::sweep_all(&engine, now, &exports);
    let swept = |name: &str| {
        results
            .iter()
            .find(|(tenant, _)| tenant == name)
            .expect("swept")
            .1
            .as_ref()
            .expect("no error")
            .clone()
    };

    let short_swept = swept("short");
    assert!(short_swept.events > 0, "the old conversation's events went: {short_swept:?}");
    assert_eq!(short_swept.dedupe_ids, 1, "m1 is older than an hour; m2 is not");
    assert_eq!(swept("long").events, 0, "the default keeps 90 days");
    let exported: String =
        short_swept.exported.iter().map(|file| std::fs::read_to_string(file).expect("exported")).collect();
    assert!(exported.lines().count() as u64 == short_swept.events);
    assert!(exported.contains("telegram:old") && !exported.contains("telegram:new"), "{exported}");

    let events = engine.tenant_events("short", None, 100).expect("read");
    assert!(!events.is_empty() && events.iter().all(|(_, event)| event.at >= START + 3 * HOUR));
    assert_eq!(
        engine.tenant_events("long", None, 100).expect("read").first().map(|(_, e)| e.at),
        Some(START)
    );
    assert!(events_of(&engine, "short", "telegram:old").is_empty(), "its transcript went with its events");
    assert!(
        engine.conversation("short", "telegram:old").expect("read").is_some(),
        "a conversation's state stays"
    );

    let retry = engine.handle("short", telegram("telegram:new", "hours", "m2", now)).expect("handled");
    assert!(retry.duplicate, "a retry within the dedupe retention is still recognised");
}

fn events_of(engine: &Engine, tenant: &str, conversation: &str) -> Vec<i64> {
    engine.conversation_events(tenant, conversation).expect("read").iter().map(|event| event.at).collect()
}

#[test]
fn a_tenant_that_forgets_idle_conversations_exports_them_and_their_customers_start_afresh() {
    let dir = tempfile::tempdir().expect("temp dir");
    let forgets = write_tenant(dir.path(), "forgets", "retention = { conversations = \"2h\" }");
    let runtime = runtime();
    let engine = Engine::new(Store::open(&dir.path().join("data")).expect("store"), Arc::clone(&runtime));
    engine
        .add_tenant(Tenant::load(&forgets, &plugin_dir(), &runtime, &|_| None).expect("loads"))
        .expect("added");
    engine.handle("forgets", telegram("telegram:old", "hours", "m1", START)).expect("handled");
    engine.handle("forgets", telegram("telegram:new", "hours", "m2", START + 3 * HOUR)).expect("handled");
    let exports = dir.path().join("exports");

    let now = START + 3 * HOUR + 30 * 60 * 1000;
    let results = switchboard::retention::sweep_all(&engine, now, &exports);
    let [(_, Ok(swept))] = results.as_slice() else { panic!("one tenant swept: {results:?}") };

    assert_eq!(swept.conversations, 1, "{swept:?}");
    assert_eq!(swept.events, 0, "events keep the default 90 days");
    assert!(engine.conversation("forgets", "telegram:old").expect("read").is_none());
    assert!(engine.conversation("forgets", "telegram:new").expect("read").is_some());
    let exported: String =
        swept.exported.iter().map(|file| std::fs::read_to_string(file).expect("exported")).collect();
    assert!(exported.contains("telegram:old") && !exported.contains("telegram:new"), "{exported}");

    engine.handle("forgets", telegram("telegram:old", "hours", "m3", now)).expect("handled");
    let fresh = engine.conversation("forgets", "telegram:old").expect("read").expect("started again");
    assert_eq!(fresh.conversation.started_at, now, "the customer's next message starts afresh");
}
